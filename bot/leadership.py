"""Who may work: one `replywatch run` per X account leads; on PostgreSQL the others stand by.

The leader polls X and does everything that ends in Slack (sweep, follow-ups, on call, health). Two leaders would
each read every post (X bills each read) and, worse, each take the other's in-flight `sending` rows for crash
leftovers, search Slack, find nothing yet and post again.

PostgreSQL: the lead is a session-level advisory lock (`pg_try_advisory_lock`) on a connection of its own, keyed
by the account. It lives exactly as long as that connection: a leader that is SIGKILLed, or whose host
vanishes, loses it when PostgreSQL sees the connection close (at once for a kill; within about 15 s for a host
gone silent, by the keepalives set below), and a standby, trying every RETRY, takes it. A leader confirms it
still holds the lock before each run of a leader job (one round trip); any error counts as lost, and the
connection is dropped so that the lock surely goes.

SQLite: one process per database file, held by an exclusive `flock` on `<file>.lock`. A second `run` is refused
(there is no standby on SQLite). An in-memory database is private to its process: nothing to lock.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Collection
from datetime import timedelta
from pathlib import Path
from typing import Protocol

from sqlalchemy import Connection, create_engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from bot.logs import one_line
from bot.scheduler import Jobs

log = logging.getLogger(__name__)

RETRY = timedelta(seconds=2)  # how often a standby tries to take the lead
# libpq settings for the lock's connection. Client side: a held() on a dead network fails within seconds instead
# of hanging. Server side: PostgreSQL notices a leader whose host vanished (no FIN ever comes) and frees the lock.
_LIBPQ = {"connect_timeout": 5, "keepalives": 1, "keepalives_idle": 5, "keepalives_interval": 2, "keepalives_count": 3,
          "tcp_user_timeout": 10_000}
_SERVER_KEEPALIVES = "-c tcp_keepalives_idle=5 -c tcp_keepalives_interval=2 -c tcp_keepalives_count=3"


class Lease(Protocol):
    standby: bool  # whether a process that cannot acquire it may wait for it (PostgreSQL), or must leave (SQLite)
    problem: str | None  # why the last acquire() or held() failed, unless another process simply holds the lease

    def acquire(self) -> bool:
        """Take the lead if it is free; never waits."""
        ...

    def held(self) -> bool:
        """Whether this process still leads."""
        ...

    def release(self) -> None: ...


def lock_key(account: str) -> int:
    """The advisory lock key of an X account: a signed 64-bit hash of "replywatch:<handle>", the same in every
    process and version (Python's hash() is not). Handles are case-insensitive on X, and so is the key."""
    digest = hashlib.blake2b(f"replywatch:{account.lower()}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def open_lease(database_url: str, account: str) -> Lease:
    """The lease for this database and account. Opens nothing yet."""
    backend = make_url(database_url).get_backend_name()
    if backend == "postgresql":
        return PostgresLease(database_url, account)
    path = sqlite_path(database_url) if backend == "sqlite" else None  # another backend fails when the store opens it
    return FileLease(path) if path is not None else PrivateLease()


def sqlite_path(database_url: str) -> Path | None:
    """The file of a SQLite URL (`sqlite:///x.db` or `sqlite:///file:x.db?...&uri=true`); None in memory."""
    url = make_url(database_url)
    database = url.database or ""
    if url.query.get("uri"):
        if url.query.get("mode") == "memory":
            return None
        database = database.removeprefix("file:")
    return Path(database) if database and database != ":memory:" else None


class PostgresLease:
    standby = True

    def __init__(self, database_url: str, account: str) -> None:
        self.key = lock_key(account)
        self.problem: str | None = None
        url = make_url(database_url)
        args: dict[str, object] = {}
        if url.get_driver_name() in {"psycopg", "psycopg2"}:
            args = {k: v for k, v in _LIBPQ.items() if k not in url.query}
            args.setdefault("options", url.query.get("options", _SERVER_KEEPALIVES))
            # Shows in pg_stat_activity which replica leads: the session holding the advisory lock.
            args["application_name"] = f"replywatch lease {socket.gethostname()}:{os.getpid()}"[:63]
        # Its own engine, never pooled: closing the connection is what frees the lock.
        self._engine = create_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT", connect_args=args)
        self._connection: Connection | None = None
        self._holding = False
        self._lock = threading.Lock()  # the job threads share the one connection

    def acquire(self) -> bool:
        with self._lock:
            if self._holding:
                return True  # a session lock is re-entrant: taking it twice would need two unlocks
            try:
                if self._connection is None:
                    self._connection = self._engine.connect()
                self._holding = bool(self._connection.execute(select(func.pg_try_advisory_lock(self.key))).scalar())
            except Exception as exc:  # noqa: BLE001 — any failure: not leading, try again later
                self.problem = f"cannot reach the database: {_describe(exc)}"
                self._drop()
                return False
            self.problem = None
            return self._holding

    def held(self) -> bool:
        with self._lock:
            if not self._holding or self._connection is None:
                return False
            try:
                self._connection.execute(text("SELECT 1"))
            except Exception as exc:  # noqa: BLE001 — any error: the lock may be gone; make sure it is
                self.problem = f"its database connection failed: {_describe(exc)}"
                self._drop()
                return False
            return True

    def release(self) -> None:
        with self._lock:
            self._drop()
        self._engine.dispose()

    def _drop(self) -> None:
        """Close the connection: PostgreSQL ends the session and with it the lock."""
        self._holding = False
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                connection.invalidate()  # closes the DBAPI connection now, whatever state it is in
            except Exception:  # noqa: BLE001, S110 — already broken: nothing more to close
                pass


class FileLease:
    """An exclusive `flock` on `<database file>.lock`: the kernel drops it when the process ends, however it ends."""

    standby = False

    def __init__(self, database: Path) -> None:
        self.database = database
        self.path = database.with_name(database.name + ".lock")
        self.problem: str | None = None
        self._fd: int | None = None

    def acquire(self) -> bool:
        if self._fd is not None:
            return True
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            self.problem = f"cannot open {self.path}: {exc.strerror}"
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            self.problem = (
                f"another `replywatch run` uses {self.database}; one may run per SQLite file (several replicas need PostgreSQL)"
            )
            return False
        self._fd = fd
        return True

    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)  # closing the only descriptor releases the flock


class PrivateLease:
    """An in-memory database: no other process can see it, so this one always leads."""

    standby = False
    problem = None

    def acquire(self) -> bool:
        return True

    def held(self) -> bool:
        return True

    def release(self) -> None:
        pass


def _describe(exc: Exception) -> str:
    first = str(exc).splitlines()[0] if str(exc) else ""
    return one_line(f"{type(exc).__name__}: {first}")  # whole: redacted where it is shown, then cut


class Lead:
    """Runs the leader jobs while this replica holds the lease; while it stands by, `tick` tries to take it.

    Transitions are logged once each, never a tick. A replica that takes over, or leads from its start, lets the jobs
    in `after_takeover` (the ones whose Slack posts a killed leader may have left in flight) wait `grace` before
    their first run.
    """

    def __init__(
        self, lease: Lease, account: str, grace: timedelta, after_takeover: Collection[str] = (),
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.lease = lease
        self.account = account
        self.grace = grace.total_seconds()
        self.after_takeover = frozenset(after_takeover)
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._leading = lease.held()  # acquired at start (or not) by `replywatch run`
        # A replica that leads from its own start may be a killed leader restarted at once, its post still in flight:
        # it waits too (see `tick`)
        self._not_before = self._monotonic() + self.grace if self._leading else 0.0  # when after_takeover jobs may run
        self._failing = False  # trying for the lead fails (not: another replica has it); said once
        if self._leading:
            log.info("leading @%s now (Slack work starts in %gs, once anything in flight has landed)", account, self.grace)
        else:
            log.info("standing by: another replica leads @%s", account)

    def tick(self) -> None:
        """As leader, check the lease; as standby, try to take it."""
        if self._leading:
            self._still_leading()
            return
        acquired = self.lease.acquire()
        failing = self.lease.problem is not None
        if failing and not self._failing:
            log.warning("standing by, cannot try for the lead of @%s: %s", self.account, self.lease.problem)
        self._failing = failing
        if not acquired:
            return
        with self._lock:
            # A leader that was killed may have a Slack post in flight that lands seconds after the kill. The
            # rows it left `sending` are searched in Slack before anything is posted again; searching before
            # that post has landed finds nothing and posts it twice. No call of the old leader outlives
            # HTTP_TIMEOUT on its side, so the sweep (and the follow-ups, judged from the same alert rows) wait
            # that long after a takeover.
            self._not_before = self._monotonic() + self.grace
            self._leading = True
        log.info("leading @%s now (took over; Slack work starts in %gs, once anything in flight has landed)", self.account, self.grace)

    def allows(self, name: str) -> bool:
        """Whether job `name` may run now: this replica leads (one round trip to confirm it), and no takeover
        grace holds the job back."""
        if not self._leading or not self._still_leading():
            return False
        return name not in self.after_takeover or self._monotonic() >= self._not_before

    def gated(self, name: str, job: Callable[[], object]) -> Callable[[], object]:
        def run() -> object:
            return job() if self.allows(name) else None

        return run

    def _still_leading(self) -> bool:
        if self.lease.held():
            return True
        with self._lock:
            was, self._leading = self._leading, False
        if was:
            why = self.lease.problem or "the lease was released"
            log.error("lost the lead of @%s (%s); standing by, trying again every %gs", self.account, why, RETRY.total_seconds())
        return False


def leader_only(jobs: Jobs, lease: Lease, account: str, grace: timedelta, after_takeover: Collection[str] = ()) -> Jobs:
    """`jobs`, each run only while this replica leads, and the job that takes the lead when it comes free. A lease
    nobody can wait for (SQLite) never changes hands: the jobs are returned as they are."""
    if not lease.standby:
        return jobs
    lead = Lead(lease, account, grace, after_takeover)
    return [(name, lead.gated(name, job), every) for name, job, every in jobs] + [("leadership", lead.tick, RETRY)]
