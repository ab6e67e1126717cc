"""What every row builds on: the stand-ins, scratch databases, seeded data, and one "world" per system and backend.

A world is a database with the X and Slack stand-ins in front of it: replywatch's is composed by tests/conftest.py
`make_loop` (the real tweepy and slack_sdk adapters, the services through their public entry points), the
baseline's is benchmarks/naive.py. Worlds grow (1,000 → 10,000 → 100,000 open alerted mentions) and are shared by
the tick, status and process rows, so each backend is seeded once.
"""

from __future__ import annotations

import bisect
import json
import re
import shutil
import sys
import tempfile
import threading
import time
import traceback
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from benchmarks.naive import Naive, open_naive
from bot import rules
from bot.model import AccountKey, Network, Post
from bot.standins.http import Reply
from bot.standins.x_api import MENTIONS_CAP, TWITTER_EPOCH_MS, FakeX, Tweet, User
from bot.store.db import make_engine, upgrade
from bot.store.repository import Store
from tests.conftest import POSTGRES_URL, Loop, make_loop
from tests.standins.slack_api import FakeSlack

ROOT = Path(__file__).resolve().parents[1]
CHANNEL = "#alerts"
FANS = 20
ALERT_AFTER = timedelta(seconds=2)  # in-process worlds: short, so that "100 due" waits two seconds, not 30 minutes
SEED_CHUNK = 1000  # seeded alerts go out as digests of this many, as a sweep's digest holds up to DUE_LIMIT (1,000)


def log(message: str) -> None:
    """Progress, on stderr, so that stdout is the table."""
    print(f"[{datetime.now(UTC):%H:%M:%S}] {message}", file=sys.stderr, flush=True)


# --- X stand-in -----------------------------------------------------------------------------------------


class BenchX(FakeX):
    """FakeX with an index and counters. FakeX scans every post on every request (fine for a test's hundred posts,
    quadratic for 100,000); here a timeline read bisects an id index instead, so serving a page costs the page.
    The answers are FakeX's own (`_page` renders them) for posts that are never deleted or edited, which the
    benchmarks never do. `read_posts` counts posts returned by timeline and search reads, `looked_up` the ids asked
    for in look-ups (`GET /2/tweets`), `lookups` those requests."""

    def __init__(self) -> None:
        super().__init__()
        self.limit = 10**9  # the rate-limit headers would stretch a 1 s poll interval; this measures the bot itself
        self.read_posts = 0
        self.looked_up = 0
        self.lookups = 0
        self._index_lock = threading.Lock()
        self._mentioning_ids: dict[int, list[int]] = {}  # user id → ids of posts naming them, ascending
        self._authored_ids: dict[int, list[int]] = {}  # user id → ids of their posts, ascending
        self._searched: tuple[tuple, list[Tweet]] = ((), [])

    def post(self, author: User, text: str, **kwargs: object) -> int:  # type: ignore[override]
        with self._index_lock:  # ids and index in the same order
            tweet_id = super().post(author, text, **kwargs)  # type: ignore[arg-type]
            self._authored_ids.setdefault(author.id, []).append(tweet_id)
            for handle in {h.lower() for h in re.findall(r"(?<!\w)@(\w+)", text)}:
                named = next((u for u in self.users.values() if u.username.lower() == handle), None)
                if named is not None:
                    self._mentioning_ids.setdefault(named.id, []).append(tweet_id)
            return tweet_id

    def _newer(self, index: dict[int, list[int]], user: User, since_id: int) -> list[Tweet]:
        with self._index_lock:
            ids = index.get(user.id, [])
            newer = ids[bisect.bisect_right(ids, since_id) :]
        return [self.tweets[i] for i in reversed(newer) if i in self.tweets]

    def _mentioning(self, user: User) -> list[Tweet]:
        return self._newer(self._mentioning_ids, user, 0)

    def _timeline(self, user: User, kind: str, query: dict[str, str]) -> Reply:
        since = int(query.get("since_id") or 0)
        if kind == "mentions":  # X keeps only the newest 800 reachable (FakeX's cap, applied the same way)
            found = self._newer(self._mentioning_ids, user, since)[:MENTIONS_CAP]
        else:
            found = self._newer(self._authored_ids, user, since)
        return self._page(found, query, "pagination_token")

    def _search(self, query: dict[str, str]) -> Reply:
        """FakeX's recent search, from the index; one read's pages (the same query, page after page) share one list."""
        match = re.fullmatch(r"@(\w+) -is:retweet", query.get("query", ""))
        if not match or "start_time" in query:
            return super()._search(query)
        since, until = int(query.get("since_id") or 0), int(query.get("until_id") or 2**63)
        if since and since in self.tweets and self.tweets[since].created_at < self.now() - timedelta(days=7):
            return super()._search(query)  # FakeX's refusal
        user = self.user(match.group(1))
        key = (user.id, since, until, len(self.tweets))
        if self._searched[0] != key:
            week_ago = self.now() - timedelta(days=7)
            with self._index_lock:
                ids = self._mentioning_ids.get(user.id, [])
                window = ids[bisect.bisect_right(ids, since) : bisect.bisect_left(ids, until)]
            tweets = (self.tweets[i] for i in reversed(window) if i in self.tweets)
            found = [t for t in tweets if t.created_at >= week_ago and not any(kind == "retweeted" for kind, _ in t.references)]
            self._searched = (key, found)
        return self._page(self._searched[1], query, "next_token", min_size=10)

    def _page(self, found: list[Tweet], query: dict[str, str], token_name: str, min_size: int = 5) -> Reply:
        reply = super()._page(found, query, token_name, min_size)
        if isinstance(reply.body, dict):
            self.read_posts += len(reply.body.get("data") or [])
        return reply

    def _lookup(self, query: dict[str, str]) -> Reply:
        self.lookups += 1
        self.looked_up += len([i for i in query.get("ids", "").split(",") if i])
        return super()._lookup(query)


