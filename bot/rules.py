"""The reply and signal rules: pure functions of posts, settings and `now`, no I/O.

- A mention is **answered** when the account (or one of its responders) posts a reply whose `replied_to` is the
  mention, whatever the two posts' times say, or a reply in the same conversation to the same author made no
  earlier than the mention: answering someone's latest post in a thread answers their earlier mentions in that
  thread too, but a reply made before a mention existed was to something else. X stamps whole seconds, so a reply
  in the mention's own second counts: within it, only the reference is known.
- A mention is **ignored** (recorded with the reason, never alerted) when it is the account's own post or a
  responder's, a repost, by a muted author, matches an ignored keyword, or is an implicit mention: one that names
  the account only where the network wrote the handle itself (X puts the handles of everyone in a thread in front
  of a reply; its adapter says which posts those are) is not talking to the account.
- Everything else is **open** until answered, and **due** for an alert once `alert_after` has passed since it
  was posted on its network (`alert_after_vip` for a VIP: a listed author or one with enough followers), counted
  in business hours when there are some, unless a VIP may break through them (`due_at`; the arithmetic of open
  time is `bot.calendar.schedule.due_at`). The AlertPolicy holds the waits, per account where they differ.
- With a **warning** (`warn_before`), a mention's alert goes out that long before its due time, counted in the same
  open time (so never outside business hours), quietly; at the due time one **overdue** nudge in its thread pings
  whoever holds it, or whoever is on call (`alert_at`, `follow_up`). A digest is never a warning.
- A mention's **deadline** is its due time, moved to the end of a snooze when it was snoozed past it. A **breach**
  is a mention needing a reply (answered, open or expired) not answered by its deadline: answered after it, or
  still unanswered once it has passed. "No reply needed" closes a mention with no breach. This one definition is
  what the report, the Slack report and /metrics count (`breached`).
- An alerted mention still open `escalate_after` after it was posted gets one **escalation** in the alert's
  thread, naming `escalate_to`; then a **reminder** every `remind_every`, `max_reminders` at most. A claimed
  mention reminds only its claimer (its escalation becomes a reminder to them); a snoozed one nothing until it
  wakes, and then once. `next_follow_up_at` says when `follow_up` will next say something, so the store can
  find what is due without asking every open mention every tick.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta, tzinfo

from bot.calendar import schedule as sched
from bot.model import AccountKey, FollowUp, Mention, Post, Status, Verdict


@dataclass(frozen=True)
class Signals:
    """What decides whether a mention deserves a human: the account, its responders, and the noise settings."""

    account_id: str
    responder_ids: frozenset[str] = frozenset()
    ignore_implicit: bool = True
    muted: frozenset[str] = frozenset()  # lower-cased handles
    keywords: tuple[tuple[str, re.Pattern[str]], ...] = ()  # (as written in IGNORE_KEYWORDS, compiled)
    vip_handles: frozenset[str] = frozenset()  # lower-cased handles
    vip_min_followers: int | None = None

    @property
    def answerers(self) -> frozenset[str]:
        return frozenset({self.account_id}) | self.responder_ids


def keyword_pattern(word: str) -> re.Pattern[str]:
    """`/regex/` as a regular expression, anything else as plain text; both case-insensitive."""
    if len(word) > 2 and word.startswith("/") and word.endswith("/"):
        return re.compile(word[1:-1], re.IGNORECASE)
    return re.compile(re.escape(word), re.IGNORECASE)


def classify(post: Post, signals: Signals) -> Verdict:
    """Decide whether a newly read mention waits for an answer, or why it never will."""
    if post.author_id == signals.account_id:
        return Verdict(Status.IGNORED, "own post")
    if post.author_id in signals.responder_ids:
        return Verdict(Status.IGNORED, f"posted by responder @{post.author_handle}")
    if "retweeted" in post.reference_types:
        return Verdict(Status.IGNORED, "retweet")
    if post.author_handle.lower() in signals.muted:
        return Verdict(Status.IGNORED, f"muted author @{post.author_handle}")
    matched = next((word for word, pattern in signals.keywords if pattern.search(post.text)), None)
    if matched is not None:
        return Verdict(Status.IGNORED, f"ignored keyword {matched}")
    if signals.ignore_implicit and post.implicit:
        return Verdict(Status.IGNORED, "implicit mention: only in the reply chain")
    return Verdict(Status.OPEN, "waiting for a reply", vip_reason(post, signals))


def vip_reason(post: Post, signals: Signals) -> str | None:
    """Why this author's mentions are alerted sooner, or None."""
    if post.author_handle and post.author_handle.lower() in signals.vip_handles:
        return "VIP: listed in VIP_AUTHORS"
    if signals.vip_min_followers is not None and (post.author_followers or 0) >= signals.vip_min_followers:
        return f"VIP: {_count(post.author_followers or 0)} followers"
    return None


def _count(n: int) -> str:
    if n >= 1_000_000:
        return f"{n / 1_000_000:.1f}M".replace(".0M", "M")
    if n >= 10_000:
        return f"{n // 1000}k"
    return f"{n:,}"


