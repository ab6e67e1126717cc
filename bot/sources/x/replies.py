"""What posting a reply on X takes beyond the call itself, decided here once:

- **Length** is X's weighted count (the twitter-text rules X publishes: CJK and emoji count 2, a URL 23), limit 280.
- **Who may post**: only user context (OAuth 1.0a user keys) on an app with write permission. X says which an app
  has in the `x-access-level` header of every user-context answer ("read", "read-write", ...); a bearer token is
  app-only. `refusal` says what is missing, in one line naming the setting to change.
- **A 403 on the create** is either that (the app may not post: AuthFailed, `forbidden` names it) or a refusal of
  this post (a duplicate, too long, a thread it may not reply to: Rejected).
- **No idempotency key**: a retry first looks for the reply among the account's own posts. X may change the text it
  stores (t.co links, the handles it puts in front of a reply, Unicode normalisation, trailing spaces), so texts are
  compared as `comparable` makes them.
- **The answer** of the create holds only id and text; `posted` makes the Post that `posts()` would read back from
  it and what is known of the mention (the thread, whom it answers).
"""

from __future__ import annotations

import re
import unicodedata
import warnings
from typing import Any

with warnings.catch_warnings():  # it reads its emoji table with pkg_resources, which warns on import; nothing to act on
    warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)
    from twitter_text import extract_urls, parse_tweet

from bot.model import Account, Post
from bot.sources.x.translate import posts, snowflake_time

LIMIT = 280
NEEDS_USER_CONTEXT = (
    "X replies need user-context credentials: set X_API_KEY, X_API_SECRET, X_ACCESS_TOKEN and X_ACCESS_TOKEN_SECRET"
)
READ_ONLY = (
    "the X app behind X_API_KEY is read-only: give it Read and Write permission, then regenerate X_ACCESS_TOKEN and "
    "X_ACCESS_TOKEN_SECRET (a token keeps the permission it was made with)"
)
DUPLICATE = "duplicate content"
_PROBLEMS = "https://api.twitter.com/2/problems/"
_LEADING_HANDLES = re.compile(r"^(?:@\w{1,15}\s+)+")
_URL = re.compile(r"https?://\S+")


WITH_LINK = "reply with a link"  # X bills a post with a URL at another price: counted as an endpoint of its own


def billed_as(text: str) -> str:
    """The endpoint a create of `text` is counted under: X bills a post with a link 13 times one without."""
    return WITH_LINK if extract_urls(text) else "reply"


def length(text: str) -> int:
    """`text`'s weighted length, as X counts it against LIMIT."""
    return parse_tweet(text).weightedLength


def refusal(user_auth: bool, access_level: str | None) -> str | None:
    """Why this client cannot post, as far as is known without posting; None when nothing says so."""
    if not user_auth:
        return NEEDS_USER_CONTEXT
    if access_level is not None and "write" not in access_level.lower():
        return READ_ONLY
    return None


def forbidden(body: Any, access_level: str | None) -> str | None:
    """What a 403 on the create says about the app's right to post (one line naming the setting), or None when it
    refuses this post only (a duplicate, too long, a thread closed to the account)."""
    kind = body.get("type") if isinstance(body, dict) else None
    if kind == f"{_PROBLEMS}unsupported-authentication":
        return NEEDS_USER_CONTEXT
    if kind == f"{_PROBLEMS}oauth1-permissions":
        return READ_ONLY
    if kind == f"{_PROBLEMS}client-forbidden":
        return "the X app behind X_API_KEY may not use this endpoint: attach it to a project with write access"
    return refusal(True, access_level)


def comparable(text: str) -> str:
    """A text as a retry compares it: without the handles in front, links as one token, whitespace collapsed."""
    text = _LEADING_HANDLES.sub("", unicodedata.normalize("NFC", text).strip())
    return " ".join(_URL.sub("\x00link", text).split())


def posted(data: dict, account: Account, mention: Post, target: str) -> Post:
    """The reply X created (`data` of its answer: id, text, edit_history_tweet_ids) as `posts()` reads it back:
    written by `account`, replying to `target` (the mention's newest version) in the mention's thread."""
    post_id = str(data["id"])
    raw = {
        "id": post_id,
        "text": data["text"],
        "edit_history_tweet_ids": data.get("edit_history_tweet_ids") or [post_id],
        "author_id": account.id,
        "created_at": snowflake_time(post_id).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
        "conversation_id": mention.conversation_id or target,
        "referenced_tweets": [{"type": "replied_to", "id": target}],
        **({"in_reply_to_user_id": mention.author_id} if mention.author_id else {}),
    }
    user = {"id": account.id, "username": account.username, "name": account.name}
    (post,) = posts({"data": [raw], "includes": {"users": [user]}}, account)
    return post
