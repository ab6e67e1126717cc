"""What the services need from the outside world. Adapters implement these; tests hand-write small fakes."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from bot.model import Account, SlackMessage, Timeline


class XSource(Protocol):
    def lookup_account(self, username: str) -> Account: ...

    def mentions(self, account: Account, since_id: int | None, start_time: datetime | None) -> Timeline: ...

    def own_posts(self, account: Account, since_id: int | None, start_time: datetime | None) -> Timeline: ...

    def search_mentions(
        self, account: Account, since_id: int | None, until_id: int, start_time: datetime | None
    ) -> Timeline: ...

    def deleted(self, post_ids: list[int]) -> set[int]: ...


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
