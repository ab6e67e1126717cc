"""The shape STYLE.md asks for, held: services know no network's adapter and no Slack layout, and no module grows
past what one reading takes in."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

BOT = Path(__file__).resolve().parents[2] / "bot"
OUTSIDE = ("bot.slack", "bot.sources", "slack_sdk", "tweepy", "atproto", "mastodon", "sqlalchemy")


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


@pytest.mark.parametrize("path", sorted((BOT / "services").glob("*.py")), ids=lambda p: p.name)
def test_a_service_imports_no_adapter_and_no_layout(path: Path) -> None:
    bad = sorted(m for m in _imports(path) if m.startswith(OUTSIDE))
    assert bad == [], f"{path.name} imports {bad}: services talk to ports, the sink lays messages out"


def test_rules_and_the_model_import_nothing_of_the_outside() -> None:
    for name in ("rules.py", "model.py", "messages.py", "policy.py"):
        assert not [m for m in _imports(BOT / name) if m.startswith(OUTSIDE)], name


def test_no_module_is_over_about_300_lines() -> None:
    # bot/standins is left out: each is one API's stand-in, as long as the shapes of that API it answers in
    long = {
        p.relative_to(BOT).as_posix(): n for p in BOT.rglob("*.py")
        if "standins" not in p.parts and (n := len(p.read_text().splitlines())) > 310
    }
    assert long == {}


def test_nothing_but_the_demo_uses_the_stand_ins() -> None:
    for path in BOT.rglob("*.py"):
        if "standins" not in path.parts and "demo" not in path.parts:
            assert not [m for m in _imports(path) if m.startswith("bot.standins")], path
