"""What the services need from the outside world: a Source per watched account, a Sink for the team. Adapters
implement these; tests/fakes.py holds small hand-written fakes of them (a network in memory, a recording sink) for
the service tests."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from bot.messages import Card, ReportNote
from bot.model import Account, Draft, Mention, Network, Post, Read, ReplyForm, Timeline


class Source(Protocol):
    """One watched account on one network. Each network's adapter (bot/sources/<network>/) implements it and keeps
    what is true of that network only (X's 800 cap, Bluesky's session, Mastodon's HTML) to itself. Errors come out
    as the classes in bot.errors, with no secret in their messages; a post that cannot be read is logged and
    passed over, never fatal to the read."""

    network: Network

    def account(self) -> Account:
        """The watched account, looked up once (so it checks the credentials)."""
        ...

    def lookup(self, handle: str) -> Account:
        """Another account on the same network (a responder); UnknownAccount if there is none."""
        ...

    def mentions(self, cursor: str | None, since: datetime) -> Timeline:
        """What talks to the account (mentions, replies to it, quotes; never likes, reposts of it or follows), newer
        than `cursor` (a Timeline.cursor this adapter returned before) or, with no cursor, posted since `since`."""
        ...

    def posts(self, who: Account, cursor: str | None, since: datetime) -> Timeline:
        """`who`'s own posts, replies included (they are what answers mentions), newer than `cursor` or since `since`."""
        ...

    def deleted(self, post_ids: Sequence[str]) -> set[str]:
        """Which of these posts the network no longer has."""
        ...

    def reads(self) -> list[Read]:
        """The requests made since the last call, per endpoint, with the posts they returned (each counted once)."""
        ...

    def reply_limit(self) -> int:
        """How long a reply may be, in `length`'s units: X's 280 (weighted), Bluesky's 300 (graphemes), the Mastodon
        instance's own `max_characters` (read from its configuration, kept for a while)."""
        ...

    def length(self, text: str) -> int:
        """`text`'s length as the network counts it against `reply_limit`."""
        ...

    def write_refusal(self) -> str | None:
        """Why replies from Slack cannot be posted as this account, as far as can be told without posting (X: no
        user-context credentials, or an app whose access level is read-only), in one line naming the setting; None
        when nothing says so."""
        ...

    def reply(self, draft: Draft, retry: bool = False) -> Post:
        """Post `draft` as the watched account's reply to its mention; returns the reply as `posts` would read it.
        Exactly once, however often it is called with the same draft (`retry`: an earlier attempt may have posted it):
        Mastodon gets the draft's key as its Idempotency-Key; Bluesky's record key is derived from it, so a second
        create is refused as a duplicate and the first record returned; X has no such key, so before a retry the
        account's own recent posts are searched for it. Raises Rejected (or AuthFailed: no write permission) when
        the network refuses it, never to be retried as it is; Unavailable or BadResponse when the answer was lost
        (a 5xx, a timeout, a cut body): then call again with `retry`."""
        ...


class Sink(Protocol):
    """Where the team is told, in the product's terms: deliver a card (an alert, a digest, a note), edit it, find it
    again after a crash, attach a report's chart, ask why a mention needs no reply, tell one person, hand the on-call
    group over. Each sink lays the cards out itself (bot/slack/, bot/console/); the services never see its markup.
    Errors come out as the classes in bot.errors (Rejected: this message, never; Unavailable: maybe later;
    ChannelUnavailable: not this channel), with no secret in their messages."""

    queue_rows: int  # mentions the queue (`/replywatch`) lists at most

    def deliver(self, channel: str, card: Card, tag: str, thread: str | None = None) -> tuple[str, str]:
        """Deliver `card` into `channel` (into the thread of message `thread` if given), tagged with `tag` so that
        `find` knows it again; returns (the channel's id, the message's id)."""
        ...

    def edit(self, channel: str, ref: str, card: Card) -> None:
        """Show `card` in place of message `ref` (an alert answered, closed, re-laid out)."""
        ...

    def find(self, channel: str, tag: str, oldest: datetime, thread: str | None = None) -> tuple[str, str] | None:
        """A message already delivered with this tag since `oldest` (the process stopped between delivering and
        storing that it did), or None."""
        ...

    def attach_chart(self, note: ReportNote) -> str:
        """Store the report's chart where its message can show it; returns its id ("": it has none)."""
        ...

    def ask_reason(self, trigger: str, mention: Mention, channel: str) -> None:
        """Ask the person whose click `trigger` names why `mention` (alerted in `channel`) needs no reply."""
        ...

    def ask_reply(self, trigger: str, form: ReplyForm, channel: str) -> None:
        """Open the form in which the person whose click `trigger` names writes a reply to `form.mention`."""
        ...

    def members(self, group: str) -> frozenset[str]:
        """The sink's ids of the people in user group `group`."""
        ...

    def tell(self, channel: str, user: str, text: str) -> None:
        """Tell one person something only they see; `text` is our words, unformatted."""
        ...

    def hand_over(self, group: str, users: list[str]) -> None:
        """Make `users` the on-call user group `group`."""
        ...

    def person(self, email: str) -> str | None:
        """The sink's id of the team member with this e-mail (None: nobody has it)."""
        ...
