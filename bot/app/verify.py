"""What `run` and `check` verify before anything is scheduled: the Slack tokens and channels (or, with SINK=console,
nothing: alerts are printed), the on-call file's people, and every watched account on its network. Each failure is a
StartupError: one line naming the setting that is wrong (exit 2). The second of the three steps from the settings to
a running bot (load: bot.config; verify: here; wire: bot.app.wire), so it imports only the first."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from bot.config.accounts import Watched, setting
from bot.config.load import Config
from bot.config.settings import Settings
from bot.errors import AuthFailed, Rejected, ServiceError, UnknownAccount
from bot.model import Account
from bot.sources import SPECS

if TYPE_CHECKING:  # imported where they are built: `status` and `health` need none of these (nor slack_sdk)
    from bot.calendar.feed import Feed
    from bot.console.sink import ConsoleSink
    from bot.ports import Sink, Source
    from bot.slack.client import SlackClient
    from bot.slack.interactions import Answer
    from bot.slack.socket import SocketListener

log = logging.getLogger(__name__)
LOOK_AHEAD = timedelta(days=14)  # the people an on-call feed names this far ahead are looked up in Slack


class StartupError(Exception):
    """A token was rejected or an account does not exist; one line, naming what failed."""


@dataclass
class SlackIdentity:
    team: str
    user: str
    channels: dict[str, str] = field(default_factory=dict)  # each configured channel (#name or ID) → its ID
    team_id: str = ""  # auth.test: the workspace …
    enterprise_id: str = ""  # … its Enterprise organization, if it is in one …
    app_id: str = ""  # … and the app, when auth.test names it


@dataclass
class Watching:
    """A watched account, verified: its adapter, who it is on its network, and whose replies answer its mentions."""

    watched: Watched
    source: Source
    account: Account
    responders: list[Account] = field(default_factory=list)


def build_slack(settings: Settings) -> SlackClient:
    from bot.slack.client import SlackClient

    return SlackClient(
        token=settings.slack_bot_token.get_secret_value(),
        base_url=settings.slack_api_base_url,
        timeout=settings.http_timeout.total_seconds(),
    )


def verify_slack(slack: SlackClient, channels: dict[str, str]) -> SlackIdentity:
    """Check the bot token (`auth.test`) and resolve every alert channel (each with the setting that names it)."""
    try:
        who = slack.auth_test()
    except AuthFailed as exc:
        raise StartupError(f"SLACK_BOT_TOKEN was rejected by Slack: {exc.message.split(': ', 1)[-1]}") from None
    except ServiceError as exc:
        raise StartupError(f"cannot reach Slack at SLACK_API_BASE_URL: {exc.message}") from None
    return SlackIdentity(
        str(who.get("team", "")), str(who.get("user", "")), {c: _channel_id(c, setting, slack) for c, setting in channels.items()},
        team_id=str(who.get("team_id") or ""),
        enterprise_id=str(who.get("enterprise_id") or ""),
        app_id=str(who.get("app_id") or ""),
    )


def connect_sink(config: Config, console: ConsoleSink | None = None) -> tuple[Sink, SlackIdentity, Config]:
    """Where `run` delivers: Slack, its token and channels verified; or, with SINK=console, standard output (said once,
    on stderr, as the process starts). With it, the config whose on-call file names the sink's people rather than
    e-mails. The sink shows times in UTC and names nobody on call until build_app gives it the zone and the rotation
    (its `tz` and `on_call`)."""
    settings = config.settings
    if settings.sink == "console":
        from bot.console.sink import ConsoleSink

        if console is None:
            log.warning(console_note(settings))
        sink: Sink = console or ConsoleSink()
        identity = SlackIdentity("console", "replywatch", {c: c for c in config.channels()})
        return sink, identity, resolve_people(config, sink.person)
    from bot.slack.sink import SlackSink

    slack = build_slack(settings)
    identity = verify_slack(slack, config.channels())
    replying = frozenset(w.key for w in config.accounts if w.reply_from_slack)
    sink = SlackSink(slack, buttons=settings.slack_app_token is not None, tz=UTC, on_call=lambda _now: None, replying=replying)
    return sink, identity, resolve_people(config, sink.person)


def console_note(settings: Settings) -> str:
    """The start's one line with SINK=console: why alerts are printed, and that their buttons do nothing."""
    why = "No SLACK_BOT_TOKEN: alerts" if settings.slack_bot_token is None else "Alerts"
    note = f"{why} are printed here instead of Slack (SINK=console); their buttons cannot be clicked"
    return note + ("; SLACK_APP_TOKEN is not used" if settings.slack_app_token is not None else "")


