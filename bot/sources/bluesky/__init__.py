"""Bluesky (AT Protocol) through the atproto SDK: one kept session (logins within createSession's limits),
notifications paged back to a stored mark."""

from bot.sources.bluesky.client import BlueskySource
from bot.sources.bluesky.sdk import SessionStore

__all__ = ["BlueskySource", "SessionStore"]
