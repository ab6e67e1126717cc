"""Where each timeline was read up to, and how its reads go."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select

from bot.model import AccountKey, EndpointHealth, Network
from bot.store import common
from bot.store.common import Part, of_account
from bot.store.tables import PollCursorRow, SessionRow


class Cursors(Part):
    def record_poll(
        self,
        where: AccountKey,
        endpoint: str,
        now: datetime,
        cursor: str | None = None,
        error: str | None = None,
        next_attempt_at: datetime | None = None,
        filtered: int = 0,
        refused: bool = False,
    ) -> None:
        """Note one read of a timeline: on success move the cursor (if anything new came), on failure keep it;
        `filtered`: mentions it read that the instance's notification filter had held (counted up); `refused`: the
        failure was the network refusing the token."""
        row = self.session.get(PollCursorRow, (where.network.value, where.handle, endpoint))
        if row is None:
            row = PollCursorRow(network=where.network.value, account=where.handle, endpoint=endpoint, failures=0)
            self.session.add(row)
        row.last_attempt_at = now
        row.last_error = error
        row.token_refused = refused and error is not None
        row.next_attempt_at = next_attempt_at
        if error is None:
            row.last_success_at = now
            row.failures = 0
            row.failing_since = None
            if cursor is not None:
                row.cursor = cursor
            row.filtered = (row.filtered or 0) + filtered
        else:
            row.failures = (row.failures or 0) + 1
            row.failing_since = row.failing_since or now

    def replies_read_at(self, where: AccountKey, endpoints: Iterable[str]) -> datetime | None:
        """When the last completed read of every timeline whose replies answer mentions started (the earliest of
        them); None if one was never read."""
        wanted = set(endpoints)
        table = PollCursorRow.__table__
        rows = self.session.execute(
            select(table.c.last_success_at).where(
                of_account(table.c, where), table.c.endpoint.in_(wanted)
            )
        ).all()
        if len(rows) < len(wanted) or any(r[0] is None for r in rows):
            return None
        return min(r[0] for r in rows)

    def endpoint(self, where: AccountKey, endpoint: str) -> EndpointHealth | None:
        row = self.session.get(PollCursorRow, (where.network.value, where.handle, endpoint))
        return common.health_of(row) if row else None

    def polled_accounts(self) -> list[AccountKey]:
        """Every account this database has read, whatever is configured now."""
        rows = self.session.execute(select(PollCursorRow.network, PollCursorRow.account).distinct().order_by(PollCursorRow.network))
        return [AccountKey(Network(network), account) for network, account in rows]

    def health(self, where: AccountKey) -> list[EndpointHealth]:
        rows = self.session.scalars(
            select(PollCursorRow)
            .where(of_account(PollCursorRow, where))
            .order_by(PollCursorRow.endpoint)
        )
        return [common.health_of(r) for r in rows]

    def load_session(self, key: str) -> str | None:
        """A network session stored by `save_session` (a credential: only its adapter reads it)."""
        row = self.session.get(SessionRow, key)
        return row.value if row else None

    def save_session(self, key: str, value: str, now: datetime) -> None:
        row = self.session.get(SessionRow, key)
        if row is None:
            self.session.add(SessionRow(key=key, value=value, updated_at=now))
        else:
            row.value, row.updated_at = value, now
