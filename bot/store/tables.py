"""The schema. Alembic migrations in migrations/versions must match it (a test compares them)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC in, aware UTC out, on every backend (SQLite keeps no offset, so it is stored as naive UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


POST_ID = 300  # an id on any network: X's digits, a Bluesky at-URI (a DID and a record key), a Mastodon id
ACCOUNT = 200  # a handle (Bluesky: a domain name; Mastodon: user@instance)
NAME, URL, REASON = 200, 500, 200  # a display name; a link to a post; why a mention is as it is


class MentionRow(Base):
    """A mention, keyed by the store's own `id` (Slack buttons and message tags carry it) and unique by where it
    lives: (network, account, post_id)."""

    __tablename__ = "mentions"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"), Identity(), primary_key=True)
    network: Mapped[str] = mapped_column(String(16))
    account: Mapped[str] = mapped_column(String(ACCOUNT))  # the watched account's handle, lower-cased
    post_id: Mapped[str] = mapped_column(String(POST_ID))  # the original post's id (X gives edits new ids)
    version_id: Mapped[str | None] = mapped_column(String(POST_ID))  # the newest edit's id, where edits get new ids
    author_id: Mapped[str | None] = mapped_column(String(POST_ID))
    author_handle: Mapped[str] = mapped_column(String(ACCOUNT), default="")  # Bluesky's are domain names
    author_name: Mapped[str] = mapped_column(String(NAME), default="")
    text: Mapped[str] = mapped_column(Text, default="")
    url: Mapped[str] = mapped_column(String(URL), default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    conversation_id: Mapped[str | None] = mapped_column(String(POST_ID), index=True)
    replied_to_id: Mapped[str | None] = mapped_column(String(POST_ID))
    in_reply_to_user_id: Mapped[str | None] = mapped_column(String(POST_ID))
    reference_types: Mapped[str] = mapped_column(String(100), default="")
    status: Mapped[str] = mapped_column(String(16))
    status_reason: Mapped[str] = mapped_column(String(REASON))
    answered_by: Mapped[str | None] = mapped_column(String(POST_ID))
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answer_url: Mapped[str] = mapped_column(String(URL), default="", server_default="")
    answered_from: Mapped[str | None] = mapped_column(String(32))  # the Slack user who answered it from its alert
    answer_text: Mapped[str | None] = mapped_column(Text)  # what they wrote (erased with the rest by retention)
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    private: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")  # never shown in a channel
    priority: Mapped[str | None] = mapped_column(String(200))  # why it is alerted sooner (VIP)
    claimed_by: Mapped[str | None] = mapped_column(String(32))  # Slack user ID
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # CLAIM_EXPIRES counts from it
    snoozed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    snoozed_by: Mapped[str | None] = mapped_column(String(32))
    # Not before this is an alert due: set while the mention is open and not alerted, None otherwise. A lower
    # bound (the post's time when new or when the settings may have changed); the sweep stores the exact time.
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # when it stopped being open: RETENTION_DAYS count from it
    purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # when retention erased its author's data (bot.services.retention)

    # (status, …) pairs: with one index on the status alone, a query for the few due among 100,000 open would
    # walk all the open ones. AUTOINCREMENT: SQLite never gives a deleted mention's id (an old button's) again.
    __table_args__ = (
        UniqueConstraint("network", "account", "post_id", name="uq_mentions_post"),
        Index("ix_mentions_status_created_at", "status", "created_at"),
        Index("ix_mentions_status_due_at", "status", "due_at"),
        Index("ix_mentions_version_id", "version_id"),
        Index("ix_mentions_network_account_status", "network", "account", "status"),  # the counts /metrics reads
        Index("ix_mentions_purged_at_closed_at", "purged_at", "closed_at"),  # what retention erases next, the oldest kept
        Index("ix_mentions_closed_at", "closed_at"),  # the breaches /metrics judges, each once, in the order they settled
        {"sqlite_autoincrement": True},
    )


class ReplyRow(Base):
    """Replies by a watched account or its responders, kept per watched account: what answers its mentions."""

    __tablename__ = "replies"

    network: Mapped[str] = mapped_column(String(16), primary_key=True)
    account: Mapped[str] = mapped_column(String(ACCOUNT), primary_key=True)
    post_id: Mapped[str] = mapped_column(String(POST_ID), primary_key=True)
    author_id: Mapped[str | None] = mapped_column(String(POST_ID))  # the account or a responder
    conversation_id: Mapped[str | None] = mapped_column(String(POST_ID), index=True)
    replied_to_id: Mapped[str | None] = mapped_column(String(POST_ID), index=True)
    in_reply_to_user_id: Mapped[str | None] = mapped_column(String(POST_ID))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    url: Mapped[str] = mapped_column(String(URL), default="", server_default="")
    author_handle: Mapped[str | None] = mapped_column(String(ACCOUNT))  # who answered, as the report names them


class OutgoingReplyRow(Base):
    """A reply written in Slack, to post as the watched account: a row before the first call to the network, which is
    what makes it posted once (`key` is the network's idempotency key, the same for every attempt). `state`: sending
    (until the network said yes or no; `retry_at` after a lost answer), posted, refused (never tried again)."""

    __tablename__ = "outgoing_replies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(32))
    mention_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("mentions.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(String(32))  # the Slack user who wrote it
    channel: Mapped[str] = mapped_column(String(100))  # where they are told how it went
    text: Mapped[str] = mapped_column(Text)
    direct: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    state: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    retry_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    posted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    post_id: Mapped[str | None] = mapped_column(String(POST_ID))
    url: Mapped[str] = mapped_column(String(URL), default="", server_default="")
    problem: Mapped[str | None] = mapped_column(Text)  # why it was refused, or why the last attempt failed

    __table_args__ = (
        UniqueConstraint("key", name="uq_outgoing_replies_key"),
        Index("ix_outgoing_replies_state_retry_at", "state", "retry_at"),
        Index("ix_outgoing_replies_mention_id", "mention_id"),
    )


class OriginalRow(Base):
    """The watched account's own posts that reply to nobody (what it broadcasts), for the report's "talking with
    people or broadcasting": its replies are in `replies`."""

    __tablename__ = "originals"

    network: Mapped[str] = mapped_column(String(16), primary_key=True)
    account: Mapped[str] = mapped_column(String(ACCOUNT), primary_key=True)
    post_id: Mapped[str] = mapped_column(String(POST_ID), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ReadRow(Base):
    """What collection read from a network, per account, endpoint and UTC day (X bills posts per UTC day):
    requests made, posts returned, and of those the `owned` ones (X prices reads of the app owner's own timelines
    apart under user-context auth)."""

    __tablename__ = "reads"

    network: Mapped[str] = mapped_column(String(16), primary_key=True)
    account: Mapped[str] = mapped_column(String(ACCOUNT), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    endpoint: Mapped[str] = mapped_column(String(100), primary_key=True)
    requests: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    posts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    owned: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class PollCursorRow(Base):
    """Where each timeline of each watched account was last read up to, and how the last read went."""

    __tablename__ = "poll_cursors"

    network: Mapped[str] = mapped_column(String(16), primary_key=True)
    account: Mapped[str] = mapped_column(String(ACCOUNT), primary_key=True)
    endpoint: Mapped[str] = mapped_column(String(100), primary_key=True)
    cursor: Mapped[str | None] = mapped_column(String(POST_ID))  # the adapter's own: only it reads it
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    filtered: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # mentions the instance's filter held
    token_refused: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")  # the last read's answer


class SessionRow(Base):
    """A network session kept across restarts (Bluesky's: logging in again is rate limited). A credential: never
    shown anywhere."""

    __tablename__ = "sessions"

    key: Mapped[str] = mapped_column(String(ACCOUNT + 20), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class DigestRow(Base):
    """One message standing for many mentions that fell due at once. `state` as an alert's."""

    __tablename__ = "digests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(100))
    ts: Mapped[str | None] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    refusals: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # clear "no"s from Slack in a row
    retry_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # not tried again before this, after a refusal
    parked: Mapped[str | None] = mapped_column(Text)  # why it is no longer tried (refused for good)

    __table_args__ = (Index("ix_digests_state", "state"),)


class AlertRow(Base):
    """One per alerted mention: its own Slack message, or its line in a digest (`digest_id`, sharing its ts).
    `state`: sending (posting, ts unknown) → sent → resolved. `revision` goes up when someone acts on it in
    Slack; `rendered` is the revision the message shows."""

    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    mention_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("mentions.id", ondelete="CASCADE"), unique=True)
    channel: Mapped[str] = mapped_column(String(100))
    ts: Mapped[str | None] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    digest_id: Mapped[int | None] = mapped_column(Integer, ForeignKey("digests.id", ondelete="CASCADE"), index=True)
    revision: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    rendered: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    refusals: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # clear "no"s from Slack in a row
    retry_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # not tried again before this, after a refusal
    parked: Mapped[str | None] = mapped_column(Text)  # why it is no longer tried (refused for good)
    overdue_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # a warning's due time, until it pinged (WARN_BEFORE)
    # Not before this is a follow-up due (a lower bound, like mentions.due_at); None: none ever will be.
    follow_up_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reminders: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # reminders sent so far
    # Since when the message shows less than it should (`revision` > `rendered`); None: it is up to date.
    edit_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    # Each tick's reads: the few sent alerts whose follow-up or edit is due, and those sending or refused.
    __table_args__ = (
        Index("ix_alerts_state_follow_up_at", "state", "follow_up_at"),
        Index("ix_alerts_state_edit_at", "state", "edit_at"),
    )


class ActionRow(Base):
    """The audit trail: who did what to a mention from Slack, and when."""

    __tablename__ = "actions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    mention_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("mentions.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class NoticeRow(Base):
    """Messages about replywatch itself (collection broken or recovered, mentions recovered after a gap), and
    escalations and reminders, threaded under an alert (`thread_ts`). Delivered like alerts: a row first, posted
    once; `key` makes each notice unique."""

    __tablename__ = "notices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(32))  # a bot.messages type
    payload: Mapped[str] = mapped_column(Text)  # its fields, as JSON: never rendered text
    state: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    channel: Mapped[str | None] = mapped_column(String(100))
    ts: Mapped[str | None] = mapped_column(String(32))
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    thread_ts: Mapped[str | None] = mapped_column(String(32))
    refusals: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # clear "no"s from Slack in a row
    retry_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # not tried again before this, after a refusal
    parked: Mapped[str | None] = mapped_column(Text)  # why it is no longer tried (refused for good)

    __table_args__ = (Index("ix_notices_state", "state"),)


class RulesSeenRow(Base):
    """What the stored due times were worked out with (a setting's value), so that a restart with the same
    settings need not work them all out again."""

    __tablename__ = "rules_seen"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class SlackChannelRow(Base):
    """A channel that cannot take messages (archived, not found, the bot removed, the token revoked): since when,
    and why. No row, or `failing_since` empty: the channel works."""

    __tablename__ = "slack_channels"

    channel: Mapped[str] = mapped_column(String(100), primary_key=True)
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class PartRow(Base):
    """A part of the running bot that does not work (bot.lanes: a lane stuck or failing; the metrics server): since
    when, and why. No row: it works."""

    __tablename__ = "parts"

    name: Mapped[str] = mapped_column(String(300), primary_key=True)
    failing_since: Mapped[datetime] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
