"""`replywatch check`: verify everything `run` would, and say what was found, one line each (the settings, Slack or
the console, the on-call file, the database, every watched account on its network). It runs the three steps `run`
runs (load, verify, wire) up to the first poll, so it imports all three."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from bot.app.verify import FeedPeople, build_slack, build_socket, check_socket, resolve_people, verify_account, verify_slack
from bot.app.wire import build_source, open_store
from bot.calendar import feed
from bot.calendar import schedule as sched
from bot.clock import SystemClock
from bot.config.load import Config
from bot.sources import SPECS
from bot.store.db import SchemaError
from bot.store.repository import StoredSessions


def check(config: Config, say: Callable[[str], None]) -> None:
    """`replywatch check`: verify everything `run` would, and say what was found, one line each."""
    settings = config.settings
    person: Callable[[str], str | None] | None = None  # Slack's look-up of an e-mail
    if settings.sink == "console":
        say("settings: ok")
        say(f"Slack: not used (SINK=console); `replywatch run` prints alerts for {', '.join(config.channels())}")
    else:
        config, person = _check_slack(config, say)
    if config.no_accounts:  # a fresh .env.example: nothing is wrong yet, there is only nothing to check
        say(f"accounts: none to watch yet: {config.no_accounts}; `replywatch run` needs one")
    schedule = config.schedule
    if schedule is not None:
        now = SystemClock().now()
        _check_feeds(schedule, now, person, say)
        holder = sched.on_call(schedule.oncall, schedule.tz, now) if schedule.oncall else None
        now_on_call = f"; now {holder or 'nobody known'}" if schedule.oncall else ""
        say(f"on call: {schedule.source} ok{now_on_call}")
    try:
        store = open_store(settings)
    except SchemaError as exc:
        if not exc.upgradeable:
            raise
        store = None
        say(f"database: {exc}")  # not a failure: `run` migrates on start
    sessions = StoredSessions(store, SystemClock(), keep=False)
    for w in config.accounts:  # one line each: the credentials work and the account exists
        watching = verify_account(settings, w, build_source(settings, w, sessions))
        auth = SPECS[w.network].auth_word(settings, w)
        helpers = "".join(f"; replies by @{r.username} count" for r in watching.responders)
        say(f"{w.network.value}: token ok ({auth}); watching {w.key} (id {watching.account.id}){helpers}")
        if w.reply_from_slack:  # X says whether its app may write only in the answer to a user-context call
            refusal = watching.source.write_refusal()
            say(f"{w.network.value}: replies from Slack as {w.key}: " + (f"cannot be posted: {refusal}" if refusal else "ok"))
    if store is not None:
        with store.read() as repo:
            open_count = repo.open_count()
        say(f"database: ok, schema up to date, {open_count} open mention(s)")


def _check_feeds(
    schedule: sched.Schedule, now: datetime, person: Callable[[str], str | None] | None, say: Callable[[str], None]
) -> None:
    """One line a feed: fetched and read now, or why not. Neither its cache is read nor written (that is `run`'s);
    a broken feed fails nothing, as `run` starts without it. The people it names are looked up in Slack."""
    for key, source in schedule.feeds():
        fetched = feed.Feed(key, source, schedule.tz, None)
        problem = fetched.refresh(now)
        if problem is None and person is not None:
            FeedPeople(person)([fetched], now)
        say(f"on call: {problem or fetched.health().line}")


def _check_slack(config: Config, say: Callable[[str], None]) -> tuple[Config, Callable[[str], str | None]]:
    settings = config.settings
    slack = build_slack(settings)
    identity = verify_slack(slack, config.channels())
    say("settings: ok")
    places = ", ".join(f"{name} ({channel})" for name, channel in identity.channels.items())
    say(f"slack: token ok (team {identity.team!r}, bot user {identity.user!r}); alerts go to {places}")
    config = resolve_people(config, slack.lookup_email)
    socket = build_socket(settings, lambda: lambda *_: None)
    if socket is not None:
        check_socket(socket)
        say("slack: app token ok; Socket Mode on (alert buttons and /replywatch)")
    else:
        say("slack: SLACK_APP_TOKEN not set; alerts carry a link and no buttons")
    return config, slack.lookup_email
