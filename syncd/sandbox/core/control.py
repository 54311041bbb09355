"""The `/_sandbox/...` control endpoints used by tests, benchmarks and the demo.

- `GET /_sandbox/stats`: request counters (see `Stats.snapshot`).
- `GET|POST /_sandbox/faults`: read or replace the fault configuration.
- `POST /_sandbox/reset` `{"contacts": N, "seed": S}`: fresh data, counters and windows.
- `GET /_sandbox/info`: base URLs, credentials and the audience id.
"""

from __future__ import annotations

from syncd.sandbox.core.errors import ApiError, BadBodyError
from syncd.sandbox.core.faults import FaultConfig
from syncd.sandbox.core.interfaces import Controls
from syncd.sandbox.core.routing import Request, Response


def _bad(message: str) -> ApiError:
    return ApiError(400, {"error": message})


def handle(sb: Controls, req: Request) -> Response:
    """Serve one control request (no credentials needed: loopback test tooling)."""
    what = (req.method, req.path.rstrip("/"))
    if what == ("GET", "/_sandbox/stats"):
        return Response(200, sb.stats())
    if what == ("GET", "/_sandbox/faults"):
        return Response(200, sb.faults.config.to_json())
    if what == ("POST", "/_sandbox/faults"):
        try:
            config = FaultConfig.from_json(req.json_object())
        except BadBodyError:
            raise _bad("body is not valid JSON") from None
        except ValueError as exc:
            raise _bad(str(exc)) from None
        sb.set_faults(config)
        return Response(200, config.to_json())
    if what == ("POST", "/_sandbox/reset"):
        try:
            body = req.json_object()
        except BadBodyError:
            raise _bad("body is not valid JSON") from None
        contacts, seed = body.get("contacts"), body.get("seed")
        if not all(v is None or (isinstance(v, int) and v >= 0) for v in (contacts, seed)):
            raise _bad("contacts and seed must be non-negative integers")
        sb.reset(contacts=contacts, seed=seed)
        return Response(200, sb.info())
    if what == ("GET", "/_sandbox/info"):
        return Response(200, sb.info())
    return Response(404, {"error": f"no control endpoint {req.method} {req.path}"})
