"""Plain data shared by the rules, the services and the adapters."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from bot.sources import SPECS  # the networks' specs: data, no SDK, nothing of this module

if TYPE_CHECKING:
    from bot.messages import Message

HANDLE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.@-]{0,99}")  # every network's: X's, Bluesky's domains, Mastodon's user@instance
SLACK_USER_ID = re.compile(r"[UW][A-Z0-9]{2,30}")  # a person (W: an Enterprise Grid user)
SLACK_GROUP_ID = re.compile(r"S[A-Z0-9]{2,30}")  # a user group


CLOSE_REASONS = {"spam": "spam", "elsewhere": "handled elsewhere", "not_for_us": "not for us", "other": "other"}  # no reply needed


class Status(StrEnum):
    OPEN = "open"
    ANSWERED = "answered"
    IGNORED = "ignored"
    DELETED = "deleted"
    CLOSED = "closed"  # closed from Slack: "no reply needed", with the reason given
    EXPIRED = "expired"  # open longer than EXPIRE_AFTER: no longer waited for, and counted as never answered


class Network(StrEnum):
    """The networks replywatch reads; each is a folder, bot/sources/<network>/, whose spec says the rest (the
    registry, bot.sources.SPECS, lists each spec under its member)."""

    X = "x"
    BLUESKY = "bluesky"
    MASTODON = "mastodon"

    @property
    def label(self) -> str:
        """How a person names it: "Bluesky"."""
        return SPECS[self].label


@dataclass(frozen=True)
class AccountKey:
    """A watched account: where its mentions live and whose queue they are in."""

    network: Network
    handle: str  # lower-cased, without @

    def __str__(self) -> str:
        return f"@{self.handle} on {self.network.label}"


@dataclass(frozen=True)
class Account:
    """An account on a network: `id` as the network gives it (X's numeric id, a Bluesky DID, a Mastodon account id)."""

    id: str
    username: str  # the handle, without @ (Mastodon: user@instance for an account of another instance)
    name: str = ""


@dataclass(frozen=True)
class Post:
    """One post, translated out of its network's shape by its adapter: text as the person wrote it (no markup, no
    escaping), ids as strings."""

    id: str
    author_id: str | None
    text: str
    created_at: datetime
    conversation_id: str | None = None  # the thread's first post, where the network says (X, Bluesky)
    replied_to_id: str | None = None
    in_reply_to_user_id: str | None = None  # who wrote the post it replies to
    reference_types: frozenset[str] = field(default_factory=frozenset)  # replied_to, quoted, retweeted (a repost)
    author_handle: str = ""
    author_name: str = ""
    version_id: str | None = None  # the newest edit's id, where edits get new ids (X); `id` stays the original's
    implicit: bool = False  # names the account only where the network wrote its handle itself (X's reply chain)
    author_followers: int | None = None
    private: bool = False  # must not be shown in a channel: a protected X author, a Mastodon direct message
    url: str = ""  # where a person opens it

    @property
    def ids(self) -> set[str]:
        """Every id this post is known by (edits get new ids)."""
        return {self.id} | ({self.version_id} if self.version_id else set())


@dataclass(frozen=True)
class Draft:
    """A reply to one mention, as a team member wrote it, with the key chosen once, when the intent to post it was
    stored (before the first call): what makes it posted exactly once however often it is sent (bot.ports.Source.reply).
    """

    mention: Post  # the post it answers
    text: str
    key: str  # 32 lower-case hex characters, the same for every attempt
    direct: bool = False  # seen by the author alone (the mention was a Mastodon direct message)


@dataclass(frozen=True)
class ReplyForm:
    """What the form for a reply from Slack shows: the mention, the account that answers (the mention's own), how long
    a reply may be (in the network's units), whether the author alone will see it, what the network bills for it,
    and why it cannot be sent, if it cannot (bot.services.replying)."""

    mention: Mention
    limit: int
    direct: bool
    refusal: str | None = None
    price: str | None = None  # e.g. "a post costs $0.015, one with a link $0.200" where the network bills posts


@dataclass(frozen=True)
class OutgoingReply:
    """A reply written in Slack, as the store keeps it until its network has it (bot.services.replying)."""

    key: str
    mention_id: int
    user: str  # the Slack user who wrote it
    channel: str  # where they are told how it went
    text: str
    direct: bool
    state: str  # sending, posted, refused
    attempts: int = 0
    problem: str | None = None
    url: str = ""
    created_at: datetime | None = None  # when it was written (the store sets it)


@dataclass(frozen=True)
class Verdict:
    """What the rules decided about a mention, and why."""

    status: Status
    reason: str
    priority: str | None = None  # why it is alerted sooner (a VIP), if it is


@dataclass(frozen=True)
class Mention:
    """A stored mention with its reply status. `id` is the store's key (Slack buttons and tags carry it); the
    mention lives on `network`, in the queue of `account` (its handle there)."""

    post: Post
    status: Status
    reason: str
    first_seen_at: datetime
    answered_by: str | None = None
    answered_at: datetime | None = None
    answer_url: str = ""  # where the reply that answered it opens
    answered_from: str | None = None  # the Slack user who answered it from its alert (None: answered on the network)
    answer_text: str = ""  # what they wrote
    priority: str | None = None
    claimed_by: str | None = None  # Slack user ID
    snoozed_until: datetime | None = None
    snoozed_by: str | None = None
    id: int = 0
    network: Network = Network.X
    account: str = ""

    @property
    def where(self) -> AccountKey:
        return AccountKey(self.network, self.account)


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
    overdue_at: datetime | None = None  # posted as a warning (WARN_BEFORE): its due time, until it has pinged
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
    note: Message
    state: str
    created_at: datetime
    thread_ts: str | None = None
    refusals: int = 0
    channel: str | None = None  # None: the default channel (SLACK_CHANNEL)


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
class Attachment:
    """A file a message shows (a report's chart): uploaded first, then named in the message's blocks."""

    filename: str
    title: str
    alt_text: str
    content: bytes


@dataclass(frozen=True)
class RateInfo:
    """The rate-limit headers of the last response (X's x-rate-limit-*, Bluesky's ratelimit-*, Mastodon's
    X-RateLimit-*)."""

    limit: int
    remaining: int
    reset: datetime


@dataclass(frozen=True)
class Read:
    """Requests made to one endpoint of a network and the posts they returned: what the network bills or limits.
    `owned`: of those posts, the ones X prices apart (the app owner's own timelines, under user-context auth)."""

    endpoint: str
    requests: int = 0
    posts: int = 0
    owned: int = 0


@dataclass(frozen=True)
class Gap:
    """More mentions arrived between two reads than the network's timeline returns (X: 800): how many were
    recovered another way, from when to when, and which periods may still be missing."""

    cap: int
    start: datetime
    end: datetime
    recovered: int
    missing: tuple[tuple[datetime, datetime, str], ...] = ()  # (from, to, why)


@dataclass(frozen=True)
class Timeline:
    """What one read returned: the posts, newest first, and the cursor to store (opaque: only the adapter that
    made it reads it; None when nothing was read and the stored cursor stands)."""

    posts: list[Post]
    cursor: str | None
    rate: RateInfo | None = None
    complete: bool = True  # False: the read stopped with pages left (its page budget, or a server repeating itself)
    gap: Gap | None = None
    # Of `posts`, the mentions the instance's notification policy had filtered (held back from the account's
    # notifications, Mastodon 4.3+) when this read found them; 0 for networks without such a filter.
    filtered: int = 0


@dataclass(frozen=True)
class EndpointHealth:
    endpoint: str
    cursor: str | None
    last_attempt_at: datetime | None
    last_success_at: datetime | None
    last_error: str | None
    failures: int = 0
    failing_since: datetime | None = None
    next_attempt_at: datetime | None = None
    filtered: int = 0  # mentions read that the instance's notification filter had held (Mastodon 4.3+)
    token_refused: bool = False  # the last read was refused its token: never heals by itself
