"""Runs the jobs: each on its own thread, one run at a time, every `interval` by the monotonic clock.

Not APScheduler: its main loop compares job times with `datetime.now()`, so a wall clock stepped back N seconds
(NTP after a VM resumes) stops every job for N seconds. Here the times are `time.monotonic()` and waits are
`Event.wait`, which never step. Runs keep their cadence (tick k at start + k·interval, not "interval after the
last run ended"); a run that overruns its interval skips the ticks it missed and says so in one line. A job can
be woken early (`wake`): the sweep runs as soon as a poll has stored something, instead of up to half a second
later. A job given an idle interval that returns IDLE (it found nothing to do) runs next after that longer wait,
unless woken, and is back on its short cadence from the first run that finds work. Stopping waits for the runs
under way only up to a deadline: a run stuck in a call is abandoned, so a stop takes seconds whatever X and Slack
do.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from bot.logs import one_line

log = logging.getLogger(__name__)


IDLE = "idle"  # what a job returns when it found nothing to do


def guarded(name: str, job: Callable[[], object]) -> Callable[[], object]:
    """Run `job` and return what it returns; an unexpected error is logged in one line and the schedule goes on."""

    def run() -> object:
        try:
            return job()
        except Exception as exc:  # noqa: BLE001 — the loop must survive anything
            log.error("%s failed unexpectedly: %s: %s", name, type(exc).__name__, one_line(str(exc)))
            log.debug("%s traceback", name, exc_info=True)
            return None

    return run


@dataclass
class _Job:
    name: str
    run: Callable[[], object]
    interval: float
    idle: float | None = None  # seconds to the next run after one that returned IDLE
    woken: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None


Jobs = list[tuple[str, Callable[[], object], timedelta]]


class Scheduler:
    def __init__(
        self,
        jobs: Jobs,
        then: dict[str, str] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        idle: dict[str, timedelta] | None = None,
    ) -> None:
        """`then`: after each run of the first job, wake the second (e.g. {"poll": "sweep"}). `idle`: a job's wait
        after a run that found nothing to do."""
        idle = idle or {}
        self._jobs = {
            name: _Job(name, guarded(name, job), interval.total_seconds(), idle[name].total_seconds() if name in idle else None)
            for name, job, interval in jobs
        }
        self._then = then or {}
        self._monotonic = monotonic
        self._stop = threading.Event()

    def start(self) -> None:
        for job in self._jobs.values():
            job.thread = threading.Thread(target=self._loop, args=(job,), name=f"replywatch-{job.name}", daemon=True)
            job.thread.start()

    def wake(self, name: str) -> None:
        """Run job `name` now rather than at its next tick (its cadence stays as it was)."""
        self._jobs[name].woken.set()

    def shutdown(self, wait: bool = True, timeout: float | None = None) -> list[str]:
        """Stop scheduling; with `wait`, let the runs under way finish, for at most `timeout` seconds in all.

        Returns the jobs still running then. They are abandoned, not interrupted: their threads are daemon threads,
        so a run blocked in a call does not keep the process alive, and what it had not committed is redone after
        a restart (rows it left `sending` are checked before anything is posted again).
        """
        self._stop.set()
        for job in self._jobs.values():
            job.woken.set()
        deadline = None if timeout is None else time.monotonic() + timeout
        for job in self._jobs.values():
            if wait and job.thread is not None:
                job.thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        running = [job.name for job in self._jobs.values() if job.thread is not None and job.thread.is_alive()]
        if wait and running:
            log.warning("stopping without waiting any longer for %s: abandoned mid-run, redone after a restart", ", ".join(running))
        return running

    def _loop(self, job: _Job) -> None:
        due = self._monotonic()
        while not self._stop.is_set():
            job.woken.clear()
            started = self._monotonic()
            result = job.run()
            if job.name in self._then:
                self.wake(self._then[job.name])
            now = self._monotonic()
            on_tick = started >= due
            if on_tick:  # a run on its tick, not one woken early: on to the next tick
                due += job.interval
                if now > due:  # it overran: the ticks that passed meanwhile are skipped, not run back to back
                    missed = math.ceil((now - due) / job.interval)
                    log.warning(
                        "%s took %.1fs, longer than its %gs interval: %d run(s) skipped", job.name, now - started, job.interval, missed
                    )
                    due += missed * job.interval
            if result == IDLE and job.idle is not None:
                due = started + job.idle
            elif not on_tick:  # woken early (from a rest, say) and found work: back to the short cadence
                due = min(due, started + job.interval)
            job.woken.wait(max(0.0, due - now))


def build_scheduler(jobs: Jobs, then: dict[str, str] | None = None, idle: dict[str, timedelta] | None = None) -> Scheduler:
    return Scheduler(jobs, then, idle=idle)
