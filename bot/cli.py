"""The command line: run, status, report, check, db upgrade, health. Thin: parse, load settings, call the library."""

from __future__ import annotations

import argparse
import gc
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime

import bot
from bot import logs
from bot import status as view
from bot.calendar import oncall_view
from bot.clock import SystemClock
from bot.config.load import Config, Use, load_config
from bot.config.settings import ConfigError
from bot.demo import command as demo
from bot.humanize import format_age
from bot.report import command as report
from bot.sources import labels

# The rest (SQLAlchemy and the store, the services, the scheduler) is imported by the commands that use it:
# `status`, `health` and `oncall` answer sooner for not loading what only `run` and `check` need.

log = logging.getLogger("bot")

STATUS_LIMIT = 50  # open mentions `status` lists unless told otherwise
ONCALL_FETCH = 5.0  # seconds `oncall` gives each on-call iCal feed's fetch: someone is waiting at a terminal
SHUTDOWN_GRACE = 3.0  # seconds a stop waits for runs under way; exit follows within 5 s of SIGTERM, Docker kills at 10


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    config: Config | None = None
    try:
        if not getattr(args, "needs_settings", True):  # the demo: nothing of this machine's settings is used
            return args.func(None, args)
        config = load_config(args.use)
        logs.configure(config.settings.log_level, config.settings.log_format, config.secrets)
        return args.func(config, args)
    except ConfigError as exc:
        return _fail(str(exc), config)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        message = _failure(exc)
        if message is None:
            raise
        return _fail(message, config)


def _failure(exc: Exception) -> str | None:
    """The one line a startup or database failure ends with; None for anything else (a bug: its traceback shows)."""
    from sqlalchemy.exc import SQLAlchemyError

    from bot.app.wire import StartupError
    from bot.store.db import SchemaError

    if isinstance(exc, StartupError):
        return str(exc)
    if isinstance(exc, SchemaError):
        return f"DATABASE_URL: {exc}"
    if isinstance(exc, SQLAlchemyError):
        return f"DATABASE_URL: cannot use the database: {type(exc).__name__}: {exc.args[0] if exc.args else ''}"
    return None


def _fail(message: str, config: Config | None) -> int:
    text = logs.one_line(message.splitlines()[0] if message else "failed")
    if config is not None:
        text = logs.Redactor(config.secrets).redact(text)
    print(f"replywatch: {text}", file=sys.stderr)
    return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="replywatch",
        description=f"Watch your accounts' mentions on {labels()} and alert Slack about the ones nobody "
        "answered. Settings come from the environment and ./.env (see README).",
    )
    parser.add_argument("--version", action="version", version=f"replywatch {bot.version()}")
    parser.set_defaults(use=Use.READ)  # what the command needs of the accounts (bot.config.load.Use): most only read
    sub = _Described(parser.add_subparsers(title="commands", metavar="COMMAND"))
    run = sub.add_parser("run", help="run the service: poll the networks, alert Slack (SINK=console: print); SIGTERM or Ctrl-C stops it")
    run.set_defaults(func=_run, use=Use.RUN)
    status = sub.add_parser("status", help="show open mentions, oldest first, and how collection is going")
    status.add_argument("--json", action="store_true", help="print JSON instead of a table")
    status.add_argument("--all", action="store_true", help="also list closed mentions, newest first, with why each closed")
    status.add_argument("--limit", type=_count, default=STATUS_LIMIT, metavar="N",
                        help=f"list the N oldest open mentions (and N closed ones with --all); 0: all (default {STATUS_LIMIT})")
    status.set_defaults(func=_status)
    report.add_parser(sub, lambda config, args: report.run(config, args, SystemClock().now()))
    demo.add_parser(sub)
    check = sub.add_parser(
        "check", help="validate the settings, the Slack tokens and channels, and every account's credentials on its network"
    )
    check.set_defaults(func=_check, use=Use.CHECK)
    db = sub.add_parser("db", help="database commands")
    db_sub = _Described(db.add_subparsers(title="db commands", metavar="DB_COMMAND"))
    db_upgrade = db_sub.add_parser("upgrade", help="apply the schema migrations (run also does this on start)")
    db_upgrade.set_defaults(func=_db_upgrade)
    oncall = sub.add_parser("oncall", help="who is on call and backup, the handoffs of the next 14 days, when the hours change")
    oncall.add_argument("--at", metavar='"YYYY-MM-DD HH:MM"', help="answer for this moment (local to the file's timezone) instead of now")
    oncall.set_defaults(func=_oncall)
    health = sub.add_parser("health", help="exit 0 while every part works, else 1 naming each broken part (for container health checks)")
    health.add_argument("--alive", action="store_true",
                        help="only what a restart cures: no poll tried lately (a liveness probe; a failing network is left out)")
    health.set_defaults(func=_health)
    return parser


