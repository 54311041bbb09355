"""Schemathesis against the JSON API (in-process ASGI, seeded SQLite, token set): no server
errors, every answer matches the OpenAPI schema, and requests with generated (wrong) auth are
refused. Bounded: a few examples per operation.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from syncd.segments import RuleSet
from syncd.store import make_engine, upgrade
from tests.ui.conftest import TOKEN, FakeRelease, make_app
from tests.ui.seed import seed

BEARER = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory: pytest.TempPathFactory, rules: RuleSet) -> Iterator[Any]:
    """The API's schema, loaded from the app itself."""
    url = f"sqlite:///{tmp_path_factory.mktemp('schema') / 'syncd.db'}"
    upgrade(url)
    db = make_engine(url)
    seed(db)
    # Each reading of the security clock is a minute later, so the login throttle (its own
    # tests are in test_ui_sessions.py) never turns the examples after a few generated
    # wrong tokens into 429s, which would hide the answers this test is here to check.
    minutes = itertools.count(start=1_700_000_000, step=61)
    app = make_app(db, rules, FakeRelease(db), TOKEN, security_clock=lambda: float(next(minutes)))
    yield schemathesis.openapi.from_asgi("/api/openapi.json", app, headers=BEARER)
    db.dispose()


OPERATIONS = [
    ("GET", "/api/runs"),
    ("GET", "/api/runs/{run_id}"),
    ("POST", "/api/runs/{run_id}/approve"),
    ("POST", "/api/runs/{run_id}/reject"),
    ("GET", "/api/events"),
    ("GET", "/api/events.csv"),
    ("GET", "/api/contacts"),
    ("GET", "/api/contacts/{email}"),
    ("GET", "/api/segments"),
]


@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_api_conforms_to_its_schema(api_schema: Any, method: str, path: str) -> None:
    """Generated requests per operation; schemathesis checks status, content type and body.

    Driven through schemathesis's Python API (its pytest plugin does not support pytest 9).
    """
    operation = api_schema[path][method]

    @given(case=operation.as_strategy())
    @settings(
        max_examples=12,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    def check(case: Any) -> None:
        case.call_and_validate(headers=BEARER)

    check()


def test_schema_is_served(tmp_path: Path, rules: RuleSet) -> None:
    url = f"sqlite:///{tmp_path / 'syncd.db'}"
    upgrade(url)
    db = make_engine(url)
    try:
        loaded = schemathesis.openapi.from_asgi(
            "/api/openapi.json", make_app(db, rules, FakeRelease(db), None)
        )
        assert len(list(loaded.get_all_operations())) == len(OPERATIONS)
        raw = make_app(db, rules, FakeRelease(db), None).openapi()
        assert "securitySchemes" not in raw.get("components", {})  # no token: no auth claimed
    finally:
        db.dispose()
