"""Expiry: an open mention older than EXPIRE_AFTER is closed as expired. It is never answered as far as
replywatch is concerned (reports count it unanswered), its alert is edited once to say so, and nobody is reminded
of it again: the open queue stays bounded however many mentions a team leaves unanswered."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING

from bot.clock import Clock
from bot.humanize import format_age

if TYPE_CHECKING:
    from bot.store.repository import Store

log = logging.getLogger(__name__)

BATCH = 5000  # mentions closed a run at most: a backlog goes over a few runs, each transaction short


class ExpiryService:
    def __init__(self, store: Store, clock: Clock, expire_after: timedelta | None) -> None:
        self.store = store
        self.clock = clock
        self.expire_after = expire_after  # None: never

    def run_once(self) -> int:
        if self.expire_after is None:
            return 0
        now = self.clock.now()
        reason = f"expired: no reply within {format_age(self.expire_after)}; no longer waited for"
        with self.store.read() as repo:  # a write only when something expires
            expired = repo.expirable(now - self.expire_after, BATCH)
        if expired:
            with self.store.unit() as repo:
                repo.expire(expired, reason, now)
            log.info("%d mention(s) open longer than %s expired", len(expired), format_age(self.expire_after))
        return len(expired)
