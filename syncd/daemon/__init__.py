"""The daemon: `syncd run` serves scheduled syncs under the apply lease until SIGTERM.

`serve` is the one entry point; `service` holds the run loop (lease, stop flags, signals),
`scheduler` the APScheduler wiring, `jobs` the sync job, `metrics` the `/healthz` and
`/metrics` endpoint.
"""

from syncd.daemon.service import serve

__all__ = ["serve"]
