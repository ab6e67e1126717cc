"""What /metrics reads from the store at scrape time: a handful of aggregate statements, whatever the queue's size.

The store is the one place every replica agrees on, and it outlives restarts: counts read from it (mentions by
status, alerts, escalations, posts read) are the same on every replica and never fall back to zero."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import func, select

from bot.model import AccountKey, EndpointHealth, Network, Status
from bot.store import common
from bot.store.common import Part, of_account
from bot.store.tables import AlertRow, MentionRow, PollCursorRow, ReadRow


class Settled(NamedTuple):
    """A mention that stopped being open: what its breach is judged by."""

    closed_at: datetime
    id: int
    where: AccountKey
    status: Status
    created_at: datetime
    answered_at: datetime | None
    vip: bool
    snoozed_until: datetime | None


@dataclass
class AccountTally:
    """One watched account's figures."""

    by_status: dict[Status, int] = field(default_factory=dict)
    oldest_open: datetime | None = None  # when the oldest open mention was posted
    alerts: int = 0  # alerts posted (a digest's lines each count)
    escalations: int = 0
    reminders: int = 0
    reads: dict[str, tuple[int, int]] = field(default_factory=dict)  # endpoint → (requests, posts), all days
    health: list[EndpointHealth] = field(default_factory=list)


class Tallies(Part):
    def tallies(self) -> dict[AccountKey, AccountTally]:
        """Every account's figures in four grouped statements (one pass over mentions and alerts each)."""
        found: dict[AccountKey, AccountTally] = {}

        def of(network: str, account: str) -> AccountTally:
            return found.setdefault(AccountKey(Network(network), account), AccountTally())

        m = MentionRow
        for network, account, status, count, oldest in self.session.execute(
            select(m.network, m.account, m.status, func.count(), func.min(m.created_at)).group_by(m.network, m.account, m.status)
        ):
            tally = of(network, account)
            tally.by_status[Status(status)] = count
            if status == Status.OPEN:
                tally.oldest_open = oldest
        a = AlertRow
        for network, account, sent, escalated, reminders in self.session.execute(
            select(m.network, m.account, func.count(a.sent_at), func.count(a.escalated_at), func.sum(a.reminders))
            .join(m, m.id == a.mention_id)
            .group_by(m.network, m.account)
        ):
            tally = of(network, account)
            tally.alerts, tally.escalations, tally.reminders = sent, escalated, int(reminders or 0)
        r = ReadRow
        for network, account, endpoint, requests, posts in self.session.execute(
            select(r.network, r.account, r.endpoint, func.sum(r.requests), func.sum(r.posts)).group_by(r.network, r.account, r.endpoint)
        ):
            of(network, account).reads[endpoint] = (int(requests or 0), int(posts or 0))
        for row in self.session.scalars(select(PollCursorRow).order_by(PollCursorRow.endpoint)):
            of(row.network, row.account).health.append(common.health_of(row))
        return found


    def settled(self, after: tuple[datetime, int] | None, batch: int = 1000) -> list[Settled]:
        """Up to `batch` mentions that stopped being open after `after` ((closed_at, id): the last one returned
        before), in that order: what a breach is judged by (bot.rules.breached). Every status is returned, the ones
        that need no reply too: a filter on the status would lead the planner to the status's index, and a sort."""
        m = MentionRow
        stmt = select(m.closed_at, m.id, m.network, m.account, m.status, m.created_at, m.answered_at,
                      m.priority.is_not(None), m.snoozed_until)
        stmt = stmt.where(m.closed_at.is_not(None))
        if after is not None:
            stmt = stmt.where(m.closed_at >= after[0], (m.closed_at > after[0]) | (m.id > after[1]))  # the first: by the index
        rows = self.session.execute(stmt.order_by(m.closed_at, m.id).limit(batch))
        return [Settled(*row[:2], AccountKey(Network(row[2]), row[3]), Status(row[4]), *row[5:]) for row in rows]

    def count_overdue(
        self, where: AccountKey, posted_by: datetime, now: datetime, is_due: Callable[[datetime, bool], bool], batch: int = 500
    ) -> int:
        """The open mentions of `where` posted by `posted_by`, not snoozed at `now`, for which `is_due(posted, vip)`
        holds. As for AlertPolicy.due_at, a mention posted earlier must be due no later, and a VIP's no later than
        another's posted at the same moment: then, newest first, the first ordinary mention found due means every
        older one is due too, and those are counted by the index. Only the newer ones are judged one by one: the
        work is the mentions not yet due, whatever the size of the queue."""
        m = MentionRow
        waiting = (of_account(m, where), m.status == Status.OPEN, m.snoozed_until.is_(None) | (m.snoozed_until <= now))
        rest, vips = m.created_at <= posted_by, []  # vips: when each VIP's mention judged due was posted
        while True:
            stmt = select(m.id, m.created_at, m.priority.is_not(None)).where(*waiting, rest)
            page = self.session.execute(stmt.order_by(m.created_at.desc(), m.id.desc()).limit(batch)).all()
            for _, posted, vip in page:
                if not vip and is_due(posted, False):
                    older = select(func.count()).select_from(m).where(*waiting, m.created_at <= posted)
                    return (self.session.scalar(older) or 0) + sum(v > posted for v in vips)
                if vip and (vips or is_due(posted, True)):  # newest first: a VIP's older than one due is due
                    vips.append(posted)
            if len(page) < batch:
                return len(vips)
            last = page[-1]
            rest = (m.created_at < last.created_at) | ((m.created_at == last.created_at) & (m.id < last.id))
