"""When to read a timeline next: pure functions of what the last read said and `now`.

- After a success: every `interval`, stretched when `x-rate-limit-remaining` could not last until
  `x-rate-limit-reset` at that pace (the requests left are spread evenly up to the reset).
- Rate limited (429): not before X's reset. A reset more than `FAR_RESET` away is most likely the monthly cap;
  it is reported (see `far_reset`), and the endpoint waits for it all the same.
- Unavailable (5xx, timeout, connection): exponential back-off from `interval`, capped at `MAX_BACKOFF`, with
  ±25 % jitter so several bots do not retry in step.
- Auth failures back off the same way: a revoked token is retried, slowly, until someone fixes it.

- Over the month's read budget: after a read of N posts, the next waits as long as the budget's pace (its posts
  spread evenly over the month) takes to allow N posts, never less than `interval` and never more than
  `BUDGET_MAX_WAIT`. Reading slows; it never stops, and no mention is dropped: a network bills each mention once
  however late it is read, so what the pace moves is when it is read (and paid for), not whether.

The times returned are wall times (stored, shown by `status`); the poll keeps the wait itself on the monotonic
clock (`wait_before_next`), so that a wall clock stepped back does not stall reading.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from bot.model import RateInfo

MAX_BACKOFF = timedelta(minutes=15)
FAR_RESET = timedelta(hours=1)
TICK_TOLERANCE = timedelta(seconds=1)  # at most; a tenth of the interval when that is less


def after_success(now: datetime, interval: timedelta, rate: RateInfo | None) -> datetime:
    if rate is None:
        return now + interval
    if rate.remaining <= 0:
        return max(rate.reset, now + interval)
    spread = (rate.reset - now) / rate.remaining
    return now + max(interval, spread)


def after_rate_limit(now: datetime, interval: timedelta, until: datetime | None) -> datetime:
    return max(until, now + interval) if until is not None else now + MAX_BACKOFF


def after_failure(now: datetime, interval: timedelta, failures: int, rand: Callable[[], float]) -> datetime:
    """`failures` counts this one too (1 after the first failure)."""
    delay = interval * (2 ** min(max(0, failures - 1), 20)) * (0.75 + rand() / 2)  # jitter: 0.75 .. 1.25
    return now + max(interval, min(MAX_BACKOFF, delay))


BUDGET_MAX_WAIT = timedelta(hours=24)  # well within X's recent search (7 days), which recovers a timeline's overflow


def month_of(now: datetime) -> tuple[datetime, datetime]:
    """The UTC calendar month `now` is in: its first moment and the next month's."""
    start = now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return start, (start + timedelta(days=32)).replace(day=1)


def budget_pace(budget: int, now: datetime) -> float:
    """Posts an hour that spend `budget` evenly over the month `now` is in."""
    start, end = month_of(now)
    return budget / ((end - start) / timedelta(hours=1))


def after_budget(now: datetime, interval: timedelta, read: int, spent: int, budget: int | None) -> datetime | None:
    """With the month's budget spent: when a read of `read` posts lets the next read start (None: within budget)."""
    if budget is None or spent < budget:
        return None
    return now + max(interval, min(BUDGET_MAX_WAIT, timedelta(hours=read / budget_pace(budget, now))))


def far_reset(now: datetime, until: datetime | None) -> bool:
    """A reset so far away that it is not the 15-minute window but a spent (monthly) cap."""
    return until is not None and until - now > FAR_RESET


def wait_before_next(now: datetime, next_at: datetime, interval: timedelta) -> timedelta:
    """How long from `now` the next read must wait. The plain interval is shortened by a little (a tenth of it, at
    most a second): the scheduler's next tick comes exactly one interval after this one, while `now` was read a
    few milliseconds after it, so `now + interval` would always lie just past the next tick and every other tick
    would be skipped. Longer waits (back-off, a rate limit, X's reset) are kept to the letter."""
    wait = next_at - now
    return wait - min(interval / 10, TICK_TOLERANCE) if wait <= interval else wait
