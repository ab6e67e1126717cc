"""REPORT_EVERY: its forms, when each report falls due, and the period it covers (local calendar, across DST)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.clock import FakeClock
from bot.report.cadence import Cadence
from bot.services.reporting import ReportService

BERLIN, NEW_YORK = ZoneInfo("Europe/Berlin"), ZoneInfo("America/New_York")
MIN, HOUR = timedelta(minutes=1), timedelta(hours=1)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("weekly mon 09:00", Cadence(0, time(9, 0))),
        ("Weekly Friday 17:30", Cadence(4, time(17, 30))),
        ("daily 9:00", Cadence(None, time(9, 0))),
        ("off", None),
        ("", None),
        ("0 9 * * 1-5", Cadence(None, None, "0 9 * * 1-5")),
        ("  30  2 * *  sun ", Cadence(None, None, "30 2 * * sun")),
    ],
)
def test_forms(text: str, expected: Cadence | None) -> None:
    assert Cadence.parse(text) == expected


@pytest.mark.parametrize("text", ["weekly 09:00", "monthly 1 09:00", "weekly mon 25:00", "daily", "weekly xyz 09:00", "0 9 * *"])
def test_wrong_forms_name_the_right_one(text: str) -> None:
    with pytest.raises(ValueError, match="weekly DAY HH:MM"):
        Cadence.parse(text)


@pytest.mark.parametrize(
    ("case", "text", "why"),
    [
        ("an hour past 23", "0 25 * * *", "higher than the maximum"),
        ("a weekday cron does not know", "0 9 * * 8", "a weekday \\(0-7 or sun-sat\\)"),
        ("30 February never comes", "0 9 30 2 *", "never does"),
        ("a day of the month and of the week: crons differ on that", "0 9 1 * mon", "not both"),
    ],
)
def test_a_wrong_crontab_names_the_forms_and_what_is_wrong(case: str, text: str, why: str) -> None:
    with pytest.raises(ValueError, match=f"a crontab such as 0 9 \\* \\* mon, or off \\(the crontab: .*{why}") as caught:
        Cadence.parse(text)
    assert "\n" not in str(caught.value), case


@pytest.mark.parametrize(
    ("case", "text", "now", "due", "start"),
    [
        ("0 is Sunday, as in cron (APScheduler's own numbers start at Monday)", "0 9 * * 0", utc("2026-11-25 12:00"),
         utc("2026-11-22 08:00"), utc("2026-11-15 08:00")),
        ("7 is Sunday too", "0 9 * * 7", utc("2026-11-25 12:00"), utc("2026-11-22 08:00"), utc("2026-11-15 08:00")),
        ("weekdays: Monday's report covers the weekend since Friday's", "0 9 * * 1-5", utc("2026-11-23 10:00"),
         utc("2026-11-23 08:00"), utc("2026-11-20 08:00")),
        ("every other day from Monday, counted as cron does", "0 9 * * 1/2", utc("2026-11-26 12:00"),
         utc("2026-11-25 08:00"), utc("2026-11-23 08:00")),
        ("the first of the month covers the month before", "0 9 1 * *", utc("2026-11-25 12:00"),
         utc("2026-11-01 08:00"), utc("2026-10-01 07:00")),
    ],
)
def test_a_crontab_report_covers_the_time_since_the_one_before(case: str, text: str, now: datetime, due: datetime, start: datetime) -> None:
    cadence = Cadence.parse(text)
    assert cadence is not None and str(cadence) == text
    assert cadence.last_due(now, BERLIN) == due, case
    assert cadence.period(due, BERLIN) == (start, due), case


@pytest.mark.parametrize(
    ("now", "due"),
    [
        (datetime(2026, 11, 23, 7, 59, tzinfo=UTC), datetime(2026, 11, 16, 8, 0, tzinfo=UTC)),  # Monday 08:59 Berlin
        (datetime(2026, 11, 23, 8, 0, tzinfo=UTC), datetime(2026, 11, 23, 8, 0, tzinfo=UTC)),  # Monday 09:00 Berlin
        (datetime(2026, 11, 26, 12, 0, tzinfo=UTC), datetime(2026, 11, 23, 8, 0, tzinfo=UTC)),  # three days later
    ],
)
def test_the_newest_report_time_at_or_before_now(now: datetime, due: datetime) -> None:
    assert Cadence.parse("weekly mon 09:00").last_due(now, BERLIN) == due  # type: ignore[union-attr]


def test_a_week_across_the_change_to_winter_time_is_a_calendar_week() -> None:
    cadence = Cadence.parse("weekly mon 09:00")
    due = datetime(2026, 10, 26, 8, 0, tzinfo=UTC)  # Monday 09:00 CET, the day after the clocks went back
    start, end = cadence.period(due, BERLIN)  # type: ignore[union-attr]
    assert start == datetime(2026, 10, 19, 7, 0, tzinfo=UTC)  # Monday 09:00 CEST
    assert end == due


def test_a_week_across_the_change_to_summer_time_is_a_calendar_week() -> None:
    cadence = Cadence.parse("weekly mon 09:00")
    due = cadence.last_due(utc("2027-03-29 07:00"), BERLIN)  # type: ignore[union-attr]  # Monday 09:00 CEST, the day after
    assert due == utc("2027-03-29 07:00")
    assert cadence.period(due, BERLIN) == (utc("2027-03-22 08:00"), due)  # type: ignore[union-attr]  # 167 hours


class Notices:
    """The store as the report service uses it: REPORT_EVERY set at `since`, each report queued under its key once."""

    def __init__(self, since: datetime) -> None:
        self.since = since
        self.queued: dict[str, tuple[datetime, datetime]] = {}  # key → (the report's end, when it was queued)

    @contextmanager
    def unit(self) -> Iterator[Notices]:
        yield self

    def first_seen(self, name: str, value: str, now: datetime) -> datetime:
        return self.since

    def has_notice(self, key: str) -> bool:
        return key in self.queued

    def add_notice(self, key: str, note, now: datetime, channel: str | None = None) -> bool:  # noqa: ANN001
        if key in self.queued:
            return False
        self.queued[key] = (note.end, now)
        return True


def reports(every: str, tz: ZoneInfo, start: datetime, end: datetime, step: timedelta) -> list[datetime]:
    """The reports queued while an injected clock moves from `start` to `end` by `step` (the tick loop, no sleeping):
    each one's time, which must never lie ahead of the clock that queued it."""
    cadence, store, clock = Cadence.parse(every), Notices(start), FakeClock(start)
    assert cadence is not None
    service = ReportService(store, clock, cadence, tz, lambda s, e: "{}", "C0ALERTS", timedelta(minutes=30))  # type: ignore[arg-type]
    while clock.now() <= end:
        service.run_once()
        clock.advance(step)
    assert all(due <= queued for due, queued in store.queued.values()), "a report before its time"
    return [due for due, _ in store.queued.values()]


