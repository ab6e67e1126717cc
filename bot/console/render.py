"""The cards (bot.messages) as a terminal shows them: rich renderables laid out from the typed cards themselves, with
the information a Slack message shows (bot.slack.blocks, bot.notes, the report) arranged for a terminal. Nothing here
parses markup, Slack's or rich's: there is none to parse, cards carry text as people typed it.

Text from strangers is hostile. Everything is built from rich `Text` pieces with styles attached, never from markup
strings, so a post that says "[bold red]" or "[link=…]" prints those characters; rich's markup, emoji codes and
highlighting never see it. Nothing is escaped or unescaped either: `&amp;` in a post prints as `&amp;`, as it was
typed. Control characters and bidirectional controls (bot.strangers.CONTROL) are dropped, so a post can never reach
the terminal as an escape sequence nor reorder the text around it; a link is made clickable only when its address is
plainly https (bot.strangers.safe_url), and is shown as text otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, tzinfo

from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.panel import Panel
from rich.segment import Segment
from rich.style import Style
from rich.text import Text

from bot.humanize import format_age, local_time
from bot.messages import DIGEST_ROWS, AlertCard, Card, ClosedCard, DigestCard, NoteCard, ReportNote
from bot.model import Mention, Status
from bot.notes import Code, Icon, Link, Ping, Said, Sentence, Stranger, sentence
from bot.report.formats import as_text
from bot.report.model import Report
from bot.strangers import CONTROL, EXCERPT, NAME_LIMIT, POST_LIMIT, safe_url

Names = Mapping[str, str]  # a sink's user or group ID → how the console names it (an e-mail)

REASON_LIMIT = 300
BUTTONS = ("I'll take it", "Snooze ▾", "No reply needed")  # as the Slack alert's (bot.slack.blocks)
BOLD = Style(bold=True)
ITALIC = Style(italic=True)
CODE = Style(color="cyan")
PING = Style(bold=True)
LINK = Style(underline=True)
DIM = Style(dim=True)
STRUCK = Style(strike=True)
EMOJI = {  # the icons our cards and notes use (bot.notes.Icon); any other shows as :name:
    "hourglass": "⏳", "star": "⭐", "white_check_mark": "✅", "heavy_check_mark": "✔", "wastebasket": "🗑",
    "rotating_light": "🚨", "alarm_clock": "⏰", "bell": "🔔", "busts_in_silhouette": "👥", "warning": "⚠",
    "information_source": "ℹ", "moneybag": "💰", "bar_chart": "📊", "frame_with_picture": "🖼",
}


# --- pieces ----------------------------------------------------------------------------------------------------


def clean(text: str, *, single_line: bool = False, limit: int | None = None) -> str:
    """`text` with its control and bidi characters dropped (with `single_line`, its whitespace runs made one space),
    cut to `limit` characters ending in "…"."""
    text = CONTROL.sub("", text)
    if single_line:
        text = " ".join(text.split())
    if limit is not None and len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text


def icon(name: str) -> Text:
    """A Slack emoji name as its character."""
    return Text(EMOJI.get(name, f":{name}:"))


def ping(to: str, names: Names) -> Text:
    """Someone pinged, shown by name: `@jane@acme.example` for an ID the sink made up, the ID itself otherwise."""
    return Text("@" + clean(names.get(to, to), single_line=True), PING)


def link(url: str, label: str = "", style: Style | None = None) -> Text:
    """`label (url)`, the label underlined (and a hyperlink, where the address is plainly https and the terminal
    makes them); the address alone without a label; the label alone without an address."""
    url, label, style = clean(url, single_line=True), clean(label, single_line=True), style or Style()
    if not url:
        return Text(label, style)
    safe = safe_url(url)
    linked = style + LINK + (Style(link=safe) if safe else Style())
    out = Text(label or url, linked)
    if label and label != url:
        out.append(f" ({url})", DIM)
    return out


def spans(said: Sentence, names: Names) -> Text:
    """A note's sentence (bot.notes): our words and strangers' text as they are, links as `label (url)`, pings by
    name, code in cyan, icons as their characters."""
    out = Text()
    for span in said:
        if isinstance(span, Said | Stranger):
            out.append(clean(span.text))
        elif isinstance(span, Link):
            out.append_text(link(span.url, span.label))
        elif isinstance(span, Ping):
            out.append_text(ping(span.to, names))
        elif isinstance(span, Code):
            out.append(clean(span.text), CODE)
        elif isinstance(span, Icon):
            out.append_text(icon(span.name))
    return out


def who(mention: Mention) -> Text:
    """`Bob (@bob)`, the name in bold."""
    post = mention.post
    handle = clean(post.author_handle, single_line=True, limit=NAME_LIMIT)
    name = clean(post.author_name, single_line=True, limit=NAME_LIMIT) or (f"@{handle}" if handle else "someone")
    return Text(name, BOLD).append(f" (@{handle})" if handle else " (unknown handle)")


def where(mention: Mention) -> str:
    """Which watched account's queue it is in, on which network: `@acme on Bluesky`."""
    return clean(str(mention.where), single_line=True)


