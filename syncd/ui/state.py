"""The console's per-app state: data context, security guard, login limiter, approve path."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from starlette.requests import Request

from syncd.ui.queries import Context
from syncd.ui.security import Guard, LoginLimiter


class ApproveOutcome(Protocol):
    """What `approve(run_id)` returns; `syncd.engine.syncer.RunResult` fits."""

    @property
    def status(self) -> object:
        """The run's status after the release (`success`, `partial`, `failed`, ...)."""

    @property
    def error(self) -> str | None:
        """Why it failed, if it did."""

    @property
    def exit_code(self) -> int:
        """The command-line exit code of the same release."""


Approve = Callable[[int], ApproveOutcome]
#: Rejects the held plan of a run by id (`Syncer.reject` with the console's user label).
Reject = Callable[[int], object]


@dataclass(frozen=True)
class UiState:
    """Everything a route needs, stored on `app.state.ui` by `create_app`."""

    ctx: Context
    guard: Guard
    approve: Approve | None
    limiter: LoginLimiter
    #: Why actions that need a connector (Approve) are off; None when they are on.
    read_only: str | None = None
    #: The Reject path; None where the console cannot write (read-only, or tests).
    reject: Reject | None = None


def ui_state(request: Request) -> UiState:
    """The state of the app serving `request` (a FastAPI dependency)."""
    state: UiState = request.app.state.ui
    return state
