"""A sink whose deliveries run in lanes (bot.lanes): each channel's deliveries, edits and searches in the channel's own,
the charts in one of their own. The sweep waits for a call at most SINK_WAIT: a channel (or a chart) that does not
answer by then is left to finish in its lane, and the sweep goes on with the other channels. To the outbox such a
call is one that may or may not have happened (Unavailable): a delivery stays in doubt and is looked for before it
is tried again, an edit is simply made again. A call that runs past the lane's deadline parks the lane: health names
it, and nothing more goes into it until the call ends. The rest (a click's answer, a handoff, a look-up at start)
runs on the caller's own thread, as it always did."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from bot.lanes import Lane, Lanes
from bot.messages import Card, ReportNote
from bot.model import Mention, ReplyForm

if TYPE_CHECKING:
    from bot.ports import Sink

SINK_WAIT = 2.0  # seconds the sweep waits for one call to a channel (Slack answers in well under one)
UPLOADS = "chart uploads"


def channel_lane(channel: str) -> str:
    return f"Slack channel {channel}"


class LanedSink:
    def __init__(self, sink: Sink, lanes: Lanes, wait: float = SINK_WAIT) -> None:
        self.sink = sink
        self.lanes = lanes
        self.wait = wait
        self.queue_rows = sink.queue_rows

    def _in(self, name: str) -> Lane:
        return self.lanes.get(name, "Slack", failures_told=name == UPLOADS)  # a channel's failures: bot.services.outbox

    def deliver(self, channel: str, card: Card, tag: str, thread: str | None = None) -> tuple[str, str]:
        return self._in(channel_lane(channel)).call(self.sink.deliver, channel, card, tag, thread, wait=self.wait)

    def edit(self, channel: str, ref: str, card: Card) -> None:
        self._in(channel_lane(channel)).call(self.sink.edit, channel, ref, card, wait=self.wait)

    def find(self, channel: str, tag: str, oldest: datetime, thread: str | None = None) -> tuple[str, str] | None:
        return self._in(channel_lane(channel)).call(self.sink.find, channel, tag, oldest, thread, wait=self.wait)

    def attach_chart(self, note: ReportNote) -> str:
        return self._in(UPLOADS).call(self.sink.attach_chart, note, wait=self.wait)

    def ask_reason(self, trigger: str, mention: Mention, channel: str) -> None:  # a click's answer: the socket's workers
        self.sink.ask_reason(trigger, mention, channel)

    def ask_reply(self, trigger: str, form: ReplyForm, channel: str) -> None:
        self.sink.ask_reply(trigger, form, channel)

    def members(self, group: str) -> frozenset[str]:
        return self.sink.members(group)

    def tell(self, channel: str, user: str, text: str) -> None:
        self.sink.tell(channel, user, text)

    def hand_over(self, group: str, users: list[str]) -> None:  # the on-call job's own thread
        self.sink.hand_over(group, users)

    def person(self, email: str) -> str | None:
        return self.sink.person(email)
