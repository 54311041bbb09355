"""`serve`: binding rules and a real uvicorn server on a loopback port, in the background."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from markupsafe import Markup

from syncd.errors import ConfigError
from syncd.ui import serve
from syncd.ui.charts import _nice_max, size_chart
from syncd.ui.server import bind


def _app() -> FastAPI:
    app = FastAPI()

    @app.get("/ping")
    def ping() -> dict[str, str]:
        return {"ok": "yes"}

    return app


def test_serve_refuses_a_public_address_without_token() -> None:
    with pytest.raises(ConfigError, match="without a token"):
        serve(_app(), "0.0.0.0", 0, None, background=True)


def test_serve_in_background_answers_on_loopback_and_stops() -> None:
    server = serve(_app(), "127.0.0.1", 0, None, background=True)
    try:
        assert server.port > 0 and server.url == f"http://127.0.0.1:{server.port}"
        response = httpx.get(f"{server.url}/ping", timeout=10)
        assert response.json() == {"ok": "yes"}
    finally:
        server.stop()
    assert server.thread is not None and not server.thread.is_alive()


def test_port_in_use_is_a_config_error() -> None:
    taken = bind("127.0.0.1", 0)
    try:
        with pytest.raises(ConfigError, match="cannot bind"):
            bind("127.0.0.1", taken.getsockname()[1])
    finally:
        taken.close()


def test_chart_axis_and_escaping() -> None:
    assert [_nice_max(v) for v in (0, 1, 3, 7, 10, 11, 120, 999)] == [
        1,
        1,
        5,
        10,
        10,
        20,
        200,
        1000,
    ]
    points = [
        {"run_id": 1, "at": "x", "sizes": {"<b>": 4}},
        {"run_id": None, "at": "y", "sizes": {}},
    ]
    svg = size_chart(points, ["<b>"])
    assert isinstance(svg, Markup)
    assert "<b>" not in svg and "&lt;b&gt;: 4" in svg
    assert svg.count("<circle") == 2 and ">now</text>" in svg
