"""What each typed note (bot.messages) says, once for every sink: a sentence as spans — our own words, text from
strangers, links, pings, code and icons — that each sink lays out in its own markup (bot.slack.notes writes mrkdwn,
bot.console.render styles a terminal line). A sink escapes a `Stranger`'s text exactly once and never reads markup
in it; our own `Said` words hold no markup either. A report has no sentence: each sink lays it out whole."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.humanize import format_age, local_time, pace
from bot.messages import (
    BudgetNote,
    CollectionBroken,
    CollectionRecovered,
    FeedNote,
    FollowUpNote,
    GapNote,
    Handoff,
    Message,
    ParkedNote,
    Text,
)
from bot.model import HANDLE, AccountKey, Mention, Network, Post


@dataclass(frozen=True)
class Said:
    """Our own words."""

    text: str


@dataclass(frozen=True)
class Stranger:
    """Text from outside (an error a network sent, a handle, a note a person typed): escaped by the sink."""

    text: str


@dataclass(frozen=True)
class Link:
    """A post's address; `label` (our words or a handle) is what is shown."""

    url: str
    label: str


@dataclass(frozen=True)
class Ping:
    """A Slack user or user-group ID, `here` or `channel`: the sink pings it (the console names it)."""

    to: str


@dataclass(frozen=True)
class Code:
    """A command or a setting, shown as code."""

    text: str


@dataclass(frozen=True)
class Icon:
    """A Slack emoji name (`warning`); the console shows the character."""

    name: str


Span = Said | Stranger | Link | Ping | Code | Icon
Sentence = tuple[Span, ...]
NAMED = 10  # the mentions a follow-up names, at most


def follow_up(note: FollowUpNote, mentions: list[Mention], now: datetime) -> Sentence:
    """An escalation, a reminder, a snooze's end or a lapsed claim, naming the first NAMED of `mentions`."""
    icon, word = {
        "escalation": ("rotating_light", "Escalation"), "woke": ("alarm_clock", "Snooze over"),
        "unclaimed": ("hourglass", "Back in the queue"), "overdue": ("hourglass", "Overdue"),
    }.get(note.nudge, ("bell", "Reminder"))
    what = "still unanswered" if note.count == 1 else f"{note.count} mentions still unanswered"
    if note.nudge == "unclaimed":
        what = "claimed, still unanswered"
    out: list[Span] = [Icon(icon), Said(f" {word}: ")]
    for to in note.to:
        out += [Ping(to), Said(" ")]
    out.append(Said(f"{what} after {format_age(now - note.oldest)}: "))
    named = mentions[:NAMED]
    for i, mention in enumerate(named):
        out += [Said(", ")] if i else []
        out.append(Link(mention.post.url, handle(mention.post)))
    if note.count > len(named):
        out.append(Said(f" and {note.count - len(named)} more"))
    return tuple(out)


def handle(post: Post) -> str:
    """`@handle` of the post's author, or "(unknown handle)" for one no network would give."""
    return f"@{post.author_handle}" if HANDLE.fullmatch(post.author_handle) else "(unknown handle)"


def sentence(note: Message, now: datetime, mentions: list[Mention]) -> Sentence | None:
    """What `note` says; `mentions`: the stored ones it names (bot.messages.named). None: nothing left to say (a
    follow-up whose mentions are gone)."""
    if isinstance(note, FollowUpNote):
        return follow_up(note, mentions, now) if mentions else None
    return _SAYINGS[type(note)](note, now, mentions)


def _where(network: str, account: str) -> Stranger:
    return Stranger(str(AccountKey(Network(network), account)))


