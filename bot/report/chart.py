"""The report's chart: per day, answered and unanswered mentions as stacked bars, and the median time to first reply
against the alert threshold on a second axis. A PNG in memory, sized for Slack's preview (1000×500 px).

Drawn with Pillow alone, on a fixed layout: every position is worked out here from PLOT_AREA and the data, so a
chart renders the same way every time and tests know where the bars are. Bars, grid and the threshold are filled
rectangles, never smoothed, so every pixel inside a bar is exactly its colour; only the median line and its dots are
smoothed (drawn four times larger as a mask, then scaled down). The text is in the font bundled with Pillow
(`ImageFont.load_default(size=...)`, Aileron, Pillow ≥ 10.1): no system font is looked for, and the chart looks the
same on any machine; that font covers ASCII only, which is what the chart writes. Everything is made per call and
nothing is shared, so a chart can be drawn in a worker thread."""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Sequence
from datetime import timedelta
from zoneinfo import ZoneInfo

from PIL import Image, ImageDraw, ImageFont

from bot.humanize import WEEKDAYS, period
from bot.messages import ReportNote
from bot.model import Attachment
from bot.report.model import Day, Report

WIDTH, HEIGHT = 1000, 500
# Where the plot sits in the image (fractions: left, bottom, right, top, from the bottom-left corner).
PLOT_AREA = (0.07, 0.22, 0.91, 0.88)
ANSWERED = "#2f9e44"
UNANSWERED = "#f76707"
MEDIAN = "#1c7ed6"
THRESHOLD = "#495057"
EMPTY_TEXT = "No mentions needing a reply in this period"
_TEXT, _GRID, _QUIET = "#212529", "#dee2e6", "#868e96"
_MAX_LABELS = 14
_MAX_TICKS = 8  # intervals on a vertical axis, at most
_BAR = 0.6  # a bar's width, in days
_SMOOTH = 4  # the median line is drawn this many times larger, then scaled down
_TICK = 5  # a tick mark's length, px

_Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


def time_unit(longest: float) -> tuple[float, str]:
    """Seconds per unit and the unit's name for durations up to `longest` seconds: minutes up to 2 hours, else hours."""
    return (60.0, "min") if longest <= 2 * 3600 else (3600.0, "h")


def day_label(day: Day) -> str:
    """`Mon 23`: the weekday in English and the day of the month."""
    return f"{WEEKDAYS[day.day.weekday()]} {day.day.day}"


