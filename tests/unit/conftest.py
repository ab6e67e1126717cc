"""Fixtures of the service tests on the fakes (tests/fakes.py): a real SQLite store at the newest schema."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.store.db import make_engine, upgrade
from bot.store.repository import Store


@pytest.fixture(scope="session")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file at the newest schema, migrated once: each test gets a copy (a migration takes a third of a second)."""
    path = tmp_path_factory.mktemp("schema") / "replywatch.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture
def store(migrated: Path, tmp_path: Path) -> Iterator[Store]:
    shutil.copy(migrated, tmp_path / "replywatch.db")
    s = Store(make_engine(f"sqlite:///{tmp_path}/replywatch.db"))
    yield s
    s.dispose()
