"""Ingest: mentions stored and judged per second, X transfer excluded; and whether a flood is stored in one poll.

N mentions arrive in batches of `batch` (a poll after each), a third of them answered by a reply of the account in
the same batch. Every consumer reads the same posts from the same X stand-in in the same run: replywatch on each
backend through `PollService.run_once` (make_loop's composition), the baseline through its own poll.

What is timed: for replywatch, each poll's wall time minus the time spent inside the X adapter's calls (HTTP,
the stand-in, tweepy's parsing and the translation into Posts), measured by wrapping the adapter; what is left
is storing and judging (rules, reply matching, the transaction). X is read once a poll: the second backend's
poll gets the answers the first one's read (see TimedX). For the baseline, its fetch runs first, untimed (once,
for every backend's baseline), then its store is timed. On PostgreSQL the harness runs VACUUM ANALYZE every ten polls,
untimed, as autovacuum would (see world.analyze). Before each timed part the harness's own objects (the stand-in's
posts and what was read from it: in production they live at X, not in the bot's process) are put out of the cyclic
garbage collector's reach (`gc.freeze`), for both consumers alike: otherwise its passes over them land in
whichever poll they happen to fall in.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from benchmarks.naive import Naive, open_naive
from benchmarks.table import Figure, Row
from benchmarks.world import BenchX, Scratch, analyze, log, stand_ins
from bot.store.db import make_engine, upgrade
from bot.store.repository import Store
from tests.conftest import Loop, make_loop

POLL_EVERY = timedelta(seconds=60)
ANALYZE_EVERY = 10  # polls (ten "minutes"): PostgreSQL's planner statistics kept as fresh as autovacuum would keep them


class TimedX:
    """The X adapter, with the seconds spent in its calls added up. With `answers` shared between the replywatch
    consumers, a call another consumer already made in this poll (same method, same arguments: the same cursors on
    the same posts) gets the answer that one got, so X is read once a poll whatever the number of backends."""

    def __init__(self, inner: Any, answers: dict | None = None) -> None:
        self.inner = inner
        self.answers = answers if answers is not None else {}
        self.spent = 0.0

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.inner, name)
        if not callable(method):
            return method

        def timed(*args: Any, **kwargs: Any) -> Any:
            key = (name, repr(args), repr(sorted(kwargs.items())))
            started = time.perf_counter()
            try:
                if key not in self.answers:
                    self.answers[key] = method(*args, **kwargs)
                return self.answers[key]
            finally:
                self.spent += time.perf_counter() - started

        return timed


class _Ours:
    """replywatch on one backend, fed by polls."""

    def __init__(self, backend: str, url: str, x: BenchX, slack: Any, answers: dict) -> None:
        self.backend = backend
        self.url = url
        engine = make_engine(url)
        upgrade(engine)
        self.store = Store(engine)
        self.loop: Loop = make_loop(x, slack, self.store, interval=POLL_EVERY)
        self.timed = TimedX(self.loop.poll.source, answers)
        self.loop.poll.source = self.timed  # the adapter the poll calls, measured
        self.stored = self.answered = 0
        self.seconds = 0.0
        self.loop.poll.run_once()  # the first read: cursors, nothing to store yet

    def advance(self, delta: timedelta) -> None:
        self.loop.clock.advance(delta)

    def poll(self) -> None:
        spent = self.timed.spent
        started = time.perf_counter()
        result = self.loop.poll.run_once()
        self.seconds += time.perf_counter() - started - (self.timed.spent - spent)
        self.stored += result.new_mentions
        self.answered += result.answered

    def close(self) -> None:
        self.store.dispose()


class _Naive:
    def __init__(self, backend: str, db: str, env: dict[str, str]) -> None:
        self.backend = backend
        self.url = db
        self.bot: Naive = open_naive(db, env)
        self.seconds = 0.0

    def store(self, fetched: tuple[list[tuple], list[int]]) -> None:
        started = time.perf_counter()
        self.bot.store(*fetched)
        self.seconds += time.perf_counter() - started

    @property
    def stored(self) -> int:
        return self.bot.sql("SELECT count(*) FROM mentions").fetchone()[0]

    @property
    def answered(self) -> int:
        return self.bot.sql("SELECT count(*) FROM mentions WHERE status = 'answered'").fetchone()[0]

    def close(self) -> None:
        self.bot.db.close()


def ingest_rows(backends: dict[str, str | None], sizes: list[int], batch: int, flood: int, scratch: Scratch) -> list[Row]:
    rows: list[Row] = []
    flood_x = None
    for n in sizes:
        x, slack, acme, fans = stand_ins()
        env = _env(x, slack)
        consumers: dict[str, list[Any]] = {b: [] for b, reason in backends.items() if reason is None}
        answers: dict = {}
        for backend in consumers:
            consumers[backend].append(_Ours(backend, scratch.database(backend, f"ingest{n}")[0], x, slack, answers))
            consumers[backend].append(_Naive(backend, scratch.database(backend, f"naive{n}")[1], env))
        everyone = [c for pair in consumers.values() for c in pair]
        ours = [c for c in everyone if isinstance(c, _Ours)]
        naives = [c for c in everyone if isinstance(c, _Naive)]
        log(f"ingest: {n:,} mentions in polls of {batch}, {len(everyone)} consumers")
        started, answered = time.monotonic(), 0
        for number, first in enumerate(range(0, n, batch)):
            if number % ANALYZE_EVERY == 0:
                for consumer in everyone:
                    analyze(consumer.url)
            answers.clear()
            ids = [x.post(fans[i % len(fans)], f"@acme question {i} about my order") for i in range(first, min(n, first + batch))]
            for k, mention in enumerate(ids):
                if k % 3 == 0:
                    x.post(acme, f"@{fans[(first + k) % len(fans)].username} thanks, looking into it", reply_to=mention)
                    answered += 1
            for consumer in ours:
                consumer.advance(POLL_EVERY)
            gc.freeze()
            for consumer in ours:
                consumer.poll()
            fetched = naives[0].bot.fetch()  # once: the fetch is not timed, and every baseline stores the same posts
            gc.freeze()
            for naive in naives:
                naive.store(fetched)
        log(f"ingest: {n:,} done in {time.monotonic() - started:.0f}s")
        gc.unfreeze()
        for backend, reason in backends.items():
            metric = f"ingest, mentions/s stored+judged (N={n:,}, ⅓ answered)"
            if reason is not None:
                rows.append(Row.skip(metric, backend, reason))
                continue
            ours, naive = consumers[backend]
            rows.append(Row(metric, backend, _rate(n, ours, answered), _rate(n, naive, answered), "higher"))
        for consumer in everyone:
            consumer.close()
        if n == flood:
            flood_x = (x, slack, env)
        else:
            x.close()
            slack.close()
    if flood_x is not None:
        rows += _flood_rows(backends, flood, scratch, *flood_x)
        flood_x[0].close()
        flood_x[1].close()
    return rows


def _rate(n: int, consumer: Any, answered: int) -> Figure:
    stored, marked = consumer.stored, consumer.answered
    problems = []
    if stored != n:
        problems.append(f"stored {stored:,} of {n:,}")
    if marked != answered:
        problems.append(f"answered {marked:,} of {answered:,}")
    return Figure.of(stored / consumer.seconds if consumer.seconds else None, extra=f"({'; '.join(problems)})" if problems else "")


def _flood_rows(backends: dict[str, str | None], n: int, scratch: Scratch, x: BenchX, slack: Any, env: dict[str, str]) -> list[Row]:
    """All N mentions (and the replies) were posted while the bot was down; it starts with an empty database and
    polls twice. How many did the first poll store, and the second? Measured on one backend: what is read from X
    does not depend on it."""
    backend = next((b for b, reason in backends.items() if reason is None), None)
    metric = f"{n:,} arrived while down: stored by the first poll (+ the next)"
    if backend is None:
        return [Row.skip(metric, "any", "no backend")]
    log(f"flood: {n:,} mentions waiting, first poll on {backend}")
    url, _ = scratch.database(backend, "flood")
    engine = make_engine(url)
    upgrade(engine)
    store = Store(engine)
    loop = make_loop(x, slack, store, interval=POLL_EVERY)
    newest = max(t.created_at for t in x.tweets.values())
    loop.clock.advance(newest - loop.clock.now() + POLL_EVERY)
    started = time.perf_counter()
    first = loop.poll.run_once().new_mentions
    took = time.perf_counter() - started
    loop.clock.advance(POLL_EVERY)
    second = loop.poll.run_once().new_mentions
    store.dispose()
    bot = open_naive(scratch.database(backend, "naiveflood")[1], env)
    counted: Callable[[], int] = lambda: bot.sql("SELECT count(*) FROM mentions").fetchone()[0]  # noqa: E731
    bot.poll()
    naive_first = counted()
    bot.poll()
    naive_second = counted() - naive_first
    bot.db.close()
    ours = Figure(first, f"{first:,} of {n:,} (+{second:,}; first poll {took:.0f} s with X)")
    theirs = Figure(naive_first, f"{naive_first:,} of {n:,} (+{naive_second:,})")
    return [Row(metric, backend, ours, theirs, "higher")]


def _env(x: BenchX, slack: Any) -> dict[str, str]:
    return {"X_ACCOUNT": "acme", "X_BEARER_TOKEN": x.bearer, "X_API_BASE_URL": x.url, "SLACK_BOT_TOKEN": slack.token,
            "SLACK_CHANNEL": "#alerts", "SLACK_API_BASE_URL": slack.url}
