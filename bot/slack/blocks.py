"""What alerts look like in Slack, and the one place text from X is made safe for it.

Text from X arrives unescaped (the adapter undid X's HTML escaping). Here it is escaped for Slack exactly
once: `&`, `<`, `>` become `&amp;`, `&lt;`, `&gt;`, so nobody on X can write `<!channel>`, `<@U…>` or
`<https://evil|https://good>` into our channel. Control characters and every bidirectional control are dropped
(they would let a post reorder the text around it). Everything from X passes through `_safe` or `_quote`.

Lengths stay inside Block Kit's limits by construction: every block is made by `_section`, `_context` or
`_button` and every message by `_message`, which cut the finished text with `cut` (after quoting and escaping,
never inside an entity or a link we built). Slack refuses an over-long message, and would refuse every retry.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta, tzinfo

from bot.model import SLACK_GROUP_ID, SLACK_USER_ID, FollowUp, Mention, SlackMessage, Status

# Block Kit's limits (PLATFORM.md, Slack section; Slack's reference gives button text 75, not 150).
SECTION_LIMIT = 3000  # a section's text, and any mrkdwn text object
BUTTON_LIMIT = 75  # a button's or an option's text
BLOCK_LIMIT = 50  # blocks a message
FALLBACK_LIMIT = 40_000  # the top-level `text`
NAME_LIMIT = 100
_BIDI = r"\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"  # Arabic letter mark, LRM/RLM, embeddings, overrides, isolates
_CONTROL = re.compile(rf"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200d{_BIDI}]")
# Handles on every network: X's letters, digits and _; Bluesky's domain names; Mastodon's user@instance. None of
# these characters means anything to mrkdwn.
_HANDLE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.@-]{0,99}")
_URL = re.compile(rf"https://[^\s<>|\x00-\x1f\x7f-\x9f\u200b-\u200d{_BIDI}]{{1,490}}")  # nothing to end a <url|label> early or reorder it
SNOOZES = {"1h": "1 hour", "4h": "4 hours", "tomorrow": "until tomorrow 09:00"}
CLOSE_REASONS = {"spam": "spam", "elsewhere": "handled elsewhere", "not_for_us": "not for us", "other": "other"}
DIGEST_LINES_PER_SECTION = 8  # a line is at most ~300 characters; a section holds 3,000
DIGEST_SECTIONS = 45  # Block Kit allows 50 blocks a message
QUEUE_LINES_PER_SECTION = 10
QUEUE_MOST = (BLOCK_LIMIT - 1) * QUEUE_LINES_PER_SECTION - 1  # the head, and the "and N more" line, still fit
EXCERPT = 90
_SLACK_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}


def escape(text: str) -> str:
    """Escape text for Slack mrkdwn: exactly &, <, >."""
    return "".join(_SLACK_ESCAPES.get(ch, ch) for ch in text)


def cut(mrkdwn: str, limit: int) -> str:
    """Cut finished mrkdwn to at most `limit` characters, ending in "…", never inside an entity or a `<…>` link."""
    if len(mrkdwn) <= limit:
        return mrkdwn
    kept = mrkdwn[: limit - 1]
    if kept.rfind("<") > kept.rfind(">"):  # inside a link or ping we built (X's own < > are escaped by now)
        kept = kept[: kept.rfind("<")]
    amp = kept.rfind("&", max(0, len(kept) - 4))
    if amp >= 0 and ";" not in kept[amp:]:  # inside &amp; &lt; or &gt;
        kept = kept[:amp]
    return kept.rstrip() + "…"


def _clean(text: str, *, single_line: bool = False) -> str:
    text = _CONTROL.sub("", text)
    return " ".join(text.split()) if single_line else text


def _safe(text: str, limit: int, *, single_line: bool = False) -> str:
    """Drop control characters, escape, cut to `limit` characters without splitting an entity."""
    return cut(escape(_clean(text, single_line=single_line)[: limit + 1]), limit)


def safe_url(url: str) -> str:
    """A link from a network as it may go inside `<url|label>`: https, and nothing that could end it early or
    disguise it; anything else is left out ("")."""
    return url if _URL.fullmatch(url) else ""


def link(url: str, label: str) -> str:
    """`<url|label>` for a safe url; the bare label otherwise (`label` is ours, already mrkdwn)."""
    url = safe_url(url)
    return f"<{url.replace('&', '&amp;')}|{label}>" if url else label


def where(mention: Mention) -> str:
    """Which watched account's queue a mention is in, and on which network: "@acme on Bluesky"."""
    handle = mention.account if _HANDLE.fullmatch(mention.account) else "?"
    return f"@{handle} on {mention.network.label}"


