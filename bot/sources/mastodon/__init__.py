"""Mastodon, through Mastodon.py: `MastodonSource` reads one account on its instance."""

from __future__ import annotations

from bot.sources.mastodon.client import MastodonSource

__all__ = ["MastodonSource"]
