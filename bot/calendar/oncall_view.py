"""What `replywatch oncall` prints: who is on call and backup now, the handoffs of the next 14 days, and when the
business hours change next."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.calendar import schedule as sched
from bot.status import local


def write(schedule: sched.Schedule, now: datetime) -> None:
    """The rotation and the hours as of `now`, in the file's time zone."""
    tz = schedule.tz
    print(f"at {local(now, tz)} ({schedule.source})")
    for label, rotation in (("on call", schedule.oncall), ("backup", schedule.backup)):
        if rotation is None:
            continue
        holder = sched.on_call(rotation, tz, now)
        override = any(o.start <= now < o.end for o in rotation.overrides)
        until = sched.next_handoff(rotation, tz, now)
        ahead = f"until {local(until, tz)}" if until else "with no handoff ahead"
        print(f"{label + ':':<9} {holder} {ahead}" + (" (override)" if override else ""))
    for label, rotation in (("on call", schedule.oncall), ("backup", schedule.backup)):
        if rotation is None:
            continue
        upcoming = sched.handoffs(rotation, tz, now, now + timedelta(days=14))
        print(f"{label} handoffs in the next 14 days:" + ("" if upcoming else " none"))
        for moment, holder in upcoming:
            print(f"  {local(moment, tz)}  {holder}")
    if schedule.hours is not None:
        is_open, change = sched.next_change(schedule.hours, tz, now)
        print(f"hours: open now, close {local(change, tz)}" if is_open else f"hours: closed now, open {local(change, tz)}")
    else:
        print("hours: none set, always open")
