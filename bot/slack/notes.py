"""What the typed messages (bot.messages) look like in Slack: escalations and reminders in an alert's thread,
handoffs, collection notices, recovered gaps and parked alerts. `render_note` picks the layout by the message's
type."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.messages import (
    BudgetNote,
    CollectionBroken,
    CollectionRecovered,
    FollowUpNote,
    GapNote,
    Handoff,
    Message,
    ParkedNote,
    ReportNote,
    Text,
)
from bot.model import AccountKey, FollowUp, Mention, Network, SlackMessage
from bot.slack.blocks import who
from bot.slack.report import report_message
from bot.slack.text import CONTROL, escape, link, message, safe_url, section, slack_mention
from bot.words import format_age, local_time, pace


def follow_up_message(
    follow_up: FollowUp, mentions: list[Mention], now: datetime, count: int | None = None, oldest: datetime | None = None
) -> SlackMessage:
    """An escalation or reminder in the alert's (or digest's) thread, about `count` mentions (by default those given),
    naming the first ten given."""
    pings = " ".join(p for p in (slack_mention(t) for t in follow_up.to) if p)
    count = len(mentions) if count is None else count
    oldest = min(m.post.created_at for m in mentions) if oldest is None else oldest
    what = "still unanswered" if count == 1 else f"{count} mentions still unanswered"
    icon, word = {
        "escalation": (":rotating_light:", "Escalation"),
        "woke": (":alarm_clock:", "Snooze over"),
    }.get(follow_up.kind, (":bell:", "Reminder"))
    handles = ", ".join(link(m.post.url, who(m)[1]) for m in mentions[:10])
    more = f" and {count - min(10, len(mentions))} more" if count > min(10, len(mentions)) else ""
    text = f"{icon} {word}: {pings + ' ' if pings else ''}{what} after {format_age(now - oldest)}: {handles}{more}"
    return message(text, [section(text)])


def notice_message(text: str) -> SlackMessage:
    """A notice about replywatch itself; `text` is already Slack-safe (built by us, X's parts escaped)."""
    text = CONTROL.sub("", text)
    return message(text, [section(text)])


Mentions = Callable[[Sequence[int]], list[Mention]]  # the stored mentions with these keys


def render_note(note: Message, now: datetime, mentions: Mentions) -> SlackMessage | None:
    """The Slack message for a typed note (None: nothing left to say, its mentions are gone)."""
    return _LAYOUTS[type(note)](note, now, mentions)


def _follow_up(note: FollowUpNote, now: datetime, mentions: Mentions) -> SlackMessage | None:
    found = mentions(note.mentions)
    return follow_up_message(FollowUp(note.nudge, note.to), found, now, note.count, note.oldest) if found else None


def _handoff(note: Handoff, now: datetime, _mentions: Mentions) -> SlackMessage:
    tz = ZoneInfo(note.tz)
    ahead = f"until {local_time(note.until, tz)}" if note.until else "with no handoff ahead"
    text = f":busts_in_silhouette: Handoff: {slack_mention(note.holder)} is on call {ahead}."
    if note.backup is not None:
        text += f" Backup: {slack_mention(note.backup)}."
    if note.waiting and note.oldest is not None:
        text += f" {note.waiting} mention(s) open, the oldest waiting {format_age(now - note.oldest)}."
    else:
        text += " No mention is waiting for a reply."
    return notice_message(text)


def _where(network: str, account: str) -> str:
    return escape(str(AccountKey(Network(network), account)))


def _broken(note: CollectionBroken, _now: datetime, _mentions: Mentions) -> SlackMessage:
    return notice_message(
        f":warning: Mentions of {_where(note.network, note.account)} are not being collected since "
        f"{note.since:%Y-%m-%d %H:%M} UTC: {escape(note.error or 'unknown error')}"
    )


def _recovered(note: CollectionRecovered, _now: datetime, _mentions: Mentions) -> SlackMessage:
    return notice_message(
        f":white_check_mark: Mentions of {_where(note.network, note.account)} are being collected again "
        f"(not collected since {note.since:%Y-%m-%d %H:%M} UTC)."
    )


def _gap(note: GapNote, _now: datetime, _mentions: Mentions) -> SlackMessage:
    period = f"{note.start:%Y-%m-%d %H:%M} to {note.end:%Y-%m-%d %H:%M} UTC"
    text = (
        f":information_source: More than {note.cap} mentions of {_where(note.network, note.account)} arrived since the "
        f"last read, more than its mentions timeline returns. {note.recovered} mention(s) from {period} were recovered "
        "from recent search."
    )
    for start, end, why in note.missing:
        text += f" Mentions from {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC may be missing: {escape(why)}."
    return notice_message(text)


def _parked(note: ParkedNote, _now: datetime, mentions: Mentions) -> SlackMessage:
    what = "a digest of mentions"
    found = mentions([note.mention]) if note.mention is not None else []
    if found:
        url = safe_url(found[0].post.url)
        what = f"the mention by @{escape(found[0].post.author_handle)}" + (f" ({url})" if url else "")
    return notice_message(
        f":warning: Slack refused the alert for {what} {note.refusals} times ({escape(note.why)}). It is parked, not "
        "retried: `replywatch status` lists it."
    )


def _budget(note: BudgetNote, _now: datetime, _mentions: Mentions) -> SlackMessage:
    where = _where(note.network, note.account)
    share = note.read * 100 // note.budget
    read = f"{where} has read {note.read:,} posts in {note.month}, {share} % of its monthly budget of {note.budget:,}"
    if note.level < 100:
        return notice_message(f":moneybag: {read}. At 100 % its reads slow to the budget's pace.")
    return notice_message(
        f":moneybag: {read}. Its reads now go at the budget's pace, about {pace(note.pace)}, until the month "
        "ends: mentions are still all read, later, so alerts may come late. `replywatch status` shows the spend."
    )


def _text(note: Text, _now: datetime, _mentions: Mentions) -> SlackMessage:
    return notice_message(note.text)


_LAYOUTS: dict[type, Callable[..., SlackMessage | None]] = {
    FollowUpNote: _follow_up,
    Handoff: _handoff,
    CollectionBroken: _broken,
    CollectionRecovered: _recovered,
    GapNote: _gap,
    ParkedNote: _parked,
    BudgetNote: _budget,
    ReportNote: lambda note, _now, _mentions: report_message(note),
    Text: _text,
}
