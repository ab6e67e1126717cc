"""Retention (RETENTION_DAYS, off when unset): N days after a mention stopped being open (answered, closed from Slack,
ignored by a rule, deleted, expired), what names or quotes its author is erased from the store. What the report
counts stays, so a report of a past period reads the same, but for the strangers it named.

- Erased from the mention: the author's handle, display name and account id, the text, its link (which holds the
  handle), the ids of the post (its key becomes "erased:<the store's key>"), of its edit, its thread, the post it
  answers and the person it replies to; of its reason, and of the detail of a Slack close, what follows a handle or
  a typed note ("muted author @bob" → "muted author", "no reply needed: spam — …" → "no reply needed: spam"); the
  text of a reply written to it in Slack (which names whom it answers).
- Erased elsewhere: from the account's replies posted more than N days ago, the post, thread and person each
  answered; from report notes and old text notes queued more than N days ago and posted, the strangers they name
  (a report's longest waits: author and link). Alerts, digests and other notes hold no text of a mention.
- Kept: the store's key, network and account, the times (posted, first seen, answered, closed), the status, whether
  it was private or a VIP's, the reply that answered it (the account's own post, and the handle of the teammate or
  account that wrote it: "who answered"), its alert and escalation, and what the team did in Slack (user IDs).
- Never touched: open mentions.

When: at the first check after `replywatch run` starts, then every night at PURGE_AT (03:00 in TIMEZONE), a quiet
hour. In batches of BATCH rows a transaction with a short pause between them: on SQLite a writer (a poll, a click)
waits for one batch at most, never for the whole purge. A batch redone after a crash erases nothing twice."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, time, timedelta, tzinfo
from time import sleep
from typing import TYPE_CHECKING

from bot import messages
from bot.clock import Clock
from bot.report.cadence import Cadence
from bot.report.model import AccountReport, Report

if TYPE_CHECKING:
    from bot.store.repository import Repository, Store

log = logging.getLogger(__name__)

PURGE_AT = Cadence(None, time(3, 0))  # daily at 03:00, local to TIMEZONE (the on-call file's, when TIMEZONE is left at UTC)
BATCH = 500  # rows a transaction
PAUSE = 0.05  # seconds between two batches: writers waiting on SQLite's lock get their turn
NOTES = ("report", "text")  # the notes that may name a stranger (a report's longest waits; a pre-typed note's text)
_NAMED = re.compile(r"\s+[@—].*", re.DOTALL)  # from a handle (" @bob") or a typed note (" — …") on


def impersonal(text: str) -> str:
    """What of a reason or a Slack close's detail names nobody: up to a handle or the note typed with it."""
    return _NAMED.sub("", text)


def without_strangers(report: Report) -> Report:
    """The report less the strangers it names: the authors and links of its longest waits."""

    def scrub(account: AccountReport) -> AccountReport:
        return replace(account, longest_waits=tuple(replace(w, author="", url="") for w in account.longest_waits))

    return replace(report, accounts=tuple(scrub(a) for a in report.accounts), total=scrub(report.total))


def erased_note(kind: str, payload: str) -> str:
    """A note's payload less the strangers it names (one that cannot be read is left as it is)."""
    try:
        note = messages.load(kind, payload)
        if isinstance(note, messages.ReportNote):
            note = replace(note, report=json.dumps(without_strangers(Report.from_json(note.report)).to_json()))
        elif isinstance(note, messages.Text):
            note = replace(note, text="")
    except (ValueError, KeyError, TypeError):
        return payload
    return messages.payload(note)


class RetentionService:
    def __init__(
        self, store: Store, clock: Clock, days: int, tz: tzinfo, batch: int = BATCH,
        pause: Callable[[float], None] = sleep,
    ) -> None:
        self.store = store
        self.clock = clock
        self.keep = timedelta(days=days)
        self.tz = tz
        self.batch = batch
        self.pause = pause  # between batches (tests record it)
        self._done: datetime | None = None  # the newest PURGE_AT seen to

    def run_once(self) -> int:
        """Purge if PURGE_AT has come since the last purge (or none was made since the start); how many mentions
        were erased."""
        now = self.clock.now()
        due = PURGE_AT.last_due(now, self.tz)
        if due == self._done:
            return 0
        erased = self.purge(now)
        self._done = due  # after it: a purge that failed is tried again at the next check
        return erased

    def purge(self, now: datetime) -> int:
        """Erase what RETENTION_DAYS says is kept no longer, as of `now`; how many mentions were."""
        before = now - self.keep
        stamped = self._batches(lambda repo: repo.stamp_closed(now, self.batch))
        erased = self._batches(lambda repo: repo.erase_closed(before, now, self.batch, impersonal))
        replies = self._forget_replies(before)
        notes = self._batches(lambda repo: self._erase_notes(repo, before))
        if erased or replies or notes or stamped:
            log.info(
                "retention: %d mention(s) closed before %s erased, %d older reply(ies) and %d note(s) made to forget whom "
                "they named; %d closed mention(s) without a closing time now count from now",
                erased, f"{before:%Y-%m-%d %H:%M} UTC", replies, notes, stamped,
            )
        return erased

    def _forget_replies(self, before: datetime) -> int:
        after = None

        def step(repo: Repository) -> int:
            nonlocal after
            keys = repo.forget_whom_answered(before, self.batch, after)
            after = keys[-1] if keys else after
            return len(keys)

        return self._batches(step)

    def _erase_notes(self, repo: Repository, before: datetime) -> int:
        found = repo.notes_to_erase(before, NOTES, self.batch)
        repo.notes_erased({i: erased_note(kind, payload) for i, kind, payload in found})
        return len(found)

    def _batches(self, step: Callable[[Repository], int]) -> int:
        """`step` in a unit of work of its own, again and again until it does less than a batch; how much in all."""
        total = 0
        while True:
            with self.store.unit() as repo:
                done = step(repo)
            total += done
            if done < self.batch:
                return total
            self.pause(PAUSE)
