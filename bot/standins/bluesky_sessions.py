"""The Bluesky stand-in's sessions: createSession (identifier + app password) issues JWT-shaped access (2 h) and
refresh (90 days) tokens whose `exp` follows `self.now`; refreshSession rotates both (the old refresh token is
revoked); an expired or revoked token is answered 400 ExpiredToken, an unknown one 401 InvalidToken, as the real
PDS does. createSession has its own per-account limits (30 per 5 min, 300 per day, `login_limits`), answered 429
RateLimitExceeded with that limit's `ratelimit-*` headers (`logins_spent_until` fills the window); every
createSession request is recorded in `logins` (when, identifier), answered or not, and a test may answer them its
own way through `login_reply`."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.standins.http import Reply, Request

ACCESS_TTL = timedelta(hours=2)
REFRESH_TTL = timedelta(days=90)
LOGIN_LIMITS = ((timedelta(minutes=5), 30), (timedelta(days=1), 300))  # createSession, per account


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class Token:
    did: str
    scope: str
    exp: datetime
    revoked: bool = False


class Sessions:
    """The session part of FakeBluesky (which holds `users`, `access_ttl` and `now`): tokens and logins."""

    users: dict[str, Any]
    access_ttl: timedelta
    now: Callable[[], datetime]

    def _init_sessions(self) -> None:
        self.tokens: dict[str, Token] = {}
        self.issued: list[str] = []  # every token handed out, for the no-secret checks
        self.logins: list[tuple[datetime, str]] = []  # every createSession request: when, identifier
        self.login_limits = LOGIN_LIMITS
        # A test's own answer to createSession (None: answer as the PDS does); the request is recorded all the same.
        self.login_reply: Callable[[], Reply | None] | None = None
        self._granted: list[tuple[datetime, str]] = []  # the createSession requests the limits let through

    def _create_session(self, request: Request) -> Reply:
        body = request.json()
        identifier = str(body.get("identifier", "")).lstrip("@").lower()
        now = self.now()
        self.logins.append((now, identifier))
        if self.login_reply is not None and (reply := self.login_reply()) is not None:
            return reply
        for span, limit in self.login_limits:
            recent = [at for at, who in self._granted if who == identifier and at > now - span]
            if len(recent) >= limit:
                reset = recent[-limit] + span  # when the window has room again
                headers = {
                    "ratelimit-limit": str(limit),
                    "ratelimit-remaining": "0",
                    "ratelimit-reset": str(int(reset.timestamp())),
                    "ratelimit-policy": f"{limit};w={int(span.total_seconds())}",
                }
                return Reply(429, {"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"}, headers)
        self._granted.append((now, identifier))
        user = next((u for u in self.users.values() if identifier in (u.did, u.handle.lower())), None)
        if user is None or user.password is None or body.get("password") != user.password:
            return error(401, "AuthenticationRequired", "Invalid identifier or password")
        return Reply(200, self._session(user.did))

    def _refresh_session(self, request: Request) -> Reply:
        token = self._bearer(request, "com.atproto.refresh")
        if isinstance(token, Reply):
            return token
        token.revoked = True  # rotated: the old refresh token is spent
        return Reply(200, self._session(token.did))

    def _issue(self, did: str, scope: str, ttl: timedelta) -> str:
        now = self.now()
        header = _b64(json.dumps({"typ": "at+jwt" if scope.endswith("access") else "refresh+jwt", "alg": "ES256K"}).encode())
        claims = {"scope": scope, "sub": did, "aud": "did:web:pds.test", "iat": int(now.timestamp()), "exp": int((now + ttl).timestamp())}
        if scope.endswith("refresh"):
            claims["jti"] = _b64(hashlib.sha256(f"{did}{now}{len(self.tokens)}".encode()).digest()[:16])
        token = ".".join((header, _b64(json.dumps(claims).encode()), _b64(hashlib.sha256(f"sig{len(self.tokens)}{now}".encode()).digest())))
        self.tokens[token] = Token(did, scope, now + ttl)
        self.issued.append(token)
        return token

    def _session(self, did: str) -> dict:
        return {
            "did": did,
            "handle": self.users[did].handle,
            "accessJwt": self._issue(did, "com.atproto.access", self.access_ttl),
            "refreshJwt": self._issue(did, "com.atproto.refresh", REFRESH_TTL),
            "active": True,
        }

    def expire_refresh_tokens(self) -> None:
        """Revoke every refresh token (an app password revoked and re-added, a PDS reset)."""
        for token in self.tokens.values():
            if token.scope.endswith("refresh"):
                token.revoked = True

    def logins_spent_until(self, handle: str, reset: datetime) -> None:
        """createSession's 5-minute window for `handle` full (other clients of the account logged in) until `reset`."""
        span, limit = self.login_limits[0]
        self._granted += [(reset - span, handle.lower())] * limit

    def revoke_all_tokens(self) -> None:
        """Revoke every token, access tokens too: a session handed out is dead at once."""
        for token in self.tokens.values():
            token.revoked = True

    def _bearer(self, request: Request, scope: str) -> Token | Reply:
        value = request.headers.get("authorization", "")
        token = self.tokens.get(value.removeprefix("Bearer ").strip())
        if token is None or token.scope != scope:
            return error(401, "InvalidToken", "Token could not be verified" if value else "Authentication Required")
        if token.revoked:
            return error(400, "ExpiredToken", "Token has been revoked")
        if token.exp <= self.now():
            return error(400, "ExpiredToken", "Token has expired")
        return token


def error(status: int, error: str, message: str) -> Reply:
    return Reply(status, {"error": error, "message": message})