@pytest.mark.parametrize(
    ("case", "every", "tz", "start", "end", "expected"),
    [
        ("Berlin spring forward: 02:30 does not exist that night; the daily report comes once, at 03:30 CEST",
         "daily 02:30", BERLIN, utc("2027-03-27 22:00"), utc("2027-03-28 04:00"), [utc("2027-03-28 01:30")]),
        ("the same as a crontab", "30 2 * * *", BERLIN, utc("2027-03-27 22:00"), utc("2027-03-28 04:00"), [utc("2027-03-28 01:30")]),
        ("New York spring forward: once, at 03:30 EDT", "daily 02:30", NEW_YORK, utc("2027-03-14 04:00"), utc("2027-03-14 10:00"),
         [utc("2027-03-14 07:30")]),
        ("Berlin fall back: 02:30 happens twice that night; one report, at the first (02:30 CEST)", "daily 02:30", BERLIN,
         utc("2026-10-24 22:00"), utc("2026-10-25 04:00"), [utc("2026-10-25 00:30")]),
        ("New York fall back: 01:30 happens twice; one report, at 01:30 EDT", "daily 01:30", NEW_YORK, utc("2026-11-01 03:00"),
         utc("2026-11-01 08:00"), [utc("2026-11-01 05:30")]),
        ("an hourly crontab across Berlin's fall back: the hour that repeats is reported once", "0 * * * *", BERLIN,
         utc("2026-10-24 23:30"), utc("2026-10-25 02:30"), [utc("2026-10-25 00:00"), utc("2026-10-25 02:00")]),
    ],
)
def test_a_report_at_a_time_the_clocks_skip_or_repeat_comes_once(
    case: str, every: str, tz: ZoneInfo, start: datetime, end: datetime, expected: list[datetime]
) -> None:
    assert reports(every, tz, start, end, MIN) == expected, case


@pytest.mark.parametrize(
    ("case", "every", "tz", "start", "end", "expected"),
    [
        ("Berlin, across spring forward: Monday 09:00 CET, then CEST", "weekly mon 09:00", BERLIN, utc("2027-03-15 00:00"),
         utc("2027-04-06 00:00"), ["2027-03-15 08:00", "2027-03-22 08:00", "2027-03-29 07:00", "2027-04-05 07:00"]),
        ("Berlin, across fall back", "weekly mon 09:00", BERLIN, utc("2026-10-12 00:00"), utc("2026-11-03 00:00"),
         ["2026-10-12 07:00", "2026-10-19 07:00", "2026-10-26 08:00", "2026-11-02 08:00"]),
        ("New York, spring forward on the report's own Sunday", "weekly sun 03:00", NEW_YORK, utc("2027-03-01 00:00"),
         utc("2027-03-23 00:00"), ["2027-03-07 08:00", "2027-03-14 07:00", "2027-03-21 07:00"]),
        ("New York, across fall back, as a crontab", "0 9 * * 1", NEW_YORK, utc("2026-10-19 00:00"), utc("2026-11-10 00:00"),
         ["2026-10-19 13:00", "2026-10-26 13:00", "2026-11-02 14:00", "2026-11-09 14:00"]),
    ],
)
def test_a_weekly_report_keeps_its_local_time_across_daylight_saving(
    case: str, every: str, tz: ZoneInfo, start: datetime, end: datetime, expected: list[str]
) -> None:
    made = reports(every, tz, start, end, HOUR)
    assert made == [utc(e) for e in expected], case
    assert len({m.astimezone(tz).strftime("%a %H:%M") for m in made}) == 1, case
