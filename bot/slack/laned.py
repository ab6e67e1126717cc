"""A sink whose deliveries run in lanes (bot.lanes): each channel's posts, edits and searches in the channel's own,
the charts' uploads in one of their own. The sweep waits for a call at most SINK_WAIT: a channel (or an upload) that
does not answer by then is left to finish in its lane, and the sweep goes on with the other channels. To the
outbox such a call is one that may or may not have happened (Unavailable): a post stays in doubt and is looked for
before it is tried again, an edit is simply made again. A call that runs past the lane's deadline parks the lane:
health names it, and nothing more goes into it until the call ends."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from bot.lanes import Lane, Lanes
from bot.model import SlackMessage

if TYPE_CHECKING:
    from bot.ports import SlackSink

SINK_WAIT = 2.0  # seconds the sweep waits for one call to a channel (Slack answers in well under one)
UPLOADS = "chart uploads"


def channel_lane(channel: str) -> str:
    return f"Slack channel {channel}"


class LanedSink:
    def __init__(self, sink: SlackSink, lanes: Lanes, wait: float = SINK_WAIT) -> None:
        self.sink = sink
        self.lanes = lanes
        self.wait = wait

    def _in(self, name: str) -> Lane:
        return self.lanes.get(name, "Slack", failures_told=name == UPLOADS)  # a channel's failures: bot.services.outbox

    def post(self, channel: str, message: SlackMessage, tag: str, thread_ts: str | None = None) -> tuple[str, str]:
        return self._in(channel_lane(channel)).call(self.sink.post, channel, message, tag, thread_ts, wait=self.wait)

    def update(self, channel: str, ts: str, message: SlackMessage) -> None:
        self._in(channel_lane(channel)).call(self.sink.update, channel, ts, message, wait=self.wait)

    def find_tagged(self, channel: str, tag: str, oldest: datetime, thread_ts: str | None = None) -> tuple[str, str] | None:
        return self._in(channel_lane(channel)).call(self.sink.find_tagged, channel, tag, oldest, thread_ts, wait=self.wait)

    def upload(self, filename: str, content: bytes, title: str, alt_text: str) -> str:
        return self._in(UPLOADS).call(self.sink.upload, filename, content, title, alt_text, wait=self.wait)

    def open_view(self, trigger_id: str, view: dict) -> None:  # a click's answer: on the socket's own workers
        self.sink.open_view(trigger_id, view)

    def tell(self, channel: str, user: str, text: str) -> None:
        self.sink.tell(channel, user, text)

    def set_usergroup(self, group: str, users: list[str]) -> None:  # the on-call job's own thread
        self.sink.set_usergroup(group, users)
