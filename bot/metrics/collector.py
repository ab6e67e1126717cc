"""What /metrics and /healthz read from the store, when asked: the figures every replica agrees on, read by a
few aggregate statements (bot.store.metrics) rather than counted in memory, so that they survive restarts.

Collection and delivery are judged by the rules `replywatch health` and the collection notes use
(bot.services.health): one definition of "broken" everywhere. Overdue mentions are counted by the rule the sweep
alerts by (AlertPolicy.due: the account's wait, in business hours), so a mention that came in at night is not
overdue before the morning; the statement reads only the mentions not yet due (bot.store.metrics.count_overdue).
Breaches are bot.rules' one definition, the report's: the overdue ones and the settled ones (bot.metrics.breaches)."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from bot.clock import Clock
from bot.logs import one_line
from bot.metrics.breaches import SettledBreaches
from bot.model import AccountKey, EndpointHealth, Status
from bot.rules import AlertPolicy
from bot.services.health import broken_endpoint, channels_down, last_attempt, polls_stopped, refused, verdict_of
from bot.store.metrics import AccountTally
from bot.store.repository import Repository, Store

log = logging.getLogger(__name__)
ACCOUNT = ["network", "account"]


@dataclass
class Watch:
    """What the collector needs to know of the running bot."""

    store: Store
    clock: Clock
    alert_after: dict[AccountKey, timedelta]  # each watched account's alert threshold (its SLA)
    poll_interval: timedelta
    http_timeout: timedelta
    started: datetime  # before the first poll, the bot counts as having tried then
    config: AlertPolicy  # when each mention is due: the sweep's own rule (its wait, in business hours)
    redact: Callable[[str], str] = str


def problems(watch: Watch) -> list[str]:
    """Why replywatch is unhealthy, one line each (bot.services.health.verdict); empty while all is well. Cheap: the
    cursors, the channels and the parts only, no mention is read."""
    with watch.store.read() as repo:
        return verdict_of(repo, watch.alert_after, watch.clock.now(), watch.poll_interval, watch.http_timeout, watch.started, watch.redact)


def overdue(repo: Repository, watch: Watch, where: AccountKey, now: datetime, batch: int = 500) -> int:
    """How many of the account's open mentions are past their due time at `now` and not snoozed (`batch`: the
    mentions not yet due read at a time)."""
    config = watch.config
    rules = config.rules(where)

    def is_due(posted: datetime, vip: bool) -> bool:
        return config.due(where, posted, vip) <= now

    # Business hours only put a due time later: none is due before the shortest wait (a VIP's) has passed.
    return repo.count_overdue(where, now - min(rules.alert_after, rules.alert_after_vip), now, is_due, batch)


def _stopped(watch: Watch, health: dict[AccountKey, list[EndpointHealth]], now: datetime) -> bool:
    """Whether polling has stopped (the start counts as an attempt)."""
    return polls_stopped(last_attempt(health, watch.started), now, watch.poll_interval, watch.http_timeout)


class StoreCollector(Collector):
    """The store's figures, read at each scrape."""

    def __init__(self, watch: Watch) -> None:
        self.watch = watch
        self.settled = SettledBreaches(watch.config)

    def collect(self) -> Iterator[Metric]:
        w = self.watch
        now = w.clock.now()
        try:
            with w.store.read() as repo:
                tallies = repo.tallies()
                channels = repo.failing_channels()
                late = {where: overdue(repo, w, where, now) for where in w.alert_after}
                breaches = self.settled.count(repo, now) + Counter(late)
        except Exception as exc:  # noqa: BLE001 — the runtime metrics are still worth serving without these
            log.warning("metrics: cannot read the store: %s: %s", type(exc).__name__, one_line(w.redact(str(exc)))[:200])
            return
        accounts = {where: tallies.get(where, AccountTally()) for where in [*w.alert_after, *sorted(tallies, key=str)]}
        stopped = _stopped(w, {k: t.health for k, t in accounts.items()}, now)
        families = {
            "mentions": GaugeMetricFamily("replywatch_mentions", "Mentions stored, by status", labels=[*ACCOUNT, "status"]),
            "open": GaugeMetricFamily("replywatch_open_mentions", "Mentions waiting for a reply", labels=ACCOUNT),
            "oldest": GaugeMetricFamily(
                "replywatch_oldest_open_mention_age_seconds", "Age of the oldest mention waiting for a reply (0: none)", labels=ACCOUNT
            ),
            "overdue": GaugeMetricFamily(
                "replywatch_overdue_mentions", "Open mentions past their due time (the account's wait, in business hours), "
                "not snoozed", labels=ACCOUNT,
            ),
            "sla": GaugeMetricFamily(
                "replywatch_alert_after_seconds", "How long a mention may wait before it is alerted (the account's SLA)", labels=ACCOUNT
            ),
            "alerts": CounterMetricFamily("replywatch_alerts", "Alerts posted to Slack (each line of a digest counts)", labels=ACCOUNT),
            "escalations": CounterMetricFamily("replywatch_escalations", "Alerted mentions escalated", labels=ACCOUNT),
            "reminders": CounterMetricFamily("replywatch_reminders", "Reminders sent about alerted mentions", labels=ACCOUNT),
            "breaches": GaugeMetricFamily(
                "replywatch_sla_breaches", "Mentions not answered by their deadline (the due time in business hours, moved by a "
                "snooze): answered after it, expired, or open past it; closed as needing no reply: none", labels=ACCOUNT,
            ),
            "posts": CounterMetricFamily(
                "replywatch_posts_read", "Posts a network returned, by endpoint", labels=[*ACCOUNT, "endpoint"]
            ),
            "requests": CounterMetricFamily(
                "replywatch_read_requests", "Requests made to a network, by endpoint", labels=[*ACCOUNT, "endpoint"]
            ),
            "collection": GaugeMetricFamily(
                "replywatch_collection_healthy", "1 while the account's mentions are read, 0 while collection is broken", labels=ACCOUNT
            ),
            "refused": GaugeMetricFamily(
                "replywatch_token_refused", "1 while the account's network refuses its token, else 0", labels=ACCOUNT
            ),
        }
        for where, tally in accounts.items():
            labels = [where.network.value, where.handle]
            for status in Status:
                families["mentions"].add_metric([*labels, status.value], tally.by_status.get(status, 0))
            families["open"].add_metric(labels, tally.by_status.get(Status.OPEN, 0))
            oldest = tally.oldest_open
            families["oldest"].add_metric(labels, max(0.0, (now - oldest).total_seconds()) if oldest else 0.0)
            if where in w.alert_after:
                families["sla"].add_metric(labels, w.alert_after[where].total_seconds())
                families["overdue"].add_metric(labels, late[where])
                families["refused"].add_metric(labels, 1 if any(refused(s) for s in tally.health) else 0)
            families["alerts"].add_metric(labels, tally.alerts)
            families["escalations"].add_metric(labels, tally.escalations)
            families["reminders"].add_metric(labels, tally.reminders)
            families["breaches"].add_metric(labels, breaches[where])
            for endpoint, (requests, posts) in sorted(tally.reads.items()):
                families["posts"].add_metric([*labels, endpoint], posts)
                families["requests"].add_metric([*labels, endpoint], requests)
            broken = broken_endpoint(tally.health, now, w.poll_interval)
            families["collection"].add_metric(labels, 0 if stopped or broken is not None else 1)
        delivery = GaugeMetricFamily("replywatch_delivery_healthy", "1 while every Slack channel takes messages, 0 otherwise")
        delivery.add_metric([], 0 if channels_down(channels, now) else 1)
        yield from families.values()
        yield delivery
