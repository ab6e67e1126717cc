"""What alerts look like in Slack: an alert, its edits (answered, closed, deleted), a digest, the close form and
the `/replywatch` queue. Everything from a network passes through `safe` or `_quote` (bot.slack.text)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, tzinfo

from bot.humanize import format_age, local_time
from bot.messages import DIGEST_ROWS
from bot.model import CLOSE_REASONS, HANDLE, Mention, ReplyForm, SlackMessage, Status
from bot.slack.text import (
    BLOCK_LIMIT,
    SECTION_LIMIT,
    button,
    clean,
    context,
    escape,
    link,
    message,
    option,
    plain,
    safe,
    section,
    slack_mention,
)
from bot.strangers import EXCERPT, NAME_LIMIT, safe_url

SNOOZES = {"1h": "1 hour", "4h": "4 hours", "tomorrow": "until tomorrow 09:00"}
DIGEST_LINES_PER_SECTION = 8  # a line is at most ~300 characters; a section holds 3,000
DIGEST_SECTIONS = DIGEST_ROWS // DIGEST_LINES_PER_SECTION  # 45: Block Kit allows 50 blocks a message
QUEUE_LINES_PER_SECTION = 10
QUEUE_MOST = (BLOCK_LIMIT - 1) * QUEUE_LINES_PER_SECTION - 1  # the head, and the "and N more" line, still fit


def where(mention: Mention) -> str:
    """Which watched account's queue a mention is in, and on which network: "@acme on Bluesky"."""
    handle = mention.account if HANDLE.fullmatch(mention.account) else "?"
    return f"@{handle} on {mention.network.label}"


def _private(mention: Mention) -> str:
    return f"private — open on {mention.network.label} to read it"


def who(mention: Mention) -> tuple[str, str]:
    post = mention.post
    handle = post.author_handle if HANDLE.fullmatch(post.author_handle) else ""
    name = safe(post.author_name, NAME_LIMIT, single_line=True) or (f"@{handle}" if handle else "someone")
    return name, (f"@{handle}" if handle else "(unknown handle)")


def _quote(mention: Mention) -> str:
    """The post as a quote, not yet cut: its section is cut as a whole, after every line got its `&gt; `."""
    if mention.post.private:
        return f"&gt; _{_private(mention)}_"
    body = escape(clean(mention.post.text)[: SECTION_LIMIT + 1])  # more would be cut anyway
    return "\n".join("&gt; " + line if line else "&gt;" for line in body.split("\n")) if body else "&gt; (no text)"


def _excerpt(mention: Mention, limit: int) -> str:
    return _private(mention) if mention.post.private else safe(mention.post.text, limit, single_line=True)


def unread_line(since: datetime | None, tz: tzinfo) -> str | None:
    """What an alert says when its mentions' replies could not be read when it fell due (AlertPolicy.alert_as_of)."""
    if since is None:
        return None
    when = "replywatch started" if since.year == 1 else local_time(since, tz)
    return f":warning: Replies could not be checked since {when}: the network is not answering, so this may already be answered."


def alert_message(
    mention: Mention, now: datetime, *, buttons: bool = False, tz: tzinfo = UTC, on_call: str | None = None,
    unchecked_since: datetime | None = None, reply: bool = False, due: datetime | None = None,
) -> SlackMessage:
    """The alert for an open mention that has waited too long; with `buttons`, the actions that work it (and with
    `reply`, the one that answers it from Slack); with
    `on_call`, it names (and so notifies) the person on call, unless someone already claimed it; with
    `unchecked_since`, it says its replies could not be read since then; with a `due` time still ahead, it is a quiet
    warning (WARN_BEFORE) that names nobody."""
    name, handle = who(mention)
    age = format_age(now - mention.post.created_at)
    url = mention.post.url
    headline = f":hourglass: *{name}* ({handle}) has been waiting {age} for a reply"
    warning = due is not None and due > now
    if warning:
        headline = f":hourglass_flowing_sand: *{name}* ({handle}) is due for a reply in {format_age(due - now)}"  # type: ignore[operator]
        on_call = None
    if mention.priority:
        headline = f":star: {headline} · _{safe(mention.priority, 100, single_line=True)}_"
    footer = [f"to {where(mention)}", f"posted {_stamp(mention)}"]
    if not buttons:
        footer.insert(0, link(url, f"Open on {mention.network.label}"))
    if on_call and not mention.claimed_by:
        footer.append(f"on call: {slack_mention(on_call)}")
    if mention.claimed_by:
        footer.append(f"claimed by {slack_mention(mention.claimed_by)}")
    if mention.snoozed_until and mention.snoozed_until > now:
        footer.append(f"snoozed until {local_time(mention.snoozed_until, tz)} by {slack_mention(mention.snoozed_by or '')}")
    blocks = [section(f"{headline}\n{_quote(mention)}"), context(" · ".join(footer))]
    if (unread := unread_line(unchecked_since, tz)) is not None:
        blocks.append(context(unread))
    if buttons:
        blocks.append(_actions(mention, url, reply))
    opening = link(url, f"Open on {mention.network.label}")  # the fallback alone is what a refused alert is sent as
    fallback = f"{name} ({handle}) has been waiting {age} for a reply: {_excerpt(mention, 200)} · {opening}"
    return message(fallback, blocks)


