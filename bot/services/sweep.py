"""Sweep: turn due, unanswered mentions into Slack alerts, and edit alerts whose mention got its answer.

Exactly once: an alert is a row (state `sending`) before it is a Slack message, and the message carries the
mention id in its metadata. If the process stops, or the call fails in a way that leaves it unknown whether
Slack posted, the row stays `sending`; the next sweep looks for the tagged message in the channel's history
before posting again. Only a clear "no" from Slack removes the row so the alert is tried afresh.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING
from datetime import timedelta

from bot import rules
from bot.clock import Clock
from bot.errors import Rejected, ServiceError
from bot.model import Account, Mention
from bot.ports import SlackSink
from bot.services.poll import OWN_POSTS
from bot.slack.blocks import alert_message, answered_message

if TYPE_CHECKING:
    from bot.store.repository import Store

log = logging.getLogger(__name__)


@dataclass
class SweepResult:
    alerted: int = 0
    updated: int = 0
    errors: int = 0


class SweepService:
    def __init__(
        self, slack: SlackSink, store: Store, account: Account, clock: Clock, channel: str, alert_after: timedelta
    ) -> None:
        self.slack = slack
        self.store = store
        self.account = account
        self.clock = clock
        self.channel = channel
        self.alert_after = alert_after

    def run_once(self) -> SweepResult:
        now = self.clock.now()
        result = SweepResult()
        with self.store.unit() as repo:
            in_doubt = repo.alerts_in_doubt()
            checked = repo.last_success(self.account.username, OWN_POSTS)
            due = repo.due_without_alert(now - self.alert_after, checked) if checked else []
        for alert in in_doubt:
            self._settle(alert.mention_id, alert.channel, alert.created_at, now, result)
        for mention in due:
            if rules.is_due(mention.post.created_at, now, self.alert_after):
                self._alert(mention, now, result)
        with self.store.unit() as repo:
            to_resolve = repo.alerts_to_resolve()
        for alert, mention in to_resolve:
            try:
                self.slack.update(alert.channel, alert.ts, answered_message(mention, self.account.username))
            except ServiceError as exc:
                log.warning("could not update the alert for mention %d: %s", mention.id, exc.message)
                result.errors += 1
                continue
            with self.store.unit() as repo:
                repo.alert_resolved(mention.id, self.clock.now())
            log.info("alert for mention %d updated: %s", mention.id, mention.reason)
            result.updated += 1
        return result

    def _alert(self, mention: Mention, now, result: SweepResult) -> None:  # noqa: ANN001
        with self.store.unit() as repo:
            if not repo.start_alert(mention.id, self.channel, now):
                return
        self._post(mention, now, result)

    def _post(self, mention: Mention, now, result: SweepResult) -> None:  # noqa: ANN001
        try:
            channel, ts = self.slack.post(self.channel, alert_message(mention, now), mention.id)
        except Rejected as exc:
            log.error("Slack refused the alert for mention %d: %s", mention.id, exc.message)
            with self.store.unit() as repo:
                repo.drop_alert(mention.id)
            result.errors += 1
            return
        except ServiceError as exc:
            log.warning("alert for mention %d not confirmed, will check before retrying: %s", mention.id, exc.message)
            result.errors += 1
            return
        with self.store.unit() as repo:
            repo.alert_sent(mention.id, channel, ts, self.clock.now())
        log.info("alerted mention %d (%s)", mention.id, ts)
        result.alerted += 1

    def _settle(self, mention_id: int, channel: str, started_at, now, result: SweepResult) -> None:  # noqa: ANN001
        """An alert that may already be in Slack: adopt the tagged message if it is there, else post it."""
        with self.store.unit() as repo:
            mention = repo.mention(mention_id)
            channel_id = channel if not channel.startswith("#") else (repo.known_channel_id() or channel)
        try:
            found = self.slack.find_alert(channel_id, mention_id, started_at)
        except Rejected as exc:
            log.warning("cannot search Slack for the alert of mention %d (%s); posting it", mention_id, exc.message)
            found = None
        except ServiceError as exc:
            log.warning("cannot check Slack for the alert of mention %d yet: %s", mention_id, exc.message)
            result.errors += 1
            return
        if found is not None:
            with self.store.unit() as repo:
                repo.alert_sent(mention_id, found[0], found[1], now)
            log.info("alert for mention %d was already in Slack (%s); adopted it", mention_id, found[1])
            return
        if mention is not None:
            self._post(mention, now, result)
