"""What posting a reply on Bluesky takes beyond the call itself, decided here once:

- **Length** is graphemes (what a person sees as one character: an emoji with its skin tone is one), limit 300.
- **The thread**: a reply names its parent *and* the thread's root by strong ref (uri + cid). The parent's view
  (getPosts) gives its cid and, when it is itself a reply, the root's; otherwise the parent is the root. The view also
  says whether a thread gate keeps the account from replying (`viewer.replyDisabled`): then the reply is refused
  before it is sent, with a message that says so.
- **The record key** is chosen before the first call (`record_key`), the same for every attempt at one draft, so a
  second create of it is refused instead of posting twice; the reference PDS answers that refusal with a bare 500
  (atproto#3718), so a failed retry is confirmed by reading the record back (getRecord), never by the status.
  A record key of a post is a TID: 53 bits of microseconds, 10 bits of clock id, in base32-sortable. Ours takes its
  time from the mention (whole seconds: however the mention's time was stored, the same) plus an offset within the
  second and a clock id both from the draft's key: deterministic per draft, distinct for two drafts, and near the
  time the reply belongs to (repositories list records in rkey order; a random time would put it centuries off).
- **Rich text**: links and a mention of the mention's author (whose DID is known) become facets, with UTF-8 byte
  offsets, through the SDK's TextBuilder; other handles stay plain text (resolving them would cost a request each).
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from typing import Any

import regex
from atproto_client import models
from atproto_client.utils.text_builder import TextBuilder

from bot.errors import BadResponse, Rejected
from bot.model import Draft
from bot.sources.bluesky.errors import SERVICE
from bot.sources.bluesky.translate import POST_COLLECTION

LIMIT = 300
GATED = "the thread's gate allows no reply from this account (its author limited who may reply)"
_SORTABLE = "234567abcdefghijklmnopqrstuvwxyz"
_MOST_MICROS = 2**53 - 1
_TOKENS = re.compile(r"(?P<link>https?://[^\s]*[^\s.,;:!?)\]'\"])|(?<![\w@])@(?P<handle>[A-Za-z0-9][A-Za-z0-9.-]*[A-Za-z0-9])")


def length(text: str) -> int:
    """`text`'s length in graphemes, as Bluesky counts it against LIMIT."""
    return len(regex.findall(r"\X", text))


def record_key(draft: Draft) -> str:
    """The TID every attempt at `draft` creates its record under (see the module docstring)."""
    digest = hashlib.sha256(draft.key.encode()).digest()
    seconds = int(draft.mention.created_at.timestamp())
    micros = min(max(0, seconds * 1_000_000 + int.from_bytes(digest[:4], "big") % 1_000_000), _MOST_MICROS)
    number = (micros << 10) | (int.from_bytes(digest[4:6], "big") & 0x3FF)
    return "".join(_SORTABLE[(number >> shift) & 31] for shift in range(60, -1, -5))


def thread(view: Any) -> tuple[models.ComAtprotoRepoStrongRef.Main, models.ComAtprotoRepoStrongRef.Main]:
    """(root, parent) strong refs for a reply to the post `view` (a getPosts item); Rejected when a thread gate
    keeps the account from replying."""
    viewer = view.get("viewer") if isinstance(view, dict) else None
    if isinstance(viewer, dict) and viewer.get("replyDisabled") is True:
        raise Rejected(SERVICE, f"reply: {GATED}")
    try:
        parent = models.ComAtprotoRepoStrongRef.Main(uri=view["uri"], cid=view["cid"])
        above = (view["record"].get("reply") or {}).get("root")
        root = models.ComAtprotoRepoStrongRef.Main(uri=above["uri"], cid=above["cid"]) if above else parent
    except (KeyError, TypeError, AttributeError, ValueError):
        raise BadResponse(SERVICE, "reply: the post replied to is not in the documented shape") from None
    return root, parent


def record(draft: Draft, refs: tuple[Any, Any], created_at: datetime) -> models.AppBskyFeedPost.Record:
    """The post record of `draft`, replying under `refs` (root, parent)."""
    known = {draft.mention.author_handle.lower(): draft.mention.author_id} if draft.mention.author_id else {}
    builder = TextBuilder()
    last = 0
    for match in _TOKENS.finditer(draft.text):
        did = known.get((match.group("handle") or "").lower())
        if not match.group("link") and not did:
            continue
        builder.text(draft.text[last : match.start()])
        if match.group("link"):
            builder.link(match.group(0), match.group("link"))
        else:
            builder.mention(match.group(0), did)
        last = match.end()
    builder.text(draft.text[last:])
    root, parent = refs
    return models.AppBskyFeedPost.Record(
        text=builder.build_text(),
        created_at=created_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
        reply=models.AppBskyFeedPost.ReplyRef(root=root, parent=parent),
        facets=builder.build_facets() or None,
    )


def uri(did: str, rkey: str) -> str:
    return f"at://{did}/{POST_COLLECTION}/{rkey}"


def answers(value: Any, draft: Draft) -> bool:
    """Whether a record read back (getRecord's `value`) is a post replying to `draft`'s mention."""
    reply = value.get("reply") if isinstance(value, dict) else None
    parent = reply.get("parent") if isinstance(reply, dict) else None
    return value.get("$type") == POST_COLLECTION and isinstance(parent, dict) and parent.get("uri") == draft.mention.id
