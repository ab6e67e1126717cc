"""Health: what "broken" means, decided here once, and said the same way everywhere.

`verdict` is the one answer `replywatch health` (its exit code, so the Docker HEALTHCHECK), /healthz and `status`
give: a line for every broken part, none while all work. It is made of pure rules: `broken_endpoint` (an account's
reads), `polls_stopped` (no poll at all lately), `channels_down` (Slack) and the parts the running bot stored as
not working (a lane stuck or failing, the metrics server, an on-call iCal feed: `PartsHealth`).

Collection notes: one in the account's channel when reading its mentions has failed for three poll intervals (or
its network refused the token), and one when it recovers. They go out through the sweep, like every message."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from bot.clock import Clock
from bot.logs import one_line
from bot.messages import CollectionBroken, CollectionRecovered, Message
from bot.model import AccountKey, EndpointHealth

if TYPE_CHECKING:
    from bot.store.repository import Repository, Store

log = logging.getLogger(__name__)
BROKEN_AFTER_INTERVALS = 3
CHANNEL_DOWN_AFTER = timedelta(minutes=2)  # a Slack channel failing longer than this is down, not having a blip


def broken_endpoint(states: list[EndpointHealth], now: datetime, poll_interval: timedelta) -> EndpointHealth | None:
    """The timeline that makes the account's collection broken (failing for three poll intervals, or its token
    refused), the one failing longest; None while collection works."""
    broken = [
        s for s in states
        if s.failing_since is not None and (now - s.failing_since > poll_interval * BROKEN_AFTER_INTERVALS or refused(s))
    ]
    return min(broken, key=lambda s: s.failing_since or now) if broken else None


def refused(state: EndpointHealth) -> bool:
    """Whether the network refuses the token now: the timeline's last read was refused (it never heals by itself)."""
    return state.failing_since is not None and state.token_refused


def polls_stopped(last_attempt: datetime | None, now: datetime, poll_interval: timedelta, http_timeout: timedelta) -> bool:
    """Whether no poll was even tried for longer than a running bot ever waits between two (its back-off aside)."""
    allowed = poll_interval * 3 + http_timeout * 2 + timedelta(seconds=30)
    return last_attempt is None or now - last_attempt > allowed


def channels_down(channels: list[tuple[str, datetime, str]], now: datetime) -> list[tuple[str, datetime, str]]:
    """Of the failing channels (channel, since, error), those failing for longer than CHANNEL_DOWN_AFTER."""
    return [c for c in channels if now - c[1] > CHANNEL_DOWN_AFTER]


class HealthService:
    def __init__(
        self, store: Store, where: AccountKey, clock: Clock, poll_interval: timedelta, channel: str | None = None
    ) -> None:
        self.store = store
        self.where = where
        self.channel = channel  # the account's alert channel (None: the default one)
        self.prefix = f"collection:{where.network.value}:{where.handle}:"  # this account's collection notices
        self.clock = clock
        self.poll_interval = poll_interval
        self._last: Message | None = None  # the newest collection note, once read (read once: it scans notices)
        self._read = False

    def run_once(self) -> None:
        now = self.clock.now()
        with self.store.read() as repo:  # a write only when there is something to say
            states = repo.health(self.where)
            if not self._read:
                self._last, self._read = repo.last_note(self.prefix), True
        note = self._note(states, now)
        if note is not None and note != self._last:
            key = f"{self.prefix}{note.since.isoformat()}:{note.kind}"
            with self.store.unit() as repo:
                repo.add_notice(key, note, now, channel=self.channel)
            self._last = note

    def _note(self, states: list[EndpointHealth], now: datetime) -> CollectionBroken | CollectionRecovered | None:
        """The note to queue: collection broken, or working again after one said it broke."""
        first = broken_endpoint(states, now, self.poll_interval)
        network, account = self.where.network.value, self.where.handle
        if first is not None:
            since = first.failing_since or now
            return CollectionBroken(network, account, since, first.last_error or "unknown error")
        last = self._last
        if isinstance(last, CollectionBroken) and all(s.failing_since is None for s in states):
            return CollectionRecovered(network, account, last.since)
        return None


