from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from bot.scheduler import IDLE, build_scheduler, guarded
from bot.standins.http import wait_for


def test_a_run_that_overruns_its_interval_skips_loudly_and_never_overlaps(caplog: pytest.LogCaptureFixture) -> None:
    running, overlaps, runs = threading.Lock(), [], []

    def slow() -> None:
        if not running.acquire(blocking=False):
            overlaps.append(1)
            return
        try:
            runs.append(time.monotonic())
            time.sleep(0.5 if len(runs) == 1 else 0)
        finally:
            running.release()

    caplog.set_level(logging.WARNING)
    scheduler = build_scheduler([("poll", slow, timedelta(seconds=0.1))])
    scheduler.start()
    try:
        assert wait_for(lambda: len(runs) >= 3, timeout=5)
    finally:
        scheduler.shutdown(wait=True)
    [warning] = [r.getMessage() for r in caplog.records if "skipped" in r.getMessage()]
    assert warning.startswith("poll took 0.5s, longer than its 0.1s interval:")
    assert overlaps == [], "never two at once"
    assert runs[1] - runs[0] >= 0.5, "the ticks the slow run covered were skipped, not run back to back"


def test_runs_keep_their_cadence(caplog: pytest.LogCaptureFixture) -> None:
    runs: list[float] = []
    scheduler = build_scheduler([("poll", lambda: runs.append(time.monotonic()), timedelta(seconds=0.2))])
    scheduler.start()
    try:
        assert wait_for(lambda: len(runs) >= 8, timeout=5)
    finally:
        scheduler.shutdown(wait=True)
    gaps = [b - a for a, b in zip(runs, runs[1:], strict=False)]
    assert all(0.18 <= g <= 0.22 for g in gaps[:7]), gaps


def test_a_wall_clock_stepped_back_does_not_stop_the_jobs() -> None:
    """NTP steps the clock back a minute (a VM resumed): the jobs go on at their interval regardless."""
    runs: list[float] = []
    with time_machine.travel(datetime.now(UTC), tick=True) as traveller:
        scheduler = build_scheduler([("poll", lambda: runs.append(time.monotonic()), timedelta(seconds=0.2))])
        scheduler.start()
        try:
            assert wait_for(lambda: len(runs) >= 2, timeout=5)
            traveller.shift(-60)
            stepped = len(runs)
            assert wait_for(lambda: len(runs) >= stepped + 5, timeout=3), "jobs stalled after the clock stepped back"
        finally:
            scheduler.shutdown(wait=True)


def test_a_job_can_be_woken_early() -> None:
    runs: list[float] = []
    scheduler = build_scheduler([("sweep", lambda: runs.append(time.monotonic()), timedelta(seconds=30))])
    scheduler.start()
    try:
        assert wait_for(lambda: len(runs) == 1, timeout=5)
        scheduler.wake("sweep")
        assert wait_for(lambda: len(runs) == 2, timeout=2), "woken, it runs at once instead of in 30 s"
    finally:
        scheduler.shutdown(wait=True)


def test_an_unexpected_error_is_one_line_and_the_job_survives(caplog: pytest.LogCaptureFixture) -> None:
    def broken() -> None:
        raise RuntimeError("boom\nsecond line")

    caplog.set_level(logging.ERROR)
    guarded("sweep", broken)()
    [record] = caplog.records
    assert record.getMessage() == "sweep failed unexpectedly: RuntimeError: boom\\nsecond line"


def test_shutdown_waits_for_a_run_up_to_its_timeout_then_abandons_it(caplog: pytest.LogCaptureFixture) -> None:
    """A run stuck in a call does not hold the stop: after `timeout` it is left behind, named, on a daemon thread."""
    hung, release, idle_runs = threading.Event(), threading.Event(), []

    def stuck() -> None:
        hung.set()
        release.wait(60)

    caplog.set_level(logging.WARNING)
    scheduler = build_scheduler([("poll", stuck, timedelta(seconds=1)), ("sweep", lambda: idle_runs.append(1), timedelta(seconds=1))])
    scheduler.start()
    try:
        assert hung.wait(5) and wait_for(lambda: idle_runs, timeout=5)
        started = time.monotonic()
        assert scheduler.shutdown(wait=True, timeout=0.5) == ["poll"], "the idle job stopped, the stuck one is abandoned"
        assert 0.4 <= time.monotonic() - started < 2
        assert [t.daemon for t in threading.enumerate() if t.name == "replywatch-poll"] == [True], "it cannot keep the process alive"
        assert "abandoned" in caplog.text and "poll" in caplog.text
    finally:
        release.set()


def test_shutdown_between_runs_is_immediate() -> None:
    scheduler = build_scheduler([("poll", lambda: None, timedelta(seconds=30))])
    scheduler.start()
    started = time.monotonic()
    assert scheduler.shutdown(wait=True, timeout=4) == []
    assert time.monotonic() - started < 1, "a job waiting for its next tick stops at once"


def test_a_job_with_nothing_to_do_rests_until_woken_then_keeps_its_short_cadence_while_there_is_work() -> None:
    """The sweep: every 0.2 s while work waits; after a run that found none, 30 s unless woken (by a poll, a click)."""
    runs: list[float] = []
    work = threading.Event()

    def sweep() -> str | None:
        runs.append(time.monotonic())
        return None if work.is_set() else IDLE

    scheduler = build_scheduler([("sweep", sweep, timedelta(seconds=0.2))], idle={"sweep": timedelta(seconds=30)})
    scheduler.start()
    try:
        assert wait_for(lambda: len(runs) == 1, timeout=5)
        time.sleep(0.6)
        assert len(runs) == 1, "nothing to do: no run every 0.2 s"
        work.set()
        scheduler.wake("sweep")
        assert wait_for(lambda: len(runs) >= 5, timeout=3), "woken with work waiting: every 0.2 s again"
        work.clear()
        assert wait_for(lambda: len(runs) >= 6, timeout=3)
        rested = len(runs)
        time.sleep(0.6)
        assert len(runs) == rested, "the work done: resting again"
    finally:
        scheduler.shutdown(wait=True)
    gaps = [b - a for a, b in zip(runs[1:5], runs[2:5], strict=False)]
    assert all(g < 0.3 for g in gaps), gaps
