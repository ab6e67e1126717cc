"""The composition root: the one place that builds real adapters from Settings. Tests build their own."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from bot import rules
from bot.clock import Clock, SystemClock
from bot.config import Settings, load_schedule
from bot.errors import AuthFailed, Rejected, ServiceError, UnknownAccount
from bot.model import Account
from bot.schedule import Schedule
from bot.services.deleted import DeletionCheck
from bot.services.poll import OWN_POSTS, PollService, reply_endpoint
from bot.services.sweep import SweepConfig, SweepService
from bot.store.db import make_engine, require_schema, upgrade
from bot.store.repository import Store

if TYPE_CHECKING:  # imported where they are built: `status` and `health` need none of these (nor tweepy, slack_sdk)
    from bot.leadership import Lease
    from bot.scheduler import Jobs
    from bot.services.actions import Access, ActionService
    from bot.services.expiry import ExpiryService
    from bot.services.followups import FollowUpService
    from bot.services.health import HealthService
    from bot.services.oncall import OnCallService
    from bot.slack.client import SlackClient
    from bot.slack.socket import SocketListener
    from bot.x.client import XClient

log = logging.getLogger(__name__)
SWEEP_EVERY = timedelta(seconds=0.5)  # cheap (a few queries); lets the one-a-second pacing run at full speed
# With nothing waiting, the next tick after this, unless woken sooner: by a poll (nothing falls due, and no reply
# can close anything, but as of a completed read) or by a click in Slack. What is left to it (a refused message's
# retry, the expiry's and the on-call handoff's edits and notices) may wait this long.
IDLE_SWEEP_EVERY = timedelta(seconds=5)
EXPIRE_EVERY = timedelta(seconds=10)  # an expiry a few seconds late changes nothing
SOCKET_RETRY = timedelta(seconds=30)  # until Socket Mode first connects; slack_sdk reconnects after that


class StartupError(Exception):
    """A token was rejected or the account does not exist; one line, naming what failed."""


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


def build_x(settings: Settings) -> XClient:
    from bot.x.client import XClient

    timeout = settings.http_timeout.total_seconds()
    if settings.user_context:
        keys = tuple(
            getattr(settings, n).get_secret_value()
            for n in ("x_api_key", "x_api_secret", "x_access_token", "x_access_token_secret")
        )
        return XClient(base_url=settings.x_api_base_url, timeout=timeout, user_keys=keys)  # type: ignore[arg-type]
    token = settings.x_bearer_token.get_secret_value() if settings.x_bearer_token else None
    return XClient(base_url=settings.x_api_base_url, timeout=timeout, bearer_token=token)


def build_slack(settings: Settings) -> SlackClient:
    from bot.slack.client import SlackClient

    return SlackClient(
        token=settings.slack_bot_token.get_secret_value(),
        base_url=settings.slack_api_base_url,
        timeout=settings.http_timeout.total_seconds(),
    )


@dataclass
class Identity:
    account: Account
    slack_team: str
    slack_user: str
    channel: str
    responders: list[Account] = field(default_factory=list)
    slack_team_id: str = ""  # auth.test: the workspace …
    slack_enterprise_id: str = ""  # … its Enterprise organization, if it is in one …
    slack_app_id: str = ""  # … and the app, when auth.test names it


def verify(settings: Settings, x: XClient, slack: SlackClient) -> Identity:
    """Check both tokens and the account: Slack `auth.test`, then X's user lookup."""
    try:
        who = slack.auth_test()
    except AuthFailed as exc:
        raise StartupError(f"SLACK_BOT_TOKEN was rejected by Slack: {exc.message.split(': ', 1)[-1]}") from None
    except ServiceError as exc:
        raise StartupError(f"cannot reach Slack at SLACK_API_BASE_URL: {exc.message}") from None
    channel = _channel_id(settings.slack_channel, slack)
    try:
        account = x.lookup_account(settings.x_account)
    except UnknownAccount:
        raise StartupError(f"X_ACCOUNT: X has no account @{settings.x_account}") from None
    except AuthFailed as exc:
        names = "X_API_KEY/X_API_SECRET/X_ACCESS_TOKEN/X_ACCESS_TOKEN_SECRET" if x.user_auth else "X_BEARER_TOKEN"
        raise StartupError(f"{names} was rejected by X: {exc.message.split(': ', 1)[-1]}") from None
    except ServiceError as exc:
        raise StartupError(f"cannot reach X at X_API_BASE_URL: {exc.message}") from None
    responders = [_responder(handle, x) for handle in settings.responders]
    return Identity(
        account, str(who.get("team", "")), str(who.get("user", "")), channel, responders,
        slack_team_id=str(who.get("team_id") or ""),
        slack_enterprise_id=str(who.get("enterprise_id") or ""),
        slack_app_id=str(who.get("app_id") or ""),
    )


