"""The Slack sink's layouts behind the Renderer port (bot.ports): the services hand it mentions and typed notes, and
get back messages they post without knowing what is in them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, tzinfo

from bot.messages import Message, ReportNote
from bot.model import Attachment, Mention, SlackMessage
from bot.slack.blocks import QUEUE_ROWS, alert_message, close_view, closed_message, digest_message, queue_message
from bot.slack.notes import render_note
from bot.slack.report import report_chart


class SlackRenderer:
    """Alerts with the action buttons when Socket Mode is on, times in `tz`, naming whoever `on_call` says holds
    the rotation at the moment."""

    queue_rows = QUEUE_ROWS

    def __init__(self, *, buttons: bool, tz: tzinfo, on_call: Callable[[datetime], str | None]) -> None:
        self.buttons = buttons
        self.tz = tz
        self.on_call = on_call

    def alert(self, mention: Mention, now: datetime, unchecked_since: datetime | None = None) -> SlackMessage:
        return alert_message(mention, now, buttons=self.buttons, tz=self.tz, on_call=self.on_call(now), unchecked_since=unchecked_since)

    def digest(self, mentions: list[Mention], now: datetime, unchecked_since: datetime | None = None) -> SlackMessage:
        return digest_message(mentions, now, on_call=self.on_call(now), unchecked_since=unchecked_since)

    def closed(self, mention: Mention) -> SlackMessage:
        return closed_message(mention)

    def note(self, note: Message, now: datetime, mentions: Callable[[Sequence[int]], list[Mention]]) -> SlackMessage | None:
        return render_note(note, now, mentions)

    def queue(self, rows: list[Mention], now: datetime, total: int) -> dict:
        return queue_message(rows, now, self.tz, total=total)

    def chart(self, note: ReportNote) -> Attachment | None:
        return report_chart(note)

    def close_form(self, mention: Mention, channel: str) -> dict:
        return close_view(mention, channel)
