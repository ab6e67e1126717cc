"""Deleted posts: before anyone is pinged about a mention (its alert, an escalation, a reminder), look it up on its
network; a deleted one is closed instead (its text removed, as X's terms ask, and any alert edited to say so).

Each look-up is a read the network bills or limits (X: `GET /2/tweets`, up to 100 a request): `CHECK_DELETED=false`
turns them off. Nothing is looked up while the account's mentions read is failing, and a failed look-up lets the
ping go out all the same: an alert about a deleted post is better than no alert about a live one.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING

from bot.errors import ServiceError
from bot.model import AccountKey, Mention
from bot.services.poll import MENTIONS

if TYPE_CHECKING:
    from bot.ports import Source
    from bot.store.repository import Store

log = logging.getLogger(__name__)


class DeletionCheck:
    def __init__(self, sources: Mapping[AccountKey, Source], store: Store) -> None:
        self.sources = sources  # empty: look-ups are off
        self.store = store

    def close_deleted(self, mentions: list[Mention], now: datetime) -> set[int]:
        """Look these mentions up, one batch per account, and close the deleted ones; returns their ids."""
        deleted: set[int] = set()
        by_account: dict[AccountKey, list[Mention]] = {}
        for m in mentions:
            by_account.setdefault(m.where, []).append(m)
        looked: list[AccountKey] = []
        for where, found in by_account.items():
            source = self.sources.get(where)
            if source is not None and not self._failing(where):
                deleted |= self._look_up(source, where, found)
                looked.append(where)
        if looked:
            with self.store.unit() as repo:
                repo.mark_deleted(sorted(deleted), now)
                for where in looked:  # look-ups are reads like any other: billed, and limited
                    repo.add_reads(where, self.sources[where].reads(), now.date())
        if deleted:
            log.info("%d mention(s) were deleted by their authors; closed, nobody is pinged about them", len(deleted))
        return deleted

    @staticmethod
    def _look_up(source: Source, where: AccountKey, mentions: list[Mention]) -> set[int]:
        versions = {m.post.version_id or m.post.id: m.id for m in mentions}
        try:
            gone = source.deleted(list(versions))
        except ServiceError as exc:
            log.warning("could not look %d mention(s) of %s up, going ahead: %s", len(versions), where, exc.message)
            return set()
        return {versions[v] for v in gone if v in versions}

    def _failing(self, where: AccountKey) -> bool:
        with self.store.read() as repo:
            state = repo.endpoint(where, MENTIONS)
        return state is not None and state.last_error is not None