class _Described:
    """Subcommands whose `--help` starts with what they do: their one-line help, as their description too."""

    def __init__(self, parsers: argparse._SubParsersAction) -> None:
        self._parsers = parsers

    def add_parser(self, name: str, **kwargs: object) -> argparse.ArgumentParser:
        kwargs.setdefault("description", kwargs.get("help"))
        return self._parsers.add_parser(name, **kwargs)  # type: ignore[arg-type]


def _run(config: Config, _args: argparse.Namespace) -> int:
    from bot.app.wire import IDLE_SWEEP_EVERY, StartupError, build_app, poll_job
    from bot.leadership import open_lease
    from bot.metrics.http import MetricsServer
    from bot.scheduler import build_scheduler

    settings = config.settings
    # a port in use, or an address not this host's, fails the start first
    server = MetricsServer(settings.metrics_port, settings.metrics_addr) if settings.metrics_port else None
    lease = open_lease(settings.database_url, config.accounts[0].handle)  # one replica leads; on SQLite one process runs
    if not lease.acquire() and not lease.standby:
        raise StartupError(f"DATABASE_URL: {lease.problem}")
    app = build_app(config, SystemClock(), server.metrics if server else None)
    # what a poll stored, or a click in Slack changed, is swept at once; with nothing waiting, the sweep rests
    then = {poll_job(p.where): "sweep" for p in app.polls}
    scheduler = build_scheduler(app.jobs(lease), then=then, idle={"sweep": IDLE_SWEEP_EVERY})
    if app.actions is not None:
        app.actions.on_change = lambda: scheduler.wake("sweep")
    if app.replies is not None:  # a reply recorded goes out at once; one posted is swept (its alert edited) at once
        app.replies.on_change = lambda: (scheduler.wake("replies"), scheduler.wake("sweep"))
    if app.deletions is not None:  # a look-up that answered: what waited on it goes out
        app.deletions.wake = lambda: scheduler.wake("sweep")
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    for w in app.watching:
        rules = app.sweep.config.rules(w.watched.key)
        log.info(
            "watching %s (id %s), alerting %s after %s, polling every %s",
            w.watched.key, w.account.id, rules.channel, format_age(rules.alert_after), format_age(settings.poll_interval),
        )
    if server is not None:
        server.start(app, logs.Redactor(config.secrets).redact)
        if app.parts is not None:  # health names it when it stops serving
            app.parts.failing.append(lambda: {"metrics server": why} if (why := server.problem()) else {})
    scheduler.start()
    stop.wait()
    log.info("stopping")
    if server is not None:
        server.stop()
    deadline = time.monotonic() + SHUTDOWN_GRACE
    closing = None
    if app.socket is not None:  # its close waits for button work that may be stuck on Slack: bounded like the jobs
        closing = threading.Thread(target=app.socket.close, name="replywatch-socket-close", daemon=True)
        closing.start()
    scheduler.shutdown(wait=True, timeout=deadline - time.monotonic())
    lease.release()  # a standby takes over now rather than when this process is gone
    app.store.dispose()  # closes only idle connections; one an abandoned job holds goes when the process does
    if closing is not None:
        closing.join(max(0.0, deadline - time.monotonic()))
        if closing.is_alive():
            # Python would join the socket's worker threads at exit, however long their calls hang: leave now.
            log.warning("stopping without waiting any longer for Slack button work: abandoned mid-call")
            logging.shutdown()
            os._exit(0)
    return 0


