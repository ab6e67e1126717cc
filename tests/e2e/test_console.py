"""`replywatch run` with SINK=console and no Slack settings at all: a real process against the X stand-in, its alerts
and edits printed on standard output, its logs on standard error."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from bot.standins.http import wait_for
from bot.standins.x_api import FakeX
from tests.e2e.test_process import settled
from tests.standins.slack_api import FakeSlack

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.e2e, pytest.mark.slow]
HOSTILE = "@acme <!channel> [bold red]loud[/bold red] \x1b[31mRED &amp;lt; [link=https://evil.example]x[/link]"


class ConsoleBot:
    """The process, its standard output and standard error in two files."""

    def __init__(self, env: dict[str, str], folder: Path) -> None:
        self.env = {**{k: v for k, v in os.environ.items() if not k.startswith(("X_", "SLACK_"))}, **env, "PYTHONPATH": str(ROOT)}
        self.out, self.err = folder / "stdout.txt", folder / "stderr.txt"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.out.open("ab") as out, self.err.open("ab") as err:
            self.proc = subprocess.Popen([sys.executable, "-m", "bot", "run"], env=self.env, stdout=out, stderr=err, cwd=os.getcwd())

    def printed(self) -> str:
        return self.out.read_text(encoding="utf-8")

    def titles(self, word: str) -> list[str]:
        """The title lines of the panels printed so far whose title has `word` ("new", "edited")."""
        return [line for line in self.printed().splitlines() if line.startswith("╭") and f"· {word}" in line]


def test_alerts_and_edits_are_printed_without_any_slack_setting(
    env: dict[str, str], fake_x: FakeX, fake_slack: FakeSlack, tmp_path: Path
) -> None:
    settings = {k: v for k, v in env.items() if not k.startswith("SLACK_")}
    bot = ConsoleBot({**settings, "ALERT_AFTER": "3s", "POLL_INTERVAL": "1s", "COLUMNS": "100"}, tmp_path)
    acme, bob, eve = fake_x.user("acme"), fake_x.add_user("bob"), fake_x.add_user("eve")
    fake_x.limit = 100_000
    bot.start()
    try:
        assert wait_for(lambda: fake_x.http.calls("/mentions"), timeout=20), bot.err.read_text()
        waiting = fake_x.post(bob, "@acme where is my refund?")
        hostile = fake_x.post(eve, HOSTILE)
        assert wait_for(lambda: len(bot.titles("new")) >= 2, timeout=15), bot.err.read_text()[-3000:]

        fake_x.post(acme, "@eve sorry, looking into it", reply_to=hostile)
        assert wait_for(lambda: bot.titles("edited"), timeout=10), bot.err.read_text()[-3000:]
        polls = len(fake_x.http.calls("/mentions"))
        # two more polls, and nothing left on its way to the console: anything printed twice would be printed by now
        assert wait_for(lambda: len(fake_x.http.calls("/mentions")) >= polls + 2, timeout=10)
        db = Path(env["DATABASE_URL"].removeprefix("sqlite:///"))
        assert wait_for(lambda: settled(db, [("x", str(waiting)), ("x", str(hostile))]), timeout=10), bot.err.read_text()[-3000:]
        assert bot.proc is not None
        bot.proc.send_signal(signal.SIGTERM)
        assert bot.proc.wait(timeout=20) == 0
    finally:
        if bot.proc and bot.proc.poll() is None:
            bot.proc.kill()

    printed, logged = bot.printed(), bot.err.read_text()
    assert len(bot.titles("new")) == 2, printed
    assert all("#replywatch · new" in t for t in bot.titles("new"))
    [edited] = bot.titles("edited")
    new_ts = re.findall(r"─ (\d+\.\d{6}) ─╯", printed)  # each new message signed with its ts
    assert len(new_ts) == 2 and edited.split("edited ")[1].split()[0] in new_ts, "the edit names the alert it edits"
    assert not re.search(r"\b(?:mention|digest|notice):\S", printed), "the outbox's tags are never shown"
    panels = printed.split("╭")[1:]
    [refund] = [p for p in panels if "where is my refund?" in p and "· new" in p]
    assert "has been waiting" in refund and "[ I'll take it ]" in refund and f"x.com/bob/status/{waiting}" in refund
    [answered] = [p for p in panels if "· edited" in p]
    assert "was answered after" in answered and "Eve" in answered
    assert "[bold red]loud[/bold red]" in printed and "[link=https://evil.example]x[/link]" in printed, "printed as written"
    assert "<!channel>" in printed and "&lt;!channel" not in printed, "Slack's escapes undone"
    assert "RED &amp;lt;" in printed and "&amp;amp;" not in printed, "… exactly once: eve typed &amp;lt;"
    assert "\x1b" not in printed, "no escape sequence reaches the output, from the post or from colour"
    assert "where is my refund?" not in logged and "has been waiting" not in logged, "messages on stdout, logs on stderr"
    assert "No SLACK_BOT_TOKEN: alerts are printed here instead of Slack (SINK=console)" in logged
    assert "Traceback" not in logged
    assert fake_slack.http.calls("/") == [], "Slack was never called"
