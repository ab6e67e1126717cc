"""Prometheus metrics, recorded where things happen without the services knowing: the composition root wraps each
Source (ObservedSource) and each job (Metrics.timed), and the Socket Mode listener reports each acknowledgement's
delay. What the store knows (mentions, alerts, reads) is read at scrape time instead (bot.metrics.collector).

Every metric lives on the Metrics object's own registry, never prometheus_client's global one: two apps in one
process (tests) each count their own. Labels are of small, fixed cardinality: network, account, endpoint, kind;
never a post, an author or a user."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

import bot
from bot.errors import ServiceError
from bot.model import Account, AccountKey, Draft, Post, Read, Timeline

if TYPE_CHECKING:
    from bot.ports import Source
    from bot.scheduler import Jobs

T = TypeVar("T")
ACCOUNT = ("network", "account")
# A poll is a few HTTP calls (up to the page budget after an outage); a tick a few queries and Slack posts.
JOB_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
# Slack wants an acknowledgement within 3 seconds: the buckets are dense below that.
ACK_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5)


class Metrics:
    """The runtime instruments, on a registry of their own."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.api_errors = Counter(
            "replywatch_api_errors", "Errors from a network's API, by error class (RateLimited, AuthFailed, Unavailable, "
            "BadResponse, Rejected …)", [*ACCOUNT, "kind"], registry=r,
        )
        self.rate_remaining = Gauge(
            "replywatch_rate_limit_remaining", "Requests left in the current rate-limit window, as the last read's "
            "headers said", [*ACCOUNT, "endpoint"], registry=r,
        )
        self.poll_seconds = Histogram(
            "replywatch_poll_duration_seconds", "How long one poll of an account took", ACCOUNT, buckets=JOB_BUCKETS, registry=r,
        )
        self.sweep_seconds = Histogram(
            "replywatch_sweep_duration_seconds", "How long one sweep tick took (health, follow-ups, alerts, edits)",
            buckets=JOB_BUCKETS, registry=r,
        )
        self.build_info = Gauge("replywatch_build_info", "1, labelled with the running replywatch's version", ["version"], registry=r)
        self.build_info.labels(bot.version()).set(1)
        self.ack_seconds = Histogram(
            "replywatch_socket_ack_seconds", "From receiving a Socket Mode envelope to acknowledging it",
            buckets=ACK_BUCKETS, registry=r,
        )

    def observe(self, source: Source, where: AccountKey) -> ObservedSource:
        """`source`, counted: its errors by class and its rate-limit headers."""
        self.poll_seconds.labels(where.network.value, where.handle)  # shown at 0 before the first poll ends
        return ObservedSource(source, where, self)

    def timed(self, jobs: Jobs, polls: dict[str, AccountKey], sweep: str = "sweep") -> Jobs:
        """The jobs, the polls (by job name, the account each polls) and the sweep timed."""
        timed: Jobs = []
        for name, job, every in jobs:
            if name in polls:
                job = _timed(job, self.poll_seconds.labels(polls[name].network.value, polls[name].handle))
            elif name == sweep:
                job = _timed(job, self.sweep_seconds)
            timed.append((name, job, every))
        return timed


def _timed(job: Callable[[], object], histogram: Histogram) -> Callable[[], object]:
    """`job`, its every run observed in `histogram` (failed runs too: a poll that hangs until its timeout shows)."""

    def run() -> object:
        started = time.monotonic()
        try:
            return job()
        finally:
            histogram.observe(time.monotonic() - started)

    return run


class ObservedSource:
    """A Source that counts the errors it raises by class and keeps each read's rate-limit headers; what it
    returns and raises is passed on unchanged."""

    def __init__(self, source: Source, where: AccountKey, metrics: Metrics) -> None:
        self.source = source
        self.network = source.network
        self._labels = (where.network.value, where.handle)
        self._metrics = metrics

    def account(self) -> Account:
        """The watched account (see Source.account)."""
        return self._call(self.source.account)

    def lookup(self, handle: str) -> Account:
        """Another account on the network (see Source.lookup)."""
        return self._call(self.source.lookup, handle)

    def mentions(self, cursor: str | None, since: datetime) -> Timeline:
        """The account's mentions (see Source.mentions)."""
        return self._rate("mentions", self._call(self.source.mentions, cursor, since))

    def posts(self, who: Account, cursor: str | None, since: datetime) -> Timeline:
        """`who`'s posts (see Source.posts)."""
        return self._rate("posts", self._call(self.source.posts, who, cursor, since))

    def deleted(self, post_ids: Sequence[str]) -> set[str]:
        """Which of these posts are gone (see Source.deleted)."""
        return self._call(self.source.deleted, post_ids)

    def reads(self) -> list[Read]:
        """The requests made since the last call (counted in the store, not here: see bot.metrics.collector)."""
        return self.source.reads()

    def reply(self, draft: Draft, retry: bool = False) -> Post:
        """Post a reply (see Source.reply)."""
        return self._call(self.source.reply, draft, retry)

    def __getattr__(self, name: str) -> object:
        return getattr(self.source, name)  # whatever else an adapter offers (its own close, say)

    def _call(self, read: Callable[..., T], *args: object) -> T:
        try:
            return read(*args)
        except ServiceError as exc:
            self._metrics.api_errors.labels(*self._labels, type(exc).__name__).inc()
            raise

    def _rate(self, endpoint: str, timeline: Timeline) -> Timeline:
        if timeline.rate is not None:
            self._metrics.rate_remaining.labels(*self._labels, endpoint).set(timeline.rate.remaining)
        return timeline
