"""APScheduler 3.x wiring: the two jobs of the daemon on one `BackgroundScheduler`.

The incremental sync runs every `schedule.incremental_every` (trigger `schedule`, first run at
start-up) and the reconcile on `schedule.reconcile_cron` (trigger `reconcile`, in the host's
local time zone, UTC in a container). Both call one function with their trigger; runs never
overlap (`max_instances=1`), a missed run is coalesced into one, and a run later than
`schedule.misfire_grace` is skipped.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from syncd.config import ScheduleSettings

SCHEDULE = "schedule"
RECONCILE = "reconcile"


def make_scheduler(schedule: ScheduleSettings) -> BackgroundScheduler:
    """A scheduler with syncd's job defaults; jobs are added by `add_jobs`."""
    return BackgroundScheduler(
        executors={"default": ThreadPoolExecutor(2)},
        job_defaults={
            "coalesce": True,
            "max_instances": 1,
            "misfire_grace_time": max(1, int(schedule.misfire_grace.total_seconds())),
        },
    )


def add_jobs(
    scheduler: BackgroundScheduler, schedule: ScheduleSettings, run: Callable[[str], None]
) -> None:
    """Add the incremental and the reconcile job, each calling `run(trigger)`."""
    scheduler.add_job(
        run,
        IntervalTrigger(seconds=schedule.incremental_every.total_seconds()),
        args=[SCHEDULE],
        id=SCHEDULE,
        name="incremental sync",
        replace_existing=True,
        next_run_time=datetime.now(UTC),  # first incremental run right away
    )
    scheduler.add_job(
        run,
        CronTrigger.from_crontab(schedule.reconcile_cron),
        args=[RECONCILE],
        id=RECONCILE,
        name="reconcile",
        replace_existing=True,
    )
