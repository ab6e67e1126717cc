"""The contract suites' world: each network's stand-in and adapters (tests/contract/<network>.py), one test run per
network whose world exists (WORLDS)."""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Iterator

import pytest

from tests.contract.world import World

WORLDS = {"x": "tests.contract.x", "bluesky": "tests.contract.bluesky", "mastodon": "tests.contract.mastodon"}


def available() -> list[str]:
    return [name for name, module in WORLDS.items() if importlib.util.find_spec(module) is not None]


@pytest.fixture(params=available())
def world(request: pytest.FixtureRequest) -> Iterator[World]:
    w = importlib.import_module(WORLDS[request.param]).World()
    yield w
    w.close()
