"""The shapes a setting's value takes, each parsed with the hint its error message shows."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Literal

from pydantic import BeforeValidator

from bot.report.cadence import Cadence

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
DURATION_HINT = "a duration such as 45s, 15m, 2h, 1d or plain seconds"


def parse_duration(value: object) -> timedelta:
    """Parse `45s`, `15m`, `2h`, `1d` or plain seconds into a timedelta."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return timedelta(seconds=value)
    match = _DURATION.match(str(value))
    if not match:
        raise ValueError(DURATION_HINT)
    number, unit = match.groups()
    return timedelta(seconds=float(number) * _UNIT_SECONDS[unit.lower()])


def split(value: object) -> object:
    """A comma-separated list: `a, b,c` → ("a", "b", "c"); empty items dropped."""
    if isinstance(value, str):
        return tuple(item.strip() for item in value.split(",") if item.strip())
    return value


def _empty_is_none(value: object) -> object:
    return None if value is None or (isinstance(value, str) and not value.strip()) else value


def _number(hint: str, low: float, high: float, kind: type = int):  # noqa: ANN202
    def parse(value: object) -> object:
        value = _empty_is_none(value)
        if value is None:
            return None
        try:
            number = kind(str(value).strip())
        except ValueError:
            raise ValueError(hint) from None
        if not low <= number <= high:
            raise ValueError(hint)
        return number

    return BeforeValidator(parse)


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
CommaList = Annotated[tuple[str, ...], BeforeValidator(split)]
Port = Annotated[int | None, _number("a TCP port from 1 to 65535 (or empty for off)", 1, 65535)]
Count = Annotated[int | None, _number("a whole number above 0 (or empty for none)", 1, 10**12)]
Price = Annotated[float, _number("a price in US dollars per post, such as 0.005", 0, 1000, float)]
Days = Annotated[int | None, _number("a whole number of days of at least 1, such as 30 (or empty to keep everything)", 1, 36500)]
Cadenced = Annotated[Cadence | None, BeforeValidator(Cadence.parse)]


def _lower(value: object) -> object:
    return _empty_is_none(value.strip().lower() if isinstance(value, str) else value)


SinkName = Annotated[Literal["slack", "console"] | None, BeforeValidator(_lower)]
