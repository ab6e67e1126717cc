"""`replywatch demo` as a newcomer runs it: the real process, its built-in stand-ins, the hour played fast; the
summary's counts are what the scripted hour should give, and what it printed is what Slack would have shown."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bot.demo.script import HOUR, Fate, expected

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.e2e


def test_the_demo_plays_the_hour_and_every_mention_ends_as_it_should(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("X_", "SLACK_", "DATABASE_", "SINK"))}
    (tmp_path / ".env").write_text("SINK=slack\nSLACK_BOT_TOKEN=not-a-token\n")  # this folder's settings are not read
    (tmp_path / "replywatch.toml").write_text("[hours]\nmon = 'not hours'\n")
    done = subprocess.run([sys.executable, "-m", "bot", "demo", "--seconds", "20"], env={**env, "PYTHONPATH": str(ROOT), "COLUMNS": "200"},
                          cwd=tmp_path, capture_output=True, text=True, timeout=90)
    out = done.stdout
    assert done.returncode == 0, out[-3000:] + done.stderr[-2000:]

    shown = {fate: int(m.group(1)) for fate in Fate if (m := re.search(rf"│\s+(\d+) │ {re.escape(fate.value)}\s+│", out))}
    assert shown == expected(HOUR), out[-2500:]
    assert sum(shown.values()) == sum(e.fate is not None for e in HOUR) == 15
    assert "0 message(s) sent twice" in out and "1 digest(s)" in out and "4 mention(s) escalated" in out
    assert "Every mention ended as it should" in out

    assert "VIP: 250k followers" in out, "the VIP is alerted as one"
    assert "5 mentions have been waiting for a reply" in out, "the flood goes out as one digest"
    assert "kim@example.org" not in out, "a direct message's text is never shown in a channel"
    assert "hal_b" in out and "555-0100" not in out, "the deleted post is never alerted"
    assert out.count("was answered after") == 3 and "@flo answered" in out, "the answered alerts and digest lines edited"
    assert "How we answered" in out and "replywatch-report-" in out, "the report, and its chart saved"
    assert re.search(r"X \d+ posts in \d+ requests \(\$\d+\.\d{3} at X's prices\)", out), "what the reads cost"
    assert "Traceback" not in done.stderr