def _private(mention: Mention) -> str:
    return f"private — open on {mention.network.label} to read it"


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


def _quote(mention: Mention) -> str:
    """The post as a quote, not yet cut: its section is cut as a whole, after every line got its `&gt; `."""
    if mention.post.private:
        return f"&gt; _{_private(mention)}_"
    body = escape(_clean(mention.post.text)[: SECTION_LIMIT + 1])  # more would be cut anyway
    return "\n".join("&gt; " + line if line else "&gt;" for line in body.split("\n")) if body else "&gt; (no text)"


def _excerpt(mention: Mention, limit: int) -> str:
    return _private(mention) if mention.post.private else _safe(mention.post.text, limit, single_line=True)


def slack_mention(target: str) -> str:
    """How we ping someone: a user ID, a user-group ID, here or channel (our settings, never text from X)."""
    if target in {"here", "channel"}:
        return f"<!{target}>"
    if SLACK_GROUP_ID.fullmatch(target):
        return f"<!subteam^{target}>"
    return f"<@{target}>" if SLACK_USER_ID.fullmatch(target) else ""


def local_time(moment: datetime, tz: tzinfo, *, weekday: bool = False) -> str:
    """`2026-11-27 09:00 CET` (with `weekday`, `Fri 2026-11-27 09:00 CET`)."""
    local = moment.astimezone(tz)
    return local.strftime("%a " if weekday else "") + local.strftime("%Y-%m-%d %H:%M ") + (local.tzname() or "")


def _plain(text: str) -> dict:
    return {"type": "plain_text", "text": text}


def _section(text: str) -> dict:
    return {"type": "section", "text": {"type": "mrkdwn", "text": cut(text, SECTION_LIMIT)}}


def _context(text: str) -> dict:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": cut(text, SECTION_LIMIT)}]}


def _button(action_id: str, text: str, **fields: str) -> dict:
    return {"type": "button", "action_id": action_id, "text": _plain(cut(text, BUTTON_LIMIT)), **fields}


def _option(text: str, value: str) -> dict:
    return {"text": _plain(cut(text, BUTTON_LIMIT)), "value": value}


def _message(text: str, blocks: list[dict]) -> SlackMessage:
    """A message Slack accepts: the fallback cut to its limit, at most 50 blocks (each layout keeps below that)."""
    return SlackMessage(text=cut(text, FALLBACK_LIMIT), blocks=blocks[:BLOCK_LIMIT])


def alert_message(
    mention: Mention, now: datetime, *, buttons: bool = False, tz: tzinfo = UTC, on_call: str | None = None
) -> SlackMessage:
    """The alert for an open mention that has waited too long; with `buttons`, the actions that work it; with
    `on_call`, it names (and so notifies) the person on call, unless someone already claimed it."""
    name, handle = _who(mention)
    age = format_age(now - mention.post.created_at)
    url = mention.post.url
    headline = f":hourglass: *{name}* ({handle}) has been waiting {age} for a reply"
    if mention.priority:
        headline = f":star: {headline} · _{_safe(mention.priority, 100, single_line=True)}_"
    context = [f"to {where(mention)}", f"posted {_stamp(mention)}"]
    if not buttons:
        context.insert(0, link(url, f"Open on {mention.network.label}"))
    if on_call and not mention.claimed_by:
        context.append(f"on call: {slack_mention(on_call)}")
    if mention.claimed_by:
        context.append(f"claimed by {slack_mention(mention.claimed_by)}")
    if mention.snoozed_until and mention.snoozed_until > now:
        context.append(f"snoozed until {local_time(mention.snoozed_until, tz)} by {slack_mention(mention.snoozed_by or '')}")
    blocks = [_section(f"{headline}\n{_quote(mention)}"), _context(" · ".join(context))]
    if buttons:
        blocks.append(_actions(mention, url))
    opening = link(url, f"Open on {mention.network.label}")  # the fallback alone is what a refused alert is sent as
    fallback = f"{name} ({handle}) has been waiting {age} for a reply: {_excerpt(mention, 200)} · {opening}"
    return _message(fallback, blocks)


