"""The on-call file's tables ([oncall], [backup], [hours]; `[[accounts]]` is bot.config.accounts'), read into a Schedule
and checked: a wrong entry is a ScheduleError naming its key and what it expects. A rotation gives either its members
and a handoff cadence or `ical_url`, the http(s) address of an iCal feed (fetched later, by bot.calendar.feed; an
address is never echoed in an error, as it often holds a private token)."""

from __future__ import annotations

import re
import tomllib
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.calendar.schedule import WEEKDAYS, Hours, IcalFeed, Override, Rotation, Schedule, ScheduleError
from bot.model import SLACK_GROUP_ID, SLACK_USER_ID

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_HANDOFF = re.compile(r"(?:(daily)|weekly\s+(mon|tue|wed|thu|fri|sat|sun)|every\s+(\d{1,3})d)\s+(\d{1,2}:\d{2})")
_SPAN = re.compile(r"(\d{1,2}:\d{2})\s*-\s*(\d{1,2}:\d{2})")


def load(path: str | Path) -> Schedule:
    """Read and check the file; ScheduleError with the key and what it expects."""
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ScheduleError(f"cannot read {path}: {exc.strerror or type(exc).__name__}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ScheduleError(f"not valid TOML: {exc}") from None
    return parse(data, str(path))


def parse(data: dict[str, Any], source: str = "", default_tz: str = "UTC") -> Schedule:
    """The file's tables; its times are local to its `timezone`, else to `default_tz` (TIMEZONE)."""
    _only(data, "", {"timezone", "oncall", "backup", "hours", "accounts"})  # accounts: bot.config.accounts reads them
    name = data.get("timezone", default_tz)
    try:
        tz = ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleError(f"timezone must be an IANA time zone name such as Europe/Berlin; got {str(name)[:40]!r}") from None
    return Schedule(
        tz=tz,
        oncall=_rotation(data["oncall"], "oncall", tz) if "oncall" in data else None,
        backup=_rotation(data["backup"], "backup", tz) if "backup" in data else None,
        hours=_hours(data["hours"], tz) if "hours" in data else None,
        source=source,
    )


def _only(table: object, prefix: str, allowed: set[str]) -> None:
    if not isinstance(table, dict):
        raise ScheduleError(f"{prefix.rstrip('.: ') or 'the file'} must be a table")
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise ScheduleError(f"{prefix}{unknown[0]} is not a known key (known: {', '.join(sorted(allowed))})")


_CADENCE = ("members", "handoff", "start")


def _rotation(table: object, key: str, tz: ZoneInfo) -> Rotation:
    _only(table, f"{key}.", {*_CADENCE, "ical_url", "usergroup", "overrides"})
    assert isinstance(table, dict)
    feed = None
    if "ical_url" in table:
        both = next((name for name in _CADENCE if name in table), None)
        if both is not None:
            raise ScheduleError(f"{key}.ical_url and {key}.{both} cannot both be given: the feed says who is on call and when")
        feed = IcalFeed(_url(table["ical_url"], f"{key}.ical_url"))
        members, every_days, at, first = (), 0, time(0), date.min  # unused: the feed has the shifts
    else:
        members, every_days, at, first = _cadence(table, key)
    group = table.get("usergroup")
    if group is not None and not (isinstance(group, str) and SLACK_GROUP_ID.fullmatch(group)):
        raise ScheduleError(f"{key}.usergroup must be a Slack user-group ID such as S0ONCALL")
    return Rotation(members, every_days, at, first, group, _overrides(table.get("overrides", []), key, tz), feed)


def _url(value: object, key: str) -> str:
    """An iCal feed's address: http or https, with a host. The value is never repeated: it may hold a token."""
    hint = ""
    if isinstance(value, str):
        try:
            parts = urlsplit(value.strip())
            if parts.scheme in ("http", "https") and parts.hostname:
                return value.strip()
            hint = " (write webcal:// as https://)" if parts.scheme == "webcal" else ""
        except ValueError:
            pass
    raise ScheduleError(f'{key} must be the http:// or https:// address of an iCal feed, such as "https://calendar.example.com/rota.ics"{hint}')


def _cadence(table: dict, key: str) -> tuple[tuple[str, ...], int, time, date]:
    """The members and the handoff: who takes turns, every how many days, at what time, from which date."""
    members = table.get("members")
    if not isinstance(members, list) or not members:
        raise ScheduleError(f"{key}.members must be a non-empty list of Slack user IDs or e-mails (or give {key}.ical_url)")
    for i, member in enumerate(members):
        _member(member, f"{key}.members number {i + 1}")
    match = _HANDOFF.fullmatch(str(table.get("handoff", "")).strip())
    if not match:
        raise ScheduleError(f'{key}.handoff must be "daily 09:00", "weekly mon 09:00" or "every 3d 09:00"')
    daily, weekday, every, at = match.groups()
    at_time = _time(at, f"{key}.handoff")
    every_days = 1 if daily else 7 if weekday else int(every)
    if every_days < 1:
        raise ScheduleError(f"{key}.handoff: every Nd needs N of at least 1")
    first = _date(table.get("start"), f"{key}.start")
    if weekday:
        first += timedelta(days=(WEEKDAYS.index(weekday) - first.weekday()) % 7)
    return tuple(members), every_days, at_time, first


def _overrides(overrides: object, key: str, tz: ZoneInfo) -> tuple[Override, ...]:
    if not isinstance(overrides, list):
        raise ScheduleError(f"{key}.overrides must be a list of [[{key}.overrides]] tables")
    parsed: list[Override] = []
    for i, entry in enumerate(overrides):
        where = f"{key}.overrides number {i + 1}"
        _only(entry, f"{where}: ", {"member", "from", "until"})
        start = _moment(entry.get("from"), f"{where}: from", tz)
        end = _moment(entry.get("until"), f"{where}: until", tz)
        if end <= start:
            raise ScheduleError(f"{where}: until must be after from")
        clash = next((j for j, o in enumerate(parsed) if start < o.end and o.start < end), None)
        if clash is not None:
            raise ScheduleError(f"{where} overlaps number {clash + 1}; overrides may not overlap")
        parsed.append(Override(_member(entry.get("member"), f"{where}: member"), start, end))
    return tuple(parsed)


def _hours(table: object, tz: ZoneInfo) -> Hours:
    _only(table, "hours.", {*WEEKDAYS, "holidays"})
    assert isinstance(table, dict)
    days = {}
    for i, day in enumerate(WEEKDAYS):
        if day not in table:
            continue
        match = _SPAN.fullmatch(str(table[day]).strip())
        if not match:
            raise ScheduleError(f'hours.{day} must be opening and closing time such as "09:00-18:00"')
        opens, closes = _time(match.group(1), f"hours.{day}"), _time(match.group(2), f"hours.{day}")
        if closes <= opens:
            raise ScheduleError(f"hours.{day} must close after it opens")
        days[i] = (opens, closes)
    if not days:
        raise ScheduleError("hours must open on at least one weekday, e.g. mon = \"09:00-18:00\"")
    holidays = table.get("holidays", [])
    if not isinstance(holidays, list):
        raise ScheduleError('hours.holidays must be a list of dates such as ["2026-12-25"]')
    return Hours(days, frozenset(_date(h, f"hours.holidays number {i + 1}") for i, h in enumerate(holidays)))


def _member(value: object, key: str) -> str:
    if isinstance(value, str) and (SLACK_USER_ID.fullmatch(value) or _EMAIL.fullmatch(value)):
        return value
    raise ScheduleError(f"{key} must be a Slack user ID (U…) or an e-mail address; got {str(value)[:40]!r}")


def _time(value: str, key: str) -> time:
    try:
        hour, minute = (int(part) for part in value.split(":"))
        return time(hour, minute)
    except ValueError:
        raise ScheduleError(f"{key}: {value!r} is not a time of day such as 09:00") from None


def _date(value: object, key: str) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise ScheduleError(f'{key} must be a date such as "2026-11-23"') from None


def _moment(value: object, key: str, tz: ZoneInfo) -> datetime:
    if isinstance(value, datetime):
        return value.replace(tzinfo=tz) if value.tzinfo is None else value
    try:
        return datetime.strptime(str(value).strip(), "%Y-%m-%d %H:%M").replace(tzinfo=tz)
    except ValueError:
        raise ScheduleError(f'{key} must be a local time such as "2026-12-24 09:00"') from None
