"""Engines and migrations. SQLite gets WAL, a busy timeout, foreign keys and `BEGIN IMMEDIATE` transactions,
so that two jobs writing at once wait for each other instead of failing with "database is locked", and
`synchronous=FULL`, so that a commit is on disk before the call that follows it (an alert's row before its Slack
post) even when the disk fails under it. Migrations run one process at a time."""

from __future__ import annotations

from importlib.resources import as_file, files
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, func, select
from sqlalchemy.engine import make_url

BUSY_TIMEOUT_MS = 15000
READ_ONLY = "replywatch_read_only"  # execution option: begin a plain (deferred) transaction
MIGRATION_LOCK = 0x7265706C7977  # PostgreSQL advisory lock key ("replyw"): one migrating process at a time


def make_engine(url: str) -> Engine:
    """An engine for `url`; for a SQLite file, its folder is created if missing."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(parsed, pool_pre_ping=True)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(parsed, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection, _record):  # noqa: ANN001
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves, below
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin_immediate(connection):  # noqa: ANN001
        # A read-only unit (Store.read) never waits for a writer: in WAL mode readers see the last commit.
        connection.exec_driver_sql("BEGIN" if connection.get_execution_options().get(READ_ONLY) else "BEGIN IMMEDIATE")

    return engine



def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply the Alembic migrations shipped in the package up to `revision`, one process at a time: on SQLite
    `BEGIN IMMEDIATE` makes a second process wait, on PostgreSQL an advisory lock held until the migration commits."""
    with as_file(files("bot.migrations")) as script_location, engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(select(func.pg_advisory_xact_lock(MIGRATION_LOCK)))
        config = Config()
        config.set_main_option("script_location", str(script_location))
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()