def stand_ins() -> tuple[BenchX, FakeSlack, User, list[User]]:
    x, slack = BenchX(), FakeSlack()
    for server in (x.http.server, slack.http.server):
        server.handle_error = _quiet  # type: ignore[method-assign]
    acme = x.add_user("acme", "Acme Inc")
    fans = [x.add_user(f"fan{i}") for i in range(FANS)]
    return x, slack, acme, fans


def _quiet(request: object, client_address: object) -> None:
    """A process stopped mid-request resets its connection: not worth a traceback on stderr."""
    if not isinstance(sys.exc_info()[1], ConnectionError):
        traceback.print_exc()


def covered(slack: FakeSlack) -> dict[int, float]:
    """Mention id → when Slack first received a top-level message about it (replywatch's alert or digest, the
    baseline's alert: both link the post's /status/<id>), by Slack's clock."""
    first: dict[int, float] = {}
    for message in list(slack.messages):
        if message.thread_ts is not None:
            continue
        tag = str(((message.metadata or {}).get("event_payload") or {}).get("tag", ""))
        if tag.startswith("notice:"):
            continue
        ids = {int(i) for i in re.findall(r"/status/(\d+)", message.text + json.dumps(message.blocks))}
        if tag.startswith("mention:"):
            ids.add(int(tag.split(":", 1)[1]))
        for mention_id in ids:
            first.setdefault(mention_id, message.received_at)
    return first


# --- databases ----------------------------------------------------------------------------------------------


def analyze(url: str) -> None:
    """Vacuum PostgreSQL's tables and refresh its planner statistics (a no-op on SQLite, which keeps no dead rows
    and whose statistics replywatch never gathers).

    Autovacuum does this on wall time, about once a minute on a table that changes (and this machine's server runs
    with autovacuum off). The benchmarks grow tables on a fake clock (a poll a "minute", many a second) or seed them
    at once, faster than autovacuum can follow: with the statistics of a near-empty table the planner picks plans
    that scan the whole table, and an index still holding the 100,000 dead versions the seeding left (a mention
    stored due, then alerted) is walked through on every read. The figures would measure the lag of autovacuum, not
    replywatch; so the harness runs VACUUM ANALYZE where autovacuum would have, untimed, for every system alike."""
    if not url.startswith("postgres"):
        return
    import psycopg

    with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")


