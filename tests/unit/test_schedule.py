"""Who is on call and the business clock: tables over handoffs, overrides, a rotation of one, holidays, closing
time, and both daylight-saving changes in Europe/Berlin and America/New_York."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from itertools import takewhile
from zoneinfo import ZoneInfo

import pytest

from bot.calendar import cron, schedule_file
from bot.calendar import schedule as sched

BERLIN, NEW_YORK = ZoneInfo("Europe/Berlin"), ZoneInfo("America/New_York")
A, B, C, OMAR = "U01JANE", "U02PRIYA", "U03LEAD", "U04OMAR"


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def local(text: str, tz: ZoneInfo = BERLIN) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=tz)


def rotation(handoff: str, start: str, members=(A, B, C), overrides=(), tz: str = "Europe/Berlin") -> tuple[sched.Rotation, ZoneInfo]:  # noqa: ANN001
    oncall = {"members": list(members), "handoff": handoff, "start": start, "overrides": list(overrides)}
    s = schedule_file.parse({"timezone": tz, "oncall": oncall})
    return s.oncall, s.tz


DAILY = rotation("daily 09:00", "2026-03-27")
WEEKLY_NY = rotation("weekly mon 09:00", "2026-03-02", tz="America/New_York")
WEEKLY = rotation(
    "weekly mon 09:00", "2026-11-23",
    overrides=[
        {"member": OMAR, "from": "2026-12-24 09:00", "until": "2026-12-27 09:00"},
        {"member": C, "from": "2026-12-02 13:00", "until": "2026-12-03 11:00"},
    ],
)
EVERY3 = rotation("every 3d 08:30", "2026-11-24")


@pytest.mark.parametrize(
    ("case", "rot", "moment", "expected"),
    [
        ("the first handoff", DAILY, local("2026-03-27 09:00"), A),
        ("a minute before the first handoff: the rotation runs backwards", DAILY, local("2026-03-27 08:59"), C),
        ("next day", DAILY, local("2026-03-28 09:00"), B),
        ("Berlin spring forward: 08:59 CEST is still yesterday's shift", DAILY, utc("2026-03-29 06:59"), B),
        ("Berlin spring forward: handoff at 09:00 CEST = 07:00 UTC", DAILY, utc("2026-03-29 07:00"), C),
        ("Berlin the day before: 09:00 CET = 08:00 UTC", DAILY, utc("2026-03-28 08:00"), B),
        ("Berlin fall back: 08:59 CET = 07:59 UTC", DAILY, utc("2026-10-25 07:59"), B),  # 211 days in: shift 211, the second member
        ("Berlin fall back: 09:00 CET = 08:00 UTC", DAILY, utc("2026-10-25 08:00"), C),  # shift 212
        ("New York spring forward: Monday 08:59 EDT = 12:59 UTC", WEEKLY_NY, utc("2026-03-09 12:59"), A),
        ("New York spring forward: Monday 09:00 EDT = 13:00 UTC", WEEKLY_NY, utc("2026-03-09 13:00"), B),
        ("New York fall back: the Sunday 01:30 that happens twice", WEEKLY_NY, local("2026-11-01 01:30", NEW_YORK), B),  # week 34
        ("New York after fall back: Monday 09:00 EST = 14:00 UTC", WEEKLY_NY, utc("2026-11-02 14:00"), C),  # week 35
        ("New York after fall back: 13:59 UTC is 08:59 EST", WEEKLY_NY, utc("2026-11-02 13:59"), B),
        ("weekly: mid-week", WEEKLY, local("2026-11-26 15:00"), A),
        ("weekly: the next Monday", WEEKLY, local("2026-11-30 09:00"), B),
        ("override starting mid-shift", WEEKLY, local("2026-12-02 13:00"), C),
        ("just before the override: week 2 is Priya's", WEEKLY, local("2026-12-02 12:59"), B),
        ("override ending mid-shift: back to the rotation", WEEKLY, local("2026-12-03 11:00"), B),
        ("holiday override starts", WEEKLY, local("2026-12-24 09:00"), OMAR),
        ("a minute before it", WEEKLY, local("2026-12-24 08:59"), B),
        ("override spans the Monday handoff? no: still Omar on Sunday", WEEKLY, local("2026-12-27 08:59"), OMAR),
        ("override over", WEEKLY, local("2026-12-27 09:00"), B),
        ("every 3 days", EVERY3, local("2026-11-27 08:30"), B),
        ("every 3 days, before the handoff time", EVERY3, local("2026-11-27 08:29"), A),
        ("a rotation of one", rotation("weekly mon 09:00", "2026-11-23", members=(A,)), local("2027-06-01 03:00"), A),
    ],
)
def test_who_is_on_call(case: str, rot, moment: datetime, expected: str) -> None:  # noqa: ANN001
    assert sched.on_call(rot[0], rot[1], moment) == expected, case


def overridden(member: str, start: str, until: str, members=(A, B, C)) -> tuple[sched.Rotation, ZoneInfo]:  # noqa: ANN001
    """The weekly rotation with one override."""
    return rotation("weekly mon 09:00", "2026-11-23", members, [{"member": member, "from": start, "until": until}])


# The weekly rotation's week 5 (Mon 12-21) is Priya's, week 6 (Mon 12-28) the lead's, week 7 (Mon 01-04) Jane's.
COVERING = overridden(OMAR, "2026-12-26 09:00", "2026-12-29 09:00")  # Saturday to Tuesday, across Monday's handoff
NEXT_ONE_EARLY = overridden(C, "2026-12-26 09:00", "2026-12-29 09:00")  # the lead, whose week starts on that Monday
SAME_ONE = overridden(B, "2026-12-24 09:00", "2026-12-27 09:00")  # Priya, in her own week
ONE = rotation("weekly mon 09:00", "2026-11-23", members=(A,))
ONE_AWAY = overridden(B, "2026-12-24 09:00", "2026-12-27 09:00", members=(A,))
TWICE = rotation("daily 09:00", "2026-03-27", members=(A, A, B))


def week(*rows: tuple[str, str]) -> list[tuple[datetime, str]]:
    return [(local(f"{day} 09:00"), who) for day, who in rows]


@pytest.mark.parametrize(
    ("case", "rot", "after", "until", "expected"),
    [
        ("shift changes and override edges", WEEKLY, local("2026-12-20 00:00"), local("2027-01-05 00:00"),
         week(("2026-12-21", B), ("2026-12-24", OMAR), ("2026-12-27", B), ("2026-12-28", C), ("2027-01-04", A))),
        ("an override covering a handoff: its start and end, not the handoff it hides", COVERING, local("2026-12-20 00:00"),
         local("2027-01-05 00:00"), week(("2026-12-21", B), ("2026-12-26", OMAR), ("2026-12-29", C), ("2027-01-04", A))),
        ("the next shift's holder covering early: no handoff when that shift starts or the override ends",
         NEXT_ONE_EARLY, local("2026-12-20 00:00"), local("2027-01-05 00:00"),
         week(("2026-12-21", B), ("2026-12-26", C), ("2027-01-04", A))),
        ("an override by the one already on call changes nobody", SAME_ONE, local("2026-12-20 00:00"), local("2027-01-05 00:00"),
         week(("2026-12-21", B), ("2026-12-28", C), ("2027-01-04", A))),
        ("a rotation of one never hands off", ONE, local("2026-12-20 00:00"), local("2027-01-05 00:00"), []),
        ("a rotation of one: only an override's edges", ONE_AWAY, local("2026-12-20 00:00"), local("2027-01-05 00:00"),
         week(("2026-12-24", B), ("2026-12-27", A))),
        ("the same member twice in a row is one shift", TWICE, local("2026-03-27 00:00"), local("2026-03-31 00:00"),
         week(("2026-03-27", A), ("2026-03-29", B), ("2026-03-30", A))),
    ],
)
def test_handoffs_are_the_moments_the_holder_changes(case: str, rot, after: datetime, until: datetime, expected) -> None:  # noqa: ANN001
    assert sched.handoffs(rot[0], rot[1], after, until) == expected, case


@pytest.mark.parametrize(
    ("case", "rot", "moment", "since", "until"),
    [
        ("an override mid-shift", WEEKLY, local("2026-12-25 12:00"), local("2026-12-24 09:00"), local("2026-12-27 09:00")),
        ("just before an override covering a handoff", COVERING, local("2026-12-26 08:59"), local("2026-12-21 09:00"),
         local("2026-12-26 09:00")),
        ("inside it, before the handoff it hides", COVERING, local("2026-12-27 12:00"), local("2026-12-26 09:00"),
         local("2026-12-29 09:00")),
        ("inside the same override, after the hidden handoff: the same until", COVERING, local("2026-12-28 12:00"),
         local("2026-12-26 09:00"), local("2026-12-29 09:00")),
        ("after it: the holder of the covered shift", COVERING, local("2026-12-29 09:00"), local("2026-12-29 09:00"),
         local("2027-01-04 09:00")),
        ("the override's member holds the next shift: until that shift ends, more than a week away", NEXT_ONE_EARLY,
         local("2026-12-26 12:00"), local("2026-12-26 09:00"), local("2027-01-04 09:00")),
        ("an override by the one already on call", SAME_ONE, local("2026-12-25 12:00"), local("2026-12-21 09:00"),
         local("2026-12-28 09:00")),
        ("a rotation of one: no handoff either way", ONE, local("2026-12-25 12:00"), None, None),
        ("a rotation of one during an override", ONE_AWAY, local("2026-12-25 12:00"), local("2026-12-24 09:00"),
         local("2026-12-27 09:00")),
        ("a rotation of one after its override: no handoff ahead", ONE_AWAY, local("2027-02-01 12:00"), local("2026-12-27 09:00"), None),
        ("the same member twice in a row", TWICE, local("2026-03-28 12:00"), local("2026-03-27 09:00"), local("2026-03-29 09:00")),
    ],
)
def test_last_and_next_handoff(case: str, rot, moment: datetime, since: datetime | None, until: datetime | None) -> None:  # noqa: ANN001
    assert sched.last_handoff(rot[0], rot[1], moment) == since, case
    assert sched.next_handoff(rot[0], rot[1], moment) == until, case


def test_daylight_saving_handoffs_stay_at_nine_local() -> None:
    rot, tz = DAILY
    found = sched.handoffs(rot, tz, utc("2026-10-24 00:00"), utc("2026-10-26 12:00"))
    assert [m.astimezone(UTC).strftime("%m-%d %H:%M") for m, _ in found] == ["10-24 07:00", "10-25 08:00", "10-26 08:00"]


@pytest.mark.parametrize(
    ("case", "handoff", "tz", "after", "until", "moment"),
    [
        ("New York fall back: 01:30 happens twice; the handoff once, at 01:30 EDT", "daily 01:30", "America/New_York",
         "2026-11-01 03:00", "2026-11-01 08:00", "2026-11-01 05:30"),
        ("Berlin fall back: there the clocks go back at 03:00, so 02:30 is the time that happens twice", "daily 02:30",
         "Europe/Berlin", "2026-10-24 22:00", "2026-10-25 04:00", "2026-10-25 00:30"),
        ("Berlin fall back: 01:30 is no repeated time there, 01:30 CEST", "daily 01:30", "Europe/Berlin", "2026-10-24 22:00",
         "2026-10-25 04:00", "2026-10-24 23:30"),
        ("Berlin spring forward: 02:30 does not exist; the handoff at 03:30 CEST", "daily 02:30", "Europe/Berlin",
         "2027-03-27 22:00", "2027-03-28 04:00", "2027-03-28 01:30"),
        ("New York spring forward: the handoff at 03:30 EDT", "daily 02:30", "America/New_York", "2027-03-14 04:00",
         "2027-03-14 10:00", "2027-03-14 07:30"),
        ("a weekly handoff on the Sunday the clocks go back", "weekly sun 01:30", "America/New_York", "2026-11-01 03:00",
         "2026-11-01 08:00", "2026-11-01 05:30"),
    ],
)
def test_a_handoff_at_a_time_the_clocks_skip_or_repeat_happens_once(
    case: str, handoff: str, tz: str, after: str, until: str, moment: str
) -> None:
    rot, zone = rotation(handoff, "2026-01-01", tz=tz)
    start, end, at = utc(after), utc(until), utc(moment)
    # in UTC: an aware time in a skipped or repeated hour never equals one in another zone (PEP 495)
    assert [m.astimezone(UTC) for m, _ in sched.handoffs(rot, zone, start, end)] == [at], case
    assert [sched.next_handoff(rot, zone, start).astimezone(UTC), sched.last_handoff(rot, zone, end).astimezone(UTC)] == [at, at], case  # type: ignore[union-attr]
    holders = [sched.on_call(rot, zone, start + i * timedelta(minutes=5)) for i in range(int((end - start) / timedelta(minutes=5)) + 1)]
    changes = [start + i * timedelta(minutes=5) for i in range(1, len(holders)) if holders[i] != holders[i - 1]]
    assert changes == [at], f"{case}: who is on call changes once, at the handoff (not back in the repeated hour)"


@pytest.mark.parametrize(
    ("handoff", "tz", "weekday", "at", "around"),
    [
        (handoff, tz, weekday, at, around)
        for handoff, weekday, at in [("daily 09:00", None, time(9)), ("daily 02:30", None, time(2, 30)), ("daily 01:30", None, time(1, 30)),
                                     ("weekly sun 02:30", 6, time(2, 30)), ("weekly mon 09:00", 0, time(9))]
        for tz, around in [("Europe/Berlin", "2027-03-28"), ("Europe/Berlin", "2026-10-25"), ("America/New_York", "2027-03-14"),
                           ("America/New_York", "2026-11-01")]
    ],
)
def test_handoffs_fall_when_apschedulers_cron_trigger_says(handoff: str, tz: str, weekday: int | None, at: time, around: str) -> None:
    """Handoffs are date arithmetic; the report's times come from CronTrigger. Both read a skipped or repeated local
    time the same way, across both changes of the year, in both zones."""
    rot, zone = rotation(handoff, "2026-01-05", tz=tz)
    start, end = utc(f"{around} 12:00") - timedelta(days=15), utc(f"{around} 12:00") + timedelta(days=15)
    expected = list(takewhile(lambda m: m <= end, cron.fires(cron.at(zone, at, weekday), start + timedelta(microseconds=1))))
    assert [m.astimezone(UTC) for m, _ in sched.handoffs(rot, zone, start, end)] == expected


def test_a_weekly_handoff_keeps_its_local_time_across_both_changes() -> None:
    rot, tz = rotation("weekly mon 09:00", "2026-11-23")
    found = sched.handoffs(rot, tz, utc("2027-03-20 00:00"), utc("2027-04-06 00:00"))
    found += sched.handoffs(rot, tz, utc("2027-10-23 00:00"), utc("2027-11-09 00:00"))
    assert [m.astimezone(UTC).strftime("%m-%d %H:%M") for m, _ in found] == [
        "03-22 08:00", "03-29 07:00", "04-05 07:00", "10-25 07:00", "11-01 08:00", "11-08 08:00"]
    assert {m.astimezone(tz).strftime("%a %H:%M") for m, _ in found} == {"Mon 09:00"}


HOURS = schedule_file.parse({
    "timezone": "Europe/Berlin",
    "hours": {"mon": "09:00-18:00", "tue": "09:00-18:00", "wed": "09:00-18:00", "thu": "09:00-18:00", "fri": "09:00-17:00",
              "holidays": ["2026-12-25", "2026-12-26", "2027-01-01"]},
})
HALF_HOUR = timedelta(minutes=30)


@pytest.mark.parametrize(
    ("case", "posted", "due"),
    [
        ("during hours", local("2026-11-25 10:00"), local("2026-11-25 10:30")),
        ("at 23:00: 09:30 the next open day", local("2026-11-25 23:00"), local("2026-11-26 09:30")),
        ("exactly at closing time", local("2026-11-25 18:00"), local("2026-11-26 09:30")),
        ("due exactly at closing time: at the next opening", local("2026-11-25 17:30"), local("2026-11-26 09:00")),
        ("15 minutes before closing: the rest next morning", local("2026-11-25 17:45"), local("2026-11-26 09:15")),
        ("exactly at opening", local("2026-11-26 09:00"), local("2026-11-26 09:30")),
        ("Friday closes at 17:00", local("2026-11-27 16:50"), local("2026-11-30 09:20")),
        ("Saturday", local("2026-11-28 11:00"), local("2026-11-30 09:30")),
        ("Christmas Eve, then two holidays and a weekend", local("2026-12-24 17:50"), local("2026-12-28 09:20")),
        ("New Year's Day is a holiday", local("2026-12-31 23:00"), local("2027-01-04 09:30")),
        ("across Berlin's fall back", local("2026-10-23 16:45"), utc("2026-10-26 08:15")),
        ("across Berlin's spring forward", local("2026-03-27 23:00"), utc("2026-03-30 07:30")),
    ],
)
def test_business_clock(case: str, posted: datetime, due: datetime) -> None:
    assert sched.add_open_time(HOURS.hours, BERLIN, posted, HALF_HOUR) == due, case


@pytest.mark.parametrize(
    ("moment", "is_open", "change"),
    [
        (local("2026-11-25 12:00"), True, local("2026-11-25 18:00")),
        (local("2026-11-25 18:00"), False, local("2026-11-26 09:00")),
        (local("2026-11-25 08:59"), False, local("2026-11-25 09:00")),
        (local("2026-12-25 12:00"), False, local("2026-12-28 09:00")),
    ],
)
def test_open_and_next_change(moment: datetime, is_open: bool, change: datetime) -> None:
    assert sched.is_open(HOURS.hours, BERLIN, moment) is is_open
    assert sched.next_change(HOURS.hours, BERLIN, moment) == (is_open, change)


NY_HOURS = schedule_file.parse({"timezone": "America/New_York", "hours": {"mon": "09:00-18:00", "fri": "09:00-17:00"}})
NIGHT = schedule_file.parse({"timezone": "Europe/Berlin", "hours": {"sun": "00:00-06:00"}})  # open across the change


@pytest.mark.parametrize(
    ("case", "hours", "posted", "wait", "opening", "due"),
    [
        ("New York spring forward: closed over the weekend, open Monday 09:00 EDT", NY_HOURS, utc("2027-03-12 22:30"), HALF_HOUR,
         "2027-03-15 13:00", "2027-03-15 13:30"),
        ("New York fall back: Monday 09:00 EST", NY_HOURS, utc("2026-10-30 22:30"), HALF_HOUR, "2026-11-02 14:00", "2026-11-02 14:30"),
        ("open through the night the clocks go back: 00:00-06:00 holds seven hours", NIGHT, utc("2026-10-24 21:00"),
         timedelta(hours=6, minutes=30), "2026-10-24 22:00", "2026-10-25 04:30"),
        ("and five the night they go forward", NIGHT, utc("2027-03-27 22:00"), timedelta(hours=4, minutes=30), "2027-03-27 23:00",
         "2027-03-28 03:30"),
    ],
)
def test_what_came_in_while_closed_is_due_at_opening_plus_its_wait_across_daylight_saving(
    case: str, hours: sched.Schedule, posted: datetime, wait: timedelta, opening: str, due: str
) -> None:
    """The morning digest's moment: closed until the opening, due the wait of open time after it."""
    assert hours.hours is not None
    assert sched.next_change(hours.hours, hours.tz, posted) == (False, utc(opening)), case
    assert sched.add_open_time(hours.hours, hours.tz, posted, wait) == utc(due), case
    assert sched.open_time(hours.hours, hours.tz, posted, utc(due)) == wait, f"{case}: the report measures the same open time"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"timezone": "Mars/Olympus"}, "timezone must be an IANA time zone name"),
        ({"oncall": {"members": [], "handoff": "daily 09:00", "start": "2026-11-23"}}, "oncall.members must be a non-empty list"),
        ({"oncall": {"members": ["jane"], "handoff": "daily 09:00", "start": "2026-11-23"}}, "oncall.members number 1 must be a Slack"),
        ({"oncall": {"members": [A], "handoff": "fortnightly", "start": "2026-11-23"}}, 'oncall.handoff must be "daily 09:00"'),
        ({"oncall": {"members": [A], "handoff": "daily 25:00", "start": "2026-11-23"}}, "oncall.handoff: '25:00' is not a time of day"),
        ({"oncall": {"members": [A], "handoff": "daily 09:00", "start": "next monday"}}, "oncall.start must be a date"),
        ({"oncall": {"members": [A], "handoff": "daily 09:00", "start": "2026-11-23", "handof": 1}}, "oncall.handof is not a known key"),
        ({"backup": {"members": [A], "handoff": "daily 09:00", "start": "2026-11-23", "usergroup": "oncall"}}, "backup.usergroup must be"),
        ({"oncall": {"members": [A], "handoff": "daily 09:00", "start": "2026-11-23", "overrides": [
            {"member": B, "from": "2026-12-24 09:00", "until": "2026-12-27 09:00"},
            {"member": C, "from": "2026-12-26 09:00", "until": "2026-12-24 morning"}]}},
         "oncall.overrides number 2: until must be a local time such as"),
        ({"oncall": {"members": [A], "handoff": "daily 09:00", "start": "2026-11-23", "overrides": [
            {"member": B, "from": "2026-12-24 09:00", "until": "2026-12-27 09:00"},
            {"member": C, "from": "2026-12-26 09:00", "until": "2026-12-28 09:00"}]}},
         "oncall.overrides number 2 overlaps number 1"),
        ({"oncall": {"ical_url": "ftp://calendar.example.com/private-s3cr3t/rota.ics"}},
         "oncall.ical_url must be the http:// or https:// address of an iCal feed"),
        ({"backup": {"ical_url": "webcal://calendar.example.com/private-s3cr3t/rota.ics"}}, "(write webcal:// as https://)"),
        ({"oncall": {"ical_url": "https:///private-s3cr3t/rota.ics"}}, "oncall.ical_url must be the http:// or https://"),
        ({"oncall": {"ical_url": 42}}, "oncall.ical_url must be the http:// or https://"),
        ({"oncall": {"ical_url": "https://calendar.example.com/private-s3cr3t/rota.ics", "members": [A]}},
         "oncall.ical_url and oncall.members cannot both be given"),
        ({"oncall": {"ical_url": "https://calendar.example.com/private-s3cr3t/rota.ics", "handoff": "daily 09:00"}},
         "oncall.ical_url and oncall.handoff cannot both be given"),
        ({"oncall": {"ical_url": "https://calendar.example.com/private-s3cr3t/rota.ics", "usergroup": "oncall"}},
         "oncall.usergroup must be"),
        ({"hours": {"mon": "9-18"}}, "hours.mon must be opening and closing time"),
        ({"hours": {"mon": "18:00-09:00"}}, "hours.mon must close after it opens"),
        ({"hours": {"holidays": ["2026-12-25"]}}, "hours must open on at least one weekday"),
        ({"hours": {"mon": "09:00-18:00", "holidays": ["Christmas"]}}, "hours.holidays number 1 must be a date"),
    ],
)
def test_bad_configuration_names_the_key(data: dict, message: str) -> None:
    with pytest.raises(sched.ScheduleError) as caught:
        schedule_file.parse(data)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)
    assert "s3cr3t" not in str(caught.value), "a feed's address may hold a token: never repeated"


