"""The demo's hour on one timeline: the script's events and the jobs `run` schedules take turns on one thread, on a
clock that moves only when both are done with the moment, so what is printed is in story order at any speed.

`replywatch run` runs each job on its own thread against the machine's clock (bot.scheduler). Played that way at
360 times the speed, the jobs fell behind the script: a narration line printed minutes of the story before the
panels of the step it describes, and alerts went out late enough to change what became of a mention. Here the
clock is a FakeClock that this loop advances from one moment to the next (the next event or the next job due);
at each moment the events happen first (a post exists before a poll can read it), then the jobs due, in the order
`App.jobs` gives them (the polls before the sweep). A poll wakes the sweep at once, a sweep that found nothing to
do rests for its idle interval, as under the scheduler. The pace is kept against the machine's clock: the hour
takes `seconds`, or longer on a machine too slow for it, never out of order."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.clock import FakeClock
from bot.scheduler import IDLE, Jobs, guarded


@dataclass
class _Job:
    name: str
    run: Callable[[], object]
    every: timedelta  # of the story
    idle: timedelta | None  # after a run that found nothing to do
    at: timedelta = timedelta(0)  # when it runs next, from the start (timedeltas: exact, as the clock is)


@dataclass(frozen=True)
class Event:
    at: timedelta  # from the start
    act: Callable[[], None]


class Player:
    """Plays `events` and `jobs` on `clock` from its present moment, `speed` times faster than the machine's clock;
    no job runs more often than once every `finest` of the story."""

    def __init__(
        self, clock: FakeClock, jobs: Jobs, speed: float, *, then: Mapping[str, str] | None = None,
        idle: Mapping[str, timedelta] | None = None, finest: timedelta = timedelta(seconds=1),
    ) -> None:
        idle = idle or {}
        self.clock = clock
        self.start = clock.now()
        self.speed = speed
        self.jobs = [
            _Job(name, guarded(name, job), max(finest, every), max(finest, idle[name]) if name in idle else None)
            for name, job, every in jobs
        ]
        self.then = dict(then or {})

    def play(self, events: list[Event], until: datetime, done: Callable[[], bool] = lambda: False) -> None:
        """Every event at its moment and every job on its cadence, until `until` or until `done()` after a moment."""
        waiting = sorted(events, key=lambda e: e.at)
        end = until - self.start
        origin = time.monotonic()
        by_name = {job.name: job for job in self.jobs}
        while True:
            now = self.clock.now() - self.start
            while waiting and waiting[0].at <= now:
                waiting.pop(0).act()
            for job in self.jobs:
                if job.at <= now:
                    self._run(job, now, by_name)
            if done() or now >= end:
                return
            after = min(job.at for job in self.jobs)
            if waiting:
                after = min(after, waiting[0].at)
            after = max(now, min(after, end))
            time.sleep(max(0.0, origin + after.total_seconds() / self.speed - time.monotonic()))  # the pace; never ahead
            self.clock.advance(after - now)

    def _run(self, job: _Job, now: timedelta, by_name: Mapping[str, _Job]) -> None:
        result = job.run()
        job.at = now + (job.idle if result == IDLE and job.idle is not None else job.every)
        woken = by_name.get(self.then.get(job.name, ""))
        if woken is not None:
            woken.at = now  # this moment: later in the order, or at once in the next turn of the loop