def chart_png(days: Sequence[Day], threshold: timedelta, title: str) -> bytes:
    """The period's chart as PNG bytes."""
    small, heading, notice = (ImageFont.load_default(size=s) for s in (14, 20, 18))
    image = Image.new("RGB", (WIDTH, HEIGHT), "white")
    draw = ImageDraw.Draw(image)
    left, bottom, right, top = PLOT_AREA
    x0, x1 = round(left * WIDTH), round(right * WIDTH)  # the frame's columns
    y0, y1 = round((1 - top) * HEIGHT), round((1 - bottom) * HEIGHT)  # the frame's rows; y grows downwards

    n = max(len(days), 1)

    def x(day: float) -> float:  # a day's index (its bar's centre) to a column, with 0.6 of a day's margin each side
        return x0 + (day + 0.6) / (n + 0.2) * (x1 - x0)

    # The left axis: mentions, in whole numbers, with room above the tallest bar.
    totals = [d.answered + d.unanswered for d in days]
    count_top = max([*totals, 1]) * 1.15

    def y(count: float) -> int:
        return round(y1 - count / count_top * (y1 - y0))

    counts = _ticks(count_top, whole=True)
    for value in counts[1:]:  # light lines behind the bars
        draw.rectangle((x0 + 1, y(value), x1 - 1, y(value)), fill=_GRID)
    for i, d in enumerate(days):
        a, b = round(x(i - _BAR / 2)), round(x(i + _BAR / 2)) - 1
        for low, high, colour in ((0, d.answered, ANSWERED), (d.answered, d.answered + d.unanswered, UNANSWERED)):
            # Unanswered on top; rows [y(high), y(low)), so that stacked parts neither gap nor overlap (a part under a
            # pixel tall has none).
            if y(high) < y(low):
                draw.rectangle((a, y(high), b, y(low) - 1), fill=colour)
    draw.rectangle((x0, y0, x1, y1), outline=_TEXT)
    widest = _axis(draw, small, [(y(v), _number(v)) for v in counts], x0, -1)
    _vertical(image, "Mentions needing a reply", small, x0 - _TICK - 4 - widest - 8, (y0 + y1) / 2, -1)

    step = max(1, -(-len(days) // _MAX_LABELS))  # a month of days would crowd the axis: label every step-th
    for i in range(0, len(days), step):
        draw.line((round(x(i)), y1, round(x(i)), y1 + _TICK), fill=_TEXT)
        draw.text((x(i), y1 + _TICK + 3), day_label(days[i]), fill=_TEXT, font=small, anchor="ma")

    # The right axis: the median time to first reply against the threshold, in minutes or hours.
    medians = [d.median_reply for d in days]
    limit = threshold.total_seconds()
    per, unit = time_unit(max([m for m in medians if m is not None] + [limit]))
    time_top = max([m / per for m in medians if m is not None] + [limit / per]) * 1.25 or 1

    def t(value: float) -> float:
        return y1 - value / time_top * (y1 - y0)

    widest = _axis(draw, small, [(round(t(v)), _number(v)) for v in _ticks(time_top, whole=False)], x1, 1)
    _vertical(image, f"Median time to first reply ({unit})", small, x1 + _TICK + 4 + widest + 8, (y0 + y1) / 2, 1)
    _dashes(draw, x0 + 1, x1 - 1, round(t(limit / per)), THRESHOLD)
    points = [(x(i), t(m / per)) if m is not None else None for i, m in enumerate(medians)]
    # Clipped to the inside of the frame; a day with no median has no dot and breaks the line.
    _smooth(image, (x0 + 1, y0 + 1, x1, y1), MEDIAN, lambda pen, at: _polyline(pen, [at(p) if p else None for p in points]))

    if not any(totals):
        draw.text(((x0 + x1) / 2, y1 - 0.55 * (y1 - y0)), EMPTY_TEXT, fill=_QUIET, font=notice, anchor="mm")
    for shift in (-0.5, 0.5):  # bold: drawn twice a pixel apart (the font has no bold face; a stroke fills letters in)
        draw.text((WIDTH / 2 + shift, 15), title, fill=_TEXT, font=heading, anchor="mt")
    alert = f"Alert after {_short(limit / per)} {unit}"
    legend = [("bar", ANSWERED, "Answered"), ("bar", UNANSWERED, "Unanswered")]
    if any(p is not None for p in points):
        legend.append(("line", MEDIAN, "Median time to first reply"))
    _legend(image, small, [*legend, ("dashes", THRESHOLD, alert)], HEIGHT - 21)

    out = io.BytesIO()
    image.save(out, format="PNG")  # Pillow writes no time or software chunk: the bytes depend on the data only
    return out.getvalue()


def _ticks(top: float, whole: bool) -> list[float]:
    """Round values from 0 to at most `top`, no more than _MAX_TICKS intervals: steps of 1, 2, 2.5 or 5 times a
    power of ten (whole numbers only on an axis that counts)."""
    least = top / _MAX_TICKS
    power = 10.0 ** math.floor(math.log10(least))
    step = next(s for s in (round(m * power, 12) for m in (1, 2, 2.5, 5, 10)) if s >= least and (not whole or s == int(s)))
    step = max(step, 1.0) if whole else step
    return [i * step for i in range(int(top / step + 1e-9) + 1)]


def _number(value: float) -> str:
    return f"{value:.0f}" if value == int(value) else f"{value:g}"


def _axis(draw: ImageDraw.ImageDraw, font: _Font, ticks: list[tuple[int, str]], edge: int, side: int) -> int:
    """Tick marks and their labels outside the frame's `edge` column (side -1: left, 1: right); the widest label's width."""
    widest = 0
    for row, label in ticks:
        draw.line((edge, row, edge + side * _TICK, row), fill=_TEXT)
        draw.text((edge + side * (_TICK + 4), row), label, fill=_TEXT, font=font, anchor="rm" if side < 0 else "lm")
        widest = max(widest, round(draw.textlength(label, font=font)))
    return widest


def _vertical(image: Image.Image, text: str, font: _Font, edge: float, middle: float, side: int) -> None:
    """An axis's title, reading upwards, beside column `edge` (side -1: left of it, 1: right of it) and centred on
    row `middle`: the text drawn as a mask, turned a quarter turn, and painted through."""
    box = font.getbbox(text)
    mask = Image.new("L", (box[2] - box[0], box[3] - box[1]))
    ImageDraw.Draw(mask).text((-box[0], -box[1]), text, fill=255, font=font)
    mask = mask.rotate(90, expand=True)
    column = max(0, round(edge) - mask.width) if side < 0 else min(round(edge), WIDTH - mask.width)
    image.paste(_TEXT, (column, round(middle - mask.height / 2)), mask)


def _dashes(draw: ImageDraw.ImageDraw, start: int, end: int, row: int, colour: str) -> None:
    """A dashed horizontal line two pixels thick, centred on `row`."""
    for a in range(start, end + 1, 11):
        draw.rectangle((a, row - 1, min(a + 7, end), row), fill=colour)


def _polyline(pen: ImageDraw.ImageDraw, points: list[tuple[float, float] | None]) -> None:
    """Runs of points joined by a line, a dot on each; None breaks the run."""
    run: list[tuple[float, float]] = []
    for point in [*points, None]:
        if point is not None:
            run.append(point)
            continue
        if len(run) > 1:
            pen.line(run, fill=255, width=3 * _SMOOTH, joint="curve")
        for dot in run:
            _dot(pen, dot)
        run = []


def _dot(pen: ImageDraw.ImageDraw, at: tuple[float, float]) -> None:
    r = 4.5 * _SMOOTH
    pen.ellipse((at[0] - r, at[1] - r, at[0] + r, at[1] + r), fill=255)


def _smooth(
    image: Image.Image, box: tuple[int, int, int, int], colour: str,
    paint: Callable[[ImageDraw.ImageDraw, Callable[[tuple[float, float]], tuple[float, float]]], None],
) -> None:
    """Paint `colour` through a mask drawn _SMOOTH times larger over `box` and scaled down: smooth edges, and the
    exact colour wherever the mask covers a whole pixel. `paint` gets the mask's pen and a function taking the
    image's coordinates to the mask's."""
    left, top, right, bottom = box
    mask = Image.new("L", ((right - left) * _SMOOTH, (bottom - top) * _SMOOTH))
    paint(ImageDraw.Draw(mask), lambda p: ((p[0] - left) * _SMOOTH, (p[1] - top) * _SMOOTH))
    image.paste(colour, (left, top), mask.resize((right - left, bottom - top), Image.Resampling.BOX))


def _legend(image: Image.Image, font: _Font, items: list[tuple[str, str, str]], middle: int) -> None:
    """One row of keys (a bar's swatch, the median's line and dot, the threshold's dashes) and their labels, centred
    on the image's width, on row `middle`."""
    draw = ImageDraw.Draw(image)
    key, gap, spacing = 28, 8, 30
    widths = [key + gap + round(draw.textlength(label, font=font)) for _, _, label in items]
    at = round((WIDTH - sum(widths) - spacing * (len(items) - 1)) / 2)
    for (kind, colour, label), width in zip(items, widths, strict=True):
        if kind == "bar":
            draw.rectangle((at, middle - 5, at + key - 1, middle + 4), fill=colour)
        elif kind == "dashes":
            _dashes(draw, at, at + key - 1, middle, colour)
        else:  # the median's line, a dot in its middle
            ends = ((at, middle), (at + key, middle))
            _smooth(image, (at, middle - 8, at + key, middle + 8), colour, lambda pen, to, ends=ends: _key(pen, to, *ends))
        draw.text((at + key + gap, middle), label, fill=_TEXT, font=font, anchor="lm")
        at += width + spacing


def _key(pen: ImageDraw.ImageDraw, to: Callable[[tuple[float, float]], tuple[float, float]], a: tuple, b: tuple) -> None:
    pen.line([to(a), to(b)], fill=255, width=3 * _SMOOTH)
    _dot(pen, to(((a[0] + b[0]) / 2, a[1])))


def _short(value: float) -> str:
    return f"{value:.0f}" if value == int(value) else f"{value:.1f}"


def report_chart(note: ReportNote) -> Attachment:
    """The chart of the report a note carries, as a file any sink can attach (Slack uploads it, the console saves
    it): its days, against the ALERT_AFTER the report was judged by."""
    report = Report.from_json(note.report)
    tz = ZoneInfo(report.timezone)
    said = period(report.start, report.end, tz)
    png = chart_png(report.total.days, timedelta(seconds=note.alert_after), f"Time to first reply, {said}")
    name = f"replywatch-report-{report.start.astimezone(tz):%Y-%m-%d}.png"
    return Attachment(name, f"How we answered, {said}", "Mentions and time to first reply per day", png)
