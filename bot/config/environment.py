"""The settings from where they come: the environment and an optional `.env` in the working folder, validated into
Settings; what is wrong in them, as one phrase per variable (ConfigError).

They are read here, as pydantic-settings would read them for Settings (names in any case, the environment before
`.env`, no JSON decoding), rather than by pydantic-settings itself: importing it costs `status` about 50 ms, a tenth
of its time. A name given an empty value is not set (`.env.example` changes nothing until it is filled in). A name
that is not a setting but nearly spells one (`ALERT_AFTR`) is an error naming the setting it resembles: a typo
silently ignored would leave the default in force. Every wrong setting is named at once.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import ValidationError

from bot.config.settings import ConfigError, Settings

DOTENV = ".env"  # in the working folder


def load_settings(**overrides: object) -> Settings:
    """Read and validate the settings, raising ConfigError with one readable line. `overrides` come first, then the
    environment, then `.env` in the working folder, then the defaults."""
    return settings_of(environment(), overrides)


def settings_of(found: dict[str, str], overrides: dict[str, object] | None = None) -> Settings:
    """The settings `found` (lower-cased names, as `environment` gives them) and `overrides` give, validated; a
    ConfigError naming every wrong one otherwise."""
    typos = _misspelt(found)
    try:
        settings = Settings(**{**{k: v for k, v in found.items() if k in Settings.model_fields}, **(overrides or {})})  # type: ignore[arg-type]
    except ValidationError as exc:
        raise ConfigError("; ".join([*typos, *_describe(exc)])) from None
    if typos:
        raise ConfigError("; ".join(typos))
    return settings


def environment() -> dict[str, str]:
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
