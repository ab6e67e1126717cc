"""Counting what an adapter reads: every request and the posts it returned, per endpoint, until someone takes the
count to store it (bot.ports.Source.reads). Requests that fail count too: a network limits them all."""

from __future__ import annotations

import threading

from bot.model import Read


class ReadCounter:
    """Thread-safe: a poll and a deletion look-up may use the same adapter at once; each count is taken once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, list[int]] = {}

    def count(self, endpoint: str, posts: int = 0, *, owned: bool = False) -> None:
        """One request to `endpoint`, which returned `posts` posts."""
        with self._lock:
            counts = self._counts.setdefault(endpoint, [0, 0, 0])
            counts[0] += 1
            counts[1] += posts
            counts[2] += posts if owned else 0

    def take(self) -> list[Read]:
        """What was counted since the last take, and start again from nothing."""
        with self._lock:
            counts, self._counts = self._counts, {}
        return [Read(endpoint, *c) for endpoint, c in sorted(counts.items())]
