"""The real processes: `replywatch status` and `replywatch run` (and the baseline's script) against the stand-ins,
with the world's open alerted mentions in the database.

`status`: wall time and peak RSS of the child (wait4's rusage, per child), output to a file; the median of up to
`runs` runs (fewer when they are slow).

`run`, one process per system, in two phases, with ALERT_AFTER=3s and POLL_INTERVAL=1s:
- idle: after it has polled once and warmed up, CPU (utime+stime from /proc/<pid>/stat) as % of one core and
  the largest RSS (VmRSS in /proc/<pid>/status, sampled every 0.5 s) over `idle` seconds with nothing arriving;
  and the scheduler's "skipped" warnings in its log over that window;
- arrivals: one mention a second for `arrivals` seconds, every third answered by the account 1.5 s after it was
  posted. Lateness is when Slack received the first top-level message naming a mention (its alert or a digest)
  minus when it was due (posted + ALERT_AFTER), over the unanswered ones; reads are the posts the X stand-in
  served from timelines and search per post published in this phase, and the ids it was asked to look up.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.table import Figure, Row
from benchmarks.ticks import percentile
from benchmarks.world import ROOT, World, Worlds, covered, log
from bot.config.settings import Settings

ALERT_AFTER = 3.0
POLL_INTERVAL = 1.0
ANSWER_AFTER = 1.5
ALERT_WAIT = 60.0  # seconds after the last mention for the unanswered ones to be alerted; later ones count as missing
STATUS_BUDGET = 15.0  # seconds: `status` is run up to `runs` times, fewer when one run takes long
CLK_TCK = os.sysconf("SC_CLK_TCK")


def command(system: str, verb: str) -> list[str]:
    if system == "replywatch":
        return [sys.executable, "-m", "bot", verb]
    return [sys.executable, str(ROOT / "benchmarks" / "naive.py"), verb]


def child_env(world: World, **extra: str) -> dict[str, str]:
    """The environment minus any replywatch setting of the caller's, plus the world's."""
    settings = {name.upper() for name in Settings.model_fields} | {"NAIVE_DB"}
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("X_", "SLACK_")) and k not in settings}
    return {**keep, **world.env(), **extra, "PYTHONPATH": str(ROOT)}


# --- status -------------------------------------------------------------------------------------------------


def status_rows(backends: dict[str, str | None], open_count: int, runs: int, worlds: Worlds) -> list[Row]:
    rows: list[Row] = []
    for backend, reason in backends.items():
        wall_metric, rss_metric = f"status, wall s ({open_count:,} open)", f"status, max RSS MiB ({open_count:,} open)"
        if reason is not None:
            rows += [Row.skip(wall_metric, backend, reason), Row.skip(rss_metric, backend, reason)]
            continue
        walls, peaks = {}, {}
        for system in ("replywatch", "naive"):
            world = worlds.get(system, backend)
            world.ensure_open(open_count)
            world.release()
            started = time.monotonic()
            results = [_status_once(world, system)]
            while len(results) < runs and time.monotonic() - started < STATUS_BUDGET:
                results.append(_status_once(world, system))
            runs_text = f"(median of {len(results)})" if len(results) > 1 else "(1 run)"
            walls[system] = Figure.of(percentile([w for w, _ in results], 50), " s", extra=runs_text)
            peaks[system] = Figure.of(max(p for _, p in results), " MiB", digits=0)
            log(f"status {system} on {backend}: {walls[system].text}, {peaks[system].text}")
        rows.append(Row(wall_metric, backend, walls["replywatch"], walls["naive"], "lower"))
        rows.append(Row(rss_metric, backend, peaks["replywatch"], peaks["naive"], "lower"))
    return rows


# The child's peak RSS from wait4 counts what it had before exec: forked from the harness (100+ MiB), every child
# would report at least the harness's size. Forked from this small launcher instead, it reports its own.
LAUNCHER = """
import json, os, sys, time
started = time.perf_counter()
pid = os.fork()
if pid == 0:
    os.execvp(sys.argv[2], sys.argv[2:])
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as f:
    json.dump({"wall": time.perf_counter() - started, "maxrss_kib": usage.ru_maxrss, "code": os.waitstatus_to_exitcode(status)}, f)
