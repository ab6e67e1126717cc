"""The Slack adapter: slack_sdk's WebClient with a timeout and **no automatic retry** (a retry after a dropped
connection can post the same alert twice), errors translated into bot.errors with the token redacted from their
messages (Slack's `error` field is outside text, and a proxy can put the token in it)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from urllib.error import HTTPError, URLError

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackRequestError

from bot.errors import AuthFailed, BadResponse, ChannelUnavailable, RateLimited, Rejected, ServiceError, Unavailable
from bot.logs import Redactor
from bot.model import SlackMessage

log = logging.getLogger(__name__)

TAG_EVENT = "replywatch"
_CHANNEL_ERRORS = {"channel_not_found", "not_in_channel", "is_archived"}
_AUTH_ERRORS = {"invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired"}
HISTORY_PAGES = 5
_UNREADABLE = "Received a response in a non-JSON format"  # slack_sdk's "error" for a body it could not decode


class SlackClient:
    def __init__(self, *, token: str, base_url: str, timeout: float) -> None:
        self._client = WebClient(token=token, base_url=base_url, timeout=max(1, round(timeout)), retry_handlers=[])
        self._redactor = Redactor([token])

    def auth_test(self) -> dict:
        """Who the token belongs to; AuthFailed if Slack rejects it."""
        return self._call("auth.test", self._client.auth_test)

    def channel_id(self, channel: str) -> str:
        """The ID of `#name` (conversations.list); an ID is returned as it is. Rejected if there is none."""
        if not channel.startswith("#"):
            return channel
        name, cursor = channel[1:], None
        while True:
            data = self._call(
                "conversations.list",
                self._client.conversations_list,
                types="public_channel,private_channel",
                exclude_archived=True,
                limit=1000,
                cursor=cursor,
            )
            for entry in data.get("channels") or []:
                if isinstance(entry, dict) and entry.get("name") == name and entry.get("id"):
                    return str(entry["id"])
            cursor = (data.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                raise Rejected("Slack", f"conversations.list: no channel {channel} visible to the bot")

    def post(self, channel: str, message: SlackMessage, tag: str, thread_ts: str | None = None) -> tuple[str, str]:
        data = self._call(
            "chat.postMessage",
            self._client.chat_postMessage,
            channel=channel,
            text=message.text,
            blocks=message.blocks,
            thread_ts=thread_ts,
            unfurl_links=False,
            unfurl_media=False,
            metadata={"event_type": TAG_EVENT, "event_payload": {"tag": tag}},
        )
        if not data.get("ts") or not data.get("channel"):
            raise BadResponse("Slack", "chat.postMessage: answer without channel or ts")
        return str(data["channel"]), str(data["ts"])

    def update(self, channel: str, ts: str, message: SlackMessage) -> None:
        self._call("chat.update", self._client.chat_update, channel=channel, ts=ts, text=message.text, blocks=message.blocks)

    def find_tagged(self, channel: str, tag: str, oldest: datetime, thread_ts: str | None = None) -> tuple[str, str] | None:
        """Search the channel's recent history (or the thread) for our message carrying this tag."""
        cursor = None
        since = f"{(oldest - timedelta(minutes=1)).astimezone(UTC).timestamp():.6f}"
        method, func = ("conversations.replies", self._client.conversations_replies) if thread_ts else (
            "conversations.history", self._client.conversations_history
        )
        extra = {"ts": thread_ts} if thread_ts else {}
        for _ in range(HISTORY_PAGES):
            data = self._call(method, func, channel=channel, oldest=since, include_all_metadata=True, limit=200, cursor=cursor, **extra)
            for message in data.get("messages") or []:
                meta = message.get("metadata") or {}
                payload = meta.get("event_payload") or {}
                if meta.get("event_type") == TAG_EVENT and payload.get("tag") == tag:
                    return str(data.get("channel") or channel), str(message["ts"])
            cursor = (data.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return None
        return None

    def open_view(self, trigger_id: str, view: dict) -> None:
        """Open a modal in answer to a click (the trigger is valid for 3 seconds)."""
        self._call("views.open", self._client.views_open, trigger_id=trigger_id, view=view)

    def tell(self, channel: str, user: str, text: str) -> None:
        """A message only `user` sees (ephemeral)."""
        self._call("chat.postEphemeral", self._client.chat_postEphemeral, channel=channel, user=user, text=text)

    def group_members(self, group: str) -> frozenset[str]:
        """The user IDs in a user group (usergroups.users.list)."""
        data = self._call("usergroups.users.list", self._client.usergroups_users_list, usergroup=group)
        users = data.get("users")
        return frozenset(str(u) for u in users) if isinstance(users, list) else frozenset()

    def set_usergroup(self, group: str, users: list[str]) -> None:
        """Make the user group's members exactly `users` (usergroups.users.update replaces the list)."""
        self._call("usergroups.users.update", self._client.usergroups_users_update, usergroup=group, users=users)

    def upload(self, filename: str, content: bytes, title: str, alt_text: str) -> str:
        """Upload a file shared nowhere (it shows where a message's image block names it); returns its file ID."""
        # No channel: completing the upload with one would post a file message of its own, a second message
        # beside the one that shows the file (and one more each time an upload is retried).
        data = self._call(
            "files.upload_v2", self._client.files_upload_v2, filename=filename, content=content, title=title, alt_txt=alt_text
        )
        file = data.get("file") if isinstance(data.get("file"), dict) else {}
        if not file.get("id"):
            raise BadResponse("Slack", "files.completeUploadExternal: answer without the file's id")
        return str(file["id"])

    def lookup_email(self, email: str) -> str | None:
        """The Slack user ID for an e-mail address, or None if Slack has no such user."""
        try:
            data = self._call("users.lookupByEmail", self._client.users_lookupByEmail, email=email)
        except Rejected as exc:
            if exc.message.endswith("users_not_found"):
                return None
            raise
        user = data.get("user") if isinstance(data.get("user"), dict) else {}
        return str(user["id"]) if user.get("id") else None

    def _call(self, method: str, func, **kwargs) -> dict:  # noqa: ANN001, ANN003
        """One Web API call; every error it raises has the token redacted from its message."""
        try:
            return self._request(method, func, **kwargs)
        except ServiceError as exc:
            raise exc.redact(self._redactor.redact) from None

    @staticmethod
    def _request(method: str, func, **kwargs) -> dict:  # noqa: ANN001, ANN003
        try:
            response = func(**kwargs)
        except SlackApiError as exc:
            raise _classify(_step(method, exc), exc) from None
        except (TimeoutError, URLError, ConnectionError, OSError) as exc:
            # An HTTPError comes only from an upload's POST to its upload URL: the Web API's own answers arrive
            # as SlackApiError whatever their status.
            if isinstance(exc, HTTPError) and exc.code == 429:
                retry_after = _retry_after(dict(exc.headers or {}))
                wait = timedelta(seconds=retry_after) if retry_after is not None else None
                raise RateLimited("Slack", f"{method}: upload rate limited (Retry-After {retry_after})", retry_after=wait) from None
            if isinstance(exc, HTTPError):
                raise Unavailable("Slack", f"{method}: HTTP {exc.code}") from None
            raise Unavailable("Slack", f"{method}: connection failed or timed out ({type(exc).__name__})") from None
        except (SlackRequestError, ValueError) as exc:
            raise Unavailable("Slack", f"{method}: unreadable answer ({type(exc).__name__})") from None
        data = response.data
        if not isinstance(data, dict):
            raise BadResponse("Slack", f"{method}: response is not a JSON object")
        return data


def _classify(method: str, exc: SlackApiError) -> ServiceError:
    response = exc.response
    status = getattr(response, "status_code", 0)
    data = response.data if isinstance(getattr(response, "data", None), dict) else {}
    code = str(data.get("error") or f"HTTP {status}")
    if code.startswith(_UNREADABLE):
        # slack_sdk's word for a body it could not decode (cut short, garbled): Slack may well have done what was
        # asked, so this is a doubt, never a refusal.
        return BadResponse("Slack", f"{method}: HTTP {status}, unreadable answer")
    if status == 429 or code == "ratelimited":
        retry_after = _retry_after(response.headers)
        wait = timedelta(seconds=retry_after) if retry_after is not None else None
        return RateLimited("Slack", f"{method}: rate limited (Retry-After {retry_after})", retry_after=wait)
    if status >= 500 or code in {"internal_error", "fatal_error", "service_unavailable", "request_timeout"}:
        return Unavailable("Slack", f"{method}: {code}")
    if code in _AUTH_ERRORS or (code == "missing_scope" and method.startswith("files.")):
        # Elsewhere a missing scope is an optional one (channels:read, channels:history) and the caller does
        # without; without files:write the report's chart cannot go out until the app is reinstalled.
        return AuthFailed("Slack", f"{method}: {code}")
    if code in _CHANNEL_ERRORS:
        return ChannelUnavailable("Slack", f"{method}: {code}")
    if not data:
        return BadResponse("Slack", f"{method}: HTTP {status} without a Slack answer")
    return Rejected("Slack", f"{method}: {code}")


def _step(method: str, exc: SlackApiError) -> str:
    """The Web API method that answered: files_upload_v2 makes several calls, and which one failed matters."""
    url = str(getattr(exc.response, "api_url", "") or "")
    name = url.rstrip("/").rsplit("/", 1)[-1]
    return name if method.startswith("files.") and name.startswith("files.") else method


def _retry_after(headers: dict) -> float | None:
    for key, value in (headers or {}).items():
        if key.lower() == "retry-after":
            try:
                return float(value if not isinstance(value, list) else value[0])
            except (TypeError, ValueError):
                return None
    return None
