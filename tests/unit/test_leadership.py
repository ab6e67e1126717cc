"""Who runs the leader jobs: the gate around them, driven by a hand-written lease and a settable monotonic clock."""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

import pytest

from bot.leadership import RETRY, Lead, leader_only, lock_key, open_lease, sqlite_path

GRACE = timedelta(seconds=10)


class FakeLease:
    """Another replica holds it while `taken`; `broken` makes the next held() fail as a dropped connection does."""

    standby = True

    def __init__(self, held: bool = False) -> None:
        self.holding = held
        self.taken = not held
        self.problem: str | None = None
        self.held_calls = 0

    def acquire(self) -> bool:
        self.problem = None  # the database answered
        if not self.taken:
            self.holding = True
        return self.holding

    def held(self) -> bool:
        self.held_calls += 1
        return self.holding

    def lose(self, why: str) -> None:
        self.holding, self.taken, self.problem = False, True, why

    def release(self) -> None:
        self.holding = False


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def gate(lease: FakeLease, clock: Clock) -> tuple[Lead, dict[str, int], dict[str, object]]:
    """A Lead over a poll and a sweep that count their runs; the sweep waits after a takeover."""
    runs = {"poll": 0, "sweep": 0}
    lead = Lead(lease, "acme", GRACE, after_takeover=("sweep",), monotonic=clock)
    jobs = {name: lead.gated(name, lambda name=name: runs.__setitem__(name, runs[name] + 1)) for name in runs}
    return lead, runs, jobs


def run_all(jobs: dict[str, object]) -> None:
    for job in jobs.values():
        job()  # type: ignore[operator]


def test_a_replica_that_leads_from_its_start_waits_the_grace_too() -> None:
    clock = Clock()
    lead, runs, jobs = gate(FakeLease(held=True), clock)
    run_all(jobs)
    assert runs == {"poll": 1, "sweep": 0}, "a killed leader restarted at once may have a post still in flight"
    clock.now += GRACE.total_seconds()
    run_all(jobs)
    assert runs == {"poll": 2, "sweep": 1}


def test_a_standby_runs_nothing_and_asks_the_database_nothing_until_it_takes_the_lead() -> None:
    lease, clock = FakeLease(), Clock()
    lead, runs, jobs = gate(lease, clock)
    calls = lease.held_calls
    for _ in range(5):
        run_all(jobs)
        lead.tick()
    assert runs == {"poll": 0, "sweep": 0}
    assert lease.held_calls == calls, "a standby's skipped runs cost no round trip"


def test_after_a_takeover_the_sweep_waits_the_grace_and_the_poll_does_not() -> None:
    lease, clock = FakeLease(), Clock()
    lead, runs, jobs = gate(lease, clock)
    lease.taken = False  # the leader's connection closed: the lock is free
    lead.tick()
    run_all(jobs)
    assert runs == {"poll": 1, "sweep": 0}, "reading X is harmless; the sweep waits for posts still in flight"
    clock.now += GRACE.total_seconds() - 0.1
    run_all(jobs)
    assert runs == {"poll": 2, "sweep": 0}
    clock.now += 0.1
    run_all(jobs)
    assert runs == {"poll": 3, "sweep": 1}


def test_a_leader_that_finds_the_lease_gone_stops_at_the_next_run_and_stands_by() -> None:
    lease, clock = FakeLease(held=True), Clock()
    lead, runs, jobs = gate(lease, clock)
    clock.now += GRACE.total_seconds()  # past the grace of its start
    run_all(jobs)
    lease.lose("its database connection failed: OperationalError: server closed the connection")
    run_all(jobs)
    assert runs == {"poll": 1, "sweep": 1}, "no run once held() said no"
    lease.taken = False
    lead.tick()
    run_all(jobs)
    assert runs == {"poll": 2, "sweep": 1}, "leading again after a loss is a takeover: the sweep waits"


def test_each_transition_is_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="bot.leadership")
    lease, clock = FakeLease(), Clock()
    lead, _, jobs = gate(lease, clock)
    for _ in range(3):
        lead.tick()
        run_all(jobs)
    lease.taken = False
    for _ in range(3):
        lead.tick()
        run_all(jobs)
    lease.lose("its database connection failed: OperationalError: boom")
    for _ in range(3):
        lead.tick()
        run_all(jobs)
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 3, lines
    assert lines[0] == "standing by: another replica leads @acme"
    assert lines[1].startswith("leading @acme now (took over; Slack work starts in 10s")
    assert lines[2].startswith("lost the lead of @acme (its database connection failed: OperationalError: boom); standing by")


def test_leader_only_gates_every_job_it_is_given_and_adds_the_retry() -> None:
    lease = FakeLease()
    ran: list[str] = []
    jobs = [(name, lambda name=name: ran.append(name), timedelta(seconds=1)) for name in ("poll", "sweep")]
    gated = leader_only(jobs, lease, "acme", GRACE)
    assert [name for name, _, _ in gated] == ["poll", "sweep", "leadership"]
    assert gated[-1][2] == RETRY == timedelta(seconds=2)
    for _, job, _ in gated[:2]:
        job()
    assert ran == []


def test_a_lease_without_standby_leaves_the_jobs_as_they_are(tmp_path: Path) -> None:
    lease = open_lease(f"sqlite:///{tmp_path}/replywatch.db", "acme")
    jobs = [("poll", lambda: None, timedelta(seconds=1))]
    assert leader_only(jobs, lease, "acme", GRACE) is jobs


def test_the_lock_key_is_stable_signed_64_bit_and_per_account() -> None:
    key = lock_key("acme")
    assert key == lock_key("ACME") == lock_key("Acme"), "X handles are case-insensitive"
    assert key == 5808421762902285435, "the same in every process and version: replicas must agree on it"
    assert lock_key("acme") != lock_key("acme2")


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("sqlite:///data/replywatch.db", Path("data/replywatch.db")),
        ("sqlite:////data/replywatch.db", Path("/data/replywatch.db")),
        ("sqlite:///file:/srv/copy.db?mode=ro&uri=true", Path("/srv/copy.db")),
        ("sqlite://", None),
        ("sqlite:///:memory:", None),
        ("sqlite:///file:mem?mode=memory&cache=shared&uri=true", None),
    ],
)
def test_the_sqlite_file_a_url_names(url: str, path: Path | None) -> None:
    assert sqlite_path(url) == path


def test_one_process_per_sqlite_file(tmp_path: Path) -> None:
    first, second = (open_lease(f"sqlite:///{tmp_path}/replywatch.db", "acme") for _ in range(2))
    assert first.acquire() and first.held()
    assert not second.acquire()
    assert second.problem == (
        f"another `replywatch run` uses {tmp_path}/replywatch.db; one may run per SQLite file (several replicas need PostgreSQL)"
    )
    assert (tmp_path / "replywatch.db.lock").exists()
    first.release()
    assert second.acquire(), "free once the first lets go"
    second.release()


def test_no_lock_for_an_in_memory_database_nor_a_url_the_store_refuses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first, second = open_lease("sqlite://", "acme"), open_lease("sqlite://", "acme")
    assert first.acquire() and second.acquire() and first.held()
    monkeypatch.chdir(tmp_path)
    assert open_lease("nosuchdb://x", "acme").acquire() and list(tmp_path.iterdir()) == [], "no lock file for a URL the store refuses"
