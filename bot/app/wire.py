"""The composition root: the one place that builds real adapters, from the Config read at start (bot.config.load).
Tests build their own.

Each network's adapter is built by its spec (`build` in bot/sources/<network>/spec.py), found in the registry
(bot.sources.SPECS): a network is a folder under bot/sources/ and one line there, none here."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from bot.app.configure import action_access, alert_policy, call_deadline, signals
from bot.app.verify import FeedPeople, SlackIdentity, StartupError, Watching  # noqa: F401 (StartupError: what `run` may raise)
from bot.clock import Clock, SystemClock
from bot.config.accounts import Watched
from bot.config.load import Config
from bot.config.settings import Settings
from bot.errors import ServiceError
from bot.lanes import Lanes
from bot.sources import SPECS
from bot.store.db import make_engine, require_schema, upgrade
from bot.store.repository import Store, StoredSessions

if TYPE_CHECKING:  # imported where they are built: `status` and `health` need none of these (nor tweepy, slack_sdk)
    from bot.console.sink import ConsoleSink
    from bot.leadership import Lease
    from bot.metrics.instruments import Metrics
    from bot.ports import Sink, Source
    from bot.scheduler import Jobs
    from bot.services.actions import ActionService
    from bot.services.deleted import DeletionCheck
    from bot.services.expiry import ExpiryService
    from bot.services.followups import FollowUpService
    from bot.services.health import HealthService, PartsHealth
    from bot.services.oncall import FeedService, OnCallService
    from bot.services.poll import PollService
    from bot.services.replying import ReplyService
    from bot.services.reporting import ReportService
    from bot.services.retention import RetentionService
    from bot.services.sweep import SweepService
    from bot.slack.interactions import Answer
    from bot.slack.sink import SlackSink
    from bot.slack.socket import SocketListener

log = logging.getLogger(__name__)
SWEEP_EVERY = timedelta(seconds=0.5)  # cheap (a few queries); lets the one-a-second pacing run at full speed
# With nothing waiting, the next tick after this, unless woken sooner: by a poll (nothing falls due, and no reply
# can close anything, but as of a completed read) or by a click in Slack. What is left to it (a refused message's
# retry, the expiry's and the on-call handoff's edits and notices) may wait this long.
IDLE_SWEEP_EVERY = timedelta(seconds=5)
EXPIRE_EVERY = timedelta(seconds=10)  # an expiry a few seconds late changes nothing
REPORT_EVERY_CHECK = timedelta(seconds=30)  # nor does a report
RETENTION_CHECK = timedelta(seconds=60)  # nor a purge a minute after 03:00
SOCKET_RETRY = timedelta(seconds=30)  # until Socket Mode first connects; slack_sdk reconnects after that
# Asks each on-call feed whether it is due (every 15 minutes; a minute after a failure): longer than both feeds' fetches
# (bot.calendar.feed.TIMEOUT each), so that a slow feed is no overrun of the job.
FEEDS_EVERY = timedelta(seconds=30)
FEED_CACHE = "replywatch-ical-cache"  # the folder of the on-call feeds' last good copies (feed_cache_dir)


def build_store(settings: Settings) -> Store:
    """Open the database and bring its schema up to date (for `run` and `db upgrade`)."""
    engine = make_engine(settings.database_url)
    upgrade(engine)
    return Store(engine)


def open_store(settings: Settings) -> Store:
    """Open the database for reading: nothing is created or migrated and no write lock is taken. Raises
    SchemaError when the database is missing or its schema is not this replywatch's."""
    engine = make_engine(settings.database_url, create=False)
    try:
        require_schema(engine)
    except BaseException:
        engine.dispose()
        raise
    return Store(engine)


# --- the networks ---------------------------------------------------------------------------------------------


def build_source(settings: Settings, watched: Watched, sessions: StoredSessions) -> Source:
    """The account's adapter, as its network's spec builds it (importing the network's SDK)."""
    return SPECS[watched.network].build(settings, watched, sessions)


# --- the app --------------------------------------------------------------------------------------------------


