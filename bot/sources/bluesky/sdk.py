"""The atproto SDK's Client as the Bluesky adapter uses it: a timeout on every request, our clock for its session's
expiry check, and a refresh token the server refused told apart from a failed call (RefreshRefused); and where the
adapter keeps the session between runs (SessionStore)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

import httpx
from atproto_client import Client
from atproto_client.exceptions import BadRequestError, UnauthorizedError
from atproto_client.request import Request

from bot.sources.bluesky.errors import RefreshRefused


class SessionStore(Protocol):
    """Where the session is kept between runs (bot.store.repository.StoredSessions): a text under a key."""

    def load(self, key: str) -> str | None: ...

    def save(self, key: str, value: str) -> None: ...


class SdkClient(Client):
    """The SDK's client with our clock for its expiry check and a refused refresh told apart from a failed call."""

    def __init__(self, base_url: str, timeout: float, clock: Callable[[], datetime]) -> None:
        self._clock = clock
        super().__init__(base_url, request=Request(timeout=httpx.Timeout(timeout)))

    def get_current_time(self) -> datetime:
        return self._clock()

    def _refresh_and_set_session(self) -> Any:
        try:
            return super()._refresh_and_set_session()
        except (BadRequestError, UnauthorizedError) as exc:
            raise RefreshRefused(str(exc)) from None
