"""HTTP plumbing: parse a request, authenticate it, apply limits and faults, dispatch it, count
it, and write the response in one send (keep-alive, no Nagle stalls).

stdlib `ThreadingHTTPServer` with HTTP/1.1: one thread per connection gives real concurrency
(Mailchimp's 10-connection cap, a held "timeout" response while others are served) and makes
socket-level faults (resets, truncated bodies) easy.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import socket
import struct
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from syncd.sandbox import control
from syncd.sandbox.errors import ApiError, hubspot_error, mailchimp_error
from syncd.sandbox.routes import SEARCH_TEMPLATE
from syncd.sandbox.routing import Request, Response, Route

if TYPE_CHECKING:
    from syncd.sandbox.app import Sandbox

log = logging.getLogger("syncd.sandbox")
_REASONS = {
    200: "OK",
    201: "Created",
    204: "No Content",
    207: "Multi-Status",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    411: "Length Required",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}
HUBSPOT_AUTH_MESSAGE = (
    "Authentication credentials not found. This API supports OAuth 2.0 authentication and you "
    "can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview"
)
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


class SandboxServer(ThreadingHTTPServer):
    """The threaded server; `sandbox` gives handlers the state, limits, faults and stats."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, address: tuple[str, int], sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        super().__init__(address, SandboxHandler)


def _api_of(path: str) -> str:
    if path == "/3.0" or path.startswith("/3.0/"):
        return "mailchimp"
    if path.startswith("/_sandbox/"):
        return "sandbox"
    return "hubspot"


def vendor_error(api: str, status: int, message: str, title: str | None = None) -> ApiError:
    """An error of `status` in the shape of the API the request was for."""
    if api == "mailchimp":
        return mailchimp_error(status, title or _REASONS.get(status, "Error"), message)
    category = {404: "OBJECT_NOT_FOUND", 429: "RATE_LIMITS"}.get(status, "VALIDATION_ERROR")
    if status >= 500:
        category = "INTERNAL_ERROR"
    return hubspot_error(status, message, category)


