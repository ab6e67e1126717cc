"""Bluesky's shapes into ours: a notification or an author-feed item becomes an `Entry` (where it sits in the
timeline) holding a `Post` when it talks to us. What is Bluesky-specific: ids are at-URIs, a thread is named by
`record.reply.root`/`parent`, a quote is an `app.bsky.embed.record` embed, the web link is built from the rkey, and
each item is validated with the SDK's own pydantic models one by one, so one bad item is passed over, not the page.
There is no since_id either: the cursor the adapter stores is a `Mark` of where the last read stopped."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from atproto_client import models
from atproto_client.models.utils import get_or_create

from bot.model import Account, Post

log = logging.getLogger(__name__)

# Notification reasons that mean "someone talks to us"; like, repost, follow, starterpack-joined... never do.
TALKING_REASONS = ("mention", "reply", "quote")
POST_COLLECTION = "app.bsky.feed.post"


@dataclass(frozen=True)
class Entry:
    """One timeline item: when it was indexed and its uri (what the cursor marks), and the post if it is one we keep."""

    at: datetime
    uri: str
    post: Post | None


class Mark:
    """What Timeline.cursor holds (as JSON): the newest indexedAt read and the uris read at that instant, since items
    indexed in the same millisecond come in no order and one of them may arrive after a read."""

    def __init__(self, at: datetime, uris: frozenset[str]) -> None:
        self.at = at
        self.uris = uris

    def covers(self, entry: Entry) -> bool:
        """Whether `entry` was read before (older than the mark, or one of the uris at its instant)."""
        return entry.at < self.at or (entry.at == self.at and entry.uri in self.uris)

    @staticmethod
    def newer(mark: Mark | None, entry: Entry) -> Mark:
        """The mark moved forward to `entry` if it is newer (or added to it, at the same instant)."""
        if mark is None or entry.at > mark.at:
            return Mark(entry.at, frozenset({entry.uri}))
        return Mark(mark.at, mark.uris | {entry.uri}) if entry.at == mark.at else mark

    def merged(self, other: Mark) -> Mark:
        """This mark with the uris of `other` at the same instant."""
        return Mark(self.at, self.uris | other.uris)

    def encode(self) -> str:
        """The cursor string."""
        return json.dumps({"v": 1, "at": self.at.isoformat(), "uris": sorted(self.uris)}, separators=(",", ":"))

    @classmethod
    def decode(cls, text: str) -> Mark | None:
        """The mark in a cursor string; None (logged) for one this adapter did not make."""
        try:
            data = json.loads(text)
            at = parse_time(data["at"])
            uris = frozenset(str(u) for u in data["uris"])
        except (ValueError, TypeError, KeyError):
            at = None
        if at is None:
            log.warning("Bluesky: a cursor not made by this adapter (%r); reading back to `since` instead", text)
            return None
        return cls(at, uris)


def parse_time(value: Any) -> datetime | None:
    """An aware UTC datetime from an AT Protocol datetime string, or None."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo is not None else None


def did_of(uri: str | None) -> str | None:
    """The repository DID in an at-URI (`at://<did>/<collection>/<rkey>`)."""
    parts = _parts(uri)
    return parts[0] if parts else None


def notification(raw: Any) -> Entry | None:
    """Translate one listNotifications item; None (logged) when it is not in the documented shape."""
    try:
        item = get_or_create(raw, models.AppBskyNotificationListNotifications.Notification, strict=True)
        at = parse_time(item.indexed_at)
        if at is None:
            raise ValueError("indexedAt is not a datetime")
        if item.reason not in TALKING_REASONS:
            return Entry(at, item.uri, None)
        post = _post(item.uri, item.record, item.author, at)
    except Exception as exc:  # noqa: BLE001 - any malformed item is passed over, never fatal to the read
        _pass_over("notification", raw, exc)
        return None
    return Entry(at, item.uri, post)


def feed_item(raw: Any) -> Entry | None:
    """Translate one getAuthorFeed item; reposts and pins give no post, a malformed item gives None (logged)."""
    try:
        item = get_or_create(raw, models.AppBskyFeedDefs.FeedViewPost, strict=True)
        at = parse_time(item.post.indexed_at)
        if at is None:
            raise ValueError("indexedAt is not a datetime")
        if isinstance(item.reason, models.AppBskyFeedDefs.ReasonRepost):
            # A repost sits in the feed at the time it was reposted; it is not the account writing.
            return Entry(parse_time(item.reason.indexed_at) or at, f"repost:{item.post.uri}", None)
        if item.reason is not None:
            return None  # a pinned post, out of time order: neither a post to read nor a mark
        post = _post(item.post.uri, item.post.record, item.post.author, at)
    except Exception as exc:  # noqa: BLE001 - any malformed item is passed over, never fatal to the read
        _pass_over("feed item", raw, exc)
        return None
    return Entry(at, item.post.uri, post)


def created(uri: str, value: Any, author: Account, indexed_at: datetime) -> Post:
    """A post the adapter wrote (the record it sent, or getRecord's `value` of it) as getAuthorFeed reads it back."""
    record = get_or_create(value, models.AppBskyFeedPost.Record, strict=True)
    view = models.AppBskyActorDefs.ProfileViewBasic(did=author.id, handle=author.username, display_name=author.name or None)
    return _post(uri, record, view, indexed_at)


def _pass_over(what: str, raw: Any, exc: Exception) -> None:
    log.warning("Bluesky sent a %s not in the documented shape (%s), passed over: %r", what, type(exc).__name__, raw)


def _parts(uri: str | None) -> list[str] | None:
    if not isinstance(uri, str) or not uri.startswith("at://"):
        return None
    parts = uri[len("at://") :].split("/")
    return parts if len(parts) == 3 and all(parts) else None


def _post(uri: str, record: Any, author: Any, indexed_at: datetime) -> Post:
    parts = _parts(uri)
    if parts is None or parts[1] != POST_COLLECTION:
        raise ValueError("uri is not a post's at-URI")
    if not isinstance(record, models.AppBskyFeedPost.Record):
        raise ValueError("record is not an app.bsky.feed.post")
    reply = record.reply
    parent = reply.parent.uri if reply is not None else None
    embed = record.embed
    quoted = isinstance(embed, models.AppBskyEmbedRecord.Main | models.AppBskyEmbedRecordWithMedia.Main)
    kinds = {"replied_to"} if parent else set()
    if quoted:
        kinds.add("quoted")
    followers = getattr(author, "followers_count", None)  # only where the view carries it (ProfileViewDetailed)
    if followers is None and author.model_extra:
        followers = author.model_extra.get("followersCount")
    handle = author.handle if author.handle and author.handle != "handle.invalid" else ""
    return Post(
        id=uri,
        author_id=author.did,
        text=record.text.replace("\x00", ""),  # PostgreSQL text cannot hold NUL; nobody means one
        created_at=parse_time(record.created_at) or indexed_at,
        conversation_id=reply.root.uri if reply is not None else uri,
        replied_to_id=parent,
        in_reply_to_user_id=did_of(parent),
        reference_types=frozenset(kinds),
        author_handle=handle[:253],
        author_name=(author.display_name or "").replace("\x00", "")[:640],
        author_followers=followers if isinstance(followers, int) and not isinstance(followers, bool) else None,
        url=f"https://bsky.app/profile/{handle or author.did}/post/{parts[2]}",
    )
