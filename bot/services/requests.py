"""What someone asked replywatch in Slack, read once from what Slack sent, and whether they may: the `Access` of
the app, workspace and channels, and `refusal`, a pure function of the request, the access and what the store
knows of the mention named (see bot.services.actions)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum

from bot.model import SLACK_USER_ID, Status

log = logging.getLogger(__name__)


@dataclass
class Answer:
    ack: dict | None = None  # sent back with the acknowledgement
    later: Callable[[], None] | None = None  # done after acknowledging


@dataclass(frozen=True)
class Access:
    """Who may act, and where: the workspace, its organization and the app `auth.test` named, the channels
    replywatch posts alerts to, and where `/replywatch` may show the queue. An empty `teams` or a None `app` is
    not checked (tests that are not about access)."""

    alert_channels: frozenset[str]
    teams: frozenset[str] = frozenset()  # the workspace's team ID, and its Enterprise organization's ID if any
    app: str | None = None
    queue_channels: frozenset[str] = frozenset()  # besides the alert channels (ALLOW_QUEUE_IN)
    queue_for_external: bool = False  # ALLOW_QUEUE_IN has `external`


class Kind(Enum):
    CLICK = "button"
    CLOSE_FORM = "close form"
    QUEUE = "/replywatch"


@dataclass(frozen=True)
class Request:
    """What someone asked in Slack, read once from the payload. `channel` is where it was asked; for the close
    form, the channel of the alert it was opened from (carried in the form's private_metadata)."""

    kind: Kind
    user: str
    team: str  # the workspace the payload came from
    user_team: str  # the asker's own workspace (or organization); a slash command gives only `team_id`
    enterprise: str
    app: str
    channel: str
    mention: int | None = None
    action: str = ""
    choice: str = ""
    trigger: str = ""
    view: dict = field(default_factory=dict)


class Refusal(Enum):
    """Why a request is refused, as the log line says it."""

    OTHER_APP = "it names another app"
    OTHER_WORKSPACE = "it comes from another workspace"
    EXTERNAL_USER = "the user belongs to another organization"
    NOT_ALERT_CHANNEL = "it is not in an alert channel"
    NO_ALERT_HERE = "replywatch has no alert for that mention in that channel"
    QUEUE_NOT_HERE = "the queue is not shown in that channel"


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
        if action.get("action_id") not in {"claim", "snooze", "close"} or not key.isdigit():
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
        return Request(Kind.CLOSE_FORM, channel=channel, mention=mention, view=view, **common)
    return None


def refusal(request: Request, access: Access, item: tuple[Status | None, str | None]) -> Refusal | None:
    """Why `request` must be refused, or None to do it. `item` is what the store knows of the mention it names:
    its status (None: unknown) and the channel of its alert (None: not alerted)."""
    if access.app is not None and request.app != access.app:
        return Refusal.OTHER_APP
    if access.teams:
        ours = {request.team, request.enterprise} & access.teams
        if request.kind is Kind.QUEUE:  # a slash command names only the asker's workspace
            if not ours and not access.queue_for_external:
                return Refusal.EXTERNAL_USER
        elif not ours:
            return Refusal.OTHER_WORKSPACE
        elif request.user_team and request.user_team not in access.teams:
            return Refusal.EXTERNAL_USER  # someone of another organization in a shared channel
    if request.kind is Kind.QUEUE:
        return None if request.channel in access.alert_channels | access.queue_channels else Refusal.QUEUE_NOT_HERE
    if request.channel not in access.alert_channels:
        return Refusal.NOT_ALERT_CHANNEL
    status, alerted_in = item
    if status is None or alerted_in != request.channel:
        return Refusal.NO_ALERT_HERE
    return None  # an item already closed says so, and changes nothing


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


def shown(value: str) -> str:
    """An ID from a payload, for the log: it comes from outside, so it is cut short and quoted."""
    return repr(value[:40]) if value else "-"


def _part(payload: dict, key: str) -> dict:
    """A nested object of a payload, or {} when it is missing or not an object."""
    value = payload.get(key)
    return value if isinstance(value, dict) else {}
