"""What every part of the store shares: the states a delivery goes through, statements in chunks, table rows
turned into the model's objects, and `Part`, the base of each part (bot.store.repository puts them together).

Every statement that takes a list of ids or rows takes it in chunks (IDS ids, ROWS rows): PostgreSQL refuses a
statement with more than 65,535 parameters and SQLite (as built by default) one with more than 32,766, and one poll
after a long outage can bring tens of thousands of mentions (bot.store.bulk passes a list as one parameter)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import case, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from bot.model import AccountKey, Alert, Digest, EndpointHealth, Mention, Network, Post, Status
from bot.store.bulk import Bulk, chunks
from bot.store.tables import AlertRow, DigestRow, MentionRow, PollCursorRow

PENDING, SENDING, SENT, RESOLVED = "pending", "sending", "sent", "resolved"
REFUSED, PARKED = "refused", "parked"  # Slack said no: tried again at retry_at; or no more, with the reason
MENTIONS, ALERTS = MentionRow.__table__, AlertRow.__table__  # read as table rows where many are read at once
IDS = 5000  # ids a statement (at most twice: id or version id, so 10,000 parameters)
ROWS = 1000  # rows a statement (16 columns at most, so 16,000 parameters)


def retry_due(table, now: datetime):  # noqa: ANN001, ANN201
    """Refused, and due for another try: of a mapped class or a table's columns (`Table.c`)."""
    return (table.state == REFUSED) & (table.retry_at <= now)


def of_account(table, where: AccountKey):  # noqa: ANN001, ANN201
    """The rows of the watched account `where`: of a mapped class or a table's columns (`Table.c`)."""
    return (table.network == where.network.value) & (table.account == where.handle)


class Part:
    """One part of the repository, on the unit of work's session."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
        self.bulk = Bulk(session)

    def _show_change(self, mention_ids: Sequence[int], now: datetime) -> None:
        """These mentions changed in a way their alerts must show (closed, or acted on): edit them, and judge
        their follow-ups again."""
        for chunk in chunks(mention_ids, IDS):
            self.session.execute(
                update(AlertRow)
                .where(self.bulk.among(AlertRow.mention_id, chunk))
                .values(
                    revision=AlertRow.revision + 1,
                    edit_at=func.coalesce(AlertRow.edit_at, now),
                    follow_up_at=case((AlertRow.state == SENT, now), else_=AlertRow.follow_up_at),
                )
            )

    def _with_mentions(self, alerts: list[Alert]) -> list[tuple[Alert, Mention]]:
        """Each alert with its mention, the mentions read in one statement (as table rows: far cheaper than ORM
        objects, with nothing to track)."""
        ids = [a.mention_id for a in alerts]
        rows = self.session.execute(select(MENTIONS).where(self.bulk.among(MENTIONS.c.id, ids))) if ids else []
        found = {r.id: mention_of(r) for r in rows}
        return [(a, found[a.mention_id]) for a in alerts if a.mention_id in found]


def health_of(r: PollCursorRow) -> EndpointHealth:
    return EndpointHealth(
        r.endpoint, r.cursor, r.last_attempt_at, r.last_success_at, r.last_error,
        r.failures or 0, r.failing_since, r.next_attempt_at, r.filtered or 0, bool(r.token_refused),
    )


def mention_of(row: MentionRow) -> Mention:
    post = Post(
        id=row.post_id,
        version_id=row.version_id,
        author_id=row.author_id,
        text=row.text,
        created_at=row.created_at,
        conversation_id=row.conversation_id,
        replied_to_id=row.replied_to_id,
        in_reply_to_user_id=row.in_reply_to_user_id,
        reference_types=frozenset(t for t in row.reference_types.split(",") if t),
        author_handle=row.author_handle,
        author_name=row.author_name,
        private=bool(row.private),
        url=row.url,
    )
    return Mention(
        post=post,
        status=Status(row.status),
        reason=row.status_reason,
        first_seen_at=row.first_seen_at,
        answered_by=row.answered_by,
        answered_at=row.answered_at,
        answer_url=row.answer_url,
        answered_from=row.answered_from,
        answer_text=row.answer_text or "",
        priority=row.priority,
        claimed_by=row.claimed_by,
        snoozed_until=row.snoozed_until,
        snoozed_by=row.snoozed_by,
        id=row.id,
        network=Network(row.network),
        account=row.account,
    )


def alert_of(row: AlertRow) -> Alert:
    return Alert(
        mention_id=row.mention_id,
        channel=row.channel,
        state=row.state,
        created_at=row.created_at,
        ts=row.ts,
        sent_at=row.sent_at,
        digest_id=row.digest_id,
        revision=row.revision or 0,
        rendered=row.rendered or 0,
        escalated_at=row.escalated_at,
        reminded_at=row.reminded_at,
        refusals=row.refusals or 0,
        reminders=row.reminders or 0,
        follow_up_at=row.follow_up_at,
        overdue_at=row.overdue_at,
    )


def digest_of(row: DigestRow) -> Digest:
    return Digest(id=row.id, channel=row.channel, state=row.state, created_at=row.created_at, ts=row.ts, refusals=row.refusals or 0)
