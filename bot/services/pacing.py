"""Politeness toward Slack: per channel, on the monotonic clock, at most one message a second (new posts and edits
alike), nothing before a Retry-After has passed, and posts and edits taking turns when both wait."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum

POST_SPACING = timedelta(seconds=1)


class Slot(StrEnum):
    POST = "post"
    EDIT = "edit"


@dataclass
class Pacer:
    """Per channel, on the monotonic clock: when the next message may go (one a second, posts and edits alike),
    any Retry-After hold, and what took the last slot, so that posts and edits take turns when both wait."""

    spacing: float = POST_SPACING.total_seconds()
    not_before: dict[str, float] = field(default_factory=dict)
    last: dict[str, Slot] = field(default_factory=dict)

    def ready(self, channel: str, mono: float) -> bool:
        return mono >= self.not_before.get(channel, mono)

    def held(self, mono: float) -> frozenset[str]:
        """The channels that may take nothing now."""
        return frozenset(channel for channel, until in self.not_before.items() if mono < until)

    def used(self, channel: str, mono: float, slot: Slot) -> None:
        self.not_before[channel] = max(self.not_before.get(channel, mono), mono + self.spacing)
        self.last[channel] = slot

    def hold(self, channel: str, until: float) -> None:
        self.not_before[channel] = max(self.not_before.get(channel, until), until)

    def edits_first(self, channel: str) -> bool:
        return self.last.get(channel) is Slot.POST
