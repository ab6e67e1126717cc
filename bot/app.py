"""The composition root: the one place that builds real adapters from Settings. Tests build their own.

Each network's adapter is registered in SOURCES: a network is a folder under bot/sources/ and one line here."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from bot import accounts, rules
from bot.accounts import Watched
from bot.clock import Clock, SystemClock
from bot.config import Settings
from bot.load import load_schedule
from bot.model import Network
from bot.schedule import Schedule
from bot.services.poll import OWN_POSTS, reply_endpoint
from bot.services.sweep import AccountRules, SweepConfig
from bot.startup import SlackIdentity, StartupError, Watching  # noqa: F401 (StartupError: what `run` may raise)
from bot.store.db import make_engine, require_schema, upgrade
from bot.store.repository import Store, StoredSessions

if TYPE_CHECKING:  # imported where they are built: `status` and `health` need none of these (nor tweepy, slack_sdk)
    from bot.leadership import Lease
    from bot.ports import Source
    from bot.scheduler import Jobs
    from bot.services.actions import Access, ActionService
    from bot.services.expiry import ExpiryService
    from bot.services.followups import FollowUpService
    from bot.services.health import HealthService
    from bot.services.oncall import OnCallService
    from bot.services.poll import PollService
    from bot.services.sweep import SweepService
    from bot.slack.socket import SocketListener

log = logging.getLogger(__name__)
SWEEP_EVERY = timedelta(seconds=0.5)  # cheap (a few queries); lets the one-a-second pacing run at full speed
# With nothing waiting, the next tick after this, unless woken sooner: by a poll (nothing falls due, and no reply
# can close anything, but as of a completed read) or by a click in Slack. What is left to it (a refused message's
# retry, the expiry's and the on-call handoff's edits and notices) may wait this long.
IDLE_SWEEP_EVERY = timedelta(seconds=5)
EXPIRE_EVERY = timedelta(seconds=10)  # an expiry a few seconds late changes nothing
SOCKET_RETRY = timedelta(seconds=30)  # until Socket Mode first connects; slack_sdk reconnects after that


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


def _x(settings: Settings, watched: Watched, _sessions: StoredSessions) -> Source:
    from bot.sources.x.client import XSource

    timeout, handle, url = settings.http_timeout.total_seconds(), watched.handle, settings.x_api_base_url
    if "bearer_token" in watched.secrets:
        return XSource(base_url=url, timeout=timeout, handle=handle, bearer_token=watched.secrets["bearer_token"])
    if settings.user_context:
        names = ("x_api_key", "x_api_secret", "x_access_token", "x_access_token_secret")
        keys = tuple(getattr(settings, n).get_secret_value() for n in names)
        return XSource(base_url=url, timeout=timeout, handle=handle, user_keys=keys)  # type: ignore[arg-type]
    token = settings.x_bearer_token.get_secret_value() if settings.x_bearer_token else None
    return XSource(base_url=url, timeout=timeout, handle=handle, bearer_token=token)


def _bluesky(settings: Settings, watched: Watched, sessions: StoredSessions) -> Source:
    from bot.sources.bluesky import BlueskySource

    return BlueskySource(
        base_url=watched.instance or "", handle=watched.handle, app_password=watched.secrets.get("app_password", ""),
        timeout=settings.http_timeout.total_seconds(), sessions=sessions,
    )


def _mastodon(settings: Settings, watched: Watched, _sessions: StoredSessions) -> Source:
    from bot.sources.mastodon import MastodonSource

    return MastodonSource(
        instance=watched.instance or "", handle=watched.handle, access_token=watched.secrets.get("access_token", ""),
        timeout=settings.http_timeout.total_seconds(),
    )


SOURCES: dict[Network, Callable[[Settings, Watched, StoredSessions], Source]] = {
    Network.X: _x,
    Network.BLUESKY: _bluesky,
    Network.MASTODON: _mastodon,
}


def build_source(settings: Settings, watched: Watched, sessions: StoredSessions) -> Source:
    return SOURCES[watched.network](settings, watched, sessions)


# --- the rules and the channels -------------------------------------------------------------------------------


def channels(settings: Settings, watched: list[Watched]) -> dict[str, str]:
    """Every channel alerts go to, with the setting that names it."""
    found = {settings.slack_channel: "SLACK_CHANNEL"}
    for w in watched:
        if w.channel:
            found.setdefault(w.channel, f"REPLYWATCH_CONFIG {w.source}.channel")
    return found


def signals(settings: Settings, watching: Watching) -> rules.Signals:
    """The noise and VIP rules of one account: its own where the file gives them, else the settings'."""
    lower = lambda handles: frozenset(h.lower() for h in handles)  # noqa: E731
    w = watching.watched
    keywords = w.ignore_keywords if w.ignore_keywords is not None else settings.ignore_keywords
    return rules.Signals(
        account_id=watching.account.id,
        responder_ids=frozenset(r.id for r in watching.responders),
        ignore_implicit=settings.ignore_implicit,
        muted=lower(w.muted_authors if w.muted_authors is not None else settings.muted_authors),
        keywords=tuple((word, rules.keyword_pattern(word)) for word in keywords),
        vip_handles=lower(settings.vip_authors),
        vip_min_followers=w.vip_min_followers if w.vip_min_followers is not None else settings.vip_min_followers,
    )