def answers(reply: Post, mention: Post, answerers: Collection[str]) -> bool:
    """Whether `reply`, by the account or a responder (`answerers`), answers `mention`."""
    if reply.author_id not in answerers or reply.replied_to_id is None:
        return False
    if reply.replied_to_id in mention.ids:
        return True
    return (
        mention.conversation_id is not None
        and reply.conversation_id == mention.conversation_id
        and mention.author_id is not None
        and reply.in_reply_to_user_id == mention.author_id
        and reply.created_at >= mention.created_at  # same second: X cannot say which came first
    )


def first_answer(mention: Post, replies: Iterable[Post], answerers: Collection[str]) -> Post | None:
    """The earliest reply that answers the mention, if any."""
    found = [r for r in replies if answers(r, mention, answerers)]
    return min(found, key=lambda r: (r.created_at, r.id)) if found else None


def follow_up(
    mention: Mention,
    escalated_at: datetime | None,
    reminded_at: datetime | None,
    now: datetime,
    escalate_after: timedelta | None,
    remind_every: timedelta | None,
    escalate_to: tuple[str, ...],
    remind_to: tuple[str, ...] | None = None,
    later: Callable[[datetime, timedelta], datetime] = operator.add,
    reminders: int = 0,
    max_reminders: int | None = None,
    overdue_at: datetime | None = None,
    on_call: str | None = None,
) -> FollowUp | None:
    """Whether an alerted mention needs a nudge in its thread now, and whom it pings (Slack user/group IDs, here,
    channel). Reminders go to the claimer, else `remind_to` (default: `escalate_to`), until `reminders` (sent so
    far) reaches `max_reminders`. `later(start, duration)` is when a duration after `start` ends: plain
    addition, or counted in business hours. A warning (`overdue_at`: its due time) is first made overdue: the nudge
    pings whoever holds it, else `on_call`, as an alert would."""
    at = next_follow_up_at(
        mention, escalated_at, reminded_at, escalate_after, remind_every, later, reminders, max_reminders, overdue_at
    )
    if at is None or now < at:
        return None
    holder = (mention.claimed_by,) if mention.claimed_by else ()
    if overdue_at is not None:
        return FollowUp("overdue", holder or ((on_call,) if on_call else ()))
    if _waking(mention, reminded_at):
        return FollowUp("woke", holder or ((mention.snoozed_by,) if mention.snoozed_by else ()))
    if escalated_at is None:
        return FollowUp("reminder", holder) if holder else FollowUp("escalation", escalate_to)
    return FollowUp("reminder", holder or (escalate_to if remind_to is None else remind_to))


def next_follow_up_at(
    mention: Mention,
    escalated_at: datetime | None,
    reminded_at: datetime | None,
    escalate_after: timedelta | None,
    remind_every: timedelta | None,
    later: Callable[[datetime, timedelta], datetime] = operator.add,
    reminders: int = 0,
    max_reminders: int | None = None,
    overdue_at: datetime | None = None,
) -> datetime | None:
    """When `follow_up` will next nudge this alert (None: never, as things stand)."""
    if mention.status is not Status.OPEN:
        return None
    snoozed = mention.snoozed_until
    if overdue_at is not None:  # a warning: first, its due time (a snooze moves it)
        return max(overdue_at, snoozed) if snoozed is not None else overdue_at
    if _waking(mention, reminded_at):
        return snoozed
    if escalated_at is None:
        due = later(mention.post.created_at, escalate_after) if escalate_after is not None else None
    elif remind_every and (max_reminders is None or reminders < max_reminders):
        due = later(max(escalated_at, reminded_at or escalated_at), remind_every)
    else:
        due = None
    return max(due, snoozed) if due is not None and snoozed is not None else due


def _waking(mention: Mention, reminded_at: datetime | None) -> bool:
    """A snooze that has not yet ended with its one nudge."""
    snoozed = mention.snoozed_until
    return snoozed is not None and (reminded_at is None or reminded_at < snoozed)


SNOOZE_CHOICES = ("1h", "4h", "tomorrow")


def snooze_until(choice: str, now: datetime, tz: tzinfo) -> datetime | None:
    """When a snooze chosen now ends: in 1 or 4 hours, or tomorrow at 09:00 local time. None for an unknown choice."""
    if choice == "1h":
        return now + timedelta(hours=1)
    if choice == "4h":
        return now + timedelta(hours=4)
    if choice == "tomorrow":
        tomorrow = now.astimezone(tz).date() + timedelta(days=1)
        return datetime.combine(tomorrow, time(9, 0), tzinfo=tz).astimezone(UTC)
    return None


@dataclass(frozen=True)
class AccountRules:
    """What may differ per watched account: where its alerts go, how long its mentions wait before one, and whose
    timelines' replies answer them."""

    channel: str
    alert_after: timedelta
    alert_after_vip: timedelta
    reply_endpoints: tuple[str, ...]  # every timeline whose replies count as answers
    warn_before: timedelta | None = None  # its alerts go out quietly this long before the due time (WARN_BEFORE)


