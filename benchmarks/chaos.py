"""The chaos run (`make chaos`): one `replywatch run` as a real process, watching an X, a Bluesky and a Mastodon
account, while every part but one misbehaves at once, in the ways issue "Bulkheads" lists:

- the Bluesky account's network hangs (every request waits for ever);
- the Mastodon instance drips its look-ups (CHECK_DELETED) a byte a second, never idle long enough for a timeout;
- the report's chart upload fails (Slack answers 500 to files_upload_v2's steps);
- the Mastodon account's channel is archived;
- 500 idle connections sit on the metrics port, reopened as soon as one is closed.

The X account, alerting into a healthy channel (the one the report goes to, too), gets a mention every EVERY
seconds, and half of them are answered after their alert (under Slack's one message a second per channel). What is
measured: each X alert's lateness past its due time, and each answered alert's edit after the reply; that nothing
is lost or posted twice; that /healthz answers throughout; and what `replywatch health` says when the run ends. Exit
1 when a promise is broken.

    python -m benchmarks.chaos [--seconds 150]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.standins.bluesky_api import FakeBluesky
from bot.standins.http import Reply, wait_for
from bot.standins.mastodon_api import FakeMastodon
from bot.standins.x_api import FakeX
from tests.standins.slack_api import UPLOAD_PATH, FakeSlack, Message

ROOT = Path(__file__).resolve().parents[1]
POLL, ALERT_AFTER, HTTP_TIMEOUT = 2.0, 5.0, 3.0
APP_PASSWORD, MASTODON_TOKEN = "bsky-chaos-app-pass", "masto-chaos-token"
IDLE_CONNECTIONS = 500
EVERY = 3.0  # seconds between two X mentions: with the edits, half of Slack's message a second


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class IdleConnections:
    """`count` connections to a port that never finish a request; each closed by the server is opened again."""

    def __init__(self, port: int, count: int) -> None:
        self.port, self.count = port, count
        self.stop = threading.Event()
        self.opened = 0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        held: list[socket.socket] = []
        while not self.stop.is_set():
            alive = []
            for s in held:
                try:
                    s.setblocking(False)
                    if s.recv(1) == b"":  # the server closed it
                        s.close()
                        continue
                except BlockingIOError:
                    pass
                except OSError:
                    s.close()
                    continue
                alive.append(s)
            held = alive
            while len(held) < self.count and not self.stop.is_set():
                try:
                    s = socket.create_connection(("127.0.0.1", self.port), timeout=1)
                    s.sendall(b"GET /metr")  # a request line never finished
                    held.append(s)
                    self.opened += 1
                except OSError:
                    break
            self.stop.wait(0.5)
        for s in held:
            s.close()


def tag(message: Message) -> str:
    return ((message.metadata or {}).get("event_payload") or {}).get("tag", "")


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} s / {p99(values):.2f} s / {max(values):.2f} s" if values else "-"


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] if ordered else 0.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.chaos", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=150.0, help="how long the faults last (the channel is down from 2 min)")
    parser.add_argument("--calm", action="store_true", help="the same traffic with no fault: the figures to hold the others against")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="replywatch-chaos-"))
    x, slack = FakeX(), FakeSlack(channels={"C0ALERTS": "alerts", "C0BSKY": "bsky", "C0MASTO": "masto"})
    bsky, masto = FakeBluesky(), FakeMastodon(token=MASTODON_TOKEN)
    x.limit = 1_000_000
    acme = x.add_user("acme", "Acme Inc")
    bsky.add_user("acme.bsky.social", "Acme", password=APP_PASSWORD)
    b_fan = bsky.add_user("fan.bsky.social")
    masto.add_account("acme")
    m_fan = masto.add_account("fan")
    metrics_port = free_port()
    report_at = (datetime.now(UTC) + timedelta(seconds=105)).strftime("%H:%M")  # falls due 45–105 s from now
    (work / "replywatch.toml").write_text(
        '[[accounts]]\nnetwork = "x"\nhandle = "acme"\n\n'
        f'[[accounts]]\nnetwork = "bluesky"\nhandle = "acme.bsky.social"\ninstance = "{bsky.url}"\n'
        'app_password_env = "BLUESKY_APP_PASSWORD"\nchannel = "#bsky"\n\n'
        f'[[accounts]]\nnetwork = "mastodon"\nhandle = "acme"\ninstance = "{masto.url}"\n'
        'access_token_env = "MASTODON_TOKEN"\nchannel = "#masto"\n'
    )
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("X_", "SLACK_"))},
        "PYTHONPATH": str(ROOT), "X_ACCOUNT": "acme", "X_BEARER_TOKEN": x.bearer, "X_API_BASE_URL": x.url,
        "SLACK_BOT_TOKEN": slack.token, "SLACK_CHANNEL": "#alerts", "SLACK_API_BASE_URL": slack.url,
        "DATABASE_URL": f"sqlite:///{work}/replywatch.db", "HTTP_TIMEOUT": f"{HTTP_TIMEOUT:g}s",
        "ALERT_AFTER": f"{ALERT_AFTER:g}s", "POLL_INTERVAL": f"{POLL:g}s", "ESCALATE_AFTER": "0", "REMIND_EVERY": "0",
        "DIGEST_THRESHOLD": "1000", "REPLYWATCH_CONFIG": str(work / "replywatch.toml"), "BLUESKY_APP_PASSWORD": APP_PASSWORD,
        "MASTODON_TOKEN": MASTODON_TOKEN, "METRICS_PORT": str(metrics_port), "REPORT_EVERY": f"daily {report_at}",
        "CHECK_DELETED": "true",
    }
    log_path = work / "bot.log"
    with log_path.open("ab") as log:
        proc = subprocess.Popen([sys.executable, "-m", "bot", "run"], env=env, stdout=log, stderr=log, cwd=work)
    idle = IdleConnections(metrics_port, IDLE_CONNECTIONS)
    posted: dict[int, float] = {}  # X mention → when posted (wall time)
    replied: dict[int, float] = {}  # X mention → when answered (wall time)
    try:
        started = lambda: all((x.http.calls("/mentions"), bsky.http.calls("listNotifications"), masto.http.calls("notifications")))  # noqa: E731
        if not wait_for(started, timeout=60):
            print(log_path.read_text()[-3000:])
            return 1
        if not args.calm:
            faults(bsky, masto, slack)
            idle.thread.start()
        faults_at = time.time()
        fans = [x.add_user(f"fan{i}") for i in range(int(args.seconds / EVERY) + 1)]
        for i in range(3):
            masto.post(m_fan, f"@acme is anyone there? {i}")
            bsky.post(b_fan, f"@acme hello {i}")
        healthz: list[int] = []
        step = 0
        while time.time() - faults_at < args.seconds:
            if step < len(fans):
                mention = x.post(fans[step], f"@acme question {step}")
                posted[mention] = time.time()
            for mention, at in list(posted.items()):  # answer every other one a while after its alert
                if mention not in replied and mention % 2 == 0 and time.time() - at > ALERT_AFTER + POLL + 3:
                    x.post(acme, "@fan on it", reply_to=mention)
                    replied[mention] = time.time()
            if step % 10 == 0:
                healthz.append(_healthz(metrics_port))
            step += 1
            time.sleep(EVERY)
        time.sleep(ALERT_AFTER + 3 * POLL)  # the last mentions fall due and are alerted
        health = subprocess.run([sys.executable, "-m", "bot", "health"], env=env, capture_output=True, text=True, cwd=work, timeout=60)
        status = subprocess.run([sys.executable, "-m", "bot", "status"], env=env, capture_output=True, text=True, cwd=work, timeout=60)
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=30)
    finally:
        idle.stop.set()
        if proc.poll() is None:
            proc.kill()
        for stand_in in (x, slack, bsky, masto):
            stand_in.close()
    return _judge(posted, replied, slack, health, status, code, healthz, idle.opened, log_path, args.calm)


def faults(bsky: FakeBluesky, masto: FakeMastodon, slack: FakeSlack) -> None:
    """Every fault but the metrics port's, at once."""
    bsky.http.delays["/xrpc/"] = 3600.0  # the Bluesky account's network hangs
    masto.http.fail("/api/v1/statuses", Reply(200, [{"pad": "x" * 4000}], drip=1.0), times=1_000_000)  # look-ups drip
    slack.http.fail("files.getUploadURLExternal", Reply(500, {"ok": False, "error": "internal_error"}), times=1_000_000)
    slack.http.fail(UPLOAD_PATH, Reply(500, "upstream broke"), times=1_000_000)
    slack.archived.add("C0MASTO")


