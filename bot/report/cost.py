"""What collection and replies cost: X bills each post a read returns (X_PRICE_PER_READ), and less for a post of the
account's own timelines read under user-context auth (X_PRICE_PER_OWNED_READ; the `owned` count of a Read, a part of
its `posts`); and each post it creates, a reply sent from Slack (X_PRICE_PER_POST, or X_PRICE_PER_POST_WITH_LINK for
one with a link: the `reply` and `reply with a link` endpoints). Bluesky and Mastodon bill nothing. Pure: prices and
counts in, US dollars out.

`status` and the report both use it:

    prices = Prices.of(settings)
    with store.read() as repo:
        meters = meter(repo, now, prices)      # {AccountKey: Meter(today=Usage, month=Usage)}
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol

from bot.model import AccountKey, Network, Read
from bot.report.model import Endpoint, Usage
from bot.sources import SPECS

WRITES = ("reply", "reply with a link")  # the endpoints that create a post: billed per request


@dataclass(frozen=True)
class Prices:
    """US dollars per post read from X (`per_read` in general, `per_owned_read` for the owned ones) and per post it
    creates (`per_post`, `per_post_with_link`)."""

    per_read: float
    per_owned_read: float
    per_post: float = 0.015
    per_post_with_link: float = 0.200

    @classmethod
    def of(cls, settings: object) -> Prices:
        """The prices configured in Settings (X_PRICE_PER_READ, X_PRICE_PER_OWNED_READ, X_PRICE_PER_POST,
        X_PRICE_PER_POST_WITH_LINK)."""
        s: Any = settings
        return cls(float(s.x_price_per_read), float(s.x_price_per_owned_read), float(s.x_price_per_post),
                   float(s.x_price_per_post_with_link))


def spend(network: Network | str, read: Read, prices: Prices) -> float:
    """What `read` costs on `network`, in US dollars (0 where reads are not billed: Bluesky and Mastodon)."""
    if not SPECS[Network(network)].billed:
        return 0.0
    if read.endpoint in WRITES:
        return read.requests * (prices.per_post if read.endpoint == WRITES[0] else prices.per_post_with_link)
    owned = min(read.owned, read.posts)
    return (read.posts - owned) * prices.per_read + owned * prices.per_owned_read


def usage(reads: Iterable[tuple[AccountKey, Read]], prices: Prices) -> dict[AccountKey, Usage]:
    """Per account: requests, posts, owned posts and spend, summed over the reads, with each endpoint's share."""
    found: dict[AccountKey, list[Endpoint]] = {}
    for where, read in reads:
        endpoints = found.setdefault(where, [])
        endpoints.append(Endpoint(where.network.value, read.endpoint, read.requests, read.posts, read.owned,
                                  spend(where.network, read, prices)))
    return {where: combine(endpoints) for where, endpoints in found.items()}


def combine(endpoints: Iterable[Endpoint]) -> Usage:
    """One Usage of these endpoints' counts, the same endpoint of the same network added up."""
    merged: dict[tuple[str, str], Endpoint] = {}
    for e in endpoints:
        old = merged.get((e.network, e.endpoint))
        merged[(e.network, e.endpoint)] = e if old is None else Endpoint(
            e.network, e.endpoint, old.requests + e.requests, old.posts + e.posts, old.owned + e.owned, old.spend + e.spend,
        )
    rows = tuple(merged[k] for k in sorted(merged))
    return Usage(sum(e.requests for e in rows), sum(e.posts for e in rows), sum(e.owned for e in rows),
                 sum((e.spend for e in rows), 0.0), rows)


@dataclass(frozen=True)
class Meter:
    """What one account read today and this month (UTC days, as X bills)."""

    today: Usage
    month: Usage


class ReadsReader(Protocol):
    """What `meter` reads through: the store's Reads part (bot.store.reads)."""

    def reads(self, since: date, until: date | None = None, where: AccountKey | None = None) -> list[tuple[AccountKey, Read]]: ...


def today_and_month(now: datetime) -> tuple[date, date, date]:
    """(today, the first of this month, tomorrow) as UTC days: today is [today, tomorrow), the month [first, tomorrow)."""
    today = now.astimezone(UTC).date()
    return today, today.replace(day=1), today + timedelta(days=1)


def meter(reader: ReadsReader, now: datetime, prices: Prices) -> dict[AccountKey, Meter]:
    """Every account that read anything this month: its Usage today and this month (two reads of the store)."""
    today, first, tomorrow = today_and_month(now)
    day = usage(reader.reads(today, tomorrow), prices)
    month = usage(reader.reads(first, tomorrow), prices)
    return {where: Meter(day.get(where, Usage()), month[where]) for where in month}

