"""The report's plain data: what bot.report.compute works out, what the formats and the chart show, and what a
weekly report notice keeps (every field serialises to JSON: `Report.to_json()` and `Report.from_json()` give back an
equal Report).

Durations are seconds (floats); moments are ISO 8601 in UTC; days are local dates (YYYY-MM-DD). The rows the store
reads for it (`Received`, `Acted`, `Replied`) are plain tuples, cheap at 100,000 mentions."""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, NamedTuple

from bot.sources import SPECS


@dataclass(frozen=True)
class Day:
    """One local day of the period: the mentions needing a reply received that day, answered or not (yet), and the
    median time to first reply of those answered, in seconds (None: none answered)."""

    day: date
    answered: int
    unanswered: int
    median_reply: float | None


# --- what the store reads ----------------------------------------------------------------------------------


class Received(NamedTuple):
    """A mention received in the period, with its first reply's author and its alert, if any."""

    network: str
    account: str
    status: str
    created_at: datetime
    answered_at: datetime | None
    author: str  # the author's handle, else their id
    url: str
    replied_by: str | None  # who wrote the reply that answered it: handle, else author id
    alerted: bool  # its alert was posted (Slack gave it a ts)
    escalated: bool
    reason: str = ""  # why it is as it is (the rule that ignored it, the answer, …)
    vip: bool = False  # a VIP's: held to ALERT_AFTER_VIP
    snoozed_until: datetime | None = None  # the end of its last snooze: its deadline, when later than its due time
    from_slack: bool = False  # answered by a reply written in Slack (bot.services.replying)


class Acted(NamedTuple):
    """Actions taken in Slack on mentions of the account: how many times `user` did `action` (a close with `detail`,
    the reason it gave)."""

    network: str
    account: str
    user: str  # the Slack user id, as stored
    action: str  # claim, snooze, close
    detail: str  # a close's reason; empty for the others
    count: int


class Replied(NamedTuple):
    """How many replies one author wrote for the account in the period (the account itself or a responder)."""

    network: str
    account: str
    author: str  # handle, else author id
    count: int


# --- the report ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Responder:
    """Who wrote the first reply to mentions received in the period: the account itself (`own`) or a responder."""

    author: str
    own: bool
    answered: int
    within_target: int = 0  # of those, answered by their deadline (bot.rules.breached)
    from_slack: int = 0  # of those, by a reply written in Slack (as the account)


@dataclass(frozen=True)
class SlackUser:
    """What one person did in Slack in the period. `close_reasons`: reason → how many closes gave it."""

    user: str
    claims: int
    snoozes: int
    closes: int
    close_reasons: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Wait:
    """One of the longest waits: who, how long (to the first reply, or to the report's time when none came). `author`
    and `url` are empty once RETENTION_DAYS has erased them."""

    network: str
    account: str
    author: str
    posted_at: datetime
    waited: float
    state: str  # answered, open (still waiting) or expired (never answered)
    url: str


ERASED = "someone (erased)"  # how an author RETENTION_DAYS erased is named


@dataclass(frozen=True)
class Hour:
    """One hour of the week (local): mentions needing a reply received in it, and their median time to reply."""

    mentions: int
    median_reply: float | None


@dataclass(frozen=True)
class Endpoint:
    """What was read from one endpoint of a network, and what X bills for it (US dollars; 0 elsewhere)."""

    network: str
    endpoint: str
    requests: int
    posts: int
    owned: int
    spend: float


@dataclass(frozen=True)
class Usage:
    """What collection read over some days (the period's, today, this month: UTC days), per endpoint too."""

    requests: int = 0
    posts: int = 0
    owned: int = 0
    spend: float = 0.0
    endpoints: tuple[Endpoint, ...] = ()


@dataclass(frozen=True)
class AccountReport:
    """The period's numbers for one watched account, or for all of them (`network` and `account` None)."""

    network: str | None
    account: str | None
    received: int
    ignored: int
    deleted: int
    closed: int  # closed from Slack as needing no reply
    needing_reply: int  # answered + open + expired
    answered: int
    open: int
    expired: int
    reply_rate: float | None  # answered / needing_reply
    reply_median: float | None
    reply_p90: float | None
    open_reply_median: float | None  # in open business hours (None without [hours])
    open_reply_p90: float | None
    alerts_sent: int
    escalations: int
    breaches: int
    replies: int  # the account's own replies posted in the period
    originals: int  # its posts that reply to nobody
    responders: tuple[Responder, ...]
    slack: tuple[SlackUser, ...]
    longest_waits: tuple[Wait, ...]
    hour_of_week: tuple[tuple[Hour, ...], ...]  # 7 rows (Monday first) of 24 hours
    days: tuple[Day, ...]
    period_reads: Usage
    today_reads: Usage
    month_reads: Usage
    within_target: int = 0  # answered by their deadline: needing a reply, and no breach
    answered_from_slack: int = 0  # answered by a reply written in Slack; the rest were answered on the network

    @property
    def within_target_rate(self) -> float | None:
        """The share of the mentions needing a reply that were answered by their deadline."""
        return self.within_target / self.needing_reply if self.needing_reply else None

    @property
    def name(self) -> str:
        """How a person names it: @acme on X, or total."""
        if self.account is None or self.network is None:
            return "total"
        label = SPECS[self.network].label if self.network in SPECS else self.network
        return f"@{self.account} on {label}"


@dataclass(frozen=True)
class Report:
    """The engagement report for [start, end), worked out at `generated_at`, its days local to `timezone`."""

    start: datetime
    end: datetime
    generated_at: datetime
    timezone: str
    hours: bool  # business hours were set: the open-time figures are filled in
    accounts: tuple[AccountReport, ...]
    total: AccountReport

    def to_json(self) -> dict[str, Any]:
        """The report as JSON-ready values (dicts, lists, strings, numbers, None)."""
        return _dump(self)

    @classmethod
    def from_json(cls, data: dict[str, Any] | str) -> Report:
        """The Report `to_json()` gave (or its text)."""
        return _load(cls, json.loads(data) if isinstance(data, str) else data)


def _dump(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _dump(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [_dump(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _dump(v) for k, v in value.items()}
    return value


def _load(kind: Any, value: Any) -> Any:
    """`value` (from JSON) as the type `kind` names."""
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if value is None:
        return None
    if origin in (typing.Union, types.UnionType):
        return _load(next(a for a in args if a is not type(None)), value)
    if origin is tuple:
        return tuple(_load(args[0], v) for v in value)
    if origin is dict:
        return {k: _load(args[1], v) for k, v in value.items()}
    if dataclasses.is_dataclass(kind):
        hints = typing.get_type_hints(kind)
        # a field a report made by an older replywatch lacks keeps its default
        return kind(**{f.name: _load(hints[f.name], value[f.name]) for f in dataclasses.fields(kind) if f.name in value})
    if kind is datetime:
        return datetime.fromisoformat(value)
    if kind is date:
        return date.fromisoformat(value)
    if kind is float:
        return float(value)
    return value
