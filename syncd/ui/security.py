"""Who may use the console, and proof that a request came from its own pages.

The console is an admin tool on the user's own machine. These rules keep it safe:

* It answers only to its own names (`AllowedHosts`, checked on every request by Starlette's
  `TrustedHostMiddleware`): without that, a web page whose DNS name is re-pointed at
  127.0.0.1 (DNS rebinding) would be "same origin" with the console and could read it.
* Off loopback it needs a token (`ui.token`): a browser logs in once with a form and gets an
  HttpOnly, SameSite=Strict session cookie; scripts send `Authorization: Bearer TOKEN`.
  On loopback without a token nobody is asked to log in: whoever can reach 127.0.0.1 already
  runs code on the machine. Failed token attempts are throttled (`LoginLimiter`).
* Every state-changing request (approve, login, logout) must name this very server in its
  Origin (or, without one, its Referer); approving and logging out also need the
  per-session CSRF token (a hidden form field or an `X-CSRF-Token` header). A
  Bearer-authenticated API call is exempt: no browser attaches that header on its own.
* Every secret comparison goes through `hmac.compare_digest`.

Sessions are stateless: a session cookie is `NONCE.ISSUED.MAC`, signed with a key made at
start-up over its issue time, so it expires after `ui.session_ttl`, a restart logs everyone
out, and nothing is stored.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import math
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from starlette.requests import Request

from syncd.config import host_pattern
from syncd.errors import ConfigError

Clock = Callable[[], float]
SESSION_COOKIE = "syncd_session"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")
DEFAULT_SESSION_TTL = timedelta(hours=12)
#: Clock skew tolerated for a cookie that claims to be issued in the future (seconds).
_FUTURE_SKEW = 60


def is_loopback(host: str) -> bool:
    """Whether binding `host` keeps the console reachable from this machine only."""
    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def check_bind(host: str, token: str | None) -> None:
    """Refuse to expose the console beyond loopback without a token.

    Raises:
        ConfigError: `host` is not a loopback address and no token is set.
    """
    if not is_loopback(host) and not token:
        raise ConfigError(
            f"refusing to serve the console on {host} without a token",
            hint="set ui.token (SYNCD_UI__TOKEN) or bind to 127.0.0.1",
        )


def same_secret(given: str | None, expected: str) -> bool:
    """Constant-time comparison of a presented secret with the expected one."""
    if not given:
        return False
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def _canonical(name: str) -> str:
    """A host name lower-cased, or an IP address in its canonical form without brackets."""
    bare = name.strip().lower().removeprefix("[").removesuffix("]")
    try:
        return str(ipaddress.ip_address(bare))
    except ValueError:
        return bare


def _valid_names(entries: Iterable[str]) -> list[str]:
    """The entries that are host names, normalised; the others are dropped."""
    names = []
    for entry in entries:
        try:
            names.append(host_pattern(entry))
        except ValueError:
            continue
    return names


@dataclass(frozen=True)
class AllowedHosts:
    """The host names the console answers to; `*.example.com` allows names under it.

    Matching ignores case and port. Build it with `resolve`.
    """

    names: tuple[str, ...]

    @classmethod
    def resolve(cls, configured: Iterable[str], bind_hosts: Iterable[str] = ()) -> AllowedHosts:
        """`ui.allowed_hosts`, or when that is empty the loopback names and the bound hosts.

        A bound host that is no host name is left out: binding it fails with its own error.

        Raises:
            ConfigError: A configured entry is not a host name (see `syncd.config.host_pattern`).
        """
        names: list[str] = []
        for entry in configured:
            try:
                names.append(host_pattern(entry))
            except ValueError as exc:
                raise ConfigError(f"ui.allowed_hosts: {exc}") from None
        if not names:
            names = [*LOOPBACK_NAMES, *_valid_names(bind_hosts)]
        return cls(tuple(dict.fromkeys(names)))

    @property
    def patterns(self) -> list[str]:
        """The names as `TrustedHostMiddleware` compares them (IPv6 in brackets)."""
        return [f"[{name}]" if ":" in name else name for name in self.names]

    def allows(self, host: str) -> bool:
        """Whether `host` (a bare name or IP, no port) is one of ours."""
        name = _canonical(host)
        return any(
            name == pattern or (pattern.startswith("*.") and name.endswith(pattern[1:]))
            for pattern in self.names
        )


def split_authority(value: str) -> tuple[str, int | None] | None:
    """The canonical host and the port (if given) of a `host[:port]` string, or None."""
    try:
        parts = urlsplit(f"//{value}")
        host, port = parts.hostname, parts.port
    except ValueError:
        return None
    if not host or parts.path or parts.query or parts.fragment or parts.username is not None:
        return None
    return _canonical(host), port


def origin_matches(request: Request, hosts: AllowedHosts) -> bool:
    """Whether Origin (or, without it, Referer) names this very server; one must be sent.

    "This server" is the request's own host and port, and that host must be allowed: a
    page of another allowed name (or another port) is another origin and is refused.
    """
    source = request.headers.get("origin") or request.headers.get("referer")
    if not source or source == "null":
        return False
    parts = urlsplit(source)
    if parts.scheme not in ("http", "https"):
        return False
    claimed = split_authority(parts.netloc)
    own = split_authority(request.headers.get("host", ""))
    return claimed is not None and claimed == own and hosts.allows(claimed[0])


@dataclass(frozen=True)
class Session:
    """A verified, unexpired session cookie; `nonce` binds the CSRF token to it."""

    nonce: str
    authenticated: bool
    issued: int


class Guard:
    """Issues and checks session cookies, CSRF tokens and origins for one app instance.

    Args:
        token: `ui.token`; None means no login (loopback only, enforced by `serve`).
        key: Signing key; a fresh random one by default (sessions end with the process).
        hosts: The names the console answers to; the loopback names by default.
        ttl: How long a session cookie stays valid after it was issued (`ui.session_ttl`).
        now: Seconds since the epoch; tests move it by hand instead of sleeping.
    """

    def __init__(
        self,
        token: str | None,
        key: bytes | None = None,
        *,
        hosts: AllowedHosts | None = None,
        ttl: timedelta = DEFAULT_SESSION_TTL,
        now: Clock = time.time,
    ) -> None:
        self.token = token or None
        self.hosts = hosts or AllowedHosts.resolve(())
        self.ttl_s = int(ttl.total_seconds())
        self._key = key or secrets.token_bytes(32)
        self._now = now

    @property
    def login_required(self) -> bool:
        """Whether requests must authenticate (a token is configured)."""
        return self.token is not None

    def _mac(self, *parts: object) -> str:
        msg = ":".join(str(part) for part in parts).encode()
        return hmac.new(self._key, msg, hashlib.sha256).hexdigest()

    def new_cookie(self, *, authenticated: bool) -> str:
        """A fresh signed session cookie value, valid for `ttl` from now."""
        nonce = secrets.token_urlsafe(18)
        issued = int(self._now())
        purpose = "auth" if authenticated else "anon"
        return f"{nonce}.{issued}.{self._mac(purpose, nonce, issued)}"

    def read_cookie(self, value: str | None) -> Session | None:
        """The session a cookie proves, or None when it is missing, forged or expired."""
        if not value or value.count(".") != 2:
            return None
        nonce, issued_text, mac = value.split(".")
        if not (issued_text.isascii() and issued_text.isdigit() and len(issued_text) <= 12):
            return None
        issued = int(issued_text)
        if not -_FUTURE_SKEW <= self._now() - issued < self.ttl_s:
            return None
        for purpose, authenticated in (("auth", True), ("anon", False)):
            expected = self._mac(purpose, nonce, issued)
            if hmac.compare_digest(mac.encode(), expected.encode()):
                return Session(nonce, authenticated, issued)
        return None

    def csrf_for(self, session: Session) -> str:
        """The CSRF token pages embed for this session."""
        return self._mac("csrf", session.nonce)

    def presents_bearer(self, request: Request) -> bool:
        """Whether the request tries `Authorization: Bearer` against a configured token."""
        scheme, _, _ = request.headers.get("authorization", "").partition(" ")
        return self.token is not None and scheme.lower() == "bearer"

    def bearer_ok(self, request: Request) -> bool:
        """Whether the request carries `Authorization: Bearer <the token>`."""
        if self.token is None:
            return False
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and same_secret(value.strip(), self.token)

    def session_of(self, request: Request) -> Session | None:
        """The verified, unexpired session of the request's cookie, if any."""
        return self.read_cookie(request.cookies.get(SESSION_COOKIE))

    def is_authenticated(self, request: Request) -> bool:
        """Whether the request may read the console."""
        if self.token is None:
            return True
        if self.bearer_ok(request):
            return True
        session = self.session_of(request)
        return session is not None and session.authenticated

    def origin_ok(self, request: Request) -> bool:
        """Whether the request says it comes from this console (see `origin_matches`)."""
        return origin_matches(request, self.hosts)

    def csrf_ok(self, request: Request, presented: str | None) -> bool:
        """Whether a state-changing request proves it came from this console's own page.

        Bearer-authenticated calls pass (browsers never add that header by themselves).
        Otherwise the session cookie must be valid and unexpired, the presented token must
        be its CSRF token, and the request must come from this origin.
        """
        if self.bearer_ok(request):
            return True
        session = self.session_of(request)
        if session is None or (self.token is not None and not session.authenticated):
            return False
        if not same_secret(presented, self.csrf_for(session)):
            return False
        return self.origin_ok(request)