def sweep_config(
    settings: Settings, slack: SlackIdentity | None = None, schedule: Schedule | None = None, watching: list[Watching] = ()
) -> SweepConfig:
    """When and how to alert, from the settings (a duration of 0 turns escalation or reminders off), and where
    each account's alerts go. Times are shown in TIMEZONE, or in the on-call file's time zone when TIMEZONE is left
    at UTC."""
    display = schedule.tz if schedule is not None and settings.timezone == "UTC" else ZoneInfo(settings.timezone)
    resolved = slack.channels if slack else {}
    accounts = {
        w.watched.key: AccountRules(
            channel=resolved.get(w.watched.channel or settings.slack_channel, settings.slack_channel),
            alert_after=w.watched.alert_after or settings.alert_after,
            alert_after_vip=w.watched.alert_after_vip or settings.alert_after_vip,
            reply_endpoints=(OWN_POSTS, *(reply_endpoint(r) for r in w.responders)),
        )
        for w in watching
    }
    return SweepConfig(
        channel=resolved.get(settings.slack_channel, settings.slack_channel),
        alert_after=settings.alert_after,
        poll_interval=settings.poll_interval,
        alert_after_vip=settings.alert_after_vip,
        escalate_after=settings.escalate_after or None,
        escalate_to=settings.escalate_to,
        remind_every=settings.remind_every or None,
        max_reminders=settings.max_reminders,
        expire_after=settings.expire_after or None,
        digest_threshold=settings.digest_threshold,
        buttons=settings.slack_app_token is not None,
        display_tz=display,
        schedule=schedule,
        vip_ignores_hours=settings.vip_ignores_hours,
        accounts=accounts,
    )


def action_access(settings: Settings, slack: SlackIdentity, config: SweepConfig) -> Access:
    """Who may use the buttons and `/replywatch`: the workspace and app auth.test named, in the alert channels (and
    for the queue, the channels of ALLOW_QUEUE_IN)."""
    from bot.services.actions import Access

    return Access(
        alert_channels=config.channels,
        teams=frozenset(t for t in (slack.team_id, slack.enterprise_id) if t),
        app=slack.app_id or None,
        queue_channels=settings.queue_channels,
        queue_for_external=settings.queue_for_external,
    )


# --- the app --------------------------------------------------------------------------------------------------


