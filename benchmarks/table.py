"""The one table: metric | backend | replywatch | naive baseline | ratio, as aligned text and as Markdown."""

from __future__ import annotations

import os
import platform
import subprocess
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

ROOT = Path(__file__).resolve().parents[1]
Better = Literal["higher", "lower"] | None


@dataclass
class Figure:
    """One measured value: the number the ratio is taken on, how it reads, and what goes beside it."""

    value: float | None
    text: str

    @classmethod
    def of(cls, value: float | None, unit: str = "", digits: int | None = None, extra: str = "") -> Figure:
        if value is None:
            return cls(None, extra or "—")
        return cls(value, f"{number(value, digits)}{unit}" + (f" {extra}" if extra else ""))

    @classmethod
    def note(cls, text: str) -> Figure:
        return cls(None, text)


@dataclass
class Row:
    metric: str
    backend: str
    replywatch: Figure
    naive: Figure
    better: Better = None  # which way is better, for the ratio; None: no ratio (a count to read, not compare)
    instead: str | None = None  # "skipped: why" or "error: what", shown instead of the figures

    @classmethod
    def skip(cls, metric: str, backend: str, reason: str) -> Row:
        return cls(metric, backend, Figure.note(""), Figure.note(""), None, instead=f"skipped: {reason}")

    @classmethod
    def failed(cls, metric: str, backend: str, error: str) -> Row:
        return cls(metric, backend, Figure.note(""), Figure.note(""), None, instead=f"error: {error}")

    def cells(self) -> list[str]:
        if self.instead is not None:
            return [self.metric, self.backend, self.instead, "", ""]
        compared = ratio(self.replywatch.value, self.naive.value, self.better)
        return [self.metric, self.backend, self.replywatch.text, self.naive.text, compared]


def number(value: float, digits: int | None = None) -> str:
    """1,234 for large values, three significant digits for small ones (or `digits` decimals)."""
    if digits is not None:
        return f"{value:,.{digits}f}"
    if abs(value) >= 100 or value == int(value):
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    if abs(value) >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


def ratio(ours: float | None, naive: float | None, better: Better) -> str:
    """How replywatch compares with the baseline: "3.2× better" or "1.5× worse" (× of the baseline's figure)."""
    if better is None or ours is None or naive is None:
        return ""
    if ours == naive:
        return "same"
    if ours <= 0 or naive <= 0:
        return "—"
    factor = ours / naive if better == "higher" else naive / ours
    if 0.95 <= factor <= 1.05:
        return f"{factor:.2f}× (about the same)"
    return f"{factor:.1f}× better" if factor > 1 else f"{1 / factor:.1f}× worse"


HEADER = ["metric", "backend", "replywatch", "naive baseline", "ratio"]


def render_text(rows: list[Row]) -> str:
    table = [HEADER] + [r.cells() for r in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(HEADER))]
    out = []
    for n, line in enumerate(table):
        out.append("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip())
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def render_markdown(rows: list[Row]) -> str:
    def esc(cell: str) -> str:
        return cell.replace("|", "\\|")

    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(esc(c) for c in r.cells()) + " |" for r in rows]
    return "\n".join(lines)


def machine() -> str:
    """Date, cores, CPU model, memory, Python, the commit measured, and how fast the CPU ran Python at the start
    (a shared virtual machine's speed varies from hour to hour: a figure from a slow hour reads against this one)."""
    cpuinfo = _read("/proc/cpuinfo").splitlines()
    model = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), platform.processor())
    mem = next((line.split()[1] for line in _read("/proc/meminfo").splitlines() if line.startswith("MemTotal")), "")
    memory = f", {int(mem) / 1024 / 1024:.0f} GiB" if mem else ""
    commit = _git("rev-parse", "--short", "HEAD")
    dirty = " (with uncommitted changes)" if _git("status", "--porcelain", "--untracked-files=no") else ""
    return (
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {os.cpu_count()} cores ({model}){memory}; "
        f"Python {platform.python_version()} on {platform.system()} {platform.release()}; commit {commit or '?'}{dirty}; "
        f"a 10-million-step Python loop took {_speed():.2f} s"
    )


def _speed() -> float:
    """Seconds for a plain Python loop of ten million additions, the best of three."""
    best = float("inf")
    for _ in range(3):
        started, total = time.perf_counter(), 0
        for i in range(10_000_000):
            total += i
        best = min(best, time.perf_counter() - started)
    return best


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def _git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""