def unread_line(since: datetime | None, tz: tzinfo, plain: bool = False) -> Text | None:
    """What a card says when its mentions' replies could not be read when it fell due."""
    if since is None:
        return None
    when = "replywatch started" if since.year == 1 else local_time(since, tz)
    out = Text() if plain else icon("warning").append(" ")
    return out.append(f"Replies could not be checked since {when}: the network is not answering, so this may already be answered.")


class Quote:
    """Text set off by a bar down its left side, every wrapped line too (a post, as Slack quotes it)."""

    def __init__(self, text: Text) -> None:
        self.text = text

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = max(1, options.max_width - 2)
        bar = Segment("│ ", DIM)
        for line in console.render_lines(self.text, options.update_width(width), pad=False):
            yield bar
            yield from line
            yield Segment.line()


class Row:
    """Buttons side by side, two spaces apart; one that does not fit starts the next line (never broken in two)."""

    def __init__(self, items: Iterable[Text]) -> None:
        self.items = list(items)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        line = Text()
        for item in self.items:
            if line and line.cell_len + 2 + item.cell_len > options.max_width:
                yield line
                line = Text()
            line.append_text(Text("  ") + item if line else item)
        if line:
            yield line


def buttons() -> Row:
    """The alert's actions, as Slack shows them: `[ I'll take it ]  [ Snooze ▾ ]  [ No reply needed ]`."""
    return Row(Text("[ ", DIM).append(label, BOLD).append(" ]", DIM) for label in BUTTONS)


def _post(mention: Mention) -> Quote:
    """The post quoted (cut where Slack cuts it); a private one is not shown, only where to read it."""
    if mention.post.private:
        return Quote(Text(f"private — open on {mention.network.label} to read it", ITALIC))
    text = clean(mention.post.text, limit=POST_LIMIT)
    return Quote(Text(text) if text.strip() else Text("(no text)", DIM))


def _excerpt(mention: Mention) -> Text:
    if mention.post.private:
        return Text(f"private — open on {mention.network.label} to read it", ITALIC)
    return Text(clean(mention.post.text, single_line=True, limit=EXCERPT))


def _footer(mention: Mention, tz: tzinfo, *links: Text) -> Text:
    """Where the post opens, whose queue it is in, when it was posted."""
    posted = f"posted {local_time(mention.post.created_at, tz)}"
    return Text(" · ", DIM).join([*links, Text(f"to {where(mention)}", DIM), Text(posted, DIM)])


def _head(name: str, plain: bool) -> Text:
    return Text() if plain else icon(name).append(" ")


# --- cards -----------------------------------------------------------------------------------------------------


