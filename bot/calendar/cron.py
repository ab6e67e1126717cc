"""Calendar times from APScheduler's CronTrigger (3.x), asked from our own tick loop: no APScheduler scheduler,
executor or job store runs here. The triggers know the calendar (weekdays, month lengths, leap years, the time zone's
rules); this module adds the one rule they leave open, so that every calendar time happens exactly once:

- A local time the clocks skip (02:30 on the night they go forward) happens once, read with the offset from before
  the change: 02:30 CET is 03:30 CEST. That is CronTrigger's reading, and zoneinfo's for such a time.
- A local time the clocks pass twice (02:30 on the night they go back in Berlin, 01:30 in New York) happens once,
  the first time. CronTrigger would fire again the second time; `fires` drops that one.

Every answer is an aware UTC datetime.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta, tzinfo
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported where a trigger is made: `status` and `health` read settings without it
    from apscheduler.triggers.cron import CronTrigger

MAX_STEP = timedelta(hours=3)  # more than any daylight-saving step: a search starting inside a skipped hour would miss its time
HORIZON = timedelta(days=9 * 366)  # the longest wait for a crontab's next time: 29 February, up to 8 years apart
_SINCE = datetime(2001, 1, 1, tzinfo=UTC)  # any moment: a crontab with no time after it has none at all
_CRON_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")  # cron's numbering: 0 (and 7) is Sunday
_ITEM = re.compile(r"(\*|[a-z0-9]+)(?:-([a-z0-9]+))?(?:/([1-9]\d*))?")


def at(tz: tzinfo, clock: time, weekday: int | None = None) -> CronTrigger:
    """Every day (or every `weekday`, 0 = Monday) at `clock`, local to `tz`."""
    from apscheduler.triggers.cron import CronTrigger

    return CronTrigger(day_of_week="*" if weekday is None else weekday, hour=clock.hour, minute=clock.minute, timezone=tz)


def crontab(text: str, tz: tzinfo) -> CronTrigger:
    """A five-field crontab (minute hour day month weekday) as cron reads it, local to `tz`. ValueError says what is
    wrong: a field, a day of the month together with a day of the week (crons differ on that), or no time at all."""
    fields = text.lower().split()
    if len(fields) != 5:
        raise ValueError(f"five fields, not {len(fields)}")
    minute, hour, day, month, weekday = fields
    if day != "*" and weekday != "*":
        raise ValueError("a day of the month or a day of the week, not both (crons differ on what that means)")
    from apscheduler.triggers.cron import CronTrigger

    trigger = CronTrigger(minute=minute, hour=hour, day=day, month=month, day_of_week=_weekdays(weekday), timezone=tz)
    if trigger.get_next_fire_time(None, _SINCE) is None:
        raise ValueError("a time that comes; this one never does")
    return trigger


def _weekdays(field: str) -> str:
    """Cron's weekday field in APScheduler's words: APScheduler 3 counts 0 as Monday, cron as Sunday, so numbers,
    ranges and steps are worked out here into the days they mean."""
    days: set[int] = set()
    for item in field.split(","):
        match = _ITEM.fullmatch(item)
        if not match:
            raise ValueError(f"a weekday field such as mon-fri or 1-5, not {field!r}")
        first, last, step = match.groups()
        low = 0 if first == "*" else _day(first)
        high = _day(last) if last else 6 if first == "*" or step else low  # `1/2`: from Monday on, every other day
        if high < low:
            raise ValueError(f"a weekday range from the earlier day to the later, not {item!r}")
        days.update(d % 7 for d in range(low, high + 1, int(step or 1)))
    return ",".join(_CRON_DAYS[d] for d in sorted(days))


def _day(word: str) -> int:
    if word.isdigit() and int(word) <= 7:
        return int(word)
    if word in _CRON_DAYS:
        return _CRON_DAYS.index(word)
    raise ValueError(f"a weekday (0-7 or sun-sat), not {word!r}")


def fires(trigger: CronTrigger, start: datetime) -> Iterator[datetime]:
    """The trigger's times at or after `start`, in order, each local time once."""
    previous, moment = None, start - MAX_STEP
    while (fire := trigger.get_next_fire_time(previous, moment)) is not None:
        previous = moment = fire
        if fire >= start and not _second_pass(fire):
            yield fire.astimezone(UTC)


def last_at_or_before(trigger: CronTrigger, moment: datetime) -> datetime | None:
    """The trigger's newest time at or before `moment`: searched back over a span that doubles (CronTrigger only
    looks forward), so an every-minute crontab costs as little as a yearly one."""
    span = timedelta(hours=1)
    while span <= 2 * HORIZON:
        found = None
        for fire in fires(trigger, moment - span):
            if fire > moment:
                break
            found = fire
        if found is not None:
            return found
        span *= 2
    return None


def _second_pass(moment: datetime) -> bool:
    """Whether `moment` is a local time's second occurrence, as the clocks go back."""
    return moment.fold == 1 and moment.replace(fold=0).utcoffset() != moment.utcoffset()
