"""Scrape: what one GET /metrics costs the store (bot.store.metrics: a few grouped statements) with 100k open alerted
mentions, against the naive way to the same figures: every mention and alert read into Python and counted there.
Each side: the median of `runs` scrapes."""

from __future__ import annotations

import time
from collections import Counter

from sqlalchemy import select

from benchmarks.table import Figure, Row
from benchmarks.ticks import percentile
from benchmarks.world import Scratch, Worlds, log
from bot.store.repository import Store
from bot.store.tables import AlertRow, MentionRow


def naive_tallies(store: Store) -> tuple[Counter, int]:
    """The figures, counted row by row in Python."""
    with store.read() as repo:
        mentions = repo.session.execute(select(MentionRow.id, MentionRow.network, MentionRow.account, MentionRow.status)).all()
        alerts = repo.session.execute(select(AlertRow.mention_id, AlertRow.sent_at, AlertRow.escalated_at)).all()
    by_status = Counter((network, account, status) for _, network, account, status in mentions)
    return by_status, sum(1 for _, sent, _ in alerts if sent is not None)


def scrape_rows(backends: dict[str, str | None], open_count: int, runs: int, worlds: Worlds) -> list[Row]:
    rows: list[Row] = []
    metric = f"/metrics scrape, store part, ms ({open_count:,} open)"
    for backend, reason in backends.items():
        if reason is not None:
            rows.append(Row.skip(metric, backend, reason))
            continue
        world = worlds.get("replywatch", backend)
        world.ensure_open(open_count)
        store: Store = world.store  # type: ignore[attr-defined]
        timed = {}
        for name, scrape in (("replywatch", store_tallies), ("naive", naive_tallies)):
            scrape(store)  # warm the page cache and the statement cache alike
            samples = []
            for _ in range(runs):
                started = time.perf_counter()
                scrape(store)
                samples.append((time.perf_counter() - started) * 1000)
            timed[name] = Figure.of(percentile(samples, 50), " ms", extra=f"(median of {runs})")
            log(f"scrape {name} on {backend}: {timed[name].text}")
        rows.append(Row(metric, backend, timed["replywatch"], timed["naive"], "lower"))
    return rows


def store_tallies(store: Store) -> object:
    with store.read() as repo:
        return repo.tallies()



def breach_rows(count: int, runs: int, scratch: Scratch) -> list[Row]:
    """Breaches among `count` settled mentions (answered, a third of them late), as /metrics counts them: a process's
    first scrape judges every one (what the naive way does at every scrape); each later scrape judges only those
    settled since (bot.metrics.breaches). On SQLite: the judging is Python, the same on either backend."""
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import bindparam, update

    from bot.metrics.breaches import SettledBreaches
    from bot.model import AccountKey, Network, Post, Status, Verdict
    from bot.store.db import make_engine, upgrade
    from tests.conftest import policy

    where = AccountKey(Network.X, "acme")
    engine = make_engine(scratch.database("sqlite", "breaches")[0])
    upgrade(engine)
    store = Store(engine)
    start = datetime(2026, 1, 5, tzinfo=UTC)
    step = timedelta(minutes=3)
    for first in range(0, count, 5_000):
        posts = [Post(str(i), "9", "@acme hi", start + i * step) for i in range(first, min(count, first + 5_000))]
        with store.unit() as repo:
            repo.add_mentions(where, [(p, Verdict(Status.OPEN, "waiting")) for p in posts], start)
    with store.unit() as repo:
        rows = repo.session.execute(select(MentionRow.id, MentionRow.created_at)).all()
        answers = [{"key": i, "at": posted + timedelta(minutes=45 if i % 3 == 0 else 10)} for i, posted in rows]
        table = MentionRow.__table__
        stmt = update(table).where(table.c.id == bindparam("key"))
        repo.session.execute(stmt.values(status=Status.ANSWERED, answered_at=bindparam("at"), closed_at=bindparam("at")), answers)
    rules = policy(channel="C0ALERTS", alert_after=timedelta(minutes=30))
    now = start + count * step + timedelta(days=1)
    running = SettledBreaches(rules)
    figures, found = {}, set()
    for name, counter in (("naive", lambda: SettledBreaches(rules)), ("replywatch", lambda: running)):
        samples = []
        for _ in range(runs + (name == "replywatch")):  # the running count's first scrape is the naive one: left out
            began = time.perf_counter()
            with store.read() as repo:
                found.add(sum(counter().count(repo, now).values()))
            samples.append((time.perf_counter() - began) * 1000)
        figures[name] = Figure.of(percentile(samples[-runs:], 50), " ms", extra=f"(median of {runs})")
        log(f"breaches {name}: {figures[name].text}")
    store.dispose()
    assert found == {len([a for a in answers if a["key"] % 3 == 0])}, found  # both count every late answer, once
    return [Row(f"/metrics breaches, store part, ms ({count:,} settled mentions)", "sqlite",
                figures["replywatch"], figures["naive"], "lower")]
