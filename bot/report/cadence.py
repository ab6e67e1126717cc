"""REPORT_EVERY: when the report goes to Slack ("weekly mon 09:00", "daily 09:00", in the on-call file's time zone)
and which period each report covers (the week, or the day, that ended at its time)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
HINT = "weekly DAY HH:MM (e.g. weekly mon 09:00), daily HH:MM, or off"
_FORM = re.compile(r"^\s*(weekly\s+(mon|tue|wed|thu|fri|sat|sun)[a-z]*|daily)\s+([01]?\d|2[0-3]):([0-5]\d)\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Cadence:
    weekday: int | None  # 0 = Monday; None: every day
    at: time

    @classmethod
    def parse(cls, value: object) -> Cadence | None:
        """`weekly mon 09:00`, `daily 9:00`; None for off or empty. ValueError names the form."""
        if value is None or isinstance(value, Cadence):
            return value
        text = str(value).strip()
        if text.lower() in ("", "off", "none", "never"):
            return None
        match = _FORM.match(text)
        if not match:
            raise ValueError(HINT)
        weekday = DAYS.index(match.group(2).lower()) if match.group(2) else None
        return cls(weekday, time(int(match.group(3)), int(match.group(4))))

    @property
    def length(self) -> timedelta:
        return timedelta(days=1 if self.weekday is None else 7)

    def last_due(self, now: datetime, tz: ZoneInfo) -> datetime:
        """The newest report time at or before `now` (aware UTC): a report missed while replywatch was down is
        this one, never one per missed period."""
        local = now.astimezone(tz)
        day = local.date()
        for back in range(8):
            candidate = day - timedelta(days=back)
            if self.weekday is not None and candidate.weekday() != self.weekday:
                continue
            moment = datetime.combine(candidate, self.at, tzinfo=tz)
            if moment <= local:
                return moment.astimezone(UTC)
        raise AssertionError("a report time lies within 8 days")  # pragma: no cover

    def period(self, due: datetime, tz: ZoneInfo) -> tuple[datetime, datetime]:
        """What the report due at `due` covers: the week (or day) that ended then, in local calendar terms."""
        local = due.astimezone(tz)
        start = datetime.combine(local.date() - self.length, self.at, tzinfo=tz)
        return start.astimezone(UTC), due

    def __str__(self) -> str:
        return ("daily" if self.weekday is None else f"weekly {DAYS[self.weekday]}") + f" {self.at:%H:%M}"