def _actions(mention: Mention, url: str, reply: bool) -> dict:
    key = str(mention.id)
    url = safe_url(url)
    opening = [button("open", f"Open on {mention.network.label}", url=url)] if url else []
    replying = [button("reply", "Reply", value=key)] if reply else []
    return {
        "type": "actions",
        "block_id": f"mention:{key}",
        "elements": [
            button("claim", "I'll take it", value=key, style="primary"),
            *replying,
            {
                "type": "static_select",
                "action_id": "snooze",
                "placeholder": plain("Snooze"),
                "options": [option(label, f"{key}:{value}") for value, label in SNOOZES.items()],
            },
            button("close", "No reply needed", value=key),
            *opening,
        ],
    }


def close_view(mention: Mention, channel: str) -> dict:
    """The modal that asks why a mention needs no reply."""
    name, handle = who(mention)
    return {
        "type": "modal",
        "callback_id": "close_reason",
        "private_metadata": json.dumps({"mention": str(mention.id), "channel": channel}),
        "title": plain("No reply needed"),
        "submit": plain("Close it"),
        "close": plain("Cancel"),
        "blocks": [
            section(f"*{name}* ({handle}): {_excerpt(mention, 200)}"),
            {
                "type": "input",
                "block_id": "reason",
                "label": plain("Why does it need no reply?"),
                "element": {
                    "type": "radio_buttons",
                    "action_id": "choice",
                    "options": [option(label.capitalize(), value) for value, label in CLOSE_REASONS.items()],
                },
            },
            {
                "type": "input",
                "block_id": "note",
                "optional": True,
                "label": plain("Details (needed for Other)"),
                "element": {"type": "plain_text_input", "action_id": "text", "max_length": 300},
            },
        ],
    }


def reply_view(form: ReplyForm, channel: str) -> dict:
    """The modal in which a reply is written, to post as the account the mention talks to."""
    mention = form.mention
    name, handle = who(mention)
    label = mention.network.label
    about = [f"You answer as {where(mention)}: up to {form.limit:,} characters as {label} counts them"]
    if form.direct:
        about.append(f"private, like the mention: {handle} alone sees it")
    if form.price:
        about.append(form.price)
    blocks = [section(f"*{name}* ({handle}): {_quote(mention) if not mention.post.private else _excerpt(mention, 200)}"),
              context(" · ".join(about))]
    if form.refusal:
        blocks.append(section(f":warning: This account cannot post replies now: {safe(form.refusal, 500, single_line=True)}"))
    blocks.append({
        "type": "input",
        "block_id": "text",
        "label": plain("Your reply"),
        "element": {"type": "plain_text_input", "action_id": "text", "multiline": True, "max_length": SECTION_LIMIT},
    })
    return {
        "type": "modal",
        "callback_id": "reply",
        "private_metadata": json.dumps({"mention": str(mention.id), "channel": channel, "limit": form.limit}),
        "title": plain("Reply"),
        "submit": plain(f"Post on {label}"[:24]),
        "close": plain("Cancel"),
        "blocks": blocks,
    }


