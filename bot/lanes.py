"""Lanes: every call to the outside runs in a lane of its own, with a total deadline, so that one slow or broken
part stalls only itself.

A lane runs one call at a time on a thread of its own (each account's reads, each account's look-ups, each Slack
channel, the chart uploads). The caller either waits for the answer up to the lane's deadline (`call`), or hands
the call over and comes back for the answer later (`submit`). A per-read socket timeout is not a deadline: a server
that drips its answer a byte at a time never lets one expire. The deadline here counts from the start of the call,
whatever the server does.

A call that overruns its deadline is abandoned, not interrupted (Python cannot interrupt a thread blocked in a
socket): it keeps the lane busy until it returns, and meanwhile every new call into that lane fails at once with
`Unavailable`, saying since when the lane has been stuck. Nothing else waits on it. Each lane keeps its state
(stuck since, failures in a row, the last error) so that health can name it: `problem()` (bot.services.health
stores it, and logs when it starts and ends).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypeVar

from bot.errors import ServiceError, Unavailable

T = TypeVar("T")
PARKED_AFTER = 3  # failures in a row that make a lane's trouble worth naming in health


class Lane:
    """One call at a time, on its own thread, each with a total deadline (seconds)."""

    def __init__(
        self, name: str, service: str, deadline: float, monotonic: Callable[[], float] = time.monotonic, *, failures_told: bool = True
    ) -> None:
        self.name = name
        self.failures_told = failures_told  # False: its calls' failures are reported elsewhere (a channel, a timeline)
        self.service = service  # what its errors say they came from ("X", "Slack" …)
        self.deadline = deadline
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._running: Future | None = None
        self._started_at: datetime | None = None  # when the call under way started (wall time, for people)
        self._started_mono = 0.0
        self.failures = 0  # calls in a row that failed or overran
        self.last_error: str | None = None

    def submit(self, fn: Callable[..., T], *args: object) -> Future[T]:
        """Start `fn(*args)` on the lane's thread and return its future at once. Raises Unavailable while an earlier
        call still runs (past its deadline, it is stuck)."""
        with self._lock:
            if self._running is not None and not self._running.done():
                raise Unavailable(self.service, f"{self.name} {self._busy()}")
            future: Future[T] = Future()
            self._running, self._started_at, self._started_mono = future, datetime.now(UTC), self._monotonic()

        def run() -> None:  # the lane's state first, so that whoever has the answer sees the lane as it now is
            try:
                result = fn(*args)
            except BaseException as exc:  # noqa: BLE001 — handed to whoever asks the future
                self._settled(exc)
                future.set_exception(exc)
            else:
                self._settled(None)
                future.set_result(result)

        threading.Thread(target=run, name=f"replywatch-lane {self.name}", daemon=True).start()
        return future

    def call(self, fn: Callable[..., T], *args: object, wait: float | None = None) -> T:
        """`fn(*args)`, waited for up to `wait` seconds (the deadline if not given); past it, Unavailable: the call
        goes on in the lane, abandoned, and the lane takes nothing else until it ends."""
        future = self.submit(fn, *args)
        waited = self.deadline if wait is None else min(wait, self.deadline)
        try:
            return future.result(timeout=waited)
        except FutureTimeout:
            raise Unavailable(self.service, f"no complete answer within {waited:g}s ({self.name})") from None

    def overdue(self, future: Future) -> bool:
        """Whether `future`, this lane's call under way, has run past its deadline."""
        return not future.done() and future is self._running and self._monotonic() - self._started_mono > self.deadline

    def problem(self) -> str | None:
        """Why this lane is not working, in one line: stuck past its deadline, or (if its failures are told here)
        failed PARKED_AFTER times in a row. None while it works."""
        with self._lock:
            running = self._running is not None and not self._running.done()
            if running and self._monotonic() - self._started_mono > self.deadline:
                return self._busy()
        if self.failures_told and self.failures >= PARKED_AFTER:
            return f"{self.failures} failures in a row, the last: {self.last_error}"
        return None

    def _busy(self) -> str:
        started = f"{self._started_at:%H:%M:%S} UTC" if self._started_at else "?"
        return f"still waits for a call started at {started} (deadline {self.deadline:g}s)"

    def _settled(self, exc: BaseException | None) -> None:
        if exc is None:
            self.failures, self.last_error = 0, None
        else:
            self.failures += 1
            self.last_error = exc.message if isinstance(exc, ServiceError) else f"{type(exc).__name__}"


@dataclass
class Lanes:
    """Every lane of the process, by name, made on first use; what health reads."""

    deadline: float
    monotonic: Callable[[], float] = time.monotonic
    _lanes: dict[str, Lane] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self, name: str, service: str, *, failures_told: bool = True) -> Lane:
        """The lane `name`, made on first use (see Lane)."""
        with self._lock:
            lane = self._lanes.get(name)
            if lane is None:
                lane = self._lanes[name] = Lane(name, service, self.deadline, self.monotonic, failures_told=failures_told)
            return lane

    def problems(self) -> dict[str, str]:
        """Each lane that does not work now, with why."""
        with self._lock:
            lanes = list(self._lanes.values())
        return {lane.name: why for lane in lanes if (why := lane.problem()) is not None}
