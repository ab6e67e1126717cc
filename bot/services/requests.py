"""What someone asked replywatch from the sink, as a typed `Request` (bot.slack.interactions reads it from what
Slack sent), whether they may (`refusal`: a pure function of the request, the `Access` of the app, workspace and
channels, and what the store knows of the mention named), and what it came to: an `Outcome`, which the sink turns
into its own answer (see bot.services.actions)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum

from bot.model import Mention, Status


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
    REPLY_FORM = "reply form"
    QUEUE = "/replywatch"


FORMS = (Kind.CLOSE_FORM, Kind.REPLY_FORM)  # answered in place: what is wrong is shown in the form


@dataclass(frozen=True)
class Request:
    """What someone asked, read once from what the sink sent. `channel` is where it was asked; for a form, the channel
    of the alert it was opened from. A click names its `action` and `choice` (a snooze's length); the close form its
    `choice` (the reason) and `note`; the reply form its `note` (the reply) and `limit` (the one it showed)."""

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
    trigger: str = ""  # the sink's handle on the click, to open a form in answer
    note: str = ""
    limit: int | None = None


@dataclass(frozen=True)
class Queue:
    """The open mentions to show (the oldest first, at most the sink's `queue_rows`), of `total` open."""

    rows: tuple[Mention, ...]
    total: int
    now: datetime


@dataclass(frozen=True)
class Outcome:
    """What a request came to: refused and why, the queue to show, the form's fields to fix (field → what to do),
    and the slower work to do once the sink has acknowledged it."""

    refused: Refusal | None = None
    queue: Queue | None = None
    fix: dict[str, str] = field(default_factory=dict)
    later: Callable[[], None] | None = None


class Refusal(Enum):
    """Why a request is refused, as the log line says it."""

    OTHER_APP = "it names another app"
    OTHER_WORKSPACE = "it comes from another workspace"
    EXTERNAL_USER = "the user belongs to another organization"
    NOT_ALERT_CHANNEL = "it is not in an alert channel"
    NO_ALERT_HERE = "replywatch has no alert for that mention in that channel"
    QUEUE_NOT_HERE = "the queue is not shown in that channel"


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


def shown(value: str) -> str:
    """An ID from a payload, for the log: it comes from outside, so it is cut short and quoted."""
    return repr(value[:40]) if value else "-"
