"""The contract's World on the Mastodon stand-in: the watched account `acme` is the token holder on masto.test."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.errors import AuthFailed, ServiceError
from bot.model import Network
from bot.sources.mastodon import MastodonSource
from bot.standins.http import Reply
from bot.standins.mastodon_api import FakeMastodon, rate_headers
from tests.contract.world import Failure, Ticking, WriteFault

LONG_LINK = "https://shop.example/orders/2026/11/25/the-order-you-asked-about?ref=support"  # 79 characters, counts 23

TOKEN = "masto-contract-token-5f1e"


class World:
    network = Network.MASTODON
    limit = 500

    def __init__(self) -> None:
        self.fake = FakeMastodon(token=TOKEN)
        self.fake.now = Ticking()
        self.acme = self.fake.add_account("acme", "ACME Support", followers=5_000)

    def _person(self, handle: str):  # noqa: ANN202
        try:
            return self.fake.account(handle)
        except StopIteration:
            return self.fake.add_account(handle)

    def source(self) -> MastodonSource:
        return MastodonSource(instance=self.fake.url, handle="acme", access_token=TOKEN, timeout=5.0)

    def mention(self, author: str, text: str = "hello @acme", reply_to: str | None = None) -> str:
        return self.fake.post(self._person(author), text, reply_to=reply_to)

    def own_post(self, text: str = "news from acme") -> str:
        return self.fake.post(self.acme, text)

    def reply(self, to: str, text: str = "thanks!", by: str = "acme") -> str:
        return self.fake.post(self._person(by), text, reply_to=to)

    def reply_to_own(self, author: str, own: str, text: str = "a question") -> str:
        return self.fake.post(self._person(author), text, reply_to=own)

    def noise(self, author: str, own: str) -> None:
        person = self._person(author)
        self.fake.favourite(person, own)
        self.fake.reblog(person, own)
        self.fake.follow(person, self.acme)

    def delete(self, post_id: str) -> None:
        self.fake.delete(post_id)

    def edit(self, post_id: str, text: str) -> str | None:
        self.fake.edit(post_id, text)
        return post_id

    def fail(self, failure: Failure) -> None:
        reset = datetime.now(UTC) + timedelta(seconds=60)
        reply = {
            "rate_limit": Reply(429, {"error": "Too many requests"}, rate_headers(0, reset)),
            "unavailable": Reply(503, {"error": "Service Unavailable"}),
            "bad_payload": Reply(200, {"notifications": "not a list"}, rate_headers(299, reset)),
            "auth": Reply(401, {"error": "The access token is invalid"}),
        }[failure]
        self.fake.http.fail("/api/v1/notifications", reply)

    def secrets(self) -> list[str]:
        return [TOKEN]

    def writer(self) -> MastodonSource:
        return self.source()

    def replies(self, to: str) -> list[str]:
        return [s.id for s in self.fake.replies_to(to)]

    def fail_write(self, fault: WriteFault) -> None:
        self.fake.fail_write(fault)

    def refuse(self, mention: str) -> tuple[type[ServiceError], str]:
        self.fake.scopes = {"read"}
        return AuthFailed, "write:statuses"

    def lengths(self) -> list[tuple[str, int]]:
        return [("hello", 5), (f"see {LONG_LINK}", 27), ("@bob@elsewhere.social hi", 7), ("\U0001f44d\U0001f3fd", 1)]

    def at_limit(self) -> str:
        return f"@bob {LONG_LINK} " + "e\u0301" * 471  # 5 + 23 + 1 + 471 = 500 as Mastodon counts, 1,027 code points

    def over_limit(self) -> str:
        return "@bob " + "a" * 496

    def set_limit(self, limit: int) -> bool:
        self.fake.max_characters = limit
        return True

    def direct_mention(self, author: str, text: str) -> str | None:
        return self.fake.post(self._person(author), text, visibility="direct")

    def visibility(self, post_id: str) -> str | None:
        return self.fake.statuses[post_id].visibility

    def close(self) -> None:
        self.fake.close()
