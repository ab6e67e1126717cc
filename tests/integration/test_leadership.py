"""The lead on a real PostgreSQL: one holder per account, and a standby takes it once the holder's connection is gone."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from bot.leadership import PostgresLease, lock_key, open_lease
from bot.standins.http import wait_for

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.postgres


@pytest.fixture
def leases(postgres_url: str) -> Iterator[list[PostgresLease]]:
    made: list[PostgresLease] = []
    yield made
    for lease in made:
        lease.release()


def lease(postgres_url: str, made: list[PostgresLease], account: str = "acme") -> PostgresLease:
    found = open_lease(postgres_url, account)
    assert isinstance(found, PostgresLease)
    made.append(found)
    return found


# pg_locks shows a bigint advisory key as two unsigned halves (classid, objid) and objsubid 1.
HOLDING = (
    "FROM pg_locks l JOIN pg_stat_activity a USING (pid) WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 "
    "AND l.classid::bigint = %s AND l.objid::bigint = %s"
)


def halves(account: str) -> tuple[int, int]:
    key = lock_key(account) & 0xFFFFFFFFFFFFFFFF
    return key >> 32, key & 0xFFFFFFFF


def admin(postgres_url: str, query: str, account: str = "acme") -> list[tuple]:
    with psycopg.connect(postgres_url.replace("+psycopg", ""), autocommit=True) as conn:
        return conn.execute(query, halves(account)).fetchall()


def holders(postgres_url: str, account: str = "acme") -> list[str]:
    """application_name of each session holding the account's lock, as an operator would look it up."""
    return [name for (name,) in admin(postgres_url, "SELECT a.application_name " + HOLDING, account)]


def test_one_holder_per_account_until_it_releases(postgres_url: str, leases: list[PostgresLease]) -> None:
    first, second = lease(postgres_url, leases), lease(postgres_url, leases)
    assert first.acquire() and first.held()
    assert not second.acquire() and not second.held()
    assert second.problem is None, "another replica leading is no problem, just a no"
    assert first.acquire(), "asking again while holding it stays true"
    assert holders(postgres_url) == [f"replywatch lease {socket.gethostname()}:{os.getpid()}"[:63]]
    first.release()
    assert holders(postgres_url) == [], "released once, though acquired twice: nothing is left locked"
    assert second.acquire() and second.held()
    other = lease(postgres_url, leases, "globex")
    assert other.acquire(), "another account has a lead of its own"


def test_a_standby_takes_over_when_the_holders_connection_is_closed(postgres_url: str, leases: list[PostgresLease]) -> None:
    leader, standby = lease(postgres_url, leases), lease(postgres_url, leases)
    assert leader.acquire() and not standby.acquire()
    assert admin(postgres_url, "SELECT pg_terminate_backend(l.pid) " + HOLDING) == [(True,)]
    assert wait_for(standby.acquire, timeout=5), "the lock went with the connection"
    assert not leader.held(), "the old leader finds out on its next check"
    assert leader.problem is not None and leader.problem.startswith("its database connection failed: ")
    assert not leader.acquire(), "and it is a standby now, its connection opened afresh"
    assert leader.problem is None


def test_a_sigkilled_holder_frees_the_lead_at_once(postgres_url: str, leases: list[PostgresLease]) -> None:
    code = (
        "import sys, time\n"
        "from bot.leadership import open_lease\n"
        "lease = open_lease(sys.argv[1], 'acme')\n"
        "print(lease.acquire(), flush=True)\n"
        "time.sleep(60)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    holder = subprocess.Popen([sys.executable, "-c", code, postgres_url], stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "True"
        standby = lease(postgres_url, leases)
        assert not standby.acquire()
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=10)
        killed = time.monotonic()
        assert wait_for(standby.acquire, timeout=10, interval=0.02)
        took = time.monotonic() - killed
    finally:
        holder.kill()
        holder.wait()
    assert took < 1.0, f"free {took:.2f}s after the kill: PostgreSQL ends the session when its socket closes"
