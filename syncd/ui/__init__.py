"""The admin web console: runs, change log, contacts and segments in the browser.

Server-rendered with FastAPI and Jinja2; CSS ships in `static/`, nothing loads from a CDN.
`create_app` builds the app from its parts, `console_for` from a runtime (what `syncd ui` and
`syncd run` use), `serve` runs it with uvicorn. It answers only to its allowed
host names (`ui.allowed_hosts`). On loopback without `ui.token` nobody is asked to log in;
anywhere else a token is required (see `syncd.ui.security`).
"""

from syncd.ui.app import create_app
from syncd.ui.console import console_for, open_console
from syncd.ui.server import UiServer, serve
from syncd.ui.state import ApproveOutcome

__all__ = ["ApproveOutcome", "UiServer", "console_for", "create_app", "open_console", "serve"]
