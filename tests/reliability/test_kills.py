"""SIGKILL at named points and at random moments, then restart: nothing lost, nothing alerted twice, the
SQLite file intact."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from tests.e2e.test_process import Bot
from tests.reliability.figures import FIGURES
from tests.standins.http import Request, wait_for
from tests.standins.slack_api import FakeSlack
from tests.standins.x_api import FakeX

pytestmark = pytest.mark.e2e
POINTS = ["after reading", "after storing", "before posting", "after posting, before storing the ts", "at random"]
CYCLES = 55


def test_kills_at_named_points_and_random_moments(env: dict[str, str], fake_x: FakeX, fake_slack: FakeSlack, tmp_path: Path) -> None:
    rng = random.Random(20261125)
    bot = Bot({**env, "ALERT_AFTER": "1s", "POLL_INTERVAL": "1s", "HTTP_TIMEOUT": "2s"}, tmp_path / "bot.log")
    acme = fake_x.user("acme")
    fans = [fake_x.add_user(f"fan{i}") for i in range(7)]
    posted: list[int] = []
    answered: set[int] = set()
    fired = threading.Event()

    def kill() -> str:
        if bot.proc is not None and bot.proc.poll() is None and not fired.is_set():
            os.kill(bot.proc.pid, signal.SIGKILL)
            fired.set()
        return "drop"

    def arm(point: str) -> None:
        fake_x.http.after = fake_slack.http.before = fake_slack.http.after = None
        if point == "after reading":
            fake_x.http.after = lambda r: kill() if "/mentions" in r.path else None
        elif point == "after storing":
            def later(r: Request) -> None:
                if "/tweets" in r.path and "/users/" in r.path:
                    threading.Timer(rng.uniform(0.02, 0.3), kill).start()
            fake_x.http.after = later
        elif point == "before posting":
            fake_slack.http.before = lambda r: kill() if "chat.postMessage" in r.path else None
        elif point == "after posting, before storing the ts":
            fake_slack.http.after = lambda r: kill() if "chat.postMessage" in r.path else None
        else:
            threading.Timer(rng.uniform(0.3, 3.0), kill).start()

    kills = 0
    try:
        for cycle in range(CYCLES):
            for _ in range(rng.randint(1, 3)):
                posted.append(fake_x.post(rng.choice(fans), f"@acme cycle {cycle} #{len(posted)}"))
            if posted and rng.random() < 0.3:
                target = rng.choice(posted)
                fake_x.post(acme, "@fan thanks", reply_to=target)
                answered.add(target)
            fired.clear()
            arm(POINTS[cycle % len(POINTS)])
            bot.start()
            if not fired.wait(timeout=6):
                kill()
            bot.proc.wait(timeout=10)
            kills += bot.proc.returncode == -signal.SIGKILL
        fake_x.http.after = fake_slack.http.before = fake_slack.http.after = None
        bot.start()
        must_alert = set(posted) - answered  # an answered one may or may not have been alerted before its answer
        assert wait_for(lambda: set(fake_slack.covered()) >= must_alert, timeout=120, interval=0.5), bot.log_path.read_text()[-3000:]
        time.sleep(2)
        assert bot.stop(signal.SIGTERM) == 0
    finally:
        if bot.proc and bot.proc.poll() is None:
            bot.proc.kill()

    db = env["DATABASE_URL"].removeprefix("sqlite:///")
    with sqlite3.connect(db) as conn:
        stored = {row[0] for row in conn.execute("SELECT id FROM mentions")}
        integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
    alerted = fake_slack.covered()  # alerts and digest lines
    lost = len(set(posted) - stored) + len(must_alert - set(alerted))
    duplicates = len(alerted) - len(set(alerted))
    FIGURES["kills survived"] += kills
    FIGURES["mentions lost"] += lost
    FIGURES["duplicate alerts"] += duplicates
    print(f"\nkills {kills}, mentions {len(posted)}, lost {lost}, duplicate alerts {duplicates}, integrity {integrity}")
    assert kills >= 50
    assert (lost, duplicates, integrity) == (0, 0, "ok")
