"""Sweep: what Slack should show — alerts for due, unanswered mentions (or one digest when many fall due at
once), the notices other services queue (escalations and reminders in an alert's thread, handoffs, collection
health), and edits of alerts whose mention was answered, closed or acted on. How each message is delivered
(exactly once, one bad message never blocking the rest, one message a second) is bot.services.outbox.

Never too early: a mention is alerted only once a read of the replies that *started* at or after its due time
has completed without finding an answer (the poll records when each read started); escalations and reminders
likewise. A reply made just before the deadline is therefore always seen first.

Work in proportion to what is due, not to what is open: each open mention not yet alerted keeps its due time in
the store (a lower bound until the sweep has worked out the exact one, in business hours), and an alert that
shows less than it should keeps since when; a tick reads only those that have come, through their indexes.

Edits share the channel's pace with new posts and take turns with them. A refused edit waits on its own alert
row like a refused post (parked after MAX_REFUSALS), and one whose message someone deleted in Slack is noted
and never tried again: the other alerts are still edited.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from functools import partial
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from bot import schedule as sched
from bot.clock import Clock
from bot.errors import Rejected
from bot.model import AccountKey, Alert, Mention, SlackMessage, Status
from bot.services.deleted import DeletionCheck
from bot.services.outbox import MAX_REFUSALS, Outbox, Outgoing, SweepResult, next_try
from bot.services.poll import OWN_POSTS
from bot.slack.blocks import alert_message, closed_message, digest_message

if TYPE_CHECKING:
    from bot.ports import SlackSink
    from bot.store.repository import Store, SweepWork

log = logging.getLogger(__name__)

DUE_LIMIT = 1000  # due mentions read at a time: one digest holds them all
GONE = "message_not_found"  # an edit refused with this: someone deleted the alert message in Slack


@dataclass(frozen=True)
class AccountRules:
    """What may differ per watched account: where its alerts go, how long its mentions wait before one, and whose
    timelines' replies answer them."""

    channel: str
    alert_after: timedelta
    alert_after_vip: timedelta
    reply_endpoints: tuple[str, ...] = (OWN_POSTS,)


@dataclass(frozen=True)
class SweepConfig:
    """When and how the sweep alerts (from Settings; tests build it directly). `channel`, `alert_after`,
    `alert_after_vip` and `reply_endpoints` are the defaults; `accounts` says where an account differs."""

    channel: str
    alert_after: timedelta = timedelta(minutes=30)
    poll_interval: timedelta = timedelta(seconds=60)
    alert_after_vip: timedelta = timedelta(minutes=10)
    escalate_after: timedelta | None = timedelta(hours=2)
    escalate_to: tuple[str, ...] = ()
    remind_every: timedelta | None = timedelta(hours=2)
    max_reminders: int | None = 5
    expire_after: timedelta | None = timedelta(days=7)
    digest_threshold: int = 5
    reply_endpoints: tuple[str, ...] = (OWN_POSTS,)  # every timeline whose replies count as answers
    buttons: bool = False  # Socket Mode is on: alerts carry the action buttons
    display_tz: tzinfo = UTC  # times shown in Slack (TIMEZONE)
    schedule: sched.Schedule | None = None  # on-call rotation and business hours (REPLYWATCH_CONFIG)
    vip_ignores_hours: bool = False
    accounts: Mapping[AccountKey, AccountRules] = field(default_factory=dict)

    def rules(self, where: AccountKey) -> AccountRules:
        """The account's channel, waits and reply timelines."""
        found = self.accounts.get(where)
        return found or AccountRules(self.channel, self.alert_after, self.alert_after_vip, self.reply_endpoints)

    @property
    def channels(self) -> frozenset[str]:
        """Every channel alerts go to."""
        return frozenset({self.channel, *(r.channel for r in self.accounts.values())})

    @property
    def tz(self) -> ZoneInfo:
        """The time zone of the rotation and the hours (the on-call file's)."""
        return self.schedule.tz if self.schedule else ZoneInfo("UTC")

    def hours(self, mention: Mention | None = None) -> sched.Hours | None:
        """The business hours that apply (to this mention: a VIP may break through them)."""
        if mention is not None and mention.priority and self.vip_ignores_hours:
            return None
        return self.schedule.hours if self.schedule else None

    def due_at(self, mention: Mention) -> datetime:
        """When an open mention deserves an alert: ALERT_AFTER (ALERT_AFTER_VIP for a VIP), in open time."""
        rules = self.rules(mention.where)
        wait = min(rules.alert_after_vip, rules.alert_after) if mention.priority else rules.alert_after
        return sched.due_at(mention.post.created_at, wait, self.hours(mention), self.tz)

    def first_follow_up_at(self, mentions: Sequence[Mention]) -> datetime | None:
        """When the follow-ups of a new alert (or digest) of `mentions` may first be due: no sooner than
        ESCALATE_AFTER after the oldest was posted (business hours only put it later); the follow-up pass works
        out each exact time then. None (judged once sent) when nothing escalates."""
        if not mentions or self.escalate_after is None:
            return None
        return min(m.post.created_at for m in mentions) + self.escalate_after

    def on_call(self, now: datetime, backup: bool = False) -> str | None:
        """Who holds the on-call (or backup) rotation now, if there is one."""
        rotation = (self.schedule.backup if backup else self.schedule.oncall) if self.schedule else None
        return sched.on_call(rotation, self.schedule.tz, now) if rotation else None


