"""The config, read once as a command starts: the settings (bot.config.environment), and from the TOML file
(REPLYWATCH_CONFIG, else ./replywatch.toml) the watched accounts (bot.config.accounts) and the on-call rotation and
business hours (bot.calendar.schedule_file), into one typed Config that every command and service receives. Nothing
reads the file again while the process runs. Every problem in any of them is named at once, in one line
(ConfigError).
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.calendar import schedule_file
from bot.calendar.schedule import Schedule, ScheduleError
from bot.config import accounts
from bot.config.accounts import AccountsError, NoAccounts, Watched
from bot.config.environment import environment, settings_of
from bot.config.settings import ConfigError, Settings, config_path
from bot.model import AccountKey


class Use(Enum):
    """What a command needs of the accounts."""

    RUN = "run"  # every account with its credentials; none to watch is an error
    CHECK = "check"  # the same, but none to watch is said (Config.no_accounts), not failed
    READ = "read"  # only which they are, without credentials (commands that read the database); a wrong entry too


@dataclass(frozen=True)
class Config:
    """Everything replywatch was told, read once."""

    settings: Settings
    accounts: tuple[Watched, ...] = ()
    schedule: Schedule | None = None  # the on-call rotation and business hours, when the file gives them
    secrets: tuple[str, ...] = ()  # every secret value given, for the log redactor
    no_accounts: str | None = None  # why `accounts` is empty (Use.CHECK, Use.READ)

    @property
    def tz(self) -> ZoneInfo:
        """The one time zone of everything local (business hours, rotations, times shown in Slack, snoozes, the report,
        REPORT_EVERY, the nightly purge): the on-call file's `timezone` when it names one, else TIMEZONE."""
        return self.schedule.tz if self.schedule is not None else ZoneInfo(self.settings.timezone)

    @property
    def keys(self) -> list[AccountKey]:
        """The watched accounts as the store keys them."""
        return [w.key for w in self.accounts]

    def channels(self) -> dict[str, str]:
        """Every channel alerts go to, with the setting that names it."""
        found = {self.settings.slack_channel: "SLACK_CHANNEL"}
        for w in self.accounts:
            if w.channel:
                found.setdefault(w.channel, accounts.setting(w.source, "channel"))
        return found


def load_config(use: Use = Use.RUN, environ: Mapping[str, str] | None = None, settings: Settings | None = None) -> Config:
    """Read everything once: `settings`, else the environment's and `.env`'s; the file they name; each account's
    credentials from `environ` (default: the process's environment). A ConfigError names every problem found."""
    environ = os.environ if environ is None else environ
    problems: list[str] = []
    if settings is None:
        found = environment()
        given = found.get("replywatch_config")
        try:
            settings = settings_of(found)
        except ConfigError as exc:  # the file is still read, so that its problems are named in the same line
            problems.append(str(exc))
    else:
        given = settings.replywatch_config
    path = config_path(given)
    named = f"REPLYWATCH_CONFIG ({path})" if given else str(path)
    try:
        tables = _read(path, named)
    except ConfigError as exc:
        raise ConfigError("; ".join([*problems, str(exc)])) from None
    watched: tuple[Watched, ...] = ()
    no_accounts = None
    try:
        watched = tuple(accounts.load(settings, tables, str(path), None if use is Use.READ else environ))
    except NoAccounts as exc:
        if use is Use.RUN and settings is not None:  # without valid settings, X_ACCOUNT's absence is not yet known
            problems.append(str(exc))
        no_accounts = str(exc)
    except AccountsError as exc:
        if use is not Use.READ:
            problems.append(str(exc))
        no_accounts = str(exc)
    schedule = None
    if tables:
        try:
            schedule = schedule_file.parse(tables, str(path), settings.timezone if settings is not None else "UTC")
        except ScheduleError as exc:
            problems.append(f"{named}: {exc}")
    if problems:
        raise ConfigError("; ".join(dict.fromkeys(problems)))
    assert settings is not None
    secrets = (*settings.secrets(), *accounts.named_secrets(tables, environ))
    return Config(settings, watched, schedule, secrets, no_accounts)


def _read(path: Path | None, named: str) -> dict:
    """The file's tables (empty without a file); ConfigError when it cannot be read or parsed."""
    if path is None:
        return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{named}: cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{named}: not valid TOML: {exc}") from None
