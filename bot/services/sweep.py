"""Sweep: deliver what Slack should show — alerts for due, unanswered mentions (or one digest when many fall
due at once), edits of alerts whose mention was answered, closed or acted on, escalations and reminders in an
alert's thread, and notices about replywatch itself — exactly once each, and politely.

Exactly once: every message is a row before it is a Slack message (alerts and digests `sending` → `sent`;
notices, escalations and reminders `pending` → `sending` → `sent`), and carries a tag in its Slack metadata. When
the process stops, or a call fails in a way that leaves unknown whether Slack posted, the row stays `sending`;
the next sweep looks for the tagged message in the channel's history (or the thread) before posting again. Only
a clear "no" from Slack lets it be posted afresh.

Never too early: a mention is alerted only once a read of the replies that *started* at or after its due time
has completed without finding an answer (the poll records when each read started); escalations and reminders
likewise. A reply made just before the deadline is therefore always seen first.

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
from zoneinfo import ZoneInfo
from typing import TYPE_CHECKING

from bot import rules
from bot import schedule as sched
from bot.clock import Clock
from bot.errors import RateLimited, Rejected, ServiceError
from bot.model import Account, Alert, FollowUp, Mention, SlackMessage, Status
from bot.services.poll import MENTIONS, OWN_POSTS, TOKEN_REFUSED
from bot.slack.blocks import (
    alert_message,
    closed_message,
    digest_message,
    escape,
    follow_up_message,
    format_age,
    local_time,
    notice_message,
    slack_mention,
)

if TYPE_CHECKING:
    from bot.ports import SlackSink, XSource
    from bot.store.repository import Repository, Store

log = logging.getLogger(__name__)

POST_SPACING = timedelta(seconds=1)
FAILURE_PAUSE = timedelta(seconds=3)  # after a 5xx or a timeout, so an outage is not hammered every sweep
RATE_LIMIT_PAUSE = timedelta(seconds=30)  # a 429 without Retry-After
DUE_LIMIT = 1000  # due mentions read at a time: one digest holds them all
BROKEN_AFTER_INTERVALS = 3


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
        x: XSource | None = None,
    ) -> None:
        self.slack = slack
        self.store = store
        self.account = account
        self.clock = clock
        self.config = config
        self.channel = config.channel
        self.x = x
        self.pacer = Pacer()
        self._looked_up: set[int] = set()
        self._announced: str | None = None  # the last handoff queued (a notice key)
        self._groups: dict[str, str] = {}  # user group → the member it was last set to
        self._groups_retry_at: float | None = None  # monotonic

    def run_once(self) -> SweepResult:
        now, mono = self.clock.now(), self.clock.monotonic()
        result = SweepResult()
        self._queue_health_notices(now)
        self._queue_handoff(now)
        self._sync_usergroups(now, mono)
        self._queue_follow_ups(now, result)
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
            checked = self._replies_checked(repo)
            in_doubt = [_Outgoing(f"mention:{a.mention_id}", a.created_at) for a in repo.alerts_in_doubt()]
            in_doubt += [_Outgoing(f"digest:{d.id}", d.created_at) for d in repo.digests_in_doubt()]
            notices = repo.notices_unsent()
            due = []
            if checked is not None and self.pacer.ready(self.channel, mono):
                as_of = min(now, checked)
                vip_cutoff = as_of - min(cfg.alert_after_vip, cfg.alert_after)
                due = repo.due_without_alert(as_of - cfg.alert_after, checked, DUE_LIMIT, vip_cutoff)
                due = [m for m in due if cfg.due_at(m) <= as_of]
        for item in in_doubt:
            self._deliver(item, now, mono, result, in_doubt=True)
        for notice in notices:
            item = _Outgoing(f"notice:{notice.key}", notice.created_at, notice.thread_ts)
            self._deliver(item, now, mono, result, in_doubt=notice.state == "sending")
        due = self._drop_deleted(due, result)
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

    def _on_call(self, now: datetime, backup: bool = False) -> str | None:
        schedule = self.config.schedule
        rotation = (schedule.backup if backup else schedule.oncall) if schedule else None
        return sched.on_call(rotation, schedule.tz, now) if rotation else None

    def _replies_checked(self, repo: Repository) -> datetime | None:
        """When every timeline whose replies answer mentions was last read; None if one never was."""
        states = [repo.endpoint(self.account.username, e) for e in self.config.reply_endpoints]
        if any(s is None or s.last_success_at is None for s in states):
            return None
        return min(s.last_success_at for s in states)  # type: ignore[union-attr]

    # --- delivery -------------------------------------------------------------------------------------

    def _deliver(self, item: _Outgoing, now: datetime, mono: float, result: SweepResult, *, in_doubt: bool) -> None:
        """Post `item` once. If an earlier try may have reached Slack, look for it first."""
        if not self.pacer.ready(self.channel, mono):
            return
        if in_doubt:
            try:
                found = self.slack.find_tagged(self.channel, item.tag, item.since, item.thread_ts)
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
        except Rejected as exc:
            log.error("Slack refused %s: %s", item.tag, exc.message)
            self._mark(item, "retry", None, now)
            result.errors += 1
            return
        except ServiceError as exc:
            self._note_failure(exc, mono, result, f"{item.tag} not confirmed, will check before retrying")
            return
        finally:
            self.pacer.used(self.channel, mono, Slot.POST)
        self._mark(item, "sent", (channel, ts), self.clock.now())
        log.info("posted %s (%s)", item.tag, ts)
        counter = {"mention": "alerted", "digest": "digests"}.get(item.kind, "notices")
        setattr(result, counter, getattr(result, counter) + 1)

    def _message(self, item: _Outgoing, now: datetime) -> SlackMessage | None:
        with self.store.unit() as repo:
            if item.kind == "mention":
                mention = repo.mention(int(item.key))
                return self._alert_message(mention, now) if mention is not None else None
            if item.kind == "digest":
                found = repo.digest(int(item.key))
                return digest_message(found[1], now, on_call=self._on_call(now)) if found else None
            text = repo.notice_text(item.key)
            return notice_message(text) if text is not None else None

    def _alert_message(self, mention: Mention, now: datetime) -> SlackMessage:
        return alert_message(mention, now, buttons=self.config.buttons, tz=self.config.display_tz, on_call=self._on_call(now))

    def _mark(self, item: _Outgoing, state: str, posted: tuple[str, str] | None, now: datetime) -> None:
        """Record how posting went: sending (about to), sent (with the ts), retry (Slack surely did not post)."""
        with self.store.unit() as repo:
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
            stale = repo.alerts_to_refresh()
        if not stale:
            return
        stale.sort(key=lambda pair: pair[1].status is Status.OPEN)
        alert, mention = stale[0]
        if alert.digest_id is None:
            closed = mention.status is not Status.OPEN
            message = closed_message(mention, self.account.username) if closed else self._alert_message(mention, now)
            if self._edit(alert.channel, alert.ts, message, mono, result, f"the alert for mention {mention.id}"):
                with self.store.unit() as repo:
                    repo.alert_rendered(mention.id, alert.revision, closed, self.clock.now())
                log.info("alert for mention %d updated: %s", mention.id, mention.reason)
            return
        members = [(m.id, a.revision, m.status is not Status.OPEN) for a, m in stale if a.digest_id == alert.digest_id]
        with self.store.read() as repo:
            found = repo.digest(alert.digest_id)
        if found is None or found[0].ts is None:
            return
        digest, mentions = found
        message = digest_message(mentions, now, on_call=self._on_call(now))
        if self._edit(digest.channel, digest.ts, message, mono, result, f"digest {digest.id}"):
            with self.store.unit() as repo:
                for mention_id, revision, closed in members:
                    repo.alert_rendered(mention_id, revision, closed, self.clock.now())
            log.info("digest %d updated: %d mention(s) closed", digest.id, sum(c for _, _, c in members))

    def _edit(self, channel: str, ts: str | None, message: SlackMessage, mono: float, result: SweepResult, what: str) -> bool:
        try:
            self.slack.update(channel, ts or "", message)
        except ServiceError as exc:
            self._note_failure(exc, mono, result, f"could not update {what}")
            return False
        finally:
            self.pacer.used(self.channel, mono, Slot.EDIT)
        result.updated += 1
        return True

    # --- escalations and reminders ---------------------------------------------------------------------

    def _queue_follow_ups(self, now: datetime, result: SweepResult) -> None:
        """Queue the escalations and reminders that are due, one per thread. Before anyone is pinged, their
        mentions are looked up on X in one batch: a deleted one is closed (its alert then says so) instead."""
        with self.store.read() as repo:
            planned = self._plan_follow_ups(repo, now)
        if not planned:
            return
        looked_up = {m.id for _, m, _ in planned} - self._close_deleted([m for _, m, _ in planned], result)
        groups: dict[tuple[str, FollowUp, bool], list[Mention]] = {}
        with self.store.unit() as repo:
            for alert, mention, follow_up in self._plan_follow_ups(repo, now):  # again: a poll may have answered some
                if mention.id in looked_up:
                    first = follow_up.kind != "woke" and alert.escalated_at is None
                    groups.setdefault((alert.ts, follow_up, first), []).append(mention)
            for (thread_ts, follow_up, first), mentions in groups.items():
                key = f"{follow_up.kind}:{thread_ts}:{mentions[0].id}:{now.isoformat()}"
                repo.add_notice(key, follow_up_message(follow_up, mentions, now).text, now, thread_ts=thread_ts)
                repo.followed_up([m.id for m in mentions], now, first=first)
                log.info("%s queued for %d mention(s) in thread %s", follow_up.kind, len(mentions), thread_ts)

    def _plan_follow_ups(self, repo: Repository, now: datetime) -> list[tuple[Alert, Mention, FollowUp]]:
        """The escalations and reminders due, judged as of the last read of the replies, not as of now: a reply made
        before a follow-up was due but not read yet must not let it go out (as for alerts)."""
        cfg = self.config
        hours, tz = cfg.hours(), cfg.tz
        checked = self._replies_checked(repo)
        if checked is None or (hours is not None and not sched.is_open(hours, tz, now)):
            return []  # outside business hours nobody is pinged
        as_of = min(now, checked)
        backup, on_call = self._on_call(now, backup=True), self._on_call(now)
        escalate_to = (backup,) if backup else cfg.escalate_to
        remind_to = (on_call,) if on_call else None

        def later(start: datetime, duration: timedelta) -> datetime:
            return sched.due_at(start, duration, hours, tz)

        planned = []
        for alert, mention in repo.alerted_open():
            follow_up = rules.follow_up(
                mention, alert.escalated_at, alert.reminded_at, as_of, cfg.escalate_after, cfg.remind_every,
                escalate_to, remind_to, later,
            )
            if follow_up is not None and alert.ts is not None:
                planned.append((alert, mention, follow_up))
        return planned

    # --- on call ---------------------------------------------------------------------------------------

    def _queue_handoff(self, now: datetime) -> None:
        """Once per handoff, a message saying who is on call until when; a handoff missed while down is said once,
        not replayed. Outside business hours it waits for the opening (nobody is pinged at night)."""
        schedule = self.config.schedule
        rotation = schedule.oncall if schedule else None
        if rotation is None:
            return
        tz = schedule.tz
        since, holder = sched.last_handoff(rotation, tz, now), sched.on_call(rotation, tz, now)
        # Someone who has always held it (a rotation of one) is announced once, and again only if the file names another.
        key = f"handoff:{since.astimezone(UTC).isoformat()}" if since else f"handoff:always:{holder}"
        hours = schedule.hours
        if key == self._announced or (hours is not None and not sched.is_open(hours, tz, now)):
            return
        until = sched.next_handoff(rotation, tz, now)
        ahead = f"until {local_time(until, tz)}" if until else "with no handoff ahead"
        text = f":busts_in_silhouette: Handoff: {slack_mention(holder)} is on call {ahead}."
        if schedule.backup is not None:
            text += f" Backup: {slack_mention(sched.on_call(schedule.backup, tz, now))}."
        with self.store.unit() as repo:
            waiting = repo.open_mentions()
            if waiting:
                oldest = format_age(now - waiting[0][0].post.created_at)
                text += f" {len(waiting)} mention(s) open, the oldest waiting {oldest}."
            else:
                text += " No mention is waiting for a reply."
            if repo.add_notice(key, text, now):
                log.info("handoff: %s on call %s", holder, ahead)
        self._announced = key

    def _sync_usergroups(self, now: datetime, mono: float) -> None:
        """Keep each rotation's user group equal to who holds it (idempotent: redone once after a restart)."""
        schedule = self.config.schedule
        if schedule is None or (self._groups_retry_at is not None and mono < self._groups_retry_at):
            return
        for rotation in (schedule.oncall, schedule.backup):
            if rotation is None or rotation.usergroup is None:
                continue
            holder = sched.on_call(rotation, schedule.tz, now)
            if self._groups.get(rotation.usergroup) == holder:
                continue
            try:
                self.slack.set_usergroup(rotation.usergroup, [holder])
            except ServiceError as exc:
                log.warning("could not set user group %s to %s: %s", rotation.usergroup, holder, exc.message)
                self._groups_retry_at = mono + RATE_LIMIT_PAUSE.total_seconds()
                return
            self._groups[rotation.usergroup] = holder
            log.info("user group %s is now %s", rotation.usergroup, holder)

    # --- deleted posts --------------------------------------------------------------------------------

    def _drop_deleted(self, due: list[Mention], result: SweepResult) -> list[Mention]:
        """Look each due mention up once before its alert; deleted ones close instead."""
        fresh = [m for m in due if m.id not in self._looked_up]
        deleted = self._close_deleted(fresh, result)
        self._looked_up.update(m.id for m in fresh)
        return [m for m in due if m.id not in deleted]

    def _close_deleted(self, mentions: list[Mention], result: SweepResult) -> set[int]:
        """Look these mentions up on X in one batch (`GET /2/tweets`, one post read each) and close the deleted ones.
        Returns their ids. Nothing is looked up when look-ups are off (CHECK_DELETED) or X's mentions read is
        failing; a failed look-up lets the alert or ping go out all the same."""
        if self.x is None or not mentions or self._x_failing():
            return set()
        versions = {m.post.version_id or m.id: m.id for m in mentions}
        try:
            gone = self.x.deleted(list(versions))
        except ServiceError as exc:
            log.warning("could not look %d mention(s) up on X, going ahead: %s", len(versions), exc.message)
            return set()
        deleted = {versions[v] for v in gone}
        if deleted:
            with self.store.unit() as repo:
                for mention_id in deleted:
                    repo.mark_deleted(mention_id)
            log.info("%d mention(s) were deleted on X; closed, nobody is pinged about them", len(deleted))
            result.deleted += len(deleted)
        return deleted

    def _x_failing(self) -> bool:
        with self.store.unit() as repo:
            state = repo.endpoint(self.account.username, MENTIONS)
        return state is not None and state.last_error is not None

    # --- collection health ----------------------------------------------------------------------------

    def _queue_health_notices(self, now: datetime) -> None:
        """One notice when collection has failed for three intervals (or a token was refused), one on recovery."""
        with self.store.unit() as repo:
            states = repo.health(self.account.username)
            broken = [
                s for s in states
                if s.failing_since is not None
                and (now - s.failing_since > self.config.poll_interval * BROKEN_AFTER_INTERVALS or _auth_error(s.last_error))
            ]
            if broken:
                first = min(broken, key=lambda s: s.failing_since)
                since = first.failing_since
                repo.add_notice(
                    f"collection:{since.isoformat()}:broken",
                    f":warning: Mentions of @{self.account.username} are not being collected since "
                    f"{since:%Y-%m-%d %H:%M} UTC: {escape(first.last_error or 'unknown error')}",
                    now,
                )
                return
            last = repo.last_notice("collection:")
            if last is not None and last.endswith(":broken") and all(s.failing_since is None for s in states):
                since = last[len("collection:") : -len(":broken")]
                repo.add_notice(
                    f"collection:{since}:recovered",
                    f":white_check_mark: Mentions of @{self.account.username} are being collected again "
                    f"(not collected since {since[:16].replace('T', ' ')} UTC).",
                    now,
                )


def _auth_error(error: str | None) -> bool:
    return error is not None and error.startswith(TOKEN_REFUSED)

