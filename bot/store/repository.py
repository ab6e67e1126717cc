"""The store: the only code that speaks SQL. Services open a unit of work (one transaction) and call it.

Every statement that takes a list of ids or rows takes it in chunks (IDS ids, ROWS rows): PostgreSQL refuses a
statement with more than 65,535 parameters and SQLite (as built by default) one with more than 32,766, and one poll
after a long outage can bring tens of thousands of mentions."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from sqlalchemy import Engine, bindparam, case, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from bot.model import Alert, Digest, EndpointHealth, Mention, Notice, Parked, Post, Status, Verdict
from bot.store.bulk import Bulk
from bot.store.db import READ_ONLY
from bot.store.tables import (
    ActionRow,
    AlertRow,
    DigestRow,
    MentionRow,
    NoticeRow,
    PollCursorRow,
    ReplyRow,
    RulesSeenRow,
    SlackChannelRow,
)

PENDING, SENDING, SENT, RESOLVED = "pending", "sending", "sent", "resolved"
REFUSED, PARKED = "refused", "parked"  # Slack said no: tried again at retry_at; or no more, with the reason


def _retry_due(table, now: datetime):  # noqa: ANN001, ANN202
    """Refused, and due for another try: of a mapped class or a table's columns (`Table.c`)."""
    return (table.state == REFUSED) & (table.retry_at <= now)


@dataclass(frozen=True)
class SweepWork:
    """Which kinds of work the sweep has (Repository.sweep_work)."""

    alerts_in_doubt: bool = False
    alert_retries: bool = False
    digests_in_doubt: bool = False
    digest_retries: bool = False
    notices: bool = False
    due: bool = False
    edits: bool = False

    @property
    def posts(self) -> bool:
        return any((self.alerts_in_doubt, self.alert_retries, self.digests_in_doubt, self.digest_retries, self.notices, self.due))
T = TypeVar("T")
MENTIONS, ALERTS = MentionRow.__table__, AlertRow.__table__  # read as table rows where many are read at once
IDS = 5000  # ids a statement (at most twice: id or version id, so 10,000 parameters)
ROWS = 1000  # rows a statement (16 columns at most, so 16,000 parameters)


