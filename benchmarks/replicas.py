"""Several replicas on one PostgreSQL, the leader SIGKILLed again and again: is every mention alerted once?

Three `replywatch run` processes share a database and the X and Slack stand-ins (bot/standins, tests/standins). Mentions keep
arriving; every third is answered once its alert is in Slack (an "answered" edit follows), the others are
escalated in their alert's thread (a follow-up). Slack answers slowly (3 s a call). Every `kill_every` seconds
the replica that leads is SIGKILLed and started again. Each kill is timed for the worst case it can be without
measuring something else: a Slack post or edit in flight (it lands seconds after the kill, while a standby takes
over), between two polls of X (a kill in the middle of a poll makes the next leader read that poll again: redone
by design, and not what this measures).

    python -m benchmarks.replicas [--minutes M] [--kill-every S]

needs PostgreSQL (TEST_POSTGRES_URL, default postgresql+psycopg://postgres@127.0.0.1:5432/test) and makes a
database of its own there. tests/e2e/test_replicas.py runs the same scenario for about 30 seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psycopg

from bot.leadership import lock_key
from bot.standins.http import Request, wait_for
from bot.standins.x_api import FakeX
from tests.standins.slack_api import FakeSlack, Message

ROOT = Path(__file__).resolve().parents[1]
POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
SLACK_CALLS = ("chat.postMessage", "chat.update")
ANSWERED = "was answered after"


@dataclass
class Settings:
    """The scenario's knobs; the defaults are the benchmark's, the e2e test passes shorter ones."""

    seconds: float = 300  # how long mentions keep arriving
    kill_every: float = 20
    mention_every: float = 10
    answer_every: int = 3  # every n-th mention is answered once alerted; 0: none
    slack_latency: float = 3.0  # seconds a post or an edit takes
    http_timeout: int = 5  # seconds; also the takeover grace
    escalate_after: int = 20  # seconds
    replicas: int = 3
    drain: float = 120  # seconds allowed, after the last mention, for everything to reach Slack


@dataclass
class Figures:
    seconds: float
    replicas: int
    kills: int
    kills_with_slack_call_in_flight: int
    mentions_published: int
    mentions_lost: int
    duplicate_alerts: int
    duplicate_edits: int
    duplicate_follow_ups: int
    timeline_posts_read_per_post_published: float
    mentions_reads_per_second: float  # one reader polling every second: about 1
    longest_without_leader: float  # seconds
    takeovers: list[float] = field(default_factory=list)  # seconds from each kill to the next leader
    alerts: int = 0
    edits: int = 0
    follow_ups: int = 0
    drained: bool = True  # everything due reached Slack within `drain`


class Replica:
    """One `replywatch run` process, its output appended to its own log."""

    def __init__(self, env: dict[str, str], workdir: Path, name: str) -> None:
        self.env, self.workdir, self.log_path = env, workdir, workdir / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "bot", "run"], env=self.env, stdout=log, stderr=log, cwd=self.workdir)

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None and self.proc.poll() is None else None

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=20)

    def terminate(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)

    def wait(self) -> int | None:
        """Its exit code once it has stopped (killed if SIGTERM did not stop it within 10 s)."""
        if self.proc is None:
            return None
        try:
            return self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


class Scenario:
    """The replicas, the stand-ins they talk to, and what is watched: who holds the lead (PostgreSQL's pg_locks),
    when X's timelines are read and which Slack calls are in flight."""

    def __init__(self, x: FakeX, slack: FakeSlack, env: dict[str, str], database_url: str, workdir: Path, settings: Settings) -> None:
        self.x, self.slack, self.settings, self.workdir = x, slack, settings, workdir
        self.database_url = database_url
        base = {k: v for k, v in os.environ.items() if not k.startswith(("X_", "SLACK_")) and k not in _setting_names()}
        self.env = {
            **base, **env, "PYTHONPATH": str(ROOT), "DATABASE_URL": database_url, "POLL_INTERVAL": "1s", "ALERT_AFTER": "2s",
            "HTTP_TIMEOUT": f"{settings.http_timeout}s", "ESCALATE_AFTER": f"{settings.escalate_after}s", "REMIND_EVERY": "0",
            "DIGEST_THRESHOLD": "1000", "CHECK_DELETED": "false", "LOG_LEVEL": "INFO",
        }
        self.replicas = [Replica(self.env, workdir, f"replica{i}") for i in range(settings.replicas)]
        self.leaders: list[tuple[float, int | None]] = []  # (monotonic, pid holding the lead), on each change
        self.timeline_reads: list[tuple[float, str]] = []
        self.slack_calls: list[float] = []  # when each post or edit arrived
        self.kills: list[tuple[float, int, bool]] = []  # (monotonic, pid, a Slack call was in flight)
        self.mentions: list[int] = []
        self.answered: set[int] = set()
        self._done = threading.Event()
        x.limit = 1_000_000  # X's headers would stretch a 1 s interval; this is about who reads, not how often
        x.http.before = self._x_request
        slack.http.before = self._slack_request
        # Posts and edits are slow; searches of the history answer at once, so a search made after a kill can run
        # before a post made before it has landed (what the takeover grace is for).
        slack.http.delays = dict.fromkeys(SLACK_CALLS, settings.slack_latency)

    # --- what is watched ------------------------------------------------------------------------------

    def _x_request(self, request: Request) -> None:
        if request.path.endswith(("/mentions", "/tweets")):
            self.timeline_reads.append((time.monotonic(), request.path.rsplit("/", 1)[1]))

    def _slack_request(self, request: Request) -> None:
        if request.path.endswith(SLACK_CALLS):
            self.slack_calls.append(time.monotonic())

    def _watch_leader(self) -> None:
        high, low = _halves(lock_key(self.env["X_ACCOUNT"]))
        query = (
            "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a USING (pid) WHERE l.locktype = 'advisory' "
            "AND l.granted AND l.objsubid = 1 AND l.classid::bigint = %s AND l.objid::bigint = %s"
        )
        with psycopg.connect(_libpq(self.database_url), autocommit=True) as conn:
            while not self._done.is_set():
                row = conn.execute(query, (high, low)).fetchone()
                found = re.search(r":(\d+)$", row[0]) if row else None
                pid = int(found.group(1)) if found else None
                if not self.leaders or self.leaders[-1][1] != pid:
                    self.leaders.append((time.monotonic(), pid))
                self._done.wait(0.02)

    def leader(self) -> Replica | None:
        pid = self.leaders[-1][1] if self.leaders else None
        return next((r for r in self.replicas if pid is not None and r.pid == pid), None)

    # --- what happens ---------------------------------------------------------------------------------

    def kill_leader(self, patience: float = 5.0) -> None:
        """SIGKILL the leader between two of its polls, preferably just after it sent a post or an edit (which lands
        a Slack call's time later); start it again. With no leader to be found, the first replica is killed."""
        deadline = time.monotonic() + patience
        while True:
            now, leader = time.monotonic(), self.leader()
            reads = [t for t, _ in self.timeline_reads[-4:]]
            mentions = [t for t, what in self.timeline_reads[-4:] if what == "mentions"]
            between_polls = bool(reads) and now - reads[-1] >= 0.15 and bool(mentions) and now - mentions[-1] <= 0.8
            in_flight = bool(self.slack_calls) and now - self.slack_calls[-1] < min(0.2, self.settings.slack_latency / 2)
            if between_polls and (in_flight or now > deadline) and (leader is not None or now > deadline + patience):
                break
            time.sleep(0.005)
        victim = leader or self.replicas[0]
        pid = victim.pid or 0
        victim.kill()
        self.kills.append((now, pid, in_flight))
        victim.start()

    def _post_mentions(self, fans: list, until: float) -> None:
        for fan in fans:
            if time.monotonic() >= until:
                return
            self.mentions.append(self.x.post(fan, f"@acme question from {fan.username}"))
            self._done.wait(self.settings.mention_every)

    def _answer_alerted(self) -> None:
        """Answer every n-th mention once its alert is in Slack: the alert is then edited to say so."""
        every = self.settings.answer_every
        for i, mention in enumerate(list(self.mentions)):
            if every and i % every == 0 and mention not in self.answered and self.slack.alerts_for(mention):
                author = self.x.users[self.x.tweets[mention].author_id]
                self.x.post(self.x.user("acme"), f"@{author.username} thanks, sorted", reply_to=mention)
                self.answered.add(mention)

    def _drained(self) -> bool:
        """Everything is in Slack: every mention alerted, every answered one's alert edited to say so, every other
        one escalated in its alert's thread."""
        for mention in list(self.mentions):
            alerts = self.slack.alerts_for(mention)
            if not alerts:
                return False
            done = ANSWERED in json.dumps(alerts[0].blocks) if mention in self.answered else self.slack.thread(alerts[0].ts)
            if not done:
                return False
        return True

    def run(self) -> Figures:
        s = self.settings
        fans = [self.x.add_user(f"fan{i}") for i in range(int(s.seconds / s.mention_every) + 2)]
        watcher = threading.Thread(target=self._watch_leader, daemon=True)
        watcher.start()
        started = time.monotonic()
        for replica in self.replicas:
            replica.start()
        try:
            up = wait_for(lambda: any(w == "mentions" for _, w in self.timeline_reads), timeout=60)
            assert up, "nothing reads X: " + self.replicas[0].log()[-3000:]
            begin = time.monotonic()
            until = begin + s.seconds
            poster = threading.Thread(target=self._post_mentions, args=(fans, until), daemon=True)
            poster.start()
            next_kill = begin + s.kill_every
            while time.monotonic() < until:
                self._answer_alerted()
                if time.monotonic() >= next_kill and until - time.monotonic() > 1:
                    self.kill_leader()
                    next_kill += s.kill_every
                time.sleep(0.1)
            poster.join()
            drain_until = time.monotonic() + s.drain + s.escalate_after
            drained = False
            while time.monotonic() < drain_until and not drained:
                self._answer_alerted()
                drained = self._drained()
                time.sleep(0.2)
            self._settle()
        finally:
            ended = time.monotonic()
            for replica in self.replicas:
                replica.terminate()
            for replica in self.replicas:
                replica.wait()
            self._done.set()
            watcher.join(timeout=5)
        return self._figures(ended - started, begin, ended, drained)

    def _settle(self) -> None:
        """Wait for a sign that nothing more is coming: two more polls (each followed by a sweep), and no post or
        edit for longer than a Slack call and a sweep take."""
        reads = len(self.timeline_reads)
        wait_for(lambda: sum(w == "mentions" for _, w in self.timeline_reads[reads:]) >= 2, timeout=10)
        quiet = self.settings.slack_latency + 1.5
        wait_for(lambda: not self.slack_calls or time.monotonic() - self.slack_calls[-1] > quiet, timeout=30)

    # --- what came of it ------------------------------------------------------------------------------

    def _figures(self, seconds: float, begin: float, ended: float, drained: bool) -> Figures:
        alerted = self.slack.alerted()
        firsts = [self.slack.alerts_for(m)[0] for m in set(alerted)]
        published = len(self.mentions) + len(self.answered)  # the mentions, and the account's replies
        read = self.x.served["mentions"] + self.x.served["tweets"]
        polls = [at for at, what in self.timeline_reads if what == "mentions"]
        return Figures(
            seconds=round(seconds, 1),
            replicas=self.settings.replicas,
            kills=len(self.kills),
            kills_with_slack_call_in_flight=sum(flight for _, _, flight in self.kills),
            mentions_published=len(self.mentions),
            mentions_lost=len(set(self.mentions) - set(alerted)),
            duplicate_alerts=len(alerted) - len(set(alerted)),
            duplicate_edits=sum(_repeated_edits(m) for m in firsts),
            duplicate_follow_ups=sum(max(0, len(self.slack.thread(m.ts)) - 1) for m in firsts),
            timeline_posts_read_per_post_published=round(read / published, 3) if published else 0.0,
            mentions_reads_per_second=round((len(polls) - 1) / (polls[-1] - polls[0]), 2) if len(polls) > 1 else 0.0,
            longest_without_leader=round(self._longest_without_leader(begin, ended), 2),
            takeovers=[round(self._took_over(at, pid), 2) for at, pid, _ in self.kills],
            alerts=len(alerted),
            edits=sum(len(m.edits) for m in firsts),
            follow_ups=sum(len(self.slack.thread(m.ts)) for m in firsts),
            drained=drained,
        )

    def _longest_without_leader(self, begin: float, ended: float) -> float:
        longest, vacant_since = 0.0, None
        for at, pid in self.leaders:
            if pid is None and vacant_since is None:
                vacant_since = max(at, begin)
            elif pid is not None and vacant_since is not None:
                longest, vacant_since = max(longest, at - vacant_since), None
        return max(longest, ended - vacant_since) if vacant_since is not None else longest

    def _took_over(self, killed_at: float, pid: int) -> float:
        """Seconds from a kill to the moment another process held the lead (inf if none did)."""
        later = [at for at, holder in self.leaders if at >= killed_at - 0.05 and holder not in (None, pid)]
        return (later[0] - killed_at) if later else float("inf")


def _repeated_edits(message: Message) -> int:
    """Edits that changed nothing: the same text and blocks as the edit before (a redo after a kill)."""
    states = [*message.edits[1:], {"text": message.text, "blocks": message.blocks}] if message.edits else []
    return sum(a == b for a, b in zip(states, states[1:], strict=False))


def _halves(key: int) -> tuple[int, int]:
    """pg_locks shows a bigint advisory key as two unsigned 32-bit halves (classid, objid)."""
    unsigned = key & 0xFFFFFFFFFFFFFFFF
    return unsigned >> 32, unsigned & 0xFFFFFFFF


def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def _setting_names() -> set[str]:
    from bot.config.settings import Settings as BotSettings

    return {name.upper() for name in BotSettings.model_fields}


def stand_in_env(x: FakeX, slack: FakeSlack) -> dict[str, str]:
    return {
        "X_ACCOUNT": "acme", "X_BEARER_TOKEN": x.bearer, "X_API_BASE_URL": x.url, "SLACK_BOT_TOKEN": slack.token,
        "SLACK_CHANNEL": "#alerts", "SLACK_API_BASE_URL": slack.url,
    }


def run(minutes: float = 5, kill_every: float = 20) -> dict:
    """The scenario for `minutes` with the leader killed every `kill_every` seconds; prints and returns the figures."""
    admin = _libpq(POSTGRES_URL)
    name = f"replywatch_bench_{uuid.uuid4().hex[:12]}"
    try:
        with psycopg.connect(admin, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.Error as exc:
        raise SystemExit(f"benchmarks.replicas needs PostgreSQL at {POSTGRES_URL} (TEST_POSTGRES_URL): {exc}") from None
    x, slack = FakeX(), FakeSlack()
    x.add_user("acme", "Acme Inc")
    try:
        with tempfile.TemporaryDirectory(prefix="replywatch-replicas-") as workdir:
            settings = Settings(seconds=minutes * 60, kill_every=kill_every)
            scenario = Scenario(x, slack, stand_in_env(x, slack), POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}", Path(workdir), settings)
            figures = asdict(scenario.run())
    finally:
        x.close()
        slack.close()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    print(report(figures, settings))
    return figures


def report(figures: dict, settings: Settings) -> str:
    takeovers = ", ".join(f"{t:.2f}" for t in figures["takeovers"]) or "none"
    return "\n".join([
        f"{figures['replicas']} replicas on PostgreSQL, a mention every {settings.mention_every:g} s for {settings.seconds:g} s "
        f"({figures['seconds']:.0f} s in all, with start and drain), Slack {settings.slack_latency:g} s a post or edit, "
        f"the leader SIGKILLed {figures['kills']} times ({figures['kills_with_slack_call_in_flight']} just after it sent a post or edit)",
        f"  mentions published          {figures['mentions_published']}",
        f"  mentions lost               {figures['mentions_lost']}",
        f"  duplicate alerts            {figures['duplicate_alerts']}  (of {figures['alerts']} alerts)",
        f"  duplicate edits             {figures['duplicate_edits']}  (of {figures['edits']} edits)",
        f"  duplicate follow-ups        {figures['duplicate_follow_ups']}  (of {figures['follow_ups']} follow-ups)",
        f"  timeline posts read / post  {figures['timeline_posts_read_per_post_published']:.3f}",
        f"  mentions reads a second     {figures['mentions_reads_per_second']:.2f}  (POLL_INTERVAL=1s: one reader makes 1)",
        f"  longest without a leader    {figures['longest_without_leader']:.2f} s  (each takeover: {takeovers} s; then "
        f"{settings.http_timeout} s of grace before Slack work)",
        *([] if figures["drained"] else ["  NOT everything reached Slack within the drain time"]),
    ])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.replicas", description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=5, help="how long mentions keep arriving (default 5)")
    parser.add_argument("--kill-every", type=float, default=20, help="seconds between SIGKILLs of the leader (default 20)")
    args = parser.parse_args(argv)
    run(args.minutes, args.kill_every)
    return 0


if __name__ == "__main__":
    sys.exit(main())
