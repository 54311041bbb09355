"""HubSpot's account-info endpoint: the private app's daily API usage."""

from __future__ import annotations

from syncd.sandbox.core.clock import iso_ms
from syncd.sandbox.core.limits import DailyCounter
from syncd.sandbox.core.routing import Request, Response
from syncd.sandbox.hubspot.state import HubSpotState

DAY_MS = 86_400_000


def daily_usage(state: HubSpotState, req: Request, daily: DailyCounter) -> Response:
    """`GET /account-info/v3/api-usage/daily/private-apps`: calls used of the daily budget."""
    now = state.clock.now_ms()
    return Response(
        200,
        {
            "results": [
                {
                    "name": "api-calls-daily",
                    "usageLimit": daily.limit,
                    "currentUsage": daily.used,
                    "collectedAt": iso_ms(now),
                    "fetchStatus": "SUCCESS",
                    "resetsAt": iso_ms((now // DAY_MS + 1) * DAY_MS),
                }
            ]
        },
    )
