"""The report to Slack as the real process posts it: due while replywatch was down, posted once when it starts, its
chart uploaded first, exactly once across a SIGKILL in the middle of the upload."""

from __future__ import annotations

import io
import signal
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy

from bot.standins.http import wait_for
from bot.standins.x_api import FakeX
from bot.store.db import make_engine, upgrade
from tests.e2e.test_process import Bot
from tests.standins.slack_api import FakeSlack

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_a_report_due_while_down_is_posted_once_across_a_kill_during_its_upload(
    env: dict[str, str], fake_x: FakeX, fake_slack: FakeSlack, tmp_path: Path
) -> None:
    from PIL import Image

    now = datetime.now(UTC)
    cadence = f"daily {now - timedelta(minutes=2):%H:%M}"  # its last time passed two minutes ago
    engine = make_engine(env["DATABASE_URL"])
    upgrade(engine)
    with engine.begin() as conn:  # REPORT_EVERY has been set for days: the report fell due while replywatch was down
        conn.execute(sqlalchemy.text("INSERT INTO rules_seen (name, value) VALUES ('report_every', :v)"),
                     {"v": f"{cadence}@{(now - timedelta(days=3)).isoformat()}"})
    engine.dispose()
    bot = Bot({**env, "REPORT_EVERY": cadence, "POLL_INTERVAL": "1s"}, tmp_path / "bot.log")

    fake_slack.hold_uploads()
    bot.start()
    try:
        assert wait_for(fake_slack.upload_held.is_set, timeout=20), bot.log_path.read_text()[-3000:]
        bot.stop(signal.SIGKILL)  # mid-upload: the file's bytes are on their way, the report not posted
        fake_slack.release_uploads()
        assert [m for m in fake_slack.posts() if any(b.get("type") == "image" for b in m.blocks)] == []

        bot.start()
        assert wait_for(lambda: any(f.completed for f in fake_slack.files()), timeout=20), bot.log_path.read_text()[-3000:]
        assert wait_for(lambda: [m for m in fake_slack.posts() if "How we answered" in m.text], timeout=10)
        wait_for(lambda: False, timeout=3)  # time for a second report, were one coming
    finally:
        bot.stop(signal.SIGTERM)

    [report] = [m for m in fake_slack.posts() if "How we answered" in m.text]
    [shown] = [f for f in fake_slack.files() if f.completed]
    assert fake_slack.messages_with_image(shown.id) == [report]
    assert shown.channels == []  # private to the bot: the message shows it, nothing else shares it
    picture = Image.open(io.BytesIO(shown.content))
    assert picture.format == "PNG" and picture.size == (1000, 500)
    assert "needing a reply" in report.blocks[0]["text"]["text"]
