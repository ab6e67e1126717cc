"""What `replywatch oncall` prints: who is on call and backup now, the handoffs of the next 14 days, and when the
business hours change next. A rotation from an iCal feed is shown as its last good copy says, with the problems of
its feed (bot.calendar.feed) first; with no copy, nobody is known to be on call, and it says so."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from bot.calendar import schedule as sched
from bot.status import local


def write(schedule: sched.Schedule, now: datetime, problems: Sequence[str] = ()) -> None:
    """The rotation and the hours as of `now`, in the file's time zone; `problems`: the feeds' lines, if any."""
    tz = schedule.tz
    print(f"at {local(now, tz)} ({schedule.source})")
    for problem in problems:
        print(f"feed: {problem}")
    for label, rotation in (("on call", schedule.oncall), ("backup", schedule.backup)):
        if rotation is None:
            continue
        holder = sched.on_call(rotation, tz, now)
        override = any(o.start <= now < o.end for o in rotation.overrides)
        until = sched.next_handoff(rotation, tz, now)
        ahead = f"until {local(until, tz)}" if until else "with no handoff ahead"
        note = " (override)" if override else " (iCal feed)" if rotation.ical is not None else ""
        print(f"{label + ':':<9} {holder or nobody(rotation)} {ahead}{note}")
    for label, rotation in (("on call", schedule.oncall), ("backup", schedule.backup)):
        if rotation is None:
            continue
        upcoming = sched.handoffs(rotation, tz, now, now + timedelta(days=14))
        print(f"{label} handoffs in the next 14 days:" + ("" if upcoming else " none"))
        for moment, holder in upcoming:
            print(f"  {local(moment, tz)}  {holder or nobody(rotation)}")
    if schedule.hours is not None:
        is_open, change = sched.next_change(schedule.hours, tz, now)
        print(f"hours: open now, close {local(change, tz)}" if is_open else f"hours: closed now, open {local(change, tz)}")
    else:
        print("hours: none set, always open")


def nobody(rotation: sched.Rotation) -> str:
    """How a moment nobody holds is shown: no copy of the feed yet, or a gap in it."""
    if rotation.ical is not None and rotation.ical.copy is None:
        return "nobody known (its iCal feed has not been fetched)"
    return "nobody (no event of its iCal feed covers it)"