def _utc(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC"


def _person(who: str) -> Span:
    """Someone on call: pinged by their ID; an e-mail from an iCal feed that the sink could not look up, as it is."""
    return Stranger(who) if "@" in who else Ping(who)


def _handoff(note: Handoff, now: datetime, _mentions: list[Mention]) -> Sentence:
    ahead = f"until {local_time(note.until, ZoneInfo(note.tz))}" if note.until else "with no handoff ahead"
    out: list[Span] = [Icon("busts_in_silhouette"), Said(" Handoff: ")]
    if note.holder is None:  # a gap in an iCal feed's rota
        out.append(Said(f"nobody is on call {ahead}: no event of the on-call feed covers this time."))
    else:
        out += [_person(note.holder), Said(f" is on call {ahead}.")]
    if note.backup is not None:
        out += [Said(" Backup: "), _person(note.backup), Said(".")]
    if note.waiting and note.oldest is not None:
        out.append(Said(f" {note.waiting} mention(s) open, the oldest waiting {format_age(now - note.oldest)}."))
    else:
        out.append(Said(" No mention is waiting for a reply."))
    return tuple(out)


def _broken(note: CollectionBroken, _now: datetime, _mentions: list[Mention]) -> Sentence:
    return (Icon("warning"), Said(" Mentions of "), _where(note.network, note.account),
            Said(f" are not being collected since {_utc(note.since)}: "), Stranger(note.error or "unknown error"))


def _recovered(note: CollectionRecovered, _now: datetime, _mentions: list[Mention]) -> Sentence:
    return (Icon("white_check_mark"), Said(" Mentions of "), _where(note.network, note.account),
            Said(f" are being collected again (not collected since {_utc(note.since)})."))


def _feed(note: FeedNote, _now: datetime, _mentions: list[Mention]) -> Sentence:
    if note.problem is not None:  # the line names the feed and says what is used instead
        return (Icon("warning"), Said(" On call: "), Stranger(note.problem), Said("."))
    return (Icon("white_check_mark"), Said(" On call: "), Stranger(note.feed),
            Said(f" is fetched again (failing since {_utc(note.since)}); who is on call is read from it."))


def _gap(note: GapNote, _now: datetime, _mentions: list[Mention]) -> Sentence:
    out: list[Span] = [
        Icon("information_source"), Said(f" More than {note.cap} mentions of "), _where(note.network, note.account),
        Said(f" arrived since the last read, more than its mentions timeline returns. {note.recovered} mention(s) from "
             f"{note.start:%Y-%m-%d %H:%M} to {_utc(note.end)} were recovered from recent search."),
    ]
    for start, end, why in note.missing:
        out += [Said(f" Mentions from {start:%Y-%m-%d %H:%M} to {_utc(end)} may be missing: "), Stranger(why), Said(".")]
    return tuple(out)


def _parked(note: ParkedNote, _now: datetime, mentions: list[Mention]) -> Sentence:
    what: list[Span] = [Said("a digest of mentions")]
    if mentions:
        post = mentions[0].post
        what = [Said("the mention by "), Stranger(handle(post)), Said(" ("), Stranger(post.url), Said(")")]
    return (Icon("warning"), Said(" Slack refused the alert for "), *what, Said(f" {note.refusals} times ("),
            Stranger(note.why), Said("). It is parked, not retried: "), Code("replywatch status"), Said(" lists it."))


def _budget(note: BudgetNote, _now: datetime, _mentions: list[Mention]) -> Sentence:
    share = note.read * 100 // note.budget
    read = (Icon("moneybag"), Said(" "), _where(note.network, note.account),
            Said(f" has read {note.read:,} posts in {note.month}, {share} % of its monthly budget of {note.budget:,}."))
    if note.level < 100:
        return (*read, Said(" At 100 % its reads slow to the budget's pace."))
    return (*read, Said(f" Its reads now go at the budget's pace, about {pace(note.pace)}, until the month ends: mentions "
                        "are still all read, later, so alerts may come late. "), Code("replywatch status"),
            Said(" shows the spend."))


_SAYINGS: dict[type, Callable[..., Sentence]] = {
    Handoff: _handoff,
    CollectionBroken: _broken,
    CollectionRecovered: _recovered,
    FeedNote: _feed,
    GapNote: _gap,
    ParkedNote: _parked,
    BudgetNote: _budget,
    Text: lambda note, _now, _mentions: (Said(note.text),),  # finished Slack text from an older replywatch
}
