"""Bluesky's errors and rate-limit headers into ours, decided once: what the atproto SDK (or httpx under it) raises
becomes a bot.errors class. The SDK raises UnauthorizedError for 401/403, BadRequestError for 400 (an expired token is
a 400 ExpiredToken), RateLimitExceededError for 429, NetworkError for transport failures and 409/413/502
(InvokeTimeoutError for timeouts), RequestException for the rest; a body its pydantic models refuse is a ModelError,
one that is not JSON a bare ValueError, and an httpx protocol error passes through untranslated. A reply refused by
the thread's gate (its author limits who may reply) is Rejected, whatever the status. What the server said
is redacted (with the adapter's secrets) before it is cut short: a secret the cut went through would no longer be
recognised, and its first part would reach the logs."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
from atproto_client.exceptions import (
    BadRequestError,
    InvokeTimeoutError,
    LoginRequiredError,
    NetworkError,
    RateLimitExceededError,
    RequestErrorBase,
    UnauthorizedError,
)
from atproto_client.models.common import XrpcError

from bot.errors import AuthFailed, BadResponse, RateLimited, Rejected, ServiceError, Unavailable
from bot.model import RateInfo

SERVICE = "Bluesky"
TOKEN_ERRORS = {"ExpiredToken", "InvalidToken"}
DETAIL_LENGTH = 200  # of what the server said, once redacted


class RefreshRefused(Exception):
    """The PDS refused the refresh token (expired or revoked): only a new login helps."""


def needs_new_tokens(exc: BaseException) -> bool:
    """Whether new tokens (a refresh, else a login) may cure this error."""
    if isinstance(exc, RefreshRefused | LoginRequiredError) or type(exc).__name__ in {"TokenDecodeError", "InvalidTokenError"}:
        return True
    return isinstance(exc, BadRequestError) and error_code(exc) in TOKEN_ERRORS


def error_code(exc: RequestErrorBase) -> str | None:
    """The XRPC error name in the answer, if any."""
    content = exc.response.content if exc.response is not None else None
    return content.error if isinstance(content, XrpcError) else None


def gated(exc: BaseException) -> bool:
    """Whether the server refused a reply because of the thread's gate (its author limits who may reply)."""
    content = exc.response.content if isinstance(exc, RequestErrorBase) and exc.response is not None else None
    if not isinstance(content, XrpcError) or (exc.response.status_code >= 500):
        return False
    said = f"{content.error} {content.message or ''}".lower().replace(" ", "")
    return "threadgate" in said or "replynotallowed" in said


def describe(exc: BaseException, redact: Callable[[str], str]) -> str:
    """A short description: the HTTP status and the XRPC error, never the request; redacted, then cut."""
    if isinstance(exc, RequestErrorBase) and exc.response is not None:
        content = exc.response.content
        detail = f"{content.error}: {content.message or ''}".rstrip(": ") if isinstance(content, XrpcError) else ""
        return f"HTTP {exc.response.status_code} {redact(detail)[:DETAIL_LENGTH]}".strip()
    return type(exc).__name__


def classify(what: str, exc: BaseException, redact: Callable[[str], str]) -> ServiceError:
    """Our error for whatever the SDK (or httpx under it) raised: decided once, here."""
    if isinstance(exc, RateLimitExceededError):
        return RateLimited(SERVICE, f"{what}: rate limited (429)", until=exc.reset_at)
    if isinstance(exc, InvokeTimeoutError | httpx.TimeoutException):
        return Unavailable(SERVICE, f"{what}: timed out")
    if isinstance(exc, NetworkError | httpx.TransportError):
        detail = describe(exc, redact) if isinstance(exc, RequestErrorBase) and exc.response is not None else "connection failed"
        return Unavailable(SERVICE, f"{what}: {detail} ({type(exc).__name__})")
    if gated(exc):
        return Rejected(SERVICE, f"{what}: the thread's gate allows no reply from this account ({describe(exc, redact)})")
    if isinstance(exc, UnauthorizedError) or needs_new_tokens(exc):
        return AuthFailed(SERVICE, f"{what}: {describe(exc, redact)}")
    if isinstance(exc, RequestErrorBase) and exc.response is not None:
        status = exc.response.status_code
        return (Unavailable if status >= 500 else Rejected)(SERVICE, f"{what}: {describe(exc, redact)}")
    return BadResponse(SERVICE, f"{what}: response is not in the documented shape ({type(exc).__name__})")


def rate_info(headers: dict[str, Any]) -> RateInfo | None:
    """The ratelimit-* headers of an answer, if all are there."""
    try:
        return RateInfo(
            limit=int(headers["ratelimit-limit"]),
            remaining=int(headers["ratelimit-remaining"]),
            reset=datetime.fromtimestamp(int(headers["ratelimit-reset"]), UTC),
        )
    except (KeyError, TypeError, ValueError, OverflowError, OSError):
        return None
