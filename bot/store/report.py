"""What the engagement report reads for a period [start, end): the mentions received in it with their first reply's
author and their alert (one statement, plain tuples, streamed in pages by id), and the counts SQL adds up itself —
Slack actions, replies per author, original posts. The report's arithmetic is bot.report.compute's."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime

from sqlalchemy import case, func, literal, select
from sqlalchemy.sql.elements import ColumnElement

from bot.model import AccountKey, Network
from bot.report.model import Acted, Received, Replied
from bot.store.common import Part, of_account
from bot.store.tables import ActionRow, AlertRow, MentionRow, OriginalRow, ReplyRow

PAGE = 5000  # mentions a statement: memory stays small and no cursor stays open however long the period


def _among(table, accounts: Sequence[AccountKey] | None) -> list[ColumnElement[bool]]:  # noqa: ANN001
    """The condition for the rows of these accounts (none: every account)."""
    if accounts is None:
        return []
    if not accounts:
        return [literal(False)]
    condition = of_account(table, accounts[0])
    for where in accounts[1:]:
        condition = condition | of_account(table, where)
    return [condition]


class ReportReads(Part):
    def received(self, start: datetime, end: datetime, accounts: Sequence[AccountKey] | None = None) -> Iterator[Received]:
        """Mentions posted in [start, end) (of `accounts`, or all), each with who wrote its first reply and whether
        it was alerted and escalated, in pages of PAGE by id."""
        m, r, a = MentionRow, ReplyRow, AlertRow
        stmt = (
            select(
                m.id, m.network, m.account, m.status, m.created_at, m.answered_at,
                func.coalesce(func.nullif(m.author_handle, ""), m.author_id, ""), m.url,
                func.coalesce(r.author_handle, r.author_id), a.ts.is_not(None), a.escalated_at.is_not(None), m.status_reason,
                m.priority.is_not(None), m.snoozed_until, m.answered_from.is_not(None),
            )
            .outerjoin(r, (r.network == m.network) & (r.account == m.account) & (r.post_id == m.answered_by))
            .outerjoin(a, a.mention_id == m.id)
            .where(m.created_at >= start, m.created_at < end, *_among(m, accounts))
            .order_by(m.id)
            .limit(PAGE)
        )
        after = None
        while True:
            page = self.session.execute(stmt if after is None else stmt.where(m.id > after)).all()
            for row in page:
                yield Received(*row[1:9], bool(row[9]), bool(row[10]), row[11] or "", bool(row[12]), row[13], bool(row[14]))
            if len(page) < PAGE:
                return
            after = page[-1][0]

    def acted(self, start: datetime, end: datetime, accounts: Sequence[AccountKey] | None = None) -> list[Acted]:
        """What each person did in Slack in [start, end) to mentions of each account, counted (a close by reason)."""
        m, x = MentionRow, ActionRow
        detail = case((x.action == "close", x.detail), else_="")
        rows = self.session.execute(
            select(m.network, m.account, x.user_id, x.action, detail, func.count())
            .join(m, m.id == x.mention_id)
            .where(x.at >= start, x.at < end, *_among(m, accounts))
            .group_by(m.network, m.account, x.user_id, x.action, detail)
        )
        return [Acted(n, a, u, act, d or "", int(c)) for n, a, u, act, d, c in rows]

    def replied(self, start: datetime, end: datetime, accounts: Sequence[AccountKey] | None = None) -> list[Replied]:
        """Replies posted in [start, end) for each account, counted per author (handle, else id): the account itself
        and its responders."""
        r = ReplyRow
        author = func.coalesce(r.author_handle, r.author_id, "")
        rows = self.session.execute(
            select(r.network, r.account, author, func.count())
            .where(r.created_at >= start, r.created_at < end, *_among(r, accounts))
            .group_by(r.network, r.account, author)
        )
        return [Replied(n, a, who, int(c)) for n, a, who, c in rows]

    def originals_counted(self, start: datetime, end: datetime, accounts: Sequence[AccountKey] | None = None) -> dict[AccountKey, int]:
        """How many posts replying to nobody each account posted in [start, end)."""
        o = OriginalRow
        rows = self.session.execute(
            select(o.network, o.account, func.count())
            .where(o.created_at >= start, o.created_at < end, *_among(o, accounts))
            .group_by(o.network, o.account)
        )
        return {AccountKey(Network(n), a): int(c) for n, a, c in rows}
