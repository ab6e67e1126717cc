"""`python -m benchmarks`: measure replywatch and the naive baseline in the same run, print one table."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import logging
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from benchmarks.table import Figure, Row, machine, render_markdown, render_text
from benchmarks.world import Scratch, Worlds, log
from bot.sources.x.client import POSTS_PAGES, SEARCH_PAGES
from tests.conftest import POSTGRES_URL, postgres_reason

GROUPS = ("ingest", "tick", "status", "run", "replicas")
ALIASES = {
    "flood": "ingest", "scrape": "status", "metrics": "status",
    "sweep": "tick", "ticks": "tick", "idle": "run", "cpu": "run", "rss": "run", "reads": "run",
    "lookups": "run", "lateness": "run", "process": "run",
}
BACKENDS = ("sqlite", "postgresql")


@dataclass(frozen=True)
class Sizes:
    name: str
    ingest: tuple[int, ...] = (10_000, 50_000)
    batch: int = 500
    flood: int = 50_000  # one of `ingest`: its posts are reused
    levels: tuple[int, ...] = (1_000, 10_000, 100_000)
    due: int = 100
    due_trials: int = 3
    tick_budget: float = 5.0  # seconds of ticks per case (at least 3 ticks, 2 when slow, at most 50)
    status_runs: int = 3
    warmup: float = 3.0
    idle: float = 20.0
    arrivals: int = 15


FULL = Sizes("full")
QUICK = Sizes("quick", ingest=(1_000, 3_000), flood=3_000, levels=(100, 300, 1_000), due_trials=2, tick_budget=1.0,
              status_runs=1, warmup=2.0, idle=5.0, arrivals=6)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    sizes = QUICK if args.quick else FULL
    groups = _groups(args.only)
    logging.basicConfig(level=logging.WARNING, format="[bot] %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    chosen = args.backend or list(BACKENDS)
    pg = postgres_reason() if "postgresql" in chosen else "not asked for"
    backends = {b: (pg if b == "postgresql" else None) for b in BACKENDS if b in chosen}
    replicas = args.replicas or os.environ.get("BENCH_REPLICAS") == "1"

    header = f"replywatch benchmarks ({sizes.name} sizes): {machine()}{_postgres_version(pg)}"
    log(header)
    started, load_before = time.monotonic(), _load()
    scratch = Scratch()
    worlds = Worlds(scratch)
    rows: list[Row] = []
    runs: dict[str, Callable[[], list[Row]]] = {
        "ingest": lambda: _ingest(backends, sizes, scratch),
        "tick": lambda: _ticks(backends, sizes, worlds),
        "status": lambda: _status(backends, sizes, worlds),
        "run": lambda: _run(backends, sizes, worlds),
        "replicas": lambda: _replicas(replicas, pg, args.replicas_minutes, args.replicas_kill_every),
    }
    try:
        for group in GROUPS:
            if group in groups:
                rows += _guarded(group, runs[group], list(backends))
    finally:
        worlds.close()
        scratch.close()
    took = time.monotonic() - started

    print(header)
    print()
    print(render_text(rows))
    print()
    for note in _notes(sizes, groups):
        print(f"- {note}")
    print(f"\ntook {took // 60:.0f}m {took % 60:02.0f}s; load average {load_before} before, {_load()} after "
          f"(others' work on this machine slows every figure)\n")
    print("Markdown:\n")
    print(f"_{header}_\n")
    print(render_markdown(rows))
    print()
    for note in _notes(sizes, groups):
        print(f"- {note}")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, about a minute: for trying the harness out")
    parser.add_argument("--only", action="append", default=[], metavar="ROW",
                        help=f"run only these rows (repeat or comma-separate): {', '.join(GROUPS)} "
                        f"(also {', '.join(sorted(ALIASES))})")
    parser.add_argument("--backend", action="append", choices=BACKENDS, default=[],
                        help="only this backend (repeatable); default both")
    parser.add_argument("--replicas", action="store_true", help="also run benchmarks/replicas.py on PostgreSQL (or BENCH_REPLICAS=1)")
    parser.add_argument("--replicas-minutes", type=float, default=2.0, help="how long the replicas run (default 2)")
    parser.add_argument("--replicas-kill-every", type=float, default=15.0, help="seconds between kills in the replicas run (default 15)")
    return parser


def _groups(only: list[str]) -> set[str]:
    if not only:
        return set(GROUPS)
    chosen = set()
    for name in (n.strip().lower() for item in only for n in item.split(",") if n.strip()):
        group = ALIASES.get(name, name)
        if group not in GROUPS:
            raise SystemExit(f"--only: no row {name!r}; choose from {', '.join(GROUPS)} or {', '.join(sorted(ALIASES))}")
        chosen.add(group)
    return chosen


def _guarded(group: str, run: Callable[[], list[Row]], backends: list[str]) -> list[Row]:
    """A group that fails leaves one row saying so; the others still run."""
    try:
        return _metric_major(run())
    except Exception as exc:  # noqa: BLE001
        log(f"{group} failed: {type(exc).__name__}: {exc}")
        return [Row.failed(group, "/".join(backends), f"{type(exc).__name__}: {str(exc)[:300]}")]


def _metric_major(rows: list[Row]) -> list[Row]:
    """Each metric's backends next to each other, metrics in the order they first came."""
    order: dict[str, int] = {}
    for row in rows:
        order.setdefault(row.metric, len(order))
    return sorted(rows, key=lambda r: order[r.metric])


