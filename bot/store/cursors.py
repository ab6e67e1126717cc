"""Where each timeline was read up to, and how its reads go."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select

from bot.model import EndpointHealth
from bot.store import common
from bot.store.common import Part
from bot.store.tables import PollCursorRow


class Cursors(Part):
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

    def endpoint(self, account: str, endpoint: str) -> EndpointHealth | None:
        row = self.session.get(PollCursorRow, (account, endpoint))
        return common.health_of(row) if row else None

    def health(self, account: str) -> list[EndpointHealth]:
        rows = self.session.scalars(
            select(PollCursorRow).where(PollCursorRow.account == account).order_by(PollCursorRow.endpoint)
        )
        return [common.health_of(r) for r in rows]
