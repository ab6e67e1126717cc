"""Sweep: each tick, what Slack should show, in turn — the messages in doubt or refused before, the notes other
services queue (escalations and reminders in an alert's thread, handoffs, collection health), the alerts of the
mentions that fell due (bot.services.alerting), and the edits of alerts whose mention was answered, closed or
acted on (bot.services.edits). How each message is delivered (exactly once, one bad message never blocking the
rest, one message a second per channel) is bot.services.outbox. When and where each account's mentions are alerted
is the AlertPolicy (bot.rules).

Never too early: a mention is alerted only once a read of the replies that *started* at or after its due time
has completed without finding an answer (the poll records when each read started); escalations and reminders
likewise. A reply made just before the deadline is therefore always seen first. Never silent: when no such read
has completed `read_patience` after the due time (a poll interval plus a read's deadline: the network hangs or
fails), the mention is alerted all the same, and its alert says since when its replies could not be checked; a
reply read later edits it to answered, as always.

Work in proportion to what is due, not to what is open: each open mention not yet alerted keeps its due time in
the store (a lower bound until the sweep has worked out the exact one, in business hours), and an alert that
shows less than it should keeps since when; a tick reads only those that have come, through their indexes.

Edits share the channel's pace with new posts and take turns with them.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from bot.clock import Clock
from bot.model import AccountKey
from bot.rules import AlertPolicy
from bot.services.alerting import Alerting
from bot.services.deleted import DeletionCheck
from bot.services.edits import Edits
from bot.services.outbox import Kind, Outbox, Outgoing, SweepResult

if TYPE_CHECKING:
    from bot.ports import Sink
    from bot.store.repository import Store, SweepWork

log = logging.getLogger(__name__)

DUE_LIMIT = 1000  # due mentions read at a time: one digest holds them all
GONE = "message_not_found"  # an edit refused with this: someone deleted the alert message in Slack


class SweepService:
    def __init__(
        self,
        sink: Sink,
        store: Store,
        watched: Sequence[AccountKey],
        clock: Clock,
        config: AlertPolicy,
        deletions: DeletionCheck | None = None,
    ) -> None:
        self.sink = sink
        self.store = store
        self.watched = tuple(watched)
        self.clock = clock
        self.config = config
        self.channel = config.channel  # notices about replywatch itself, and the on-call handoffs
        self.deletions = deletions
        self.outbox = Outbox(sink, store, clock)
        self.pacer = self.outbox.pacer
        self.alerting = Alerting(store, self.outbox, deletions)
        self.edits = Edits(store, clock, self.outbox)
        self._rejudged = False  # the stored due times were worked out again since start (settings may differ)

    def run_once(self) -> SweepResult:
        now, mono = self.clock.now(), self.clock.monotonic()
        result = SweepResult()
        if not self._rejudged:
            with self.store.unit() as repo:
                repo.rejudge_due()
            self._rejudged = True
        with self.store.read() as repo:
            checked = {w: repo.replies_read_at(w, self.config.rules(w).reply_endpoints) for w in self.watched}
            as_of = {w: self.config.alert_as_of(c, now) for w, c in checked.items()}
            latest = max(as_of.values(), default=None)  # some account's may be due as of then
            work = repo.sweep_work(now, latest, latest)
        if work.edits and self.pacer.edits_first(self.channel):
            self.edits.run(now, mono, result)
        if work.posts:
            self._post(work, now, mono, result, as_of, checked)
        if work.edits:
            self.edits.run(now, mono, result)
        result.idle = not (work.posts or work.edits)
        return result

    def _post(
        self, work: SweepWork, now: datetime, mono: float, result: SweepResult, as_of: Mapping[AccountKey, datetime],
        checked: Mapping[AccountKey, datetime | None],
    ) -> None:
        """Post what waits, one message a channel while its pace allows: messages in doubt, notices, then the
        alerts (or one digest a channel) that are due as of `as_of` (the last completed read of their account's
        replies, or later when that read is overdue: AlertPolicy.alert_as_of). Only the kinds of `work` there are
        are read."""
        cfg = self.config
        alert, digest = (lambda a: Outgoing(Kind.ALERT, str(a.mention_id), a.channel, a.created_at, refusals=a.refusals),
                         lambda d: Outgoing(Kind.DIGEST, str(d.id), d.channel, d.created_at, refusals=d.refusals))
        with self.store.read() as repo:
            in_doubt = [alert(a) for a in repo.alerts_in_doubt()] if work.alerts_in_doubt else []
            in_doubt += [digest(d) for d in repo.digests_in_doubt()] if work.digests_in_doubt else []
            retries = [alert(a) for a in repo.alerts_to_retry(now)] if work.alert_retries else []
            retries += [digest(d) for d in repo.digests_to_retry(now)] if work.digest_retries else []
            notices = repo.notices_unsent(now) if work.notices else []
            due = [
                m for w, at in as_of.items() if work.due and self.pacer.ready(cfg.rules(w).channel, mono)
                for m in repo.due_mentions(at, at, DUE_LIMIT, w)
            ]
        for item in in_doubt:
            self.outbox.deliver(item, now, mono, result, in_doubt=True)
        for item in retries:
            self.outbox.deliver(item, now, mono, result, in_doubt=False)
        for notice in notices:
            thread = notice.thread_ts if notice.refusals == 0 else None  # refused in its thread: said at the top level
            item = Outgoing(Kind.NOTICE, notice.key, notice.channel or self.channel, notice.created_at, thread, notice.refusals)
            self.outbox.deliver(item, now, mono, result, in_doubt=notice.state == "sending")
        if due:
            self.alerting.run(due, as_of, checked, cfg, now, mono, result)
