"""HTTP plumbing.

Parse a request, authenticate it, apply limits and faults, dispatch it, count it, and write the
response in one send (keep-alive, no Nagle stalls).

stdlib `ThreadingHTTPServer` with HTTP/1.1: one thread per connection gives real concurrency
(Mailchimp's 10-connection cap, a held "timeout" response while others are served) and makes
socket-level faults (resets, truncated bodies) easy.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import struct
import urllib.parse
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from syncd.sandbox.core import control
from syncd.sandbox.core.errors import REASONS, ApiError, BadBodyError
from syncd.sandbox.core.interfaces import Host, Vendor
from syncd.sandbox.core.routing import Request, Response, Route

log = logging.getLogger("syncd.sandbox")
CONTROL_PREFIX = "/_sandbox/"
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


class SandboxServer(ThreadingHTTPServer):
    """The threaded server; `host` gives handlers the vendors, faults, stats, lock and holds."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, address: tuple[str, int], host: Host) -> None:
        self.host = host
        super().__init__(address, SandboxHandler)


def _error_response(exc: ApiError) -> Response:
    return Response(exc.status, exc.body, exc.headers, exc.content_type)


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
        host = self.server.host
        split = urllib.parse.urlsplit(self.path)
        path = split.path
        vendor = None if path.startswith(CONTROL_PREFIX) else host.vendor_for(path)
        api = "sandbox" if vendor is None else vendor.name
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
        if vendor is None:
            self._send(self._control(host, req))
            return
        person = headers.get("x-sandbox-actor") == "person"
        route: Route[Any] | None = None
        fault: str | None = None
        release: Callable[[], None] | None = None
        counted = False

        def count(status: int) -> None:
            # Counted before the answer leaves, so a client that reads the stats right after
            # its last answer sees that request counted.
            nonlocal counted
            counted = True
            if person:
                host.stats_counter.record_person_edit()
            else:
                endpoint = route.endpoint if route else f"{self.command} <unknown>"
                is_write = route.is_write if route else False
                host.stats_counter.record(api, endpoint, is_write, status, fault)

        try:
            try:
                vendor.authenticate(req)
                route = self._route(vendor, req)
                if not person:
                    release = vendor.admit(req, route)
                    host.faults.delay()
                    fault = host.faults.draw(api)
                    if fault in ("timeout", "reset"):
                        count(0)
                    if fault is not None and self._serve_fault(host, vendor, fault):
                        return
                host.wait_if_held(api)
                with host.state_lock():
                    resp = vendor.serve(route, req)
                if fault in ("truncated", "non_json"):
                    count(200 if fault == "non_json" else resp.status)
                    self._serve_broken(resp, fault)
                    return
            except BadBodyError as problem:
                resp = _error_response(vendor.bad_body(problem))
            except ApiError as exc:
                resp = _error_response(exc)
            except Exception:
                log.exception("sandbox handler failed for %s %s", self.command, path)
                exc2 = vendor.error(500, "Internal error in the sandbox", REASONS[500])
                resp = Response(500, exc2.body, {}, exc2.content_type)
            if route is not None:
                vendor.finish(route, resp)
                if not person:
                    host.observe(api, route.endpoint, resp.status, resp.body)
            count(resp.status)
            self._send(resp)
        finally:
            if release is not None:
                release()
            if not counted:
                count(500)

    def _control(self, host: Host, req: Request) -> Response:
        try:
            return control.handle(host, req)
        except ApiError as exc:
            return _error_response(exc)
        except Exception:
            log.exception("sandbox control call failed")
            return Response(500, {"error": "internal error"})

    def _route(self, vendor: Vendor, req: Request) -> Route[Any]:
        found = vendor.router.match(req.method, req.path)
        if isinstance(found, bool):
            status = 405 if found else 404
            msg = (
                "Method not allowed for this resource."
                if found
                else "The requested resource could not be found."
            )
            title = "Method Not Allowed" if found else "Resource Not Found"
            raise vendor.error(status, msg, title)
        route, args = found
        req.args = {k: urllib.parse.unquote(v) for k, v in args.items()}
        return route

    # --- faults -------------------------------------------------------------------------------

    def _serve_fault(self, host: Host, vendor: Vendor, fault: str) -> bool:
        """Serve a fault decided before the handler runs; False for faults applied after it."""
        if fault == "429":
            raise vendor.injected_429()
        if fault in ("500", "502", "503"):
            status = int(fault)
            raise vendor.error(
                status, "The server encountered an error (injected).", REASONS[status]
            )
        if fault == "timeout":
            host.hold_for_timeout()
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
            f"HTTP/1.1 {status} {REASONS.get(status, 'Unknown')}",
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
