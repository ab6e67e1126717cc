"""The naive baseline: the polling loop a tutorial would write, to measure replywatch against.

One `mentions` table, no other state. A poll reads new mentions and the account's own posts with tweepy's
Paginator (since the newest id it has), inserts the mentions row by row in one transaction, and marks a mention
answered when one of the account's posts replies to it directly. The sweep alerts every open mention older than
ALERT_AFTER with one Slack message each, and the reminder pass reads every open alerted row and checks it in
Python. No pacing, no look-ups of deleted posts, no escaping, no crash safety: that is the point of a baseline.

It imports nothing from replywatch, so it runs as a script as well as from the harness:

    NAIVE_DB=/tmp/naive.db X_API_BASE_URL=... X_BEARER_TOKEN=... X_ACCOUNT=acme SLACK_API_BASE_URL=... \\
    SLACK_BOT_TOKEN=... SLACK_CHANNEL=#alerts ALERT_AFTER=3 POLL_INTERVAL=1 python benchmarks/naive.py run|status

NAIVE_DB is a SQLite path or a postgresql:// URL; durations are seconds.
"""

from __future__ import annotations

import os
import sqlite3
import sys
import time
from datetime import UTC, datetime, timedelta

import requests
import tweepy
from slack_sdk import WebClient

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS mentions (id BIGINT PRIMARY KEY, author TEXT, text TEXT, created_at {ts}, "
    "status TEXT, alerted INTEGER DEFAULT 0, reminded_at {ts})"
)
SWEEP_EVERY = 0.5  # the loop's pause, as often as replywatch sweeps, so the two are compared at the same cadence


