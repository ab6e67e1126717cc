"""Scrape: what one GET /metrics costs the store (bot.store.metrics: a few grouped statements) with 100k open alerted
mentions, against the naive way to the same figures: every mention and alert read into Python and counted there.
Each side: the median of `runs` scrapes."""

from __future__ import annotations

import time
from collections import Counter

from sqlalchemy import select

from benchmarks.table import Figure, Row
from benchmarks.ticks import percentile
from benchmarks.world import Worlds, log
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
