"""Edits: an alert (or digest) whose mention was answered, closed or acted on in Slack is edited to show it, one
message at a time as each channel's pace allows. Edits that remove work (answered, closed, deleted) go before edits
that show an action. A refused edit waits on its own alert row like a refused post (parked after MAX_REFUSALS),
and one whose message someone deleted in Slack is noted and never tried again: the other alerts are still edited.
"""

from __future__ import annotations

import logging
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING

from bot.clock import Clock
from bot.errors import Rejected
from bot.messages import AlertCard, Card, ClosedCard, DigestCard
from bot.model import Alert, Status
from bot.services.outbox import MAX_REFUSALS, Outbox, SweepResult, next_try

if TYPE_CHECKING:
    from bot.store.repository import Store

log = logging.getLogger(__name__)

GONE = "message_not_found"  # an edit refused with this: someone deleted the alert message in Slack
DIGEST_MOST = 1000  # a digest's lines edited at once


class Edits:
    def __init__(self, store: Store, clock: Clock, outbox: Outbox) -> None:
        self.store = store
        self.clock = clock
        self.outbox = outbox

    def run(self, now: datetime, mono: float, result: SweepResult) -> None:
        """Edit one alert (or digest) that shows less than it should, the one waiting longest of the channels whose
        pace allows: a channel that is held (archived, refusing, rate limited) keeps its own edits waiting, no one
        else's."""
        with self.store.read() as repo:
            stale = repo.alerts_to_refresh(now, limit=1, skip_channels=self.outbox.pacer.held(mono))
        if not stale:
            return
        alert, mention = stale[0]
        if alert.digest_id is None:
            closed = mention.status is not Status.OPEN
            card = ClosedCard(mention) if closed else AlertCard(mention, now, due=alert.overdue_at)
            members = [(alert, closed)]
            if self._edit(alert.channel, alert.ts, card, members, now, mono, result, f"the alert for mention {mention.id}"):
                log.info("alert for mention %d updated: %s", mention.id, mention.reason)
            return
        with self.store.read() as repo:
            stale = repo.alerts_to_refresh(now, digest_id=alert.digest_id, limit=DIGEST_MOST)
            found = repo.digest(alert.digest_id)
        members = [(a, m.status is not Status.OPEN) for a, m in stale]
        if found is None or found[0].ts is None:
            return
        digest, mentions = found
        if self._edit(digest.channel, digest.ts, DigestCard(tuple(mentions), now), members, now, mono, result, f"digest {digest.id}"):
            log.info("digest %d updated: %d mention(s) closed", digest.id, sum(c for _, c in members))

    def _edit(
        self, channel: str, ts: str | None, card: Card, members: list[tuple[Alert, bool]],
        now: datetime, mono: float, result: SweepResult, what: str,
    ) -> bool:
        """Edit one message standing for `members` (alert, closed?); record the outcome on their rows."""
        refused = partial(self._edit_refused, members, now=now, what=what)
        if not self.outbox.edit(channel, ts, card, now, mono, result, what, refused):
            return False
        with self.store.unit() as repo:
            for alert, closed in members:
                repo.alert_rendered(alert.mention_id, alert.revision, closed, self.clock.now())
        return True

    def _edit_refused(self, members: list[tuple[Alert, bool]], exc: Rejected, now: datetime, what: str) -> None:
        """An edit Slack refused: tried again later; parked after MAX_REFUSALS, at once if the message is gone
        (someone deleted it in Slack: there is nothing left to edit)."""
        gone = exc.message.endswith(GONE)
        with self.store.unit() as repo:
            for alert, _ in members:
                refusals = MAX_REFUSALS if gone else alert.refusals + 1
                why = "the alert message was deleted in Slack; it is no longer edited" if gone else (
                    f"Slack refused its edit {refusals} time(s): {exc.message}"
                )
                retry_at, parked = next_try(refusals, now, why)
                repo.refused("edit", str(alert.mention_id), refusals, retry_at, parked)
        log.warning("Slack refused to update %s (%s)%s", what, exc.message, "; not edited again" if gone else "")