class _Redirect(requests.Session):
    """tweepy only talks to api.twitter.com; this sends its requests to the stand-in instead (not baseline logic)."""

    def __init__(self, base_url: str) -> None:
        super().__init__()
        self.base_url = base_url.rstrip("/")

    def request(self, method, url, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN201
        kwargs.setdefault("timeout", 10)
        return super().request(method, url.replace("https://api.twitter.com", self.base_url), *args, **kwargs)


class Naive:
    """The shared loop; the two subclasses below hold what differs per database (about 10 lines each)."""

    ph, ts = "?", "TEXT"

    def __init__(self, db: str, env: dict[str, str], apis: bool = True) -> None:
        self.db = self.connect(db)
        self.db.execute(SCHEMA.format(ts=self.ts))
        self.db.commit()
        self.alert_after = timedelta(seconds=float(env.get("ALERT_AFTER", 1800)))
        self.remind_every = timedelta(seconds=float(env.get("REMIND_EVERY", 7200)))
        if apis:  # `status` reads the table only
            self.connect_apis(env)

    def connect_apis(self, env: dict[str, str]) -> None:
        self.x = tweepy.Client(bearer_token=env["X_BEARER_TOKEN"])
        self.x.session = _Redirect(env["X_API_BASE_URL"])
        self.me = self.x.get_user(username=env["X_ACCOUNT"]).data.id
        self.slack = WebClient(token=env["SLACK_BOT_TOKEN"], base_url=env["SLACK_API_BASE_URL"])
        self.channel = env["SLACK_CHANNEL"]
        self.since_mentions = self.sql("SELECT max(id) FROM mentions").fetchone()[0]
        self.since_posts = None

    def sql(self, query: str, *args: object):  # noqa: ANN201
        return self.db.execute(query.replace("?", self.ph), args)

    def fetch(self) -> tuple[list[tuple], list[int]]:
        """New mentions (id, author, text, created_at) and the ids the account's new posts reply to."""
        mentions, replied = [], []
        for page in tweepy.Paginator(self.x.get_users_mentions, self.me, since_id=self.since_mentions, max_results=100,
                                     tweet_fields=["created_at", "author_id"], expansions=["author_id"]):
            users = {u.id: u.username for u in (page.includes or {}).get("users", [])}
            mentions += [(t.id, users.get(t.author_id, ""), t.text, t.created_at) for t in page.data or []]
        for page in tweepy.Paginator(self.x.get_users_tweets, self.me, since_id=self.since_posts, max_results=100,
                                     tweet_fields=["referenced_tweets"]):
            for t in page.data or []:
                replied += [r.id for r in t.referenced_tweets or [] if r.type == "replied_to"]
                self.since_posts = max(self.since_posts or 0, t.id)
        if mentions:
            self.since_mentions = max(self.since_mentions or 0, *(m[0] for m in mentions))
        return mentions, replied

    def store(self, mentions: list[tuple], replied: list[int]) -> None:
        for mention_id, author, text, created_at in mentions:
            self.sql("INSERT INTO mentions (id, author, text, created_at, status, alerted) VALUES (?, ?, ?, ?, 'open', 0) "
                     "ON CONFLICT (id) DO NOTHING", mention_id, author, text, self.stamp(created_at))
        for mention_id in replied:
            self.sql("UPDATE mentions SET status = 'answered' WHERE id = ?", mention_id)
        self.db.commit()

    def poll(self) -> None:
        self.store(*self.fetch())

    def sweep(self, now: datetime | None = None) -> None:
        now = now or datetime.now(UTC)
        due = self.sql("SELECT id, author, text FROM mentions WHERE status = 'open' AND alerted = 0 AND created_at < ?",
                       self.stamp(now - self.alert_after)).fetchall()
        for mention_id, author, text in due:
            self.slack.chat_postMessage(channel=self.channel, text=f"No reply yet to @{author}: {text}\n"
                                        f"https://x.com/{author}/status/{mention_id}")
            self.sql("UPDATE mentions SET alerted = 1 WHERE id = ?", mention_id)
            self.db.commit()

    def remind(self, now: datetime | None = None) -> None:
        now = now or datetime.now(UTC)
        rows = self.sql("SELECT id, author, created_at, reminded_at FROM mentions WHERE status = 'open' AND alerted = 1").fetchall()
        for mention_id, author, created_at, reminded_at in rows:
            if now - self.parse(reminded_at or created_at) > self.remind_every:
                self.slack.chat_postMessage(channel=self.channel, text=f"Still no reply to @{author}: "
                                            f"https://x.com/{author}/status/{mention_id}")
                self.sql("UPDATE mentions SET reminded_at = ? WHERE id = ?", self.stamp(now), mention_id)
                self.db.commit()

    def run(self, poll_interval: float) -> None:
        next_poll = 0.0
        while True:
            try:
                if time.monotonic() >= next_poll:
                    next_poll = time.monotonic() + poll_interval
                    self.poll()
                self.sweep()
                self.remind()
            except Exception as exc:  # noqa: BLE001 — a tutorial loop prints and carries on
                print("error:", exc, flush=True)
            time.sleep(SWEEP_EVERY)

    def status(self) -> None:
        now = datetime.now(UTC)
        rows = self.sql("SELECT id, author, created_at, alerted FROM mentions WHERE status = 'open' ORDER BY created_at").fetchall()
        print(f"open mentions: {len(rows)}")
        for mention_id, author, created_at, alerted in rows:
            age = int((now - self.parse(created_at)).total_seconds() // 60)
            print(f"  {age:>6}m  @{author:<16} {'alerted' if alerted else 'waiting'}  https://x.com/{author}/status/{mention_id}")


class NaiveSQLite(Naive):
    ph, ts = "?", "TEXT"

    def connect(self, path: str) -> sqlite3.Connection:
        return sqlite3.connect(path)

    def stamp(self, moment: datetime) -> str:
        return moment.astimezone(UTC).isoformat(timespec="microseconds")

    def parse(self, value: str) -> datetime:
        return datetime.fromisoformat(value)


class NaivePostgres(Naive):
    ph, ts = "%s", "TIMESTAMPTZ"

    def connect(self, url: str):  # noqa: ANN201
        import psycopg

        return psycopg.connect(url)

    def stamp(self, moment: datetime) -> datetime:
        return moment

    def parse(self, value: datetime) -> datetime:
        return value


def open_naive(db: str, env: dict[str, str], apis: bool = True) -> Naive:
    """The baseline for a SQLite path or a postgresql:// URL."""
    return (NaivePostgres if db.startswith("postgres") else NaiveSQLite)(db, env, apis)


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else "run"
    bot = open_naive(os.environ["NAIVE_DB"], dict(os.environ), apis=command != "status")
    if command == "status":
        bot.status()
    else:
        bot.run(float(os.environ.get("POLL_INTERVAL", 60)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
