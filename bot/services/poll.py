"""Poll: read what is new on X and record it, with the reply status the rules give it.

Both timelines are read first and stored in one transaction with their cursors, so that a mention and the
reply that answers it are never seen apart (no alert for a mention whose answer was simply not read yet), and a
crash anywhere leaves the store as it was before the poll: redoing it is harmless. X bills per post returned,
so nothing older than a stored cursor is ever asked for again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING
from datetime import timedelta

from bot import rules
from bot.clock import Clock
from bot.errors import ServiceError
from bot.model import Account, Post, Timeline
from bot.ports import XSource

if TYPE_CHECKING:
    from bot.store.repository import Store

log = logging.getLogger(__name__)

MENTIONS, OWN_POSTS = "mentions", "own_posts"
FIRST_START_WINDOW = timedelta(hours=24)


@dataclass
class PollResult:
    new_mentions: int = 0
    new_replies: int = 0
    answered: int = 0
    errors: int = 0


class PollService:
    def __init__(self, x: XSource, store: Store, account: Account, clock: Clock) -> None:
        self.x = x
        self.store = store
        self.account = account
        self.clock = clock
        self._failing: dict[str, str] = {}

    def run_once(self) -> PollResult:
        now = self.clock.now()
        with self.store.unit() as repo:
            cursors = {e: repo.cursor(self.account.username, e) for e in (MENTIONS, OWN_POSTS)}
        mentions, mentions_error = self._read(MENTIONS, self.x.mentions, cursors[MENTIONS], now)
        own, own_error = self._read(OWN_POSTS, self.x.own_posts, cursors[OWN_POSTS], now)
        result = PollResult(errors=(mentions_error is not None) + (own_error is not None))
        replies = [p for p in own.posts if p.replied_to_id is not None] if own else []

        with self.store.unit() as repo:
            user = self.account.username
            if mentions is not None:
                judged = [(p, rules.classify(p, self.account.id)) for p in mentions.posts]
                result.new_mentions = len(repo.add_mentions(judged, now))
            repo.record_poll(user, MENTIONS, now, mentions.newest_id if mentions else None, mentions_error)
            if own is not None:
                repo.add_replies(replies)
                result.new_replies = len(replies)
            repo.record_poll(user, OWN_POSTS, now, own.newest_id if own else None, own_error)
            result.answered = self._resolve(repo, (mentions.posts if mentions else []) + replies)
        if result.new_mentions or result.answered:
            log.info("poll: %d new mention(s), %d newly answered", result.new_mentions, result.answered)
        return result

    def _read(self, endpoint: str, read, cursor: int | None, now) -> tuple[Timeline | None, str | None]:  # noqa: ANN001
        start = now - FIRST_START_WINDOW if cursor is None else None
        try:
            timeline = read(self.account, cursor, start)
        except ServiceError as exc:
            if self._failing.get(endpoint) != exc.message:
                log.warning("poll %s failed: %s", endpoint, exc.message)
            self._failing[endpoint] = exc.message
            return None, exc.message
        if self._failing.pop(endpoint, None) is not None:
            log.info("poll %s works again", endpoint)
        return timeline, None

    def _resolve(self, repo, new_posts: list[Post]) -> int:  # noqa: ANN001
        """Apply the reply rules to the open mentions that the new posts could concern."""
        conversations = {p.conversation_id for p in new_posts if p.conversation_id is not None}
        targets = {p.replied_to_id for p in new_posts if p.replied_to_id is not None} | {p.id for p in new_posts}
        candidates = {m.id: m for m in repo.open_mentions_in(conversations)}
        candidates.update({m.id: m for m in repo.open_mentions_replied_to(targets)})
        if not candidates:
            return 0
        replies = repo.replies_for(
            self.account.id,
            {m.post.conversation_id for m in candidates.values() if m.post.conversation_id is not None},
            candidates.keys(),
        )
        answered = 0
        for mention in candidates.values():
            reply = rules.first_answer(mention.post, replies, self.account.id)
            if reply is not None:
                repo.mark_answered(mention.id, reply)
                answered += 1
        return answered

