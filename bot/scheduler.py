"""APScheduler wiring only: each job kind runs one at a time, on its own interval, in UTC, never sleeping
inside a job. A run that finds the previous one still going is skipped, and APScheduler warns about it."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler

from bot.logs import one_line

log = logging.getLogger(__name__)


def guarded(name: str, job: Callable[[], object]) -> Callable[[], None]:
    """Run `job`; an unexpected error is logged in one line and the schedule goes on."""

    def run() -> None:
        try:
            job()
        except Exception as exc:  # noqa: BLE001 — the loop must survive anything
            log.error("%s failed unexpectedly: %s: %s", name, type(exc).__name__, one_line(str(exc))[:500])
            log.debug("%s traceback", name, exc_info=True)

    return run


def build_scheduler(jobs: list[tuple[str, Callable[[], object], timedelta]]) -> BackgroundScheduler:
    scheduler = BackgroundScheduler(
        timezone=UTC,
        executors={"default": ThreadPoolExecutor(max_workers=max(1, len(jobs)))},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
    )
    now = datetime.now(UTC)
    for name, job, interval in jobs:
        scheduler.add_job(guarded(name, job), "interval", seconds=interval.total_seconds(), id=name, name=name, next_run_time=now)
    return scheduler
