"""The typed notes in Slack: what each says (bot.notes) written as mrkdwn, strangers' text escaped here exactly once,
links only when safe, pings only to IDs; a report laid out by bot.slack.report."""

from __future__ import annotations

from datetime import datetime

from bot.messages import Message, ReportNote, Text
from bot.model import Mention, SlackMessage
from bot.notes import Code, Link, Ping, Said, Sentence, Span, Stranger, sentence
from bot.slack.report import report_message
from bot.slack.text import escape, link, message, section, slack_mention
from bot.strangers import CONTROL


def mrkdwn(spans: Sentence) -> str:
    """A sentence as Slack mrkdwn."""
    return "".join(_span(span) for span in spans)


def _span(span: Span) -> str:
    if isinstance(span, Said | Stranger):
        return escape(CONTROL.sub("", span.text))
    if isinstance(span, Link):
        return link(span.url, escape(CONTROL.sub("", span.label)))
    if isinstance(span, Ping):
        return slack_mention(span.to)
    if isinstance(span, Code):
        return f"`{escape(span.text)}`"
    return f":{span.name}:"


def notice_message(text: str) -> SlackMessage:
    """A notice of finished mrkdwn."""
    text = CONTROL.sub("", text)
    return message(text, [section(text)])


def note_message(note: Message, now: datetime, mentions: list[Mention]) -> SlackMessage | None:
    """The Slack message for a typed note (None: nothing left to say, its mentions are gone)."""
    if isinstance(note, ReportNote):
        return report_message(note)
    if isinstance(note, Text):
        return notice_message(note.text)  # finished Slack text, queued by a replywatch from before typed notes
    said = sentence(note, now, mentions)
    return notice_message(mrkdwn(said)) if said is not None else None