def _ingest(backends: dict[str, str | None], sizes: Sizes, scratch: Scratch) -> list[Row]:
    from benchmarks.ingest import ingest_rows

    return ingest_rows(backends, list(sizes.ingest), sizes.batch, sizes.flood, scratch)


def _ticks(backends: dict[str, str | None], sizes: Sizes, worlds: Worlds) -> list[Row]:
    from benchmarks.ticks import tick_rows

    return tick_rows(backends, list(sizes.levels), sizes.due, sizes.due_trials, sizes.tick_budget, worlds)


def _status(backends: dict[str, str | None], sizes: Sizes, worlds: Worlds) -> list[Row]:
    from benchmarks.process import status_rows
    from benchmarks.scrape import breach_rows, scrape_rows

    rows = status_rows(backends, sizes.levels[-1], sizes.status_runs, worlds)
    rows += scrape_rows(backends, sizes.levels[-1], max(3, sizes.status_runs), worlds)
    return rows + breach_rows(sizes.levels[-1], max(3, sizes.status_runs), worlds.scratch)


def _run(backends: dict[str, str | None], sizes: Sizes, worlds: Worlds) -> list[Row]:
    from benchmarks.process import run_rows

    return run_rows(backends, sizes.levels[-1], sizes.warmup, sizes.idle, sizes.arrivals, worlds)


def _replicas(requested: bool, pg: str | None, minutes: float, kill_every: float) -> list[Row]:
    """benchmarks/replicas.py, written separately: `run(minutes, kill_every) -> dict`, on PostgreSQL only."""
    metric = f"replicas ({minutes:g} min, a kill every {kill_every:g} s)"
    if importlib.util.find_spec("benchmarks.replicas") is None:
        return [Row.skip(metric, "postgresql", "benchmarks/replicas.py is not there yet")]
    if not requested:
        return [Row(metric, "postgresql", Figure.note("run with --replicas"), Figure.note(""))]
    if pg is not None:
        return [Row.skip(metric, "postgresql", pg)]
    log(f"replicas: {minutes:g} min, a kill every {kill_every:g} s")
    result = importlib.import_module("benchmarks.replicas").run(minutes=minutes, kill_every=kill_every)
    return [
        Row(f"replicas: {key}", "postgresql",
            _figure(value),
            Figure.note("n/a"))
        for key, value in result.items()
    ]


def _figure(value: object) -> Figure:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return Figure.note(str(value))
    return Figure.of(value, digits=3 if isinstance(value, float) else None)


