"""WARN_BEFORE: the alert goes out quietly before the due time and pings at it, through the real clients against the
X and Slack stand-ins, on a fake clock. START is Wednesday 2026-11-25 09:00 UTC."""

from __future__ import annotations

from datetime import date, time, timedelta
from zoneinfo import ZoneInfo

from bot.calendar.schedule import Hours, Rotation, Schedule
from bot.standins.x_api import FakeX
from tests.conftest import START, make_loop
from tests.standins.slack_api import FakeSlack

MIN, SEC = timedelta(minutes=1), timedelta(seconds=1)
OMAR = "U0OMAR"
UTC_ZONE = ZoneInfo("UTC")


def rota(hours: Hours | None = None) -> Schedule:
    return Schedule(UTC_ZONE, oncall=Rotation((OMAR,), 7, time(9), date(2026, 1, 5)), hours=hours)


def test_a_warning_is_quiet_then_pings_once_at_the_due_time(fake_x: FakeX, fake_slack: FakeSlack, sqlite_store) -> None:  # noqa: ANN001
    loop = make_loop(fake_x, fake_slack, sqlite_store, warn_before=10 * MIN, escalate_after=None, schedule=rota())
    mention = loop.post(loop.x.add_user("bob", "Bob"), "@acme where is my refund?")
    loop.tick()
    loop.tick(19 * MIN)
    assert loop.slack.alerts_for(mention) == [], "not before ALERT_AFTER - WARN_BEFORE"
    loop.tick(MIN)
    [alert] = loop.slack.alerts_for(mention)
    assert "is due for a reply in 10m" in str(alert.blocks) and OMAR not in str(alert.blocks), "quiet: names nobody"
    loop.tick(9 * MIN)
    assert loop.slack.thread(alert.ts) == []
    loop.tick(MIN)
    loop.tick(SEC)
    [overdue] = loop.slack.thread(alert.ts)
    assert f"<@{OMAR}>" in overdue.text and "Overdue" in overdue.text
    assert "has been waiting 30m" in str(alert.blocks) and f"on call: <@{OMAR}>" in str(alert.blocks), "edited: an alert like any"
    for _ in range(3):
        loop.tick(10 * MIN)
    assert len(loop.slack.thread(alert.ts)) == 1 and len(loop.slack.alerts_for(mention)) == 1, "once"


def test_a_warning_answered_in_time_is_edited_and_pings_nobody(fake_x: FakeX, fake_slack: FakeSlack, sqlite_store) -> None:  # noqa: ANN001
    loop = make_loop(fake_x, fake_slack, sqlite_store, warn_before=10 * MIN, escalate_after=None, schedule=rota())
    mention = loop.post(loop.x.add_user("bob", "Bob"), "@acme where is my refund?")
    loop.tick()
    loop.tick(20 * MIN)
    [alert] = loop.slack.alerts_for(mention)
    loop.x.post(loop.acme, "@bob it went out today", reply_to=mention)
    loop.tick(2 * MIN)
    for _ in range(3):
        loop.tick(10 * MIN)
    assert "answered" in str(alert.blocks) and loop.slack.thread(alert.ts) == [] and len(loop.slack.alerts_for(mention)) == 1


def test_a_warning_never_lands_outside_business_hours(fake_x: FakeX, fake_slack: FakeSlack, sqlite_store) -> None:  # noqa: ANN001
    """Friday 16:55 with hours 09:00-17:00 on weekdays: 5 minutes of the 20 before the warning pass on Friday, the
    other 15 on Monday morning: the warning lands at Monday 09:15, the ping at 09:25."""
    office = Hours(days={day: (time(9), time(17)) for day in range(5)})
    loop = make_loop(fake_x, fake_slack, sqlite_store, warn_before=10 * MIN, escalate_after=None, schedule=rota(office))
    friday = START + timedelta(days=2, hours=7, minutes=55)  # Friday 2026-11-27 16:55
    loop.clock.advance(friday - loop.clock.now())
    mention = loop.post(loop.x.add_user("bob", "Bob"), "@acme where is my refund?")
    loop.tick()
    monday = friday + timedelta(days=2, hours=16, minutes=5)  # Monday 09:00
    while loop.clock.now() < monday + 14 * MIN:
        loop.tick(30 * MIN if loop.clock.now() < monday - 30 * MIN else MIN)
        assert loop.slack.alerts_for(mention) == [], f"nothing before Monday 09:15 ({loop.clock.now():%a %H:%M})"
    loop.tick(MIN)
    loop.tick(MIN)
    [alert] = loop.slack.alerts_for(mention)
    assert "is due for a reply in" in str(alert.blocks)
    loop.tick(9 * MIN)
    loop.tick(SEC)
    assert len(loop.slack.thread(alert.ts)) == 1, "overdue at Monday 09:25"
