"""SIGKILL at named points and at random moments, then restart, with an X, a Bluesky and a Mastodon account watched
at once: nothing lost, nothing alerted twice on any of them, the SQLite file intact, and Bluesky's session kept
across every restart."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import threading
from pathlib import Path

import pytest

from bot.standins.bluesky_api import FakeBluesky
from bot.standins.http import Request, wait_for
from bot.standins.mastodon_api import FakeMastodon
from bot.standins.x_api import FakeX
from tests.e2e.test_process import Bot, settled
from tests.reliability.figures import FIGURES
from tests.standins.slack_api import FakeSlack

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
POINTS = ["after reading", "after storing", "before posting", "after posting, before storing the ts", "at random"]
CYCLES = 55


NETWORKS = ("x", "bluesky", "mastodon")
READS = {"x": "/mentions", "bluesky": "listNotifications", "mastodon": "/api/v1/notifications"}  # each one's mentions
OWN = {"x": "/tweets", "bluesky": "getAuthorFeed", "mastodon": "/statuses"}  # and its own posts, read after them


class Networks:
    """The three stand-ins, each with its watched account `acme` and seven fans; a post's key is its network and
    the link an alert gives to it."""

    def __init__(self, x: FakeX, tmp_path: Path) -> None:
        self.x, self.bsky, self.masto = x, FakeBluesky(), FakeMastodon(token="masto-kill-token")
        self.acme = {"x": x.user("acme"), "bluesky": self.bsky.add_user("acme.bsky.social", password="bsky-kill-pass"),
                     "mastodon": self.masto.add_account("acme")}
        self.fans = {
            "x": [x.add_user(f"fan{i}") for i in range(7)],
            "bluesky": [self.bsky.add_user(f"fan{i}.bsky.social") for i in range(7)],
            "mastodon": [self.masto.add_account(f"fan{i}") for i in range(7)],
        }
        self.config = tmp_path / "replywatch.toml"
        self.config.write_text(
            '[[accounts]]\nnetwork = "x"\nhandle = "acme"\n\n'
            f'[[accounts]]\nnetwork = "bluesky"\nhandle = "acme.bsky.social"\ninstance = "{self.bsky.url}"\n'
            'app_password_env = "BSKY_PASSWORD"\n\n'
            f'[[accounts]]\nnetwork = "mastodon"\nhandle = "acme"\ninstance = "{self.masto.url}"\naccess_token_env = "MASTO_TOKEN"\n'
        )
        self.env = {"REPLYWATCH_CONFIG": str(self.config), "BSKY_PASSWORD": "bsky-kill-pass", "MASTO_TOKEN": "masto-kill-token"}
        self.http = {"x": x.http, "bluesky": self.bsky.http, "mastodon": self.masto.http}

    def mention(self, network: str, fan: int, text: str) -> tuple[str, str]:
        """A fan mentions the account; (network, post id)."""
        author = self.fans[network][fan]
        if network == "x":
            return network, str(self.x.post(author, f"@acme {text}"))
        if network == "bluesky":
            return network, self.bsky.post(author, f"@acme {text}", mentions=(self.acme["bluesky"],))
        return network, self.masto.post(author, f"@acme {text}")

    def answer(self, post: tuple[str, str]) -> None:
        network, post_id = post
        if network == "x":
            self.x.post(self.acme["x"], "@fan thanks", reply_to=int(post_id))
        elif network == "bluesky":
            self.bsky.post(self.acme["bluesky"], "thanks", reply_to=post_id)
        else:
            self.masto.post(self.acme["mastodon"], "thanks", reply_to=post_id)

    def link(self, post: tuple[str, str]) -> str:
        """What an alert links to for this post."""
        network, post_id = post
        if network == "x":
            return f"https://x.com/{self.x.users[self.x.tweets[int(post_id)].author_id].username}/status/{post_id}"
        if network == "bluesky":
            did, rkey = post_id.removeprefix("at://").split("/")[0], post_id.rsplit("/", 1)[1]
            return f"https://bsky.app/profile/{self.bsky.user(did).handle}/post/{rkey}"
        return f"{self.masto.accounts[self.masto.statuses[post_id].account_id].url}/{post_id}"

    def close(self) -> None:
        self.bsky.close()
        self.masto.close()


def test_kills_at_named_points_and_random_moments(env: dict[str, str], fake_x: FakeX, fake_slack: FakeSlack, tmp_path: Path) -> None:
    rng = random.Random(20261125)
    world = Networks(fake_x, tmp_path)
    bot = Bot({**env, **world.env, "ALERT_AFTER": "1s", "POLL_INTERVAL": "1s", "HTTP_TIMEOUT": "2s"}, tmp_path / "bot.log")
    fake_x.limit = 100_000
    posted: list[tuple[str, str]] = []
    answered: set[tuple[str, str]] = set()
    fired = threading.Event()

    def kill() -> str:
        if bot.proc is not None and bot.proc.poll() is None and not fired.is_set():
            os.kill(bot.proc.pid, signal.SIGKILL)
            fired.set()
        return "drop"

    def arm(point: str, network: str) -> None:
        for http in world.http.values():
            http.after = None
        fake_slack.http.before = fake_slack.http.after = None
        if point == "after reading":
            world.http[network].after = lambda r: kill() if READS[network] in r.path else None
        elif point == "after storing":
            def later(r: Request) -> None:
                if OWN[network] in r.path:
                    threading.Timer(rng.uniform(0.02, 0.3), kill).start()
            world.http[network].after = later
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
                posted.append(world.mention(rng.choice(NETWORKS), rng.randrange(7), f"cycle {cycle} #{len(posted)}"))
            if posted and rng.random() < 0.3:
                target = rng.choice(posted)
                world.answer(target)
                answered.add(target)
            fired.clear()
            arm(POINTS[cycle % len(POINTS)], NETWORKS[cycle // len(POINTS) % len(NETWORKS)])
            bot.start()
            if not fired.wait(timeout=6):
                kill()
            bot.proc.wait(timeout=10)
            kills += bot.proc.returncode == -signal.SIGKILL
        arm("none", "x")
        bot.start()
        must_alert = {world.link(p) for p in set(posted) - answered}  # an answered one may or may not have been alerted
        assert wait_for(lambda: set(fake_slack.covered_links()) >= must_alert, timeout=120, interval=0.5), (
            bot.log_path.read_text()[-3000:]
        )
        db = Path(env["DATABASE_URL"].removeprefix("sqlite:///"))
        # every mention closed or alerted, nothing left on its way to Slack: a duplicate would be in Slack by now
        assert wait_for(lambda: settled(db, posted), timeout=30, interval=0.5), bot.log_path.read_text()[-3000:]
        assert bot.stop(signal.SIGTERM) == 0
    finally:
        if bot.proc and bot.proc.poll() is None:
            bot.proc.kill()
        logins = len(world.bsky.http.calls("createSession"))
        world.close()

    db = env["DATABASE_URL"].removeprefix("sqlite:///")
    with sqlite3.connect(db) as conn:
        stored = {(network, post_id) for network, post_id in conn.execute("SELECT network, post_id FROM mentions")}
        integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
    alerted = fake_slack.covered_links()  # alerts and digest lines
    lost = {network: len({p for p in posted if p[0] == network} - stored) for network in NETWORKS}
    unalerted = {network: len({world.link(p) for p in posted if p[0] == network} & must_alert - set(alerted)) for network in NETWORKS}
    duplicates = len(alerted) - len(set(alerted))
    FIGURES["kills survived"] += kills
    FIGURES["mentions lost"] += sum(lost.values()) + sum(unalerted.values())
    FIGURES["duplicate alerts"] += duplicates
    print(f"\nkills {kills}, mentions {len(posted)}, lost {lost}, unalerted {unalerted}, duplicate alerts {duplicates}, "
          f"integrity {integrity}, Bluesky logins {logins}")
    assert kills >= 50
    assert {p[0] for p in posted} == set(NETWORKS), "mentions on every network"
    assert (lost, unalerted, duplicates, integrity) == ({n: 0 for n in NETWORKS}, {n: 0 for n in NETWORKS}, 0, "ok")
    assert logins == 1, "one login to Bluesky across every restart: the session is kept in the database"