def _status(config: Config, args: argparse.Namespace) -> int:
    """The open queue (a summary and the oldest --limit), collection, failing channels and parked messages. Rows are
    read a thousand at a time and written as they come: fast and small however long the queue is."""
    with _quick_imports():  # SQLAlchemy, and the database driver as the engine loads it
        from bot.app.configure import alert_policy
        from bot.app.wire import open_store
        from bot.report.cost import Prices, meter
        from bot.services.health import verdict_of

        policy = alert_policy(config)
        store = open_store(config.settings)
    settings = config.settings
    now = SystemClock().now()
    limit = args.limit or None
    with store.read() as repo:
        queues = repo.open_by_account()  # every account with an open mention, and every one watched
        watched = config.keys or repo.polled_accounts()  # none configured: those this database has read
        accounts = list(dict.fromkeys([*watched, *sorted(queues, key=str)]))
        health = [(where, h) for where in accounts for h in repo.health(where)]
        closed = repo.closed_mentions(args.limit or 1000) if args.all else None
        parked = repo.parked()
        channels = repo.failing_channels()
        redact = logs.Redactor(config.secrets).redact
        broken = verdict_of(repo, watched, now, settings.poll_interval, settings.http_timeout, redact=redact)
        reads = view.Reads(meter(repo, now, Prices.of(settings)), settings.x_monthly_read_budget, now)
        days = settings.retention_days
        retention = view.Retention(days, config.tz, now, *(repo.retention_state() if days else ()))
        if args.json:
            total, alerted, oldest = repo.open_summary()
            summary = {
                "open": total, "alerted": alerted, "oldest_created_at": view.iso(oldest), "listed": min(total, limit or total),
                "accounts": [{"network": w.network.value, "account": w.handle, "open": queues.get(w, 0)} for w in accounts],
            }
            rows = repo.iter_open_mentions(limit)
            view.write_json(summary, rows, closed, health, parked, channels, reads, policy, now, broken, retention)
        else:  # the table shows neither how many are alerted nor when the oldest was posted: the counts are cheaper
            lists = [(where, queues.get(where, 0), repo.iter_open_mentions(limit, where)) for where in accounts]
            view.write_text(sum(queues.values()), limit, lists, closed, health, parked, channels, reads, policy, now, broken, retention)
    return 0


@contextmanager
def _quick_imports() -> Iterator[None]:
    """Import the store (SQLAlchemy) for a quick read without the cyclic garbage collector, then freeze what was
    imported out of its way. Importing makes some 80,000 objects that live as long as the process: collecting among
    them as they are made cost `status` a tenth of its time, and more on a busy machine."""
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.enable()


def _count(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"a whole number of at least 0, not {text!r}")
    return int(text)


def _oncall(config: Config, args: argparse.Namespace) -> int:
    schedule = config.schedule
    if schedule is None:
        print("no on-call file: set REPLYWATCH_CONFIG or put a replywatch.toml in the working folder (see README)")
        return 0
    tz = schedule.tz
    now = at = SystemClock().now()
    if args.at:
        try:
            at = datetime.strptime(args.at.strip(), "%Y-%m-%d %H:%M").replace(tzinfo=tz)
        except ValueError:
            raise ConfigError(f'--at must be a local time such as "2026-12-24 10:00"; got {args.at[:40]!r}') from None
    problems = []
    if schedule.feeds():  # fetched now, briefly; a failure shows the copy `run` cached (bot.calendar.feed)
        from bot.app.wire import feed_cache_dir
        from bot.calendar import feed

        for one in feed.feeds(schedule, feed_cache_dir(config.settings), timeout=ONCALL_FETCH):
            problem = one.refresh(now)  # stamped with the clock's now, whatever moment is shown
            if problem is not None:
                problems.append(problem)
    oncall_view.write(schedule, at, problems)
    return 0


def _check(config: Config, _args: argparse.Namespace) -> int:
    from bot.app.check import check

    redactor = logs.Redactor(config.secrets)
    check(config, lambda line: print(redactor.redact(line)))  # the lines show what the networks and Slack answered
    return 0


def _db_upgrade(config: Config, _args: argparse.Namespace) -> int:
    from bot.app.wire import build_store

    build_store(config.settings)
    print("database: schema up to date")
    return 0


def _health(config: Config, args: argparse.Namespace) -> int:
    """Exit 0 while every part works, else 1 with a line per broken part: the verdict /healthz and `status` give
    (with --alive, only what a restart cures)."""
    with _quick_imports():
        from bot.app.wire import open_store

        store = open_store(config.settings)
    from bot.services.health import verdict_of

    redact = logs.Redactor(config.secrets).redact
    settings = config.settings
    with store.read() as repo:
        broken = verdict_of(repo, config.keys, SystemClock().now(), settings.poll_interval, settings.http_timeout,
                            redact=redact, alive=args.alive)
    for line in broken:
        print(f"unhealthy: {line}", file=sys.stderr)
    if broken:
        return 1
    print("healthy")
    return 0


if __name__ == "__main__":
    sys.exit(main())
