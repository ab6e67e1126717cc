"""`replywatch report`: which period and accounts the options name, then the report in the format asked for. Only
reads: the store is opened as `status` opens it (no migration, no write lock), and no network is asked anything."""

from __future__ import annotations

import argparse
import shutil
import sys
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.config.load import Config
from bot.config.settings import ConfigError
from bot.config.values import parse_duration
from bot.model import AccountKey, Network
from bot.sources import SPECS, names

DEFAULT_SINCE = timedelta(days=7)
FORMATS = ("text", "json", "csv")


def add_parser(sub: Any, run: object) -> None:
    """The `report` subcommand's options."""
    report = sub.add_parser("report", help="the engagement report: mentions, reply times, who answered, what collection cost")
    report.add_argument("--since", metavar="DURATION", help="the period ending now: 7d (the default), 24h, 30d …")
    report.add_argument("--from", dest="start", metavar="DATE", help="the first day of the period, YYYY-MM-DD (local)")
    report.add_argument("--until", metavar="DATE", help="the last day of the period, YYYY-MM-DD (local), included; default: up to now")
    report.add_argument("--account", action="append", metavar="ACCOUNT",
                        help=f"only this account: acme, @acme, or network:handle ({_examples()}); repeatable")
    report.add_argument("--format", choices=FORMATS, default="text", help="text (default), json or csv")
    report.set_defaults(func=run)


def _examples() -> str:
    """network:handle on each network: x:acme, bluesky:acme.bsky.social …"""
    return ", ".join(f"{s.name}:{s.example}" for s in SPECS.values())


def period(args: argparse.Namespace, now: datetime, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """[start, end) from --since, or from --from and --until (local days, --until included); ConfigError naming the
    option when one is wrong."""
    if args.since is not None and (args.start is not None or args.until is not None):
        raise ConfigError("--since cannot be given with --from or --until: a period is either")
    if args.start is None:
        if args.until is not None:
            raise ConfigError("--until needs --from: give the period's first day too")
        try:
            since = DEFAULT_SINCE if args.since is None else parse_duration(args.since)
        except ValueError:
            raise ConfigError(f"--since must be a duration such as 7d, 24h or 30d; got {str(args.since)[:40]!r}") from None
        if since <= timedelta(0):
            raise ConfigError(f"--since must be longer than 0; got {args.since!r}")
        return now - since, now
    first = _day(args.start, "--from")
    if args.until is None:
        return _midnight(first, tz), now
    last = _day(args.until, "--until")
    if last < first:
        raise ConfigError(f"--until ({last}) must not be before --from ({first})")
    return _midnight(first, tz), _midnight(last + timedelta(days=1), tz)


def chosen(values: list[str] | None, watched: list[AccountKey]) -> list[AccountKey] | None:
    """The accounts --account names (None: all); ConfigError for one that names no watched account."""
    if not values:
        return None
    found: list[AccountKey] = []
    for value in values:
        text = value.strip().removeprefix("@").lower()
        network, _, handle = text.partition(":") if ":" in text else ("", "", text)
        if network:
            try:
                found.append(AccountKey(Network(network), handle.removeprefix("@")))
            except ValueError:
                raise ConfigError(f"--account {value!r}: the network must be {names('or')}") from None
            continue
        matches = [w for w in watched if w.handle == text or w.handle.split("@")[0] == text]
        if not matches:
            known = ", ".join(f"{w.network.value}:{w.handle}" for w in watched) or "none"
            raise ConfigError(f"--account {value!r} is not a watched account (watched: {known})")
        found += matches
    return list(dict.fromkeys(found))


def run(config: Config, args: argparse.Namespace, now: datetime) -> int:
    """Build the report the options ask for and write it to stdout (of every account the config names, or, when it
    names none, of those the store holds)."""
    from bot.app.wire import open_store
    from bot.report.build import build_report
    from bot.report.formats import as_csv, as_json, as_text

    span = period(args, now, config.tz)
    only = chosen(args.account, config.keys)
    store = open_store(config.settings)
    try:
        report = build_report(store, config, span, now, only)
    finally:
        store.dispose()
    if args.format == "json":
        sys.stdout.write(as_json(report))
    elif args.format == "csv":
        sys.stdout.write(as_csv(report))
    else:
        width = shutil.get_terminal_size((120, 24)).columns if sys.stdout.isatty() else 120
        sys.stdout.write(as_text(report, width))
    return 0


def _day(value: str, option: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise ConfigError(f"{option} must be a date such as 2026-11-23; got {value[:40]!r}") from None


def _midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz)
