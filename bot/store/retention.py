"""Retention's reads and writes (bot.services.retention decides what and when): closed mentions erased of what names
or quotes their author, oldest closed first, a batch at a time; the account's old replies made to forget whom they
answered; old notes' copies of strangers; and what `status` says of it. Each call is one batch of one unit of work."""

from __future__ import annotations

import json
from collections.abc import Callable, Collection
from datetime import datetime

from sqlalchemy import bindparam, func, literal, select, tuple_, update

from bot.model import Status
from bot.store.common import PARKED, SENT, Part
from bot.store.tables import ActionRow, MentionRow, NoticeRow, OutgoingReplyRow, ReplyRow

Key = tuple[str, str, str]  # a reply's: network, account, post id
ERASED = "erased:"  # an erased mention's post id is this and its own key: (network, account, post_id) stays unique
MARK = '"erased": true'  # what an erased note's payload ends with (a key bot.messages.load passes over)
# What names or quotes a mention's author, and what it becomes: the columns the report reads are not among them.
GONE = {
    "author_id": None, "author_handle": "", "author_name": "", "text": "", "url": "",
    "version_id": None, "conversation_id": None, "replied_to_id": None, "in_reply_to_user_id": None,
    "answer_text": None,  # a reply written in Slack names whom it answers
}


class Retention(Part):
    def stamp_closed(self, now: datetime, limit: int) -> int:
        """Give up to `limit` closed mentions that have no closing time (a path that closed them without saying when)
        `now` as theirs; how many."""
        m = MentionRow
        ids = list(self.session.scalars(
            select(m.id).where(m.purged_at.is_(None), m.closed_at.is_(None), m.status != Status.OPEN).limit(limit)
        ))
        if ids:
            self.session.execute(update(m).where(m.id.in_(ids)).values(closed_at=now))
        return len(ids)

    def erase_closed(self, before: datetime, now: datetime, limit: int, keep: Callable[[str], str]) -> int:
        """Erase what names or quotes the author of up to `limit` mentions closed before `before` and not erased yet,
        oldest closed first; `keep(text)` is what of a reason, or of a Slack close's detail, stays. How many."""
        m, table = MentionRow, MentionRow.__table__
        rows = self.session.execute(
            select(m.id, m.status_reason).where(m.purged_at.is_(None), m.closed_at < before).order_by(m.closed_at, m.id).limit(limit)
        ).all()
        if not rows:
            return 0
        stmt = (
            update(table)
            .where(table.c.id == bindparam("b_id"), table.c.purged_at.is_(None))
            .values(post_id=bindparam("b_post"), status_reason=bindparam("b_reason"), purged_at=now, **GONE)
        )
        self.session.execute(stmt, [{"b_id": i, "b_post": f"{ERASED}{i}", "b_reason": keep(reason)} for i, reason in rows])
        actions = ActionRow.__table__
        details = self.session.execute(
            select(actions.c.id, actions.c.detail).where(actions.c.mention_id.in_([i for i, _ in rows]), actions.c.detail != "")
        ).all()
        changed = [{"b_id": i, "b_detail": keep(detail)} for i, detail in details if keep(detail) != detail]
        if changed:
            self.session.execute(update(actions).where(actions.c.id == bindparam("b_id")).values(detail=bindparam("b_detail")), changed)
        outgoing = OutgoingReplyRow.__table__  # the replies written in Slack to these mentions: their text, as above
        self.session.execute(update(outgoing).where(outgoing.c.mention_id.in_([i for i, _ in rows])).values(text="", problem=None))
        return len(rows)

    def forget_whom_answered(self, before: datetime, limit: int, after: Key | None = None) -> list[Key]:
        """Of up to `limit` replies of the account posted before `before`, in key order after `after`, forget the post,
        thread and person they answered (a reply always names the post it answers: none named, already forgotten).
        Their keys (network, account, post id): a purge walks the table once, whatever it forgot before."""
        r, table = ReplyRow, ReplyRow.__table__
        stmt = select(r.network, r.account, r.post_id).where(r.replied_to_id.is_not(None), r.created_at < before)
        if after is not None:
            stmt = stmt.where(tuple_(r.network, r.account, r.post_id) > tuple_(*(literal(k) for k in after)))
        keys = [(n, a, p) for n, a, p in self.session.execute(stmt.order_by(r.network, r.account, r.post_id).limit(limit))]
        if keys:
            self.session.execute(
                update(table)
                .where(table.c.network == bindparam("b_network"), table.c.account == bindparam("b_account"),
                       table.c.post_id == bindparam("b_post"))
                .values(replied_to_id=None, conversation_id=None, in_reply_to_user_id=None),
                [{"b_network": n, "b_account": a, "b_post": p} for n, a, p in keys],
            )
        return keys

    def notes_to_erase(self, before: datetime, kinds: Collection[str], limit: int) -> list[tuple[int, str, str]]:
        """(id, kind, payload) of up to `limit` notes of these kinds queued before `before`, posted (or given up on),
        and not erased yet."""
        n = NoticeRow
        return [(i, kind, payload) for i, kind, payload in self.session.execute(
            select(n.id, n.kind, n.payload)
            .where(n.kind.in_(sorted(kinds)), n.created_at < before, n.state.in_([SENT, PARKED]))
            .where(~n.payload.contains(MARK, autoescape=True))
            .order_by(n.id)
            .limit(limit)
        )]

    def notes_erased(self, payloads: dict[int, str]) -> None:
        """Store each note's payload without the strangers it named (by id), marked as erased."""
        table = NoticeRow.__table__
        stmt = update(table).where(table.c.id == bindparam("b_id")).values(payload=bindparam("b_payload"))
        rows = [{"b_id": i, "b_payload": json.dumps({**json.loads(p), "erased": True})} for i, p in payloads.items()]
        if rows:
            self.session.execute(stmt, rows)

    def retention_state(self) -> tuple[datetime | None, int, datetime | None]:
        """(when mentions were last erased, how many then, the closing time of the oldest closed mention kept)."""
        m = MentionRow
        last = self.session.scalar(select(func.max(m.purged_at)))
        count = self.session.scalar(select(func.count()).select_from(m).where(m.purged_at == last)) if last is not None else 0
        oldest = self.session.scalar(select(func.min(m.closed_at)).where(m.purged_at.is_(None), m.closed_at.is_not(None)))
        return last, int(count or 0), oldest
