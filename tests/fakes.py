"""Hand-written fakes of the ports in bot/ports.py, for testing the services without HTTP: a network in memory, a sink
that records what it is asked to do, a renderer that says in plain text what it was given. The adapters themselves
are tested against the stand-ins (tests/contract, tests/integration); these are for what the services decide."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from bot.errors import AuthFailed, Rejected, ServiceError, UnknownAccount
from bot.messages import AlertCard, Card, ClosedCard, DigestCard, ReportNote
from bot.model import Account, Draft, Mention, Network, Post, Read, ReplyForm, Timeline


class FakeSource:
    """One watched account on a network that lives in memory (bot.ports.Source). Post ids are increasing integers,
    and a cursor is the newest id read. `fail(error)` makes the next read raise it."""

    def __init__(self, handle: str = "acme", network: Network = Network.X) -> None:
        self.network = network
        self.me = Account(id="1", username=handle, name=handle.title())
        self.people: dict[str, Account] = {handle.lower(): self.me}
        self.posted: list[Post] = []
        self.gone: set[str] = set()
        self.failures: list[ServiceError] = []
        self.write_failures: list[tuple[ServiceError, bool]] = []
        self.limit = 280  # reply_limit
        self.refusal: str | None = None  # write_refusal
        self.sent: dict[str, Post] = {}  # the replies posted, by their draft's key (the network's idempotency)
        self.calls: list[str] = []  # "mentions", "posts:<handle>", "deleted": every read, in order
        self._ids = itertools.count(100)
        self._lock = threading.Lock()  # look-ups run on the account's lane, not the test's thread

    # What happens on the network.

    def person(self, handle: str) -> Account:
        return self.people.setdefault(handle.lower(), Account(id=str(next(self._ids)), username=handle, name=handle.title()))

    def mention(self, author: str, text: str, at: datetime) -> Post:
        who = self.person(author)
        post_id = str(next(self._ids))
        post = Post(id=post_id, author_id=who.id, text=f"@{self.me.username} {text}", created_at=at, conversation_id=post_id,
                    author_handle=who.username, author_name=who.name, url=f"https://example.net/{who.username}/{post_id}")
        return self._add(post)

    def answer(self, to: Post, text: str, at: datetime, author: Account | None = None) -> Post:
        """Someone of the account answers `to` on the network itself."""
        who = author or self.me
        post = Post(id=str(next(self._ids)), author_id=who.id, text=text, created_at=at, conversation_id=to.conversation_id,
                    replied_to_id=to.id, in_reply_to_user_id=to.author_id, reference_types=frozenset({"replied_to"}),
                    author_handle=who.username)
        return self._add(post)

    def delete(self, post: Post) -> None:
        with self._lock:
            self.gone.add(post.id)

    def fail(self, error: ServiceError) -> None:
        """The next read raises `error`."""
        self.failures.append(error)

    def fail_write(self, error: ServiceError, *, posted: bool = False) -> None:
        """The next reply raises `error`; with `posted`, after the network made the post (its answer lost)."""
        self.write_failures.append((error, posted))

    # The port.

    def account(self) -> Account:
        return self.me

    def lookup(self, handle: str) -> Account:
        found = self.people.get(handle.lower())
        if found is None:
            raise UnknownAccount(self.network.value, f"no account @{handle}")
        return found

    def mentions(self, cursor: str | None, since: datetime) -> Timeline:
        return self._read("mentions", cursor, since, lambda p: p.author_id != self.me.id)

    def posts(self, who: Account, cursor: str | None, since: datetime) -> Timeline:
        return self._read(f"posts:{who.username}", cursor, since, lambda p: p.author_id == who.id)

    def deleted(self, post_ids: Sequence[str]) -> set[str]:
        with self._lock:
            self.calls.append("deleted")
            return {i for i in post_ids if i in self.gone}

    def reads(self) -> list[Read]:
        return []

    def reply_limit(self) -> int:
        return self.limit

    def length(self, text: str) -> int:
        return len(text)

    def write_refusal(self) -> str | None:
        return self.refusal

    def reply(self, draft: Draft, retry: bool = False) -> Post:
        """Posted once per key, as a network with an idempotency key does."""
        with self._lock:
            self.calls.append("reply")
            failure = self.write_failures.pop(0) if self.write_failures else None
        if failure is not None and not failure[1]:
            raise failure[0]
        if self.refusal is not None:
            raise AuthFailed(self.network.value, f"reply: {self.refusal}")
        if len(draft.text) > self.limit:
            raise Rejected(self.network.value, f"reply: over {self.limit} characters")
        with self._lock:
            found = self.sent.get(draft.key)
        if found is None:
            found = self.answer(draft.mention, draft.text, draft.mention.created_at)
            with self._lock:
                self.sent[draft.key] = found
        if failure is not None:
            raise failure[0]
        return found

    def _add(self, post: Post) -> Post:
        with self._lock:
            self.posted.append(post)
        return post

    def _read(self, what: str, cursor: str | None, since: datetime, mine: Callable[[Post], bool]) -> Timeline:
        with self._lock:
            self.calls.append(what)
            if self.failures:
                raise self.failures.pop(0)
            found = [
                p for p in self.posted if mine(p) and p.id not in self.gone
                and (int(p.id) > int(cursor) if cursor else p.created_at >= since)
            ]
        newest = max((p.id for p in found), key=int, default=cursor)
        return Timeline(found[::-1], newest)


def line(card: Card) -> str:
    """A card as one plain line saying what it stands for: "alert @bob: …", "closed @bob: answered", "digest of 3, 3
    open", "follow_up escalation"."""
    if isinstance(card, AlertCard):
        unread = " (replies unread)" if card.unchecked_since else ""
        return f"alert @{card.mention.post.author_handle}: {card.mention.post.text}{unread}"
    if isinstance(card, DigestCard):
        return f"digest of {len(card.mentions)}, {sum(m.status == 'open' for m in card.mentions)} open"
    if isinstance(card, ClosedCard):
        return f"closed @{card.mention.post.author_handle}: {card.mention.status}"
    return " ".join([card.note.kind, getattr(card.note, "nudge", "")]).strip()


