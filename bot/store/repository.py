"""The store: the only code that speaks SQL. Services open a unit of work (one transaction) and call the
repository, made of one part per job (mentions, delivery, notices, follow-ups, actions, cursors, reads, the
report's reads, the metrics' tallies, retention, replies written in Slack)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from bot.clock import Clock
from bot.store.actions import Actions
from bot.store.cursors import Cursors
from bot.store.db import READ_ONLY
from bot.store.delivery import Delivery, SweepWork
from bot.store.followups import FollowUps
from bot.store.mentions import Mentions
from bot.store.metrics import Tallies
from bot.store.notices import Notices
from bot.store.outgoing import OutgoingReplies
from bot.store.reads import Reads
from bot.store.report import ReportReads
from bot.store.retention import Retention

__all__ = ["Repository", "Store", "SweepWork"]


class Repository(Mentions, Delivery, Notices, FollowUps, Actions, Cursors, Reads, ReportReads, Tallies, Retention, OutgoingReplies):
    """Everything a unit of work can do, on its session."""


class Store:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        # PostgreSQL's READ COMMITTED gives each statement its own snapshot inside a transaction or out of one: a
        # read outside one gives up nothing, and saves its BEGIN and COMMIT. SQLite's deferred BEGIN keeps one
        # snapshot for the whole read and never waits for a writer.
        autocommit = {"isolation_level": "AUTOCOMMIT"} if engine.dialect.name == "postgresql" else {}
        self._reader = engine.execution_options(**{READ_ONLY: True}, **autocommit)

    @contextmanager
    def unit(self) -> Iterator[Repository]:
        """One transaction: committed when the block ends, rolled back if it raises."""
        with Session(self.engine, expire_on_commit=False) as session, session.begin():
            yield Repository(session)

    @contextmanager
    def read(self) -> Iterator[Repository]:
        """A unit that only reads: on SQLite it does not wait for a writer (for answers that must be quick)."""
        with Session(self._reader, expire_on_commit=False) as session, session.begin():
            yield Repository(session)

    def dispose(self) -> None:
        self.engine.dispose()


class StoredSessions:
    """The sessions networks keep across restarts (Bluesky's), in the database: what its adapter's SessionStore
    asks for. With `keep=False` (`check`, which writes nothing) a new session is kept for this run only."""

    def __init__(self, store: Store | None, clock: Clock, *, keep: bool = True) -> None:
        self.store = store
        self.clock = clock
        self.keep = keep
        self._made: dict[str, str] = {}

    def load(self, key: str) -> str | None:
        if key in self._made or self.store is None:
            return self._made.get(key)
        with self.store.read() as repo:
            return repo.load_session(key)

    def save(self, key: str, value: str) -> None:
        if not self.keep or self.store is None:
            self._made[key] = value
            return
        with self.store.unit() as repo:
            repo.save_session(key, value, self.clock.now())
