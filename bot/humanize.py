"""How times, durations and rates are said to people: `3h 5m`, `Fri 2026-11-27 09:00 CET`, `one post every 3h 12m`."""

from __future__ import annotations

from datetime import date, datetime, timedelta, tzinfo

# English whatever the process's locale (strftime's %a and %b follow it): every text replywatch writes is English.
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def format_age(delta: timedelta) -> str:
    """`45s`, `12m`, `3h 5m`, `2d 4h`."""
    seconds = max(0, int(delta.total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h" if hours else f"{days}d"
    if hours:
        return f"{hours}h {minutes}m" if minutes else f"{hours}h"
    if minutes:
        return f"{minutes}m"
    return f"{secs}s"


def local_time(moment: datetime, tz: tzinfo, *, weekday: bool = False) -> str:
    """`2026-11-27 09:00 CET` (with `weekday`, `Fri 2026-11-27 09:00 CET`)."""
    local = moment.astimezone(tz)
    return (f"{WEEKDAYS[local.weekday()]} " if weekday else "") + local.strftime("%Y-%m-%d %H:%M ") + (local.tzname() or "")


def day_and_month(day: date, *, year: bool = False) -> str:
    """`Mon 30 Nov` (with `year`, `Mon 30 Nov 2026`)."""
    return f"{WEEKDAYS[day.weekday()]} {day.day:02d} {MONTHS[day.month - 1]}" + (f" {day.year}" if year else "")


def period(start: datetime, end: datetime, tz: tzinfo) -> str:
    """`Mon 30 Nov to Sun 06 Dec 2026`: the days of [start, end), local to `tz`."""
    last = end - timedelta(microseconds=1)  # the period's last moment: its end is excluded
    return f"{day_and_month(start.astimezone(tz))} to {day_and_month(last.astimezone(tz), year=True)}"


def pace(posts_an_hour: float) -> str:
    """`12 posts an hour`, `1.4 posts an hour`, `one post every 3h 12m`: never `0.0 posts an hour`."""
    if posts_an_hour >= 10:
        return f"{posts_an_hour:,.0f} posts an hour"
    if posts_an_hour >= 1:
        return f"{posts_an_hour:.1f} posts an hour"
    if posts_an_hour <= 0:
        return "no posts at all"
    return f"one post every {format_age(timedelta(hours=1 / posts_an_hour))}"