def test_a_rotation_may_come_from_an_ical_feed() -> None:
    s = schedule_file.parse({"timezone": "Europe/Berlin", "oncall": {"ical_url": " https://calendar.example.com/rota.ics "},
                             "backup": {"members": [C], "handoff": "daily 09:00", "start": "2026-11-23"}})
    assert s.oncall is not None and s.oncall.ical is not None and s.oncall.members == ()
    assert s.oncall.ical.url == "https://calendar.example.com/rota.ics" and s.oncall.ical.copy is None
    assert [key for key, _ in s.feeds()] == ["oncall"]
    assert "calendar.example.com" not in repr(s), "the address is not in the schedule's repr (logs, tracebacks)"
    assert sched.on_call(s.oncall, s.tz, local("2026-12-01 12:00")) is None, "nobody known before the feed is fetched"


@pytest.mark.parametrize(
    ("case", "waited", "due"),
    [
        ("just posted", timedelta(0), False),
        ("one second short", timedelta(minutes=30) - timedelta(seconds=1), False),
        ("exactly the threshold", timedelta(minutes=30), True),
        ("long past", timedelta(days=2), True),
    ],
)
def test_is_due_without_business_hours(case: str, waited: timedelta, due: bool) -> None:
    posted = utc("2026-11-25 12:00")
    assert (sched.due_at(posted, timedelta(minutes=30), None, UTC) <= posted + waited) is due, case


