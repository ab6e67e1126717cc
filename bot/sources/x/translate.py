"""X's JSON into `Post`s, once, here: text unescaped (X sends &, <, > HTML-escaped), ids as strings, an edited
post under its original's id, and whether it names the watched account only in the reply chain."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.errors import BadResponse
from bot.model import Account, Post

log = logging.getLogger(__name__)

_X_ENTITIES = re.compile(r"&(amp|lt|gt);")
_X_UNESCAPE = {"amp": "&", "lt": "<", "gt": ">"}


def unescape_x(text: str) -> str:
    """X sends text with &, <, > HTML-escaped; undo exactly that, once."""
    return _X_ENTITIES.sub(lambda m: _X_UNESCAPE[m.group(1)], text)


_HANDLE = re.compile(r"[A-Za-z0-9_]{1,15}")


def post_url(handle: str, post_id: str) -> str:
    """The post's page; a handle X would not give (a server's mistake, or worse) is left out of it."""
    return f"https://x.com/{handle if _HANDLE.fullmatch(handle) else 'i/web'}/status/{post_id}"


def x_id(value: Any) -> str | None:
    """An X id as the digits it is, or None: X sends ids as strings; anything else is not one."""
    if isinstance(value, bool) or value is None:
        return None
    text = str(value)
    return text if text.isascii() and text.isdigit() and len(text) < 20 else None


def snowflake_time(post_id: str) -> datetime:
    """When an X id was made (ids are time-ordered snowflakes)."""
    return datetime.fromtimestamp(((int(post_id) >> 22) + 1288834974657) / 1000, UTC)


def newest(ids: list[str]) -> str | None:
    """The newest of these X ids (numerically: they are snowflakes)."""
    return max(ids, key=int) if ids else None


def _no_nul(text: str) -> str:
    """PostgreSQL text cannot hold NUL; nobody means one."""
    return text.replace("\x00", "")


def _time(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return None


def posts(body: dict, account: Account | None) -> list[Post]:
    """Translate one page; a post without a usable id or time is logged and passed over. `account`: the watched
    account, whose reply-chain-only mentions are marked implicit."""
    includes = body.get("includes") if isinstance(body.get("includes"), dict) else {}
    users = {}
    for user in includes.get("users") or []:
        if isinstance(user, dict) and "id" in user:
            users[str(user["id"])] = user
    data = body.get("data") or []
    if not isinstance(data, list):
        raise BadResponse("X", "the posts (`data`) are not a list")
    out = []
    for raw in data:
        post = _post(raw, users, account) if isinstance(raw, dict) else None
        if post is None:
            log.warning("X sent a post without a usable id or created_at, passed over: %r", raw)
            continue
        out.append(post)
    return out


def _post(raw: dict, users: dict[str, dict], account: Account | None) -> Post | None:
    version_id = x_id(raw.get("id"))
    created_at = _time(raw.get("created_at"))
    if version_id is None or created_at is None:
        return None
    history = raw.get("edit_history_tweet_ids")
    original = x_id(history[0]) if isinstance(history, list) and history else None
    post_id = original if original is not None and int(original) <= int(version_id) else version_id
    minted = snowflake_time(post_id)  # to the millisecond; created_at is often to the second: replies in the
    if abs(minted - created_at) < timedelta(seconds=1):  # same second are then still in order
        created_at = minted
    refs = [r for r in raw.get("referenced_tweets") or [] if isinstance(r, dict)]
    replied_to = next((x_id(r.get("id")) for r in refs if r.get("type") == "replied_to"), None)
    author = users.get(str(raw.get("author_id")), {})
    metrics = author.get("public_metrics") if isinstance(author.get("public_metrics"), dict) else {}
    handle = _no_nul(str(author.get("username", "")))[:64]
    in_reply_to_user = x_id(raw.get("in_reply_to_user_id"))
    return Post(
        id=post_id,
        author_id=x_id(raw.get("author_id")),
        text=_no_nul(unescape_x(str(raw.get("text", "")))),
        created_at=created_at,
        conversation_id=x_id(raw.get("conversation_id")),
        replied_to_id=replied_to,
        in_reply_to_user_id=in_reply_to_user,
        reference_types=frozenset(str(r.get("type")) for r in refs),
        author_handle=handle,
        author_name=_no_nul(str(author.get("name", "")))[:200],
        version_id=version_id if version_id != post_id else None,
        implicit=account is not None and in_reply_to_user != account.id and _implicit(raw, account.username),
        author_followers=_count(metrics.get("followers_count")),
        private=author.get("protected") is True,
        url=post_url(handle, post_id),
    )


def _implicit(raw: dict, handle: str) -> bool:
    """X puts the handles of everyone in a thread in front of a reply, before `display_text_range[0]`: a post that
    names the account only there is not talking to it."""
    shown = raw.get("display_text_range")
    start = _count(shown[0]) if isinstance(shown, list) and shown else None
    entities = raw.get("entities")
    found = entities.get("mentions") if isinstance(entities, dict) else None
    starts = [
        _count(m.get("start")) for m in (found if isinstance(found, list) else [])
        if isinstance(m, dict) and isinstance(m.get("username"), str) and m["username"].lower() == handle.lower()
    ]
    starts = [s for s in starts if s is not None]
    return bool(starts) and all(s < max(0, start or 0) for s in starts)


def _count(value: Any) -> int | None:
    try:
        return None if value is None or isinstance(value, bool) else int(value)
    except (TypeError, ValueError):
        return None