"""


def _status_once(world: World, system: str) -> tuple[float, float]:
    out = world.scratch.path(f"status-{system}-{world.backend}.txt")
    measured = world.scratch.path("status-rusage.json")
    with out.open("wb") as sink:
        subprocess.run([sys.executable, "-c", LAUNCHER, str(measured), *command(system, "status")], env=child_env(world), stdout=sink,
                       stderr=subprocess.STDOUT, cwd=world.scratch.dir, check=True)
    result = json.loads(measured.read_text())
    first = out.read_text(errors="replace").splitlines()[:1]
    if result["code"] != 0 or not first or not first[0].startswith("open mentions:"):
        raise RuntimeError(f"{system} status failed ({result['code']}): {out.read_text(errors='replace')[-500:]}")
    return result["wall"], result["maxrss_kib"] / 1024


# --- run ----------------------------------------------------------------------------------------------------


@dataclass
class RunFigures:
    cpu: float = 0.0
    rss: float = 0.0
    skipped: int = 0
    skipped_runs: int = 0
    lateness: list[float] = field(default_factory=list)
    missing: int = 0
    false_alarms: int = 0
    unanswered: int = 0
    per_post: float = 0.0
    looked_up: int = 0
    alerted: int = 0


def run_rows(backends: dict[str, str | None], open_count: int, warmup: float, idle: float, arrivals: int, worlds: Worlds) -> list[Row]:
    rows: list[Row] = []
    names = {
        "cpu": f"idle CPU, % of a core ({open_count:,} open)",
        "rss": f"idle RSS, MiB ({open_count:,} open)",
        "skipped": f"'skipped' warnings in the log over {idle:g} s idle",
        "reads": "timeline posts read per post published",
        "lookups": "look-ups (ids) per alerted mention",
        "p50": f"alert lateness p50, s ({open_count:,} open)",
        "p99": f"alert lateness p99, s ({open_count:,} open)",
        "alerts": f"unanswered alerted (within {ALERT_WAIT:g} s) / false alarms",
    }
    for backend, reason in backends.items():
        if reason is not None:
            rows += [Row.skip(name, backend, reason) for name in names.values()]
            continue
        got: dict[str, RunFigures] = {}
        for system in ("replywatch", "naive"):
            world = worlds.get(system, backend)
            world.ensure_open(open_count)
            got[system] = _run(world, system, warmup, idle, arrivals)
        ours, naive = got["replywatch"], got["naive"]
        rows += [
            Row(names["cpu"], backend, Figure.of(ours.cpu, " %", digits=1), Figure.of(naive.cpu, " %", digits=1), "lower"),
            Row(names["rss"], backend, Figure.of(ours.rss, " MiB", digits=0), Figure.of(naive.rss, " MiB", digits=0), "lower"),
            Row(names["skipped"], backend, Figure.of(ours.skipped, extra=f"({ours.skipped_runs} runs skipped)"),
                Figure.note("n/a (no scheduler)")),
            Row(names["reads"], backend, Figure.of(ours.per_post, digits=3), Figure.of(naive.per_post, digits=3), "lower"),
            Row(names["lookups"], backend, _per_alert(ours), _per_alert(naive)),
            Row(names["p50"], backend, _late(ours, 50), _late(naive, 50), "lower"),
            Row(names["p99"], backend, _late(ours, 99), _late(naive, 99), "lower"),
            Row(names["alerts"], backend, _alerts(ours), _alerts(naive)),
        ]
    return rows


def _per_alert(figures: RunFigures) -> Figure:
    if not figures.alerted:
        return Figure.note(f"{figures.looked_up} ids, nothing alerted")
    return Figure.of(figures.looked_up / figures.alerted, digits=2, extra=f"({figures.looked_up} for {figures.alerted})")


def _late(figures: RunFigures, q: float) -> Figure:
    if not figures.lateness:
        return Figure.note("nothing alerted")
    return Figure.of(percentile(figures.lateness, q), " s", digits=2, extra=f"(n={len(figures.lateness)})")


def _alerts(figures: RunFigures) -> Figure:
    on_time = figures.unanswered - figures.missing
    return Figure.note(f"{on_time} of {figures.unanswered} / {figures.false_alarms}")


def _run(world: World, system: str, warmup: float, idle: float, arrivals: int) -> RunFigures:
    world.release()
    world.real_time()
    log_path = world.scratch.path(f"run-{system}-{world.backend}.log")
    env = child_env(world, ALERT_AFTER=f"{ALERT_AFTER:g}" + ("s" if system == "replywatch" else ""),
                    POLL_INTERVAL=f"{POLL_INTERVAL:g}" + ("s" if system == "replywatch" else ""), HTTP_TIMEOUT="5s")
    polls = lambda: len(world.x.http.calls("/mentions"))  # noqa: E731
    before = polls()
    figures = RunFigures()
    with log_path.open("ab") as sink:
        proc = subprocess.Popen(command(system, "run"), env=env, stdout=sink, stderr=subprocess.STDOUT, cwd=world.scratch.dir)
    try:
        if not _wait(lambda: polls() > before or proc.poll() is not None, 120) or proc.poll() is not None:
            raise RuntimeError(f"{system} run did not poll: {_tail(log_path)}")
        time.sleep(warmup)
        figures.cpu, figures.rss, figures.skipped, figures.skipped_runs = _idle(proc.pid, idle, log_path)
        log(f"run {system} on {world.backend}: idle {figures.cpu:.1f}% of a core, {figures.rss:.0f} MiB, {figures.skipped} skipped")
        _arrivals(world, arrivals, figures, polls)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    log(f"run {system} on {world.backend}: lateness p99 {percentile(figures.lateness, 99) if figures.lateness else float('nan'):.2f}s, "
        f"{figures.per_post:.3f} reads per post, {figures.missing} missing")
    return figures


def _idle(pid: int, seconds: float, log_path: Path) -> tuple[float, float, int, int]:
    offset = log_path.stat().st_size
    cpu0, wall0 = _cpu(pid), time.monotonic()
    rss = _rss(pid)
    while time.monotonic() - wall0 < seconds:
        time.sleep(0.5)
        rss = max(rss, _rss(pid))
    cpu1, wall1 = _cpu(pid), time.monotonic()
    with log_path.open("rb") as f:
        f.seek(offset)
        lines = [line.decode(errors="replace") for line in f.read().splitlines() if b"skipped" in line]
    runs = sum(int(m.group(1)) for line in lines if (m := re.search(r"(\d+) run\(s\) skipped", line)))
    return 100 * (cpu1 - cpu0) / (wall1 - wall0), rss, len(lines), runs


def _arrivals(world: World, count: int, figures: RunFigures, polls) -> None:  # noqa: ANN001
    served, looked_up = world.x.read_posts, world.x.looked_up
    posted: dict[int, float] = {}
    answered: set[int] = set()
    timers = []
    replies = 0
    try:
        for i in range(count):
            fan = world.fans[i % len(world.fans)]
            mention = world.x.post(fan, f"@acme is anyone there? #{i}")
            posted[mention] = world.x.tweets[mention].created_at.timestamp()
            if i % 3 == 0:
                answered.add(mention)
                timer = threading.Timer(ANSWER_AFTER, world.x.post, (world.acme, f"@{fan.username} yes, here"), {"reply_to": mention})
                timer.start()
                timers.append(timer)
                replies += 1
            time.sleep(1)
        unanswered = set(posted) - answered
        _wait(lambda: unanswered <= set(covered(world.slack)), ALERT_WAIT)
        settled = polls()
        _wait(lambda: polls() >= settled + 2, 10)  # two more reads and sweeps: anything still coming has come
    finally:
        for timer in timers:
            timer.join(5)
    first = covered(world.slack)
    figures.unanswered = len(unanswered)
    figures.lateness = [first[m] - (posted[m] + ALERT_AFTER) for m in unanswered if m in first]
    figures.missing = sum(m not in first for m in unanswered)
    figures.false_alarms = sum(m in first for m in answered)
    figures.alerted = sum(m in first for m in posted)
    figures.per_post = (world.x.read_posts - served) / (count + replies)
    figures.looked_up = world.x.looked_up - looked_up


def _cpu(pid: int) -> float:
    """Seconds of CPU the process has used (user + system)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime: fields 14 and 15 of stat


def _rss(pid: int) -> float:
    """VmRSS in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _wait(predicate, timeout: float) -> bool:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def _tail(path: Path) -> str:
    return path.read_text(errors="replace")[-1500:]