@dataclass
class App:
    settings: Settings
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

    def tick(self) -> object:
        """Health and follow-ups queue notices, the sweep posts them and the alerts: in turn, each guarded. IDLE when
        nothing waited (the scheduler then waits IDLE_SWEEP_EVERY, unless woken)."""
        from bot.scheduler import IDLE, guarded

        for health in self.health:
            guarded("health", health.run_once)()
        judged = guarded("follow-ups", self.follow_ups.run_once)()
        swept = guarded("sweep", self.sweep.run_once)()
        return IDLE if judged == 0 and getattr(swept, "idle", False) else None

    def jobs(self, lease: Lease | None = None) -> Jobs:
        """What `replywatch run` schedules: (name, job, interval), each on its own thread (a poll per account: one
        network's slow answer never holds another's). With a `lease`, all but the socket run only on the replica
        that leads (bot.leadership)."""
        from bot.leadership import leader_only

        jobs: Jobs = [(poll_job(p.where), p.run_once, self.settings.poll_interval) for p in self.polls]
        jobs += [
            ("sweep", self.tick, SWEEP_EVERY),
            ("on call", self.on_call.run_once, SWEEP_EVERY),
            ("expiry", self.expiry.run_once, EXPIRE_EVERY),
        ]
        if lease is not None:  # after a takeover, what decides and posts Slack messages waits for the old leader's posts
            grace = self.settings.http_timeout
            jobs = leader_only(jobs, lease, self.watching[0].watched.handle, grace, after_takeover=("sweep",))
        if self.socket is not None:  # on every replica: button clicks only write to the database
            jobs.append(("socket", self.socket.keep_connected, SOCKET_RETRY))  # runs at once, then until it connects
        return jobs


def poll_job(where: object) -> str:
    """The scheduler's name for an account's poll ("poll @acme on X")."""
    return f"poll {where}"


def build_app(settings: Settings, clock: Clock | None = None, watched: list[Watched] | None = None) -> App:
    """Everything `replywatch run` needs, checked: tokens verified, every account found (those of `watched`, else
    those the settings name), schema migrated."""
    from bot.services.actions import ActionService
    from bot.services.deleted import DeletionCheck
    from bot.services.expiry import ExpiryService
    from bot.services.followups import FollowUpService
    from bot.services.health import HealthService
    from bot.services.oncall import OnCallService
    from bot.services.poll import PollService
    from bot.services.sweep import SweepService
    from bot.slack.render import SlackRenderer
    from bot.startup import build_slack, build_socket, check_socket, resolve_people, verify_account, verify_slack

    clock = clock or SystemClock()
    watched = watched if watched is not None else accounts.load(settings, os.environ)
    schedule = load_schedule(settings)
    slack = build_slack(settings)
    identity = verify_slack(slack, channels(settings, watched))
    schedule = resolve_people(schedule, slack)
    store = build_store(settings)
    sessions = StoredSessions(store, clock)
    watching = [verify_account(settings, w, build_source(settings, w, sessions)) for w in watched]
    config = sweep_config(settings, identity, schedule, watching)
    polls = [
        PollService(
            w.source, store, w.account, clock, settings.poll_interval,
            signals=signals(settings, w), responders=w.responders, where=w.watched.key,
            channel=config.rules(w.watched.key).channel,
        )
        for w in watching
    ]
    keys = [w.watched.key for w in watching]
    deletions = DeletionCheck({w.watched.key: w.source for w in watching} if settings.check_deleted else {}, store)
    render = SlackRenderer(buttons=config.buttons, tz=config.display_tz, on_call=config.on_call)
    access = action_access(settings, identity, config)
    actions = ActionService(store, slack, render, clock, config.channel, config.display_tz, access)
    socket = build_socket(settings, actions.handle)
    if socket is not None:
        check_socket(socket)
    return App(
        settings=settings,
        store=store,
        slack=identity,
        watching=watching,
        polls=polls,
        sweep=SweepService(slack, store, keys, clock, config, render, deletions),
        follow_ups=FollowUpService(store, keys, clock, config, deletions),
        on_call=OnCallService(slack, store, clock, config),
        health=[HealthService(store, k, clock, settings.poll_interval, config.rules(k).channel) for k in keys],
        expiry=ExpiryService(store, clock, config.expire_after),
        socket=socket,
        actions=actions,
    )
