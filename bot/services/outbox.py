"""Delivery to the alert channels: each message exactly once, and politely.

Exactly once: every message is a row before it is a Slack message (alerts and digests `sending` → `sent`;
notices, escalations and reminders `pending` → `sending` → `sent`), and carries a tag in its Slack metadata. When
the process stops, or a call fails in a way that leaves unknown whether Slack posted (a timeout, a dropped
connection, an answer that cannot be read), the row stays `sending`; the next sweep looks for the tagged message
in the channel's history (or the thread) before posting again. Only a clear "no" from Slack lets it be posted
afresh.

One bad message never blocks the rest: a message Slack refuses (too long, blocks it rejects, a thread that is
gone) is tried again on its own schedule, with back-off recorded on its row, in its fallback form (plain text
without blocks; a top-level post instead of a reply in a thread), and after MAX_REFUSALS it is parked: one
notice says what and why, and `status` lists it. A channel that cannot take messages at all (archived, not
found, the bot removed, the token revoked) is left alone, with back-off, until it works again; `status` and
`health` report it.

Politely: at most one message per second per channel, new posts and edits alike, and nothing at all to a channel
before its Retry-After has passed. When both wait, they take turns, so an "answered" edit never starves behind a
stream of new alerts. Pacing (bot.services.pacing) runs on the monotonic clock. Nothing here sleeps: what cannot go
now goes later.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

from bot.clock import Clock
from bot.errors import AuthFailed, ChannelUnavailable, RateLimited, Rejected, ServiceError
from bot.messages import AlertCard, Card, DigestCard, FollowUpNote, NoteCard, ParkedNote, ReportNote, named
from bot.model import Mention
from bot.services.pacing import Pacer, Slot

if TYPE_CHECKING:
    from bot.ports import Sink
    from bot.store.repository import Repository, Store

log = logging.getLogger(__name__)

FAILURE_PAUSE = timedelta(seconds=3)  # after a 5xx or a timeout, so an outage is not hammered every sweep
RATE_LIMIT_PAUSE = timedelta(seconds=30)  # a 429 without Retry-After
MAX_REFUSALS = 3  # a message Slack refuses this many times in a row is parked
REFUSAL_BACKOFF = timedelta(seconds=10)  # then 20 s, 40 s …
CHANNEL_BACKOFF, CHANNEL_MAX_BACKOFF = timedelta(seconds=5), timedelta(minutes=15)
MAX_UPLOADS, UPLOAD_BACKOFF = 3, timedelta(seconds=10)  # a chart's uploads tried (10 s, then 20 s apart) before it is left out


@dataclass
class SweepResult:
    alerted: int = 0
    digests: int = 0
    updated: int = 0
    notices: int = 0
    errors: int = 0
    idle: bool = False  # nothing waited: no message to post or edit


class Kind(StrEnum):
    """What an outgoing message is; with its key, its tag in Slack's metadata ("mention:41")."""

    ALERT = "mention"
    DIGEST = "digest"
    NOTICE = "notice"


@dataclass(frozen=True)
class Outgoing:
    """A message to post once into `channel`: the alert of mention `key`, digest `key` or notice `key`; `since` when
    it was first tried."""

    kind: Kind
    key: str
    channel: str
    since: datetime
    thread_ts: str | None = None
    refusals: int = 0  # Slack's clear "no"s so far: from the first on, the fallback form is posted
    members: tuple[Mention, ...] = ()  # a new alert's or digest's mentions, as just read: not read again to render it
    follow_up_at: datetime | None = None  # when its follow-ups may first be due, if known (else judged once sent)
    unchecked_since: datetime | None = None  # a new alert's or digest's: replies could not be read since then
    due: datetime | None = None  # a new alert's, posted as a warning: its due time (WARN_BEFORE)

    @property
    def tag(self) -> str:
        return f"{self.kind}:{self.key}"


@dataclass(frozen=True)
class _Rows:
    """How one kind of message is kept in the store while it is delivered: its name there, its row marked as about
    to be posted, as posted (channel and ts), or as surely not posted (it goes again), and its card read back from it."""

    name: str
    sending: Callable[[Repository, Outgoing], None]
    sent: Callable[[Repository, Outgoing, tuple[str, str], datetime], None]
    undone: Callable[[Repository, Outgoing], None]
    card: Callable[[Repository, Outgoing, datetime], Card | None]


def _resending(name: str) -> Callable[[Repository, Outgoing], None]:
    """An alert's or digest's row is `sending` from the start; after a refusal, it is put back to `sending`."""
    def mark(repo: Repository, item: Outgoing) -> None:
        if item.refusals:
            repo.sending(name, int(item.key))
    return mark


def _alert(repo: Repository, item: Outgoing, now: datetime) -> Card | None:
    mention, alert = repo.mention(int(item.key)), repo.alert(int(item.key))
    due = alert.overdue_at if alert is not None else None
    return AlertCard(mention, now, plain=item.refusals > 0, due=due) if mention is not None else None


def _digest(repo: Repository, item: Outgoing, now: datetime) -> Card | None:
    found = repo.digest(int(item.key))
    return DigestCard(tuple(found[1]), now, plain=item.refusals > 0) if found else None


