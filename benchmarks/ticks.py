"""Sweep tick: the work `replywatch run` repeats every 0.5 s — a sweep and a follow-up pass (SweepService.run_once,
then FollowUpService.run_once) — timed with 1k / 10k / 100k open alerted mentions and nothing due, and with 100
due at the largest size. The baseline's tick is its sweep and its reminder pass.

Nothing due: ticks back to back, right after a poll (so the sweep's due query runs), for `budget` seconds, at
least 3 ticks (2 when they are slow) and at most 50. Each cell gives the median tick, its p95, the number of
ticks and the median of each part (sweep + follow-ups; the baseline's sweep + reminders).

100 due: 100 new mentions are posted on X and polled, ALERT_AFTER (2 s) passes, a poll reads the replies after
their due time, and the one tick that alerts them is timed; repeated `trials` times (at least twice; fewer when
slow). replywatch alerts them as one digest (more than DIGEST_THRESHOLD=5 at once) after one look-up request of
100 ids; the baseline posts 100 messages.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from benchmarks.table import Figure, Row
from benchmarks.world import ALERT_AFTER, World, Worlds, covered, log

SYSTEMS = ("replywatch", "naive")
DUE_BUDGET = 20.0


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def timings(samples: list[tuple[float, float]], parts: tuple[str, str]) -> Figure:
    """The median tick in ms, with its p95, the number of ticks and the median of each part beside it; the ratio is
    taken on the median."""
    totals = [(a + b) * 1000 for a, b in samples]
    first, second = (percentile([s[i] * 1000 for s in samples], 50) for i in (0, 1))
    extra = f"(p95 {_short(percentile(totals, 95))}, n={len(samples)}; {parts[0]} {_short(first)} + {parts[1]} {_short(second)})"
    return Figure.of(percentile(totals, 50), " ms", extra=extra)


def _short(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"


def sample(tick: Callable[[], tuple[float, float]], budget: float) -> list[tuple[float, float]]:
    """Ticks for `budget` seconds: at least 3 (2 when those take over three budgets), at most 50."""
    started, found = time.monotonic(), []
    while len(found) < 50:
        spent = time.monotonic() - started
        if (len(found) >= 3 and spent >= budget) or (len(found) >= 2 and spent >= 3 * budget):
            break
        found.append(tick())
    return found


PARTS = {"replywatch": ("sweep", "follow-ups"), "naive": ("sweep", "reminders")}


def tick_rows(
    backends: dict[str, str | None], levels: list[int], due: int, trials: int, budget: float, worlds: Worlds
) -> list[Row]:
    rows: list[Row] = []
    for backend, reason in backends.items():
        for level in levels:
            metric = f"sweep tick, {level:,} open alerted, nothing due"
            if reason is not None:
                rows.append(Row.skip(metric, backend, reason))
                continue
            figures = {}
            for system in SYSTEMS:
                world = worlds.get(system, backend)
                world.ensure_open(level)
                world.poll()
                figures[system] = timings(sample(world.tick, budget), PARTS[system])
                log(f"tick {system} on {backend} at {level:,}: {figures[system].text}")
            rows.append(Row(metric, backend, figures["replywatch"], figures["naive"], "lower"))
        metric = f"sweep tick, {levels[-1]:,} open alerted + {due} due"
        if reason is not None:
            rows.append(Row.skip(metric, backend, reason))
            continue
        figures = {system: _due_ticks(worlds.get(system, backend), due, trials) for system in SYSTEMS}
        rows.append(Row(metric, backend, figures["replywatch"], figures["naive"], "lower"))
    return rows


def _due_ticks(world: World, due: int, trials: int) -> Figure:
    """Up to `trials` trials, at least 2; fewer than `trials` when they take over DUE_BUDGET seconds in all."""
    found, short, started = [], 0, time.monotonic()
    while len(found) < trials and (len(found) < 2 or time.monotonic() - started < DUE_BUDGET):
        ids = world.publish(due)
        world.poll()
        time.sleep(ALERT_AFTER.total_seconds() + 0.2)
        world.poll()  # a read of the replies that started after they fell due
        found.append(world.tick())
        alerted = covered(world.slack)
        short += sum(i not in alerted for i in ids)
    figure = timings(found, PARTS[world.system])
    log(f"tick {world.system} on {world.backend} with {due} due: {figure.text}")
    if short:
        figure.text += f" ({short} of {due * trials} not alerted by their tick)"
    return figure
