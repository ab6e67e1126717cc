"""Replies sent from Slack: a team member writes one in the alert's form, and it is posted as the watched account, on
its network, exactly once, however often the form is sent, the network fails, or the process stops mid-call.

- **Who may.** Only accounts with `reply_from_slack = true` (`[[accounts]]`), and, when the account names a
  `reply_group`, only that Slack user group's members, besides the checks every button has (bot.services.actions).
- **The form** (`form`) says how long a reply may be as the network counts it (the Source's `length` and
  `reply_limit`), whether it will be private, and why it cannot be sent when the account may not post.
  `problems` is what the form says in place: empty, too long, not allowed.
- **Exactly once.** `send` records the intent before any call: its key (a hash of the mention, the writer and the
  text, so a form sent twice is one reply) goes to the network as its idempotency key (bot.ports.Source.reply).
  `run_once` posts what is due, in the account's lane for writes; an answer that was lost (a 5xx, a timeout, a cut
  body, a stop) is tried again as a retry, which the adapter makes sure posts nothing twice. A refusal (401, 403, a
  duplicate, too long after the instance's limit changed) is never tried again: the writer is told, the mention
  stays open.
- **After posting** the mention is answered at once, from Slack, by the reply (its alert is edited to say so); the
  poll that reads the reply back later finds it is the same reply (bot.store.outgoing).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from bot.clock import Clock
from bot.errors import AuthFailed, Rejected, ServiceError
from bot.humanize import format_age
from bot.model import AccountKey, Draft, Mention, OutgoingReply, ReplyForm, Status

if TYPE_CHECKING:
    from bot.ports import Sink, Source
    from bot.store.repository import Store

log = logging.getLogger(__name__)

BATCH = 20  # replies posted a run at most
RETRY_FIRST, RETRY_MOST = timedelta(seconds=15), timedelta(minutes=15)  # after a lost answer, doubling
# Past this, a reply whose answer was lost is not tried again: a network keeps an idempotency key for a while only
# (Mastodon: about an hour), and a second post is worse than a reply the writer is told to check.
GIVE_UP = timedelta(minutes=50)


@dataclass(frozen=True)
class Replying:
    """An account that answers from Slack: its adapter, the Slack user group its writers must be in (None: any), and
    what its network bills a post (None: nothing)."""

    source: Source
    group: str | None = None
    price: str | None = None


class ReplyService:
    def __init__(self, store: Store, accounts: Mapping[AccountKey, Replying], sink: Sink, clock: Clock) -> None:
        self.store = store
        self.accounts = dict(accounts)
        self.sink = sink
        self.clock = clock
        self.on_change: Callable[[], None] | None = None  # told after a reply was recorded (wakes the reply job)

    def enabled(self, where: AccountKey) -> bool:
        return where in self.accounts

    def group(self, where: AccountKey) -> str | None:
        found = self.accounts.get(where)
        return found.group if found is not None else None

    def form(self, mention: Mention) -> ReplyForm:
        replying = self.accounts[mention.where]
        source = replying.source
        return ReplyForm(mention, source.reply_limit(), mention.post.private, source.write_refusal(), replying.price)

    def problems(self, mention: Mention, text: str, limit: int | None = None) -> dict[str, str]:
        """What the form says in place of sending (field → what to do); empty when the reply may go. `limit`: the one
        the form showed (no call to the network: this answers within Slack's 3 seconds)."""
        replying = self.accounts.get(mention.where)
        if replying is None:
            return {"text": "Replies from Slack are off for this account."}
        if mention.status is not Status.OPEN:
            return {"text": f"This mention is no longer open ({mention.reason}); nothing was sent."}
        if not text.strip():
            return {"text": "Write the reply first."}
        source = replying.source
        if (refusal := source.write_refusal()) is not None:
            return {"text": f"Replies cannot be posted as this account: {refusal}"}
        size, limit = source.length(text), limit or source.reply_limit()
        if size > limit:
            return {"text": f"{size} characters as {mention.network.label} counts them; at most {limit}."}
        return {}

    def send(self, mention: Mention, user: str, channel: str, text: str) -> str:
        """Record the reply `user` wrote (before any call to the network) and wake the job that posts it; its key."""
        key = hashlib.sha256(f"{mention.id}\n{user}\n{text}".encode()).hexdigest()[:32]
        intent = OutgoingReply(key, mention.id, user, channel, text, mention.post.private, "sending")
        with self.store.unit() as repo:
            fresh = repo.add_outgoing(intent, self.clock.now())
        if fresh:
            log.info("mention %d: a reply from Slack by %s is recorded, to post", mention.id, user)
            if self.on_change is not None:
                self.on_change()
        return key

    def run_once(self) -> int:
        """Post the replies whose turn has come; returns how many were tried."""
        now = self.clock.now()
        with self.store.read() as repo:
            due = repo.outgoing_due(now, BATCH)
            mentions = {m.id: m for m in repo.mentions([r.mention_id for r in due])}
        for reply in due:
            mention = mentions.get(reply.mention_id)
            if mention is not None:
                self._post(reply, mention)
        return len(due)

    def _post(self, reply: OutgoingReply, mention: Mention) -> None:
        replying = self.accounts.get(mention.where)
        retry = reply.attempts > 0  # an earlier attempt may have posted it: the adapter looks before posting again
        if retry and reply.created_at is not None and self.clock.now() - reply.created_at > GIVE_UP:
            self._refused(reply, mention, f"{mention.network.label} did not confirm it within {format_age(GIVE_UP)}; it may "
                          f"have been posted: look at {mention.where}'s replies before writing it again")
            return
        if replying is None or (not retry and mention.status is not Status.OPEN):
            why = "replies from Slack are off for this account" if replying is None else f"the mention closed first ({mention.reason})"
            self._refused(reply, mention, why)
            return
        try:
            posted = replying.source.reply(Draft(mention.post, reply.text, reply.key, reply.direct), retry=retry)
        except (Rejected, AuthFailed) as exc:
            self._refused(reply, mention, exc.message)
            return
        except ServiceError as exc:
            wait = min(RETRY_MOST, RETRY_FIRST * 2 ** min(reply.attempts, 10))
            with self.store.unit() as repo:
                repo.outgoing_failed(reply.key, exc.message, self.clock.now() + wait)
            log.warning("mention %d: the reply from Slack is not confirmed yet (%s); tried again, as a retry, in %s",
                        mention.id, exc.message, wait)
            return
        with self.store.unit() as repo:
            repo.outgoing_posted(reply, mention.where, posted, self.clock.now())
        log.info("mention %d: answered from Slack by %s (post %s)", mention.id, reply.user, posted.id)
        if self.on_change is not None:
            self.on_change()

    def _refused(self, reply: OutgoingReply, mention: Mention, why: str) -> None:
        with self.store.unit() as repo:
            repo.outgoing_refused(reply.key, why)
        log.warning("mention %d: the reply from Slack was refused: %s", mention.id, why)
        try:
            self.sink.tell(reply.channel, reply.user, f"Your reply to {mention.post.author_handle or 'the mention'} was not posted: "
                           f"{why}. The mention is still open.")
        except ServiceError as exc:
            log.warning("could not tell %s: %s", reply.user, exc.message)
