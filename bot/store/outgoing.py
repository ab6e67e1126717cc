"""Replies written in Slack, kept from before their first call to the network until it has them: the intent, each
attempt, and the answer (bot.services.replying decides; this only records)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update

from bot.model import AccountKey, OutgoingReply, Post, Status
from bot.store.common import Part
from bot.store.tables import URL, MentionRow, OutgoingReplyRow

SENDING, POSTED, REFUSED = "sending", "posted", "refused"


class OutgoingReplies(Part):
    def add_outgoing(self, reply: OutgoingReply, now: datetime) -> bool:
        """Record the intent to post `reply` (before any call): False if one with its key exists already (the same
        form sent twice)."""
        return self._insert_once(  # type: ignore[attr-defined]  # Delivery's, on the same repository
            OutgoingReplyRow, "key", key=reply.key, mention_id=reply.mention_id, user_id=reply.user, channel=reply.channel,
            text=reply.text, direct=reply.direct, state=SENDING, attempts=0, created_at=now,
        )

    def outgoing(self, key: str) -> OutgoingReply | None:
        row = self.session.scalar(select(OutgoingReplyRow).where(OutgoingReplyRow.key == key))
        return _reply_of(row) if row is not None else None

    def outgoing_due(self, now: datetime, limit: int) -> list[OutgoingReply]:
        """Replies still to post whose next attempt has come, oldest first."""
        r = OutgoingReplyRow
        rows = self.session.scalars(
            select(r).where(r.state == SENDING, (r.retry_at.is_(None)) | (r.retry_at <= now)).order_by(r.id).limit(limit)
        )
        return [_reply_of(row) for row in rows]

    def outgoing_failed(self, key: str, problem: str, retry_at: datetime) -> None:
        """An attempt whose answer was lost: tried again (as a retry) from `retry_at`."""
        r = OutgoingReplyRow
        self.session.execute(
            update(r).where(r.key == key).values(attempts=r.attempts + 1, problem=problem, retry_at=retry_at)
        )

    def outgoing_refused(self, key: str, problem: str) -> None:
        r = OutgoingReplyRow
        self.session.execute(update(r).where(r.key == key).values(state=REFUSED, attempts=r.attempts + 1, problem=problem))

    def outgoing_posted(self, reply: OutgoingReply, where: AccountKey, posted: Post, now: datetime) -> None:
        """The network has the reply: keep it as the account's reply, and its mention answered by it, from Slack. A poll
        that read it first answered the mention with the same post: it is marked as sent from Slack all the same."""
        r, m = OutgoingReplyRow, MentionRow
        url = posted.url if len(posted.url) <= URL else ""
        self.session.execute(
            update(r).where(r.key == reply.key)
            .values(state=POSTED, attempts=r.attempts + 1, posted_at=now, post_id=posted.id, url=url, problem=None)
        )
        self.add_replies(where, [posted])  # type: ignore[attr-defined]  # Mentions', on the same repository
        self.session.execute(
            update(m).where(m.id == reply.mention_id, m.status == Status.OPEN)
            .values(status=Status.ANSWERED, status_reason=f"answered from Slack by post {posted.id}"[:200], answered_by=posted.id,
                    answered_at=posted.created_at, answer_url=url, due_at=None, closed_at=now)
        )
        self.session.execute(
            update(m).where(m.id == reply.mention_id, m.answered_by == posted.id)
            .values(answered_from=reply.user, answer_text=reply.text)
        )
        self._show_change([reply.mention_id], now)


def _reply_of(row: OutgoingReplyRow) -> OutgoingReply:
    return OutgoingReply(row.key, row.mention_id, row.user_id, row.channel, row.text, row.direct, row.state, row.attempts,
                         row.problem, row.url, row.created_at)
