"""Slack messages as a terminal shows them: a Block Kit message, as our layouts (bot.slack) build it, becomes a rich
Panel that reads like the Slack message would.

Text from strangers is never markup here. Everything is built as rich `Text` pieces with styles attached, so a post
that says "[bold red]" or "[link=…]" prints those characters; rich's markup, emoji codes and highlighting never see
it. Slack's own escaping (`&amp;`, `&lt;`, `&gt;`) is undone exactly once, and control characters (ESC among them)
are dropped again here, whatever the layouts already did: a post can never reach the terminal as an escape sequence.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.panel import Panel
from rich.rule import Rule
from rich.style import Style
from rich.table import Table
from rich.text import Text

from bot.model import SlackMessage
from bot.slack.text import CONTROL as _CONTROL  # what the layouts strip: stripped again here

_ENTITY = re.compile(r"&(amp|lt|gt);")
_ENTITIES = {"amp": "&", "lt": "<", "gt": ">"}
# One pattern, earliest match first: Slack's <…> (links and pings: only ours, a stranger's < > arrive escaped),
# `code`, then *bold*, _italic_ and ~strike~ (at word edges, within a line, as Slack reads them).
_INLINE = re.compile(
    r"<(?P<angle>[^<>\n]+)>"
    r"|`(?P<code>[^`\n]+)`"
    r"|(?<![\w*])\*(?P<bold>[^*\s](?:[^*\n]*[^*\s])?)\*(?![\w*])"
    r"|(?<![\w_])_(?P<italic>[^_\s](?:[^_\n]*[^_\s])?)_(?![\w_])"
    r"|(?<![\w~])~(?P<strike>[^~\s](?:[^~\n]*[^~\s])?)~(?![\w~])"
)
_MARKS = {"bold": Style(bold=True), "italic": Style(italic=True), "strike": Style(strike=True)}
CODE = Style(color="cyan")
PING = Style(bold=True, color="yellow")
LINK = Style(underline=True)
DIM = Style(dim=True)
_EMOJI = {  # the ones our layouts use; any other :code: stays as it is written
    "hourglass": "⏳", "star": "⭐", "white_check_mark": "✅", "heavy_check_mark": "✔", "wastebasket": "🗑",
    "rotating_light": "🚨", "alarm_clock": "⏰", "bell": "🔔", "busts_in_silhouette": "👥", "warning": "⚠",
    "information_source": "ℹ", "moneybag": "💰", "bar_chart": "📊",
}
_EMOJI_CODE = re.compile(r":([a-z_]+):")


def plain(text: str) -> str:
    """Slack's escaping undone exactly once (`&amp;lt;` shows `&lt;`), control characters dropped."""
    return _ENTITY.sub(lambda m: _ENTITIES[m.group(1)], _CONTROL.sub("", text))


def mrkdwn(text: str, names: Mapping[str, str] | None = None, *, emoji: bool = True) -> Text:
    """Slack mrkdwn as styled rich Text: formatting, links as "label (url)", pings as @names, quotes marked."""
    out = Text()
    lines = _CONTROL.sub("", text).split("\n")
    for i, line in enumerate(lines):
        if i:
            out.append("\n")
        quoted = line.startswith("&gt;")
        if quoted:
            out.append("│ ", DIM)
            line = line.removeprefix("&gt;").removeprefix(" ")
        _inline(out, line, Style(), names or {}, emoji)
    return out


def _inline(out: Text, text: str, style: Style, names: Mapping[str, str], emoji: bool) -> None:
    at = 0
    for match in _INLINE.finditer(text):
        _words(out, text[at : match.start()], style, emoji)
        kind = match.lastgroup or ""
        inner = match.group(kind)
        if kind == "angle":
            _angle(out, inner, style, names, emoji)
        elif kind == "code":
            out.append(plain(inner), style + CODE)
        else:
            _inline(out, inner, style + _MARKS[kind], names, emoji)
        at = match.end()
    _words(out, text[at:], style, emoji)


def _words(out: Text, text: str, style: Style, emoji: bool) -> None:
    if emoji:
        text = _EMOJI_CODE.sub(lambda m: _EMOJI.get(m.group(1), m.group(0)), text)
    out.append(plain(text), style)


