"""REPORT_EVERY: when the report goes to Slack ("weekly mon 09:00", "daily 09:00" or a crontab such as "0 9 * * 1-5", in
the on-call file's time zone) and which period each report covers (the time since the report before, that ended at
its time: the week, or the day). The times come from APScheduler's CronTrigger (bot.calendar.cron), so a report at a local
time the clocks skip or pass twice is still made once."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta, tzinfo
from functools import lru_cache
from typing import TYPE_CHECKING

from bot.calendar import cron

if TYPE_CHECKING:
    from apscheduler.triggers.cron import CronTrigger

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
HINT = "weekly DAY HH:MM (e.g. weekly mon 09:00), daily HH:MM, a crontab such as 0 9 * * mon, or off"
_FORM = re.compile(r"^\s*(weekly\s+(mon|tue|wed|thu|fri|sat|sun)[a-z]*|daily)\s+([01]?\d|2[0-3]):([0-5]\d)\s*$", re.IGNORECASE)
_TICK = timedelta(microseconds=1)


@dataclass(frozen=True)
class Cadence:
    weekday: int | None  # 0 = Monday; None: every day
    at: time | None  # None with a crontab
    crontab: str | None = None  # minute hour day month weekday, as cron reads them (0 or 7 is Sunday)

    @classmethod
    def parse(cls, value: object) -> Cadence | None:
        """`weekly mon 09:00`, `daily 9:00`, a crontab; None for off or empty. ValueError names the forms."""
        if value is None or isinstance(value, Cadence):
            return value
        text = str(value).strip()
        if text.lower() in ("", "off", "none", "never"):
            return None
        match = _FORM.match(text)
        if match:
            weekday = DAYS.index(match.group(2).lower()) if match.group(2) else None
            return cls(weekday, time(int(match.group(3)), int(match.group(4))))
        if len(text.split()) != 5:
            raise ValueError(HINT)
        try:
            cron.crontab(text, UTC)
        except ValueError as exc:
            raise ValueError(f"{HINT} (the crontab: {exc})") from None
        return cls(None, None, " ".join(text.split()))

    def last_due(self, now: datetime, tz: tzinfo) -> datetime:
        """The newest report time at or before `now` (aware UTC): a report missed while replywatch was down is
        this one, never one per missed period."""
        due = cron.last_at_or_before(_trigger(self, tz), now)
        assert due is not None, "parse accepts only a crontab whose times come"
        return due

    def period(self, due: datetime, tz: tzinfo) -> tuple[datetime, datetime]:
        """What the report due at `due` covers: from the report time before it (a week or a day back, in local
        calendar terms) to `due`."""
        start = cron.last_at_or_before(_trigger(self, tz), due - _TICK)
        assert start is not None, "parse accepts only a crontab whose times come"
        return start, due

    def __str__(self) -> str:
        if self.crontab is not None:
            return self.crontab
        return ("daily" if self.weekday is None else f"weekly {DAYS[self.weekday]}") + f" {self.at:%H:%M}"


@lru_cache(maxsize=32)
def _trigger(cadence: Cadence, tz: tzinfo) -> CronTrigger:
    if cadence.crontab is not None:
        return cron.crontab(cadence.crontab, tz)
    assert cadence.at is not None
    return cron.at(tz, cadence.at, cadence.weekday)
