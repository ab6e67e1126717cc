"""The errors the adapters raise, classified once at the boundary.

Services never see a tweepy, requests or slack_sdk exception; they see one of these and decide from the class:

    ServiceError              something went wrong talking to X or Slack (`.service` says which)
    ├── AuthFailed            the token was rejected or revoked: collection or delivery is broken until fixed
    ├── RateLimited           told to wait: `.until` (X: the reset time) or `.retry_after` (Slack: Retry-After)
    ├── Unavailable           5xx, timeout, refused or dropped connection: try again later, with back-off
    ├── Rejected              the server understood and said no (unknown channel, bad request): not retryable
    └── BadResponse           the answer was not in the documented shape

No message carries a secret: adapters build them from status codes and error codes, never from requests.
"""

from __future__ import annotations

from datetime import datetime, timedelta


class ServiceError(Exception):
    def __init__(self, service: str, message: str) -> None:
        super().__init__(f"{service}: {message}")
        self.service = service
        self.message = message


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


class Rejected(ServiceError):
    pass


class BadResponse(ServiceError):
    pass


class UnknownAccount(Rejected):
    """X has no account with the configured handle."""