@pytest.mark.parametrize(("file", "timezone", "expected"), [
    ('[hours]\nmon = "09:00-17:00"\n', "Europe/Berlin", "Europe/Berlin"),  # the file names none: TIMEZONE
    ('timezone = "America/New_York"\n[hours]\nmon = "09:00-17:00"\n', "Europe/Berlin", "America/New_York"),  # the file's
    (None, "Asia/Tokyo", "Asia/Tokyo"),  # no file at all
])
def test_one_time_zone_rule_for_hours_slack_and_the_report(tmp_path, file: str | None, timezone: str, expected: str) -> None:  # noqa: ANN001
    from bot.app.configure import alert_policy
    from bot.config.load import Use, load_config
    from bot.config.settings import Settings
    from bot.report.build import judging

    values = {"x_account": "acme", "x_bearer_token": "t", "timezone": timezone, "replywatch_config": None}
    if file is not None:
        (tmp_path / "replywatch.toml").write_text(file)
        values["replywatch_config"] = str(tmp_path / "replywatch.toml")
    settings = Settings(**values)  # type: ignore[arg-type]
    config = load_config(Use.READ, settings=settings)
    zone = ZoneInfo(expected)
    assert config.tz == zone
    if config.schedule is not None:
        assert config.schedule.tz == zone, "the business hours and rotations are local to it"
    assert alert_policy(config).tz == zone, "snoozes, and the times shown in Slack"
    assert judging(config).tz == zone, "the report"