def alert(card: AlertCard, *, tz: tzinfo = UTC, on_call: str | None = None, names: Names | None = None) -> Group:
    """A due mention's alert: who wrote, how long it waits and for which account, the post, where it opens, who is
    on call (or claimed or snoozed it), whether its replies could be read, and the buttons; `card.plain`: text
    only, no icon and no button."""
    m, names = card.mention, names or {}
    head = _head("hourglass", card.plain)
    if m.priority and not card.plain:
        head = icon("star").append(" ").append_text(head)
    if card.due is not None and card.due > card.now:  # a warning (WARN_BEFORE): it names nobody yet
        head.append_text(who(m)).append(f" is due for a reply in {format_age(card.due - card.now)}")
        on_call = None
    else:
        head.append_text(who(m)).append(f" has been waiting {format_age(card.now - m.post.created_at)} for a reply")
    if m.priority:
        head.append(" · ").append(clean(m.priority, single_line=True, limit=100), ITALIC)
    parts: list[RenderableType] = [head, _post(m), _footer(m, tz, link(m.post.url, f"Open on {m.network.label}"))]
    state: list[Text] = []
    if on_call and not m.claimed_by:
        state.append(Text("on call: ").append_text(ping(on_call, names)))
    if m.claimed_by:
        state.append(Text("claimed by ").append_text(ping(m.claimed_by, names)))
    if m.snoozed_until and m.snoozed_until > card.now:
        snoozed = Text(f"snoozed until {local_time(m.snoozed_until, tz)}")
        state.append(snoozed.append(" by ").append_text(ping(m.snoozed_by, names)) if m.snoozed_by else snoozed)
    if state:
        parts.append(Text(" · ").join(state))
    if (unread := unread_line(card.unchecked_since, tz, card.plain)) is not None:
        parts.append(unread)
    if not card.plain:
        parts.append(buttons())
    return Group(*parts)


def digest(card: DigestCard, *, tz: tzinfo = UTC, on_call: str | None = None, names: Names | None = None) -> Group:
    """Many due mentions in one card: a row each (at most DIGEST_ROWS, then how many more), answered and closed ones
    struck through."""
    members, names = card.mentions, names or {}
    waiting = sum(m.status is Status.OPEN for m in members)
    head = _head("hourglass", card.plain).append(f"{len(members)} mentions", BOLD).append(" have been waiting for a reply")
    if on_call:
        head.append(" · on call: ").append_text(ping(on_call, names))
    if waiting < len(members):
        head.append(f"; {len(members) - waiting} since answered or closed, {waiting} still waiting")
    parts: list[RenderableType] = [head, *(_digest_row(m, card.now, card.plain) for m in members[:DIGEST_ROWS])]
    if len(members) > DIGEST_ROWS:
        parts.append(Text(f"and {len(members) - DIGEST_ROWS} more: ", DIM).append("/replywatch", CODE).append(" lists them all", DIM))
    if (unread := unread_line(card.unchecked_since, tz, card.plain)) is not None:
        parts.append(unread)
    return Group(*parts)


def _digest_row(mention: Mention, now: datetime, plain: bool) -> Text:
    if mention.status is not Status.OPEN:
        handle = clean(mention.post.author_handle, single_line=True, limit=NAME_LIMIT)
        row = Text("• ") if plain else icon("white_check_mark").append(" ")
        return row.append(f"@{handle}" if handle else "(unknown handle)", STRUCK).append(f" {_closed_words(mention)}")
    row = Text("• ").append_text(icon("star").append(" ") if mention.priority and not plain else Text())
    row.append_text(who(mention)).append(f" to {where(mention)}, {format_age(now - mention.post.created_at)}: ")
    row.append_text(_excerpt(mention))
    return row.append(" · ", DIM).append_text(link(mention.post.url)) if mention.post.url else row


def _closed_words(mention: Mention) -> str:
    if mention.status is Status.ANSWERED:
        return "answered"
    if mention.status is Status.DELETED:
        return f"deleted on {mention.network.label}"
    return clean(mention.reason, single_line=True, limit=120)


