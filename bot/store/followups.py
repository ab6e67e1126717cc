"""When each sent alert's next escalation or reminder may be due, and what was sent."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import bindparam, select, update

from bot.model import Alert, Mention, Status
from bot.store import common
from bot.store.common import ALERTS, IDS, ROWS, SENT, Part, chunks
from bot.store.tables import AlertRow, MentionRow, RulesSeenRow


class FollowUps(Part):
    def follow_ups_waiting(self, as_of: datetime) -> bool:
        """Whether any sent alert's follow-up time has come (one cheap statement, for a tick with nothing to do)."""
        alerts = AlertRow.__table__
        earliest = select(alerts.c.follow_up_at).where(alerts.c.state == SENT, alerts.c.follow_up_at <= as_of)
        # ordered by the indexed time, so the plan is the index's whatever the planner believes about the table
        return self.session.execute(earliest.order_by(alerts.c.follow_up_at).limit(1)).first() is not None

    def follow_ups_due(self, as_of: datetime, limit: int, mention_ids: Sequence[int] | None = None) -> list[tuple[Alert, Mention]]:
        """Sent alerts whose stored follow-up time has come, earliest first (of `mention_ids`, if given)."""
        stmt = (
            select(ALERTS)
            .where(ALERTS.c.follow_up_at <= as_of, ALERTS.c.state == SENT)
            .order_by(ALERTS.c.follow_up_at, ALERTS.c.id)
            .limit(limit)
        )
        if mention_ids is not None:
            stmt = stmt.where(self.bulk.among(ALERTS.c.mention_id, mention_ids))
        return self._with_mentions([common.alert_of(r) for r in self.session.execute(stmt)])

    def next_follow_ups(self, times: Sequence[tuple[int, datetime | None, datetime | None]]) -> None:
        """Store each (mention id, its alert's follow-up time as read, when its next follow-up may be due; None:
        never), unless the time changed since it was read (an action or a reply asked for it to be judged again)."""
        table = AlertRow.__table__
        stmt = (
            update(table)
            .where(table.c.mention_id == bindparam("mention"), table.c.follow_up_at == bindparam("was"))
            .values(follow_up_at=bindparam("at"))
        )
        rows = [{"mention": m, "was": was, "at": at} for m, was, at in times if was is not None and was != at]
        for chunk in chunks(rows, ROWS):
            self.session.execute(stmt, chunk)

    def rules_changed(self, name: str, value: str) -> bool:
        """Note that the stored times of `name` are now worked out with `value`; True if they were not before."""
        row = self.session.get(RulesSeenRow, name)
        if row is not None and row.value == value:
            return False
        self.session.merge(RulesSeenRow(name=name, value=value))
        return True

    def rejudge_follow_ups(self) -> None:
        """Forget the stored follow-up times of open mentions' alerts (the settings may have changed)."""
        open_ = select(MentionRow.id).where(MentionRow.status == Status.OPEN)
        self.session.execute(
            update(AlertRow).where(AlertRow.state == SENT, AlertRow.mention_id.in_(open_)).values(follow_up_at=AlertRow.created_at)
        )

    def warned(self, mention_id: int, due: datetime) -> None:
        """Its alert is a warning (WARN_BEFORE): at `due` it becomes overdue, with a nudge that pings."""
        self.session.execute(update(AlertRow).where(AlertRow.mention_id == mention_id).values(overdue_at=due))

    def overdue_told(self, mention_ids: list[int], now: datetime) -> None:
        """These warnings fell due and said so: their alerts are edited to look like any other."""
        for chunk in chunks(mention_ids, IDS):
            self.session.execute(update(AlertRow).where(self.bulk.among(AlertRow.mention_id, chunk)).values(overdue_at=None))
        self._show_change(mention_ids, now)

    def followed_up(self, mention_ids: list[int], now: datetime, *, first: bool, reminder: bool = False) -> None:
        """Note a nudge in the thread: `first` is the one due at ESCALATE_AFTER, the rest are reminders (counted
        when `reminder`) or a snooze ending."""
        values: dict = {"escalated_at": now} if first else {"reminded_at": now}
        if reminder:
            values["reminders"] = AlertRow.reminders + 1
        for chunk in chunks(mention_ids, IDS):
            self.session.execute(update(AlertRow).where(self.bulk.among(AlertRow.mention_id, chunk)).values(**values))
