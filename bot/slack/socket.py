"""The Socket Mode adapter: slack_sdk's built-in SocketModeClient (a websocket opened from inside the container,
so no public URL is needed). Every request is acknowledged first — Slack wants that within 3 seconds — with
what the handler says to send back; the handler's slower work runs after. Errors carry no app token: their
messages are redacted like the Web API adapter's."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from bot.errors import AuthFailed, ServiceError, Unavailable
from bot.logs import Redactor
from bot.slack.interactions import Answer

log = logging.getLogger(__name__)


class SocketListener:
    def __init__(self, *, app_token: str, base_url: str, timeout: float, handler: Callable[[str, dict], Answer]) -> None:
        self._handler = handler
        self._redactor = Redactor([app_token])
        web = WebClient(token=app_token, base_url=base_url, timeout=max(1, round(timeout)), retry_handlers=[])
        self._client = SocketModeClient(
            app_token=app_token,
            web_client=web,
            logger=logging.getLogger("slack_sdk.socket_mode"),
            on_error_listeners=[lambda exc: log.warning("Socket Mode connection: %s", type(exc).__name__)],
        )
        self._client.socket_mode_request_listeners.append(self._on_request)
        self._connected_once = False
        self._last_error: str | None = None
        self._work = ThreadPoolExecutor(max_workers=2, thread_name_prefix="slack-actions")  # slow work, off the ack path
        self.on_ack: Callable[[float], None] | None = None  # told each acknowledgement's delay, in seconds (metrics)

    def check(self) -> str:
        """Ask Slack for a websocket URL (apps.connections.open); AuthFailed if the app token is refused."""
        try:
            return self._open()
        except ServiceError as exc:
            raise exc.redact(self._redactor.redact) from None

    def _open(self) -> str:
        try:
            return self._client.issue_new_wss_url()
        except SlackApiError as exc:
            data = exc.response.data if isinstance(exc.response.data, dict) else {}
            code = str(data.get("error", ""))
            if code in {"invalid_auth", "not_authed", "not_allowed_token_type", "token_revoked", "account_inactive"}:
                raise AuthFailed("Slack", f"apps.connections.open: {code}") from None
            raise Unavailable("Slack", f"apps.connections.open: {code or 'failed'}") from None
        except (OSError, ValueError) as exc:
            raise Unavailable("Slack", f"apps.connections.open: {type(exc).__name__}") from None

    def connect(self) -> None:
        """Open the websocket; the client reconnects by itself when it drops."""
        self._client.wss_uri = self.check()
        try:
            self._client.connect()
        except (OSError, ValueError) as exc:
            raise Unavailable("Slack", f"Socket Mode: cannot connect ({type(exc).__name__})") from None

    def keep_connected(self) -> None:
        """Connect, until it works once; after that slack_sdk reconnects by itself when the connection drops."""
        if self._connected_once:
            return
        try:
            self.connect()
        except ServiceError as exc:
            if exc.message != self._last_error:
                log.error("Socket Mode: %s; alert buttons and /replywatch wait until it connects", exc.message)
            self._last_error = exc.message
            return
        self._connected_once = True
        log.info("Socket Mode connected: alert buttons and /replywatch are live")

    def close(self) -> None:
        self._client.close()
        self._work.shutdown(wait=True)

    def _on_request(self, client: SocketModeClient, request: SocketModeRequest) -> None:
        received = time.monotonic()
        try:
            answer = self._handler(request.type, request.payload)
        except Exception as exc:  # noqa: BLE001 — a bad payload must not leave Slack unacknowledged
            log.error("could not handle a Slack %s request: %s", request.type, type(exc).__name__)
            answer = Answer()
        client.send_socket_mode_response(SocketModeResponse(envelope_id=request.envelope_id, payload=answer.ack))
        if self.on_ack is not None:
            self.on_ack(time.monotonic() - received)
        if answer.later is not None:
            self._work.submit(self._later, request.type, answer.later)

    @staticmethod
    def _later(kind: str, work: Callable[[], None]) -> None:
        try:
            work()
        except ServiceError as exc:
            log.warning("after a Slack %s request: %s", kind, exc.message)
        except Exception as exc:  # noqa: BLE001
            log.error("after a Slack %s request: %s: %s", kind, type(exc).__name__, exc)
