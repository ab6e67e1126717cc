"""Sweep: deliver what Slack should show — alerts for due, unanswered mentions (or one digest when many fall
due at once), edits of alerts whose mention was answered, closed or acted on, and the notices other services
queue (escalations and reminders in an alert's thread, handoffs, collection health) — exactly once each, and
politely.

Exactly once: every message is a row before it is a Slack message (alerts and digests `sending` → `sent`;
notices, escalations and reminders `pending` → `sending` → `sent`), and carries a tag in its Slack metadata. When
the process stops, or a call fails in a way that leaves unknown whether Slack posted, the row stays `sending`;
the next sweep looks for the tagged message in the channel's history (or the thread) before posting again. Only
a clear "no" from Slack lets it be posted afresh.

Never too early: a mention is alerted only once a read of the replies that *started* at or after its due time
has completed without finding an answer (the poll records when each read started); escalations and reminders
likewise. A reply made just before the deadline is therefore always seen first.

One bad message never blocks the rest: a message Slack refuses (too long, blocks it rejects, a thread that is
gone, an alert message deleted by someone) is tried again on its own schedule, with back-off recorded on its
row, in its fallback form (plain text without blocks; a top-level post instead of a reply in a thread), and after
MAX_REFUSALS it is parked: one notice says what and why, and `status` lists it. A channel that cannot take
messages at all (archived, not found, the bot removed, the token revoked) is left alone, with back-off, until it
works again; `status` and `health` report it.

Politely: at most one message per second per channel, new posts and edits alike, and nothing at all to a channel
before its Retry-After has passed. When both wait, they take turns, so an "answered" edit never starves behind a
stream of new alerts. Pacing runs on the monotonic clock. Nothing here sleeps: what cannot go now goes on a later
sweep.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from enum import StrEnum
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from bot import schedule as sched
from bot.clock import Clock
from bot.errors import AuthFailed, ChannelUnavailable, RateLimited, Rejected, ServiceError
from bot.model import Account, Alert, Mention, SlackMessage, Status
from bot.services.deleted import DeletionCheck
from bot.services.poll import OWN_POSTS
from bot.slack.blocks import alert_message, closed_message, digest_message, escape, notice_message, post_url

if TYPE_CHECKING:
    from bot.ports import SlackSink
    from bot.store.repository import Repository, Store

log = logging.getLogger(__name__)

POST_SPACING = timedelta(seconds=1)
FAILURE_PAUSE = timedelta(seconds=3)  # after a 5xx or a timeout, so an outage is not hammered every sweep
RATE_LIMIT_PAUSE = timedelta(seconds=30)  # a 429 without Retry-After
DUE_LIMIT = 1000  # due mentions read at a time: one digest holds them all
MAX_REFUSALS = 3  # a message Slack refuses this many times in a row is parked
REFUSAL_BACKOFF = timedelta(seconds=10)  # then 20 s, 40 s …
CHANNEL_BACKOFF, CHANNEL_MAX_BACKOFF = timedelta(seconds=5), timedelta(minutes=15)
GONE = "message_not_found"  # an edit refused with this: someone deleted the alert message in Slack


@dataclass(frozen=True)
class SweepConfig:
    """When and how the sweep alerts (from Settings; tests build it directly)."""

    channel: str
    alert_after: timedelta = timedelta(minutes=30)
    poll_interval: timedelta = timedelta(seconds=60)
    alert_after_vip: timedelta = timedelta(minutes=10)
    escalate_after: timedelta | None = timedelta(hours=2)
    escalate_to: tuple[str, ...] = ()
    remind_every: timedelta | None = timedelta(hours=2)
    digest_threshold: int = 5
    reply_endpoints: tuple[str, ...] = (OWN_POSTS,)  # every timeline whose replies count as answers
    buttons: bool = False  # Socket Mode is on: alerts carry the action buttons
    display_tz: tzinfo = UTC  # times shown in Slack (TIMEZONE)
    schedule: sched.Schedule | None = None  # on-call rotation and business hours (REPLYWATCH_CONFIG)
    vip_ignores_hours: bool = False

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
        wait = min(self.alert_after_vip, self.alert_after) if mention.priority else self.alert_after
        return sched.due_at(mention.post.created_at, wait, self.hours(mention), self.tz)

    def on_call(self, now: datetime, backup: bool = False) -> str | None:
        """Who holds the on-call (or backup) rotation now, if there is one."""
        rotation = (self.schedule.backup if backup else self.schedule.oncall) if self.schedule else None
        return sched.on_call(rotation, self.schedule.tz, now) if rotation else None


@dataclass
class SweepResult:
    alerted: int = 0
    digests: int = 0
    updated: int = 0
    notices: int = 0
    deleted: int = 0
    errors: int = 0


@dataclass(frozen=True)
class _Outgoing:
    """A message to post once: `tag` is kind:key (mention, digest or notice), `since` when it was first tried."""

    tag: str
    since: datetime
    thread_ts: str | None = None
    refusals: int = 0  # Slack's clear "no"s so far: from the first on, the fallback form is posted

    @property
    def kind(self) -> str:
        return self.tag.split(":", 1)[0]

    @property
    def key(self) -> str:
        return self.tag.split(":", 1)[1]


class Slot(StrEnum):
    POST = "post"
    EDIT = "edit"


@dataclass
class Pacer:
    """Per channel, on the monotonic clock: when the next message may go (one a second, posts and edits alike),
    any Retry-After hold, and what took the last slot, so that posts and edits take turns when both wait."""

    spacing: float = POST_SPACING.total_seconds()
    not_before: dict[str, float] = field(default_factory=dict)
    last: dict[str, Slot] = field(default_factory=dict)

    def ready(self, channel: str, mono: float) -> bool:
        return mono >= self.not_before.get(channel, mono)

    def used(self, channel: str, mono: float, slot: Slot) -> None:
        self.not_before[channel] = max(self.not_before.get(channel, mono), mono + self.spacing)
        self.last[channel] = slot

    def hold(self, channel: str, until: float) -> None:
        self.not_before[channel] = max(self.not_before.get(channel, until), until)

    def edits_first(self, channel: str) -> bool:
        return self.last.get(channel) is Slot.POST


class SweepService:
    def __init__(
        self,
        slack: SlackSink,
        store: Store,
        account: Account,
        clock: Clock,
        config: SweepConfig,
        deletions: DeletionCheck | None = None,
    ) -> None:
        self.slack = slack
        self.store = store
        self.account = account
        self.clock = clock
        self.config = config
        self.channel = config.channel
        self.deletions = deletions
        self.pacer = Pacer()
        self._looked_up: set[int] = set()  # due mentions already looked up on X: once each before its alert
        self._channel_failures: int | None = None  # channel-level failures in a row; None: not known since start

    def run_once(self) -> SweepResult:
        now, mono = self.clock.now(), self.clock.monotonic()
        result = SweepResult()
        if self.pacer.edits_first(self.channel):
            self._refresh(now, mono, result)
        self._post(now, mono, result)
        self._refresh(now, mono, result)
        return result

    def _post(self, now: datetime, mono: float, result: SweepResult) -> None:
        """Post what waits, one message while the channel's pace allows: messages in doubt, notices, then the
        alerts (or one digest) that are due as of the last completed read of the replies."""
        cfg = self.config
        with self.store.read() as repo:
            checked = repo.replies_read_at(self.account.username, cfg.reply_endpoints)
            in_doubt = [_Outgoing(f"mention:{a.mention_id}", a.created_at, refusals=a.refusals) for a in repo.alerts_in_doubt()]
            in_doubt += [_Outgoing(f"digest:{d.id}", d.created_at, refusals=d.refusals) for d in repo.digests_in_doubt()]
            retries = [_Outgoing(f"mention:{a.mention_id}", a.created_at, refusals=a.refusals) for a in repo.alerts_to_retry(now)]
            retries += [_Outgoing(f"digest:{d.id}", d.created_at, refusals=d.refusals) for d in repo.digests_to_retry(now)]
            notices = repo.notices_unsent(now)
            due = []
            if checked is not None and self.pacer.ready(self.channel, mono):
                as_of = min(now, checked)
                vip_cutoff = as_of - min(cfg.alert_after_vip, cfg.alert_after)
                due = repo.due_without_alert(as_of - cfg.alert_after, checked, DUE_LIMIT, vip_cutoff)
                due = [m for m in due if cfg.due_at(m) <= as_of]
        for item in in_doubt:
            self._deliver(item, now, mono, result, in_doubt=True)
        for item in retries:
            self._deliver(item, now, mono, result, in_doubt=False)
        for notice in notices:
            thread = notice.thread_ts if notice.refusals == 0 else None  # refused in its thread: said at the top level
            item = _Outgoing(f"notice:{notice.key}", notice.created_at, thread, notice.refusals)
            self._deliver(item, now, mono, result, in_doubt=notice.state == "sending")
        fresh = [m for m in due if m.id not in self._looked_up]
        self._looked_up.update(m.id for m in fresh)
        deleted = self.deletions.close_deleted(fresh) if self.deletions else set()
        result.deleted += len(deleted)
        due = [m for m in due if m.id not in deleted]
        if len(due) > cfg.digest_threshold or self._overnight(due):
            with self.store.unit() as repo:
                digest_id = repo.start_digest([m.id for m in due], self.channel, now)
            if digest_id is not None:
                log.info("%d mentions fell due at once: one digest instead of an alert each", len(due))
                self._deliver(_Outgoing(f"digest:{digest_id}", now), now, mono, result, in_doubt=False)
            due = []
        for mention in due:
            if not self.pacer.ready(self.channel, mono):
                break
            with self.store.unit() as repo:
                if not repo.start_alert(mention.id, self.channel, now):
                    continue
            self._deliver(_Outgoing(f"mention:{mention.id}", now), now, mono, result, in_doubt=False)

    def _overnight(self, due: list[Mention]) -> bool:
        """Several due mentions that came in while closed: they go out together, as the morning digest."""
        hours = self.config.hours()
        return hours is not None and sum(not sched.is_open(hours, self.config.tz, m.post.created_at) for m in due) >= 2

    # --- delivery -------------------------------------------------------------------------------------

    def _deliver(self, item: _Outgoing, now: datetime, mono: float, result: SweepResult, *, in_doubt: bool) -> None:
        """Post `item` once. If an earlier try may have reached Slack, look for it first."""
        if not self.pacer.ready(self.channel, mono):
            return
        if in_doubt:
            try:
                found = self.slack.find_tagged(self.channel, item.tag, item.since, item.thread_ts)
            except (ChannelUnavailable, AuthFailed) as exc:
                self._channel_failed(exc, now, mono, result)
                return
            except Rejected as exc:
                log.warning("cannot search Slack for %s (%s); posting it", item.tag, exc.message)
                found = None
            except ServiceError as exc:
                self._note_failure(exc, mono, result, f"cannot check Slack for {item.tag} yet")
                return
            if found is not None:
                self._mark(item, "sent", found, now)
                log.info("%s was already in Slack (%s); adopted it", item.tag, found[1])
                return
        message = self._message(item, now)
        if message is None:
            return
        self._mark(item, "sending", None, now)
        try:
            channel, ts = self.slack.post(self.channel, message, item.tag, item.thread_ts)
        except (ChannelUnavailable, AuthFailed) as exc:
            self._mark(item, "retry", None, now)  # not the message's fault: it goes once the channel works
            self._channel_failed(exc, now, mono, result)
            return
        except Rejected as exc:
            self._refused(item, exc, now)
            result.errors += 1
            return
        except ServiceError as exc:
            self._note_failure(exc, mono, result, f"{item.tag} not confirmed, will check before retrying")
            return
        finally:
            self.pacer.used(self.channel, mono, Slot.POST)
        self._mark(item, "sent", (channel, ts), self.clock.now())
        self._channel_works()
        log.info("posted %s (%s)", item.tag, ts)
        counter = {"mention": "alerted", "digest": "digests"}.get(item.kind, "notices")
        setattr(result, counter, getattr(result, counter) + 1)

    def _message(self, item: _Outgoing, now: datetime) -> SlackMessage | None:
        """What to post for `item`; once Slack has refused it, an alert or digest goes as plain text, no blocks."""
        with self.store.read() as repo:
            if item.kind == "mention":
                mention = repo.mention(int(item.key))
                message = self._alert_message(mention, now) if mention is not None else None
            elif item.kind == "digest":
                found = repo.digest(int(item.key))
                message = digest_message(found[1], now, on_call=self.config.on_call(now)) if found else None
            else:
                text = repo.notice_text(item.key)
                return notice_message(text) if text is not None else None
        return SlackMessage(message.text, []) if message is not None and item.refusals else message

    def _refused(self, item: _Outgoing, exc: Rejected, now: datetime) -> None:
        """Slack said no to this message: try again later on its own (its fallback form), or park it for good."""
        refusals = item.refusals + 1
        retry_at, parked = _next_try(refusals, now, f"Slack refused it {refusals} time(s): {exc.message}")
        kind = "alert" if item.kind == "mention" else item.kind
        with self.store.unit() as repo:
            repo.refused(kind, item.key, refusals, retry_at, parked)
            if parked and kind != "notice":
                repo.add_notice(f"parked:{item.tag}", self._parked_text(repo, item, exc.message), now)
        if parked:
            log.error("Slack refused %s %d times (%s); parked: `replywatch status` lists it", item.tag, refusals, exc.message)
        else:
            log.warning("Slack refused %s (%s); trying again at %s", item.tag, exc.message, f"{retry_at:%H:%M:%S}")

    @staticmethod
    def _parked_text(repo: Repository, item: _Outgoing, why: str) -> str:
        what = "a digest of mentions"
        if item.kind == "mention" and (mention := repo.mention(int(item.key))) is not None:
            what = f"the mention by @{escape(mention.post.author_handle)} ({post_url(mention.post.author_handle, mention.id)})"
        return (
            f":warning: Slack refused the alert for {what} {MAX_REFUSALS} times ({escape(why)}). It is parked, not "
            "retried: `replywatch status` lists it."
        )

    def _channel_failed(self, exc: ServiceError, now: datetime, mono: float, result: SweepResult) -> None:
        """The channel cannot take messages: post nothing else into it, with back-off, until it works again."""
        result.errors += 1
        self._channel_failures = (self._channel_failures or 0) + 1
        wait = min(CHANNEL_MAX_BACKOFF, CHANNEL_BACKOFF * 2 ** min(self._channel_failures - 1, 20))
        self.pacer.hold(self.channel, mono + wait.total_seconds())
        with self.store.unit() as repo:
            first = repo.channel_failed(self.channel, exc.message, now)
        if first:
            log.error("Slack channel %s cannot take messages: %s; retrying with back-off", self.channel, exc.message)

    def _channel_works(self) -> None:
        """A message went through: the channel works (said once, also after a restart that found it failing)."""
        if self._channel_failures == 0:
            return
        with self.store.unit() as repo:
            was_failing = repo.channel_works(self.channel)
        if was_failing:
            log.info("Slack channel %s takes messages again", self.channel)
        self._channel_failures = 0

    def _alert_message(self, mention: Mention, now: datetime) -> SlackMessage:
        return alert_message(mention, now, buttons=self.config.buttons, tz=self.config.display_tz, on_call=self.config.on_call(now))

    def _mark(self, item: _Outgoing, state: str, posted: tuple[str, str] | None, now: datetime) -> None:
        """Record how posting went: sending (about to), sent (with the ts), retry (Slack surely did not post)."""
        with self.store.unit() as repo:
            if state == "sending" and item.refusals and item.kind != "notice":
                repo.sending("alert" if item.kind == "mention" else item.kind, int(item.key))
            if item.kind == "mention":
                if state == "sent" and posted is not None:
                    repo.alert_sent(int(item.key), posted[0], posted[1], now)
                elif state == "retry":
                    repo.drop_alert(int(item.key))
            elif item.kind == "digest":
                if state == "sent" and posted is not None:
                    repo.digest_sent(int(item.key), posted[0], posted[1], now)
                elif state == "retry":
                    repo.drop_digest(int(item.key))
            elif state == "sent" and posted is not None:
                repo.notice_state(item.key, "sent", posted[0], posted[1], now)
            else:
                repo.notice_state(item.key, "pending" if state == "retry" else state)

    def _note_failure(self, exc: ServiceError, mono: float, result: SweepResult, what: str) -> None:
        """Slack said wait (Retry-After), or failed: leave the channel alone for a while either way."""
        result.errors += 1
        wait = (exc.retry_after or RATE_LIMIT_PAUSE) if isinstance(exc, RateLimited) else FAILURE_PAUSE
        self.pacer.hold(self.channel, mono + wait.total_seconds())
        log.warning("%s: %s", what, exc.message)

    # --- edits ----------------------------------------------------------------------------------------

    def _refresh(self, now: datetime, mono: float, result: SweepResult) -> None:
        """Edit one alert (or digest) whose mention closed or was acted on in Slack, if the channel's pace allows.
        Edits that remove work (answered, closed, deleted) go before edits that show an action."""
        if not self.pacer.ready(self.channel, mono):
            return
        with self.store.read() as repo:
            stale = repo.alerts_to_refresh(now)
        if not stale:
            return
        stale.sort(key=lambda pair: pair[1].status is Status.OPEN)
        alert, mention = stale[0]
        if alert.digest_id is None:
            closed = mention.status is not Status.OPEN
            message = closed_message(mention, self.account.username) if closed else self._alert_message(mention, now)
            members = [(alert, closed)]
            if self._edit(alert.channel, alert.ts, message, members, now, mono, result, f"the alert for mention {mention.id}"):
                log.info("alert for mention %d updated: %s", mention.id, mention.reason)
            return
        members = [(a, m.status is not Status.OPEN) for a, m in stale if a.digest_id == alert.digest_id]
        with self.store.read() as repo:
            found = repo.digest(alert.digest_id)
        if found is None or found[0].ts is None:
            return
        digest, mentions = found
        message = digest_message(mentions, now, on_call=self.config.on_call(now))
        if self._edit(digest.channel, digest.ts, message, members, now, mono, result, f"digest {digest.id}"):
            log.info("digest %d updated: %d mention(s) closed", digest.id, sum(c for _, c in members))

    def _edit(
        self, channel: str, ts: str | None, message: SlackMessage, members: list[tuple[Alert, bool]],
        now: datetime, mono: float, result: SweepResult, what: str,
    ) -> bool:
        """Edit one message standing for `members` (alert, closed?); record the outcome on their rows."""
        try:
            self.slack.update(channel, ts or "", message)
        except (ChannelUnavailable, AuthFailed) as exc:
            self._channel_failed(exc, now, mono, result)
            return False
        except Rejected as exc:
            self._edit_refused(members, exc, now, what)
            result.errors += 1
            return False
        except ServiceError as exc:
            self._note_failure(exc, mono, result, f"could not update {what}")
            return False
        finally:
            self.pacer.used(self.channel, mono, Slot.EDIT)
        with self.store.unit() as repo:
            for alert, closed in members:
                repo.alert_rendered(alert.mention_id, alert.revision, closed, self.clock.now())
        self._channel_works()
        result.updated += 1
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
                retry_at, parked = _next_try(refusals, now, why)
                repo.refused("edit", str(alert.mention_id), refusals, retry_at, parked)
        log.warning("Slack refused to update %s (%s)%s", what, exc.message, "; not edited again" if gone else "")


def _next_try(refusals: int, now: datetime, why: str) -> tuple[datetime | None, str | None]:
    """After `refusals` in a row: when to try again (10 s, 20 s …), or, from MAX_REFUSALS on, why not any more."""
    if refusals >= MAX_REFUSALS:
        return None, why
    return now + REFUSAL_BACKOFF * 2 ** (refusals - 1), None
