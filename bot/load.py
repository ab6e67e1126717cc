"""Where the settings come from: the environment, an optional `.env`, and the TOML file (REPLYWATCH_CONFIG);
what is wrong in them, as one line naming the variable or key (ConfigError).

The environment and `.env` are read here, as pydantic-settings would read them for Settings (names in any case,
the environment before `.env`, no JSON decoding), rather than by pydantic-settings itself: importing it costs
`status` about 50 ms, a tenth of its time. A name given an empty value is not set (`.env.example` changes nothing
until it is filled in). A name that is not a setting but nearly spells one (`ALERT_AFTR`) is an error naming the
setting it resembles: a typo silently ignored would leave the default in force. Every wrong setting is named at
once, in one line.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from bot.calendar import schedule, schedule_file
from bot.calendar.schedule import Schedule
from bot.config import ConfigError, Settings

DOTENV = ".env"  # in the working folder


def read_config_file(settings: Settings) -> dict:
    """The TOML file's tables (empty without a file); ConfigError when it cannot be read or parsed."""
    path = settings.config_path()
    if path is None:
        return {}
    try:
        return tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{config_file(settings)}: cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{config_file(settings)}: not valid TOML: {exc}") from None


def config_file(settings: Settings) -> str:
    """The TOML file as a person finds it: the setting that named it, or the file found in the working folder."""
    path = settings.config_path()
    return f"REPLYWATCH_CONFIG ({path})" if settings.replywatch_config else str(path)


def load_schedule(settings: Settings) -> Schedule | None:
    """The on-call rotation and business hours, if a file gives them; ConfigError naming the key otherwise."""
    data = read_config_file(settings)
    if not data:
        return None
    path = settings.config_path()
    try:
        return schedule_file.parse(data, str(path), settings.timezone)
    except schedule.ScheduleError as exc:
        raise ConfigError(f"{config_file(settings)}: {exc}") from None


def time_zone(settings: Settings, schedule: Schedule | None) -> ZoneInfo:
    """The one time zone of everything local (business hours, rotations, times shown in Slack, snoozes, the report,
    REPORT_EVERY, the nightly purge): the on-call file's `timezone` when it names one, else TIMEZONE."""
    return schedule.tz if schedule is not None else ZoneInfo(settings.timezone)


def load_settings(**overrides: object) -> Settings:
    """Read and validate the settings, raising ConfigError with one readable line. `overrides` come first, then the
    environment, then `.env` in the working folder, then the defaults."""
    found = _environment()
    typos = _misspelt(found)
    try:
        settings = Settings(**{**{k: v for k, v in found.items() if k in Settings.model_fields}, **overrides})  # type: ignore[arg-type]
    except ValidationError as exc:
        raise ConfigError("; ".join([*typos, *_describe(exc)])) from None
    if typos:
        raise ConfigError("; ".join(typos))
    return settings


def _environment() -> dict[str, str]:
    """The values the environment and `.env` give, by lower-cased name (the last of several spellings wins); a name
    without a value, or with an empty one, is not set."""
    found: dict[str, str | None] = {}
    dotenv = Path(DOTENV)
    if dotenv.is_file() or dotenv.is_fifo():
        from dotenv import dotenv_values

        found.update({name.lower(): value for name, value in dotenv_values(dotenv, encoding="utf-8").items()})
    found.update({name.lower(): value for name, value in os.environ.items()})
    return {name: value for name, value in found.items() if value}


def _misspelt(found: dict[str, str]) -> list[str]:
    """A line for each name given that is not a setting but nearly spells one."""
    import difflib

    fields = list(Settings.model_fields)
    lines = []
    for name in sorted(found):
        if name not in fields and (near := difflib.get_close_matches(name, fields, n=1, cutoff=0.85)):
            lines.append(f"{name.upper()} is not a replywatch setting; did you mean {near[0].upper()}?")
    return lines


_TYPE_HINTS = {
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "bool_parsing": "true or false",
}


def _describe(exc: ValidationError) -> list[str]:
    """One phrase per wrong setting, each naming it."""
    return list(dict.fromkeys(_phrase(error) for error in exc.errors()))


def _phrase(error: dict) -> str:
    loc = error.get("loc") or ()
    name = str(loc[0]).upper() if loc else ""
    kind = error.get("type", "")
    if kind == "missing":
        return f"{name} is required but not set"
    if kind in _TYPE_HINTS:
        return f"{name} must be {_TYPE_HINTS[kind]}"
    if kind == "literal_error":
        expected = (error.get("ctx") or {}).get("expected", "")
        return f"{name} must be one of {expected}"
    message = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
    if not name:
        return message
    return f"{name} must be {message}"