def last_attempt(health: Mapping[AccountKey, list[EndpointHealth]], started: datetime | None = None) -> datetime | None:
    """The last poll attempt of any account's timeline; a bot's start counts as one (before its first poll had a
    chance, a restart after a long stop is not a stop)."""
    attempts = [h.last_attempt_at for states in health.values() for h in states if h.last_attempt_at]
    return max([*attempts, *([started] if started else [])], default=None)


def stalled(
    health: Mapping[AccountKey, list[EndpointHealth]], now: datetime, poll_interval: timedelta, http_timeout: timedelta,
    started: datetime | None = None,
) -> list[str]:
    """The part of the verdict that a restart cures: no poll tried for longer than a running bot ever waits (what a
    liveness probe asks; a network or a channel that fails is not cured by restarting, and is left out)."""
    last = last_attempt(health, started)
    if not polls_stopped(last, now, poll_interval, http_timeout):
        return []
    return [f"collection: no poll attempt since {last:%Y-%m-%d %H:%M:%S} UTC" if last else "collection: no poll attempt yet"]


def verdict(
    health: Mapping[AccountKey, list[EndpointHealth]], channels: list[tuple[str, datetime, str]], parts: list[tuple[str, datetime, str]],
    now: datetime, poll_interval: timedelta, http_timeout: timedelta, started: datetime | None = None,
    redact: Callable[[str], str] = str,
) -> list[str]:
    """Why replywatch is unhealthy, one line per broken part (secrets redacted before anything is cut); empty while
    every part works. `started`: when the bot started, which counts as a poll attempt (a restart after a long stop
    is not unhealthy before its first poll)."""
    lines = stalled(health, now, poll_interval, http_timeout, started)
    for where, states in health.items():
        broken = broken_endpoint(states, now, poll_interval)
        if broken is not None:
            lines.append(f"collection: {where}: {broken.last_error or 'failing'}")
    lines += [f"delivery: channel {channel}: {error or 'failing'}" for channel, _, error in channels_down(channels, now)]
    lines += [f"{name}: {why}" for name, _, why in parts]
    return [one_line(redact(line))[:500] for line in lines]


def verdict_of(
    repo: Repository, accounts: Iterable[AccountKey], now: datetime, poll_interval: timedelta, http_timeout: timedelta,
    started: datetime | None = None, redact: Callable[[str], str] = str, alive: bool = False,
) -> list[str]:
    """`verdict`, as the store tells it: what `health`, `status` and /healthz ask (with `alive`, only what `stalled`
    names). Cheap: the cursors, the channels and the parts, no mention."""
    # no account configured (a copy of the database read elsewhere, the demo's): the accounts it has read
    health = {where: repo.health(where) for where in (list(accounts) or repo.polled_accounts())}
    if alive:
        return stalled(health, now, poll_interval, http_timeout, started)
    channels, parts = repo.failing_channels(), repo.failing_parts()
    return verdict(health, channels, parts, now, poll_interval, http_timeout, started, redact)


class PartsHealth:
    """Stores which parts of this process do not work (`failing`: part → why, asked each tick), so that `health` and
    `status`, in other processes, can name them. Writes only when something changed."""

    def __init__(self, store: Store, clock: Clock, *failing: Callable[[], dict[str, str]]) -> None:
        self.store = store
        self.clock = clock
        self.failing = list(failing)  # each says which of its parts do not work
        self._last: dict[str, str] | None = None  # None: not written since start (the stored ones may be stale)

    def run_once(self) -> None:
        now = {name: why for ask in self.failing for name, why in ask().items()}
        if now == self._last:
            return
        with self.store.unit() as repo:
            repo.parts_failing(now, self.clock.now())
        for name in now.keys() - (self._last or {}).keys():
            log.error("%s is not working: %s", name, now[name])
        for name in (self._last or {}).keys() - now.keys():
            log.info("%s works again", name)
        self._last = now

