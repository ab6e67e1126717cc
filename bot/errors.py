"""The errors the adapters raise, classified once at the boundary.

Services never see a tweepy, requests or slack_sdk exception; they see one of these and decide from the class:

    ServiceError              something went wrong talking to X or Slack (`.service` says which)
    ├── AuthFailed            the token was rejected or revoked: collection or delivery is broken until fixed
    ├── RateLimited           told to wait: `.until` (X: the reset time) or `.retry_after` (Slack: Retry-After)
    ├── Unavailable           5xx, timeout, refused or dropped connection: try again later, with back-off
    ├── ChannelUnavailable    Slack: the channel cannot take messages (archived, not found, the bot not in it)
    ├── Rejected              the server understood and said no (bad request, too long): not retryable as it is
    └── BadResponse           the answer was not in the documented shape

No message carries a secret. Adapters build messages from status codes, error codes and what the server said, and
the server can echo the credentials it was sent (a proxy's or gateway's 401 page), so each adapter passes every
error it raises through `redact` with a `logs.Redactor` of the secrets it holds: the message then goes safely to
the logs, the database (an endpoint's last error), `status` and the Slack channel.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Self


class ServiceError(Exception):
    def __init__(self, service: str, message: str) -> None:
        super().__init__(f"{service}: {message}")
        self.service = service
        self.message = message

    def redact(self, redact: Callable[[str], str]) -> Self:
        """This error with `redact` applied to its message (and so to its str)."""
        self.message = redact(self.message)
        self.args = (f"{self.service}: {self.message}",)
        return self


class AuthFailed(ServiceError):
    pass


class RateLimited(ServiceError):
    def __init__(
        self, service: str, message: str, until: datetime | None = None, retry_after: timedelta | None = None
    ) -> None:
        super().__init__(service, message)
        self.until = until
        self.retry_after = retry_after


class Unavailable(ServiceError):
    pass


class ChannelUnavailable(ServiceError):
    pass


class Rejected(ServiceError):
    pass


class BadResponse(ServiceError):
    pass


class UnknownAccount(Rejected):
    """X has no account with the configured handle."""
