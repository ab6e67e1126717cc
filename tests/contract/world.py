"""What the contract suites (test_sources.py, test_replies.py) need of a network's stand-in: one way to script every
network.

Each network provides a `World` in tests/contract/<network>.py, built on its HTTP stand-in in bot/standins/, and
lists it in WORLDS (conftest.py). The watched account is `acme`; people are named by handle."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Literal, Protocol

from bot.errors import ServiceError
from bot.model import Network
from bot.ports import Source

Failure = Literal["rate_limit", "unavailable", "bad_payload", "auth"]
WriteFault = Literal["unavailable", "lost", "cut"]  # a 5xx before posting; posted, answer lost; posted, answer cut


class World(Protocol):
    network: Network

    def source(self) -> Source:
        """A new adapter for the watched account `acme`, pointed at the stand-in (its `account()` works at once)."""
        ...

    def mention(self, author: str, text: str = "hello @acme", reply_to: str | None = None) -> str:
        """`author` posts a mention of the account, in reply to post `reply_to` if given; returns the post's id as
        the adapter reports it."""
        ...

    def own_post(self, text: str = "news from acme") -> str:
        """The account posts something of its own (not a reply); returns its id."""
        ...

    def reply(self, to: str, text: str = "thanks!", by: str = "acme") -> str:
        """`by` (the account unless named) replies to post `to`; returns the reply's id."""
        ...

    def reply_to_own(self, author: str, own: str, text: str = "a question") -> str:
        """`author` replies to the account's post `own` without naming the account (where the network itself
        tells the account, it is a mention); returns its id."""
        ...

    def noise(self, author: str, own: str) -> None:
        """What is not talking to the account: `author` likes and reposts its post `own`, and follows it (what
        the network has of these)."""
        ...

    def delete(self, post_id: str) -> None: ...

    def edit(self, post_id: str, text: str) -> str | None:
        """Edit a post; returns the id a reply to the edited version names (X: a new id; Mastodon: the same), or
        None where the network has no edits."""
        ...

    def fail(self, failure: Failure) -> None:
        """The next request the adapter makes answers so: `rate_limit` a 429 with the network's rate-limit headers
        (reset in 60 s), `unavailable` a 503, `bad_payload` a 200 whose body is not the documented shape, `auth`
        a 401 (the token refused)."""
        ...

    def secrets(self) -> list[str]:
        """The credentials the adapter was given: none may appear in an error it raises."""
        ...

    def close(self) -> None: ...

    # --- replies (test_replies.py) ------------------------------------------------------------------------------

    limit: int  # the network's reply limit, in its own count, as the stand-in starts

    def writer(self) -> Source:
        """A new adapter for `acme` that may post (X: user-context keys of an app with write permission)."""
        ...

    def replies(self, to: str) -> list[str]:
        """The ids (as the adapter names them) of the posts the stand-in holds in reply to post `to`."""
        ...

    def fail_write(self, fault: WriteFault) -> None:
        """The next post the adapter sends fails: `unavailable` a 5xx, nothing posted; `lost` posted, then the
        connection closed before the answer; `cut` posted, then answered with a body cut short."""
        ...

    def refuse(self, mention: str) -> tuple[type[ServiceError], str]:
        """The network refuses the account's reply to `mention` as it does (X: a read-only app; Bluesky: a thread
        gate; Mastodon: a token without write:statuses); returns the error a reply raises and words its message has."""
        ...

    def lengths(self) -> list[tuple[str, int]]:
        """Texts and their lengths as the network counts them (where that is not len())."""
        ...

    def at_limit(self) -> str:
        """A reply to bob exactly at the limit by the network's count (the network may accept it)."""
        ...

    def over_limit(self) -> str:
        """A reply to bob over the limit by the network's count, though not by len() where the counts differ."""
        ...

    def set_limit(self, limit: int) -> bool:
        """The network's limit is now `limit`; False where it is fixed."""
        ...

    def direct_mention(self, author: str, text: str) -> str | None:
        """`author` mentions the account privately (seen by it alone); None where the network has no such thing."""
        ...

    def visibility(self, post_id: str) -> str | None:
        """Who may see a post, as the network says (None where every post is public)."""
        ...


class Ticking:
    """A stand-in's clock that moves a second each time it is read, from an hour ago: each post is later than the
    one before, as people's posts are (a reply in the same millisecond as its question is no case to test)."""

    def __init__(self) -> None:
        self._start, self._seconds = datetime.now(UTC) - timedelta(hours=1), itertools.count()

    def __call__(self) -> datetime:
        return self._start + timedelta(seconds=next(self._seconds))