class SweepService:
    def __init__(
        self,
        slack: SlackSink,
        store: Store,
        watched: Sequence[AccountKey],
        clock: Clock,
        config: SweepConfig,
        deletions: DeletionCheck | None = None,
    ) -> None:
        self.slack = slack
        self.store = store
        self.watched = tuple(watched)
        self.clock = clock
        self.config = config
        self.channel = config.channel  # notices about replywatch itself, and the on-call handoffs
        self.deletions = deletions
        self.outbox = Outbox(slack, store, clock, self._alert_message, self._digest_message)
        self.pacer = self.outbox.pacer
        self._looked_up: set[int] = set()  # due mentions already looked up on X: once each before its alert
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
            latest = max((c for c in checked.values() if c is not None), default=None)  # some account's may be due
            work = repo.sweep_work(now, min(now, latest) if latest else None, latest)
        if work.edits and self.pacer.edits_first(self.channel):
            self._refresh(now, mono, result)
        if work.posts:
            self._post(work, now, mono, result, checked)
        if work.edits:
            self._refresh(now, mono, result)
        result.idle = not (work.posts or work.edits)
        return result

    def _alert_message(self, mention: Mention, now: datetime) -> SlackMessage:
        cfg = self.config
        return alert_message(mention, now, buttons=cfg.buttons, tz=cfg.display_tz, on_call=cfg.on_call(now))

    def _digest_message(self, mentions: list[Mention], now: datetime) -> SlackMessage:
        return digest_message(mentions, now, on_call=self.config.on_call(now))

    def _post(
        self, work: SweepWork, now: datetime, mono: float, result: SweepResult, checked: Mapping[AccountKey, datetime | None]
    ) -> None:
        """Post what waits, one message a channel while its pace allows: messages in doubt, notices, then the
        alerts (or one digest a channel) that are due as of the last completed read of their account's replies.
        Only the kinds of `work` there are are read."""
        cfg = self.config
        alert, digest = (lambda a: Outgoing(f"mention:{a.mention_id}", a.channel, a.created_at, refusals=a.refusals),
                         lambda d: Outgoing(f"digest:{d.id}", d.channel, d.created_at, refusals=d.refusals))
        with self.store.read() as repo:
            in_doubt = [alert(a) for a in repo.alerts_in_doubt()] if work.alerts_in_doubt else []
            in_doubt += [digest(d) for d in repo.digests_in_doubt()] if work.digests_in_doubt else []
            retries = [alert(a) for a in repo.alerts_to_retry(now)] if work.alert_retries else []
            retries += [digest(d) for d in repo.digests_to_retry(now)] if work.digest_retries else []
            notices = repo.notices_unsent(now) if work.notices else []
            read_due = work.due and any(self.pacer.ready(cfg.rules(w).channel, mono) for w in checked)
            due = [
                m for w, c in checked.items() if read_due and c is not None and self.pacer.ready(cfg.rules(w).channel, mono)
                for m in repo.due_mentions(min(now, c), c, DUE_LIMIT, w)
            ]
        if due:
            due = self._exactly_due(due, {w: min(now, c) for w, c in checked.items() if c is not None})
        if read_due or not work.due:
            self._looked_up &= {m.id for m in due}  # forget those alerted or closed since
        for item in in_doubt:
            self.outbox.deliver(item, now, mono, result, in_doubt=True)
        for item in retries:
            self.outbox.deliver(item, now, mono, result, in_doubt=False)
        for notice in notices:
            thread = notice.thread_ts if notice.refusals == 0 else None  # refused in its thread: said at the top level
            item = Outgoing(f"notice:{notice.key}", notice.channel or self.channel, notice.created_at, thread, notice.refusals)
            self.outbox.deliver(item, now, mono, result, in_doubt=notice.state == "sending")
        fresh = [m for m in due if m.id not in self._looked_up]
        self._looked_up.update(m.id for m in fresh)
        deleted = self.deletions.close_deleted(fresh, now) if self.deletions else set()
        result.deleted += len(deleted)
        by_channel: dict[str, list[Mention]] = {}
        for m in due:
            if m.id not in deleted:
                by_channel.setdefault(cfg.rules(m.where).channel, []).append(m)
        for channel, waiting in by_channel.items():
            self._alert(channel, waiting, now, mono, result)

    def _alert(self, channel: str, due: list[Mention], now: datetime, mono: float, result: SweepResult) -> None:
        """Post the alerts of these due mentions into `channel`: one each, or one digest when many fell due at once."""
        cfg = self.config
        if len(due) > cfg.digest_threshold or self._overnight(due):
            with self.store.unit() as repo:
                started = repo.start_digest([m.id for m in due], channel, now)
            if started is not None:
                digest_id, claimed = started[0], set(started[1])
                members = tuple(sorted((m for m in due if m.id in claimed), key=lambda m: (m.post.created_at, m.id)))
                log.info("%d mentions fell due at once: one digest instead of an alert each", len(members))
                item = Outgoing(f"digest:{digest_id}", channel, now, members=members, follow_up_at=cfg.first_follow_up_at(members))
                self.outbox.deliver(item, now, mono, result, in_doubt=False)
            return
        for mention in due:
            if not self.pacer.ready(channel, mono):
                break
            with self.store.unit() as repo:
                if not repo.start_alert(mention.id, channel, now):
                    continue
            follow_up_at = cfg.first_follow_up_at([mention])
            item = Outgoing(f"mention:{mention.id}", channel, now, members=(mention,), follow_up_at=follow_up_at)
            self.outbox.deliver(item, now, mono, result, in_doubt=False)

    def _exactly_due(self, due: list[Mention], as_of: Mapping[AccountKey, datetime]) -> list[Mention]:
        """Of the mentions whose stored due time has come (as of their account's last read), those really due; the
        others keep their exact time."""
        later = [(m.id, at) for m in due if (at := self.config.due_at(m)) > as_of[m.where]]
        if later:
            with self.store.unit() as repo:
                repo.postpone(later)
        waiting = {mention_id for mention_id, _ in later}
        return [m for m in due if m.id not in waiting]

    def _overnight(self, due: list[Mention]) -> bool:
        """Several due mentions that came in while closed: they go out together, as the morning digest."""
        hours = self.config.hours()
        return hours is not None and sum(not sched.is_open(hours, self.config.tz, m.post.created_at) for m in due) >= 2

    # --- edits ----------------------------------------------------------------------------------------

    def _refresh(self, now: datetime, mono: float, result: SweepResult) -> None:
        """Edit one alert (or digest) whose mention closed or was acted on in Slack, if the channel's pace allows.
        Edits that remove work (answered, closed, deleted) go before edits that show an action."""
        with self.store.read() as repo:
            stale = repo.alerts_to_refresh(now, limit=1)
        if not stale or not self.pacer.ready(stale[0][0].channel, mono):
            return
        alert, mention = stale[0]
        if alert.digest_id is None:
            closed = mention.status is not Status.OPEN
            message = closed_message(mention) if closed else self._alert_message(mention, now)
            members = [(alert, closed)]
            if self._edit(alert.channel, alert.ts, message, members, now, mono, result, f"the alert for mention {mention.id}"):
                log.info("alert for mention %d updated: %s", mention.id, mention.reason)
            return
        with self.store.read() as repo:
            stale = repo.alerts_to_refresh(now, digest_id=alert.digest_id, limit=DUE_LIMIT)
            found = repo.digest(alert.digest_id)
        members = [(a, m.status is not Status.OPEN) for a, m in stale]
        if found is None or found[0].ts is None:
            return
        digest, mentions = found
        message = self._digest_message(mentions, now)
        if self._edit(digest.channel, digest.ts, message, members, now, mono, result, f"digest {digest.id}"):
            log.info("digest %d updated: %d mention(s) closed", digest.id, sum(c for _, c in members))

    def _edit(
        self, channel: str, ts: str | None, message: SlackMessage, members: list[tuple[Alert, bool]],
        now: datetime, mono: float, result: SweepResult, what: str,
    ) -> bool:
        """Edit one message standing for `members` (alert, closed?); record the outcome on their rows."""
        refused = partial(self._edit_refused, members, now=now, what=what)
        if not self.outbox.edit(channel, ts, message, now, mono, result, what, refused):
            return False
        with self.store.unit() as repo:
            for alert, closed in members:
                repo.alert_rendered(alert.mention_id, alert.revision, closed, self.clock.now())
        return True

    def _edit_refused(self, members: list[tuple[Alert, bool]], exc: Rejected, now: datetime, what: str) -> None:
        """An edit Slack refused: tried again later; parked after MAX_REFUSALS, at once if the message is gone
        (someone deleted it in Slack: there is nothing left to edit)."""
        gone = exc.message.endswith(GONE)
        with self.store.unit() as repo:
            for alert, _ in members:
                refusals = MAX_REFUSALS if gone else alert.refusals + 1
                why = "the alert message was deleted in Slack; it is no longer edited" if gone else (
                    f"Slack refused its edit {refusals} time(s): {exc.message}"
                )
                retry_at, parked = next_try(refusals, now, why)
                repo.refused("edit", str(alert.mention_id), refusals, retry_at, parked)
        log.warning("Slack refused to update %s (%s)%s", what, exc.message, "; not edited again" if gone else "")
