"""Alerting: the mentions that fell due become alerts, one message each, or one digest per channel when many fell
due at once (or came in overnight). With WARN_BEFORE an alert goes out that much earlier, as a quiet warning that
becomes overdue at the due time (bot.services.followups); a digest is never a warning: its mentions wait for their
due time. Before anyone is pinged, each is looked up once on its network (a deleted one
is closed instead, bot.services.deleted, without holding anything else up); what goes out is delivered by the
outbox.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from bot.calendar import schedule as sched
from bot.model import AccountKey, Mention
from bot.services.deleted import DeletionCheck
from bot.services.outbox import Kind, Outbox, Outgoing, SweepResult

if TYPE_CHECKING:
    from bot.rules import AlertPolicy
    from bot.store.repository import Store

log = logging.getLogger(__name__)
UNREAD = datetime.min.replace(tzinfo=UTC)  # replies never read since the start


class Alerting:
    def __init__(self, store: Store, outbox: Outbox, deletions: DeletionCheck | None) -> None:
        self.store = store
        self.outbox = outbox
        self.deletions = deletions

    def run(
        self, due: list[Mention], as_of: Mapping[AccountKey, datetime], checked: Mapping[AccountKey, datetime | None],
        cfg: AlertPolicy, now: datetime, mono: float, result: SweepResult,
    ) -> None:
        """Alert these mentions, whose stored due time has come as of `as_of` (AlertPolicy.alert_as_of); those due
        after `checked`, their account's last completed read of replies, say since when replies went unread."""
        due = self._exactly_due(due, as_of, cfg)
        if self.deletions is not None:  # those still being looked up wait; the deleted ones are closed
            due = self.deletions.settle(due, lambda _: "alert", now)
        by_channel: dict[str, list[Mention]] = {}
        for m in due:
            by_channel.setdefault(cfg.rules(m.where).channel, []).append(m)
        for channel, waiting in by_channel.items():
            self._alert(channel, waiting, cfg, now, mono, result, checked)

    def _alert(
        self, channel: str, due: list[Mention], cfg: AlertPolicy, now: datetime, mono: float, result: SweepResult,
        checked: Mapping[AccountKey, datetime | None],
    ) -> None:
        """Post the alerts of these due mentions into `channel`: one each, or one digest when many fell due at once."""
        if len(due) > cfg.digest_threshold or self._overnight(due, cfg):
            if warnings := [(m.id, at) for m in due if (at := cfg.due_at(m)) > now]:
                with self.store.unit() as repo:  # not yet due: they wait, and go out as alerts or digests then
                    repo.postpone(warnings)
                waiting = {mention_id for mention_id, _ in warnings}
                due = [m for m in due if m.id not in waiting]
                if not due:
                    return
            with self.store.unit() as repo:
                started = repo.start_digest([m.id for m in due], channel, now)
            if started is not None:
                digest_id, claimed = started[0], set(started[1])
                members = tuple(sorted((m for m in due if m.id in claimed), key=lambda m: (m.post.created_at, m.id)))
                log.info("%d mentions fell due at once: one digest instead of an alert each", len(members))
                item = Outgoing(
                    Kind.DIGEST, str(digest_id), channel, now, members=members, follow_up_at=cfg.first_follow_up_at(members),
                    unchecked_since=unchecked(members, checked, cfg),
                )
                self.outbox.deliver(item, now, mono, result, in_doubt=False)
            return
        for mention in due:
            if not self.outbox.pacer.ready(channel, mono):
                break
            due_at = cfg.due_at(mention)
            with self.store.unit() as repo:
                if not repo.start_alert(mention.id, channel, now):
                    continue
                if due_at > now:  # a warning: it pings once it is due
                    repo.warned(mention.id, due_at)
            follow_up_at = min(filter(None, (cfg.first_follow_up_at([mention]), due_at if due_at > now else None)), default=None)
            item = Outgoing(
                Kind.ALERT, str(mention.id), channel, now, members=(mention,), follow_up_at=follow_up_at,
                unchecked_since=unchecked([mention], checked, cfg), due=due_at if due_at > now else None,
            )
            self.outbox.deliver(item, now, mono, result, in_doubt=False)

    def _exactly_due(self, due: list[Mention], as_of: Mapping[AccountKey, datetime], cfg: AlertPolicy) -> list[Mention]:
        """Of the mentions whose stored due time has come (as of their account's last read), those really due; the
        others keep their exact time."""
        later = [(m.id, at) for m in due if (at := cfg.alert_at(m)) > as_of[m.where]]
        if later:
            with self.store.unit() as repo:
                repo.postpone(later)
        waiting = {mention_id for mention_id, _ in later}
        return [m for m in due if m.id not in waiting]

    @staticmethod
    def _overnight(due: list[Mention], cfg: AlertPolicy) -> bool:
        """Several due mentions that came in while closed: they go out together, as the morning digest."""
        hours = cfg.hours()
        return hours is not None and sum(not sched.is_open(hours, cfg.tz, m.post.created_at) for m in due) >= 2


def unchecked(mentions: Sequence[Mention], checked: Mapping[AccountKey, datetime | None], cfg: AlertPolicy) -> datetime | None:
    """Since when replies to any of these due mentions could not be read (the start of their account's last
    completed read, if it began before one of them fell due; `UNREAD` if none ever completed); None: all checked."""
    since = [
        checked.get(m.where) or UNREAD for m in mentions if checked.get(m.where) is None or cfg.alert_at(m) > checked[m.where]
    ]
    return min(since, default=None)
