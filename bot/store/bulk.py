"""Many rows or ids in one statement, without SQLAlchemy's work for every row and value: what a poll of thousands
of mentions writes and looks up.

PostgreSQL gets a set of rows as one JSON document and a list of ids as one array literal: one parameter however
many (its limit is 65,535 a statement), one round trip, parsed by the server. SQLite runs one prepared statement for
every row (the driver's executemany) and reads a list of ids from one JSON array (`json_each`). Values are put in
the form the column stores here, once: the same form `UTCDateTime` gives the rows SQLAlchemy writes."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any, TypeVar

from sqlalchemy import (
    ARRAY,
    BigInteger,
    ColumnElement,
    String,
    Table,
    Text,
    any_,
    cast,
    func,
    literal,
    literal_column,
    select,
    text,
)
from sqlalchemy.orm import Session
from sqlalchemy.types import NullType

from bot.store.tables import UTCDateTime

CHUNK = 10_000  # rows a statement: bounds the size of one document or one executemany
T = TypeVar("T")


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """`items` `size` at a time, in order."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _quoted(value: str) -> str:
    """One element of a PostgreSQL array literal, quoted: a post id may hold any character."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("naive datetime given to the store")
    return value.astimezone(UTC)


def _sqlite_stamp(value: datetime) -> str:
    """Naive UTC with microseconds, the text SQLAlchemy's SQLite DateTime stores (and compares as text)."""
    return _utc(value).replace(tzinfo=None).isoformat(" ", "microseconds")


def _postgres_stamp(value: datetime) -> str:
    return _utc(value).isoformat()


class Bulk:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.pg = session.get_bind().dialect.name == "postgresql"
        self._stamp: Callable[[datetime], str] = _postgres_stamp if self.pg else _sqlite_stamp

    def among(self, column: ColumnElement, ids: Sequence[Any]) -> ColumnElement[bool]:
        """`column IN ids` with one parameter (ids: integers or strings, as the column holds)."""
        if self.pg:
            # an untyped parameter: a VARCHAR one would be cast to an array again for every row
            if isinstance(column.type, String):
                items, kind = (_quoted(str(i)) for i in ids), ARRAY(Text)
            else:
                items, kind = map(str, ids), ARRAY(BigInteger)
            return column == any_(cast(literal("{" + ",".join(items) + "}", NullType()), kind))
        return column.in_(select(literal_column("value")).select_from(func.json_each(literal(json.dumps(list(ids))))))

    def insert_new(self, table: Table, rows: list[dict], key: str, scope: dict[str, Any] | None = None) -> list[Any]:
        """Insert the rows whose `key` is not stored yet among the stored rows with `scope`'s values (every row has
        the same columns, `scope`'s among them, with its values); returns their keys."""
        if not rows:
            return []
        scope = scope or {}
        names = list(rows[0])
        columns, unique = ", ".join(names), ", ".join([*scope, key])
        if self.pg:
            stmt = text(
                f"INSERT INTO {table.name} ({columns}) SELECT {columns} "
                f"FROM json_populate_recordset(NULL::{table.name}, CAST(:rows AS json)) "
                f"ON CONFLICT ({unique}) DO NOTHING RETURNING {key}"
            )
            return [k for chunk in chunks(rows, CHUNK) for k in self.session.scalars(stmt, {"rows": self._document(chunk)})]
        where = [table.c[n] == v for n, v in scope.items()]
        known = {
            k for chunk in chunks([r[key] for r in rows], CHUNK)
            for k in self.session.scalars(select(table.c[key]).where(*where, self.among(table.c[key], chunk)))
        }
        fresh = list({r[key]: r for r in rows if r[key] not in known}.values())
        marks = ", ".join("?" * len(names))
        self._each(f"INSERT INTO {table.name} ({columns}) VALUES ({marks}) ON CONFLICT ({unique}) DO NOTHING", table, names, fresh)
        return [r[key] for r in fresh]

    def update(self, table: Table, rows: list[dict], key: str, where: dict[str, Any]) -> None:
        """Set each row's columns on the stored row with its `key`, where the stored row's columns equal `where`."""
        if not rows:
            return
        names = [n for n in rows[0] if n != key]
        if self.pg:
            assignments = ", ".join(f"{n} = a.{n}" for n in names)
            conditions = "".join(f" AND {table.name}.{n} = :{n}" for n in where)
            stmt = text(
                f"UPDATE {table.name} SET {assignments} FROM json_populate_recordset(NULL::{table.name}, CAST(:rows AS json)) "
                f"AS a WHERE {table.name}.{key} = a.{key}{conditions}"
            )
            for chunk in chunks(rows, CHUNK):
                self.session.execute(stmt, {"rows": self._document(chunk), **where})
            return
        assignments = ", ".join(f"{n} = ?" for n in names)
        conditions = "".join(f" AND {n} = ?" for n in where)
        sql = f"UPDATE {table.name} SET {assignments} WHERE {key} = ?{conditions}"
        self._each(sql, table, [*names, key], rows, tuple(where.values()))

    def _each(self, sql: str, table: Table, names: list[str], rows: Sequence[dict], extra: tuple = ()) -> None:
        """SQLite: `sql` run once for every row, with the row's `names` (then `extra`) as its parameters."""
        connection = self.session.connection()
        for chunk in chunks(rows, CHUNK):
            if chunk:
                connection.exec_driver_sql(sql, [(*values, *extra) for values in self._values(table, names, chunk)])

    def _values(self, table: Table, names: list[str], rows: Sequence[dict]) -> list[tuple]:
        get = itemgetter(*names)
        times = [i for i, n in enumerate(names) if isinstance(table.c[n].type, UTCDateTime)]
        if not times:
            return [get(r) for r in rows]
        seen: dict[datetime, str] = {}  # equal times (a poll's first_seen_at, a mention's created_at and due_at) once
        values = []
        for row in rows:
            value = list(get(row))
            for i in times:
                if value[i] is not None:
                    found = seen.get(value[i])
                    value[i] = found if found is not None else seen.setdefault(value[i], self._stamp(value[i]))
            values.append(tuple(value))
        return values

    def _document(self, rows: Sequence[dict]) -> str:
        return json.dumps(rows, default=self._stamp)
