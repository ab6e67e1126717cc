"""What people do in Slack: claims, snoozes, closes, and the record of who did what."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update

from bot.model import Status
from bot.store.common import SENT, Part
from bot.store.tables import ActionRow, AlertRow, MentionRow


class Actions(Part):
    def record_action(self, mention_id: int, user_id: str, action: str, detail: str, now: datetime) -> None:
        """Keep who did what, and make the alert's message show it."""
        self.session.add(ActionRow(mention_id=mention_id, user_id=user_id, action=action, detail=detail, at=now))
        self._show_change([mention_id], now)

    def claim(self, mention_id: int, user_id: str, now: datetime) -> None:
        """`user_id` holds the mention from `now` (a claim again restarts CLAIM_EXPIRES's clock); a snooze ends."""
        self.session.execute(
            update(MentionRow)
            .where(MentionRow.id == mention_id)
            .values(claimed_by=user_id, claimed_at=now, snoozed_until=None, snoozed_by=None)
        )
        self._rearm(mention_id)

    def lapsed_claims(self, claimed_before: datetime, limit: int) -> list[tuple[int, str]]:
        """(mention, claimer) of up to `limit` open mentions claimed before `claimed_before` and not answered since."""
        m = MentionRow
        rows = self.session.execute(
            select(m.id, m.claimed_by).where(m.status == Status.OPEN, m.claimed_at < claimed_before).order_by(m.claimed_at).limit(limit)
        )
        return [(mention_id, user) for mention_id, user in rows]

    def unclaim(self, mention_ids: list[int], now: datetime) -> None:
        """Give these mentions back to the queue: nobody holds them, and their alerts show it."""
        self.session.execute(
            update(MentionRow).where(self.bulk.among(MentionRow.id, mention_ids)).values(claimed_by=None, claimed_at=None)
        )
        self._show_change(mention_ids, now)

    def snooze(self, mention_id: int, user_id: str, until: datetime) -> None:
        self.session.execute(
            update(MentionRow).where(MentionRow.id == mention_id).values(snoozed_until=until, snoozed_by=user_id)
        )
        self._rearm(mention_id)

    def _rearm(self, mention_id: int) -> None:
        """Its follow-ups are judged again at the next tick (a claim or a snooze changes when they fall due)."""
        self.session.execute(
            update(AlertRow)
            .where(AlertRow.mention_id == mention_id, AlertRow.state == SENT)
            .values(follow_up_at=AlertRow.created_at)
        )

    def close(self, mention_id: int, reason: str, user_id: str, now: datetime | None = None) -> bool:
        """Close an open mention as needing no reply (the closer holds it); False if it was no longer open. Without
        `now` its closing time is left to retention's next run (bot.services.retention)."""
        result = self.session.execute(
            update(MentionRow)
            .where(MentionRow.id == mention_id, MentionRow.status == Status.OPEN)
            .values(status=Status.CLOSED, status_reason=reason, claimed_by=user_id, snoozed_until=None, due_at=None, closed_at=now)
        )
        return result.rowcount > 0

    def actions(self, mention_id: int) -> list[tuple[str, str, str, datetime]]:
        """(user, action, detail, when) for a mention, oldest first."""
        rows = self.session.scalars(select(ActionRow).where(ActionRow.mention_id == mention_id).order_by(ActionRow.id))
        return [(r.user_id, r.action, r.detail, r.at) for r in rows]
