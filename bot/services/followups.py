"""Escalations and reminders: the threaded nudges on alerts whose mention stays open (bot.rules.follow_up says
which and to whom), queued as notices, one per thread, for the sweep to post. So is the one that makes a warning
(WARN_BEFORE) overdue at its due time: it pings, and the alert is edited to look like any other.

Judged as of the last completed read of the replies, not as of now: a reply made before a follow-up was due but
not read yet must not let it go out (the rule alerts follow too). Outside business hours nobody is pinged. Before
anyone is, the mentions are looked up on X in one batch: a deleted one is closed instead (bot.services.deleted).

Each sent alert keeps in the store when its next follow-up may be due (bot.rules.next_follow_up_at); a tick
reads only the alerts whose time has come, and stores the next time of each it judged. Anything that can change
it (a reply, an action in Slack, a restart with other settings) sets the time back to now, to be judged again.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from bot import rules
from bot.calendar import schedule as sched
from bot.clock import Clock
from bot.messages import FollowUpNote
from bot.model import AccountKey, Alert, FollowUp, Mention
from bot.services.deleted import DeletionCheck

if TYPE_CHECKING:
    from bot.rules import AlertPolicy
    from bot.store.repository import Repository, Store

log = logging.getLogger(__name__)


NAMED = 10  # mentions a follow-up names (links to); it counts the rest
BATCH = 5000  # alerts judged a tick at most: a burst due at once (a digest's) is one notice per thread


class FollowUpService:
    def __init__(
        self, store: Store, watched: Sequence[AccountKey], clock: Clock, config: AlertPolicy, deletions: DeletionCheck
    ) -> None:
        self.store = store
        self.watched = tuple(watched)
        self.clock = clock
        self.config = config
        self.deletions = deletions
        self._rejudged = False  # checked since start that the stored times follow these settings

    def run_once(self) -> int:
        """Judge the alerts whose follow-up time has come; returns how many there were."""
        now = self.clock.now()
        if not self._rejudged:
            with self.store.unit() as repo:
                if repo.rules_changed("follow-ups", self._rules()):
                    repo.rejudge_follow_ups()
            self._rejudged = True
        with self.store.read() as repo:
            as_of = self._as_of(repo, now)
            latest = max(as_of.values(), default=None)  # some account's may be due as of then; each is judged as of its own
            waiting = latest is not None and repo.follow_ups_waiting(latest)
            due = repo.follow_ups_due(latest, BATCH) if waiting and latest is not None else []
        if not due or latest is None:
            return 0
        planned, times = self._plan(due, as_of, now)
        groups: dict[tuple[str, str, FollowUp, bool], list[Mention]] = {}
        if planned:  # each looked up once for this follow-up; those still being looked up wait for the next run
            rounds = {m.id: f"follow-up:{a.escalated_at}:{a.reminders}:{a.overdue_at}" for a, m, _ in planned}
            ready = {m.id for m in self.deletions.settle([m for _, m, _ in planned], lambda m: rounds[m.id], now)}
            waiting = set(rounds) - ready
            times = [t for t in times if t[0] not in waiting]  # judged again next run, as if not yet sent
        with self.store.unit() as repo:
            if planned:  # again: a poll may have answered some meanwhile, and the deleted ones are closed now
                again = repo.follow_ups_due(latest, BATCH, sorted(ready))
                planned, retimed = self._plan(again, as_of, now)
                times = list({m: (m, was, at) for m, was, at in times + retimed}.values())
            for alert, mention, follow_up in planned:
                first = follow_up.kind not in ("woke", "overdue") and alert.escalated_at is None
                groups.setdefault((alert.channel, alert.ts or "", follow_up, first), []).append(mention)
            for (channel, thread_ts, follow_up, first), mentions in groups.items():
                key = f"{follow_up.kind}:{thread_ts}:{mentions[0].id}:{now.isoformat()}"
                named = sorted(mentions, key=lambda m: (m.post.created_at, m.id))[:NAMED]
                note = FollowUpNote(follow_up.kind, follow_up.to, tuple(m.id for m in named), len(mentions), named[0].post.created_at)
                repo.add_notice(key, note, now, thread_ts=thread_ts, channel=channel)
                if follow_up.kind == "overdue":
                    repo.overdue_told([m.id for m in mentions], now)
                else:
                    repo.followed_up([m.id for m in mentions], now, first=first, reminder=not first and follow_up.kind == "reminder")
                log.info("%s queued for %d mention(s) in thread %s", follow_up.kind, len(mentions), thread_ts)
            repo.next_follow_ups(times)
        return len(due)

    def _as_of(self, repo: Repository, now: datetime) -> dict[AccountKey, datetime]:
        """The moment each account's follow-ups are judged at: the last completed read of its replies; none while
        none has completed, and none at all outside business hours (nobody is pinged then)."""
        cfg = self.config
        hours = cfg.hours()
        if hours is not None and not sched.is_open(hours, cfg.tz, now):
            return {}
        checked = {w: repo.replies_read_at(w, cfg.rules(w).reply_endpoints) for w in self.watched}
        return {w: min(now, c) for w, c in checked.items() if c is not None}

    def _rules(self) -> str:
        """What the stored follow-up times depend on, as text (compared with what they were worked out with)."""
        cfg, hours = self.config, self.config.hours()
        shown = None if hours is None else (sorted(hours.days.items()), sorted(hours.holidays))
        return repr((cfg.escalate_after, cfg.remind_every, cfg.max_reminders, shown, str(cfg.tz)))

    def _plan(
        self, due: list[tuple[Alert, Mention]], as_of: Mapping[AccountKey, datetime], now: datetime
    ) -> tuple[list[tuple[Alert, Mention, FollowUp]], list[tuple[int, datetime | None, datetime | None]]]:
        """The follow-ups to send now, and when each alert's next one may be due (after this one goes out): (mention
        id, the time stored, the next)."""
        cfg = self.config
        hours, tz = cfg.hours(), cfg.tz
        backup, on_call = cfg.on_call(now, backup=True), cfg.on_call(now)
        escalate_to = (backup,) if backup else cfg.escalate_to
        remind_to = (on_call,) if on_call else None
        limits = (cfg.escalate_after, cfg.remind_every)

        def later(start: datetime, duration: timedelta) -> datetime:
            return sched.due_at(start, duration, hours, tz)

        planned, times = [], []
        for alert, mention in due:
            if mention.where not in as_of:  # its replies not read yet: judged once they are
                continue
            escalated, reminded, reminders, overdue = alert.escalated_at, alert.reminded_at, alert.reminders, alert.overdue_at
            follow_up = rules.follow_up(
                mention, escalated, reminded, as_of[mention.where], *limits, escalate_to, remind_to, later, reminders,
                cfg.max_reminders, overdue, on_call,
            )
            if follow_up is not None and alert.ts is not None:
                planned.append((alert, mention, follow_up))
                if follow_up.kind == "overdue":
                    overdue = None
                elif follow_up.kind != "woke" and escalated is None:
                    escalated = now
                else:
                    reminded, reminders = now, reminders + (follow_up.kind == "reminder")
            next_at = rules.next_follow_up_at(mention, escalated, reminded, *limits, later, reminders, cfg.max_reminders, overdue)
            times.append((mention.id, alert.follow_up_at, next_at))
        return planned, times