class Scratch:
    """Scratch databases (SQLite files in one temporary folder, PostgreSQL databases), all removed by close()."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="replywatch-bench-"))
        self._postgres: list[str] = []

    def database(self, backend: str, tag: str) -> tuple[str, str]:
        """A new empty database: (SQLAlchemy URL for replywatch, the same for the baseline: path or libpq URL)."""
        name = f"bench_{tag}_{uuid.uuid4().hex[:8]}"
        if backend == "sqlite":
            path = self.dir / f"{name}.db"
            return f"sqlite:///{path}", str(path)
        import psycopg

        with psycopg.connect(POSTGRES_URL.replace("+psycopg", ""), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        self._postgres.append(name)
        url = POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"
        return url, url.replace("+psycopg", "")

    def path(self, name: str) -> Path:
        return self.dir / name

    def close(self) -> None:
        if self._postgres:
            import psycopg

            try:
                with psycopg.connect(POSTGRES_URL.replace("+psycopg", ""), autocommit=True) as conn:
                    for name in self._postgres:
                        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            except Exception as exc:  # noqa: BLE001
                log(f"could not drop the scratch databases {self._postgres}: {exc}")
        shutil.rmtree(self.dir, ignore_errors=True)


# --- seeded data --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Seeded:
    """A mention that was posted on X, read, and alerted before the benchmark looks: created 40 to 20 minutes ago,
    alerted 5 minutes ago, not due for an escalation (2 h) or reminder for over an hour."""

    id: int
    author_id: int
    author: str
    text: str
    created_at: datetime


def seeded(start: int, count: int, now: datetime) -> Iterator[Seeded]:
    base, span = now - timedelta(minutes=40), timedelta(minutes=20)
    for i in range(start, start + count):
        at = base + span * ((i % 100_000) / 100_000)
        mention_id = ((int(at.timestamp() * 1000) - TWITTER_EPOCH_MS) << 22) | (i & 0x3FFFFF)
        fan = i % 50
        yield Seeded(mention_id, 900_000 + fan, f"seedfan{fan}", f"@acme question number {i}, still waiting", at)


def seed_replywatch(store: Store, account_id: str, items: list[Seeded], now: datetime) -> None:
    """Store the mentions as the poll would (judged by the rules) and their alerts as a sweep that posted them in
    digests would leave them, through the product's repository API (no Slack messages are posted)."""
    signals = rules.Signals(account_id)
    where = AccountKey(Network.X, "acme")
    alerted_at = now - timedelta(minutes=5)
    for start in range(0, len(items), SEED_CHUNK):
        posts = [
            Post(id=str(s.id), author_id=str(s.author_id), text=s.text, created_at=s.created_at, conversation_id=str(s.id),
                 author_handle=s.author, author_name=s.author.title(), url=f"https://x.com/{s.author}/status/{s.id}")
            for s in items[start : start + SEED_CHUNK]
        ]
        with store.unit() as repo:
            new = repo.add_mentions(where, [(p, rules.classify(p, signals)) for p in posts], alerted_at)
            started = repo.start_digest(list(repo.mention_keys(where, new).values()), "C0ALERTS", alerted_at)
            if started is not None:
                repo.digest_sent(started[0], "C0ALERTS", f"{alerted_at.timestamp():.0f}.{started[0]:06d}", alerted_at)


def seed_naive(bot: Naive, items: list[Seeded]) -> None:
    """The same mentions in the baseline's table, alerted."""
    query = "INSERT INTO mentions (id, author, text, created_at, status, alerted) VALUES (?, ?, ?, ?, 'open', 1)"
    bot.db.cursor().executemany(query.replace("?", bot.ph), [(s.id, s.author, s.text, bot.stamp(s.created_at)) for s in items])
    bot.db.commit()


# --- worlds -------------------------------------------------------------------------------------------------


class World:
    """A database behind the stand-ins, for one system on one backend, with `open` alerted mentions in it."""

    system = ""

    def __init__(self, backend: str, scratch: Scratch) -> None:
        self.backend = backend
        self.scratch = scratch
        self.x, self.slack, self.acme, self.fans = stand_ins()
        self.url, self.db = scratch.database(backend, self.system)
        self.open = 0
        self._published = 0

    def ensure_open(self, count: int) -> None:
        """Seed alerted open mentions until there are `count` of them."""
        if count <= self.open:
            return
        started = time.monotonic()
        self._seed(list(seeded(self.open, count - self.open, datetime.now(UTC))))
        analyze(self.db)
        log(f"{self.system} on {self.backend}: {count:,} open alerted mentions (seeded {count - self.open:,} in "
            f"{time.monotonic() - started:.1f}s)")
        self.open = count

    def publish(self, count: int) -> list[int]:
        """`count` new mentions on X, now."""
        self._published += count
        return [self.x.post(self.fans[i % FANS], f"@acme new question {self._published - count + i}") for i in range(count)]

    def env(self) -> dict[str, str]:
        """The settings a process of this system needs to talk to the stand-ins and the database."""
        return {
            "X_ACCOUNT": "acme", "X_BEARER_TOKEN": self.x.bearer, "X_API_BASE_URL": self.x.url,
            "SLACK_BOT_TOKEN": self.slack.token, "SLACK_CHANNEL": CHANNEL, "SLACK_API_BASE_URL": self.slack.url,
        }

    def real_time(self) -> None:
        """From now on the stand-ins keep real time (a process is about to run against them)."""
        self.x.now = lambda: datetime.now(UTC)
        self.slack.now = time.time

    def close(self) -> None:
        self.release()
        self.x.close()
        self.slack.close()

    # per system
    def _seed(self, items: list[Seeded]) -> None: ...
    def poll(self) -> None: ...
    def tick(self) -> tuple[float, float]: ...
    def release(self) -> None: ...


