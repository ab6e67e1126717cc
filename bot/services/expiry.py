"""Expiry: what waited too long stops waiting.

- An open mention older than EXPIRE_AFTER is closed as expired. It is never answered as far as replywatch is
  concerned (reports count it unanswered), its alert is edited once to say so, and nobody is reminded of it again:
  the open queue stays bounded however many mentions a team leaves unanswered.
- A claim not followed by an answer within CLAIM_EXPIRES goes back to the queue: the alert shows the mention
  unclaimed again, and the claimer and whoever is on call are told in the alert's thread. Claiming again restarts
  the clock (bot.store.actions.claim)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from bot.clock import Clock
from bot.humanize import format_age
from bot.messages import FollowUpNote

if TYPE_CHECKING:
    from bot.rules import AlertPolicy
    from bot.store.repository import Store

log = logging.getLogger(__name__)

BATCH = 5000  # mentions closed a run at most: a backlog goes over a few runs, each transaction short
CLAIMS = 200  # claims given back a run at most (each queues a note)


class ExpiryService:
    def __init__(self, store: Store, clock: Clock, config: AlertPolicy) -> None:
        self.store = store
        self.clock = clock
        self.config = config  # its expire_after and claim_expires (None: never), and who is on call

    def run_once(self) -> int:
        return self._expire() + self._release_claims()

    def _expire(self) -> int:
        expire_after = self.config.expire_after
        if expire_after is None:
            return 0
        now = self.clock.now()
        reason = f"expired: no reply within {format_age(expire_after)}; no longer waited for"
        with self.store.read() as repo:  # a write only when something expires
            expired = repo.expirable(now - expire_after, BATCH)
        if expired:
            with self.store.unit() as repo:
                repo.expire(expired, reason, now)
            log.info("%d mention(s) open longer than %s expired", len(expired), format_age(expire_after))
        return len(expired)

    def _release_claims(self) -> int:
        lasts = self.config.claim_expires
        if lasts is None:
            return 0
        now = self.clock.now()
        with self.store.read() as repo:  # a write only when a claim lapsed
            if not repo.lapsed_claims(now - lasts, 1):
                return 0
        on_call = self.config.on_call(now)
        with self.store.unit() as repo:
            lapsed = repo.lapsed_claims(now - lasts, CLAIMS)  # again, in the transaction that gives them back
            repo.unclaim([mention_id for mention_id, _ in lapsed], now)
            for mention_id, claimer in lapsed:
                alert, mention = repo.alert(mention_id), repo.mention(mention_id)
                if mention is None:
                    continue
                to = tuple(dict.fromkeys(user for user in (claimer, on_call) if user))
                note = FollowUpNote("unclaimed", to, (mention_id,), 1, now - lasts)
                channel = alert.channel if alert is not None else self.config.rules(mention.where).channel
                thread = alert.ts if alert is not None and alert.digest_id is None else None
                repo.add_notice(f"unclaimed:{mention_id}:{now.isoformat()}", note, now, thread_ts=thread, channel=channel)
        log.info("%d claim(s) not answered within %s went back to the queue", len(lapsed), format_age(lasts))
        return len(lapsed)
