"""The report's chart: a real PNG of the expected size, with both kinds of bar, taller where there were more
mentions, and a valid image for an empty period too."""

from __future__ import annotations

import gc
import io
import struct
import time
import warnings
from datetime import date, timedelta

import pytest
from PIL import Image, ImageChops

from bot.report.chart import ANSWERED, HEIGHT, MEDIAN, PLOT_AREA, UNANSWERED, WIDTH, chart_png, day_label, time_unit
from bot.report.model import Day

MONDAY = date(2025, 6, 23)
THRESHOLD = timedelta(minutes=30)


def week(*rows: tuple[int, int, float | None]) -> list[Day]:
    return [Day(MONDAY + timedelta(days=i), a, u, m) for i, (a, u, m) in enumerate(rows)]


BUSY = week((2, 0, 600), (9, 3, 1500), (0, 4, None), (5, 1, 2400), (0, 0, None), (1, 0, 300), (3, 2, 900))
EMPTY = week(*[(0, 0, None)] * 7)


def pixels(png: bytes) -> Image.Image:
    """The PNG as an RGB image."""
    return Image.open(io.BytesIO(png)).convert("RGB")


def plot_area(image: Image.Image) -> Image.Image:
    """The part of the image inside the axes (legend and labels left out)."""
    left, bottom, right, top = PLOT_AREA
    w, h = image.size
    return image.crop((round(left * w) + 2, round((1 - top) * h) + 2, round(right * w) - 2, round((1 - bottom) * h) - 2))


class Mask:
    """Where an image is a colour: its pixels as bytes, 1 where it is and 0 elsewhere, row after row."""

    def __init__(self, cells: bytes, width: int) -> None:
        self.cells, self.width = cells, width

    def __or__(self, other: Mask) -> Mask:
        return Mask(bytes(a | b for a, b in zip(self.cells, other.cells, strict=True)), self.width)

    def sum(self) -> int:
        return self.cells.count(1)

    def per_column(self) -> list[int]:
        return [self.cells[x :: self.width].count(1) for x in range(self.width)]

    def rows(self) -> list[int]:
        """The rows holding the colour, counted from the top."""
        w = self.width
        return [y for y in range(len(self.cells) // w) if 1 in self.cells[y * w : (y + 1) * w]]


def mask(image: Image.Image, colour: str) -> Mask:
    """Where the image is `colour` (bars are drawn unblended, so their insides match it exactly): each channel's
    difference from a solid image of that colour, within 2 %."""
    difference = ImageChops.difference(image, Image.new("RGB", image.size, colour))
    near = [band.point(lambda v: 1 if v < 0.02 * 255 else 0) for band in difference.split()]
    return Mask(ImageChops.darker(ImageChops.darker(near[0], near[1]), near[2]).tobytes(), image.width)


def bar_heights(image: Image.Image) -> list[int]:
    """The height in pixels of each bar, left to right: a bar is a run of columns holding either bar colour."""
    filled = mask(image, ANSWERED) | mask(image, UNANSWERED)
    heights, current = [], 0
    for count in [*filled.per_column(), 0]:
        if count:
            current = max(current, count)
        elif current:
            heights.append(current)
            current = 0
    return heights


def png_size(png: bytes) -> tuple[int, int]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n", "PNG signature"
    assert png[12:16] == b"IHDR", "the first chunk is the header"
    return struct.unpack(">II", png[16:24])


def test_the_chart_is_a_png_of_slacks_preview_size() -> None:
    png = chart_png(BUSY, THRESHOLD, "@acme on X, week of Mon 23 June")
    assert png_size(png) == (WIDTH, HEIGHT) == (1000, 500)
    assert pixels(png).size == (1000, 500)


def test_both_kinds_of_bar_and_the_median_line_are_drawn() -> None:
    area = plot_area(pixels(chart_png(BUSY, THRESHOLD, "week")))
    assert mask(area, ANSWERED).sum() > 500
    assert mask(area, UNANSWERED).sum() > 500
    assert mask(area, MEDIAN).sum() > 100
    assert ANSWERED != UNANSWERED


def test_a_day_with_more_mentions_has_a_taller_bar() -> None:
    heights = bar_heights(plot_area(pixels(chart_png(BUSY, THRESHOLD, "week"))))
    totals = [d.answered + d.unanswered for d in BUSY if d.answered + d.unanswered]
    assert len(heights) == len(totals) == 6
    order = sorted(range(len(totals)), key=lambda i: totals[i])
    assert [heights[i] for i in order] == sorted(heights), (totals, heights)
    assert heights[totals.index(12)] > 4 * heights[totals.index(1)]


def test_unanswered_mentions_sit_on_top_of_the_answered_ones() -> None:
    area = plot_area(pixels(chart_png(week((4, 4, 600)), THRESHOLD, "one day")))
    rows_answered = mask(area, ANSWERED).rows()
    rows_unanswered = mask(area, UNANSWERED).rows()
    assert max(rows_unanswered) < min(rows_answered) + 2  # rows count down from the top
    # 4 and 4: the same height, but for the few rows the plot_area crop takes off at the x axis
    assert abs(len(rows_answered) - len(rows_unanswered)) <= 0.05 * len(rows_unanswered)


def test_no_median_line_when_nothing_was_answered() -> None:
    area = plot_area(pixels(chart_png(week((0, 3, None), (0, 1, None)), THRESHOLD, "unanswered")))
    assert mask(area, UNANSWERED).sum() > 500
    assert mask(area, MEDIAN).sum() == 0


def test_an_empty_period_still_renders_a_valid_chart() -> None:
    for days in (EMPTY, []):
        png = chart_png(days, THRESHOLD, "a quiet week")
        assert png_size(png) == (WIDTH, HEIGHT)
        area = plot_area(pixels(png))
        assert mask(area, ANSWERED).sum() == mask(area, UNANSWERED).sum() == 0
        darkest = min(low for low, _ in area.getextrema())
        assert darkest < 0.9 * 255, "the notice that the period was empty is written in the plot"


def test_the_same_data_gives_the_same_bytes_quickly_and_quietly() -> None:
    chart_png(BUSY, THRESHOLD, "warm up")  # the first call imports Pillow's PNG plugin
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        start = time.perf_counter()
        first = chart_png(BUSY, THRESHOLD, "week")
        elapsed = time.perf_counter() - start
        assert chart_png(BUSY, THRESHOLD, "week") == first
    assert elapsed < 1.0


def test_rendering_leaves_no_image_behind() -> None:
    chart_png(BUSY, THRESHOLD, "warm up")
    gc.collect()
    before = sum(isinstance(o, Image.Image) for o in gc.get_objects())
    for _ in range(5):
        chart_png(BUSY, THRESHOLD, "week")
    gc.collect()
    assert sum(isinstance(o, Image.Image) for o in gc.get_objects()) == before


@pytest.mark.parametrize(
    ("longest", "unit"),
    [
        pytest.param(30 * 60, "min", id="a 30-minute threshold reads in minutes"),
        pytest.param(2 * 3600, "min", id="two hours is still 120 min"),
        pytest.param(6 * 3600, "h", id="a slow day reads in hours"),
    ],
)
def test_reply_times_read_in_minutes_or_hours(longest: float, unit: str) -> None:
    assert time_unit(longest)[1] == unit


def test_day_labels_are_weekday_and_day_of_month() -> None:
    assert [day_label(d) for d in BUSY[:2]] == ["Mon 23", "Tue 24"]
