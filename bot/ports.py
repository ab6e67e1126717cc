"""What the services need from the outside world. Adapters implement these; tests/fakes.py holds small hand-written
fakes of them (a network in memory, a recording sink, a plain renderer) for the service tests."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Protocol

from bot.messages import Message, ReportNote
from bot.model import Account, Attachment, Mention, Network, Read, SlackMessage, Timeline


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


class SlackSink(Protocol):
    def post(self, channel: str, message: SlackMessage, tag: str, thread_ts: str | None = None) -> tuple[str, str]:
        """Post a message tagged with `tag` (in its metadata), in a thread if given; returns (channel id, ts)."""
        ...

    def update(self, channel: str, ts: str, message: SlackMessage) -> None: ...

    def find_tagged(self, channel: str, tag: str, oldest: datetime, thread_ts: str | None = None) -> tuple[str, str] | None:
        """Look for a message already posted with this tag (a crash between posting and storing its ts)."""
        ...

    def open_view(self, trigger_id: str, view: dict) -> None: ...

    def tell(self, channel: str, user: str, text: str) -> None:
        """An ephemeral message to one user."""
        ...

    def set_usergroup(self, group: str, users: list[str]) -> None: ...

    def upload(self, filename: str, content: bytes, title: str, alt_text: str) -> str:
        """Upload a file shared in no channel (a message's image block shows it); returns the file's ID."""
        ...


class Renderer(Protocol):
    """What a message looks like in the sink (bot.slack.render): the services post what it returns, unread."""

    queue_rows: int  # mentions the `/replywatch` answer lists at most

    def alert(self, mention: Mention, now: datetime, unchecked_since: datetime | None = None) -> SlackMessage:
        """The alert of a due mention; `unchecked_since`: its replies could not be read since then."""
        ...

    def digest(self, mentions: list[Mention], now: datetime, unchecked_since: datetime | None = None) -> SlackMessage: ...

    def closed(self, mention: Mention) -> SlackMessage:
        """The alert, edited: answered, closed, expired or deleted."""
        ...

    def note(self, note: Message, now: datetime, mentions: Callable[[Sequence[int]], list[Mention]]) -> SlackMessage | None:
        """A typed note; `mentions` reads the mentions it names. None: nothing left to say."""
        ...

    def queue(self, rows: list[Mention], now: datetime, total: int) -> dict:
        """The `/replywatch` answer."""
        ...

    def chart(self, note: ReportNote) -> Attachment | None:
        """A report's chart, to upload before the report is posted (None: it has none)."""
        ...

    def close_form(self, mention: Mention, channel: str) -> dict:
        """The modal that asks why a mention needs no reply."""
        ...