def verify_account(settings: Settings, watched: Watched, source: Source) -> Watching:
    """Look the account and its responders up on its network: the credentials work and the handles exist."""
    label, where = watched.network.label, _setting(watched, "instance")
    try:
        account = source.account()
    except UnknownAccount:
        raise StartupError(f"{_setting(watched, 'handle')}: {label} has no account @{watched.handle}") from None
    except AuthFailed as exc:
        names = "/".join(SPECS[watched.network].credential_names(settings, watched))
        raise StartupError(f"{names} was rejected by {label}: {exc.message.split(': ', 1)[-1]}") from None
    except ServiceError as exc:
        raise StartupError(f"cannot reach {label} at {where}: {exc.message}") from None
    responders = []
    for handle in watched.responders if watched.responders is not None else settings.responders:
        try:
            responders.append(source.lookup(handle))
        except UnknownAccount:
            raise StartupError(f"{_setting(watched, 'responders')}: {label} has no account @{handle}") from None
        except ServiceError as exc:
            raise StartupError(f"{_setting(watched, 'responders')}: cannot look up @{handle}: {exc.message}") from None
    return Watching(watched, source, account, responders)


def _setting(watched: Watched, key: str) -> str:
    """How the setting is named to whoever fixes it: X_ACCOUNT's own variables, or the file's key."""
    by = SPECS[watched.network].settings
    if by is not None and watched.source == by.account:
        return by.names[key]
    return setting(watched.source, key)


def resolve_people(config: Config, person: Callable[[str], str | None]) -> Config:
    """The config with the e-mails of its on-call file turned into the sink's user IDs (`person`: Slack's
    users.lookupByEmail), once at start."""
    schedule = config.schedule
    if schedule is None:
        return config
    users = {}
    for key, email in schedule.emails():
        try:
            user = person(email)
        except ServiceError as exc:
            raise StartupError(f"{schedule.source}, {key}: cannot look up {email} in Slack: {exc.message}") from None
        if user is None:
            raise StartupError(f"{schedule.source}, {key}: Slack has no user with the e-mail {email}")
        users[email] = user
    return replace(config, schedule=schedule.resolved(users))


class FeedPeople:
    """Turns the e-mails the on-call iCal feeds name (from now to LOOK_AHEAD) into the sink's user IDs (`person`:
    Slack's users.lookupByEmail): at start, and after each good fetch, for those not looked up yet. Unlike the file's
    e-mails, none stops the start (the feed changes without us): one Slack does not know is logged once and stays an
    e-mail (shown, not pinged); one that could not be looked up (Slack failing) is tried again after the next fetch."""

    def __init__(self, person: Callable[[str], str | None]) -> None:
        self.person = person
        self.unknown: set[str] = set()  # e-mails Slack answered it has no user for

    def __call__(self, feeds: Sequence[Feed], now: datetime) -> None:
        for f in feeds:
            users: dict[str, str] = {}
            for email in f.people(now, now + LOOK_AHEAD):
                if email in f.source.users or email in self.unknown:
                    continue
                try:
                    user = self.person(email)
                except ServiceError as exc:
                    log.warning("%s names %s: cannot look them up in Slack now (%s); tried again after its next fetch",
                                f.name, email, exc.message)
                    break
                if user is None:
                    log.warning("%s names %s, but Slack has no user with that e-mail: shown, not pinged", f.name, email)
                    self.unknown.add(email)
                else:
                    users[email] = user
            if users:
                f.resolve(users)


def _channel_id(channel: str, setting: str, slack: SlackClient) -> str:
    """Resolve a #name once at start, so a wrong name fails now and crash recovery can search the channel."""
    try:
        return slack.channel_id(channel)
    except Rejected as exc:
        if "missing_scope" in exc.message:
            log.warning("cannot resolve %s without the channels:read scope; using the name as given", channel)
            return channel
        raise StartupError(f"{setting}: {exc.message.split(': ', 1)[-1]}") from None
    except ServiceError as exc:
        raise StartupError(f"cannot reach Slack at SLACK_API_BASE_URL: {exc.message}") from None


def build_socket(settings: Settings, handler: Callable[[], Callable[[str, dict], Answer]]) -> SocketListener | None:
    """The Socket Mode connection, when SLACK_APP_TOKEN is set and alerts go to Slack; `handler()` makes what answers
    its requests (made only then)."""
    if settings.slack_app_token is None or settings.sink == "console":
        return None
    from bot.slack.socket import SocketListener

    return SocketListener(
        app_token=settings.slack_app_token.get_secret_value(),
        base_url=settings.slack_api_base_url,
        timeout=settings.http_timeout.total_seconds(),
        handler=handler(),
    )


def check_socket(socket: SocketListener) -> None:
    """Fail the start with one line when the app token does not work."""
    try:
        socket.check()
    except AuthFailed as exc:
        raise StartupError(f"SLACK_APP_TOKEN was rejected by Slack: {exc.message.split(': ', 1)[-1]}") from None
    except ServiceError as exc:
        raise StartupError(f"SLACK_APP_TOKEN: cannot open Socket Mode: {exc.message}") from None
