"""The report to the channel (REPORT_EVERY): queued once for each period when it falls due, as a typed note that
holds the report worked out then; the outbox uploads its chart and posts it exactly once, like any notice.

A report that fell due while replywatch was down is queued when it starts: only the newest one, never one per
missed period, and none from before REPORT_EVERY was set (a new setting does not post last week's at once)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from bot.clock import Clock
from bot.messages import ReportNote
from bot.report.cadence import Cadence

if TYPE_CHECKING:
    from bot.store.repository import Store

log = logging.getLogger(__name__)


class ReportService:
    def __init__(
        self, store: Store, clock: Clock, cadence: Cadence, tz: ZoneInfo, build: Callable[[datetime, datetime], str],
        channel: str, alert_after: timedelta,
    ) -> None:
        self.store = store
        self.clock = clock
        self.cadence = cadence
        self.tz = tz
        self.build = build  # the report of [start, end), as JSON
        self.channel = channel
        self.alert_after = alert_after
        self._done: datetime | None = None  # the newest report time already seen to

    def run_once(self) -> bool:
        """Queue the report whose time has come, if not queued yet; True if one was."""
        now = self.clock.now()
        due = self.cadence.last_due(now, self.tz)
        if due == self._done:
            return False
        key = f"report:{due:%Y-%m-%dT%H:%M}Z"
        with self.store.unit() as repo:
            since = repo.first_seen("report_every", str(self.cadence), now)
            wanted = due >= since and not repo.has_notice(key)
        if wanted:
            start, end = self.cadence.period(due, self.tz)
            note = ReportNote(start, end, self.build(start, end), self.alert_after.total_seconds())
            with self.store.unit() as repo:
                wanted = repo.add_notice(key, note, now, channel=self.channel)
            if wanted:
                log.info("the report of %s to %s is queued", f"{start:%Y-%m-%d %H:%M}", f"{end:%Y-%m-%d %H:%M} UTC")
        self._done = due
        return wanted
