"""The Bluesky stand-in's sessions: createSession (identifier + app password) issues JWT-shaped access (2 h) and
refresh (90 days) tokens whose `exp` follows `self.now`; refreshSession rotates both (the old refresh token is
revoked); an expired token is answered 400 ExpiredToken, an unknown one 401 InvalidToken, as the real PDS does."""

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


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class Token:
    did: str
    scope: str
    exp: datetime
    revoked: bool = False


class Sessions:
    """The token part of FakeBluesky (which holds `tokens`, `issued`, `users`, `access_ttl` and `now`)."""

    tokens: dict[str, Token]
    issued: list[str]
    users: dict[str, Any]
    access_ttl: timedelta
    now: Callable[[], datetime]

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