@dataclass
class App:
    config: Config
    store: Store
    slack: SlackIdentity
    watching: list[Watching]
    polls: list[PollService]
    sweep: SweepService
    follow_ups: FollowUpService
    on_call: OnCallService
    health: list[HealthService]
    expiry: ExpiryService
    socket: SocketListener | None = None
    actions: ActionService | None = None  # what the socket's requests do
    report: ReportService | None = None  # REPORT_EVERY
    metrics: Metrics | None = None  # times the polls and the sweep (METRICS_PORT)
    lanes: Lanes | None = None  # every call to the outside, each part in its own (bot.lanes)
    deletions: DeletionCheck | None = None
    parts: PartsHealth | None = None  # which parts do not work, stored for `health` and `status`
    retention: RetentionService | None = None  # RETENTION_DAYS
    feeds: FeedService | None = None  # the on-call rotations' iCal feeds, if any rotation is given by `ical_url`
    replies: ReplyService | None = None  # posts the replies written in Slack (accounts with reply_from_slack)

    def tick(self) -> object:
        """Health and follow-ups queue notices, the sweep posts them and the alerts: in turn, each guarded. IDLE when
        nothing waited (the scheduler then waits IDLE_SWEEP_EVERY, unless woken)."""
        from bot.scheduler import IDLE, guarded

        for health in self.health:
            guarded("health", health.run_once)()
        if self.parts is not None:
            guarded("parts", self.parts.run_once)()
        judged = guarded("follow-ups", self.follow_ups.run_once)()
        swept = guarded("sweep", self.sweep.run_once)()
        return IDLE if judged == 0 and getattr(swept, "idle", False) else None

    def jobs(self, lease: Lease | None = None) -> Jobs:
        """What `replywatch run` schedules: (name, job, interval), each on its own thread (a poll per account: one
        network's slow answer never holds another's). With a `lease`, all but the socket run only on the replica
        that leads (bot.leadership)."""
        from bot.leadership import leader_only

        jobs: Jobs = [(poll_job(p.where), p.run_once, self.config.settings.poll_interval) for p in self.polls]
        jobs += [
            ("sweep", self.tick, SWEEP_EVERY),
            ("on call", self.on_call.run_once, SWEEP_EVERY),
            ("expiry", self.expiry.run_once, EXPIRE_EVERY),
        ]
        if self.report is not None:
            jobs.append(("report", self.report.run_once, REPORT_EVERY_CHECK))
        if self.retention is not None:
            jobs.append(("retention", self.retention.run_once, RETENTION_CHECK))
        if self.feeds is not None:
            jobs.append(("on-call feeds", self.feeds.run_once, FEEDS_EVERY))
        if self.replies is not None:  # on the leader alone: X has no idempotency key, two replicas could both post
            jobs.append(("replies", self.replies.run_once, IDLE_SWEEP_EVERY))
        if self.metrics is not None:  # timed inside leader_only: a standby's skipped run is no poll
            jobs = self.metrics.timed(jobs, {poll_job(p.where): p.where for p in self.polls})
        if lease is not None:  # after a takeover, what decides and posts Slack messages waits for the old leader's posts
            grace = self.config.settings.http_timeout
            jobs = leader_only(jobs, lease, self.watching[0].watched.handle, grace, after_takeover=("sweep",))
        if self.socket is not None:  # on every replica: button clicks only write to the database
            jobs.append(("socket", self.socket.keep_connected, SOCKET_RETRY))  # runs at once, then until it connects
        return jobs


def poll_job(where: object) -> str:
    """The scheduler's name for an account's poll ("poll @acme on X")."""
    return f"poll {where}"


def build_app(config: Config, clock: Clock | None = None, metrics: Metrics | None = None, sink: ConsoleSink | None = None) -> App:
    """Everything `replywatch run` needs, from the config read at start, checked: tokens verified (Slack's unless
    SINK=console), every account found, schema migrated; with `metrics`, each network's errors and rate limits counted;
    with `sink`, the console given (the demo's) rather than standard output."""
    from bot.app.verify import build_socket, check_socket, connect_sink, verify_account
    from bot.laned_sink import LanedSink
    from bot.services.actions import ActionService
    from bot.services.deleted import DeletionCheck
    from bot.services.expiry import ExpiryService
    from bot.services.followups import FollowUpService
    from bot.services.health import HealthService, PartsHealth
    from bot.services.oncall import OnCallService
    from bot.services.poll import PollService
    from bot.services.retention import RetentionService
    from bot.services.sweep import SweepService
    from bot.sources.laned import LanedSource

    clock = clock or SystemClock()
    settings = config.settings
    lanes = Lanes(call_deadline(settings).total_seconds())
    delivering, identity, config = connect_sink(config, sink)  # the config's on-call people now the sink's
    laned = LanedSink(delivering, lanes)
    store = build_store(settings)
    sessions = StoredSessions(store, clock)
    observe = metrics.observe if metrics is not None else lambda source, _: source
    watching = [
        verify_account(settings, w, LanedSource(observe(build_source(settings, w, sessions), w.key), w.key, lanes))
        for w in config.accounts
    ]
    policy = alert_policy(config, identity, watching)
    tz = config.tz  # how times are shown
    delivering.tz, delivering.on_call = tz, policy.on_call
    polls = [
        PollService(
            w.source, store, w.account, clock, settings.poll_interval,
            signals=signals(settings, w), responders=w.responders, where=w.watched.key,
            channel=policy.rules(w.watched.key).channel,
            budget=settings.x_monthly_read_budget if SPECS[w.watched.network].billed else None,
        )
        for w in watching
    ]
    keys = [w.watched.key for w in watching]
    deletions = DeletionCheck({w.watched.key: w.source for w in watching} if settings.check_deleted else {}, store, lanes)
    access = action_access(settings, identity, policy)
    actions = ActionService(store, laned, clock, policy.channel, tz, access)
    actions.replies = replies = reply_service(config, watching, store, laned, clock)
    socket = build_socket(settings, lambda: slack_requests(actions, delivering))
    if socket is not None:
        check_socket(socket)
    feeds = on_call_feeds(config, store, clock, lanes, delivering.person)
    return App(
        config=config,
        store=store,
        slack=identity,
        watching=watching,
        polls=polls,
        sweep=SweepService(laned, store, keys, clock, policy, deletions),
        follow_ups=FollowUpService(store, keys, clock, policy, deletions),
        on_call=OnCallService(laned, store, clock, policy),
        health=[HealthService(store, k, clock, settings.poll_interval, policy.rules(k).channel) for k in keys],
        expiry=ExpiryService(store, clock, policy),
        socket=socket,
        actions=actions,
        report=report_service(config, store, clock, policy.channel),
        metrics=metrics,
        lanes=lanes,
        deletions=deletions,
        parts=PartsHealth(store, clock, lanes.problems, *([feeds.problems] if feeds is not None else [])),
        retention=RetentionService(store, clock, settings.retention_days, tz) if settings.retention_days else None,
        feeds=feeds,
        replies=replies,
    )