def _notice(repo: Repository, item: Outgoing, now: datetime) -> Card | None:
    """A note, with the mentions it names; none if it is a follow-up whose mentions are all gone."""
    note = repo.notice_note(item.key)
    if note is None:
        return None
    mentions = tuple(repo.mentions(named(note)))
    return None if isinstance(note, FollowUpNote) and not mentions else NoteCard(note, now, mentions)


ROWS = {
    Kind.ALERT: _Rows(
        "alert", _resending("alert"), lambda repo, item, posted, now: repo.alert_sent(int(item.key), *posted, now, item.follow_up_at),
        lambda repo, item: repo.drop_alert(int(item.key)), _alert,
    ),
    Kind.DIGEST: _Rows(
        "digest", _resending("digest"), lambda repo, item, posted, now: repo.digest_sent(int(item.key), *posted, now, item.follow_up_at),
        lambda repo, item: repo.drop_digest(int(item.key)), _digest,
    ),
    Kind.NOTICE: _Rows(
        "notice", lambda repo, item: repo.notice_state(item.key, "sending"),
        lambda repo, item, posted, now: repo.notice_state(item.key, "sent", *posted, now),
        lambda repo, item: repo.notice_state(item.key, "pending"), _notice,
    ),
}


class Outbox:
    """Delivers each card into its channel through `sink`."""

    def __init__(self, sink: Sink, store: Store, clock: Clock) -> None:
        self.sink = sink
        self.store = store
        self.clock = clock
        self.pacer = Pacer()
        self._channel_failures: dict[str, int] = {}  # channel-level failures in a row; missing: not known since start
        self._uploads: dict[str, tuple[int, float]] = {}  # a report's failed chart uploads: how many, and not before when

    def deliver(self, item: Outgoing, now: datetime, mono: float, result: SweepResult, *, in_doubt: bool) -> None:
        """Post `item` once. If an earlier try may have reached Slack, look for it first."""
        channel = item.channel
        if not self.pacer.ready(channel, mono):
            return
        if in_doubt:
            try:
                found = self.sink.find(channel, item.tag, item.since, item.thread_ts)
            except (ChannelUnavailable, AuthFailed) as exc:
                self.channel_failed(channel, exc, now, mono, result)
                return
            except Rejected as exc:
                log.warning("cannot search Slack for %s (%s); posting it", item.tag, exc.message)
                found = None
            except ServiceError as exc:
                self.note_failure(channel, exc, mono, result, f"cannot check Slack for {item.tag} yet")
                return
            if found is not None:
                self._record(ROWS[item.kind].sent, item, found, now)
                log.info("%s was already in Slack (%s); adopted it", item.tag, found[1])
                return
        if item.kind is Kind.NOTICE and not self._attach(item, now, mono, result):
            return
        card = self._card(item, now)
        if card is None:
            return
        self._record(ROWS[item.kind].sending, item)
        try:
            posted = self.sink.deliver(channel, card, item.tag, item.thread_ts)
        except (ChannelUnavailable, AuthFailed) as exc:
            self._record(ROWS[item.kind].undone, item)  # not the message's fault: it goes once the channel works
            self.channel_failed(channel, exc, now, mono, result)
            return
        except Rejected as exc:
            self._refused(item, exc, now)
            result.errors += 1
            return
        except ServiceError as exc:
            self.note_failure(channel, exc, mono, result, f"{item.tag} not confirmed, will check before retrying")
            return
        finally:
            self.pacer.used(channel, mono, Slot.POST)
        self._record(ROWS[item.kind].sent, item, posted, self.clock.now())
        self.channel_works(channel)
        ts = posted[1]
        log.info("posted %s (%s)", item.tag, ts)
        counter = {Kind.ALERT: "alerted", Kind.DIGEST: "digests"}.get(item.kind, "notices")
        setattr(result, counter, getattr(result, counter) + 1)

    def _attach(self, item: Outgoing, now: datetime, mono: float, result: SweepResult) -> bool:
        """Upload a report's chart before the report is posted, and keep the file's id in its note: a restart then
        posts it with the chart already uploaded (a restart during the upload uploads again a file nobody sees yet;
        the message is still posted once). False: not now. A failed upload holds only its report, never the channel:
        it is tried again after UPLOAD_BACKOFF, then twice as long; a chart Slack refuses, or one that failed
        MAX_UPLOADS times, is left out, never the report."""
        with self.store.read() as repo:
            note = repo.notice_note(item.key)
        if not isinstance(note, ReportNote) or note.chart is not None:
            return True
        failures, not_before = self._uploads.get(item.key, (0, mono))
        if mono < not_before:
            return False
        try:
            file_id = self.sink.attach_chart(note)
        except Rejected as exc:
            log.warning("Slack refused the chart of %s (%s); the report goes without it", item.tag, exc.message)
            file_id = ""
        except ServiceError as exc:  # the upload's trouble, not the channel's: only the report waits, with back-off
            result.errors += 1
            failures += 1
            if failures < MAX_UPLOADS:
                wait = UPLOAD_BACKOFF * 2 ** (failures - 1)
                self._uploads[item.key] = (failures, mono + wait.total_seconds())
                log.warning("could not upload the chart of %s (%s); trying again in %s", item.tag, exc.message, wait)
                return False
            log.error("could not upload the chart of %s %d times (%s); the report goes without it", item.tag, failures, exc.message)
            file_id = ""
        self._uploads.pop(item.key, None)
        with self.store.unit() as repo:
            repo.set_note(item.key, replace(note, chart=file_id))
        return True

    def edit(
        self, channel: str, ts: str | None, card: Card, now: datetime, mono: float, result: SweepResult, what: str,
        refused: Callable[[Rejected], None],
    ) -> bool:
        """Show `card` in place of a posted message, taking an edit's slot of the channel's pace; a clear "no" goes to
        `refused`."""
        try:
            self.sink.edit(channel, ts or "", card)
        except (ChannelUnavailable, AuthFailed) as exc:
            self.channel_failed(channel, exc, now, mono, result)
            return False
        except Rejected as exc:
            refused(exc)
            result.errors += 1
            return False
        except ServiceError as exc:
            self.note_failure(channel, exc, mono, result, f"could not update {what}")
            return False
        finally:
            self.pacer.used(channel, mono, Slot.EDIT)
        self.channel_works(channel)
        result.updated += 1
        return True

    def _card(self, item: Outgoing, now: datetime) -> Card | None:
        """What to deliver for `item`; once the sink has refused it, an alert or digest goes in its plain form (a note
        has no other form)."""
        if item.members:  # a new alert or digest: its mentions were just read
            plain, unread = item.refusals > 0, item.unchecked_since
            if item.kind is Kind.ALERT:
                return AlertCard(item.members[0], now, unread, plain, item.due)
            return DigestCard(item.members, now, unread, plain)
        with self.store.read() as repo:
            return ROWS[item.kind].card(repo, item, now)

    def _refused(self, item: Outgoing, exc: Rejected, now: datetime) -> None:
        """Slack said no to this message: try again later on its own (its fallback form), or park it for good."""
        refusals = item.refusals + 1
        retry_at, parked = next_try(refusals, now, f"Slack refused it {refusals} time(s): {exc.message}")
        kind = ROWS[item.kind].name
        with self.store.unit() as repo:
            repo.refused(kind, item.key, refusals, retry_at, parked)
            if parked and kind != "notice":
                note = ParkedNote(MAX_REFUSALS, exc.message, int(item.key) if kind == "alert" else None)
                repo.add_notice(f"parked:{item.tag}", note, now)
        if parked:
            log.error("Slack refused %s %d times (%s); parked: `replywatch status` lists it", item.tag, refusals, exc.message)
        else:
            log.warning("Slack refused %s (%s); trying again at %s", item.tag, exc.message, f"{retry_at:%H:%M:%S}")

    def channel_failed(self, channel: str, exc: ServiceError, now: datetime, mono: float, result: SweepResult) -> None:
        """The channel cannot take messages: post nothing else into it, with back-off, until it works again."""
        result.errors += 1
        failures = self._channel_failures[channel] = self._channel_failures.get(channel, 0) + 1
        wait = min(CHANNEL_MAX_BACKOFF, CHANNEL_BACKOFF * 2 ** min(failures - 1, 20))
        self.pacer.hold(channel, mono + wait.total_seconds())
        with self.store.unit() as repo:
            first = repo.channel_failed(channel, exc.message, now)
        if first:
            log.error("Slack channel %s cannot take messages: %s; retrying with back-off", channel, exc.message)

    def channel_works(self, channel: str) -> None:
        """A message went through: the channel works (said once, also after a restart that found it failing)."""
        if self._channel_failures.get(channel) == 0:
            return
        with self.store.unit() as repo:
            was_failing = repo.channel_works(channel)
        if was_failing:
            log.info("Slack channel %s takes messages again", channel)
        self._channel_failures[channel] = 0

    def _record(self, mark: Callable[..., None], item: Outgoing, *args: object) -> None:
        """Mark `item`'s row (one of its kind's ROWS marks) in a transaction of its own."""
        with self.store.unit() as repo:
            mark(repo, item, *args)

    def note_failure(self, channel: str, exc: ServiceError, mono: float, result: SweepResult, what: str) -> None:
        """Slack said wait (Retry-After), or failed: leave the channel alone for a while either way."""
        result.errors += 1
        wait = (exc.retry_after or RATE_LIMIT_PAUSE) if isinstance(exc, RateLimited) else FAILURE_PAUSE
        self.pacer.hold(channel, mono + wait.total_seconds())
        log.warning("%s: %s", what, exc.message)


def next_try(refusals: int, now: datetime, why: str) -> tuple[datetime | None, str | None]:
    """After `refusals` in a row: when to try again (10 s, 20 s …), or, from MAX_REFUSALS on, why not any more."""
    if refusals >= MAX_REFUSALS:
        return None, why
    return now + REFUSAL_BACKOFF * 2 ** (refusals - 1), None
