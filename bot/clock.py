"""Time as an input: services ask a Clock once per tick; tests set a FakeClock instead of sleeping.

Two readings, for two purposes. `now()` is wall time, aware UTC: what X and people see (post times, due times,
"waiting 31m"). `monotonic()` is seconds that only ever go forward: every interval, pause and hold the program
keeps for itself, so that a step of the system clock (NTP after a VM resumes) neither stalls nor rushes it.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current moment, timezone-aware UTC."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never steps back (for intervals and pauses only)."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("FakeClock needs an aware datetime")
        self._now = start.astimezone(UTC)
        self._mono = 1000.0
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def monotonic(self) -> float:
        with self._lock:
            return self._mono

    def advance(self, delta: timedelta) -> datetime:
        """Time passes: both readings move."""
        with self._lock:
            self._now += delta
            self._mono += delta.total_seconds()
            return self._now

    def step(self, delta: timedelta) -> datetime:
        """The wall clock is set (as NTP does after a VM resumes): only `now()` jumps."""
        with self._lock:
            self._now += delta
            return self._now
