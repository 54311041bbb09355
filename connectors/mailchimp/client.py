"""The Mailchimp SDK on a pooled `requests.Session`, with every answer checked.

The SDK calls module-level `requests.get/post/...` (a new TCP and TLS handshake per call) and
has no retry (api-facts 3.2). `_PooledApiClient` overrides its one `request` method to use a
keep-alive session. Its other quirks are handled here too:
- it replaces the substring "server" anywhere in the URL with the datacenter: we give it the
  literal "server" as datacenter, so the replacement is a no-op, and set the host ourselves;
- it returns a raw `requests.Response` for 204, empty or `{}` bodies and for errors without a
  content type, and a `str` for non-JSON bodies: `checked` turns those into data or errors.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import requests
from mailchimp_marketing.api.lists_api import ListsApi
from mailchimp_marketing.api.ping_api import PingApi
from mailchimp_marketing.api_client import ApiClient
from requests.adapters import HTTPAdapter

from connectors.mailchimp.failures import detect
from connectors.mailchimp.limits import CONCURRENCY
from syncd.errors import ConfigError
from syncd.failures import Reason
from syncd.http import (
    ApiStats,
    CallPolicy,
    ConcurrencyLimit,
    FindExisting,
    Limiter,
    RetrySettings,
)
from syncd.http.classify import make_error, to_error


def base_url_for(api_key: str, base_url: str | None = None) -> str:
    """`base_url` if given, else `https://<dc>.api.mailchimp.com/3.0` from the key's suffix.

    Raises:
        ConfigError: No base URL and the key has no `-<dc>` suffix.
    """
    if base_url:
        return base_url.rstrip("/")
    _, sep, dc = api_key.rpartition("-")
    if not sep or not dc.isalnum():
        raise ConfigError(
            "the Mailchimp API key has no datacenter suffix (like -us21)",
            hint="set mailchimp.base_url, or use the full key as Mailchimp shows it",
        )
    return f"https://{dc}.api.mailchimp.com/3.0"


class _PooledApiClient(ApiClient):  # type: ignore[misc]  # the SDK ships no type hints
    """The SDK's client with its HTTP calls sent through one keep-alive session."""

    def __init__(self, config: dict[str, Any], session: requests.Session) -> None:
        super().__init__(config)
        self._session = session

    def request(
        self,
        method: str,
        url: str,
        query_params: Any = None,
        headers: Any = None,
        body: Any = None,
    ) -> requests.Response:
        """Same contract as the SDK's `request`, on the pooled session."""
        data = json.dumps(body) if method in ("POST", "PUT", "PATCH") else None
        return self._session.request(
            method,
            url,
            params=query_params,
            headers=headers,
            data=data,
            auth=("syncd", self.api_key),
            timeout=self.timeout,
        )


class MailchimpClient:
    """The SDK's `lists` and `ping` APIs under the shared policy.

    Args:
        base_url: API root ending in `/3.0` (must not contain "server", see module doc).
        api_key: The API key (HTTP Basic password).
        retry: Retry and timeout settings.
        stats: Call counters.
        limiter: Concurrency budget (default: 9 calls at once).
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        retry: RetrySettings,
        stats: ApiStats,
        limiter: Limiter | None = None,
    ) -> None:
        self.session = requests.Session()
        adapter = HTTPAdapter(pool_connections=2, pool_maxsize=CONCURRENCY + 1)
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)
        timeout = (retry.connect_timeout_s, retry.timeout_s)
        api = _PooledApiClient(
            {"api_key": api_key, "server": "server", "timeout": timeout}, self.session
        )
        api.host = base_url.rstrip("/")
        self.lists = ListsApi(api)
        self.ping = PingApi(api)
        self.policy = CallPolicy(
            "mailchimp", retry, stats, limiter or ConcurrencyLimit(CONCURRENCY), detect=detect
        )

    def send(
        self,
        endpoint: str,
        fn: Callable[..., Any],
        *args: Any,
        write: bool = False,
        existing: FindExisting[dict[str, Any]] | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """Call an SDK method under the policy; returns the JSON object ({} for no content).

        `existing` makes the call a create that is never sent twice blindly (see
        `CallPolicy.call`).
        """

        def attempt() -> dict[str, Any]:
            return checked(endpoint, fn(*args, **kwargs))

        return self.policy.call(endpoint, attempt, write=write, existing=existing)

    def close(self) -> None:
        """Close pooled connections."""
        self.session.close()


def checked(endpoint: str, result: Any) -> dict[str, Any]:
    """The SDK's answer as a dict, or the classified error it should have raised."""
    if isinstance(result, dict):
        return result
    if isinstance(result, requests.Response):
        if result.ok:
            return {}
        refused = _StatusError(result.status_code, result.text)
        err = to_error("mailchimp", endpoint, refused, detect=detect)
        assert err is not None
        raise err
    raise make_error(
        "mailchimp",
        endpoint,
        None,
        "answer is not a JSON object (proxy or outage page)",
        reason=Reason.INTERNAL if isinstance(result, list) else Reason.VENDOR_UNAVAILABLE,
    )


class _StatusError(Exception):
    """A status the SDK returned instead of raising; shaped like its `ApiClientError`."""

    def __init__(self, status_code: int, text: str) -> None:
        super().__init__(status_code)
        self.status_code = status_code
        self.text = text


__all__ = ["MailchimpClient", "base_url_for", "checked"]
