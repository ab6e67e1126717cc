from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot import backoff
from bot.model import RateInfo

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)


@pytest.mark.parametrize(
    ("case", "rate", "wait"),
    [
        ("no headers", None, MIN),
        ("plenty left", RateInfo(450, 440, NOW + 15 * MIN), MIN),
        ("running low: spread what is left until the reset", RateInfo(15, 5, NOW + 10 * MIN), 2 * MIN),
        ("none left: wait for the reset", RateInfo(15, 0, NOW + 7 * MIN), 7 * MIN),
        ("none left, reset already passed", RateInfo(15, 0, NOW - MIN), MIN),
    ],
)
def test_after_success(case: str, rate: RateInfo | None, wait: timedelta) -> None:
    assert backoff.after_success(NOW, MIN, rate) - NOW == wait, case


@pytest.mark.parametrize(
    ("case", "until", "wait"),
    [
        ("reset in 6 s, interval 60 s: the interval", NOW + timedelta(seconds=6), MIN),
        ("reset in 10 min", NOW + 10 * MIN, 10 * MIN),
        ("no reset header: back off fully", None, backoff.MAX_BACKOFF),
    ],
)
def test_after_rate_limit(case: str, until: datetime | None, wait: timedelta) -> None:
    assert backoff.after_rate_limit(NOW, MIN, until) - NOW == wait, case


@pytest.mark.parametrize(
    ("failures", "rand", "wait"),
    [
        (1, 0.5, MIN), (2, 0.5, 2 * MIN), (3, 0.5, 4 * MIN), (4, 0.5, 8 * MIN), (5, 0.5, backoff.MAX_BACKOFF),
        (40, 0.5, backoff.MAX_BACKOFF), (3, 0.0, 3 * MIN), (3, 1.0, 5 * MIN), (1, 0.0, MIN), (9, 1.0, backoff.MAX_BACKOFF),
    ],
)
def test_after_failure_doubles_with_jitter_and_a_cap(failures: int, rand: float, wait: timedelta) -> None:
    assert backoff.after_failure(NOW, MIN, failures, lambda: rand) - NOW == wait


def test_far_reset_is_the_monthly_cap() -> None:
    assert backoff.far_reset(NOW, NOW + timedelta(days=12))
    assert not backoff.far_reset(NOW, NOW + 15 * MIN)
    assert not backoff.far_reset(NOW, None)