def _chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """`items` `size` at a time, in order."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


class Store:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @contextmanager
    def unit(self) -> Iterator[Repository]:
        """One transaction: committed when the block ends, rolled back if it raises."""
        with Session(self.engine, expire_on_commit=False) as session, session.begin():
            yield Repository(session)

    @contextmanager
    def read(self) -> Iterator[Repository]:
        """A unit that only reads: on SQLite it does not wait for a writer (for answers that must be quick)."""
        with Session(self.engine.execution_options(**{READ_ONLY: True}), expire_on_commit=False) as session, session.begin():
            yield Repository(session)

    def dispose(self) -> None:
        self.engine.dispose()


class Repository:
    def __init__(self, session: Session) -> None:
        self.session = session
        self._dialect = session.get_bind().dialect
        self._pg = self._dialect.name == "postgresql"
        self._insert = postgresql.insert if self._pg else sqlite.insert
        self.bulk = Bulk(session)

    # --- mentions and replies -------------------------------------------------------------------------

    def add_mentions(self, judged: Iterable[tuple[Post, Verdict]], seen_at: datetime) -> list[int]:
        """Store new mentions; ones already stored are left as they are (an edit updates the text). Returns the ids
        newly stored. An open one waits for its alert from its post time on (the sweep works out the exact time)."""
        rows = [
            {
                "id": post.id,
                "version_id": post.version_id,
                "author_id": post.author_id,
                "author_handle": post.author_handle,
                "author_name": post.author_name,
                "text": post.text,
                "created_at": post.created_at,
                "conversation_id": post.conversation_id,
                "replied_to_id": post.replied_to_id,
                "in_reply_to_user_id": post.in_reply_to_user_id,
                "reference_types": ",".join(sorted(post.reference_types)),
                "status": verdict.status.value,
                "status_reason": verdict.reason,
                "first_seen_at": seen_at,
                "author_protected": post.author_protected,
                "priority": verdict.priority,
                "due_at": post.created_at if verdict.status is Status.OPEN else None,
            }
            for post, verdict in judged
        ]
        new = self.bulk.insert_new(MentionRow.__table__, rows, "id")
        stored = set(new)
        for row in rows:
            if row["version_id"] is not None and row["id"] not in stored:
                self._apply_edit(row["id"], row["version_id"], row["text"])
        return new

    def _apply_edit(self, mention_id: int, version_id: int, text: str) -> None:
        """An edit is the same mention: newer text, same row, same alert."""
        self.session.execute(
            update(MentionRow)
            .where(
                MentionRow.id == mention_id,
                MentionRow.status != Status.DELETED,
                func.coalesce(MentionRow.version_id, MentionRow.id) < version_id,
            )
            .values(version_id=version_id, text=text)
        )

    def mark_deleted(self, mention_ids: Sequence[int], now: datetime) -> None:
        """Deleted on X: closed, and its text removed from the store (X's terms)."""
        for chunk in _chunks(mention_ids, IDS):
            self.session.execute(
                update(MentionRow)
                .where(self.bulk.among(MentionRow.id, chunk))
                .values(status=Status.DELETED, status_reason="deleted on X", text="", due_at=None)
            )
        self._show_change(mention_ids, now)

    def _show_change(self, mention_ids: Sequence[int], now: datetime) -> None:
        """These mentions changed in a way their alerts must show (closed, or acted on): edit them, and judge
        their follow-ups again."""
        for chunk in _chunks(mention_ids, IDS):
            self.session.execute(
                update(AlertRow)
                .where(self.bulk.among(AlertRow.mention_id, chunk))
                .values(
                    revision=AlertRow.revision + 1,
                    edit_at=func.coalesce(AlertRow.edit_at, now),
                    follow_up_at=case((AlertRow.state == SENT, now), else_=AlertRow.follow_up_at),
                )
            )

    def add_replies(self, replies: Iterable[Post]) -> None:
        rows = [
            {
                "id": r.id,
                "author_id": r.author_id,
                "conversation_id": r.conversation_id,
                "replied_to_id": r.replied_to_id,
                "in_reply_to_user_id": r.in_reply_to_user_id,
                "created_at": r.created_at,
            }
            for r in replies
        ]
        self.bulk.insert_new(ReplyRow.__table__, rows, "id")

    def open_posts(self, ids: Iterable[int], threads: Iterable[tuple[int, int]]) -> list[Post]:
        """Open mentions that a reply could answer: those whose id or newest edit's id is among `ids`, and those by
        author A in conversation C for each (C, A) in `threads`. Only what the reply rules look at is read."""
        # one statement, the status checked here: given `status = 'open'`, SQLite's planner reads every open
        # mention through the status index instead of looking the few ids up
        ids, pairs = set(ids), set(threads)
        if not ids and not pairs:
            return []
        rows = self.session.execute(
            select(MentionRow.id, MentionRow.version_id, MentionRow.author_id, MentionRow.conversation_id,
                   MentionRow.created_at, MentionRow.status)
            .where(self.bulk.among(MentionRow.id, list(ids)) | self.bulk.among(MentionRow.version_id, list(ids))
                   | self.bulk.among(MentionRow.conversation_id, list({c for c, _ in pairs})))
        )
        found = {
            r.id: r for r in rows
            if r.status == Status.OPEN and (r.id in ids or r.version_id in ids or (r.conversation_id, r.author_id) in pairs)
        }
        return [
            Post(r.id, r.author_id, "", r.created_at, conversation_id=r.conversation_id, version_id=r.version_id)
            for r in found.values()
        ]

    def replies_to(self, account_id: int, ids: Iterable[int], threads: Iterable[tuple[int, int]]) -> list[Post]:
        """The stored replies to any of `ids`, or in conversation C to author A for each (C, A) in `threads`."""
        ids, pairs = set(ids), set(threads)
        if not ids and not pairs:
            return []
        rows = self.session.execute(
            select(ReplyRow.id, ReplyRow.author_id, ReplyRow.created_at, ReplyRow.conversation_id, ReplyRow.replied_to_id,
                   ReplyRow.in_reply_to_user_id)
            .where(self.bulk.among(ReplyRow.replied_to_id, list(ids))
                   | self.bulk.among(ReplyRow.conversation_id, list({c for c, _ in pairs})))
        )
        found = [r for r in rows if r.replied_to_id in ids or (r.conversation_id, r.in_reply_to_user_id) in pairs]
        return [
            Post(
                id=r.id,
                author_id=r.author_id if r.author_id is not None else account_id,
                text="",
                created_at=r.created_at,
                conversation_id=r.conversation_id,
                replied_to_id=r.replied_to_id,
                in_reply_to_user_id=r.in_reply_to_user_id,
            )
            for r in found
        ]

    def mark_answered(self, answered: Sequence[tuple[int, Post]], now: datetime) -> None:
        """Each (mention id, the reply that answers it), if the mention is still open."""
        rows = [
            {"id": m, "status": Status.ANSWERED.value, "status_reason": f"answered by post {r.id}", "answered_by": r.id,
             "answered_at": r.created_at, "due_at": None}
            for m, r in answered
        ]
        self.bulk.update(MentionRow.__table__, rows, "id", {"status": Status.OPEN.value})
        self._show_change([m for m, _ in answered], now)

    def mention(self, mention_id: int) -> Mention | None:
        row = self.session.get(MentionRow, mention_id)
        return _mention(row) if row else None

    def open_mentions(self, limit: int | None = None) -> list[tuple[Mention, Alert | None]]:
        """Open mentions, oldest first (the `limit` oldest), with their alerts."""
        return list(self.iter_open_mentions(limit))

    def iter_open_mentions(self, limit: int | None = None) -> Iterator[tuple[Mention, Alert | None]]:
        """As `open_mentions`, read a thousand rows at a time (consume it inside the unit)."""
        stmt = (
            select(MentionRow, AlertRow)
            .outerjoin(AlertRow, AlertRow.mention_id == MentionRow.id)
            .where(MentionRow.status == Status.OPEN)
            .order_by(MentionRow.created_at, MentionRow.id)
            .limit(limit)
            .execution_options(yield_per=1000)
        )
        for m, a in self.session.execute(stmt):
            yield _mention(m), (_alert(a) if a else None)

    def open_summary(self) -> tuple[int, int, datetime | None]:
        """(open mentions, how many of them are alerted, when the oldest was posted), in one pass over the open
        ones (a mention has at most one alert)."""
        total, alerted, oldest = self.session.execute(
            select(func.count(), func.count(AlertRow.ts), func.min(MentionRow.created_at))
            .select_from(MentionRow)
            .outerjoin(AlertRow, AlertRow.mention_id == MentionRow.id)
            .where(MentionRow.status == Status.OPEN)
        ).one()
        return total, alerted, oldest

    def open_count(self) -> int:
        """How many mentions are open: from the status index alone, without the alerts `open_summary` joins."""
        return self.session.scalar(select(func.count()).select_from(MentionRow).where(MentionRow.status == Status.OPEN)) or 0

    def due_mentions(self, as_of: datetime, seen_before: datetime, limit: int) -> list[Mention]:
        """Open mentions not alerted yet whose stored due time has come, stored before `seen_before` (checked for
        replies since), earliest first."""
        rows = self.session.execute(
            select(MENTIONS)
            .where(MENTIONS.c.due_at <= as_of, MENTIONS.c.status == Status.OPEN, MENTIONS.c.first_seen_at <= seen_before)
            .order_by(MENTIONS.c.due_at, MENTIONS.c.id)
            .limit(limit)
        )
        return [_mention(r) for r in rows]

    def postpone(self, due: Sequence[tuple[int, datetime]]) -> None:
        """Store each (mention id, the exact time its alert is due)."""
        table = MentionRow.__table__
        stmt = update(table).where(table.c.id == bindparam("mention"), table.c.due_at.is_not(None)).values(due_at=bindparam("due"))
        for chunk in _chunks([{"mention": m, "due": d} for m, d in due], ROWS):
            self.session.execute(stmt, chunk)

    def rejudge_due(self) -> None:
        """Forget the stored exact due times (the settings may have changed): each is worked out again."""
        self.session.execute(update(MentionRow).where(MentionRow.due_at.is_not(None)).values(due_at=MentionRow.created_at))

    def expirable(self, posted_before: datetime, limit: int) -> list[int]:
        """Up to `limit` open mentions posted before `posted_before`."""
        return list(self.session.scalars(
            select(MentionRow.id).where(MentionRow.status == Status.OPEN, MentionRow.created_at < posted_before).limit(limit)
        ))

    def expire(self, ids: Sequence[int], reason: str, now: datetime) -> None:
        """Close these mentions, if still open, as expired."""
        for chunk in _chunks(ids, IDS):
            self.session.execute(
                update(MentionRow)
                .where(self.bulk.among(MentionRow.id, chunk), MentionRow.status == Status.OPEN)
                .values(status=Status.EXPIRED, status_reason=reason, due_at=None)
            )
        self._show_change(ids, now)

    # --- alerts ---------------------------------------------------------------------------------------

    def _insert_once(self, table: type[AlertRow | NoticeRow], unique: str, **values: object) -> bool:
        """Insert a row unless one with the same `unique` column exists; True if this call inserted it."""
        stmt = self._insert(table).values(**values).on_conflict_do_nothing(index_elements=[unique]).returning(table.id)
        return self.session.execute(stmt).first() is not None

    def start_alert(self, mention_id: int, channel: str, now: datetime) -> bool:
        """Claim the right to post the alert for a mention. False if one exists already."""
        if not self._insert_once(AlertRow, "mention_id", mention_id=mention_id, channel=channel, state=SENDING, created_at=now):
            return False
        self.session.execute(update(MentionRow).where(MentionRow.id == mention_id).values(due_at=None))
        return True

    def _due_again(self, alerts: object) -> None:
        """The open mentions of these alert rows (about to be forgotten) wait for an alert again."""
        self.session.execute(
            update(MentionRow)
            .where(MentionRow.id.in_(select(AlertRow.mention_id).where(alerts)), MentionRow.status == Status.OPEN)
            .values(due_at=MentionRow.created_at)
        )

    def alert_sent(self, mention_id: int, channel: str, ts: str, now: datetime, follow_up_at: datetime | None = None) -> None:
        """Posted: its follow-ups are judged from `follow_up_at` on (from now, if not given)."""
        self.session.execute(
            update(AlertRow)
            .where(AlertRow.mention_id == mention_id)
            .values(
                channel=channel, ts=ts, state=SENT, sent_at=now, updated_at=now, refusals=0, retry_at=None,
                follow_up_at=follow_up_at or now,
            )
        )

    def drop_alert(self, mention_id: int) -> None:
        """Forget an alert Slack certainly did not post, so the next sweep tries again."""
        doomed = (AlertRow.mention_id == mention_id) & (AlertRow.state == SENDING)
        self._due_again(doomed)
        self.session.execute(delete(AlertRow).where(doomed))

    def alert(self, mention_id: int) -> Alert | None:
        """The alert about a mention, if it has one (its own message, or its line in a digest)."""
        row = self.session.scalar(select(AlertRow).where(AlertRow.mention_id == mention_id))
        return _alert(row) if row is not None else None

    def alerts_in_doubt(self) -> list[Alert]:
        """Alerts whose post may or may not have reached Slack (the process stopped or the call failed)."""
        rows = self.session.scalars(select(AlertRow).where(AlertRow.state == SENDING, AlertRow.digest_id.is_(None)))
        return [_alert(r) for r in rows]

    def alerts_to_retry(self, now: datetime) -> list[Alert]:
        """Alerts Slack refused, due for another try."""
        rows = self.session.scalars(select(AlertRow).where(_retry_due(AlertRow, now), AlertRow.digest_id.is_(None)))
        return [_alert(r) for r in rows]

    def digests_to_retry(self, now: datetime) -> list[Digest]:
        return [_digest(r) for r in self.session.scalars(select(DigestRow).where(_retry_due(DigestRow, now)))]

    def refused(self, kind: str, key: str, refusals: int, retry_at: datetime | None, parked: str | None) -> None:
        """Slack said no to a post (`kind` alert, digest or notice) or to an alert's edit (`edit`): try again at
        `retry_at`, or never (`parked`, with the reason). A digest parked parks its mentions' alerts with it."""
        values: dict = {"refusals": refusals, "retry_at": retry_at, "parked": parked}
        if kind == "edit":
            self.session.execute(update(AlertRow).where(AlertRow.mention_id == int(key)).values(**values))
            return
        values["state"] = PARKED if parked else REFUSED
        if kind == "alert":
            self.session.execute(update(AlertRow).where(AlertRow.mention_id == int(key)).values(**values))
        elif kind == "digest":
            self.session.execute(update(DigestRow).where(DigestRow.id == int(key)).values(**values))
            if parked:
                self.session.execute(update(AlertRow).where(AlertRow.digest_id == int(key)).values(state=PARKED, parked=parked))
        else:
            self.session.execute(update(NoticeRow).where(NoticeRow.key == key).values(**values))

    def sending(self, kind: str, key: int) -> None:
        """A refused alert or digest is being posted again: in doubt until Slack confirms it, like a new one."""
        table = AlertRow if kind == "alert" else DigestRow
        where = AlertRow.mention_id == key if kind == "alert" else DigestRow.id == key
        self.session.execute(update(table).where(where, table.state == REFUSED).values(state=SENDING))

    def parked(self) -> list[Parked]:
        """Everything Slack refused for good, for `status`."""
        found = [
            Parked("alert" if a.state == PARKED else "edit", f"alert for mention {a.mention_id}", a.parked or "")
            for a in self.session.scalars(select(AlertRow).where(AlertRow.parked.is_not(None), AlertRow.digest_id.is_(None)))
        ]
        digests = self.session.scalars(select(DigestRow).where(DigestRow.parked.is_not(None)))
        found += [Parked("digest", f"digest {d.id}", d.parked or "") for d in digests]
        notices = self.session.scalars(select(NoticeRow).where(NoticeRow.parked.is_not(None)))
        found += [Parked("notice", n.key, n.parked or "") for n in notices]
        return found

    def alerts_to_refresh(self, now: datetime, digest_id: int | None = None, limit: int = 100) -> list[tuple[Alert, Mention]]:
        """Sent alerts whose message shows less than it should (the mention closed, or someone acted on it in
        Slack), closed ones first, unless an edit was refused and waits for its retry, or was refused for good;
        with `digest_id`, those of that digest."""
        stmt = (
            select(ALERTS)
            .join(MENTIONS, ALERTS.c.mention_id == MENTIONS.c.id)
            .where(
                ALERTS.c.edit_at.is_not(None),
                ALERTS.c.state == SENT,
                ALERTS.c.parked.is_(None),
                ALERTS.c.retry_at.is_(None) | (ALERTS.c.retry_at <= now),
            )
            .order_by(case((MENTIONS.c.status == Status.OPEN, 1), else_=0), ALERTS.c.edit_at, ALERTS.c.id)
            .limit(limit)
        )
        if digest_id is not None:
            stmt = stmt.where(ALERTS.c.digest_id == digest_id)
        return self._with_mentions([_alert(r) for r in self.session.execute(stmt)])

    def alert_rendered(self, mention_id: int, revision: int, resolved: bool, now: datetime) -> None:
        """The message now shows `revision` (up to date unless something changed meanwhile); a closed mention's
        alert is done with."""
        values: dict = {
            "rendered": revision, "updated_at": now, "refusals": 0, "retry_at": None,
            "edit_at": case((AlertRow.revision > revision, AlertRow.edit_at), else_=None),
        }
        if resolved:
            values.update(state=RESOLVED, follow_up_at=None)
        self.session.execute(update(AlertRow).where(AlertRow.mention_id == mention_id).values(**values))

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
        return self._with_mentions([_alert(r) for r in self.session.execute(stmt)])

    def _with_mentions(self, alerts: list[Alert]) -> list[tuple[Alert, Mention]]:
        """Each alert with its mention, the mentions read in one statement (as table rows: far cheaper than ORM
        objects, with nothing to track)."""
        ids = [a.mention_id for a in alerts]
        rows = self.session.execute(select(MENTIONS).where(self.bulk.among(MENTIONS.c.id, ids))) if ids else []
        found = {r.id: _mention(r) for r in rows}
        return [(a, found[a.mention_id]) for a in alerts if a.mention_id in found]

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
        for chunk in _chunks(rows, ROWS):
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

    def followed_up(self, mention_ids: list[int], now: datetime, *, first: bool, reminder: bool = False) -> None:
        """Note a nudge in the thread: `first` is the one due at ESCALATE_AFTER, the rest are reminders (counted
        when `reminder`) or a snooze ending."""
        values: dict = {"escalated_at": now} if first else {"reminded_at": now}
        if reminder:
            values["reminders"] = AlertRow.reminders + 1
        for chunk in _chunks(mention_ids, IDS):
            self.session.execute(update(AlertRow).where(self.bulk.among(AlertRow.mention_id, chunk)).values(**values))

    # --- digests --------------------------------------------------------------------------------------

    def start_digest(self, mention_ids: list[int], channel: str, now: datetime) -> tuple[int, list[int]] | None:
        """One digest for these mentions, each claimed for it as its alert: (its id, the mentions claimed). None if
        none was left to claim."""
        digest = DigestRow(channel=channel, state=SENDING, created_at=now)
        self.session.add(digest)
        self.session.flush()
        rows = [
            {"mention_id": m, "channel": channel, "state": SENDING, "created_at": now, "digest_id": digest.id,
             "revision": 0, "rendered": 0, "refusals": 0, "reminders": 0}
            for m in dict.fromkeys(mention_ids)
        ]
        claimed = self.bulk.insert_new(AlertRow.__table__, rows, "mention_id")
        if not claimed:
            self.session.delete(digest)
            return None
        for chunk in _chunks(claimed, IDS):
            self.session.execute(update(MentionRow).where(self.bulk.among(MentionRow.id, chunk)).values(due_at=None))
        return digest.id, claimed

    def digest_sent(self, digest_id: int, channel: str, ts: str, now: datetime, follow_up_at: datetime | None = None) -> None:
        """Posted: its mentions' follow-ups are judged from `follow_up_at` on (from now, if not given)."""
        self.session.execute(
            update(DigestRow).where(DigestRow.id == digest_id).values(channel=channel, ts=ts, state=SENT, sent_at=now)
        )
        self.session.execute(
            update(AlertRow)
            .where(AlertRow.digest_id == digest_id)
            .values(channel=channel, ts=ts, state=SENT, sent_at=now, updated_at=now, follow_up_at=follow_up_at or now)
        )

    def drop_digest(self, digest_id: int) -> None:
        """Forget a digest Slack certainly did not post; its mentions become due again."""
        doomed = (AlertRow.digest_id == digest_id) & (AlertRow.state == SENDING)
        self._due_again(doomed)
        self.session.execute(delete(AlertRow).where(doomed))
        self.session.execute(delete(DigestRow).where(DigestRow.id == digest_id, DigestRow.state == SENDING))

    def digest(self, digest_id: int) -> tuple[Digest, list[Mention]] | None:
        """The digest and its mentions, oldest first."""
        row = self.session.get(DigestRow, digest_id)
        if row is None:
            return None
        members = self.session.execute(
            select(MENTIONS)
            .join(ALERTS, ALERTS.c.mention_id == MENTIONS.c.id)
            .where(ALERTS.c.digest_id == digest_id)
            .order_by(MENTIONS.c.created_at, MENTIONS.c.id)
        )
        return _digest(row), [_mention(m) for m in members]

    def digests_in_doubt(self) -> list[Digest]:
        return [_digest(r) for r in self.session.scalars(select(DigestRow).where(DigestRow.state == SENDING))]

    # --- actions from Slack ---------------------------------------------------------------------------

    def record_action(self, mention_id: int, user_id: str, action: str, detail: str, now: datetime) -> None:
        """Keep who did what, and make the alert's message show it."""
        self.session.add(ActionRow(mention_id=mention_id, user_id=user_id, action=action, detail=detail, at=now))
        self._show_change([mention_id], now)

    def claim(self, mention_id: int, user_id: str) -> None:
        self.session.execute(
            update(MentionRow).where(MentionRow.id == mention_id).values(claimed_by=user_id, snoozed_until=None, snoozed_by=None)
        )
        self._rearm(mention_id)

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

    def close(self, mention_id: int, reason: str, user_id: str) -> bool:
        """Close an open mention as needing no reply (the closer holds it); False if it was no longer open."""
        result = self.session.execute(
            update(MentionRow)
            .where(MentionRow.id == mention_id, MentionRow.status == Status.OPEN)
            .values(status=Status.CLOSED, status_reason=reason, claimed_by=user_id, snoozed_until=None, due_at=None)
        )
        return result.rowcount > 0

    def actions(self, mention_id: int) -> list[tuple[str, str, str, datetime]]:
        """(user, action, detail, when) for a mention, oldest first."""
        rows = self.session.scalars(select(ActionRow).where(ActionRow.mention_id == mention_id).order_by(ActionRow.id))
        return [(r.user_id, r.action, r.detail, r.at) for r in rows]

    def closed_mentions(self, limit: int = 1000) -> list[Mention]:
        """Mentions no longer open, newest first: answered, ignored (with the rule's reason), deleted, closed."""
        rows = self.session.scalars(
            select(MentionRow).where(MentionRow.status != Status.OPEN).order_by(MentionRow.created_at.desc()).limit(limit)
        )
        return [_mention(r) for r in rows]

    # --- poll cursors and health ----------------------------------------------------------------------

    def record_poll(
        self,
        account: str,
        endpoint: str,
        now: datetime,
        newest_id: int | None = None,
        error: str | None = None,
        next_attempt_at: datetime | None = None,
    ) -> None:
        """Note one read of a timeline: on success move the cursor (if anything new came), on failure keep it."""
        row = self.session.get(PollCursorRow, (account, endpoint))
        if row is None:
            row = PollCursorRow(account=account, endpoint=endpoint, failures=0)
            self.session.add(row)
        row.last_attempt_at = now
        row.last_error = error
        row.next_attempt_at = next_attempt_at
        if error is None:
            row.last_success_at = now
            row.failures = 0
            row.failing_since = None
            if newest_id is not None and (row.newest_id is None or newest_id > row.newest_id):
                row.newest_id = newest_id
        else:
            row.failures = (row.failures or 0) + 1
            row.failing_since = row.failing_since or now

    def replies_read_at(self, account: str, endpoints: Iterable[str]) -> datetime | None:
        """When the last completed read of every timeline whose replies answer mentions started (the earliest of
        them); None if one was never read."""
        wanted = set(endpoints)
        table = PollCursorRow.__table__
        rows = self.session.execute(
            select(table.c.last_success_at).where(table.c.account == account, table.c.endpoint.in_(wanted))
        ).all()
        if len(rows) < len(wanted) or any(r[0] is None for r in rows):
            return None
        return min(r[0] for r in rows)

    def sweep_work(self, now: datetime, as_of: datetime | None, seen_before: datetime | None) -> SweepWork:
        """What the sweep has to do, in one cheap statement: a tick with nothing to do reads no row, and one with
        work reads only the kinds there are."""
        alerts, digests, notices, mentions = (t.__table__ for t in (AlertRow, DigestRow, NoticeRow, MentionRow))
        kinds = {
            "alerts_in_doubt": select(alerts.c.id).where(alerts.c.state == SENDING, alerts.c.digest_id.is_(None)),
            "alert_retries": select(alerts.c.id).where(_retry_due(alerts.c, now), alerts.c.digest_id.is_(None)),
            "digests_in_doubt": select(digests.c.id).where(digests.c.state == SENDING),
            "digest_retries": select(digests.c.id).where(_retry_due(digests.c, now)),
            "notices": select(notices.c.id).where(
                notices.c.state.in_([PENDING, SENDING, REFUSED]), (notices.c.state != REFUSED) | (notices.c.retry_at <= now)
            ),
            # ordered by the indexed time, so the plan is the index's whatever the planner believes about the table
            "edits": select(alerts.c.id).where(alerts.c.state == SENT, alerts.c.edit_at.is_not(None)).order_by(alerts.c.edit_at),
        }
        if as_of is not None and seen_before is not None:
            due = select(mentions.c.id).where(mentions.c.status == Status.OPEN, mentions.c.due_at <= as_of)
            kinds["due"] = due.order_by(mentions.c.due_at)
        found = self.session.execute(select(*(q.limit(1).scalar_subquery().is_not(None) for q in kinds.values()))).one()
        return SweepWork(**{kind: bool(f) for kind, f in zip(kinds, found, strict=True)})

    def endpoint(self, account: str, endpoint: str) -> EndpointHealth | None:
        row = self.session.get(PollCursorRow, (account, endpoint))
        return _health(row) if row else None

    def health(self, account: str) -> list[EndpointHealth]:
        rows = self.session.scalars(
            select(PollCursorRow).where(PollCursorRow.account == account).order_by(PollCursorRow.endpoint)
        )
        return [_health(r) for r in rows]

    # --- Slack channels -------------------------------------------------------------------------------

    def channel_failed(self, channel: str, error: str, now: datetime) -> bool:
        """Note that the channel cannot take messages; True if it worked until now."""
        row = self.session.get(SlackChannelRow, channel)
        if row is None:
            row = SlackChannelRow(channel=channel, failures=0)
            self.session.add(row)
        first = row.failing_since is None
        row.failing_since = row.failing_since or now
        row.failures = (row.failures or 0) + 1
        row.last_error = error
        return first

    def channel_works(self, channel: str) -> bool:
        """Note that the channel takes messages; True if it was failing."""
        row = self.session.get(SlackChannelRow, channel)
        if row is None or row.failing_since is None:
            return False
        row.failing_since, row.failures, row.last_error = None, 0, None
        return True

    def failing_channels(self) -> list[tuple[str, datetime, str]]:
        """(channel, failing since, last error) for every channel that cannot take messages."""
        rows = self.session.scalars(select(SlackChannelRow).where(SlackChannelRow.failing_since.is_not(None)))
        return [(r.channel, r.failing_since, r.last_error or "") for r in rows]

    # --- notices --------------------------------------------------------------------------------------

    def add_notice(self, key: str, text: str, now: datetime, thread_ts: str | None = None) -> bool:
        """Queue a notice once: False if one with this key exists already."""
        return self._insert_once(NoticeRow, "key", key=key, text=text, state=PENDING, created_at=now, thread_ts=thread_ts)

    def last_notice(self, prefix: str) -> str | None:
        """The key of the newest notice whose key starts with `prefix`."""
        return self.session.scalar(
            select(NoticeRow.key).where(NoticeRow.key.startswith(prefix)).order_by(NoticeRow.id.desc()).limit(1)
        )

    def notices_unsent(self, now: datetime) -> list[Notice]:
        """Notices to post now: new, in doubt, or refused before and due for another try."""
        rows = self.session.scalars(
            select(NoticeRow)
            .where(NoticeRow.state.in_([PENDING, SENDING, REFUSED]), (NoticeRow.state != REFUSED) | (NoticeRow.retry_at <= now))
            .order_by(NoticeRow.id)
        )
        return [
            Notice(key=r.key, text=r.text, state=r.state, created_at=r.created_at, thread_ts=r.thread_ts, refusals=r.refusals or 0)
            for r in rows
        ]

    def notice_text(self, key: str) -> str | None:
        return self.session.scalar(select(NoticeRow.text).where(NoticeRow.key == key))

    def notice_state(self, key: str, state: str, channel: str | None = None, ts: str | None = None, now: datetime | None = None) -> None:
        values: dict = {"state": state}
        if ts is not None:
            values.update(channel=channel, ts=ts, sent_at=now)
        self.session.execute(update(NoticeRow).where(NoticeRow.key == key).values(**values))


def _health(r: PollCursorRow) -> EndpointHealth:
    return EndpointHealth(
        r.endpoint, r.newest_id, r.last_attempt_at, r.last_success_at, r.last_error,
        r.failures or 0, r.failing_since, r.next_attempt_at,
    )


def _mention(row: MentionRow) -> Mention:
    post = Post(
        id=row.id,
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
        author_protected=bool(row.author_protected),
    )
    return Mention(
        post=post,
        status=Status(row.status),
        reason=row.status_reason,
        first_seen_at=row.first_seen_at,
        answered_by=row.answered_by,
        answered_at=row.answered_at,
        priority=row.priority,
        claimed_by=row.claimed_by,
        snoozed_until=row.snoozed_until,
        snoozed_by=row.snoozed_by,
    )


def _alert(row: AlertRow) -> Alert:
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
    )


def _digest(row: DigestRow) -> Digest:
    return Digest(id=row.id, channel=row.channel, state=row.state, created_at=row.created_at, ts=row.ts, refusals=row.refusals or 0)