def _healthz(port: int) -> int:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as answer:
            return answer.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0


def _judge(posted, replied, slack, health, status, code, healthz, opened, log_path, calm) -> int:  # noqa: ANN001, PLR0913
    x_alerts: dict[int, list[Message]] = {}
    for m in slack.posts():
        shown = json.dumps([m.blocks, m.edits])
        if m.channel == "C0ALERTS" and tag(m).startswith("mention:") and "/status/" in shown:
            for mention in posted:
                if f"/status/{mention}" in shown:
                    x_alerts.setdefault(mention, []).append(m)
    late = [x_alerts[m][0].received_at - (at + ALERT_AFTER) for m, at in posted.items() if m in x_alerts]
    edits = [
        x_alerts[m][0].edits[0]["at"] - at for m, at in replied.items() if m in x_alerts and x_alerts[m][0].edits
    ]
    tags = Counter(tag(m) for m in slack.posts() if tag(m))
    twice = [t for t, n in tags.items() if n > 1]
    due = [m for m, at in posted.items() if m not in replied or replied[m] - at > ALERT_AFTER]
    missing = [m for m in due if m not in x_alerts]
    broken = health.stderr
    names = {
        "Bluesky": "acme.bsky.social on Bluesky" in broken,
        "Mastodon look-ups": "look-ups of @acme on Mastodon" in broken or "look-ups of @acme@" in broken,
        "chart uploads": "chart uploads" in broken,
        "archived channel": "C0MASTO" in broken,
    }
    rows = [
        ("X alerts", f"{len(x_alerts)} of {len(due)} due"),
        ("alert lateness p50 / p99 / max", spread(late)),
        ("edit after the reply p50 / p99 / max", spread(edits)),
        ("edits", f"{len(edits)} of {len(replied)} answered"),
        ("messages posted twice", str(len(twice))),
        ("/healthz answered (status codes)", ", ".join(str(c) for c in sorted(set(healthz)))),
        ("idle connections opened on the metrics port", str(opened)),
        ("`health` exit code", str(health.returncode)),
        *((f"`health` names {part}", "yes" if named else "NO") for part, named in names.items()),
        ("bot exit code on SIGTERM", str(code)),
    ]
    width = max(len(r[0]) for r in rows)
    settings = f"POLL_INTERVAL={POLL:g}s ALERT_AFTER={ALERT_AFTER:g}s HTTP_TIMEOUT={HTTP_TIMEOUT:g}s"
    print(f"chaos run, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC: {settings}, an X mention every {EVERY:g} s")
    for name, value in rows:
        print(f"  {name:<{width}}  {value}")
    print("health said:\n" + "".join(f"  {line}\n" for line in broken.splitlines()))
    print("status said:\n" + "".join(f"  {line}\n" for line in status.stdout.splitlines() if line.startswith(("health", "  ", "slack"))))
    failures = []
    if missing:
        failures.append(f"{len(missing)} due X mention(s) never alerted")
    if twice:
        failures.append(f"posted twice: {twice[:5]}")
    if late and p99(late) > POLL + 2:
        failures.append(f"alert lateness p99 {p99(late):.2f} s > POLL_INTERVAL + 2 s")
    if edits and p99(edits) > POLL + 3:
        failures.append(f"edit lateness p99 {p99(edits):.2f} s > POLL_INTERVAL + 3 s")
    if len(edits) < len([m for m in replied if m in x_alerts]):
        failures.append("an answered alert was not edited")
    if not calm and (health.returncode != 1 or not all(names.values())):
        failures.append("`health` did not name every broken part")
    if not healthz or 0 in healthz:
        failures.append("/healthz did not answer")
    if "Traceback" in log_path.read_text():
        failures.append(f"a traceback in {log_path}")
    for failure in failures:
        print(f"BROKEN: {failure}")
    if failures:
        print(f"the bot's log: {log_path}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
