"""What collection read (the cost meter: requests and posts per account, endpoint and UTC day), and the account's
own posts that reply to nobody (what the report calls broadcasting)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

from sqlalchemy import func, select

from bot.model import AccountKey, Network, Post, Read
from bot.store.common import Part, of_account
from bot.store.tables import OriginalRow, ReadRow


class Reads(Part):
    def add_reads(self, where: AccountKey, reads: Iterable[Read], day: date) -> None:
        """Add these counts to the day's (two writers of one account's counts at once both count)."""
        table = ReadRow.__table__
        for read in reads:
            stmt = self._insert(table).values(
                network=where.network.value, account=where.handle, day=day, endpoint=read.endpoint,
                requests=read.requests, posts=read.posts, owned=read.owned,
            )
            self.session.execute(stmt.on_conflict_do_update(
                index_elements=["network", "account", "day", "endpoint"],
                set_={c: table.c[c] + stmt.excluded[c] for c in ("requests", "posts", "owned")},
            ))

    def reads(self, since: date, until: date | None = None, where: AccountKey | None = None) -> list[tuple[AccountKey, Read]]:
        """Per account and endpoint, what was read on the days from `since` (to `until`, excluded)."""
        conditions = [ReadRow.day >= since]
        if until is not None:
            conditions.append(ReadRow.day < until)
        if where is not None:
            conditions.append(of_account(ReadRow, where))
        rows = self.session.execute(
            select(ReadRow.network, ReadRow.account, ReadRow.endpoint,
                   func.sum(ReadRow.requests), func.sum(ReadRow.posts), func.sum(ReadRow.owned))
            .where(*conditions)
            .group_by(ReadRow.network, ReadRow.account, ReadRow.endpoint)
            .order_by(ReadRow.network, ReadRow.account, ReadRow.endpoint)
        )
        return [(AccountKey(Network(n), a), Read(e, int(r), int(p), int(o))) for n, a, e, r, p, o in rows]

    def add_originals(self, where: AccountKey, posts: Iterable[Post]) -> None:
        """Keep the account's posts that reply to nobody (read once each; a post read again is not counted again)."""
        rows = [{"network": where.network.value, "account": where.handle, "post_id": p.id, "created_at": p.created_at} for p in posts]
        self.bulk.insert_new(OriginalRow.__table__, rows, "post_id", {"network": where.network.value, "account": where.handle})

    def originals(self, where: AccountKey, since: datetime, until: datetime) -> list[datetime]:
        """When the account's original posts in [since, until) were posted."""
        at = OriginalRow.created_at
        return list(self.session.scalars(select(at).where(of_account(OriginalRow, where), at >= since, at < until)))

