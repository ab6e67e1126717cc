"""What the services ask the team to be told, as typed messages. The store keeps each note as its `kind` and a JSON
payload, never as Slack text; bot.notes says what it says, and each sink lays that out in its own markup.

Alerts and digests need no stored message of their own: their rows are the mentions they stand for. What a service
hands a sink (bot.ports.Sink) is a card: an alert, a digest, an alert closed, or a note, with the mentions it names
already read."""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, ClassVar

from bot.model import Mention


@dataclass(frozen=True)
class FollowUpNote:
    """An escalation, a reminder or a snooze's end, in the thread of the alert (or digest) of `count` mentions, the
    oldest posted at `oldest`; the first of them (`mentions`, the store's keys, oldest first) are named."""

    kind: ClassVar[str] = "follow_up"
    nudge: str  # escalation, reminder, woke (a snooze ended), unclaimed (a claim lapsed), overdue (a warning fell due)
    to: tuple[str, ...]  # Slack user or group IDs, here, channel
    mentions: tuple[int, ...]
    count: int
    oldest: datetime


@dataclass(frozen=True)
class Handoff:
    """Who is on call now and until when, the backup, and how the queue stands."""

    kind: ClassVar[str] = "handoff"
    holder: str | None  # None: nobody, a gap in an iCal feed's rota
    until: datetime | None
    backup: str | None
    waiting: int
    oldest: datetime | None
    tz: str  # the on-call file's time zone: the times are said in it


@dataclass(frozen=True)
class CollectionBroken:
    """An account's mentions are not being read."""

    kind: ClassVar[str] = "collection_broken"
    network: str
    account: str
    since: datetime
    error: str


@dataclass(frozen=True)
class CollectionRecovered:
    """An account's mentions are being read again."""

    kind: ClassVar[str] = "collection_recovered"
    network: str
    account: str
    since: datetime  # since when they had not been


@dataclass(frozen=True)
class FeedNote:
    """A rotation's iCal feed cannot be fetched (`problem`: the line bot.calendar.feed says, naming the feed by its
    host only), or, without `problem`, is fetched again."""

    kind: ClassVar[str] = "ical_feed"
    feed: str  # "the [oncall] ical_url feed on calendar.example.com" (bot.calendar.feed.describe): never its address
    since: datetime  # the first failed fetch of the outage
    problem: str | None = None  # None: fetched again


@dataclass(frozen=True)
class GapNote:
    """More mentions arrived than the network's timeline returns: what was recovered, what may be missing."""

    kind: ClassVar[str] = "gap"
    network: str
    account: str
    cap: int
    start: datetime
    end: datetime
    recovered: int
    missing: tuple[tuple[datetime, datetime, str], ...] = ()


@dataclass(frozen=True)
class ParkedNote:
    """Slack refused an alert or a digest for good: it is no longer tried."""

    kind: ClassVar[str] = "parked"
    refusals: int
    why: str
    mention: int | None = None  # the alert's mention (None: a digest)


@dataclass(frozen=True)
class BudgetNote:
    """An account's reads this month reached `level` % of its monthly budget (posts); from 100 % on, its reads go at
    the budget's pace, `pace` posts an hour."""

    kind: ClassVar[str] = "budget"
    network: str
    account: str
    month: str  # YYYY-MM, UTC
    level: int  # 80 or 100
    read: int
    budget: int
    pace: float


@dataclass(frozen=True)
class ReportNote:
    """The engagement report of [start, end), worked out when it fell due (`report`: bot.report's JSON, so that what
    is posted is what was due, however late), and its chart once uploaded (a Slack file id)."""

    kind: ClassVar[str] = "report"
    start: datetime
    end: datetime
    report: str
    alert_after: float  # seconds: the line the chart draws the time to reply against
    chart: str | None = None


@dataclass(frozen=True)
class Text:
    """A notice queued as finished Slack text by a replywatch from before typed messages (posted as it is)."""

    kind: ClassVar[str] = "text"
    text: str


Message = (
    FollowUpNote | Handoff | CollectionBroken | CollectionRecovered | FeedNote | GapNote | ParkedNote | BudgetNote | ReportNote | Text
)
KINDS: dict[str, type] = {
    cls.kind: cls
    for cls in (FollowUpNote, Handoff, CollectionBroken, CollectionRecovered, FeedNote, GapNote, ParkedNote, BudgetNote, ReportNote,
                Text)
}


def named(note: Message) -> tuple[int, ...]:
    """The store's keys of the mentions `note` names."""
    if isinstance(note, FollowUpNote):
        return note.mentions
    if isinstance(note, ParkedNote) and note.mention is not None:
        return (note.mention,)
    return ()


@dataclass(frozen=True)
class AlertCard:
    """A due mention's alert; `unchecked_since`: its replies could not be read since then; `plain`: the fallback
    form a sink posts once it refused the full one (text only, no buttons)."""

    mention: Mention
    now: datetime
    unchecked_since: datetime | None = None
    plain: bool = False
    due: datetime | None = None  # a warning's due time (WARN_BEFORE): before it, the alert names nobody


DIGEST_ROWS = 360  # the mentions a digest lists, the rest counted (in Slack, 45 sections of 8 lines: 50 blocks at most)


@dataclass(frozen=True)
class DigestCard:
    """One message for many due mentions (DIGEST_THRESHOLD), oldest first."""

    mentions: tuple[Mention, ...]
    now: datetime
    unchecked_since: datetime | None = None
    plain: bool = False


@dataclass(frozen=True)
class ClosedCard:
    """An alert, edited: its mention answered, closed, expired or deleted."""

    mention: Mention


@dataclass(frozen=True)
class NoteCard:
    """A typed note; `mentions`: the stored ones it names (`named`), read for it."""

    note: Message
    now: datetime
    mentions: tuple[Mention, ...] = ()


Card = AlertCard | DigestCard | ClosedCard | NoteCard


def payload(message: Message) -> str:
    """The message as JSON (times in ISO 8601)."""
    return json.dumps({f.name: getattr(message, f.name) for f in fields(message)}, default=_encode)


def load(kind: str, text: str) -> Message:
    """The message a `payload` was made of; ValueError for a kind or payload this replywatch does not know."""
    cls = KINDS.get(kind)
    if cls is None:
        raise ValueError(f"unknown message kind {kind!r}")
    data = json.loads(text)
    return cls(**{f.name: _decode(f.type, data.get(f.name)) for f in fields(cls) if f.name in data})


def _encode(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot store {type(value).__name__} in a message")


def _decode(kind: object, value: Any) -> Any:
    """Times back from ISO 8601, lists back into tuples (the field's type is a string: annotations are postponed)."""
    hint = str(kind)
    if value is None:
        return None
    if hint.startswith("datetime"):
        return datetime.fromisoformat(value)
    if hint.startswith("tuple[tuple[datetime"):
        return tuple((datetime.fromisoformat(a), datetime.fromisoformat(b), why) for a, b, why in value)
    if hint.startswith("tuple"):
        return tuple(value)
    return value
