"""What alerts look like in Slack, and the one place text from X is made safe for it.

Text from X arrives unescaped (the adapter undid X's HTML escaping). Here it is escaped for Slack exactly
once: `&`, `<`, `>` become `&amp;`, `&lt;`, `&gt;`, so nobody on X can write `<!channel>`, `<@U…>` or
`<https://evil|https://good>` into our channel. Control characters are dropped; lengths stay inside Block Kit's
limits. Everything that goes into a message passes through `_safe`.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from bot.model import Mention, SlackMessage, Status

SECTION_LIMIT = 3000
TEXT_LIMIT = 2500  # the quoted post, leaving room for the header lines
NAME_LIMIT = 100
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
_HANDLE = re.compile(r"[A-Za-z0-9_]{1,15}")
_SLACK_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}


def escape(text: str) -> str:
    """Escape text for Slack mrkdwn: exactly &, <, >."""
    return "".join(_SLACK_ESCAPES.get(ch, ch) for ch in text)


def _safe(text: str, limit: int, *, single_line: bool = False) -> str:
    """Drop control characters, cut to `limit` characters of escaped text without splitting an entity."""
    text = _CONTROL.sub("", text)
    if single_line:
        text = " ".join(text.split())
    out: list[str] = []
    size = 0
    for ch in text:
        piece = _SLACK_ESCAPES.get(ch, ch)
        if size + len(piece) > limit - 1:
            out.append("…")
            break
        out.append(piece)
        size += len(piece)
    return "".join(out)


def post_url(handle: str, post_id: int) -> str:
    handle = handle if _HANDLE.fullmatch(handle) else "i/web"
    return f"https://x.com/{handle}/status/{int(post_id)}"


def format_age(delta: timedelta) -> str:
    """`45s`, `12m`, `3h 5m`, `2d 4h`."""
    seconds = max(0, int(delta.total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h" if hours else f"{days}d"
    if hours:
        return f"{hours}h {minutes}m" if minutes else f"{hours}h"
    if minutes:
        return f"{minutes}m"
    return f"{secs}s"


def _who(mention: Mention) -> tuple[str, str]:
    post = mention.post
    handle = post.author_handle if _HANDLE.fullmatch(post.author_handle) else ""
    name = _safe(post.author_name, NAME_LIMIT, single_line=True) or (f"@{handle}" if handle else "someone")
    return name, (f"@{handle}" if handle else "(unknown handle)")


def _quote(text: str) -> str:
    body = _safe(text, TEXT_LIMIT)
    return "\n".join("&gt; " + line if line else "&gt;" for line in body.split("\n")) if body else "&gt; (no text)"


def alert_message(mention: Mention, now: datetime) -> SlackMessage:
    """The alert for an open mention that has waited too long."""
    name, handle = _who(mention)
    age = format_age(now - mention.post.created_at)
    url = post_url(mention.post.author_handle, mention.id)
    headline = f":hourglass: *{name}* ({handle}) has been waiting {age} for a reply"
    blocks = [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"{headline}\n{_quote(mention.post.text)}"}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": f"<{url}|Open on X> · posted {_stamp(mention)}"}]},
    ]
    fallback = f"{name} ({handle}) has been waiting {age} for a reply: {_safe(mention.post.text, 200, single_line=True)}"
    return SlackMessage(text=fallback, blocks=blocks)


def closed_message(mention: Mention, account_handle: str) -> SlackMessage:
    """The same alert, edited once the mention is no longer open."""
    if mention.status is Status.DELETED:
        return deleted_message(mention)
    return answered_message(mention, account_handle)


def deleted_message(mention: Mention) -> SlackMessage:
    """Deleted on X: the text is gone from the store and from the channel."""
    name, handle = _who(mention)
    headline = f":wastebasket: *{name}* ({handle}) deleted this post on X; no reply needed"
    blocks = [
        {"type": "section", "text": {"type": "mrkdwn", "text": headline}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": f"posted {_stamp(mention)}"}]},
    ]
    return SlackMessage(text=f"Deleted on X: {name} ({handle})", blocks=blocks)


def notice_message(text: str) -> SlackMessage:
    """A notice about replywatch itself; `text` is already Slack-safe (built by us, X's parts escaped)."""
    text = _CONTROL.sub("", text)[:SECTION_LIMIT]
    return SlackMessage(text=text, blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": text}}])


def answered_message(mention: Mention, account_handle: str) -> SlackMessage:
    """The same alert, edited once the account has replied."""
    name, handle = _who(mention)
    url = post_url(mention.post.author_handle, mention.id)
    after = format_age(mention.answered_at - mention.post.created_at) if mention.answered_at else "?"
    reply = post_url(account_handle, mention.answered_by) if mention.answered_by else url
    headline = f":white_check_mark: *{name}* ({handle}) was answered after {after}"
    blocks = [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"{headline}\n{_quote(mention.post.text)}"}},
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": f"<{reply}|Reply on X> · <{url}|Mention on X> · posted {_stamp(mention)}"}],
        },
    ]
    return SlackMessage(text=f"Answered after {after}: {name} ({handle})", blocks=blocks)


def _stamp(mention: Mention) -> str:
    return mention.post.created_at.strftime("%Y-%m-%d %H:%M UTC")
