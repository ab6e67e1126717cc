"""The report's chart: per day, answered and unanswered mentions as stacked bars, and the median time to first reply
against the alert threshold on a second axis. A PNG in memory, sized for Slack's preview (1000×500 px).

matplotlib is used through its object-oriented API (Figure + the Agg canvas), never pyplot: pyplot keeps every
figure in a global registry until closed and picks a display backend, while a bare Figure needs no display, is
safe to build in a worker thread and is freed like any object once rendered."""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import timedelta

from bot.report.model import Day

WIDTH, HEIGHT, DPI = 1000, 500, 100
# Where the plot sits in the figure (fractions: left, bottom, right, top). Fixed rather than computed by a layout
# engine, so a chart renders the same way every time and tests know where the bars are.
PLOT_AREA = (0.07, 0.22, 0.91, 0.88)
ANSWERED = "#2f9e44"
UNANSWERED = "#f76707"
MEDIAN = "#1c7ed6"
THRESHOLD = "#495057"
EMPTY_TEXT = "No mentions needing a reply in this period"
_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")  # not %a: that follows the process's locale
_MAX_LABELS = 14


def time_unit(longest: float) -> tuple[float, str]:
    """Seconds per unit and the unit's name for durations up to `longest` seconds: minutes up to 2 hours, else hours."""
    return (60.0, "min") if longest <= 2 * 3600 else (3600.0, "h")


def day_label(day: Day) -> str:
    """`Mon 23`: the weekday in English and the day of the month."""
    return f"{_WEEKDAYS[day.day.weekday()]} {day.day.day}"


def chart_png(days: Sequence[Day], threshold: timedelta, title: str) -> bytes:
    """The period's chart as PNG bytes."""
    # Imported here: matplotlib takes about half a second to import, which every command (health checks
    # included) would pay at start for a chart drawn once a week.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    fig = Figure(figsize=(WIDTH / DPI, HEIGHT / DPI), dpi=DPI, facecolor="white")
    FigureCanvasAgg(fig)
    left, bottom, right, top = PLOT_AREA
    fig.subplots_adjust(left=left, bottom=bottom, right=right, top=top)
    ax = fig.add_subplot()
    fig.suptitle(title, fontsize=14, fontweight="bold", y=0.97)

    xs = list(range(len(days)))
    answered = [d.answered for d in days]
    unanswered = [d.unanswered for d in days]
    handles = [
        ax.bar(xs, answered, width=0.6, color=ANSWERED, label="Answered", zorder=2),
        ax.bar(xs, unanswered, width=0.6, bottom=answered, color=UNANSWERED, label="Unanswered", zorder=2),
    ]
    ax.set_ylabel("Mentions needing a reply")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylim(0, max([a + u for a, u in zip(answered, unanswered, strict=True)] + [1]) * 1.15)
    ax.grid(axis="y", color="#dee2e6", zorder=0)
    ax.set_axisbelow(True)
    step = max(1, -(-len(days) // _MAX_LABELS))  # a month of days would crowd the axis: label every step-th
    ax.set_xticks(xs[::step], [day_label(d) for d in days[::step]])
    ax.set_xlim(-0.6, max(len(days), 1) - 0.4)

    medians = [d.median_reply for d in days]
    limit = threshold.total_seconds()
    per, unit = time_unit(max([m for m in medians if m is not None] + [limit]))
    twin = ax.twinx()
    # No point for a day with nothing answered: NaN breaks the line there instead of drawing it down to zero.
    ys = [m / per if m is not None else float("nan") for m in medians]
    if any(m is not None for m in medians):
        handles += twin.plot(xs, ys, color=MEDIAN, marker="o", linewidth=2, label="Median time to first reply")
    alert = f"Alert after {_short(limit / per)} {unit}"
    handles.append(twin.axhline(limit / per, color=THRESHOLD, linestyle="--", linewidth=1.5, label=alert))
    twin.set_ylim(0, max([y for y in ys if y == y] + [limit / per]) * 1.25 or 1)
    twin.set_ylabel(f"Median time to first reply ({unit})")

    if not any(answered) and not any(unanswered):
        ax.text(0.5, 0.55, EMPTY_TEXT, transform=ax.transAxes, ha="center", va="center", fontsize=13, color="#868e96")
    fig.legend(handles=handles, loc="lower center", ncols=len(handles), frameon=False, bbox_to_anchor=(0.5, 0.0))

    out = io.BytesIO()
    # No Software entry: the bytes then depend on the data only, not on the matplotlib version installed.
    fig.savefig(out, format="png", dpi=DPI, metadata={"Software": None})
    return out.getvalue()


def _short(value: float) -> str:
    return f"{value:.0f}" if value == int(value) else f"{value:.1f}"
