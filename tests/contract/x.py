"""The contract's World on the X stand-in: the watched account `acme`, read with an app's bearer token."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.model import Network
from bot.sources.x.client import XSource
from bot.standins.http import Reply
from bot.standins.x_api import FakeX, User
from tests.contract.world import Failure, Ticking

BEARER = "x-contract-bearer-9c2d"


class World:
    network = Network.X

    def __init__(self) -> None:
        self.fake = FakeX(bearer=BEARER)
        self.fake.now = Ticking()
        self.acme = self.fake.add_user("acme", "Acme Inc")

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
        return [BEARER]

    def close(self) -> None:
        self.fake.close()
