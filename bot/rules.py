"""The reply rules: pure functions of posts and `now`, no I/O.

- A mention is **answered** when the account posts a reply whose `replied_to` is the mention, or a later reply
  in the same conversation to the same author: answering someone's latest post in a thread answers their
  earlier mentions in that thread too.
- A mention is **ignored** (recorded with the reason, never alerted) when it is the account's own post or a
  retweet. Quote posts and replies are ordinary mentions.
- Everything else is **open** until answered, and **due** for an alert once `alert_after` has passed since it
  was posted on X.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from bot.model import Post, Status, Verdict


def classify(post: Post, account_id: int) -> Verdict:
    """Decide whether a newly read mention waits for an answer, or why it never will."""
    if post.author_id == account_id:
        return Verdict(Status.IGNORED, "own post")
    if "retweeted" in post.reference_types:
        return Verdict(Status.IGNORED, "retweet")
    return Verdict(Status.OPEN, "waiting for a reply")


def answers(reply: Post, mention: Post, account_id: int) -> bool:
    """Whether the account's post `reply` answers `mention`."""
    if reply.author_id != account_id or reply.replied_to_id is None:
        return False
    if reply.replied_to_id in mention.ids:
        return True
    return (
        mention.conversation_id is not None
        and reply.conversation_id == mention.conversation_id
        and mention.author_id is not None
        and reply.in_reply_to_user_id == mention.author_id
        and reply.id > mention.id
    )


def first_answer(mention: Post, replies: Iterable[Post], account_id: int) -> Post | None:
    """The earliest of the account's replies that answers the mention, if any."""
    found = [r for r in replies if answers(r, mention, account_id)]
    return min(found, key=lambda r: r.id) if found else None


def due_at(posted_at: datetime, alert_after: timedelta) -> datetime:
    """When an unanswered mention posted at `posted_at` deserves an alert."""
    return posted_at + alert_after


def is_due(posted_at: datetime, now: datetime, alert_after: timedelta) -> bool:
    return now >= due_at(posted_at, alert_after)
