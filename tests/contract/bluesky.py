"""The contract World for Bluesky: FakeBluesky (a PDS with its AppView) driven through the real atproto client."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.errors import Rejected, ServiceError
from bot.model import Network
from bot.ports import Source
from bot.sources.bluesky import BlueskySource
from bot.standins.bluesky_api import FakeBluesky, User
from bot.standins.http import Reply
from tests.contract.world import Failure, Ticking, WriteFault

THUMBS_UP = "\U0001f44d\U0001f3fd"  # 👍🏽: two code points (the skin tone a modifier), one grapheme

APP_PASSWORD = "abcd-efgh-ijkl-mnop"


class MemorySessions:
    """A SessionStore in a dict (the database keeps it in production)."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}
        self.saves = 0

    def load(self, key: str) -> str | None:
        return self.values.get(key)

    def save(self, key: str, value: str) -> None:
        self.values[key] = value
        self.saves += 1


class World:
    network = Network.BLUESKY
    limit = 300

    def __init__(self) -> None:
        self.api = FakeBluesky()
        self.api.now = Ticking()
        self.acme = self.api.add_user("acme.bsky.social", "Acme Inc", followers=5000, password=APP_PASSWORD)
        for handle in ("bob", "carol", "dave"):
            self.api.add_user(f"{handle}.bsky.social", followers=10)

    def _who(self, name: str) -> User:
        return self.api.user(name if "." in name else f"{name}.bsky.social")

    def source(self) -> Source:
        return BlueskySource(
            base_url=self.api.url, handle="acme.bsky.social", app_password=APP_PASSWORD, timeout=5.0, sessions=MemorySessions()
        )

    def mention(self, author: str, text: str = "hello @acme", reply_to: str | None = None) -> str:
        return self.api.post(self._who(author), text, mentions=(self.acme,), reply_to=reply_to)

    def own_post(self, text: str = "news from acme") -> str:
        return self.api.post(self.acme, text)

    def reply(self, to: str, text: str = "thanks!", by: str = "acme") -> str:
        return self.api.post(self._who(by), text, reply_to=to)

    def reply_to_own(self, author: str, own: str, text: str = "a question") -> str:
        return self.api.post(self._who(author), text, reply_to=own)

    def noise(self, author: str, own: str) -> None:
        who = self._who(author)
        self.api.like(who, own)
        self.api.repost(who, own)
        self.api.follow(who, self.acme)

    def delete(self, post_id: str) -> None:
        self.api.delete(post_id)

    def edit(self, post_id: str, text: str) -> str | None:
        return None  # Bluesky has no edits

    def fail(self, failure: Failure) -> None:
        path = "app.bsky.notification.listNotifications"
        reset = str(int(datetime.now(UTC).timestamp()) + 60)  # the network's wall clock, not the posts' times
        replies = {
            "rate_limit": Reply(429, {"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"},
                                {"ratelimit-limit": "3000", "ratelimit-remaining": "0", "ratelimit-reset": reset}),
            "unavailable": Reply(503, {"error": "InternalServerError", "message": "Service Unavailable"}),
            "bad_payload": Reply(200, {"notifications": {"not": "a list"}, "cursor": 17}),
            "auth": Reply(401, {"error": "AuthenticationRequired", "message": "Invalid token " + self.api.issued[-2]}),
        }
        self.api.http.fail(path, replies[failure])

    def secrets(self) -> list[str]:
        return [APP_PASSWORD, *self.api.issued]

    def writer(self) -> Source:
        return self.source()  # an app password may post

    def replies(self, to: str) -> list[str]:
        return [r.uri for r in self.api.replies_to(to)]

    def fail_write(self, fault: WriteFault) -> None:
        self.api.fail_write(fault)

    def refuse(self, mention: str) -> tuple[type[ServiceError], str]:
        self.api.gate(mention)
        return Rejected, "gate"

    def lengths(self) -> list[tuple[str, int]]:
        family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"  # 👨‍👩‍👧: five code points, one grapheme
        return [("hello", 5), (THUMBS_UP * 3, 3), ("e\u0301", 1), (family, 1), ("日本語", 3)]

    def at_limit(self) -> str:
        return THUMBS_UP * 300  # 600 code points

    def over_limit(self) -> str:
        return THUMBS_UP * 301

    def set_limit(self, limit: int) -> bool:
        return False

    def direct_mention(self, author: str, text: str) -> str | None:
        return None  # Bluesky's direct messages are not posts

    def visibility(self, post_id: str) -> str | None:
        return None

    def close(self) -> None:
        self.api.close()
