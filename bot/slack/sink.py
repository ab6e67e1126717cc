"""The Slack sink (bot.ports.Sink): each card laid out in Block Kit (bot.slack.blocks, bot.slack.notes) and posted
through the Web API adapter (bot.slack.client), tagged in the message's metadata so that a crash between posting and
storing the ts is found again in the channel's history."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, tzinfo

from bot.messages import AlertCard, Card, ClosedCard, DigestCard, ReportNote
from bot.model import AccountKey, Mention, ReplyForm, SlackMessage
from bot.slack.blocks import QUEUE_ROWS, alert_message, close_view, closed_message, digest_message, reply_view
from bot.slack.client import SlackClient
from bot.slack.notes import note_message
from bot.slack.text import escape


class SlackSink:
    """Alerts with the action buttons when Socket Mode is on (`buttons`), times in `tz`, naming whoever `on_call`
    says holds the rotation at the moment."""

    queue_rows = QUEUE_ROWS

    def __init__(
        self, client: SlackClient, *, buttons: bool, tz: tzinfo, on_call: Callable[[datetime], str | None],
        replying: frozenset[AccountKey] = frozenset(),
    ) -> None:
        self.client = client
        self.buttons = buttons
        self.replying = replying  # the accounts whose alerts carry a Reply button (reply_from_slack)
        self.tz = tz
        self.on_call = on_call

    def deliver(self, channel: str, card: Card, tag: str, thread: str | None = None) -> tuple[str, str]:
        return self.client.post(channel, self.message(card), tag, thread)

    def edit(self, channel: str, ref: str, card: Card) -> None:
        self.client.update(channel, ref, self.message(card))

    def find(self, channel: str, tag: str, oldest: datetime, thread: str | None = None) -> tuple[str, str] | None:
        return self.client.find_tagged(channel, tag, oldest, thread)

    def attach_chart(self, note: ReportNote) -> str:
        from bot.report.chart import report_chart  # Pillow: loaded only when a report is posted

        chart = report_chart(note)
        return self.client.upload(chart.filename, chart.content, chart.title, chart.alt_text)

    def ask_reason(self, trigger: str, mention: Mention, channel: str) -> None:
        self.client.open_view(trigger, close_view(mention, channel))

    def ask_reply(self, trigger: str, form: ReplyForm, channel: str) -> None:
        self.client.open_view(trigger, reply_view(form, channel))

    def members(self, group: str) -> frozenset[str]:
        return self.client.group_members(group)

    def tell(self, channel: str, user: str, text: str) -> None:
        self.client.tell(channel, user, escape(text))

    def hand_over(self, group: str, users: list[str]) -> None:
        self.client.set_usergroup(group, users)

    def person(self, email: str) -> str | None:
        return self.client.lookup_email(email)

    def message(self, card: Card) -> SlackMessage:
        """The Block Kit message for `card`; a card in its `plain` form goes as its fallback text alone."""
        if isinstance(card, AlertCard):
            laid = alert_message(card.mention, card.now, buttons=self.buttons, tz=self.tz, on_call=self.on_call(card.now),
                                 unchecked_since=card.unchecked_since, reply=card.mention.where in self.replying, due=card.due)
        elif isinstance(card, DigestCard):
            laid = digest_message(list(card.mentions), card.now, on_call=self.on_call(card.now),
                                  unchecked_since=card.unchecked_since)
        elif isinstance(card, ClosedCard):
            return closed_message(card.mention)
        else:
            laid = note_message(card.note, card.now, list(card.mentions)) or SlackMessage("", [])
        plain = isinstance(card, AlertCard | DigestCard) and card.plain
        return SlackMessage(laid.text, []) if plain else laid
