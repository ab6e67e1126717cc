"""Mastodon, through Mastodon.py: `MastodonSource` reads one account on its instance. The SDK loads with the
adapter, not with the package: the registry imports this folder's spec (bot.sources.mastodon.spec) and nothing
else."""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.sources.mastodon.client import MastodonSource

__all__ = ["MastodonSource"]


def __getattr__(name: str) -> object:
    if name == "MastodonSource":
        return import_module(f"{__name__}.client").MastodonSource
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