class LoginLimiter:
    """Throttles token guessing: failed attempts per client address and across all clients.

    An attempt takes a slot before the token is compared, so parallel guesses cannot overrun
    the limit, and a right token gives its slot back, so successful logins never count.
    A slot frees up `window` seconds after it was taken. At most `global_limit` slots exist
    at once, which also bounds the memory. Thread-safe: the login route runs on a thread pool.

    Args:
        per_client: Failed attempts one address may make per window.
        global_limit: Failed attempts all addresses together may make per window.
        window: The window in seconds.
        now: Seconds since the epoch; tests move it by hand instead of sleeping.
    """

    def __init__(
        self,
        per_client: int = 5,
        global_limit: int = 50,
        window: float = 60.0,
        now: Clock = time.time,
    ) -> None:
        self.per_client = per_client
        self.global_limit = global_limit
        self.window = window
        self._now = now
        self._lock = threading.Lock()
        self._clients: dict[str, deque[float]] = {}
        self._all: deque[float] = deque()

    def acquire(self, client: str) -> int:
        """Take a slot for one attempt by `client`.

        Returns:
            0 when the attempt may go ahead; otherwise the whole seconds to wait (for a
            `Retry-After` header), and no slot was taken.
        """
        with self._lock:
            at = self._now()
            self._expire(at - self.window)
            mine = self._clients.get(client)
            if mine is not None and len(mine) >= self.per_client:
                return self._wait(mine[0], at)
            if len(self._all) >= self.global_limit:
                return self._wait(self._all[0], at)
            self._clients.setdefault(client, deque()).append(at)
            self._all.append(at)
            return 0

    def refund(self, client: str) -> None:
        """Give back the slot of `client`'s attempt that turned out to be right."""
        with self._lock:
            mine = self._clients.get(client)
            if not mine:
                return
            self._all.remove(mine.pop())
            if not mine:
                del self._clients[client]

    def _expire(self, cutoff: float) -> None:
        while self._all and self._all[0] <= cutoff:
            self._all.popleft()
        for client, slots in list(self._clients.items()):
            while slots and slots[0] <= cutoff:
                slots.popleft()
            if not slots:
                del self._clients[client]

    def _wait(self, oldest: float, at: float) -> int:
        return max(1, math.ceil(oldest + self.window - at))


def client_address(request: Request) -> str:
    """The peer address the login limit counts against (the proxy's, behind one)."""
    return request.client.host if request.client is not None else "unknown"


def safe_next(target: str | None) -> str:
    """A post-login redirect that stays on this server (no `//host` or absolute URLs)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target
