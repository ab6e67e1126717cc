"""The breaches /metrics counts, by bot.rules' one definition (as the report counts them): the open mentions past
their deadline (the overdue count, bot.store.metrics.count_overdue) and the settled ones, answered after it or
expired past it.

A settled mention's verdict never changes, so each is judged once: SettledBreaches keeps a running count per account
and, at each scrape, judges only the mentions settled since the last (in the order they settled, from an index).
Those settled in the last SETTLING are judged at every scrape and not kept, so that a transaction that commits a
little late is never passed over; so is an expired mention whose deadline is still to come (EXPIRE_AFTER shorter
than the wait), until it has passed."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import datetime, timedelta

from bot.model import AccountKey, Status
from bot.rules import BREACHABLE, AlertPolicy, breached
from bot.store.repository import Repository

SETTLING = timedelta(minutes=5)  # far longer than any transaction that settles a mention


class SettledBreaches:
    """The breaches among settled mentions, per account, for `policy`."""

    def __init__(self, policy: AlertPolicy, batch: int = 1000) -> None:
        self.policy = policy
        self.batch = batch
        self._kept: Counter[AccountKey] = Counter()
        self._mark: tuple[datetime, int] | None = None  # (closed_at, id) of the last mention judged for good
        self._lock = threading.Lock()

    def count(self, repo: Repository, now: datetime) -> Counter[AccountKey]:
        with self._lock:
            found = Counter(self._kept)
            after, kept = self._mark, True
            while True:
                page = repo.settled(after, self.batch)
                for m in page:
                    if m.status not in BREACHABLE or (
                        m.answered_at is not None and m.answered_at <= m.created_at + self.policy.wait(m.where, m.vip)
                    ):
                        hit, final = False, True  # needing no reply, or answered sooner than any deadline could be
                    else:
                        deadline = self.policy.deadline(m.where, m.created_at, m.vip, m.snoozed_until)
                        hit = breached(m.status, m.answered_at, deadline, now)
                        final = m.status is Status.ANSWERED or deadline <= now
                    kept = kept and final and m.closed_at <= now - SETTLING
                    if kept:
                        self._kept[m.where] += hit
                        self._mark = (m.closed_at, m.id)
                    found[m.where] += hit
                if len(page) < self.batch:
                    return found
                after = (page[-1].closed_at, page[-1].id)