def _responder(handle: str, x: XClient) -> Account:
    try:
        return x.lookup_account(handle)
    except UnknownAccount:
        raise StartupError(f"RESPONDERS: X has no account @{handle}") from None
    except ServiceError as exc:
        raise StartupError(f"RESPONDERS: cannot look up @{handle}: {exc.message}") from None


def signals(settings: Settings, identity: Identity) -> rules.Signals:
    """The noise and VIP rules, from the settings."""
    lower = lambda handles: frozenset(h.lower() for h in handles)  # noqa: E731
    return rules.Signals(
        account_id=identity.account.id,
        account_handle=identity.account.username,
        responder_ids=frozenset(r.id for r in identity.responders),
        ignore_implicit=settings.ignore_implicit,
        muted=lower(settings.muted_authors),
        keywords=tuple((word, rules.keyword_pattern(word)) for word in settings.ignore_keywords),
        vip_handles=lower(settings.vip_authors),
        vip_min_followers=settings.vip_min_followers,
    )


def resolve_people(schedule: Schedule | None, slack: SlackClient) -> Schedule | None:
    """Turn the e-mails in the on-call file into Slack user IDs (users.lookupByEmail), once at start."""
    if schedule is None:
        return None
    users = {}
    for key, email in schedule.emails():
        try:
            user = slack.lookup_email(email)
        except ServiceError as exc:
            raise StartupError(f"REPLYWATCH_CONFIG {key}: cannot look up {email} in Slack: {exc.message}") from None
        if user is None:
            raise StartupError(f"REPLYWATCH_CONFIG {key}: Slack has no user with the e-mail {email}")
        users[email] = user
    return schedule.resolved(users)


def sweep_config(settings: Settings, identity: Identity | None = None, schedule: Schedule | None = None) -> SweepConfig:
    """When and how to alert, from the settings (a duration of 0 turns escalation or reminders off). Times are
    shown in TIMEZONE, or in the on-call file's time zone when TIMEZONE is left at UTC."""
    display = schedule.tz if schedule is not None and settings.timezone == "UTC" else ZoneInfo(settings.timezone)
    responders = identity.responders if identity else []
    return SweepConfig(
        channel=identity.channel if identity else settings.slack_channel,
        alert_after=settings.alert_after,
        poll_interval=settings.poll_interval,
        alert_after_vip=settings.alert_after_vip,
        escalate_after=settings.escalate_after or None,
        escalate_to=settings.escalate_to,
        remind_every=settings.remind_every or None,
        max_reminders=settings.max_reminders,
        expire_after=settings.expire_after or None,
        digest_threshold=settings.digest_threshold,
        reply_endpoints=(OWN_POSTS, *(reply_endpoint(r) for r in responders)),
        buttons=settings.slack_app_token is not None,
        display_tz=display,
        schedule=schedule,
        vip_ignores_hours=settings.vip_ignores_hours,
    )


def action_access(settings: Settings, identity: Identity) -> Access:
    """Who may use the buttons and `/replywatch`: the workspace and app auth.test named, in the alert channel (and
    for the queue, the channels of ALLOW_QUEUE_IN)."""
    from bot.services.actions import Access

    return Access(
        alert_channels=frozenset({identity.channel}),
        teams=frozenset(t for t in (identity.slack_team_id, identity.slack_enterprise_id) if t),
        app=identity.slack_app_id or None,
        queue_channels=settings.queue_channels,
        queue_for_external=settings.queue_for_external,
    )


def _channel_id(channel: str, slack: SlackClient) -> str:
    """Resolve a #name once at start, so a wrong name fails now and crash recovery can search the channel."""
    try:
        return slack.channel_id(channel)
    except Rejected as exc:
        if "missing_scope" in exc.message:
            log.warning("cannot resolve %s without the channels:read scope; using the name as given", channel)
            return channel
        raise StartupError(f"SLACK_CHANNEL: {exc.message.split(': ', 1)[-1]}") from None
    except ServiceError as exc:
        raise StartupError(f"cannot reach Slack at SLACK_API_BASE_URL: {exc.message}") from None


