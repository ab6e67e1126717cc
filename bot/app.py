"""The composition root: the one place that builds real adapters from Settings. Tests build their own."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bot.clock import Clock, SystemClock
from bot.config import Settings
from bot.errors import AuthFailed, Rejected, ServiceError, UnknownAccount
from bot.model import Account
from bot.services.poll import PollService
from bot.services.sweep import SweepService
from bot.slack.client import SlackClient
from bot.store.db import make_engine, upgrade
from bot.store.repository import Store
from bot.x.client import XClient

log = logging.getLogger(__name__)


class StartupError(Exception):
    """A token was rejected or the account does not exist; one line, naming what failed."""


def build_store(settings: Settings) -> Store:
    """Open the database and bring its schema up to date."""
    engine = make_engine(settings.database_url)
    upgrade(engine)
    return Store(engine)


def build_x(settings: Settings) -> XClient:
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
    return Identity(account, slack_team=str(who.get("team", "")), slack_user=str(who.get("user", "")), channel=channel)


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


@dataclass
class App:
    settings: Settings
    store: Store
    identity: Identity
    poll: PollService
    sweep: SweepService


def build_app(settings: Settings, clock: Clock | None = None) -> App:
    """Everything `replywatch run` needs, checked: tokens verified, schema migrated."""
    clock = clock or SystemClock()
    x, slack = build_x(settings), build_slack(settings)
    identity = verify(settings, x, slack)
    store = build_store(settings)
    poll = PollService(x, store, identity.account, clock, settings.poll_interval)
    sweep = SweepService(
        slack, store, identity.account, clock, identity.channel, settings.alert_after, settings.poll_interval, x
    )
    return App(settings=settings, store=store, identity=identity, poll=poll, sweep=sweep)