def reply_service(config: Config, watching: list[Watching], store: Store, sink: Sink, clock: Clock) -> ReplyService | None:
    """What posts the replies written in Slack, for the accounts with `reply_from_slack`; None when there are none.
    Each account's instance limit is read now (a Mastodon instance's), so that the form opens at once."""
    from bot.report.cost import Prices
    from bot.services.replying import Replying, ReplyService

    prices = Prices.of(config.settings)
    accounts = {}
    for w in watching:
        if not w.watched.reply_from_slack:
            continue
        spec = SPECS[w.watched.network]
        price = f"{spec.label} bills a post ${prices.per_post:.3f}, one with a link ${prices.per_post_with_link:.3f}"
        accounts[w.watched.key] = Replying(w.source, w.watched.reply_group, price if spec.billed else None)
        if (refusal := w.source.write_refusal()) is not None:
            log.warning("%s: replies from Slack cannot be posted: %s", w.watched.key, refusal)
        try:
            w.source.reply_limit()
        except ServiceError as exc:
            log.warning("%s: cannot read how long a reply may be yet: %s", w.watched.key, exc.message)
    return ReplyService(store, accounts, sink, clock) if accounts else None


def feed_cache_dir(settings: Settings) -> Path:
    """Where the on-call feeds' last good copies are kept (oncall.ics, backup.ics): a FEED_CACHE folder beside the SQLite
    database (in the image, on its volume), else (PostgreSQL, SQLite in memory) in the working folder."""
    from sqlalchemy.engine import make_url

    from bot.leadership import sqlite_path

    database = sqlite_path(settings.database_url) if make_url(settings.database_url).get_backend_name() == "sqlite" else None
    return database.parent / FEED_CACHE if database is not None else Path(FEED_CACHE)


def on_call_feeds(
    config: Config, store: Store, clock: Clock, lanes: Lanes, person: Callable[[str], str | None],
) -> FeedService | None:
    """The on-call rotations' iCal feeds (bot.calendar.feed), each with its cache in feed_cache_dir and a lane of its
    own; None when no rotation is given by `ical_url`. Now, before any fetch: each cached copy read, and the people it
    names looked up (`person`: the sink's look-up of an e-mail). The service's job fetches each when it is due."""
    from bot.calendar import feed
    from bot.services.oncall import FeedService

    schedule = config.schedule
    if schedule is None or not schedule.feeds():
        return None
    feeds = feed.feeds(schedule, feed_cache_dir(config.settings), timeout=min(feed.TIMEOUT, lanes.deadline))
    now = clock.now()
    for f in feeds:
        f.restore(now)
    look_up = FeedPeople(person)
    look_up(feeds, now)
    return FeedService(feeds, store, clock, {f.key: lanes.get(f.name, "iCal feed") for f in feeds}, look_up)


def slack_requests(actions: ActionService, sink: SlackSink) -> Callable[[str, dict], Answer]:
    """What answers Socket Mode: Slack's payloads read and answered by bot.slack.interactions, decided by `actions`,
    refusals told through the Slack sink's client."""
    from bot.slack.interactions import Interactions

    return Interactions(actions, sink.client.tell).handle


def report_service(config: Config, store: Store, clock: Clock, channel: str) -> ReportService | None:
    """The report to the channel when REPORT_EVERY says, worked out when due (bot.report.build)."""
    settings = config.settings
    if settings.report_every is None:
        return None
    from bot.report.build import build_report
    from bot.services.reporting import ReportService

    def build(start: datetime, end: datetime) -> str:
        return json.dumps(build_report(store, config, (start, end), clock.now()).to_json())

    return ReportService(store, clock, settings.report_every, config.tz, build, channel, settings.alert_after)
