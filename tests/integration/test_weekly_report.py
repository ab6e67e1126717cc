"""REPORT_EVERY through the loop: the report queued once per period, posted once with its chart uploaded first, one
report for weeks missed while down, none for the weeks before the setting; on the stand-ins, with a fake clock."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from PIL import Image

from bot.config.load import Use, load_config
from bot.config.settings import Settings
from bot.report.build import build_report
from bot.report.cadence import Cadence
from bot.services.reporting import ReportService
from tests.conftest import Loop

MIN, DAY = timedelta(minutes=1), timedelta(days=1)


def reporter(loop: Loop, every: str = "weekly mon 09:00") -> ReportService:
    settings = Settings(slack_bot_token="xoxb-test", slack_channel="#alerts", x_account="acme", alert_after="30m")  # type: ignore[arg-type]
    config = load_config(Use.READ, settings=settings)

    def build(start: datetime, end: datetime) -> str:
        return json.dumps(build_report(loop.store, config, (start, end), loop.clock.now()).to_json())

    cadence = Cadence.parse(every)
    assert cadence is not None
    return ReportService(loop.store, loop.clock, cadence, ZoneInfo("UTC"), build, "C0ALERTS", timedelta(minutes=30))


def reports(loop: Loop) -> list:
    return [m for m in loop.slack.posts() if "How we answered" in m.text]


def test_one_report_a_week_with_its_chart_and_none_before_the_setting(loop: Loop) -> None:
    service = reporter(loop)  # Wednesday 25 November: the Monday before was before REPORT_EVERY was set
    assert service.run_once() is False
    bob, carol = loop.x.add_user("bob"), loop.x.add_user("carol")
    answered = loop.post(bob, "@acme where is my order?")
    loop.tick(10 * MIN)
    loop.post(loop.acme, "@bob on its way", reply_to=answered)
    loop.post(carol, "@acme hello?")
    loop.tick(MIN)
    loop.tick(DAY)  # carol's is alerted, never answered

    loop.clock.advance(datetime(2026, 11, 30, 9, 0, tzinfo=UTC) - loop.clock.now())  # Monday 09:00
    assert service.run_once() is True
    loop.tick()
    loop.tick(MIN)
    assert service.run_once() is False
    loop.tick(MIN)
    [report] = reports(loop)
    text = report.blocks[0]["text"]["text"]
    assert "2 mentions, 2 needing a reply: *1 answered* (50%), 1 still open" in text
    assert "Talking with people: 1 replies against 0 posts of our own" in text
    [image] = [b for b in report.blocks if b["type"] == "image"]
    [chart] = loop.slack.files()
    assert image["slack_file"]["id"] == chart.id and chart.completed and chart.channels == []
    picture = Image.open(io.BytesIO(chart.content)).convert("RGB")
    assert picture.size == (1000, 500)
    inside = picture.crop((80, 40, 920, 460))
    colours = inside.getcolors(maxcolors=inside.width * inside.height)
    assert len(colours) > 2  # bars, a line, the background: not a blank image

    loop.clock.advance(3 * 7 * DAY + MIN)  # down for three weeks, then started again
    later = reporter(loop)
    assert later.run_once() is True
    loop.tick()
    loop.tick(MIN)
    assert later.run_once() is False
    assert len(reports(loop)) == 2  # the newest missed week only, not one per missed week


def test_a_daily_report_covers_the_day_that_ended_at_its_time(loop: Loop) -> None:
    with loop.store.unit() as repo:  # set a day ago
        repo.first_seen("report_every", "daily 08:00", loop.clock.now() - DAY)
    service = reporter(loop, "daily 08:00")
    assert service.run_once() is True
    with loop.store.read() as repo:
        [note] = [n for n in [repo.notice_note("report:2026-11-25T08:00Z")] if n is not None]
    assert (note.start, note.end) == (datetime(2026, 11, 24, 8, tzinfo=UTC), datetime(2026, 11, 25, 8, tzinfo=UTC))