@dataclass(frozen=True)
class AlertPolicy:
    """What decides when and where a mention is alerted, escalated, reminded of and expired: only that (how it looks
    is the renderer's). Built from the settings alone (bot.app.configure.alert_policy), so it has no defaults of its own.
    `channel`, `alert_after`, `alert_after_vip` and `reply_endpoints` are the defaults; `accounts` says where an
    account differs."""

    channel: str
    alert_after: timedelta
    alert_after_vip: timedelta
    escalate_after: timedelta | None
    escalate_to: tuple[str, ...]
    remind_every: timedelta | None
    max_reminders: int | None
    expire_after: timedelta | None
    claim_expires: timedelta | None  # a claim not answered within this goes back to the queue (CLAIM_EXPIRES)
    warn_before: timedelta | None  # alerts go out quietly this long before the due time (WARN_BEFORE)
    digest_threshold: int
    reply_endpoints: tuple[str, ...]  # every timeline whose replies count as answers
    schedule: sched.Schedule | None  # on-call rotation and business hours (REPLYWATCH_CONFIG)
    tz: tzinfo  # the one time zone of everything local (Config.tz, bot.config.load): the hours', the rotations', snoozes'
    vip_ignores_hours: bool
    # How long past its due time a mention waits for a read of its account's replies that started after it: a poll
    # interval plus a read's deadline. Past that, the network is not answering, and it is alerted all the same.
    read_patience: timedelta
    accounts: Mapping[AccountKey, AccountRules] = field(default_factory=dict)

    def rules(self, where: AccountKey) -> AccountRules:
        """The account's channel, waits and reply timelines."""
        found = self.accounts.get(where)
        return found or AccountRules(self.channel, self.alert_after, self.alert_after_vip, self.reply_endpoints, self.warn_before)

    @property
    def channels(self) -> frozenset[str]:
        """Every channel alerts go to."""
        return frozenset({self.channel, *(r.channel for r in self.accounts.values())})

    def hours(self, vip: bool = False) -> sched.Hours | None:
        """The business hours that apply (to a VIP's mention, none when it may break through them)."""
        if vip and self.vip_ignores_hours:
            return None
        return self.schedule.hours if self.schedule else None

    def alert_as_of(self, checked: datetime | None, now: datetime) -> datetime:
        """The moment an account's mentions are alerted as of: the start of the last completed read of its replies
        (`checked`; a reply made before it has been seen), but never more than `read_patience` before `now`: a network
        that cannot be read does not keep its due mentions silent (their alert says since when replies went unread)."""
        floor = now - self.read_patience
        return floor if checked is None else min(now, max(checked, floor))

    def due_at(self, mention: Mention) -> datetime:
        """When an open mention deserves an alert: the due rule of this module's docstring."""
        return self.due(mention.where, mention.post.created_at, mention.priority is not None)

    def wait(self, where: AccountKey, vip: bool) -> timedelta:
        """How long a mention of `where` (a VIP's, with `vip`) may wait: its account's ALERT_AFTER, or ALERT_AFTER_VIP
        for a VIP, whichever is shorter. Business hours only ever put its due time later than this after its post."""
        rules = self.rules(where)
        return min(rules.alert_after_vip, rules.alert_after) if vip else rules.alert_after

    def due(self, where: AccountKey, posted: datetime, vip: bool, early: timedelta = timedelta(0)) -> datetime:
        """When a mention of `where` posted at `posted` (a VIP's, with `vip`) is due (`early` before it): its `wait`,
        counted in open time under the business hours that apply to it."""
        return sched.due_at(posted, max(timedelta(0), self.wait(where, vip) - early), self.hours(vip), self.tz)

    def alert_at(self, mention: Mention) -> datetime:
        """When an open mention's alert goes out: at its due time, or its account's `warn_before` earlier in open time
        (a warning, quiet until the due time)."""
        warn = self.rules(mention.where).warn_before
        return self.due(mention.where, mention.post.created_at, mention.priority is not None, warn or timedelta(0))

    def deadline(self, where: AccountKey, posted: datetime, vip: bool, snoozed_until: datetime | None = None) -> datetime:
        """By when a mention must be answered: its due time, or the end of its snooze when that is later."""
        due = self.due(where, posted, vip)
        return max(due, snoozed_until) if snoozed_until is not None else due

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


BREACHABLE = frozenset({Status.ANSWERED, Status.OPEN, Status.EXPIRED})  # what needs a reply, as it stands


def breached(status: Status, answered_at: datetime | None, deadline: datetime, now: datetime) -> bool:
    """The one definition of a breach (this module's docstring): a mention needing a reply not answered by its
    `deadline`, as it stands at `now`."""
    if status is Status.ANSWERED:
        return answered_at is not None and answered_at > deadline
    return status in BREACHABLE and deadline <= now
