"""Actions: what people do to alerts from Slack — claim, snooze, close as "no reply needed", and ask for the
queue with `/replywatch`.

`handle` takes what Slack sent (the envelope's type and payload, as Socket Mode delivers them) and returns an
`Answer`: what to send back with the acknowledgement, which Slack wants within 3 seconds, and the slower work
to do after it. Every action is recorded (who, what, when) and bumps the alert's revision; the sweep then
edits the message in place, so the sweep stays the only writer of alert messages.

Who may ask is decided once, at the top of `handle`, by `refusal` (a pure function of the request, the `Access`
and what the store knows of the mention named): the payload must come from the app and the workspace (or its
Enterprise organization) that `auth.test` named, from a person of that workspace; a button or the close form
must be about a mention whose alert replywatch posted in the channel it came from; `/replywatch` answers only in
the alert channel and the channels of ALLOW_QUEUE_IN, and to people of another organization (a Slack Connect
channel) only when ALLOW_QUEUE_IN says `external`. A refusal is told to the asker only (ephemeral) and logged
once.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, tzinfo
from enum import Enum
from typing import TYPE_CHECKING

from bot import rules
from bot.clock import Clock
from bot.errors import ServiceError
from bot.model import SLACK_USER_ID, Mention, Status
from bot.slack.blocks import CLOSE_REASONS, QUEUE_MOST, close_view, queue_message

if TYPE_CHECKING:
    from bot.ports import SlackSink
    from bot.store.repository import Store

log = logging.getLogger(__name__)

NOTE_LIMIT = 300


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


class ActionService:
    def __init__(
        self, store: Store, slack: SlackSink, clock: Clock, channel: str, tz: tzinfo = UTC, access: Access | None = None
    ) -> None:
        self.store = store
        self.slack = slack
        self.clock = clock
        self.tz = tz
        self.access = access or Access(alert_channels=frozenset({channel}))
        self.on_change: Callable[[], None] | None = None  # told after a click changed a mention (wakes the sweep)

    def handle(self, kind: str, payload: dict) -> Answer:
        """One Socket Mode request: `kind` is the envelope type (interactive, slash_commands, …)."""
        request = read_request(kind, payload)
        if request is None:
            return Answer()
        why = refusal(request, self.access, self._item(request))
        if why is not None:
            return self._refuse(request, why)
        if request.kind is Kind.QUEUE:
            return self._queue()
        if request.kind is Kind.CLICK:
            return self._click(request)
        return self._close_submitted(request)

    def _item(self, request: Request) -> tuple[Status | None, str | None]:
        """The status of the mention a request names, and where its alert is (read-only: this is on the
        acknowledgement's path)."""
        if request.mention is None:
            return None, None
        with self.store.read() as repo:
            mention = repo.mention(request.mention)
            alert = repo.alert(request.mention) if mention is not None else None
        # The row names its channel from the moment the alert is claimed: a click can come before its ts is recorded.
        return (mention.status if mention else None), (alert.channel if alert is not None else None)

    def _refuse(self, request: Request, why: Refusal) -> Answer:
        log.warning(
            "refused a %s from %s (team %s, app %s) in %s%s: %s",
            request.kind.value, _shown(request.user), _shown(request.user_team or request.team), _shown(request.app),
            _shown(request.channel), f" for mention {request.mention}" if request.mention is not None else "", why.value,
        )
        text = refusal_text(why, request, self.access)
        if request.kind is Kind.QUEUE:
            return Answer(ack={"response_type": "ephemeral", "text": text})
        if request.kind is Kind.CLOSE_FORM:
            return Answer(ack={"response_action": "errors", "errors": {"reason": text}})
        return Answer(later=lambda: self._tell(request.channel, request.user, text))

    # --- /replywatch ----------------------------------------------------------------------------------

    def _queue(self) -> Answer:
        with self.store.read() as repo:  # answered in the acknowledgement: must not wait for a writer
            total = repo.open_count()
            rows = [m for m, _ in repo.open_mentions(limit=QUEUE_MOST)]
        return Answer(ack=queue_message(rows, self.clock.now(), self.tz, total=total))

    # --- buttons --------------------------------------------------------------------------------------

    def _click(self, request: Request) -> Answer:
        mention_id, user, channel = request.mention or 0, request.user, request.channel  # a click names one
        if request.action == "claim":
            return Answer(later=lambda: self._act(mention_id, user, channel, "claim", ""))
        if request.action == "snooze":
            return Answer(later=lambda: self._act(mention_id, user, channel, "snooze", request.choice))
        return Answer(later=lambda: self._ask_reason(mention_id, user, channel, request.trigger))

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
            self._changed()
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

    def _close_submitted(self, request: Request) -> Answer:
        values = (request.view.get("state") or {}).get("values") or {}
        reason = str((((values.get("reason") or {}).get("choice") or {}).get("selected_option") or {}).get("value") or "")
        note = " ".join(str(((values.get("note") or {}).get("text") or {}).get("value") or "").split())[:NOTE_LIMIT]
        if reason not in CLOSE_REASONS:
            return Answer(ack={"response_action": "errors", "errors": {"reason": "Pick a reason."}})
        if reason == "other" and not note:
            return Answer(ack={"response_action": "errors", "errors": {"note": "Say why in a few words."}})
        mention_id, user, channel = request.mention or 0, request.user, request.channel  # so does the form
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
            self._changed()
        else:
            self._already_closed(channel, user, mention)

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change()

    def _already_closed(self, channel: str, user: str, mention: Mention | None) -> None:
        self._tell(channel, user, f"That mention is already closed ({mention.reason if mention else 'not tracked by replywatch'}).")

    def _tell(self, channel: str, user: str, text: str) -> None:
        try:
            self.slack.tell(channel, user, text)
        except ServiceError as exc:
            log.warning("could not tell %s: %s", user, exc.message)


def _shown(value: str) -> str:
    """An ID from a payload, for the log: it comes from outside, so it is cut short and quoted."""
    return repr(value[:40]) if value else "-"


def _part(payload: dict, key: str) -> dict:
    """A nested object of a payload, or {} when it is missing or not an object."""
    value = payload.get(key)
    return value if isinstance(value, dict) else {}
