"""Poll: read what is new on X and record it, with the reply status the rules give it.

Both timelines are read first and stored in one transaction with their cursors, so that a mention and the
reply that answers it are never seen apart (no alert for a mention whose answer was simply not read yet), and a
crash anywhere leaves the store as it was before the poll: redoing it is harmless. X bills per post returned,
so nothing older than a stored cursor is ever asked for again.

Each timeline keeps its own schedule (bot.policy): rate limits, back-off after failures. The mentions endpoint
returns only the 800 newest mentions; when a read hits that cap, the gap behind it is read from recent search
(7 days) and a notice says what was recovered, or what may be missing.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from bot import policy, rules
from bot.clock import Clock
from bot.errors import AuthFailed, RateLimited, ServiceError
from bot.model import Account, Post, Status, Timeline

if TYPE_CHECKING:
    from bot.ports import XSource
    from bot.store.repository import Repository, Store

log = logging.getLogger(__name__)

MENTIONS, OWN_POSTS = "mentions", "own_posts"
FIRST_START_WINDOW = timedelta(hours=24)
MENTIONS_CAP = 800
TOKEN_REFUSED = "token refused"
SEARCH_REACH = timedelta(days=7) - timedelta(minutes=5)
TWITTER_EPOCH_MS = 1288834974657


def reply_endpoint(who: Account) -> str:
    """The cursor name for a responder's timeline (the account's own is OWN_POSTS)."""
    return f"{OWN_POSTS}:{who.username}"


def snowflake_time(post_id: int) -> datetime:
    """When an X id was made (ids are time-ordered snowflakes)."""
    return datetime.fromtimestamp(((post_id >> 22) + TWITTER_EPOCH_MS) / 1000, UTC)


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
    next_attempt_at: datetime | None = None
    skipped: bool = False


class PollService:
    def __init__(
        self,
        x: XSource,
        store: Store,
        account: Account,
        clock: Clock,
        interval: timedelta = timedelta(seconds=60),
        rand: Callable[[], float] = random.random,
        signals: rules.Signals | None = None,
        responders: Sequence[Account] = (),
    ) -> None:
        self.x = x
        self.store = store
        self.account = account
        self.clock = clock
        self.interval = interval
        self.rand = rand
        self.signals = signals or rules.Signals(account.id, account.username)
        self.answerers = {OWN_POSTS: account} | {reply_endpoint(r): r for r in responders}
        self._not_before: dict[str, float] = {}  # endpoint → monotonic time before which it is not read again

    def run_once(self) -> PollResult:
        now, mono = self.clock.now(), self.clock.monotonic()
        user = self.account.username
        with self.store.read() as repo:
            known = {h.endpoint: h for h in repo.health(user)}
        state = {e: known.get(e) for e in (MENTIONS, *self.answerers)}
        timelines = {MENTIONS: (self.x.mentions, self.account)} | {e: (self.x.own_posts, w) for e, w in self.answerers.items()}
        reads = {
            endpoint: _Read(skipped=True)
            if self._waiting(endpoint, state[endpoint], now, mono)
            else self._read(endpoint, read, who, state[endpoint], now)
            for endpoint, (read, who) in timelines.items()
        }
        mentions = reads[MENTIONS]
        cursor = state[MENTIONS].newest_id if state[MENTIONS] else None
        recovered, gap_notice = self._recover_gap(mentions, cursor, now)

        result = PollResult(errors=sum(r.error is not None for r in reads.values()), recovered=len(recovered))
        mention_posts = (mentions.timeline.posts if mentions.timeline else []) + recovered
        replies = [
            p for e in self.answerers if reads[e].timeline for p in reads[e].timeline.posts if p.replied_to_id is not None
        ]
        with self.store.unit() as repo:
            judged = [(p, rules.classify(p, self.signals)) for p in mention_posts]
            stored = set(repo.add_mentions(judged, now))
            result.new_mentions = len(stored)
            repo.add_replies(replies)
            result.new_replies = len(replies)
            for endpoint, read in reads.items():
                if not read.skipped:
                    newest = read.timeline.newest_id if read.timeline and read.error is None else None
                    repo.record_poll(user, endpoint, now, newest, read.error, read.next_attempt_at)
            if gap_notice is not None:
                repo.add_notice(*gap_notice, now)
            fresh = [(p, p.id in stored and v.status is Status.OPEN) for p, v in judged]
            result.answered = self._resolve(repo, fresh, replies, now)
        for endpoint, read in reads.items():
            if read.next_attempt_at is not None:
                self._not_before[endpoint] = mono + policy.wait_before_next(now, read.next_attempt_at, self.interval).total_seconds()
        if result.new_mentions or result.answered:
            log.info("poll: %d new mention(s), %d newly answered", result.new_mentions, result.answered)
        return result

    def _waiting(self, endpoint: str, state, now: datetime, mono: float) -> bool:  # noqa: ANN001
        """Whether the endpoint's next read is not due yet: by the monotonic clock, or, for the first read after a
        start, by the time stored (a rate limit or back-off outlives a restart)."""
        if endpoint in self._not_before:
            return mono < self._not_before[endpoint]
        return state is not None and state.next_attempt_at is not None and now < state.next_attempt_at

    def _read(self, endpoint: str, read, who: Account, state, now: datetime) -> _Read:  # noqa: ANN001
        cursor = state.newest_id if state else None
        start = now - FIRST_START_WINDOW if cursor is None else None
        failures = (state.failures if state else 0) + 1
        try:
            timeline = read(who, cursor, start)
        except RateLimited as exc:
            until = policy.after_rate_limit(now, self.interval, exc.until)
            far = policy.far_reset(now, exc.until)
            error = f"{exc.message}; " + ("cap spent, " if far else "") + f"next try after {until:%Y-%m-%d %H:%M:%S} UTC"
            self._log_failure(endpoint, state, error, far)
            return _Read(error=error, next_attempt_at=until)
        except ServiceError as exc:
            refused = isinstance(exc, AuthFailed)
            error = f"{TOKEN_REFUSED}: {exc.message}" if refused else exc.message
            self._log_failure(endpoint, state, error, refused)
            return _Read(error=error, next_attempt_at=policy.after_failure(now, self.interval, failures, self.rand))
        if state is not None and state.last_error:
            log.info("poll %s works again", endpoint)
        return _Read(timeline=timeline, next_attempt_at=policy.after_success(now, self.interval, timeline.rate))

    @staticmethod
    def _log_failure(endpoint: str, state, error: str, loud: bool = False) -> None:  # noqa: ANN001
        """Log transitions, not ticks: the first failure, or a different one."""
        if state is None or state.last_error is None or state.last_error.split(";")[0] != error.split(";")[0]:
            (log.error if loud else log.warning)("poll %s failed: %s", endpoint, error)

    def _recover_gap(self, mentions: _Read, cursor: int | None, now: datetime) -> tuple[list[Post], tuple[str, str] | None]:
        """When the mentions read hit X's 800 cap, read the rest from recent search."""
        timeline = mentions.timeline
        if timeline is None or len(timeline.posts) < MENTIONS_CAP:
            return [], None
        oldest = min(p.version_id or p.id for p in timeline.posts)
        gap_start = snowflake_time(cursor) if cursor is not None else now - FIRST_START_WINDOW
        gap_end = snowflake_time(oldest)
        reach = now - SEARCH_REACH
        since_id = cursor if cursor is not None and gap_start > reach else None
        start = None if since_id is not None else max(gap_start, reach)
        try:
            found = self.x.search_mentions(self.account, since_id, oldest, start)
        except ServiceError as exc:
            mentions.error = f"more than {MENTIONS_CAP} new mentions; recovering the rest from search failed: {exc.message}"
            mentions.next_attempt_at = policy.after_failure(now, self.interval, 1, self.rand)
            log.warning("poll mentions: %s", mentions.error)
            return [], None
        posts = [p for p in found.posts if "retweeted" not in p.reference_types]
        period = f"{gap_start:%Y-%m-%d %H:%M} to {gap_end:%Y-%m-%d %H:%M} UTC"
        text = (
            f":information_source: More than {MENTIONS_CAP} mentions of @{self.account.username} arrived since the last "
            f"read, more than X's mentions timeline returns. {len(posts)} mention(s) from {period} were recovered "
            "from recent search."
        )
        if not found.complete:
            oldest_found = min((p.version_id or p.id for p in posts), default=oldest)
            text += (
                f" The search stopped before the start of that period: mentions from {gap_start:%Y-%m-%d %H:%M} to "
                f"{snowflake_time(oldest_found):%Y-%m-%d %H:%M} UTC may be missing."
            )
        if gap_start < reach:
            text += (
                f" Mentions from {gap_start:%Y-%m-%d %H:%M} to {reach:%Y-%m-%d %H:%M} UTC may be missing: "
                "search reaches back 7 days."
            )
        log.warning("poll mentions: hit the %d cap; recovered %d from search (%s)", MENTIONS_CAP, len(posts), period)
        return posts, (f"gap:{oldest}", text)

    def _resolve(self, repo: Repository, mentions: list[tuple[Post, bool]], replies: list[Post], now: datetime) -> int:
        """Apply the reply rules where the new posts could change something: the new open mentions (`mentions`:
        each post with whether it is newly stored and open) against the replies to them, and the new replies
        against the open mentions they could answer. Replies are matched through two look-up tables (by the post
        they reply to, and by conversation and the author they reply to), never each against each."""
        targets = {r.replied_to_id for r in replies if r.replied_to_id is not None}
        targets |= {i for post, fresh in mentions if not fresh for i in post.ids}  # read again: perhaps edited
        threads = {(r.conversation_id, r.in_reply_to_user_id) for r in replies if r.conversation_id and r.in_reply_to_user_id}
        candidates = {p.id: p for p in repo.open_posts(targets, threads)}
        candidates.update((post.id, post) for post, fresh in mentions if fresh)
        if not candidates:
            return 0
        found = {r.id: r for r in repo.replies_to(
            self.account.id,
            {p.id for p in candidates.values()} | {p.version_id for p in candidates.values() if p.version_id},
            {(p.conversation_id, p.author_id) for p in candidates.values() if p.conversation_id and p.author_id},
        )}
        found.update((r.id, r) for r in replies)
        by_target: dict[int, list[Post]] = {}
        by_thread: dict[tuple[int | None, int | None], list[Post]] = {}
        for reply in found.values():
            by_target.setdefault(reply.replied_to_id or 0, []).append(reply)
            by_thread.setdefault((reply.conversation_id, reply.in_reply_to_user_id), []).append(reply)
        answered = []
        for mention in candidates.values():
            near = [r for i in mention.ids for r in by_target.get(i, ())] + by_thread.get((mention.conversation_id, mention.author_id), [])
            reply = rules.first_answer(mention, near, self.signals.answerers)
            if reply is not None:
                answered.append((mention.id, reply))
        repo.mark_answered(answered, now)
        return len(answered)