class SandboxHandler(BaseHTTPRequestHandler):
    """One connection; each request runs through `_dispatch`."""

    protocol_version = "HTTP/1.1"
    server_version = "syncd-sandbox"
    sys_version = ""
    disable_nagle_algorithm = True
    server: SandboxServer

    def log_message(self, format: str, *args: Any) -> None:
        """Silence per-request logging (the stats endpoint counts requests)."""

    def do_GET(self) -> None:
        """Dispatch a GET."""
        self._dispatch()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET  # noqa: N815

    # --- the pipeline -------------------------------------------------------------------------

    def _dispatch(self) -> None:
        sb = self.server.sandbox
        split = urllib.parse.urlsplit(self.path)
        path = split.path
        api = _api_of(path)
        length = self.headers.get("Content-Length")
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            self._send(Response(411, b""), close=True)
            return
        body = self.rfile.read(int(length)) if length and length.isdigit() else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        req = Request(
            self.command,
            path,
            urllib.parse.parse_qs(split.query, keep_blank_values=True),
            headers,
            body,
            api,
        )
        if api == "sandbox":
            self._send(self._safe(lambda: control.handle(sb, req), api))
            return
        person = headers.get("x-sandbox-actor") == "person"
        route: Route | None = None
        fault: str | None = None
        status = 500
        gate_taken = False
        try:
            try:
                self._authenticate(req)
                route = self._route(req)
                if not person:
                    gate_taken = self._limits(req, route)
                    fault = sb.faults.draw(api)
                    if fault is not None and self._serve_fault(req, fault):
                        status = 0 if fault in ("timeout", "reset") else 200
                        return
                sb.wait_if_held(api)
                with sb.state_lock():
                    resp = route.handler(sb.state, req)
                if fault in ("truncated", "non_json"):
                    status = 200 if fault == "non_json" else resp.status
                    self._serve_broken(resp, fault)
                    return
            except ApiError as exc:
                resp = Response(exc.status, exc.body, exc.headers, exc.content_type)
            except Exception:
                log.exception("sandbox handler failed for %s %s", self.command, path)
                exc2 = vendor_error(api, 500, "Internal error in the sandbox")
                resp = Response(500, exc2.body, {}, exc2.content_type)
            if api == "hubspot" and route is not None and route.template != SEARCH_TEMPLATE:
                resp.headers.update(sb.hubspot_rate_headers())
            status = resp.status
            self._send(resp)
        finally:
            if gate_taken:
                sb.limits.mailchimp.leave()
            if person:
                sb.stats_counter.record_person_edit()
            else:
                endpoint = route.endpoint if route else f"{self.command} <unknown>"
                is_write = route.is_write if route else False
                sb.stats_counter.record(api, endpoint, is_write, status, fault)

    def _safe(self, fn: Any, api: str) -> Response:
        try:
            resp: Response = fn()
            return resp
        except ApiError as exc:
            return Response(exc.status, exc.body, exc.headers, exc.content_type)
        except Exception:
            log.exception("sandbox control call failed")
            return Response(500, {"error": "internal error"})

    def _authenticate(self, req: Request) -> None:
        sb = self.server.sandbox
        auth = req.headers.get("authorization", "")
        if req.api == "hubspot":
            if auth != f"Bearer {sb.hubspot_token}":
                raise hubspot_error(401, HUBSPOT_AUTH_MESSAGE, "INVALID_AUTHENTICATION")
            return
        key = ""
        if auth.startswith("Basic "):
            try:
                key = base64.b64decode(auth[6:]).decode().partition(":")[2]
            except ValueError:
                key = ""
        elif auth.startswith(("Bearer ", "OAuth ")):
            key = auth.partition(" ")[2]
        if not auth:
            raise mailchimp_error(
                401, "API Key Missing", "Your request did not include an API key."
            )
        if key != sb.mailchimp_key:
            raise mailchimp_error(
                401,
                "API Key Invalid",
                "Your API key may be invalid, or you've attempted to access the wrong datacenter.",
            )

    def _route(self, req: Request) -> Route:
        sb = self.server.sandbox
        if req.api == "mailchimp":
            found = sb.mailchimp_router.match(req.method, req.path)
        else:
            found = sb.hubspot_router.match(req.method, req.path)
        if isinstance(found, bool):
            status = 405 if found else 404
            msg = (
                "Method not allowed for this resource."
                if found
                else "The requested resource could not be found."
            )
            title = "Method Not Allowed" if found else "Resource Not Found"
            raise vendor_error(req.api, status, msg, title)
        route, args = found
        req.args = {k: urllib.parse.unquote(v) for k, v in args.items()}
        return route

    def _limits(self, req: Request, route: Route) -> bool:
        """Apply the vendor's limits; True when a Mailchimp concurrency slot was taken."""
        sb = self.server.sandbox
        if req.api == "mailchimp":
            if not sb.limits.mailchimp.enter():
                raise mailchimp_error(
                    429,
                    "Too Many Requests",
                    "You have exceeded the limit of "
                    f"{sb.limits.mailchimp.limit} simultaneous connections.",
                )
            return True
        if route.template == SEARCH_TEMPLATE:
            ok, _ = sb.limits.search.try_acquire()
            if not ok:  # search answers 429 without any rate-limit headers
                raise sb.hubspot_429("SECONDLY", "You have reached your secondly limit.", False)
            return False
        ok, _ = sb.limits.hubspot.try_acquire()
        if not ok:
            raise sb.hubspot_429(
                "TEN_SECONDLY_ROLLING", "You have reached your ten_secondly_rolling limit."
            )
        ok, _ = sb.limits.daily.try_acquire()
        if not ok:
            raise sb.hubspot_429("DAILY", "You have reached your daily limit.")
        return False

    # --- faults -------------------------------------------------------------------------------

    def _serve_fault(self, req: Request, fault: str) -> bool:
        """Serve a fault decided before the handler runs; False for faults applied after it."""
        sb = self.server.sandbox
        if fault == "429":
            if req.api == "mailchimp":
                raise mailchimp_error(
                    429,
                    "Too Many Requests",
                    "You have exceeded the limit of 10 simultaneous connections.",
                )
            raise sb.hubspot_429(
                "TEN_SECONDLY_ROLLING", "You have reached your ten_secondly_rolling limit."
            )
        if fault in ("500", "502", "503"):
            raise vendor_error(req.api, int(fault), "The server encountered an error (injected).")
        if fault == "timeout":
            sb.hold_for_timeout()
            self._reset()
            return True
        if fault == "reset":
            self._reset()
            return True
        return False

    def _reset(self) -> None:
        """Abort the connection with a TCP RST."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            pass

    def _serve_broken(self, resp: Response, fault: str) -> None:
        if fault == "non_json":
            page = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
            self._send(Response(200, page, {}, "text/html"), close=True)
            return
        data = self._encode(resp)
        head = self._head(resp.status, resp.content_type, len(data), resp.headers, close=True)
        with contextlib.suppress(OSError):
            self.wfile.write(head + data[: max(1, len(data) // 2)])
        self._reset()

    # --- output -------------------------------------------------------------------------------

    @staticmethod
    def _encode(resp: Response) -> bytes:
        if resp.body is None or resp.status == 204:
            return b""
        if isinstance(resp.body, bytes):
            return resp.body
        return _encode(resp.body).encode()

    def _head(
        self, status: int, ctype: str, length: int, headers: dict[str, str], close: bool
    ) -> bytes:
        lines = [
            f"HTTP/1.1 {status} {_REASONS.get(status, 'Unknown')}",
            f"Content-Length: {length}",
            "Server: syncd-sandbox",
        ]
        if length or status != 204:
            lines.append(f"Content-Type: {ctype}")
        lines.extend(f"{k}: {v}" for k, v in headers.items())
        if close:
            lines.append("Connection: close")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def _send(self, resp: Response, close: bool = False) -> None:
        data = self._encode(resp)
        if resp.status == 204:
            data = b""
        close = close or self.headers.get("Connection", "").lower() == "close"
        if close:
            self.close_connection = True
        try:
            self.wfile.write(
                self._head(resp.status, resp.content_type, len(data), resp.headers, close) + data
            )
        except OSError:
            self.close_connection = True
