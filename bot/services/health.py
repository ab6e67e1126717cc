"""Collection health: one notice in the channel when reading X has failed for three poll intervals (or X refused
the token), and one when it recovers. The notices go out through the sweep, like every message."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from bot.clock import Clock
from bot.model import AccountKey, EndpointHealth
from bot.services.poll import TOKEN_REFUSED
from bot.slack.blocks import escape

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
        self._last: str | None = None  # the newest collection notice's key, once read (read once: it scans notices)
        self._read = False

    def run_once(self) -> None:
        now = self.clock.now()
        with self.store.read() as repo:  # a write only when there is something to say
            states = repo.health(self.where)
            if not self._read:
                self._last, self._read = repo.last_notice(self.prefix), True
        notice = self._notice(states, now)
        if notice is not None and notice[0] != self._last:
            with self.store.unit() as repo:
                repo.add_notice(*notice, now, channel=self.channel)
            self._last = notice[0]

    def _notice(self, states: list[EndpointHealth], now: datetime) -> tuple[str, str] | None:
        """(key, text) of the notice to queue: collection broken, or working again after one said it broke."""
        broken = [
            s for s in states
            if s.failing_since is not None
            and (now - s.failing_since > self.poll_interval * BROKEN_AFTER_INTERVALS or _auth_error(s.last_error))
        ]
        if broken:
            first = min(broken, key=lambda s: s.failing_since or now)
            since = first.failing_since or now
            return (
                f"{self.prefix}{since.isoformat()}:broken",
                f":warning: Mentions of {escape(str(self.where))} are not being collected since "
                f"{since:%Y-%m-%d %H:%M} UTC: {escape(first.last_error or 'unknown error')}",
            )
        last = self._last
        if last is not None and last.endswith(":broken") and all(s.failing_since is None for s in states):
            since = last[len(self.prefix) : -len(":broken")]
            return (
                f"{self.prefix}{since}:recovered",
                f":white_check_mark: Mentions of {escape(str(self.where))} are being collected again "
                f"(not collected since {since[:16].replace('T', ' ')} UTC).",
            )
        return None


def _auth_error(error: str | None) -> bool:
    return error is not None and error.startswith(TOKEN_REFUSED)