def _angle(out: Text, inner: str, style: Style, names: Mapping[str, str], emoji: bool) -> None:
    """Slack's `<…>`: a ping (`@U…`, `!channel`, `!subteam^S…`), a channel (`#C…`) or a link (`url|label`)."""
    target, _, label = inner.partition("|")
    if target.startswith("@"):
        out.append("@" + plain(names.get(target[1:], label.removeprefix("@") or target[1:])), style + PING)
    elif target.startswith("!subteam^"):
        group = target.removeprefix("!subteam^")
        out.append("@" + plain(names.get(group, label.removeprefix("@") or group)), style + PING)
    elif target.startswith("!"):
        out.append("@" + plain(label.removeprefix("@") or target[1:]), style + PING)
    elif target.startswith("#"):
        out.append("#" + plain(label or target[1:]), style)
    else:
        url = plain(target)
        if label and plain(label) != url:
            _inline(out, label, style + LINK + Style(link=url), names, emoji)
            out.append(f" ({url})", style + DIM)
        else:
            out.append(url, style + LINK + Style(link=url))


def _text_object(obj: object, names: Mapping[str, str]) -> Text:
    """A Block Kit text object: mrkdwn translated, plain_text shown as it is (only control characters dropped)."""
    if not isinstance(obj, dict):
        return Text()
    text = str(obj.get("text") or "")
    if obj.get("type") == "mrkdwn":
        return mrkdwn(text, names)
    return Text(_CONTROL.sub("", text))


def _element(element: dict, names: Mapping[str, str]) -> Text:
    """A button as `[ label ]` (a link button followed by its address), a menu as its choices."""
    kind = element.get("type")
    if kind == "button":
        out = Text("[ ", DIM) + _text_object(element.get("text"), names).copy() + Text(" ]", DIM)
        out.stylize("bold")
        if element.get("url"):
            out.append(f" ({plain(str(element['url']))})", DIM)
        return out
    if kind in {"static_select", "overflow"}:
        choices = " · ".join(_text_object(o.get("text"), names).plain for o in element.get("options") or [] if isinstance(o, dict))
        head = _text_object(element.get("placeholder"), names).plain or "Choose"
        return Text(f"[ {head}: {choices} ▾ ]", "bold")
    return Text(f"[ {plain(str(kind))} ]", DIM)


class _Row:
    """Buttons side by side, a button that does not fit starting the next line (never broken across two)."""

    def __init__(self, items: list[Text]) -> None:
        self.items = items

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        line = Text()
        for item in self.items:
            if line and line.cell_len + 1 + item.cell_len > options.max_width:
                yield line
                line = Text()
            line.append_text(Text(" ") + item if line else item)
        if line:
            yield line


def render_block(block: dict, names: Mapping[str, str] | None = None) -> RenderableType | None:
    """One block as a renderable; None for a block with nothing to show."""
    names = names or {}
    kind = block.get("type")
    if kind == "section":
        parts: list[RenderableType] = []
        if block.get("text"):
            parts.append(_text_object(block["text"], names))
        if block.get("fields"):
            grid = Table.grid(padding=(0, 2), expand=False)
            grid.add_column()
            grid.add_column()
            fields = [_text_object(f, names) for f in block["fields"]]
            for i in range(0, len(fields), 2):
                grid.add_row(*fields[i : i + 2])
            parts.append(grid)
        if isinstance(block.get("accessory"), dict):
            parts.append(_element(block["accessory"], names))
        return Group(*parts) if parts else None
    if kind == "context":
        pieces = [_text_object(e, names) if e.get("type") != "image" else Text(f"[{plain(str(e.get('alt_text') or 'image'))}]")
                  for e in block.get("elements") or [] if isinstance(e, dict)]
        line = Text("  ").join(pieces)
        line.stylize(DIM)
        return line
    if kind == "header":
        return Text(_text_object(block.get("text"), names).plain, "bold underline")
    if kind == "divider":
        return Rule(style=DIM)
    if kind == "actions":
        return _Row([_element(e, names) for e in block.get("elements") or [] if isinstance(e, dict)])
    if kind == "image":
        where = (block.get("slack_file") or {}).get("id") or (block.get("slack_file") or {}).get("url") or block.get("image_url")
        title = _text_object(block.get("title"), names).plain
        out = Text("🖼  ")
        out.append(f"{title}: " if title else "image: ", "bold")
        out.append(plain(str(where or "(no file)")))
        if block.get("alt_text"):
            out.append(f"\n   {plain(str(block['alt_text']))}", DIM)
        return out
    return Text(f"({plain(str(kind))} block)", DIM)


def render_message(
    message: SlackMessage, title: str = "", subtitle: str = "", names: Mapping[str, str] | None = None
) -> Panel:
    """A whole message as a Panel titled `title`: its blocks in order, or its fallback text when it has none."""
    parts = [r for r in (render_block(b, names) for b in message.blocks if isinstance(b, dict)) if r is not None]
    if not parts:
        parts = [mrkdwn(message.text, names)]
    return Panel(
        Group(*parts),
        title=Text(plain(title), "bold") if title else None,
        title_align="left",
        subtitle=Text(plain(subtitle), DIM) if subtitle else None,
        subtitle_align="right",
        expand=True,
    )