def build_socket(settings: Settings, handler) -> SocketListener | None:  # noqa: ANN001
    """The Socket Mode connection, when SLACK_APP_TOKEN is set."""
    if settings.slack_app_token is None:
        return None
    from bot.slack.socket import SocketListener

    return SocketListener(
        app_token=settings.slack_app_token.get_secret_value(),
        base_url=settings.slack_api_base_url,
        timeout=settings.http_timeout.total_seconds(),
        handler=handler,
    )


def check_socket(socket: SocketListener) -> None:
    """Fail the start with one line when the app token does not work."""
    try:
        socket.check()
    except AuthFailed as exc:
        raise StartupError(f"SLACK_APP_TOKEN was rejected by Slack: {exc.message.split(': ', 1)[-1]}") from None
    except ServiceError as exc:
        raise StartupError(f"SLACK_APP_TOKEN: cannot open Socket Mode: {exc.message}") from None


@dataclass
class App:
    settings: Settings
    store: Store
    identity: Identity
    poll: PollService
    sweep: SweepService
    follow_ups: FollowUpService
    on_call: OnCallService
    health: HealthService
    expiry: ExpiryService
    socket: SocketListener | None = None
    actions: ActionService | None = None  # what the socket's requests do

    def tick(self) -> object:
        """Health and follow-ups queue notices, the sweep posts them and the alerts: in turn, each guarded. IDLE when
        nothing waited (the scheduler then waits IDLE_SWEEP_EVERY, unless woken)."""
        from bot.scheduler import IDLE, guarded

        guarded("health", self.health.run_once)()
        judged = guarded("follow-ups", self.follow_ups.run_once)()
        swept = guarded("sweep", self.sweep.run_once)()
        return IDLE if judged == 0 and getattr(swept, "idle", False) else None

    def jobs(self, lease: Lease | None = None) -> Jobs:
        """What `replywatch run` schedules: (name, job, interval), each on its own thread. With a `lease`, all but
        the socket run only on the replica that leads (bot.leadership)."""
        from bot.leadership import leader_only

        jobs: Jobs = [
            ("poll", self.poll.run_once, self.settings.poll_interval),
            ("sweep", self.tick, SWEEP_EVERY),
            ("on call", self.on_call.run_once, SWEEP_EVERY),
            ("expiry", self.expiry.run_once, EXPIRE_EVERY),
        ]
        if lease is not None:  # after a takeover, what decides and posts Slack messages waits for the old leader's posts
            grace = self.settings.http_timeout
            jobs = leader_only(jobs, lease, self.identity.account.username, grace, after_takeover=("sweep",))
        if self.socket is not None:  # on every replica: button clicks only write to the database
            jobs.append(("socket", self.socket.keep_connected, SOCKET_RETRY))  # runs at once, then until it connects
        return jobs


def build_app(settings: Settings, clock: Clock | None = None) -> App:
    """Everything `replywatch run` needs, checked: tokens verified, schema migrated."""
    from bot.services.actions import ActionService
    from bot.services.expiry import ExpiryService
    from bot.services.followups import FollowUpService
    from bot.services.health import HealthService
    from bot.services.oncall import OnCallService

    clock = clock or SystemClock()
    schedule = load_schedule(settings)
    x, slack = build_x(settings), build_slack(settings)
    identity = verify(settings, x, slack)
    schedule = resolve_people(schedule, slack)
    store = build_store(settings)
    poll = PollService(
        x, store, identity.account, clock, settings.poll_interval,
        signals=signals(settings, identity), responders=identity.responders,
    )
    config = sweep_config(settings, identity, schedule)
    deletions = DeletionCheck(x if settings.check_deleted else None, store, identity.account)
    actions = ActionService(store, slack, clock, identity.channel, config.display_tz, action_access(settings, identity))
    socket = build_socket(settings, actions.handle)
    if socket is not None:
        check_socket(socket)
    return App(
        settings=settings,
        store=store,
        identity=identity,
        poll=poll,
        sweep=SweepService(slack, store, identity.account, clock, config, deletions),
        follow_ups=FollowUpService(store, identity.account, clock, config, deletions),
        on_call=OnCallService(slack, store, clock, config),
        health=HealthService(store, identity.account, clock, settings.poll_interval),
        expiry=ExpiryService(store, clock, config.expire_after),
        socket=socket,
        actions=actions,
    )
