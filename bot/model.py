"""Plain data shared by the rules, the services and the adapters."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

SLACK_USER_ID = re.compile(r"[UW][A-Z0-9]{2,30}")  # a person (W: an Enterprise Grid user)
SLACK_GROUP_ID = re.compile(r"S[A-Z0-9]{2,30}")  # a user group


class Status(StrEnum):
    OPEN = "open"
    ANSWERED = "answered"
    IGNORED = "ignored"
    DELETED = "deleted"
    CLOSED = "closed"  # closed from Slack: "no reply needed", with the reason given
    EXPIRED = "expired"  # open longer than EXPIRE_AFTER: no longer waited for, and counted as never answered


@dataclass(frozen=True)
class Account:
    id: int
    username: str
    name: str = ""


@dataclass(frozen=True)
class Post:
    """One post read from X, already translated out of X's JSON (text unescaped, as the person wrote it)."""

    id: int
    author_id: int | None
    text: str
    created_at: datetime
    conversation_id: int | None = None
    replied_to_id: int | None = None
    in_reply_to_user_id: int | None = None
    reference_types: frozenset[str] = field(default_factory=frozenset)
    author_handle: str = ""
    author_name: str = ""
    version_id: int | None = None  # the newest edit's id; `id` stays the original's (X's edit_history_tweet_ids[0])
    display_start: int = 0  # X's display_text_range[0]: reply-chain handles lie before it
    mentioned: tuple[tuple[str, int], ...] = ()  # (handle, lower-cased; where it starts in the text), from X's entities
    author_followers: int | None = None
    author_protected: bool = False

    @property
    def ids(self) -> set[int]:
        """Every id this post is known by (edits get new ids)."""
        return {self.id} | ({self.version_id} if self.version_id else set())


@dataclass(frozen=True)
class Verdict:
    """What the rules decided about a mention, and why."""

    status: Status
    reason: str
    priority: str | None = None  # why it is alerted sooner (a VIP), if it is


@dataclass(frozen=True)
class Mention:
    """A stored mention with its reply status."""

    post: Post
    status: Status
    reason: str
    first_seen_at: datetime
    answered_by: int | None = None
    answered_at: datetime | None = None
    priority: str | None = None
    claimed_by: str | None = None  # Slack user ID
    snoozed_until: datetime | None = None
    snoozed_by: str | None = None

    @property
    def id(self) -> int:
        return self.post.id


@dataclass(frozen=True)
class Alert:
    """The Slack message about one mention. `ts` is None until Slack has confirmed the post."""

    mention_id: int
    channel: str
    state: str
    created_at: datetime
    ts: str | None = None
    sent_at: datetime | None = None
    digest_id: int | None = None  # its line in a digest rather than a message of its own
    revision: int = 0  # goes up when someone acts on it in Slack
    rendered: int = 0  # the revision the message shows
    escalated_at: datetime | None = None
    reminded_at: datetime | None = None
    refusals: int = 0  # clear "no"s from Slack in a row, to the post or to the last edit
    reminders: int = 0  # reminders sent in its thread so far
    follow_up_at: datetime | None = None  # not before this is its next follow-up due (None: never)


@dataclass(frozen=True)
class Digest:
    """One message standing for many mentions that fell due at once."""

    id: int
    channel: str
    state: str
    created_at: datetime
    ts: str | None = None
    refusals: int = 0


@dataclass(frozen=True)
class Notice:
    """A message queued to be posted once: about replywatch itself, or an escalation or reminder in an alert's
    thread (`thread_ts`)."""

    key: str
    text: str
    state: str
    created_at: datetime
    thread_ts: str | None = None
    refusals: int = 0


@dataclass(frozen=True)
class Parked:
    """A message Slack refused for good, kept for `status`: what it was and why."""

    kind: str  # alert, digest, notice, edit
    what: str
    reason: str


@dataclass(frozen=True)
class FollowUp:
    """A threaded nudge on an alert: `kind` is escalation, reminder or woke (a snooze ended); `to` whom it pings."""

    kind: str
    to: tuple[str, ...]


@dataclass(frozen=True)
class SlackMessage:
    text: str
    blocks: list[dict]


@dataclass(frozen=True)
class RateInfo:
    """X's x-rate-limit-* headers of the last response."""

    limit: int
    remaining: int
    reset: datetime


@dataclass(frozen=True)
class Timeline:
    """What one read of an X timeline returned: the posts, newest first, and the cursor to store."""

    posts: list[Post]
    newest_id: int | None
    rate: RateInfo | None = None
    complete: bool = True  # False: the read stopped with pages left (its page budget, or a server repeating itself)


@dataclass(frozen=True)
class EndpointHealth:
    endpoint: str
    newest_id: int | None
    last_attempt_at: datetime | None
    last_success_at: datetime | None
    last_error: str | None
    failures: int = 0
    failing_since: datetime | None = None
    next_attempt_at: datetime | None = None
