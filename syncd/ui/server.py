"""`serve`: run the console with uvicorn, in the foreground or on a daemon thread.

The socket is bound here, before uvicorn starts, so a port in use fails at once with a clear
error, port 0 gets a real port the caller can print, and requests made right after `serve`
returns wait in the listen queue instead of being refused.
"""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass, field

import uvicorn
from fastapi import FastAPI

from syncd.errors import ConfigError
from syncd.ui.security import check_bind


@dataclass
class UiServer:
    """A running console; `stop` shuts it down and waits for its thread."""

    host: str
    port: int
    server: uvicorn.Server
    sock: socket.socket
    thread: threading.Thread | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        """The base URL to open in a browser."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def stop(self, timeout: float = 10.0) -> None:
        """Ask uvicorn to finish in-flight requests and exit; wait for the thread."""
        self.server.should_exit = True
        if self.thread is not None:
            self.thread.join(timeout)
        self.sock.close()


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on `host:port`.

    Raises:
        ConfigError: The address cannot be bound (in use, or not an address of this machine).
    """
    try:
        family, kind, proto, _, addr = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        raise ConfigError(f"cannot bind the console to {host}:{port}: {exc}") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(addr)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise ConfigError(
            f"cannot bind the console to {host}:{port}: {exc.strerror or exc}",
            hint="pick another ui.port, or stop whatever uses it",
        ) from None
    return sock


def serve(
    app: FastAPI,
    host: str,
    port: int,
    token: str | None,
    *,
    background: bool = False,
    log_level: str = "warning",
) -> UiServer:
    """Serve the console; refuse a non-loopback host without a token.

    Args:
        app: From `create_app` (built with the same `token`).
        host: Interface; `ui.host`, 127.0.0.1 by default.
        port: `ui.port` (8686 by default); 0 picks a free port (see `UiServer.port`).
        token: `ui.token`; required unless `host` is loopback.
        background: Run on a daemon thread and return at once (for `syncd run`); otherwise
            block until SIGINT/SIGTERM (for `syncd ui`) and return after shutdown.
        log_level: uvicorn's own log level (access logs are off: they carry emails in URLs).

    Raises:
        ConfigError: Non-loopback host without a token, or the address cannot be bound.
    """
    check_bind(host, token)
    sock = bind(host, port)
    config = uvicorn.Config(app, log_level=log_level, access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    handle = UiServer(host, int(sock.getsockname()[1]), server, sock)
    if not background:
        try:
            server.run(sockets=[sock])
        finally:
            sock.close()
        return handle
    handle.thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="syncd-ui", daemon=True
    )
    handle.thread.start()
    return handle
