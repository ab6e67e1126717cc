"""`make bench`'s harness still fits the product, and its baseline does what it claims. Nothing here is timed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from benchmarks.cli import _groups
from benchmarks.ingest import ingest_rows
from benchmarks.naive import open_naive
from benchmarks.table import ratio, render_markdown, render_text
from benchmarks.ticks import percentile
from benchmarks.world import Scratch
from bot.standins.x_api import FakeX
from tests.standins.slack_api import FakeSlack


def test_ratio_says_which_way_is_better() -> None:
    assert ratio(200, 100, "higher") == "2.0× better"
    assert ratio(50, 100, "higher") == "2.0× worse"
    assert ratio(3, 1, "lower") == "3.0× worse"
    assert ratio(1, 4, "lower") == "4.0× better"
    assert ratio(1, 1, "lower") == "same"
    assert ratio(1, 0, "lower") == "—" and ratio(1, None, "lower") == "" and ratio(1, 2, None) == ""
    assert percentile([3, 1, 2], 50) == 2 and percentile([1, 2, 3, 4], 99) == 4


def test_only_takes_rows_and_aliases() -> None:
    assert _groups([]) == {"ingest", "tick", "status", "run", "replicas"}
    assert _groups(["lateness,flood", "tick"]) == {"run", "ingest", "tick"}


def test_quick_ingest_rows_run_on_sqlite() -> None:
    """The ingest rows, small: replywatch through make_loop's PollService and the baseline, on the same posts."""
    scratch = Scratch()
    try:
        rows = ingest_rows({"sqlite": None, "postgresql": "not here"}, [300], 150, 300, scratch)
    finally:
        scratch.close()
    assert [r.backend for r in rows] == ["sqlite", "postgresql", "sqlite"]
    ingest, skipped, flood = rows
    assert ingest.replywatch.value and ingest.naive.value
    assert "(" not in ingest.replywatch.text + ingest.naive.text, "each stored all 300 and marked the 100 answered"
    assert skipped.cells()[2] == "skipped: not here"
    assert flood.replywatch.text.startswith("300 of 300 (+0; first poll") and flood.naive.text == "300 of 300 (+0)"
    assert render_markdown(rows).splitlines()[2].startswith("| ingest, mentions/s stored+judged (N=300")
    assert "skipped: not here" in render_text(rows)


def test_the_baseline_alerts_a_due_mention_once_and_skips_an_answered_one(
    fake_x: FakeX, fake_slack: FakeSlack, tmp_path: Path
) -> None:
    env = {
        "X_ACCOUNT": "acme", "X_BEARER_TOKEN": fake_x.bearer, "X_API_BASE_URL": fake_x.url, "SLACK_BOT_TOKEN": fake_slack.token,
        "SLACK_CHANNEL": "#alerts", "SLACK_API_BASE_URL": fake_slack.url, "ALERT_AFTER": "60", "REMIND_EVERY": "120",
    }
    bob, acme = fake_x.add_user("bob"), fake_x.user("acme")
    posted = datetime.now(UTC) - timedelta(seconds=90)
    waiting = fake_x.post(bob, "@acme where is my order?", at=posted)
    answered = fake_x.post(bob, "@acme and my refund?", at=posted)
    fake_x.post(acme, "@bob sent", reply_to=answered)
    bot = open_naive(str(tmp_path / "naive.db"), env)
    bot.poll()
    bot.sweep()
    bot.sweep()
    assert [m.text.splitlines()[-1] for m in fake_slack.posts()] == [f"https://x.com/bob/status/{waiting}"]
    bot.remind()
    assert len(fake_slack.posts()) == 1, "not yet: REMIND_EVERY after it was posted"
    bot.remind(datetime.now(UTC) + timedelta(minutes=1))
    assert "Still no reply" in fake_slack.posts()[-1].text
