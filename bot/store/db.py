"""Engines and migrations. SQLite gets WAL, a busy timeout, foreign keys and `BEGIN IMMEDIATE` transactions,
so that two jobs writing at once wait for each other instead of failing with "database is locked", and
`synchronous=FULL`, so that a commit is on disk before the call that follows it (an alert's row before its Slack
post) even when the disk fails under it. Migrations run one process at a time; reads never migrate.

A SQLite file holds secrets (Bluesky sessions), so it is its owner's alone: the writer creates it 0600 before SQLite
opens it (SQLite gives its -wal and -shm files the database's mode), and tightens one an older replywatch left
open to other users, saying so. Reads change no file."""

from __future__ import annotations

import logging
import os
import sqlite3
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.resources import as_file, files
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, create_engine, event, func, inspect, select, text
from sqlalchemy.engine import make_url

BUSY_TIMEOUT_MS = 15000
READ_ONLY = "replywatch_read_only"  # execution option: begin a plain (deferred) transaction
MIGRATION_LOCK = 0x7265706C7977  # PostgreSQL advisory lock key ("replyw"): one migrating process at a time
UPGRADE = "run `replywatch db upgrade` (`replywatch run` does it too, on start)"
PRIVATE = 0o600  # a SQLite file's mode: read and written by its owner only
SIDE_FILES = ("-wal", "-shm", "-journal")  # what SQLite keeps beside a database, with the same contents at stake

log = logging.getLogger(__name__)


class SchemaError(Exception):
    """The database is missing or its schema is not the one this replywatch reads; one line naming the fix.
    `upgradeable`: `replywatch db upgrade` fixes it."""

    def __init__(self, message: str, upgradeable: bool = True) -> None:
        super().__init__(message)
        self.upgradeable = upgradeable


def make_engine(url: str, *, create: bool = True) -> Engine:
    """An engine for `url`. A SQLite file's folder is created if missing; with `create=False` (reads) a missing
    SQLite file is a SchemaError instead of a new empty database."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(parsed, pool_pre_ping=True)
    # `sqlite:///file:path?mode=ro&uri=true` names a URI, not a path: SQLite opens it as it says.
    if parsed.database and parsed.database != ":memory:" and not parsed.query.get("uri"):
        path = Path(parsed.database)
        if not create and not path.exists():
            raise SchemaError(f"no database at {path}: {UPGRADE}")
        if create:
            path.parent.mkdir(parents=True, exist_ok=True)
            _private(path)
    engine = create_engine(parsed, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection, _record):  # noqa: ANN001
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves, below
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
        except sqlite3.OperationalError as exc:
            # A read-only file (or `mode=ro`) not in WAL mode cannot switch; it is still fine to read.
            if not exc.sqlite_errorname.startswith("SQLITE_READONLY"):
                raise
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin_immediate(connection):  # noqa: ANN001
        # A read-only unit (Store.read) never waits for a writer: in WAL mode readers see the last commit.
        connection.exec_driver_sql("BEGIN" if connection.get_execution_options().get(READ_ONLY) else "BEGIN IMMEDIATE")

    return engine


def _private(path: Path) -> None:
    """Create the database file 0600 if it is missing; take group and others' access from it and its side files."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE))  # SQLite reads an empty file as empty
    except OSError:
        pass  # it exists; or it cannot be made, which SQLite says as it always has when it opens it
    for file in (path, *(path.with_name(path.name + suffix) for suffix in SIDE_FILES)):
        try:
            mode = stat.S_IMODE(file.stat().st_mode)
        except FileNotFoundError:
            continue
        if mode & 0o077:
            try:
                file.chmod(mode & 0o700)
            except OSError as exc:
                log.warning("DATABASE_URL: %s is open to other users (%o) and cannot be made private: %s", file, mode, exc.strerror)
            else:
                log.warning("DATABASE_URL: %s was open to other users (%o): now %o, its owner's only", file, mode, mode & 0o700)


if TYPE_CHECKING:
    from alembic.config import Config

SCHEMA = "0013"  # the newest migration shipped (a test holds it to Alembic's head): reads check it without Alembic


@contextmanager
def _alembic(connection: Connection | None = None) -> Iterator[Config]:
    """The Alembic configuration of the migrations shipped in the package (imported only to migrate: `status` and
    `health` start faster without it)."""
    from alembic.config import Config

    with as_file(files("bot.migrations")) as script_location:
        config = Config()
        config.set_main_option("script_location", str(script_location))
        config.attributes["connection"] = connection
        yield config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply the migrations up to `revision`, one process at a time: on SQLite `BEGIN IMMEDIATE` makes a second
    process wait, on PostgreSQL an advisory lock held until the migration commits."""
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        # SQLite alters a column by rebuilding its table, and dropping the old table with foreign keys on would
        # delete what refers to it (an alert's ON DELETE CASCADE): off for the migration, as SQLite's own
        # procedure says (it can only be switched outside a transaction), and every reference checked before commit.
        raw = connection.connection.driver_connection if sqlite else None
        if raw is not None:
            raw.execute("PRAGMA foreign_keys=OFF")
        try:
            with connection.begin():
                if not sqlite:
                    connection.execute(select(func.pg_advisory_xact_lock(MIGRATION_LOCK)))
                _refuse_unknown(_revision(connection))
                from alembic import command

                with _alembic(connection) as config:
                    command.upgrade(config, revision)
                if sqlite and connection.exec_driver_sql("PRAGMA foreign_key_check").first() is not None:
                    raise SchemaError("the migration left a reference to a missing row; nothing was changed", upgradeable=False)
        finally:
            if raw is not None:
                raw.execute("PRAGMA foreign_keys=ON")


def head_revision() -> str:
    """The newest migration this replywatch ships, as Alembic finds it."""
    from alembic.script import ScriptDirectory

    with _alembic() as config:
        return ScriptDirectory.from_config(config).get_current_head() or ""


def current_revision(engine: Engine) -> str | None:
    """The database's schema revision (None before the first migration), read without taking the write lock."""
    with engine.execution_options(**{READ_ONLY: True}).connect() as connection:
        return _revision(connection)


def _revision(connection: Connection) -> str | None:
    if not inspect(connection).has_table("alembic_version"):
        return None
    return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def require_schema(engine: Engine) -> None:
    """Raise SchemaError unless the schema is the one this replywatch reads. Migrates nothing."""
    current, head = current_revision(engine), SCHEMA
    if current == head:
        return
    if current is None:
        raise SchemaError(f"the database has no replywatch schema yet: {UPGRADE}")
    _refuse_unknown(current)
    raise SchemaError(f"the database schema is at {current}, this replywatch reads {head}: {UPGRADE}")


def _refuse_unknown(current: str | None) -> None:
    """A revision this replywatch does not ship was written by a newer one: neither reads nor migrations may touch it."""
    if current is None or current == SCHEMA:
        return
    from alembic.script import ScriptDirectory

    with _alembic() as config:
        scripts = ScriptDirectory.from_config(config)
        known = {script.revision for script in scripts.walk_revisions()}
        head = scripts.get_current_head()
    if current is not None and current not in known:
        raise SchemaError(
            f"the database schema is at {current}, newer than this replywatch knows ({head}): install the newer replywatch",
            upgradeable=False,
        )