@dataclass
class Sent:
    """A card the sink was given: where, with which tag, in which thread; and each edit since, in turn."""

    channel: str
    ts: str
    card: Card
    tag: str
    thread_ts: str | None = None
    edits: list[Card] = field(default_factory=list)

    @property
    def text(self) -> str:
        return line(self.edits[-1] if self.edits else self.card)


class RecordingSink:
    """The sink the services deliver through (bot.ports.Sink), keeping every card instead of showing it.
    `fail(error)` makes the next delivery or edit raise it."""

    queue_rows = 10

    def __init__(self) -> None:
        self.sent: list[Sent] = []
        self.failures: list[ServiceError] = []
        self.told: list[tuple[str, str, str]] = []
        self.asked: list[tuple[int, str]] = []  # (mention, channel) whose reason was asked
        self.forms: list[tuple[ReplyForm, str]] = []  # reply forms opened, and the channel of their alert
        self.groups: dict[str, list[str]] = {}  # user groups' members
        self.on_call: dict[str, list[str]] = {}
        self._ts = itertools.count(1)

    def fail(self, error: ServiceError) -> None:
        self.failures.append(error)

    def deliver(self, channel: str, card: Card, tag: str, thread: str | None = None) -> tuple[str, str]:
        self._maybe_fail()
        sent = Sent(channel, f"{next(self._ts)}.000000", card, tag, thread)
        self.sent.append(sent)
        return channel, sent.ts

    def edit(self, channel: str, ref: str, card: Card) -> None:
        self._maybe_fail()
        next(s for s in self.sent if (s.channel, s.ts) == (channel, ref)).edits.append(card)

    def find(self, channel: str, tag: str, oldest: datetime, thread: str | None = None) -> tuple[str, str] | None:
        found = [s for s in self.sent if (s.channel, s.tag, s.thread_ts) == (channel, tag, thread)]
        return (channel, found[0].ts) if found else None

    def attach_chart(self, note: ReportNote) -> str:
        return f"F{note.start:%Y%m%d}"

    def ask_reason(self, trigger: str, mention: Mention, channel: str) -> None:
        self.asked.append((mention.id, channel))

    def ask_reply(self, trigger: str, form: ReplyForm, channel: str) -> None:
        self.forms.append((form, channel))

    def members(self, group: str) -> frozenset[str]:
        return frozenset(self.groups.get(group, ()))

    def tell(self, channel: str, user: str, text: str) -> None:
        self.told.append((channel, user, text))

    def hand_over(self, group: str, users: list[str]) -> None:
        self.on_call[group] = users

    def person(self, email: str) -> str | None:
        return "U" + email.split("@")[0].upper()

    def tagged(self, prefix: str) -> list[Sent]:
        """The messages whose tag starts with `prefix` ("mention:", "digest:", "notice:")."""
        return [s for s in self.sent if s.tag.startswith(prefix)]

    def _maybe_fail(self) -> None:
        if self.failures:
            raise self.failures.pop(0)
