"""Escalations and reminders: the threaded nudges on alerts whose mention stays open (bot.rules.follow_up says
which and to whom), queued as notices, one per thread, for the sweep to post.

Judged as of the last completed read of the replies, not as of now: a reply made before a follow-up was due but
not read yet must not let it go out (the rule alerts follow too). Outside business hours nobody is pinged. Before
anyone is, the mentions are looked up on X in one batch: a deleted one is closed instead (bot.services.deleted).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from bot import rules
from bot import schedule as sched
from bot.clock import Clock
from bot.model import Account, Alert, FollowUp, Mention
from bot.services.deleted import DeletionCheck
from bot.slack.blocks import follow_up_message

if TYPE_CHECKING:
    from bot.services.sweep import SweepConfig
    from bot.store.repository import Repository, Store

log = logging.getLogger(__name__)


class FollowUpService:
    def __init__(self, store: Store, account: Account, clock: Clock, config: SweepConfig, deletions: DeletionCheck) -> None:
        self.store = store
        self.account = account
        self.clock = clock
        self.config = config
        self.deletions = deletions

    def run_once(self) -> None:
        now = self.clock.now()
        with self.store.read() as repo:
            planned = self._plan(repo, now)
        if not planned:
            return
        live = {m.id for _, m, _ in planned} - self.deletions.close_deleted([m for _, m, _ in planned])
        groups: dict[tuple[str, FollowUp, bool], list[Mention]] = {}
        with self.store.unit() as repo:
            for alert, mention, follow_up in self._plan(repo, now):  # again: a poll may have answered some meanwhile
                if mention.id in live:
                    first = follow_up.kind != "woke" and alert.escalated_at is None
                    groups.setdefault((alert.ts, follow_up, first), []).append(mention)
            for (thread_ts, follow_up, first), mentions in groups.items():
                key = f"{follow_up.kind}:{thread_ts}:{mentions[0].id}:{now.isoformat()}"
                repo.add_notice(key, follow_up_message(follow_up, mentions, now).text, now, thread_ts=thread_ts)
                repo.followed_up([m.id for m in mentions], now, first=first)
                log.info("%s queued for %d mention(s) in thread %s", follow_up.kind, len(mentions), thread_ts)

    def _plan(self, repo: Repository, now: datetime) -> list[tuple[Alert, Mention, FollowUp]]:
        """The follow-ups due, with their alert and mention."""
        cfg = self.config
        hours, tz = cfg.hours(), cfg.tz
        checked = repo.replies_read_at(self.account.username, cfg.reply_endpoints)
        if checked is None or (hours is not None and not sched.is_open(hours, tz, now)):
            return []
        as_of = min(now, checked)
        backup, on_call = cfg.on_call(now, backup=True), cfg.on_call(now)
        escalate_to = (backup,) if backup else cfg.escalate_to
        remind_to = (on_call,) if on_call else None

        def later(start: datetime, duration: timedelta) -> datetime:
            return sched.due_at(start, duration, hours, tz)

        planned = []
        for alert, mention in repo.alerted_open():
            follow_up = rules.follow_up(
                mention, alert.escalated_at, alert.reminded_at, as_of, cfg.escalate_after, cfg.remind_every,
                escalate_to, remind_to, later,
            )
            if follow_up is not None and alert.ts is not None:
                planned.append((alert, mention, follow_up))
        return planned
