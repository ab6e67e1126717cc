"""A Mastodon status (as Mastodon.py parses it) translated into a `Post`, and how Mastodon ids compare.

Mastodon.py casts permissively: ids become str subclasses, `created_at` an aware datetime (None when it cannot parse
it), and anything else is passed through as the server sent it. So every field is checked here; a status without a
usable id, author or time is None (the adapter logs it and passes it over).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from bot.model import Post
from bot.sources.mastodon.text import status_text

# Mastodon's ids are decimal; other servers' (Pleroma's flake ids, GoToSocial's ULIDs) are alphanumeric. Anything
# else would not make one path segment of /api/v1/statuses/:id.
_ID = re.compile(r"[0-9A-Za-z_-]{1,64}")
# Not to be shown in a channel: direct messages, followers-only ("private") and the forks' "limited" (a circle).
PRIVATE_VISIBILITIES = frozenset({"direct", "private", "limited"})


def valid_id(value: Any) -> bool:
    """A string id that can go into a URL path as it is."""
    return isinstance(value, str) and _ID.fullmatch(value) is not None


def order(status_id: str) -> tuple[int, str]:
    """Sort key of an id on one instance: longer is newer, then by characters (decimal and flake ids alike)."""
    return (len(status_id), status_id)


def parse_post(raw: dict, root: Callable[[str, str | None], str | None]) -> Post | None:
    """The status as a Post, or None if it lacks a usable id, author or time. `root(id, parent)` finds the thread's
    first post."""
    author = raw.get("account")
    created_at = raw.get("created_at")
    if not valid_id(raw.get("id")) or not isinstance(author, dict) or not valid_id(author.get("id")):
        return None
    if not isinstance(created_at, datetime) or raw.get("reblog"):
        return None  # an unreadable time, or a boost (not its booster's words) from a server that sent one anyway
    content, spoiler = raw.get("content"), raw.get("spoiler_text")
    if not isinstance(content, str) or not isinstance(spoiler or "", str):
        return None
    status_id = str(raw["id"])
    parent = _optional_id(raw.get("in_reply_to_id"))
    references = {"replied_to"} if parent else set()
    if isinstance(raw.get("quote"), dict) or raw.get("quote_id"):  # Mastodon 4.4+ quotes; Pleroma/Akkoma quote_id
        references.add("quoted")
    followers = author.get("followers_count")
    return Post(
        id=status_id,
        author_id=str(author["id"]),
        text=status_text(content, spoiler or ""),
        created_at=created_at.replace(tzinfo=UTC) if created_at.tzinfo is None else created_at.astimezone(UTC),
        conversation_id=root(status_id, parent),
        replied_to_id=parent,
        in_reply_to_user_id=_optional_id(raw.get("in_reply_to_account_id")),
        reference_types=frozenset(references),
        author_handle=_clean(author.get("acct") or author.get("username"), 320),
        author_name=_clean(author.get("display_name"), 200),
        version_id=None,  # an edit keeps the id (edited_at changes)
        implicit=False,
        author_followers=followers if isinstance(followers, int) and not isinstance(followers, bool) else None,
        private=raw.get("visibility") in PRIVATE_VISIBILITIES,
        url=_clean(raw.get("url") or raw.get("uri"), 2000),
    )


def _optional_id(value: Any) -> str | None:
    return str(value) if valid_id(value) else None


def _clean(value: Any, most: int) -> str:
    return value.replace("\x00", "")[:most] if isinstance(value, str) else ""


def posts_in(answer: Any) -> int:
    """The statuses an answer carries: a page of notifications or statuses, one status, or a thread's context."""
    if isinstance(answer, list):
        return len(answer)
    if isinstance(answer, dict):
        if "content" in answer:
            return 1
        return sum(len(answer.get(k) or []) for k in ("ancestors", "descendants"))
    return 0
