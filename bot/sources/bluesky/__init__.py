"""Bluesky (AT Protocol) through the atproto SDK: one kept session (logins within createSession's limits),
notifications paged back to a stored mark. The SDK loads with the adapter, not with the package: the registry
imports this folder's spec (bot.sources.bluesky.spec) and nothing else."""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.sources.bluesky.client import BlueskySource
    from bot.sources.bluesky.sdk import SessionStore

__all__ = ["BlueskySource", "SessionStore"]
_WHERE = {"BlueskySource": "client", "SessionStore": "sdk"}


def __getattr__(name: str) -> object:
    if name in _WHERE:
        return getattr(import_module(f"{__name__}.{_WHERE[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
