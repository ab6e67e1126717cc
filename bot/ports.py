"""What the services need from the outside world. Adapters implement these; tests hand-write small fakes."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from bot.model import Account, SlackMessage, Timeline


class XSource(Protocol):
    def lookup_account(self, username: str) -> Account: ...

    def mentions(self, account: Account, since_id: int | None, start_time: datetime | None) -> Timeline: ...

    def own_posts(self, account: Account, since_id: int | None, start_time: datetime | None) -> Timeline: ...


class SlackSink(Protocol):
    def post(self, channel: str, message: SlackMessage, mention_id: int) -> tuple[str, str]:
        """Post an alert tagged with the mention id; returns (channel id, ts)."""
        ...

    def update(self, channel: str, ts: str, message: SlackMessage) -> None: ...

    def find_alert(self, channel: str, mention_id: int, oldest: datetime) -> tuple[str, str] | None:
        """Look for an alert already posted for this mention (a crash between posting and storing)."""
        ...
