"""Deleted posts: before anyone is pinged about a mention (its alert, an escalation, a reminder), look it up on its
network; a deleted one is closed instead (its text removed, as X's terms ask, and any alert edited to say so).

Each look-up is a read the network bills or limits (X: `GET /2/tweets`, up to 100 a request): `CHECK_DELETED=false`
turns them off. Each mention is looked up once per ping, whatever channel it goes to and however long that
channel's pace holds it: the answer is kept, keyed by the mention and the ping ("alert", or which follow-up).

Look-ups run in each account's own lane (bot.lanes), never in the sweep: the sweep hands a batch over and waits
for it at most LOOKUP_WAIT, then goes on with everything else; the mentions of that batch are pinged once it
answers. A look-up that fails, or runs past its lane's deadline, lets the ping go out all the same (an alert about
a deleted post is better than no alert about a live one); so does an account whose mentions read is failing (its
network is not looked up then). A deletion learnt later still closes the mention and edits its alert.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, wait
from datetime import datetime
from typing import TYPE_CHECKING

from bot.errors import ServiceError
from bot.lanes import Lanes
from bot.model import AccountKey, Mention
from bot.services.poll import MENTIONS

if TYPE_CHECKING:
    from bot.ports import Source
    from bot.store.repository import Store

log = logging.getLogger(__name__)

LOOKUP_WAIT = 1.0  # seconds the sweep waits for a batch it has just handed over (a healthy network answers sooner)
LOOKUP_DEADLINE = 30.0  # seconds a look-up may take in all, unless the composition root says otherwise
KEEP = 100_000  # answers kept at most (the oldest half is forgotten beyond)

Ping = tuple[int, str]  # (mention id, which ping: "alert", or a follow-up's round)


def lookups_lane(where: AccountKey) -> str:
    return f"look-ups of {where}"


class DeletionCheck:
    def __init__(
        self, sources: Mapping[AccountKey, Source], store: Store, lanes: Lanes | None = None, wake: Callable[[], None] = lambda: None,
    ) -> None:
        self.sources = sources  # empty: look-ups are off
        self.store = store
        self.lanes = lanes or Lanes(LOOKUP_DEADLINE)
        self.wake = wake  # called when a batch has answered (the sweep then pings what waited on it)
        self._lock = threading.Lock()
        self._known: dict[Ping, bool] = {}  # looked up for this ping: True still there (or went ahead), False deleted
        self._pending: dict[AccountKey, Future[None]] = {}

    def settle(self, mentions: list[Mention], ping: Callable[[Mention], str], now: datetime) -> list[Mention]:
        """Of these mentions about to be pinged, those that may be pinged now: looked up for this ping and still
        there, or not to be looked up. A look-up is handed to the account's lane for the others (at most one batch
        an account at a time); they wait for it, unless it fails or runs past its deadline."""
        if not self.sources:  # CHECK_DELETED=false
            return mentions
        by_account: dict[AccountKey, list[Mention]] = {}
        for m in mentions:
            by_account.setdefault(m.where, []).append(m)
        started: list[Future[None]] = []
        for where, group in by_account.items():
            future = self._start(where, [(m, ping(m)) for m in group], now)
            if future is not None:
                started.append(future)
        if started:
            wait(started, timeout=LOOKUP_WAIT)
        with self._lock:
            return [m for m in mentions if self._known.get((m.id, ping(m))) is True]

    def _start(self, where: AccountKey, group: list[tuple[Mention, str]], now: datetime) -> Future[None] | None:
        """Hand the account's mentions not looked up yet to its lane; those that are not to be looked up, or whose
        look-up failed or overran, go ahead."""
        source = self.sources.get(where)
        with self._lock:
            needed = [(m, p) for m, p in group if (m.id, p) not in self._known]
            pending = self._pending.get(where)
        if not needed:
            return None
        lane = self.lanes.get(lookups_lane(where), where.network.label)
        if pending is not None and not pending.done():
            if lane.overdue(pending):
                self._go_ahead(needed, f"{lane.name} is past its deadline")
            return None
        if source is None or self._failing(where):
            self._go_ahead(needed)
            return None
        try:
            future = lane.submit(self._look_up, source, where, needed, now)
        except ServiceError as exc:  # the lane is stuck on an earlier look-up
            self._go_ahead(needed, exc.message)
            return None
        with self._lock:
            self._pending[where] = future
        return future

    def _look_up(self, source: Source, where: AccountKey, needed: list[tuple[Mention, str]], now: datetime) -> None:
        """On the account's lane: look the mentions up, close the deleted ones, count the reads, wake the sweep."""
        versions = {m.post.version_id or m.post.id: m.id for m, _ in needed}
        started = time.monotonic()
        try:
            gone = {versions[v] for v in source.deleted(list(versions)) if v in versions}
        except ServiceError as exc:
            self._go_ahead(needed, f"could not look {len(versions)} mention(s) of {where} up: {exc.message}")
            self.wake()
            raise
        with self.store.unit() as repo:  # look-ups are reads like any other: billed, and limited
            repo.mark_deleted(sorted(gone), now)
            repo.add_reads(where, source.reads(), now.date())
        with self._lock:
            self._remember({(m.id, p): m.id not in gone for m, p in needed})
        if gone:
            log.info("%d mention(s) of %s were deleted by their authors; closed, nobody is pinged about them", len(gone), where)
        log.debug("looked %d mention(s) of %s up in %.2fs", len(versions), where, time.monotonic() - started)
        self.wake()

    def _go_ahead(self, needed: list[tuple[Mention, str]], why: str | None = None) -> None:
        if why is not None:
            log.warning("%s; %d ping(s) go out without a look-up", why, len(needed))
        with self._lock:
            self._remember({(m.id, p): True for m, p in needed})

    def _remember(self, answers: dict[Ping, bool]) -> None:
        self._known.update(answers)
        if len(self._known) > KEEP:
            for key in list(self._known)[: KEEP // 2]:
                del self._known[key]

    def _failing(self, where: AccountKey) -> bool:
        with self.store.read() as repo:
            state = repo.endpoint(where, MENTIONS)
        return state is not None and state.last_error is not None
