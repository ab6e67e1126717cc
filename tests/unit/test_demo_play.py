"""The demo's one timeline (bot.demo.play): the script's events and the jobs take turns on a clock that moves only
between moments, so the order of what happens is the story's whatever the speed; and its made-up host names."""

from __future__ import annotations

import socket
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from bot.clock import FakeClock
from bot.demo.hosts import made_up_hosts
from bot.demo.play import Event, Player
from bot.scheduler import IDLE

T0 = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


def test_events_come_first_then_the_jobs_in_order_and_a_poll_wakes_the_sweep() -> None:
    clock = FakeClock(T0)
    happened: list[tuple[float, str]] = []

    def log(what: str, result: object = None) -> Callable[[], object]:
        def run() -> object:
            happened.append(((clock.now() - T0).total_seconds(), what))
            return result

        return run

    jobs = [("poll", log("poll"), timedelta(seconds=60)), ("sweep", log("sweep", IDLE), timedelta(seconds=0.5)),
            ("boom", lambda: 1 / 0, timedelta(seconds=30))]
    player = Player(clock, jobs, speed=1e9, then={"poll": "sweep"}, idle={"sweep": timedelta(seconds=25)})
    events = [Event(timedelta(seconds=90), log("post")), Event(timedelta(seconds=0), log("first post"))]
    player.play(events, T0 + timedelta(seconds=125))

    assert happened == [
        (0, "first post"), (0, "poll"), (0, "sweep"),  # the post exists before the poll; the poll wakes the sweep
        (25, "sweep"), (50, "sweep"),  # a sweep with nothing to do rests for its idle interval
        (60, "poll"), (60, "sweep"), (85, "sweep"),
        (90, "post"),  # at its moment, between the jobs' turns
        (110, "sweep"), (120, "poll"), (120, "sweep"),
    ], "a failing job neither stops the others nor the hour"
    assert clock.now() == T0 + timedelta(seconds=125), "played to the end, and no further"


def test_it_stops_when_done_says_so_and_no_job_runs_more_often_than_the_finest_step() -> None:
    clock = FakeClock(T0)
    runs: list[datetime] = []
    player = Player(clock, [("sweep", lambda: runs.append(clock.now()), timedelta(seconds=0.5))], speed=1e9)
    player.play([], T0 + timedelta(hours=1), done=lambda: len(runs) == 4)
    assert [(t - T0).total_seconds() for t in runs] == [0, 1, 2, 3]


def test_a_made_up_host_resolves_to_the_stand_in_only_while_in_force() -> None:
    real = socket.getaddrinfo
    with made_up_hosts({"masto.test": "127.0.0.1"}):
        [*_, (_, _, _, _, address)] = socket.getaddrinfo("MASTO.test", 8080, socket.AF_INET, socket.SOCK_STREAM)
        assert address == ("127.0.0.1", 8080)
        assert socket.getaddrinfo("localhost", 80, socket.AF_INET, socket.SOCK_STREAM)[0][4][0] == "127.0.0.1"
    assert socket.getaddrinfo is real
