"""Slack's side of the people's requests: a Socket Mode payload read once into a typed Request
(bot.services.requests), handed to the actions service, and its Outcome turned into what Slack wants back within
3 seconds (the acknowledgement: the queue's blocks, a form's errors, an ephemeral refusal) and the slower work done
after it (a refusal told to the asker alone, in their channel)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.errors import ServiceError
from bot.model import SLACK_USER_ID
from bot.services.requests import FORMS, Access, Kind, Refusal, Request
from bot.slack.blocks import queue_message

if TYPE_CHECKING:
    from bot.services.actions import ActionService

log = logging.getLogger(__name__)


@dataclass
class Answer:
    ack: dict | None = None  # sent back with the acknowledgement
    later: Callable[[], None] | None = None  # done after acknowledging


class Interactions:
    """Reads each request, has `actions` decide it, and answers Slack: the queue laid out with times in the actions'
    zone, a refusal told through `tell` (chat.postEphemeral)."""

    def __init__(self, actions: ActionService, tell: Callable[[str, str, str], None]) -> None:
        self.actions = actions
        self._tell = tell

    def handle(self, kind: str, payload: dict) -> Answer:
        """One Socket Mode request: `kind` is the envelope type (interactive, slash_commands, …)."""
        request = read_request(kind, payload)
        if request is None:
            return Answer()
        outcome = self.actions.handle(request)
        if outcome.refused is not None:
            return self._refused(request, outcome.refused)
        if outcome.queue is not None:
            queue = outcome.queue
            return Answer(ack=queue_message(list(queue.rows), queue.now, self.actions.tz, total=queue.total))
        if outcome.fix:
            return Answer(ack={"response_action": "errors", "errors": outcome.fix})
        return Answer(later=outcome.later)

    def _refused(self, request: Request, why: Refusal) -> Answer:
        text = refusal_text(why, request, self.actions.access)
        if request.kind is Kind.QUEUE:
            return Answer(ack={"response_type": "ephemeral", "text": text})
        if request.kind in FORMS:
            field = "reason" if request.kind is Kind.CLOSE_FORM else "text"
            return Answer(ack={"response_action": "errors", "errors": {field: text}})
        return Answer(later=lambda: self._tell_safely(request.channel, request.user, text))

    def _tell_safely(self, channel: str, user: str, text: str) -> None:
        try:
            self._tell(channel, user, text)
        except ServiceError as exc:
            log.warning("could not tell %s: %s", user, exc.message)


def read_request(kind: str, payload: object) -> Request | None:
    """The request in a Socket Mode payload, or None when there is nothing to do (a link click, a payload of
    another type, one without a usable user)."""
    if not isinstance(payload, dict):
        return None
    if kind == "slash_commands":
        user = str(payload.get("user_id", ""))
        team = str(payload.get("team_id", ""))
        if not SLACK_USER_ID.fullmatch(user):
            return None
        return Request(
            Kind.QUEUE, user, team, team, str(payload.get("enterprise_id") or ""),
            str(payload.get("api_app_id", "")), str(payload.get("channel_id", "")),
        )
    if kind != "interactive":
        return None
    who = _part(payload, "user")
    user = str(who.get("id", ""))
    if not SLACK_USER_ID.fullmatch(user):
        log.warning("Slack sent an action without a usable user id; ignored")
        return None
    user_team = str(who.get("team_id") or "")
    team = str(_part(payload, "team").get("id") or payload.get("team_id") or user_team)  # org-wide installs: team null
    enterprise = str(_part(payload, "team").get("enterprise_id") or _part(payload, "enterprise").get("id") or "")
    common = {"user": user, "team": team, "user_team": user_team, "enterprise": enterprise, "app": str(payload.get("api_app_id", ""))}
    if payload.get("type") == "block_actions":
        actions = [a for a in payload.get("actions") or [] if isinstance(a, dict)]
        action = actions[0] if actions else {}
        value = str(_part(action, "selected_option").get("value") or action.get("value") or "")
        key, _, choice = value.partition(":")
        if action.get("action_id") not in {"claim", "snooze", "close", "reply"} or not key.isdigit():
            return None  # "Open on X" is a link; Slack still reports the click
        channel = str(_part(payload, "channel").get("id") or _part(payload, "container").get("channel_id") or "")
        trigger = str(payload.get("trigger_id") or "")
        return Request(Kind.CLICK, channel=channel, mention=int(key), action=action["action_id"], choice=choice, trigger=trigger, **common)
    view = _part(payload, "view")
    if payload.get("type") == "view_submission" and view.get("callback_id") == "close_reason":
        try:
            meta = json.loads(view.get("private_metadata") or "{}")
            mention, channel = int(meta["mention"]), str(meta["channel"])
        except (ValueError, KeyError, TypeError):
            log.warning("a close form came back without its mention and channel; ignored")
            return None
        values = _part(_part(view, "state"), "values")
        reason = str(_part(_part(_part(values, "reason"), "choice"), "selected_option").get("value") or "")
        note = str(_part(_part(values, "note"), "text").get("value") or "")
        return Request(Kind.CLOSE_FORM, channel=channel, mention=mention, choice=reason, note=note, **common)
    if payload.get("type") == "view_submission" and view.get("callback_id") == "reply":
        try:
            meta = json.loads(view.get("private_metadata") or "{}")
            mention, channel, limit = int(meta["mention"]), str(meta["channel"]), int(meta["limit"])
        except (ValueError, KeyError, TypeError):
            log.warning("a reply form came back without its mention, channel and limit; ignored")
            return None
        text = str(_part(_part(_part(_part(view, "state"), "values"), "text"), "text").get("value") or "")
        return Request(Kind.REPLY_FORM, channel=channel, mention=mention, note=text, limit=limit, **common)
    return None




def refusal_text(why: Refusal, request: Request, access: Access) -> str:
    """What the asker reads (only they see it)."""
    alerts = ", ".join(f"<#{c}>" for c in sorted(access.alert_channels))
    if why in {Refusal.OTHER_WORKSPACE, Refusal.EXTERNAL_USER}:
        if request.kind is Kind.QUEUE:
            return "`/replywatch` shows the queue only to members of the workspace replywatch works for."
        return "Only members of the workspace replywatch works for can act on its alerts; nothing was changed."
    if why is Refusal.QUEUE_NOT_HERE:
        places = ", ".join(f"<#{c}>" for c in sorted(access.alert_channels | access.queue_channels))
        return f"`/replywatch` shows the queue only in {places}."
    if why is Refusal.NOT_ALERT_CHANNEL:
        return f"replywatch acts only on its alerts in {alerts}; nothing was changed."
    if why is Refusal.NO_ALERT_HERE:
        return "replywatch has no alert for that mention in this channel; nothing was changed."
    return "That request named another Slack app; replywatch did nothing."




def _part(payload: dict, key: str) -> dict:
    """A nested object of a payload, or {} when it is missing or not an object."""
    value = payload.get(key)
    return value if isinstance(value, dict) else {}
