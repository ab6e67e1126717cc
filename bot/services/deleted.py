"""Deleted posts: before anyone is pinged about a mention (its alert, an escalation, a reminder), look it up on X;
a deleted one is closed instead (its text removed, as X's terms ask, and any alert edited to say so).

Each look-up is one post read that X bills (`GET /2/tweets`, up to 100 a request): `CHECK_DELETED=false` turns
them off. Nothing is looked up while X's mentions read is failing, and a failed look-up lets the ping go out all
the same: an alert about a deleted post is better than no alert about a live one.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING

from bot.errors import ServiceError
from bot.model import Account, Mention
from bot.services.poll import MENTIONS

if TYPE_CHECKING:
    from bot.ports import XSource
    from bot.store.repository import Store

log = logging.getLogger(__name__)


class DeletionCheck:
    def __init__(self, x: XSource | None, store: Store, account: Account) -> None:
        self.x = x  # None: look-ups are off
        self.store = store
        self.account = account

    def close_deleted(self, mentions: list[Mention], now: datetime) -> set[int]:
        """Look these mentions up in one batch and close the deleted ones; returns their ids."""
        if self.x is None or not mentions or self._x_failing():
            return set()
        versions = {m.post.version_id or m.id: m.id for m in mentions}
        try:
            gone = self.x.deleted(list(versions))
        except ServiceError as exc:
            log.warning("could not look %d mention(s) up on X, going ahead: %s", len(versions), exc.message)
            return set()
        deleted = {versions[v] for v in gone}
        if deleted:
            with self.store.unit() as repo:
                repo.mark_deleted(sorted(deleted), now)
            log.info("%d mention(s) were deleted on X; closed, nobody is pinged about them", len(deleted))
        return deleted

    def _x_failing(self) -> bool:
        with self.store.read() as repo:
            state = repo.endpoint(self.account.username, MENTIONS)
        return state is not None and state.last_error is not None
