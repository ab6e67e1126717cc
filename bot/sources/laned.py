"""A Source whose reads run in the account's own lane (bot.lanes), with a total deadline per call: a network that
hangs, or drips its answer a byte at a time, fails that account's read after the deadline (recorded, backed off,
reported like any failure) and never holds anything else. Deletion look-ups are not laned here: they have a lane
of their own (bot.services.deleted), so a slow look-up never holds the account's reads either; nor are replies
sent from Slack, which go in the account's lane for writes: a hanging post never holds a read, nor a read a post."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from bot.lanes import Lanes
from bot.model import Account, AccountKey, Draft, Post, Read, Timeline

if TYPE_CHECKING:
    from bot.ports import Source


def reads_lane(where: AccountKey) -> str:
    return f"reads of {where}"


def writes_lane(where: AccountKey) -> str:
    return f"replies as {where}"


class LanedSource:
    def __init__(self, source: Source, where: AccountKey, lanes: Lanes) -> None:
        self.source = source
        self.network = source.network
        self._lane = lanes.get(reads_lane(where), where.network.label, failures_told=False)  # the poll records them
        self._writes = lanes.get(writes_lane(where), where.network.label)

    def account(self) -> Account:
        return self._lane.call(self.source.account)

    def lookup(self, handle: str) -> Account:
        return self._lane.call(self.source.lookup, handle)

    def mentions(self, cursor: str | None, since: datetime) -> Timeline:
        return self._lane.call(self.source.mentions, cursor, since)

    def posts(self, who: Account, cursor: str | None, since: datetime) -> Timeline:
        return self._lane.call(self.source.posts, who, cursor, since)

    def deleted(self, post_ids: Sequence[str]) -> set[str]:
        return self.source.deleted(post_ids)

    def reads(self) -> list[Read]:
        return self.source.reads()

    def reply_limit(self) -> int:
        return self._writes.call(self.source.reply_limit)  # the instance's limit may be read from the network

    def length(self, text: str) -> int:
        return self.source.length(text)

    def write_refusal(self) -> str | None:
        return self.source.write_refusal()

    def reply(self, draft: Draft, retry: bool = False) -> Post:
        return self._writes.call(self.source.reply, draft, retry)
