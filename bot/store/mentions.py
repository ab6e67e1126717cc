"""Mentions and the replies that answer them: stored as polls read them, judged, answered, expired."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime

from sqlalchemy import bindparam, func, literal, select, tuple_, update

from bot.model import AccountKey, Alert, Mention, Network, Post, Status, Verdict
from bot.store import common
from bot.store.common import ALERTS, IDS, MENTIONS, ROWS, Part, chunks, of_account
from bot.store.tables import ACCOUNT, NAME, REASON, URL, AlertRow, MentionRow, ReplyRow

PAGE = 1000  # open mentions read at a time by iter_open_mentions


def _scope(where: AccountKey) -> dict[str, str]:
    return {"network": where.network.value, "account": where.handle}


class Mentions(Part):
    def add_mentions(self, where: AccountKey, judged: Iterable[tuple[Post, Verdict]], seen_at: datetime) -> list[str]:
        """Store new mentions of the account `where`; ones already stored are left as they are (an edit updates the
        text). Returns the post ids newly stored. An open one waits for its alert from its post time on (the sweep
        works out the exact time)."""
        scope = _scope(where)
        rows = [
            {
                **scope,
                "post_id": post.id,
                "version_id": post.version_id,
                "author_id": post.author_id,
                "author_handle": post.author_handle[:ACCOUNT],  # what the columns hold, whatever a network sends
                "author_name": post.author_name[:NAME],
                "text": post.text,
                "url": post.url if len(post.url) <= URL else "",  # a link cut short would lead somewhere else
                "created_at": post.created_at,
                "conversation_id": post.conversation_id,
                "replied_to_id": post.replied_to_id,
                "in_reply_to_user_id": post.in_reply_to_user_id,
                "reference_types": ",".join(sorted(post.reference_types)),
                "status": verdict.status.value,
                "status_reason": verdict.reason[:REASON],
                "first_seen_at": seen_at,
                "private": post.private,
                "priority": verdict.priority,
                "due_at": post.created_at if verdict.status is Status.OPEN else None,
                "closed_at": None if verdict.status is Status.OPEN else seen_at,
            }
            for post, verdict in judged
        ]
        new = self.bulk.insert_new(MentionRow.__table__, rows, "post_id", scope)
        stored = set(new)
        for row in rows:
            if row["version_id"] is not None and row["post_id"] not in stored:
                self._apply_edit(where, row["post_id"], row["version_id"], row["text"])
        return new

    def _apply_edit(self, where: AccountKey, post_id: str, version_id: str, text: str) -> None:
        """An edit is the same mention: newer text, same row, same alert."""
        self.session.execute(
            update(MentionRow)
            .where(
                of_account(MentionRow, where),
                MentionRow.post_id == post_id,
                MentionRow.status != Status.DELETED,
                func.coalesce(MentionRow.version_id, "") != version_id,
            )
            .values(version_id=version_id, text=text)
        )

    def mark_deleted(self, mention_ids: Sequence[int], now: datetime) -> None:
        """Deleted where they were posted: closed, and their text removed from the store (the networks' terms)."""
        for chunk in chunks(mention_ids, IDS):
            self.session.execute(
                update(MentionRow)
                .where(self.bulk.among(MentionRow.id, chunk))
                .values(status=Status.DELETED, status_reason="deleted by its author", text="", due_at=None,
                        closed_at=func.coalesce(MentionRow.closed_at, now))
            )
        self._show_change(mention_ids, now)

    def add_replies(self, where: AccountKey, replies: Iterable[Post]) -> None:
        scope = _scope(where)
        rows = [
            {
                **scope,
                "post_id": r.id,
                "author_id": r.author_id,
                "conversation_id": r.conversation_id,
                "replied_to_id": r.replied_to_id,
                "in_reply_to_user_id": r.in_reply_to_user_id,
                "created_at": r.created_at,
                "url": r.url if len(r.url) <= URL else "",
                "author_handle": r.author_handle or None,
            }
            for r in replies
        ]
        self.bulk.insert_new(ReplyRow.__table__, rows, "post_id", scope)

    def open_posts(self, where: AccountKey, ids: Iterable[str], threads: Iterable[tuple[str, str]]) -> list[Post]:
        """Open mentions of `where` that a reply could answer: those whose id or newest edit's id is among `ids`, and
        those by author A in conversation C for each (C, A) in `threads`. Only what the reply rules look at is read."""
        # one statement, the status checked here: given `status = 'open'`, SQLite's planner reads every open
        # mention through the status index instead of looking the few ids up
        ids, pairs = set(ids), set(threads)
        if not ids and not pairs:
            return []
        rows = self.session.execute(
            select(MentionRow.post_id, MentionRow.version_id, MentionRow.author_id, MentionRow.conversation_id,
                   MentionRow.created_at, MentionRow.status, MentionRow.network, MentionRow.account)
            .where(self.bulk.among(MentionRow.post_id, list(ids)) | self.bulk.among(MentionRow.version_id, list(ids))
                   | self.bulk.among(MentionRow.conversation_id, list({c for c, _ in pairs})))
        )
        found = {
            r.post_id: r for r in rows
            if r.status == Status.OPEN and (r.network, r.account) == (where.network.value, where.handle)
            and (r.post_id in ids or r.version_id in ids or (r.conversation_id, r.author_id) in pairs)
        }
        return [
            Post(r.post_id, r.author_id, "", r.created_at, conversation_id=r.conversation_id, version_id=r.version_id)
            for r in found.values()
        ]

    def replies_to(
        self, where: AccountKey, account_id: str, ids: Iterable[str], threads: Iterable[tuple[str, str]]
    ) -> list[Post]:
        """The stored replies (for the account `where`, whose id is `account_id`) to any of `ids`, or in conversation
        C to author A for each (C, A) in `threads`."""
        ids, pairs = set(ids), set(threads)
        if not ids and not pairs:
            return []
        rows = self.session.execute(
            select(ReplyRow.post_id, ReplyRow.author_id, ReplyRow.created_at, ReplyRow.conversation_id,
                   ReplyRow.replied_to_id, ReplyRow.in_reply_to_user_id, ReplyRow.url)
            .where(of_account(ReplyRow, where),
                   self.bulk.among(ReplyRow.replied_to_id, list(ids))
                   | self.bulk.among(ReplyRow.conversation_id, list({c for c, _ in pairs})))
        )
        found = [r for r in rows if r.replied_to_id in ids or (r.conversation_id, r.in_reply_to_user_id) in pairs]
        return [
            Post(
                id=r.post_id,
                author_id=r.author_id if r.author_id is not None else account_id,
                text="",
                created_at=r.created_at,
                conversation_id=r.conversation_id,
                replied_to_id=r.replied_to_id,
                in_reply_to_user_id=r.in_reply_to_user_id,
                url=r.url,
            )
            for r in found
        ]

    def mark_answered(self, where: AccountKey, answered: Sequence[tuple[str, Post]], now: datetime) -> None:
        """Each (post id of a mention of `where`, the reply that answers it), if the mention is still open."""
        replies = dict(answered)
        keys = [
            (r.id, r.post_id) for chunk in chunks(list(replies), IDS) for r in self.session.execute(
                select(MentionRow.id, MentionRow.post_id)
                .where(of_account(MentionRow, where), self.bulk.among(MentionRow.post_id, chunk), MentionRow.status == Status.OPEN)
            )
        ]
        rows = [
            {"id": m, "status": Status.ANSWERED.value, "status_reason": f"answered by post {replies[p].id}"[:REASON],
             "answered_by": replies[p].id, "answered_at": replies[p].created_at,
             "answer_url": replies[p].url if len(replies[p].url) <= URL else "", "due_at": None, "closed_at": now}
            for m, p in keys
        ]
        self.bulk.update(MentionRow.__table__, rows, "id", {"status": Status.OPEN.value})
        self._show_change([m for m, _ in keys], now)

    def mention_keys(self, where: AccountKey, post_ids: Sequence[str]) -> dict[str, int]:
        """The store's key of each of these stored mentions of `where`, by post id."""
        return {
            r.post_id: r.id for chunk in chunks(list(post_ids), IDS) for r in self.session.execute(
                select(MentionRow.id, MentionRow.post_id).where(of_account(MentionRow, where), self.bulk.among(MentionRow.post_id, chunk))
            )
        }

    def mentions(self, mention_ids: Sequence[int]) -> list[Mention]:
        """The stored mentions with these keys, oldest first (those gone left out)."""
        rows = self.session.execute(select(MENTIONS).where(self.bulk.among(MENTIONS.c.id, list(mention_ids)))) if mention_ids else []
        return sorted((common.mention_of(r) for r in rows), key=lambda m: (m.post.created_at, m.id))

    def mention(self, mention_id: int) -> Mention | None:
        row = self.session.get(MentionRow, mention_id)
        return common.mention_of(row) if row else None

    def open_mentions(self, limit: int | None = None) -> list[tuple[Mention, Alert | None]]:
        """Open mentions, oldest first (the `limit` oldest), with their alerts."""
        return list(self.iter_open_mentions(limit))

    def iter_open_mentions(
        self, limit: int | None = None, where: AccountKey | None = None
    ) -> Iterator[tuple[Mention, Alert | None]]:
        """As `open_mentions` (of the account `where`, or all), a page of a thousand at a time, each page from where
        the last ended (by the status index) with its alerts: memory stays small however long the queue, and no
        cursor stays open."""
        left, after = limit, None
        of = (of_account(MENTIONS.c, where),) if where is not None else ()
        while left is None or left > 0:
            size = PAGE if left is None else min(PAGE, left)
            stmt = select(MENTIONS).where(MENTIONS.c.status == Status.OPEN, *of).order_by(MENTIONS.c.created_at, MENTIONS.c.id)
            if after is not None:
                last = tuple_(literal(after[0], MENTIONS.c.created_at.type), literal(after[1], MENTIONS.c.id.type))
                stmt = stmt.where(tuple_(MENTIONS.c.created_at, MENTIONS.c.id) > last)
            page = self.session.execute(stmt.limit(size)).all()
            ids = [r.id for r in page]
            alerts = {a.mention_id: common.alert_of(a) for a in self.session.execute(
                select(ALERTS).where(self.bulk.among(ALERTS.c.mention_id, ids))
            )} if ids else {}
            for row in page:
                yield common.mention_of(row), alerts.get(row.id)
            if len(page) < size:
                return
            left = None if left is None else left - size
            after = (page[-1].created_at, page[-1].id)

    def open_by_account(self) -> dict[AccountKey, int]:
        """How many mentions are open in each account's queue (accounts with none are left out)."""
        rows = self.session.execute(
            select(MentionRow.network, MentionRow.account, func.count())
            .where(MentionRow.status == Status.OPEN)
            .group_by(MentionRow.network, MentionRow.account)
        )
        return {AccountKey(Network(network), account): count for network, account, count in rows}

    def open_count(self) -> int:
        """How many mentions are open: from the status index alone, without the alerts `open_summary` joins."""
        return self.session.scalar(select(func.count()).select_from(MentionRow).where(MentionRow.status == Status.OPEN)) or 0

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

    def due_mentions(self, as_of: datetime, seen_before: datetime, limit: int, where: AccountKey | None = None) -> list[Mention]:
        """Open mentions (of the account `where`, or all) not alerted yet whose stored due time has come, stored
        before `seen_before` (checked for replies since), earliest first."""
        stmt = select(MENTIONS).where(
            MENTIONS.c.due_at <= as_of, MENTIONS.c.status == Status.OPEN, MENTIONS.c.first_seen_at <= seen_before
        )
        if where is not None:
            stmt = stmt.where(of_account(MENTIONS.c, where))
        rows = self.session.execute(stmt.order_by(MENTIONS.c.due_at, MENTIONS.c.id).limit(limit))
        return [common.mention_of(r) for r in rows]

    def postpone(self, due: Sequence[tuple[int, datetime]]) -> None:
        """Store each (mention id, the exact time its alert is due)."""
        table = MentionRow.__table__
        stmt = update(table).where(table.c.id == bindparam("mention"), table.c.due_at.is_not(None)).values(due_at=bindparam("due"))
        for chunk in chunks([{"mention": m, "due": d} for m, d in due], ROWS):
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
        for chunk in chunks(ids, IDS):
            self.session.execute(
                update(MentionRow)
                .where(self.bulk.among(MentionRow.id, chunk), MentionRow.status == Status.OPEN)
                .values(status=Status.EXPIRED, status_reason=reason, due_at=None, closed_at=now)
            )
        self._show_change(ids, now)

    def closed_mentions(self, limit: int = 1000) -> list[Mention]:
        """Mentions no longer open, newest first: answered, ignored (with the rule's reason), deleted, closed."""
        rows = self.session.scalars(
            select(MentionRow).where(MentionRow.status != Status.OPEN).order_by(MentionRow.created_at.desc()).limit(limit)
        )
        return [common.mention_of(r) for r in rows]