def closed(card: ClosedCard, *, tz: tzinfo = UTC, names: Names | None = None) -> Group:
    """An alert once its mention is no longer open: answered (after how long, and where the reply is), deleted by
    its author (the post no longer shown), expired, or closed (by whom, and why)."""
    m, names, label = card.mention, names or {}, card.mention.network.label
    reason = clean(m.reason, single_line=True, limit=REASON_LIMIT)
    mentioned = link(m.post.url, f"Mention on {label}")
    if m.status is Status.DELETED:
        head = icon("wastebasket").append(" ").append_text(who(m)).append(f" deleted this post on {label}; no reply needed")
        return Group(head, _footer(m, tz))
    if m.status is Status.ANSWERED:
        after = format_age(m.answered_at - m.post.created_at) if m.answered_at else "?"
        head = icon("white_check_mark").append(" ").append_text(who(m)).append(" was answered")
        if m.answered_from:
            head.append(" from Slack by ").append_text(ping(m.answered_from, names))
        head.append(f" after {after}")
        shown = m.answer_text and not m.post.private  # a private mention's answer is as private as it
        ours = [Text("Reply: ", BOLD).append(clean(m.answer_text, single_line=True, limit=1000))] if shown else []
        return Group(head, _post(m), *ours, _footer(m, tz, link(m.answer_url, f"Reply on {label}"), mentioned))
    if m.status is Status.EXPIRED:
        head = icon("hourglass").append(" ").append_text(who(m)).append(f": {reason}")
    else:
        head = icon("heavy_check_mark").append(" ").append_text(who(m)).append(": closed")
        if m.claimed_by:
            head.append(" by ").append_text(ping(m.claimed_by, names))
        head.append(f", {reason}" if reason else "")
    return Group(head, _post(m), _footer(m, tz, mentioned))


def note(card: NoteCard, *, names: Names | None = None) -> RenderableType:
    """A typed note: its sentence (bot.notes), or a report laid out whole."""
    if isinstance(card.note, ReportNote):
        return report(card.note)
    said = sentence(card.note, card.now, list(card.mentions))
    if said is None:
        return Text("(nothing left to say: the mentions it named are gone)", DIM)
    return spans(said, names or {})


class ReportText:
    """The report in its text format (bot.report.formats.as_text), laid out at the width it is given."""

    def __init__(self, report: Report) -> None:
        self.report = report

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield Text(as_text(self.report, width=options.max_width).rstrip("\n"))


def report(note: ReportNote) -> Group:
    """The engagement report a ReportNote carries, and where its chart was written (attach_chart)."""
    parts: list[RenderableType] = [icon("bar_chart").append(" ").append("How we answered", BOLD), ReportText(Report.from_json(note.report))]
    if note.chart:
        parts.append(icon("frame_with_picture").append("  ").append("chart: ", BOLD).append(clean(note.chart, single_line=True)))
    return Group(*parts)


def body(card: Card, *, tz: tzinfo = UTC, on_call: str | None = None, names: Names | None = None) -> RenderableType:
    """What a card shows, whichever it is."""
    if isinstance(card, AlertCard):
        return alert(card, tz=tz, on_call=on_call, names=names)
    if isinstance(card, DigestCard):
        return digest(card, tz=tz, on_call=on_call, names=names)
    if isinstance(card, ClosedCard):
        return closed(card, tz=tz, names=names)
    return note(card, names=names)


def panel(
    card: Card, title: str = "", subtitle: str = "", *, tz: tzinfo = UTC, on_call: str | None = None, names: Names | None = None
) -> Panel:
    """A card as a Panel titled `title` (where it went) and signed `subtitle` (its id), as one message."""
    return Panel(
        body(card, tz=tz, on_call=on_call, names=names),
        title=Text(clean(title, single_line=True), BOLD) if title else None,
        title_align="left",
        subtitle=Text(clean(subtitle, single_line=True), DIM) if subtitle else None,
        subtitle_align="right",
        expand=True,
    )
