from __future__ import annotations

import logging
import threading
from datetime import timedelta

import pytest

from bot.scheduler import build_scheduler, guarded
from tests.standins.http import wait_for


def test_a_run_that_finds_the_last_one_still_going_is_skipped_loudly(caplog: pytest.LogCaptureFixture) -> None:
    release = threading.Event()
    runs: list[int] = []

    def slow() -> None:
        runs.append(1)
        release.wait(5)

    caplog.set_level(logging.WARNING)
    scheduler = build_scheduler([("poll", slow, timedelta(seconds=0.2))])
    scheduler.start()
    try:
        assert wait_for(lambda: any("skipped" in r.getMessage() for r in caplog.records), timeout=5)
    finally:
        release.set()
        scheduler.shutdown(wait=True)
    assert len(runs) == 1, "never two at once"


def test_an_unexpected_error_is_one_line_and_the_job_survives(caplog: pytest.LogCaptureFixture) -> None:
    def broken() -> None:
        raise RuntimeError("boom\nsecond line")

    caplog.set_level(logging.ERROR)
    guarded("sweep", broken)()
    [record] = caplog.records
    assert record.getMessage() == "sweep failed unexpectedly: RuntimeError: boom\\nsecond line"