class ReplywatchWorld(World):
    """replywatch composed as tests/conftest.py `make_loop` does, on a FakeClock that is moved to the real time
    before every step (the services read it; a process started later on the same data sees consistent times)."""

    system = "replywatch"

    def __init__(self, backend: str, scratch: Scratch) -> None:
        super().__init__(backend, scratch)
        engine = make_engine(self.url)
        upgrade(engine)
        self.store = Store(engine)
        self.loop: Loop = make_loop(self.x, self.slack, self.store, alert_after=ALERT_AFTER, interval=timedelta(seconds=1))
        self.poll()  # the cursors: without a completed read of the replies nothing is ever due

    def sync(self) -> None:
        lag = datetime.now(UTC) - self.loop.clock.now()
        if lag > timedelta(0):
            self.loop.clock.advance(lag)

    def _seed(self, items: list[Seeded]) -> None:
        self.sync()
        seed_replywatch(self.store, self.loop.account.id, items, self.loop.clock.now())
        self.settle()

    def settle(self) -> None:
        """Work out each seeded alert's follow-up time, as a running replywatch does once after it sends an alert
        (untimed: the seeding stands for alerts sent over time, each judged then)."""
        self.poll()
        for _ in range(1000):
            with self.store.read() as repo:
                read = repo.replies_read_at(self.loop.poll.where, self.loop.follow_ups.config.reply_endpoints)
                if read is None or not repo.follow_ups_waiting(min(read, self.loop.clock.now())):
                    return
            self.loop.follow_ups.run_once()

    def publish(self, count: int) -> list[int]:
        self.sync()
        return super().publish(count)

    def poll(self) -> None:
        self.sync()
        self.loop.poll.run_once()

    def tick(self) -> tuple[float, float]:
        """One sweep and one follow-up pass, as `replywatch run` does every 0.5 s; seconds each took."""
        self.sync()
        started = time.perf_counter()
        self.loop.sweep.run_once()
        swept = time.perf_counter()
        self.loop.follow_ups.run_once()
        return swept - started, time.perf_counter() - swept

    def release(self) -> None:
        self.store.dispose()

    def env(self) -> dict[str, str]:
        return {**super().env(), "DATABASE_URL": self.url}


class NaiveWorld(World):
    system = "naive"

    def __init__(self, backend: str, scratch: Scratch) -> None:
        super().__init__(backend, scratch)
        self.bot: Naive | None = None
        self._bot()

    def _bot(self) -> Naive:
        if self.bot is None:
            self.bot = open_naive(self.db, {**self.env(), "ALERT_AFTER": str(ALERT_AFTER.total_seconds())})
        return self.bot

    def _seed(self, items: list[Seeded]) -> None:
        seed_naive(self._bot(), items)

    def poll(self) -> None:
        self._bot().poll()

    def tick(self) -> tuple[float, float]:
        """One sweep and one reminder pass; seconds each took."""
        bot = self._bot()
        started = time.perf_counter()
        bot.sweep()
        swept = time.perf_counter()
        bot.remind()
        return swept - started, time.perf_counter() - swept

    def release(self) -> None:
        if self.bot is not None:
            self.bot.db.close()
            self.bot = None

    def env(self) -> dict[str, str]:
        return {**super().env(), "NAIVE_DB": self.db}


class Worlds:
    """One world per (system, backend), made when a row first asks for it."""

    def __init__(self, scratch: Scratch) -> None:
        self.scratch = scratch
        self._worlds: dict[tuple[str, str], World] = {}

    def get(self, system: str, backend: str) -> World:
        key = (system, backend)
        if key not in self._worlds:
            kind = ReplywatchWorld if system == "replywatch" else NaiveWorld
            self._worlds[key] = kind(backend, self.scratch)
        return self._worlds[key]

    def close(self) -> None:
        for world in self._worlds.values():
            world.close()
