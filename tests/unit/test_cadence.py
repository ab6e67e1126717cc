"""REPORT_EVERY: its forms, when each report falls due, and the period it covers (local calendar, across DST)."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest

from bot.report.cadence import Cadence

BERLIN = ZoneInfo("Europe/Berlin")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("weekly mon 09:00", Cadence(0, time(9, 0))),
        ("Weekly Friday 17:30", Cadence(4, time(17, 30))),
        ("daily 9:00", Cadence(None, time(9, 0))),
        ("off", None),
        ("", None),
    ],
)
def test_forms(text: str, expected: Cadence | None) -> None:
    assert Cadence.parse(text) == expected


@pytest.mark.parametrize("text", ["weekly 09:00", "monthly 1 09:00", "weekly mon 25:00", "daily", "weekly xyz 09:00"])
def test_wrong_forms_name_the_right_one(text: str) -> None:
    with pytest.raises(ValueError, match="weekly DAY HH:MM"):
        Cadence.parse(text)


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