def digest_message(
    members: list[Mention], now: datetime, on_call: str | None = None, unchecked_since: datetime | None = None
) -> SlackMessage:
    """One message for many mentions that fell due at once; answered and closed ones are struck through."""
    waiting = [m for m in members if m.status is Status.OPEN]
    headline = f":hourglass: *{len(members)} mentions* have been waiting for a reply"
    if on_call:
        headline += f" · on call: {slack_mention(on_call)}"
    if len(waiting) < len(members):
        headline += f"; {len(members) - len(waiting)} since answered or closed, {len(waiting)} still waiting"
    lines = [_digest_line(m, now) for m in members]
    shown = DIGEST_LINES_PER_SECTION * DIGEST_SECTIONS
    blocks = [section(headline)]
    for i in range(0, min(len(lines), shown), DIGEST_LINES_PER_SECTION):
        blocks.append(section("\n".join(lines[i : i + DIGEST_LINES_PER_SECTION])))
    if len(lines) > shown:
        blocks.append(context(f"and {len(lines) - shown} more: `/replywatch` lists them all"))
    if (unread := unread_line(unchecked_since, UTC)) is not None:
        blocks.append(context(unread))
    fallback = f"{len(waiting)} of {len(members)} mentions are waiting for a reply"
    return message(fallback, blocks)


def _digest_line(mention: Mention, now: datetime) -> str:
    name, handle = who(mention)
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
    return safe(mention.reason, 120, single_line=True)


QUEUE_ROWS = 40  # mentions `/replywatch` lists


def queue_message(
    rows: list[Mention], now: datetime, tz: tzinfo = UTC, limit: int = QUEUE_ROWS, total: int | None = None
) -> dict:
    """The `/replywatch` answer: the open queue, oldest first (`rows`, the oldest of `total`), only for whoever
    asked."""
    limit = min(limit, QUEUE_MOST)
    total = len(rows) if total is None else total
    if not rows:
        return {"response_type": "ephemeral", "text": ":white_check_mark: Nothing is waiting for a reply."}
    lines = []
    for m in rows[:limit]:
        name, handle = who(m)
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
    blocks = [section(head)]
    for i in range(0, len(lines), QUEUE_LINES_PER_SECTION):
        blocks.append(section("\n".join(lines[i : i + QUEUE_LINES_PER_SECTION])))
    answer = message(f"{total} open mention(s)", blocks)
    return {"response_type": "ephemeral", "text": answer.text, "blocks": answer.blocks}


def closed_message(mention: Mention) -> SlackMessage:
    """The same alert, edited once the mention is no longer open."""
    if mention.status is Status.DELETED:
        return deleted_message(mention)
    if mention.status is Status.ANSWERED:
        return answered_message(mention)
    name, handle = who(mention)
    label = mention.network.label
    by = f" by {slack_mention(mention.claimed_by)}" if mention.claimed_by else ""
    headline = f":heavy_check_mark: *{name}* ({handle}): closed{by}, {safe(mention.reason, 300, single_line=True)}"
    if mention.status is Status.EXPIRED:
        headline = f":hourglass: *{name}* ({handle}): {safe(mention.reason, 300, single_line=True)}"
    footer = f"{link(mention.post.url, f'Mention on {label}')} to {where(mention)} · posted {_stamp(mention)}"
    blocks = [section(f"{headline}\n{_quote(mention)}"), context(footer)]
    return message(f"Closed: {name} ({handle})", blocks)


def deleted_message(mention: Mention) -> SlackMessage:
    """Deleted by its author: the text is gone from the store and from the channel."""
    name, handle = who(mention)
    label = mention.network.label
    headline = f":wastebasket: *{name}* ({handle}) deleted this post on {label}; no reply needed"
    blocks = [section(headline), context(f"to {where(mention)} · posted {_stamp(mention)}")]
    return message(f"Deleted on {label}: {name} ({handle})", blocks)


def answered_message(mention: Mention) -> SlackMessage:
    """The same alert, edited once the account has replied."""
    name, handle = who(mention)
    label = mention.network.label
    after = format_age(mention.answered_at - mention.post.created_at) if mention.answered_at else "?"
    headline = f":white_check_mark: *{name}* ({handle}) was answered after {after}"
    if mention.answered_from:
        headline = f":white_check_mark: *{name}* ({handle}) was answered from Slack by {slack_mention(mention.answered_from)} after {after}"
    reply = link(mention.answer_url, f"Reply on {label}")
    footer = f"{reply} · {link(mention.post.url, f'Mention on {label}')} to {where(mention)} · posted {_stamp(mention)}"
    shown = mention.answer_text and not mention.post.private  # a private mention's answer is as private as it
    ours = f"\n*Reply:* {safe(mention.answer_text, 1000, single_line=True)}" if shown else ""
    blocks = [section(f"{headline}\n{_quote(mention)}{ours}"), context(footer)]
    return message(f"Answered after {after}: {name} ({handle})", blocks)


def _stamp(mention: Mention) -> str:
    return mention.post.created_at.strftime("%Y-%m-%d %H:%M UTC")
