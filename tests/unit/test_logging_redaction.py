"""A configured token never reaches the logs, not even inside an exception message."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from syncd.config import load_settings
from syncd.logs import configure_logging, get_logger, run_context
from syncd.redact import REDACTOR, Redactor, email_ref

TOKEN = "pat-eu1-9f8e7d6c-0000-4111-8222-abcdefabcdef"
ODD_TOKEN = "opaque!Token~that~matches~no~pattern"


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    configure_logging("debug", "json", stream)
    yield stream
    configure_logging("info", "json")


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_configured_token_never_logged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, log_stream: io.StringIO
) -> None:
    monkeypatch.setenv("HS_TOKEN", ODD_TOKEN)
    config = tmp_path / "syncd.yaml"
    config.write_text("hubspot: {access_token: '${HS_TOKEN}'}\n", encoding="utf-8")
    load_settings(config)  # registers the secret with the redactor
    log = get_logger("test")
    with run_context(run_id=42, connector="hubspot"):
        log.info("calling", headers={"Authorization": f"Bearer {ODD_TOKEN}"}, note=ODD_TOKEN)
        try:
            raise RuntimeError(f"request failed: token={ODD_TOKEN} for jane.doe@example.com")
        except RuntimeError:
            log.exception("pull failed")
    logging.getLogger("urllib3.connectionpool").warning("retrying with %s", ODD_TOKEN)
    text = log_stream.getvalue()
    assert ODD_TOKEN not in text
    assert "jane.doe@example.com" not in text
    events = lines(log_stream)
    assert [e["event"] for e in events] == [
        "calling",
        "pull failed",
        "retrying with [REDACTED]",
    ]
    assert events[0]["run_id"] == 42 and events[0]["connector"] == "hubspot"
    assert "RuntimeError: request failed" in str(events[1]["exception"])
    assert email_ref("jane.doe@example.com") in str(events[1]["exception"])


@pytest.mark.parametrize(
    "secret_text",
    [
        f"Authorization: Bearer {TOKEN}",
        TOKEN,
        "key 0123456789abcdef0123456789abcdef-us21 leaked",
        "https://api.example.com/v1?hapikey=abc123def456&x=1",
        "postgresql+psycopg://admin:hunter2secret@db/syncd",
        "Basic c2FuZGJveDpzYW5kYm94LW1haWxjaGltcC1rZXk=",
    ],
)
def test_secret_shaped_values_are_redacted(secret_text: str) -> None:
    cleaned = Redactor().text(secret_text)
    assert "[REDACTED]" in cleaned
    for fragment in (TOKEN, "0123456789abcdef", "abc123def456", "hunter2", "c2FuZGJveDpz"):
        assert fragment not in cleaned


def test_secret_named_keys_redacted_recursively() -> None:
    value = REDACTOR.value({"outer": [{"api_key": "x1", "count": 3}], "password": "pw"})
    assert value == {"outer": [{"api_key": "[REDACTED]", "count": 3}], "password": "[REDACTED]"}


def test_context_is_cleared_after_the_run(log_stream: io.StringIO) -> None:
    log = get_logger("test")
    with run_context(run_id=1):
        log.info("inside")
    log.info("outside")
    inside, outside = lines(log_stream)
    assert inside["run_id"] == 1
    assert "run_id" not in outside
