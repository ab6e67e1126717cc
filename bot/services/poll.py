"""Poll: read what is new for one watched account, through its network's Source, and record it with the reply
status the rules give it.

The timelines (mentions, the account's own posts and each responder's) are read first and stored in one
transaction with their cursors, so that a mention and the reply that answers it are never seen apart (no alert
for a mention whose answer was simply not read yet), and a crash anywhere leaves the store as it was before the
poll: redoing it is harmless. Networks bill or limit per read, so nothing older than a stored cursor is ever
asked for again.

Each timeline keeps its own schedule (bot.backoff): rate limits, back-off after failures. When a network says more
mentions arrived than its timeline returns (`Timeline.gap`), a notice says what was recovered, or what may be
missing.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING

from bot import backoff, rules
from bot.clock import Clock
from bot.errors import AuthFailed, RateLimited, ServiceError
from bot.messages import BudgetNote, GapNote
from bot.model import Account, AccountKey, Post, Status, Timeline

if TYPE_CHECKING:
    from bot.ports import Source
    from bot.store.repository import Repository, Store

log = logging.getLogger(__name__)

MENTIONS, OWN_POSTS = "mentions", "own_posts"
FIRST_START_WINDOW = timedelta(hours=24)
TOKEN_REFUSED = "token refused"


def reply_endpoint(who: Account) -> str:
    """The cursor name for a responder's timeline (the account's own is OWN_POSTS)."""
    return f"{OWN_POSTS}:{who.username}"


@dataclass
class PollResult:
    new_mentions: int = 0
    new_replies: int = 0
    answered: int = 0
    errors: int = 0
    recovered: int = 0


@dataclass
class _Read:
    timeline: Timeline | None = None
    error: str | None = None
    next_attempt_at: datetime | None = None  # stored: a rate limit or back-off outlives a restart
    refused: bool = False  # the network refused the token
    paced_until: datetime | None = None  # the read budget's pace (this process only)
    skipped: bool = False


class PollService:
    def __init__(
        self,
        source: Source,
        store: Store,
        account: Account,
        clock: Clock,
        interval: timedelta = timedelta(seconds=60),
        rand: Callable[[], float] = random.random,
        signals: rules.Signals | None = None,
        responders: Sequence[Account] = (),
        where: AccountKey | None = None,
        channel: str | None = None,
        budget: int | None = None,
    ) -> None:
        self.source = source
        self.store = store
        self.account = account
        self.where = where or AccountKey(source.network, account.username.lower())
        self.channel = channel  # where the account's notes go (None: the default channel)
        self.budget = budget  # posts a month (X_MONTHLY_READ_BUDGET), or None
        self.clock = clock
        self.interval = interval
        self.rand = rand
        self.signals = signals or rules.Signals(account.id)
        self.answerers = {OWN_POSTS: account} | {reply_endpoint(r): r for r in responders}
        self._not_before: dict[str, float] = {}  # endpoint → monotonic time before which it is not read again

    def run_once(self) -> PollResult:
        now, mono = self.clock.now(), self.clock.monotonic()
        with self.store.read() as repo:
            known = {h.endpoint: h for h in repo.health(self.where)}
        state = {e: known.get(e) for e in (MENTIONS, *self.answerers)}
        timelines = {MENTIONS: self.source.mentions} | {
            e: partial(self.source.posts, who) for e, who in self.answerers.items()
        }
        reads = {
            endpoint: _Read(skipped=True)
            if self._waiting(endpoint, state[endpoint], now, mono)
            else self._read(endpoint, read, state[endpoint], now)
            for endpoint, read in timelines.items()
        }
        mentions = reads[MENTIONS].timeline
        result = PollResult(errors=sum(r.error is not None for r in reads.values()))
        mention_posts = mentions.posts if mentions else []
        replies = [
            p if p.author_handle else replace(p, author_handle=who.username)
            for e, who in self.answerers.items() if reads[e].timeline for p in reads[e].timeline.posts if p.replied_to_id is not None
        ]
        own = reads[OWN_POSTS].timeline
        originals = [p for p in own.posts if p.replied_to_id is None and "retweeted" not in p.reference_types] if own else []
        with self.store.unit() as repo:
            judged = [(p, rules.classify(p, self.signals)) for p in mention_posts]
            stored = set(repo.add_mentions(self.where, judged, now))
            result.new_mentions = len(stored)
            repo.add_replies(self.where, replies)
            result.new_replies = len(replies)
            repo.add_originals(self.where, originals)
            self._count_reads(repo, reads, now)
            for endpoint, read in reads.items():
                if not read.skipped:
                    cursor, held = (read.timeline.cursor, read.timeline.filtered) if read.timeline else (None, 0)
                    repo.record_poll(self.where, endpoint, now, cursor, read.error, read.next_attempt_at, held, read.refused)
            if mentions is not None and mentions.gap is not None:
                result.recovered = mentions.gap.recovered
                gap, where = mentions.gap, self.where
                note = GapNote(where.network.value, where.handle, gap.cap, gap.start, gap.end, gap.recovered, gap.missing)
                repo.add_notice(f"gap:{where.network}:{where.handle}:{gap.end.isoformat()}", note, now, channel=self.channel)
            fresh = [(p, p.id in stored and v.status is Status.OPEN) for p, v in judged]
            result.answered = self._resolve(repo, fresh, replies, now)
        for endpoint, read in reads.items():
            if read.next_attempt_at is not None:
                next_at = max(read.next_attempt_at, read.paced_until or read.next_attempt_at)
                self._not_before[endpoint] = mono + backoff.wait_before_next(now, next_at, self.interval).total_seconds()
        if result.new_mentions or result.answered:
            log.info("poll %s: %d new mention(s), %d newly answered", self.where, result.new_mentions, result.answered)
        return result

    def _count_reads(self, repo: Repository, reads: dict[str, _Read], now: datetime) -> None:
        """Store what this poll read. Over the month's budget, push the next mentions read out to the budget's pace
        (the account's own posts, which answer the mentions already stored, are never held back); at 80 % and at
        100 % the channel is told, once a month each. The pace is kept in memory only: a budget removed or raised
        takes effect at the next start."""
        taken = self.source.reads()
        repo.add_reads(self.where, taken, now.date())
        if self.budget is None:
            return
        start, _ = backoff.month_of(now)
        spent = sum(r.posts for _, r in repo.reads(start.date(), where=self.where))
        later = backoff.after_budget(now, self.interval, sum(r.posts for r in taken), spent, self.budget)
        for level in (80, 100):
            if spent >= self.budget * level / 100:
                where, month = self.where, f"{start:%Y-%m}"
                pace = backoff.budget_pace(self.budget, now)
                note = BudgetNote(where.network.value, where.handle, month, level, spent, self.budget, pace)
                if repo.add_notice(f"budget:{where.network}:{where.handle}:{month}:{level}", note, now, channel=self.channel):
                    log.warning("%s has read %d posts this month, %d %% of its budget of %d", where, spent, level, self.budget)
        read = reads[MENTIONS]
        if later is not None and not read.skipped and read.next_attempt_at is not None:
            read.paced_until = later

    def _waiting(self, endpoint: str, state, now: datetime, mono: float) -> bool:  # noqa: ANN001
        """Whether the endpoint's next read is not due yet: by the monotonic clock, or, for the first read after a
        start, by the time stored after a failure (a rate limit or back-off outlives a restart; after a success, the
        next read is simply due, whatever an older replywatch's budget pacing stored)."""
        if endpoint in self._not_before:
            return mono < self._not_before[endpoint]
        return state is not None and state.last_error is not None and state.next_attempt_at is not None and now < state.next_attempt_at

    def _read(self, endpoint: str, read: Callable[[str | None, datetime], Timeline], state, now: datetime) -> _Read:  # noqa: ANN001
        cursor = state.cursor if state else None
        failures = (state.failures if state else 0) + 1
        try:
            timeline = read(cursor, now - FIRST_START_WINDOW)
        except RateLimited as exc:
            until = backoff.after_rate_limit(now, self.interval, exc.until)
            far = backoff.far_reset(now, exc.until)
            error = f"{exc.message}; " + ("cap spent, " if far else "") + f"next try after {until:%Y-%m-%d %H:%M:%S} UTC"
            self._log_failure(self.where, endpoint, state, error, far)
            return _Read(error=error, next_attempt_at=until)
        except ServiceError as exc:
            refused = isinstance(exc, AuthFailed)
            error = f"{TOKEN_REFUSED}: {exc.message}" if refused else exc.message
            self._log_failure(self.where, endpoint, state, error, refused)
            return _Read(error=error, next_attempt_at=backoff.after_failure(now, self.interval, failures, self.rand), refused=refused)
        if state is not None and state.last_error:
            log.info("poll %s %s works again", self.where, endpoint)
        return _Read(timeline=timeline, next_attempt_at=backoff.after_success(now, self.interval, timeline.rate))

    @staticmethod
    def _log_failure(where: AccountKey, endpoint: str, state, error: str, loud: bool = False) -> None:  # noqa: ANN001
        """Log transitions, not ticks: the first failure, or a different one."""
        if state is None or state.last_error is None or state.last_error.split(";")[0] != error.split(";")[0]:
            (log.error if loud else log.warning)("poll %s %s failed: %s", where, endpoint, error)

    def _resolve(self, repo: Repository, mentions: list[tuple[Post, bool]], replies: list[Post], now: datetime) -> int:
        """Apply the reply rules where the new posts could change something: the new open mentions (`mentions`:
        each post with whether it is newly stored and open) against the replies to them, and the new replies
        against the open mentions they could answer. Replies are matched through two look-up tables (by the post
        they reply to, and by conversation and the author they reply to), never each against each."""
        targets = {r.replied_to_id for r in replies if r.replied_to_id is not None}
        targets |= {i for post, fresh in mentions if not fresh for i in post.ids}  # read again: perhaps edited
        threads = {(r.conversation_id, r.in_reply_to_user_id) for r in replies if r.conversation_id and r.in_reply_to_user_id}
        candidates = {p.id: p for p in repo.open_posts(self.where, targets, threads)}
        candidates.update((post.id, post) for post, fresh in mentions if fresh)
        if not candidates:
            return 0
        found = {r.id: r for r in repo.replies_to(
            self.where, self.account.id,
            {p.id for p in candidates.values()} | {p.version_id for p in candidates.values() if p.version_id},
            {(p.conversation_id, p.author_id) for p in candidates.values() if p.conversation_id and p.author_id},
        )}
        found.update((r.id, r) for r in replies)
        by_target: dict[str, list[Post]] = {}
        by_thread: dict[tuple[str | None, str | None], list[Post]] = {}
        for reply in found.values():
            by_target.setdefault(reply.replied_to_id or "", []).append(reply)
            by_thread.setdefault((reply.conversation_id, reply.in_reply_to_user_id), []).append(reply)
        answered = []
        for mention in candidates.values():
            near = [r for i in mention.ids for r in by_target.get(i, ())] + by_thread.get((mention.conversation_id, mention.author_id), [])
            reply = rules.first_answer(mention, near, self.signals.answerers)
            if reply is not None:
                answered.append((mention.id, reply))
        repo.mark_answered(self.where, answered, now)
        return len(answered)
