"""On-call rotations and business hours: pure functions of the configuration file and a moment, no I/O.

The file (`REPLYWATCH_CONFIG`, TOML) gives a time zone; every time in it is wall-clock time there, so a handoff
at "mon 09:00" stays at 09:00 across daylight-saving changes. A local time the clocks skip is read with the offset
from before the change (02:30 is 03:30 summer time), and one they pass twice happens the first time: bot.calendar.cron's rule
for the report's CronTrigger, which the tests hold the handoffs to. Shift starts are date arithmetic, not a trigger:
who holds a shift needs its number, counted either way from the first handoff, and "every 3d" is no crontab.
Functions take and return aware datetimes.

- **Who is on call** at a moment: the override covering it, if any; else the rotation's member whose shift it
  is. Shift k starts at the first handoff plus k periods (1 day, 7 days, or N days), at the handoff time.
- **A rotation from an iCal feed** (`ical_url` instead of members and a handoff): under the overrides, whom the
  feed's event covering the moment names (bot.calendar.ical says how an event names someone). It is read from the
  last good copy of the feed, which bot.calendar.feed fetches and swaps into the rotation's IcalFeed; until there is
  one, and where no event covers the moment, nobody is known to be on call: `on_call` says None, never a guess.
  The feed names e-mails; one whose Slack user ID has been looked up (IcalFeed.users) is answered with the ID.
- **A handoff** is a moment the holder changes. A shift start or an override edge that leaves the same person on
  call (a shift start hidden under an override, an override by whoever holds the shift anyway, every shift of a
  rotation of one) is not one: nobody is told "until" then, and nothing is announced there. For a feed, the
  candidates are its events' starts and ends (within bot.calendar.ical.HORIZON); one where nobody takes over (a gap
  in the rota) is a handoff to None. Each question reads the feed's copy once, so a copy swapped meanwhile cannot
  mix two copies in one answer.
- **Business hours**: a weekday left out is closed, holidays are closed. `add_open_time` counts a duration in
  open time only: 30 minutes from 23:00 is 09:30 on the next open day; `open_time` measures the open time between
  two moments (the report's reply times "in business hours").
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from itertools import count, groupby, takewhile
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from bot.calendar.ical import Rota

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
SEARCH_DAYS = 800  # how far ahead to look for the next open day (a year of holidays would still be found)
_TICK = timedelta(microseconds=1)  # a datetime's finest step: the holder a tick before a moment is the one it took over from


class ScheduleError(ValueError):
    """The configuration file is wrong; the message names the key and what it expects."""


@dataclass(frozen=True)
class Override:
    member: str
    start: datetime
    end: datetime


class IcalFeed:
    """A rotation's iCal feed: its address, the last good copy of it (None until one has been fetched or read from
    the cache), and the Slack user IDs of the e-mails it names, as far as they have been looked up (a holder not in
    `users` is answered by e-mail). bot.calendar.feed.Feed swaps each whole; a question about the rotation reads
    both once."""

    __slots__ = ("url", "copy", "users")

    def __init__(self, url: str, copy: Rota | None = None, users: Mapping[str, str] | None = None) -> None:
        self.url = url  # may hold a private token: never logged or shown (see bot.calendar.feed.describe)
        self.copy = copy
        self.users: Mapping[str, str] = users or {}

    def __repr__(self) -> str:
        return f"IcalFeed(copy={'yes' if self.copy is not None else 'none'})"  # no URL


@dataclass(frozen=True)
class Rotation:
    """Members taking turns at a cadence, or (`ical` set, and then no members) whoever an iCal feed names."""

    members: tuple[str, ...]  # Slack user IDs (e-mails until resolved); empty for a feed
    every_days: int  # the cadence: unused for a feed
    at: time
    first: date  # the date of the first handoff
    usergroup: str | None = None
    overrides: tuple[Override, ...] = ()
    ical: IcalFeed | None = None


@dataclass(frozen=True)
class Hours:
    days: dict[int, tuple[time, time]]  # weekday (0 = Monday) → (open, close)
    holidays: frozenset[date] = frozenset()


@dataclass(frozen=True)
class Schedule:
    tz: ZoneInfo
    oncall: Rotation | None = None
    backup: Rotation | None = None
    hours: Hours | None = None
    source: str = ""

    def emails(self) -> list[tuple[str, str]]:
        """(key, e-mail) for every member given as an e-mail, to resolve to a Slack user ID."""
        found = []
        for name, rotation in (("oncall", self.oncall), ("backup", self.backup)):
            if rotation is None:
                continue
            found += [(f"{name}.members number {i + 1}", m) for i, m in enumerate(rotation.members) if "@" in m]
            found += [(f"{name}.overrides number {i + 1}: member", o.member)
                      for i, o in enumerate(rotation.overrides) if "@" in o.member]
        return found

    def feeds(self) -> list[tuple[str, IcalFeed]]:
        """(key, feed) for each rotation the file gives as an iCal feed: "oncall", "backup"."""
        pairs = (("oncall", self.oncall), ("backup", self.backup))
        return [(name, rotation.ical) for name, rotation in pairs if rotation is not None and rotation.ical is not None]

    def resolved(self, users: dict[str, str]) -> Schedule:
        """The same schedule with e-mails replaced by the Slack user IDs in `users`."""
        def fix(rotation: Rotation | None) -> Rotation | None:
            if rotation is None:
                return None
            return replace(
                rotation,
                members=tuple(users.get(m, m) for m in rotation.members),
                overrides=tuple(replace(o, member=users.get(o.member, o.member)) for o in rotation.overrides),
            )
        return replace(self, oncall=fix(self.oncall), backup=fix(self.backup))


# --- who is on call ----------------------------------------------------------------------------------


def shift_start(rotation: Rotation, tz: ZoneInfo, k: int) -> datetime:
    """When shift k begins (k = 0 is the first handoff; negative k are before it)."""
    return datetime.combine(rotation.first + timedelta(days=k * rotation.every_days), rotation.at, tzinfo=tz)


def shift_index(rotation: Rotation, tz: ZoneInfo, moment: datetime) -> int:
    """The shift that holds at `moment`: the last to start at or before it. Compared as instants, not by wall clock,
    which would misplace a handoff at a local time the clocks skip or pass twice."""
    k = (moment.astimezone(tz).date() - rotation.first).days // rotation.every_days
    return k if _utc(shift_start(rotation, tz, k)) <= _utc(moment) else k - 1


def on_call(rotation: Rotation, tz: ZoneInfo, moment: datetime) -> str | None:
    """Who holds the rotation at `moment`: an override covering it, else whose shift it is (for a feed, whom its
    event then names; None when nobody is known: no copy of the feed yet, or no event covering `moment`)."""
    return _holder(rotation, tz, _copy(rotation), moment)


def handoffs(rotation: Rotation, tz: ZoneInfo, after: datetime, until: datetime) -> list[tuple[datetime, str | None]]:
    """Every handoff in (after, until], with who takes over (None: nobody, a gap in a feed's rota)."""
    copy = _copy(rotation)
    edges = takewhile(lambda m: _utc(m) <= _utc(until), _edges(rotation, tz, copy, after, forward=True))
    return list(_changes(rotation, tz, copy, edges))


def last_handoff(rotation: Rotation, tz: ZoneInfo, moment: datetime) -> datetime | None:
    """When the holder at `moment` took over; None if they always have (a rotation of one, before any override; for
    a feed, not within its HORIZON)."""
    copy = _copy(rotation)
    return next((m for m, _ in _changes(rotation, tz, copy, _edges(rotation, tz, copy, moment, forward=False))), None)


def next_handoff(rotation: Rotation, tz: ZoneInfo, moment: datetime) -> datetime | None:
    """When the holder at `moment` hands over to someone else; None if nobody else ever takes over (for a feed: not
    within its HORIZON)."""
    copy = _copy(rotation)
    return next((m for m, _ in _changes(rotation, tz, copy, _edges(rotation, tz, copy, moment, forward=True))), None)


_Copy = tuple["Rota | None", Mapping[str, str]]  # a feed's copy and its users, as read once for one question


def _copy(rotation: Rotation) -> _Copy:
    """The feed's copy and its users as of now, read once per question."""
    return (rotation.ical.copy, rotation.ical.users) if rotation.ical is not None else (None, {})


def _holder(rotation: Rotation, tz: ZoneInfo, copy: _Copy, moment: datetime) -> str | None:
    for override in rotation.overrides:
        if override.start <= moment < override.end:
            return override.member
    if rotation.ical is not None:
        rota, users = copy
        named = rota.holder(moment) if rota is not None else None
        return users.get(named, named) if named is not None else None
    return rotation.members[shift_index(rotation, tz, moment) % len(rotation.members)]


def _edges(rotation: Rotation, tz: ZoneInfo, copy: _Copy, moment: datetime, forward: bool) -> Iterator[datetime]:
    """The moments someone else may take over, each once, nearest first: after `moment` going forward, at or before
    it going back. Override edges, and the shift starts at which the rotation itself passes to another member (for a
    feed: its events' starts and ends).

    A search for a change always ends: beyond the overrides the first of these shift starts is a change, and when
    every member is the same person there are none, only the override edges. A feed's edges end at its HORIZON."""
    if rotation.ical is not None:
        shifts = copy[0].edges(moment, forward) if copy[0] is not None else iter(())
    else:
        members, k = rotation.members, shift_index(rotation, tz, moment)
        turns = {i for i in range(len(members)) if members[i] != members[i - 1]}  # i - 1 = -1: the last member hands to the first
        ks = count(k + 1) if forward else count(k, -1)
        shifts = (shift_start(rotation, tz, i) for i in ks if i % len(members) in turns) if turns else iter(())
    edges = [m for o in rotation.overrides for m in (o.start, o.end) if (_utc(m) > _utc(moment)) == forward]
    merged = heapq.merge(shifts, sorted(edges, key=_utc, reverse=not forward), key=_utc, reverse=not forward)
    return (next(same) for _, same in groupby(merged, key=_utc))  # a shift may start just as an override starts or ends


def _changes(rotation: Rotation, tz: ZoneInfo, copy: _Copy, edges: Iterator[datetime]) -> Iterator[tuple[datetime, str | None]]:
    """The edges at which someone else takes over, with who."""
    for moment in edges:
        holder = _holder(rotation, tz, copy, moment)
        if holder != _holder(rotation, tz, copy, _utc(moment) - _TICK):
            yield moment, holder


def _utc(moment: datetime) -> datetime:
    # Aware datetimes sharing a tzinfo compare by wall clock, which is ambiguous in the hour that repeats in autumn.
    return moment.astimezone(UTC)


# --- business hours ----------------------------------------------------------------------------------


def open_periods(hours: Hours, tz: ZoneInfo, moment: datetime) -> Iterator[tuple[datetime, datetime]]:
    """The open periods from the day of `moment` on, in order."""
    day = moment.astimezone(tz).date()
    for offset in range(SEARCH_DAYS):
        current = day + timedelta(days=offset)
        span = hours.days.get(current.weekday())
        if span is None or current in hours.holidays:
            continue
        yield datetime.combine(current, span[0], tzinfo=tz), datetime.combine(current, span[1], tzinfo=tz)


def is_open(hours: Hours, tz: ZoneInfo, moment: datetime) -> bool:
    for start, end in open_periods(hours, tz, moment):
        return start <= moment < end  # the first period is today's or later: open hours never cross midnight
    return False


def add_open_time(hours: Hours, tz: ZoneInfo, start: datetime, duration: timedelta) -> datetime:
    """`duration` of open time after `start`: when a mention posted at `start` is due."""
    left = duration
    for opens, closes in open_periods(hours, tz, start):
        begin = max(opens, start, key=_utc)
        room = _utc(closes) - _utc(begin)  # elapsed: a span across a daylight-saving change holds an hour more or less
        if room <= timedelta(0):
            continue
        if left < room:  # a mention due exactly at closing time is due at the next opening
            return (_utc(begin) + left).astimezone(begin.tzinfo)
        left -= room
    raise ScheduleError("hours: no open time found in the next two years")


def open_time(hours: Hours, tz: ZoneInfo, start: datetime, end: datetime) -> timedelta:
    """How much open time lies between `start` and `end` (none when `end` is not after `start`): a wait counted as
    the business hours count it."""
    total = timedelta(0)
    start, end = _utc(start), _utc(end)
    if end <= start:
        return total
    for opens, closes in open_periods(hours, tz, start):
        opens, closes = _utc(opens), _utc(closes)  # a day's span in UTC: right across a daylight-saving change
        if opens >= end:
            break
        total += max(timedelta(0), min(closes, end) - max(opens, start))
    return total


def due_at(posted: datetime, wait: timedelta, hours: Hours | None, tz: ZoneInfo) -> datetime:
    """When a mention posted at `posted` is due: `wait` later, counted in open time when there are hours."""
    return add_open_time(hours, tz, posted, wait) if hours is not None else posted + wait


def next_change(hours: Hours, tz: ZoneInfo, moment: datetime) -> tuple[bool, datetime]:
    """(open now?, when that changes): the closing time if open, else the next opening."""
    for opens, closes in open_periods(hours, tz, moment):
        if moment < opens:
            return False, opens
        if moment < closes:
            return True, closes
    raise ScheduleError("hours: no open time found in the next two years")


# --- the file ----------------------------------------------------------------------------------------