def _actions(mention: Mention, url: str) -> dict:
    key = str(mention.id)
    url = safe_url(url)
    opening = [_button("open", f"Open on {mention.network.label}", url=url)] if url else []
    return {
        "type": "actions",
        "block_id": f"mention:{key}",
        "elements": [
            _button("claim", "I'll take it", value=key, style="primary"),
            {
                "type": "static_select",
                "action_id": "snooze",
                "placeholder": _plain("Snooze"),
                "options": [_option(label, f"{key}:{value}") for value, label in SNOOZES.items()],
            },
            _button("close", "No reply needed", value=key),
            *opening,
        ],
    }


def close_view(mention: Mention, channel: str) -> dict:
    """The modal that asks why a mention needs no reply."""
    name, handle = _who(mention)
    return {
        "type": "modal",
        "callback_id": "close_reason",
        "private_metadata": json.dumps({"mention": str(mention.id), "channel": channel}),
        "title": _plain("No reply needed"),
        "submit": _plain("Close it"),
        "close": _plain("Cancel"),
        "blocks": [
            _section(f"*{name}* ({handle}): {_excerpt(mention, 200)}"),
            {
                "type": "input",
                "block_id": "reason",
                "label": _plain("Why does it need no reply?"),
                "element": {
                    "type": "radio_buttons",
                    "action_id": "choice",
                    "options": [_option(label.capitalize(), value) for value, label in CLOSE_REASONS.items()],
                },
            },
            {
                "type": "input",
                "block_id": "note",
                "optional": True,
                "label": _plain("Details (needed for Other)"),
                "element": {"type": "plain_text_input", "action_id": "text", "max_length": 300},
            },
        ],
    }


def digest_message(members: list[Mention], now: datetime, on_call: str | None = None) -> SlackMessage:
    """One message for many mentions that fell due at once; answered and closed ones are struck through."""
    waiting = [m for m in members if m.status is Status.OPEN]
    headline = f":hourglass: *{len(members)} mentions* have been waiting for a reply"
    if on_call:
        headline += f" · on call: {slack_mention(on_call)}"
    if len(waiting) < len(members):
        headline += f"; {len(members) - len(waiting)} since answered or closed, {len(waiting)} still waiting"
    lines = [_digest_line(m, now) for m in members]
    shown = DIGEST_LINES_PER_SECTION * DIGEST_SECTIONS
    blocks = [_section(headline)]
    for i in range(0, min(len(lines), shown), DIGEST_LINES_PER_SECTION):
        blocks.append(_section("\n".join(lines[i : i + DIGEST_LINES_PER_SECTION])))
    if len(lines) > shown:
        blocks.append(_context(f"and {len(lines) - shown} more: `/replywatch` lists them all"))
    fallback = f"{len(waiting)} of {len(members)} mentions are waiting for a reply"
    return _message(fallback, blocks)


def _digest_line(mention: Mention, now: datetime) -> str:
    name, handle = _who(mention)
    if mention.status is not Status.OPEN:
        return f":white_check_mark: ~{handle}~ {_closed_words(mention)}"
    vip = " :star:" if mention.priority else ""
    age = format_age(now - mention.post.created_at)
    return f"•{vip} {link(mention.post.url, handle)} ({name}) to {where(mention)}, {age}: {_excerpt(mention, EXCERPT)}"


def _closed_words(mention: Mention) -> str:
    if mention.status is Status.ANSWERED:
        return "answered"
    if mention.status is Status.DELETED:
        return f"deleted on {mention.network.label}"
    return _safe(mention.reason, 120, single_line=True)


def follow_up_message(follow_up: FollowUp, mentions: list[Mention], now: datetime) -> SlackMessage:
    """An escalation or reminder in the alert's (or digest's) thread."""
    pings = " ".join(p for p in (slack_mention(t) for t in follow_up.to) if p)
    oldest = min(m.post.created_at for m in mentions)
    what = "still unanswered" if len(mentions) == 1 else f"{len(mentions)} mentions still unanswered"
    icon, word = {
        "escalation": (":rotating_light:", "Escalation"),
        "woke": (":alarm_clock:", "Snooze over"),
    }.get(follow_up.kind, (":bell:", "Reminder"))
    handles = ", ".join(link(m.post.url, _who(m)[1]) for m in mentions[:10])
    more = f" and {len(mentions) - 10} more" if len(mentions) > 10 else ""
    text = f"{icon} {word}: {pings + ' ' if pings else ''}{what} after {format_age(now - oldest)}: {handles}{more}"
    return _message(text, [_section(text)])


