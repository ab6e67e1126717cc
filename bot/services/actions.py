"""Actions: what people do to alerts from Slack — claim, snooze, close as "no reply needed", and ask for the
queue with `/replywatch`.

`handle` takes what Slack sent (the envelope's type and payload, as Socket Mode delivers them) and returns an
`Answer`: what to send back with the acknowledgement, which Slack wants within 3 seconds, and the slower work
to do after it. Every action is recorded (who, what, when) and bumps the alert's revision; the sweep then
edits the message in place, so the sweep stays the only writer of alert messages.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, tzinfo
from typing import TYPE_CHECKING

from bot import rules
from bot.clock import Clock
from bot.errors import ServiceError
from bot.model import SLACK_USER_ID, Mention, Status
from bot.slack.blocks import CLOSE_REASONS, close_view, queue_message

if TYPE_CHECKING:
    from bot.ports import SlackSink
    from bot.store.repository import Store

log = logging.getLogger(__name__)

NOTE_LIMIT = 300


@dataclass
class Answer:
    ack: dict | None = None  # sent back with the acknowledgement
    later: Callable[[], None] | None = None  # done after acknowledging


class ActionService:
    def __init__(self, store: Store, slack: SlackSink, clock: Clock, channel: str, tz: tzinfo = UTC) -> None:
        self.store = store
        self.slack = slack
        self.clock = clock
        self.channel = channel
        self.tz = tz

    def handle(self, kind: str, payload: dict) -> Answer:
        """One Socket Mode request: `kind` is the envelope type (interactive, slash_commands, …)."""
        if not isinstance(payload, dict):
            return Answer()
        if kind == "slash_commands":
            return self._queue()
        if kind != "interactive":
            return Answer()
        user = str((payload.get("user") or {}).get("id", ""))
        if not SLACK_USER_ID.fullmatch(user):
            log.warning("Slack sent an action without a usable user id; ignored")
            return Answer()
        if payload.get("type") == "block_actions":
            actions = [a for a in payload.get("actions") or [] if isinstance(a, dict)]
            return self._click(actions[0], user, payload) if actions else Answer()
        if payload.get("type") == "view_submission" and (payload.get("view") or {}).get("callback_id") == "close_reason":
            return self._close_submitted(payload["view"], user)
        return Answer()

    # --- /replywatch ----------------------------------------------------------------------------------

    def _queue(self) -> Answer:
        with self.store.read() as repo:  # answered in the acknowledgement: must not wait for a writer
            rows = [m for m, _ in repo.open_mentions()]
        return Answer(ack=queue_message(rows, self.clock.now(), self.tz))

    # --- buttons --------------------------------------------------------------------------------------

    def _click(self, action: dict, user: str, payload: dict) -> Answer:
        action_id = action.get("action_id")
        value = str((action.get("selected_option") or {}).get("value") or action.get("value") or "")
        key, _, choice = value.partition(":")
        if action_id not in {"claim", "snooze", "close"} or not key.isdigit():
            return Answer()  # "Open on X" is a link; Slack still reports the click
        mention_id = int(key)
        channel = str((payload.get("channel") or {}).get("id") or self.channel)
        if action_id == "claim":
            return Answer(later=lambda: self._act(mention_id, user, channel, "claim", ""))
        if action_id == "snooze":
            return Answer(later=lambda: self._act(mention_id, user, channel, "snooze", choice))
        trigger = str(payload.get("trigger_id") or "")
        return Answer(later=lambda: self._ask_reason(mention_id, user, channel, trigger))

    def _act(self, mention_id: int, user: str, channel: str, action: str, choice: str) -> None:
        now = self.clock.now()
        until = rules.snooze_until(choice, now, self.tz) if action == "snooze" else None
        if action == "snooze" and until is None:
            return
        with self.store.unit() as repo:
            mention = repo.mention(mention_id)
            done = mention is not None and mention.status is Status.OPEN
            if done:
                if until is None:
                    repo.claim(mention_id, user)
                else:
                    repo.snooze(mention_id, user, until)
                repo.record_action(mention_id, user, action, f"until {until.isoformat()}" if until else "", now)
        if done:
            log.info("mention %d: %s by %s", mention_id, action, user)
        else:
            self._already_closed(channel, user, mention)  # after the transaction: no Slack call holds the database

    def _ask_reason(self, mention_id: int, user: str, channel: str, trigger: str) -> None:
        with self.store.unit() as repo:
            mention = repo.mention(mention_id)
        if mention is None or mention.status is not Status.OPEN:
            self._already_closed(channel, user, mention)
            return
        try:
            self.slack.open_view(trigger, close_view(mention, channel))
        except ServiceError as exc:
            log.warning("could not ask why mention %d needs no reply: %s", mention_id, exc.message)

    def _close_submitted(self, view: dict, user: str) -> Answer:
        values = (view.get("state") or {}).get("values") or {}
        reason = str((((values.get("reason") or {}).get("choice") or {}).get("selected_option") or {}).get("value") or "")
        note = " ".join(str(((values.get("note") or {}).get("text") or {}).get("value") or "").split())[:NOTE_LIMIT]
        if reason not in CLOSE_REASONS:
            return Answer(ack={"response_action": "errors", "errors": {"reason": "Pick a reason."}})
        if reason == "other" and not note:
            return Answer(ack={"response_action": "errors", "errors": {"note": "Say why in a few words."}})
        try:
            meta = json.loads(view.get("private_metadata") or "{}")
            mention_id, channel = int(meta["mention"]), str(meta.get("channel") or self.channel)
        except (ValueError, KeyError, TypeError):
            log.warning("a close form came back without its mention; ignored")
            return Answer()
        text = f"no reply needed: {CLOSE_REASONS[reason]}" + (f" — {note}" if note else "")
        return Answer(later=lambda: self._close(mention_id, user, channel, text))

    def _close(self, mention_id: int, user: str, channel: str, reason: str) -> None:
        with self.store.unit() as repo:
            closed = repo.close(mention_id, reason, user)
            if closed:
                repo.record_action(mention_id, user, "close", reason, self.clock.now())
            mention = repo.mention(mention_id)
        if closed:
            log.info("mention %d closed by %s", mention_id, user)
        else:
            self._already_closed(channel, user, mention)

    def _already_closed(self, channel: str, user: str, mention: Mention | None) -> None:
        self._tell(channel, user, f"That mention is already closed ({mention.reason if mention else 'not tracked by replywatch'}).")

    def _tell(self, channel: str, user: str, text: str) -> None:
        try:
            self.slack.tell(channel, user, text)
        except ServiceError as exc:
            log.warning("could not tell %s: %s", user, exc.message)
