"""Collection health: one note in the account's channel when reading its mentions has failed for three poll
intervals (or its network refused the token), and one when it recovers. They go out through the sweep, like every
message."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from bot.clock import Clock
from bot.messages import CollectionBroken, CollectionRecovered, Message
from bot.model import AccountKey, EndpointHealth
from bot.services.poll import TOKEN_REFUSED

if TYPE_CHECKING:
    from bot.store.repository import Store

BROKEN_AFTER_INTERVALS = 3


class HealthService:
    def __init__(
        self, store: Store, where: AccountKey, clock: Clock, poll_interval: timedelta, channel: str | None = None
    ) -> None:
        self.store = store
        self.where = where
        self.channel = channel  # the account's alert channel (None: the default one)
        self.prefix = f"collection:{where.network.value}:{where.handle}:"  # this account's collection notices
        self.clock = clock
        self.poll_interval = poll_interval
        self._last: Message | None = None  # the newest collection note, once read (read once: it scans notices)
        self._read = False

    def run_once(self) -> None:
        now = self.clock.now()
        with self.store.read() as repo:  # a write only when there is something to say
            states = repo.health(self.where)
            if not self._read:
                self._last, self._read = repo.last_note(self.prefix), True
        note = self._note(states, now)
        if note is not None and note != self._last:
            key = f"{self.prefix}{note.since.isoformat()}:{note.kind}"
            with self.store.unit() as repo:
                repo.add_notice(key, note, now, channel=self.channel)
            self._last = note

    def _note(self, states: list[EndpointHealth], now: datetime) -> CollectionBroken | CollectionRecovered | None:
        """The note to queue: collection broken, or working again after one said it broke."""
        broken = [
            s for s in states
            if s.failing_since is not None
            and (now - s.failing_since > self.poll_interval * BROKEN_AFTER_INTERVALS or _auth_error(s.last_error))
        ]
        network, account = self.where.network.value, self.where.handle
        if broken:
            first = min(broken, key=lambda s: s.failing_since or now)
            since = first.failing_since or now
            return CollectionBroken(network, account, since, first.last_error or "unknown error")
        last = self._last
        if isinstance(last, CollectionBroken) and all(s.failing_since is None for s in states):
            return CollectionRecovered(network, account, last.since)
        return None

def _auth_error(error: str | None) -> bool:
    return error is not None and error.startswith(TOKEN_REFUSED)