def queue_message(rows: list[Mention], now: datetime, tz: tzinfo = UTC, limit: int = 40, total: int | None = None) -> dict:
    """The `/replywatch` answer: the open queue, oldest first (`rows`, the oldest of `total`), only for whoever
    asked."""
    limit = min(limit, QUEUE_MOST)
    total = len(rows) if total is None else total
    if not rows:
        return {"response_type": "ephemeral", "text": ":white_check_mark: Nothing is waiting for a reply."}
    lines = []
    for m in rows[:limit]:
        name, handle = _who(m)
        state = []
        if m.claimed_by:
            state.append(f"claimed by {slack_mention(m.claimed_by)}")
        if m.snoozed_until and m.snoozed_until > now:
            state.append(f"snoozed until {local_time(m.snoozed_until, tz)}")
        extra = f" _({', '.join(state)})_" if state else ""
        age = format_age(now - m.post.created_at)
        lines.append(f"• {age} {link(m.post.url, handle)} to {where(m)}{extra}: {_excerpt(m, 80)}")
    head = f"*{total} open mention(s)*, oldest first:"
    if total > limit:
        lines.append(f"and {total - limit} more (`replywatch status` lists them)")
    blocks = [_section(head)]
    for i in range(0, len(lines), QUEUE_LINES_PER_SECTION):
        blocks.append(_section("\n".join(lines[i : i + QUEUE_LINES_PER_SECTION])))
    message = _message(f"{total} open mention(s)", blocks)
    return {"response_type": "ephemeral", "text": message.text, "blocks": message.blocks}


def closed_message(mention: Mention) -> SlackMessage:
    """The same alert, edited once the mention is no longer open."""
    if mention.status is Status.DELETED:
        return deleted_message(mention)
    if mention.status is Status.ANSWERED:
        return answered_message(mention)
    name, handle = _who(mention)
    label = mention.network.label
    by = f" by {slack_mention(mention.claimed_by)}" if mention.claimed_by else ""
    headline = f":heavy_check_mark: *{name}* ({handle}): closed{by}, {_safe(mention.reason, 300, single_line=True)}"
    if mention.status is Status.EXPIRED:
        headline = f":hourglass: *{name}* ({handle}): {_safe(mention.reason, 300, single_line=True)}"
    context = f"{link(mention.post.url, f'Mention on {label}')} to {where(mention)} · posted {_stamp(mention)}"
    blocks = [_section(f"{headline}\n{_quote(mention)}"), _context(context)]
    return _message(f"Closed: {name} ({handle})", blocks)


def deleted_message(mention: Mention) -> SlackMessage:
    """Deleted by its author: the text is gone from the store and from the channel."""
    name, handle = _who(mention)
    label = mention.network.label
    headline = f":wastebasket: *{name}* ({handle}) deleted this post on {label}; no reply needed"
    blocks = [_section(headline), _context(f"to {where(mention)} · posted {_stamp(mention)}")]
    return _message(f"Deleted on {label}: {name} ({handle})", blocks)


def notice_message(text: str) -> SlackMessage:
    """A notice about replywatch itself; `text` is already Slack-safe (built by us, X's parts escaped)."""
    text = _CONTROL.sub("", text)
    return _message(text, [_section(text)])


def answered_message(mention: Mention) -> SlackMessage:
    """The same alert, edited once the account has replied."""
    name, handle = _who(mention)
    label = mention.network.label
    after = format_age(mention.answered_at - mention.post.created_at) if mention.answered_at else "?"
    headline = f":white_check_mark: *{name}* ({handle}) was answered after {after}"
    reply = link(mention.answer_url, f"Reply on {label}")
    context = f"{reply} · {link(mention.post.url, f'Mention on {label}')} to {where(mention)} · posted {_stamp(mention)}"
    blocks = [_section(f"{headline}\n{_quote(mention)}"), _context(context)]
    return _message(f"Answered after {after}: {name} ({handle})", blocks)


def _stamp(mention: Mention) -> str:
    return mention.post.created_at.strftime("%Y-%m-%d %H:%M UTC")
