"""`replywatch run` as a real process against the stand-ins, in real time (a few seconds), killed and restarted."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Collection
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.standins.http import wait_for
from bot.standins.x_api import FakeX
from tests.standins.slack_api import FakeSlack, Message

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.e2e


class Bot:
    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.env = {**{k: v for k, v in os.environ.items() if not k.startswith(("X_", "SLACK_"))}, **env, "PYTHONPATH": str(ROOT)}
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "bot", "run"], env=self.env, stdout=log, stderr=log, cwd=os.getcwd())

    def stop(self, sig: int) -> int:
        assert self.proc is not None
        self.proc.send_signal(sig)
        return self.proc.wait(timeout=20)

    def stop_timed(self, sig: int, timeout: float = 20) -> tuple[int | None, float]:
        """Signal it; its exit code (None if still running after `timeout`) and how long it took to exit."""
        assert self.proc is not None
        sent = time.monotonic()
        self.proc.send_signal(sig)
        try:
            code: int | None = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            code = None
        return code, time.monotonic() - sent


def replies_read_after(db: Path, moment: datetime) -> bool:
    """A read of the watched accounts' own posts (the replies that answer mentions) that started after `moment` has
    completed: the bot has seen past it (the poll stores when each read started)."""
    with closing(sqlite3.connect(db, timeout=5)) as conn:
        rows = conn.execute("SELECT last_success_at FROM poll_cursors WHERE endpoint = 'own_posts' AND last_success_at IS NOT NULL")
        return any(datetime.fromisoformat(at).replace(tzinfo=UTC) > moment for (at,) in rows)


def settled(db: Path, posts: Collection[tuple[str, str]]) -> bool:
    """Whatever the bot was going to post about these (network, post id) mentions, it has: each is stored, and closed
    (answered, ignored …) or alerted, no alert or digest is still on its way to Slack and none waits for an edit. A
    duplicate or a wrong alert would be in Slack by now."""
    with closing(sqlite3.connect(db, timeout=5)) as conn:
        done = dict(conn.execute(
            "SELECT m.network || ' ' || m.post_id, m.status != 'open' OR a.state IN ('sent', 'resolved') "
            "FROM mentions m LEFT JOIN alerts a ON a.mention_id = m.id"
        ).fetchall())
        on_the_way = conn.execute(
            "SELECT (SELECT count(*) FROM alerts WHERE state = 'sending' OR edit_at IS NOT NULL)"
            " + (SELECT count(*) FROM digests WHERE state = 'sending')"
        ).fetchone()[0]
    return on_the_way == 0 and all(done.get(f"{network} {post_id}") == 1 for network, post_id in posts)


@pytest.mark.slow
def test_alert_update_kill_restart(env: dict[str, str], fake_x: FakeX, fake_slack: FakeSlack, tmp_path: Path) -> None:
    bot = Bot({**env, "ALERT_AFTER": "3s", "POLL_INTERVAL": "1s", "LOG_LEVEL": "DEBUG"}, tmp_path / "bot.log")
    db = Path(env["DATABASE_URL"].removeprefix("sqlite:///"))
    acme, bob, carol, dave, eve = (fake_x.user("acme"), *(fake_x.add_user(n) for n in ("bob", "carol", "dave", "eve")))
    fake_x.limit = 100_000  # X allows a read every second: at 450 per 15 minutes its headers would stretch it to 2 s
    bot.start()
    try:
        assert wait_for(lambda: fake_x.http.calls("/mentions"), timeout=20), bot.log_path.read_text()

        unanswered = fake_x.post(bob, "@acme where is my refund?")
        answered_in_time = fake_x.post(carol, "@acme quick question")
        own = fake_x.post(acme, "Hello from @acme")
        thread_start = fake_x.post(dave, "@acme my order is late")
        thread_later = fake_x.post(dave, "@acme it is order 42", reply_to=thread_start)
        time.sleep(0.5)
        fake_x.post(acme, "@carol sure, ask away", reply_to=answered_in_time)
        fake_x.post(acme, "@dave checking now", reply_to=thread_later)
        # Slack takes one message a second per channel: people who write a second apart are alerted on time.
        time.sleep(0.7)
        late = fake_x.post(carol, "@acme are you there?")
        time.sleep(1.2)
        hostile = fake_x.post(eve, "@acme <!channel> & <@U1>")
        posted = {i: t.created_at.timestamp() for i, t in fake_x.tweets.items()}

        assert wait_for(lambda: len(fake_slack.posts()) >= 3, timeout=15), bot.log_path.read_text()[-3000:]
        # anything wrongly due would have been alerted once the replies were read past every due time, and posted
        mentions = [("x", str(m)) for m in (unanswered, answered_in_time, thread_start, thread_later, late, hostile)]
        last_due = datetime.fromtimestamp(max(posted.values()) + 3, UTC)
        assert wait_for(lambda: replies_read_after(db, last_due) and settled(db, mentions), timeout=15), bot.log_path.read_text()[-3000:]
        alerted = {mention_id: fake_slack.alerts_for(mention_id)[0] for mention_id in fake_slack.alerted()}
        assert set(alerted) == {unanswered, late, hostile}
        for mention_id, message in alerted.items():
            waited = message.received_at - posted[mention_id]
            assert 3.0 <= waited <= 6.0, f"alerted {waited:.2f}s after it was posted"
        assert own not in alerted and thread_start not in alerted and answered_in_time not in alerted

        shown = alerted[hostile].blocks[0]["text"]["text"]
        assert "&lt;!channel&gt; &amp; &lt;@U1&gt;" in shown and "<!channel>" not in alerted[hostile].text

        fake_x.post(acme, "@carol yes, sorry for the wait", reply_to=late)
        assert wait_for(lambda: alerted[late].edits, timeout=10)
        assert "answered after" in alerted[late].blocks[0]["text"]["text"]

        assert bot.stop(signal.SIGKILL) == -signal.SIGKILL
        fake_x.post(acme, "@bob refund sent", reply_to=unanswered)
        while_down = fake_x.post(bob, "@acme another thing")
        posted[while_down] = fake_x.tweets[while_down].created_at.timestamp()

        bot.start()
        assert wait_for(lambda: alerted[unanswered].edits, timeout=15), bot.log_path.read_text()[-3000:]
        assert wait_for(lambda: fake_slack.alerts_for(while_down), timeout=15)
        assert wait_for(lambda: settled(db, [*mentions, ("x", str(while_down))]), timeout=15), "nothing left on its way to Slack"
        per_mention = [len(fake_slack.alerts_for(m)) for m in (unanswered, late, hostile, while_down)]
        assert per_mention == [1, 1, 1, 1], "no second alert for anything after the restart"
        assert len(fake_slack.posts()) == 4
        for message in (alerted[late], alerted[unanswered]):
            # An edit may be redone if the kill fell between Slack's answer and our commit; it changes nothing.
            assert all((e["text"], e["blocks"]) == (message.text, message.blocks) for e in message.edits[1:])  # each also has its time
            assert "answered after" in message.blocks[0]["text"]["text"]

        assert bot.stop(signal.SIGTERM) == 0
    finally:
        if bot.proc and bot.proc.poll() is None:
            bot.proc.kill()

    log_text = bot.log_path.read_text()
    assert "Making API request" in log_text, "ran at DEBUG, with tweepy's own logging on"
    for secret in (env["X_BEARER_TOKEN"], env["SLACK_BOT_TOKEN"]):
        assert secret not in log_text
    assert "Traceback" not in log_text


@pytest.mark.slow
def test_socket_mode_in_the_running_process(env: dict[str, str], fake_x: FakeX, fake_slack: FakeSlack, tmp_path: Path) -> None:
    """With SLACK_APP_TOKEN, `replywatch run` connects over Socket Mode, alerts carry buttons, a click works."""
    import json

    from tests.standins.socket_mode import SocketModeStandIn

    socket = SocketModeStandIn()
    fake_slack.socket_url = socket.url
    bot = Bot({**env, "ALERT_AFTER": "2s", "POLL_INTERVAL": "1s", "SLACK_APP_TOKEN": fake_slack.app_token, "LOG_LEVEL": "DEBUG"},
              tmp_path / "bot.log")
    bob = fake_x.add_user("bob")
    bot.start()
    try:
        alert = _alerted_over_socket_mode(bot, socket, fake_x, fake_slack, bob)
        acked = socket.ack(_click(socket, alert, "claim"))
        assert acked is not None and acked[1] < 3
        assert wait_for(lambda: "claimed by <@U0JANE>" in json.dumps(alert.blocks), timeout=10), bot.log_path.read_text()[-3000:]
        assert bot.stop(signal.SIGTERM) == 0
    finally:
        if bot.proc and bot.proc.poll() is None:
            bot.proc.kill()
        socket.close()
    log = bot.log_path.read_text()
    assert fake_slack.app_token not in log and "t-secret-ticket" not in log, "app token and websocket ticket redacted"


@pytest.mark.slow
def test_sigterm_while_x_and_slack_hang_exits_0_in_5s_and_loses_nothing(
    env: dict[str, str], fake_x: FakeX, fake_slack: FakeSlack, tmp_path: Path
) -> None:
    """Docker sends SIGTERM and kills 10 s later. With an alert post and a poll both hanging, the bot still exits
    0 within 5 s; after the restart every mention is alerted exactly once, the one in flight included."""
    bot = Bot({**env, "ALERT_AFTER": "2s", "POLL_INTERVAL": "1s", "HTTP_TIMEOUT": "10s"}, tmp_path / "bot.log")
    acme, bob, carol = fake_x.user("acme"), fake_x.add_user("bob"), fake_x.add_user("carol")
    fake_x.limit = 100_000
    release = threading.Event()

    def posted_but_unanswered(request: object) -> str | None:
        # Slack posts the alert, then its answer never comes: the worst case for "exactly once".
        if "chat.postMessage" in request.path and not release.is_set():  # type: ignore[attr-defined]
            release.wait(60)
            return "drop"
        return None

    bot.start()
    try:
        first = fake_x.post(bob, "@acme hello?")
        assert wait_for(lambda: fake_slack.alerts_for(first), timeout=20), bot.log_path.read_text()[-3000:]

        fake_slack.http.after = posted_but_unanswered
        fake_slack.http.fail("chat.update", delay=60, times=100)
        in_flight = fake_x.post(carol, "@acme still waiting")
        assert wait_for(lambda: fake_slack.alerts_for(in_flight), timeout=15), bot.log_path.read_text()[-3000:]
        polls = len(fake_x.http.calls("/mentions"))
        fake_x.http.fail("/mentions", delay=60, times=100)
        fake_x.http.fail("/tweets", delay=60, times=100)
        assert wait_for(lambda: len(fake_x.http.calls("/mentions")) > polls, timeout=5), "a poll is hanging"
        during = fake_x.post(bob, "@acme and another thing")
        fake_x.post(acme, "@bob hi!", reply_to=first)  # its "answered" edit waits for the restart too

        code, took = bot.stop_timed(signal.SIGTERM)
        assert code == 0 and took <= 5, f"exit {code} after {took:.1f}s\n{bot.log_path.read_text()[-3000:]}"

        release.set()
        fake_slack.http.after = None
        fake_slack.http.faults.clear()
        fake_x.http.faults.clear()
        bot.start()
        assert wait_for(lambda: fake_slack.alerts_for(during), timeout=20), bot.log_path.read_text()[-3000:]
        [alert] = fake_slack.alerts_for(first)
        assert wait_for(lambda: alert.edits, timeout=10), bot.log_path.read_text()[-3000:]
        polls = len(fake_x.http.calls("/mentions"))
        assert wait_for(lambda: len(fake_x.http.calls("/mentions")) >= polls + 2, timeout=10), "two more polls and sweeps"
        assert sorted(fake_slack.alerted()) == sorted([first, in_flight, during]), "each alerted exactly once"
        assert bot.stop(signal.SIGTERM) == 0
    finally:
        release.set()
        if bot.proc and bot.proc.poll() is None:
            bot.proc.kill()
    assert "Traceback" not in bot.log_path.read_text()


@pytest.mark.slow
def test_sigterm_while_a_button_click_waits_on_slack_exits_0_in_5s(
    env: dict[str, str], fake_x: FakeX, fake_slack: FakeSlack, tmp_path: Path
) -> None:
    """Socket Mode: "No reply needed" was clicked and its form (views.open) hangs; SIGTERM still ends it in 5 s."""
    from tests.standins.socket_mode import SocketModeStandIn

    socket = SocketModeStandIn()
    fake_slack.socket_url = socket.url
    bot = Bot({**env, "ALERT_AFTER": "2s", "POLL_INTERVAL": "1s", "HTTP_TIMEOUT": "10s", "SLACK_APP_TOKEN": fake_slack.app_token},
              tmp_path / "bot.log")
    bob = fake_x.add_user("bob")
    bot.start()
    try:
        alert = _alerted_over_socket_mode(bot, socket, fake_x, fake_slack, bob)
        fake_slack.http.fail("views.open", delay=60)
        assert socket.ack(_click(socket, alert, "close")) is not None
        assert wait_for(lambda: fake_slack.http.calls("views.open"), timeout=5), "the form is hanging"

        code, took = bot.stop_timed(signal.SIGTERM)
        assert code == 0 and took <= 5, f"exit {code} after {took:.1f}s\n{bot.log_path.read_text()[-3000:]}"
    finally:
        if bot.proc and bot.proc.poll() is None:
            bot.proc.kill()
        socket.close()
    assert "Traceback" not in bot.log_path.read_text()


def _alerted_over_socket_mode(bot: Bot, socket, fake_x: FakeX, fake_slack: FakeSlack, author) -> Message:  # noqa: ANN001
    """Once the bot is connected over Socket Mode, a mention by `author` and its alert."""
    assert socket.wait_connected(timeout=20), bot.log_path.read_text()[-3000:]
    mention = fake_x.post(author, "@acme hello?")
    assert wait_for(lambda: fake_slack.alerts_for(mention), timeout=15), bot.log_path.read_text()[-3000:]
    return fake_slack.alerts_for(mention)[0]


def _click(socket, alert: Message, action: str) -> str:  # noqa: ANN001
    """Jane clicks a button of the alert, as Slack sends it over Socket Mode; returns the envelope id."""
    [button] = [e for b in alert.blocks if b["type"] == "actions" for e in b["elements"] if e["action_id"] == action]
    return socket.send("interactive", {
        "type": "block_actions", "team": {"id": "T0ACME"}, "api_app_id": "A0APP",
        "user": {"id": "U0JANE", "team_id": "T0ACME"}, "channel": {"id": alert.channel},
        "container": {"type": "message", "message_ts": alert.ts}, "trigger_id": "1.2.3",
        "actions": [{"action_id": action, "block_id": alert.metadata["event_payload"]["tag"], "type": "button", "value": button["value"]}],
    })


def test_healthz_turns_503_within_a_poll_interval_of_the_token_being_refused(
    env: dict[str, str], fake_x: FakeX, fake_slack: FakeSlack, tmp_path: Path
) -> None:
    """METRICS_PORT: /healthz says 200 while X answers, and 503 with the reason within one poll interval of X
    refusing the token; /metrics says the same."""
    import socket as sockets
    import urllib.error
    import urllib.request

    with sockets.socket() as probe:  # a free port for the bot to take
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    bot = Bot({**env, "POLL_INTERVAL": "1s", "METRICS_PORT": str(port)}, tmp_path / "bot.log")
    fake_x.limit = 100_000

    def get(path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as answer:
                return answer.status, answer.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()
        except OSError:
            return 0, ""  # not listening yet

    bot.start()
    try:
        assert wait_for(lambda: get("/healthz") == (200, "ok\n"), timeout=20), bot.log_path.read_text()[-3000:]
        assert 'replywatch_collection_healthy{account="acme",network="x"} 1.0' in get("/metrics")[1]
        token = fake_x.bearer
        fake_x.bearer = "x-another-token"
        refused = time.monotonic()
        assert wait_for(lambda: get("/healthz")[0] == 503, timeout=10), bot.log_path.read_text()[-3000:]
        took = time.monotonic() - refused
        assert took <= 1.5, f"503 {took:.2f}s after the token was refused: more than a poll interval and the read"
        status, body = get("/healthz")
        assert body.startswith("collection: @acme on X: token refused: ") and token not in body, body
        assert 'replywatch_collection_healthy{account="acme",network="x"} 0.0' in get("/metrics")[1]
        assert bot.stop(signal.SIGTERM) == 0
    finally:
        if bot.proc and bot.proc.poll() is None:
            bot.proc.kill()
    assert "Traceback" not in bot.log_path.read_text()
