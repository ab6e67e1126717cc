"""Alembic environment: runs on the connection replywatch hands it (see bot.store.db.upgrade)."""

from alembic import context
from sqlalchemy import create_engine

from bot.store.tables import Base

config = context.config
target_metadata = Base.metadata


def _run(connection) -> None:  # noqa: ANN001
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    url = config.get_main_option("sqlalchemy.url")
    with create_engine(url).begin() as conn:
        _run(conn)