def _load() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def _postgres_version(reason: str | None) -> str:
    if reason is not None:
        return f"; PostgreSQL: {reason}"
    import psycopg

    with psycopg.connect(POSTGRES_URL.replace("+psycopg", ""), connect_timeout=3) as conn:
        version = conn.execute("SHOW server_version").fetchone()[0]
    return f"; PostgreSQL {version.split()[0]}"


def _notes(sizes: Sizes, groups: set[str]) -> list[str]:
    notes = [
        "ratio: how replywatch compares with the baseline on the first figure of each cell (× of the baseline's); "
        "no ratio where neither direction is better. Both run on the same data, against the same stand-ins "
        "(bot/standins, tests/standins: FakeX and FakeSlack over HTTP, the real tweepy and slack_sdk clients), in the same run.",
        "naive baseline: benchmarks/naive.py, a tutorial's polling loop on one `mentions` table (sqlite3 / psycopg "
        "directly): no Slack pacing, no look-ups of deleted posts, no recovery past X's 800-mention cap, answered "
        "only by a direct reply, no crash safety.",
    ]
    if "ingest" in groups:
        notes += [
            f"ingest: mentions arrive in polls of {sizes.batch:,}, a third answered by the account in the same poll. "
            "replywatch: each PollService.run_once's wall time minus the time inside the X adapter's calls (HTTP, the "
            "stand-in, tweepy, translation into Posts), i.e. storing and judging (X is read once a poll for both "
            "backends); the baseline: its fetch untimed, its store timed. On PostgreSQL, VACUUM ANALYZE (untimed) every ten "
            "polls, as autovacuum would over the ten minutes they stand for: without it the planner keeps the "
            "statistics of an empty table and the figure measures autovacuum's lag on a fake clock. The harness's "
            "own objects (the stand-in's posts, which live at X in production) are frozen out of the garbage "
            "collector's passes (gc.freeze) before each timed part, for both.",
            f"flood: all {sizes.flood:,} mentions (and the replies) were posted before the first poll, on an empty "
            "database; replywatch reads the mentions timeline and recovers the gap from recent search (at most "
            f"{SEARCH_PAGES:,} pages a read) and its own posts (at most {POSTS_PAGES} pages), the baseline pages "
            "through both timelines (X serves the newest 800 mentions). The first poll's time includes reading X.",
        ]
    if "tick" in groups:
        notes.append(
            "sweep tick: SweepService.run_once + FollowUpService.run_once, as `replywatch run` schedules them every "
            "0.5 s (its on-call and health jobs are not included); the baseline's sweep + reminder pass. Alerted "
            "mentions are seeded through the product's repository API (add_mentions judged by the rules, then "
            "start_digest + digest_sent, 1,000 a digest), without Slack posts, then each alert's follow-up time "
            "worked out once, untimed, as a running replywatch does once after it sends an alert (about 150 µs an "
            "alert); the baseline's rows get alerted=1; then VACUUM ANALYZE on PostgreSQL (autovacuum is off on this server). "
            f"{sizes.due} due: posted, polled, ALERT_AFTER=2s later polled again, then the one tick that alerts them."
        )
    if "run" in groups or "status" in groups:
        notes.append(
            f"processes: the real `replywatch run` / `status` (and `benchmarks/naive.py run` / `status`) on the "
            f"database with {sizes.levels[-1]:,} open alerted mentions; run with POLL_INTERVAL=1s, ALERT_AFTER=3s; "
            f"idle = {sizes.idle:g} s after a {sizes.warmup:g} s warm-up with nothing arriving, CPU of the bot process "
            f"alone (not the stand-ins, not PostgreSQL's server); then {sizes.arrivals} mentions one a second, every "
            "third answered 1.5 s after posting; lateness = Slack received the alert (or digest) − posted − "
            "ALERT_AFTER; reads = posts served by the timelines and search in that phase / posts published in it."
        )
    return notes


if __name__ == "__main__":
    sys.exit(main())
