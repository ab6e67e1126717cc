"""Slack's mrkdwn, made safe: the one place text from a network is escaped for Slack, and Block Kit's limits kept.

Text from a network arrives as the person typed it (its adapter undid X's HTML escaping, turned Mastodon's HTML
into text). Here it is escaped for Slack exactly once: `&`, `<`, `>` become `&amp;`, `&lt;`, `&gt;`, so nobody
can write `<!channel>`, `<@U…>` or `<https://evil|https://good>` into our channel. Control characters and every
bidirectional control are dropped, and a link from a network goes into `<url|label>` only when nothing in it could
end the link early, as in every sink (bot.strangers).

Lengths stay inside Block Kit's limits by construction: every block is made by `section`, `context` or `button`
and every message by `message`, which cut the finished text with `cut` (after quoting and escaping, never inside
an entity or a link we built). Slack refuses an over-long message, and would refuse every retry.
"""

from __future__ import annotations

from bot.model import SLACK_GROUP_ID, SLACK_USER_ID, SlackMessage
from bot.strangers import CONTROL, safe_url

# Block Kit's limits (PLATFORM.md, Slack section; Slack's reference gives button text 75, not 150).
SECTION_LIMIT = 3000  # a section's text, and any mrkdwn text object
BUTTON_LIMIT = 75  # a button's or an option's text
BLOCK_LIMIT = 50  # blocks a message
FALLBACK_LIMIT = 40_000  # the top-level `text`
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


def clean(text: str, *, single_line: bool = False) -> str:
    text = CONTROL.sub("", text)
    return " ".join(text.split()) if single_line else text


def safe(text: str, limit: int, *, single_line: bool = False) -> str:
    """Drop control characters, escape, cut to `limit` characters without splitting an entity."""
    return cut(escape(clean(text, single_line=single_line)[: limit + 1]), limit)


def link(url: str, label: str) -> str:
    """`<url|label>` for a safe url; the bare label otherwise (`label` is ours, already mrkdwn)."""
    url = safe_url(url)
    return f"<{url.replace('&', '&amp;')}|{label}>" if url else label


def slack_mention(target: str) -> str:
    """How we ping someone: a user ID, a user-group ID, here or channel (our settings, never text from X)."""
    if target in {"here", "channel"}:
        return f"<!{target}>"
    if SLACK_GROUP_ID.fullmatch(target):
        return f"<!subteam^{target}>"
    return f"<@{target}>" if SLACK_USER_ID.fullmatch(target) else ""


def plain(text: str) -> dict:
    return {"type": "plain_text", "text": text}


def section(text: str) -> dict:
    return {"type": "section", "text": {"type": "mrkdwn", "text": cut(text, SECTION_LIMIT)}}


def context(text: str) -> dict:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": cut(text, SECTION_LIMIT)}]}


def button(action_id: str, text: str, **fields: str) -> dict:
    return {"type": "button", "action_id": action_id, "text": plain(cut(text, BUTTON_LIMIT)), **fields}


def option(text: str, value: str) -> dict:
    return {"text": plain(cut(text, BUTTON_LIMIT)), "value": value}


def message(text: str, blocks: list[dict]) -> SlackMessage:
    """A message Slack accepts: the fallback cut to its limit, at most 50 blocks (each layout keeps below that)."""
    return SlackMessage(text=cut(text, FALLBACK_LIMIT), blocks=blocks[:BLOCK_LIMIT])
