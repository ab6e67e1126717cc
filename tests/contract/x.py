"""The contract's World on the X stand-in: the watched account `acme`, read with an app's bearer token, and written
as with the user-context keys of an app with write permission."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.errors import AuthFailed, ServiceError
from bot.model import Network
from bot.sources.x.client import XSource
from bot.standins.http import Reply
from bot.standins.x_api import FakeX, User
from tests.contract.world import Failure, Ticking, WriteFault

BEARER = "x-contract-bearer-9c2d"
USER_KEYS = ("x-contract-key-41aa", "x-contract-key-secret-77b0", "x-contract-access-3e19", "x-contract-access-secret-c5d4")


class World:
    network = Network.X
    limit = 280

    def __init__(self) -> None:
        self.fake = FakeX(bearer=BEARER, api_key=USER_KEYS[0])
        self.fake.now = Ticking()
        self.acme = self.fake.add_user("acme", "Acme Inc")
        self.fake.grant(self.acme, USER_KEYS[2])

    def _person(self, handle: str) -> User:
        try:
            return self.fake.user(handle)
        except StopIteration:
            return self.fake.add_user(handle)

    def source(self) -> XSource:
        return XSource(base_url=self.fake.url, timeout=5.0, handle="acme", bearer_token=BEARER)

    def mention(self, author: str, text: str = "hello @acme", reply_to: str | None = None) -> str:
        return str(self.fake.post(self._person(author), text, reply_to=int(reply_to) if reply_to else None))

    def own_post(self, text: str = "news from acme") -> str:
        return str(self.fake.post(self.acme, text))

    def reply(self, to: str, text: str = "thanks!", by: str = "acme") -> str:
        parent = self.fake.users[self.fake.tweets[int(to)].author_id].username
        return str(self.fake.post(self._person(by), f"@{parent} {text}", reply_to=int(to)))

    def reply_to_own(self, author: str, own: str, text: str = "a question") -> str:
        return str(self.fake.post(self._person(author), f"@acme {text}", reply_to=int(own)))  # X puts the @acme in

    def noise(self, author: str, own: str) -> None:
        self.fake.post(self._person(author), f"RT @acme: {self.fake.tweets[int(own)].text}", retweet=int(own))

    def delete(self, post_id: str) -> None:
        self.fake.delete(int(post_id))

    def edit(self, post_id: str, text: str) -> str | None:
        return str(self.fake.edit(int(post_id), text))

    def fail(self, failure: Failure) -> None:
        reset = str(int((datetime.now(UTC) + timedelta(seconds=60)).timestamp()))
        limits = {"x-rate-limit-limit": "450", "x-rate-limit-remaining": "0", "x-rate-limit-reset": reset}
        reply = {
            "rate_limit": Reply(429, {"title": "Too Many Requests", "detail": "Too Many Requests", "type": "about:blank"}, limits),
            "unavailable": Reply(503, {"title": "Service Unavailable", "detail": "down", "type": "about:blank"}),
            "bad_payload": Reply(200, {"data": "not a list", "meta": {"result_count": 1}}),
            "auth": Reply(401, {"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"}),
        }[failure]
        self.fake.http.fail("/mentions", reply)

    def secrets(self) -> list[str]:
        return [BEARER, *USER_KEYS]

    def writer(self) -> XSource:
        return XSource(base_url=self.fake.url, timeout=5.0, handle="acme", user_keys=USER_KEYS)

    def replies(self, to: str) -> list[str]:
        return [str(t.id) for t in self.fake.replies_to(int(to))]

    def fail_write(self, fault: WriteFault) -> None:
        self.fake.fail_write(fault)

    def refuse(self, mention: str) -> tuple[type[ServiceError], str]:
        self.fake.access_level = "read"
        return AuthFailed, "read-only"

    def lengths(self) -> list[tuple[str, int]]:
        return [("hello", 5), ("日本語", 6), ("👍🏽", 2), ("see https://example.com/a/rather/long/path/to/a/page", 27)]

    def at_limit(self) -> str:
        return "日本語" * 46 + "です"  # 140 characters, 280 as X counts them

    def over_limit(self) -> str:
        return "日本語" * 47  # 141 characters, 282 as X counts them

    def set_limit(self, limit: int) -> bool:
        return False

    def direct_mention(self, author: str, text: str) -> str | None:
        return None  # X's direct messages are not mentions

    def visibility(self, post_id: str) -> str | None:
        return None

    def close(self) -> None:
        self.fake.close()
