"""From the settings to what the services are configured with: each account's noise and VIP rules, when and where
its alerts go, the channels to check, who may use the buttons."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from bot import rules
from bot.app.verify import SlackIdentity, Watching
from bot.config.load import Config
from bot.config.settings import Settings
from bot.rules import AccountRules, AlertPolicy
from bot.services.poll import OWN_POSTS, reply_endpoint

if TYPE_CHECKING:
    from bot.services.actions import Access

DEADLINE_TIMEOUTS = 3  # a call's total deadline, in HTTP_TIMEOUTs


def signals(settings: Settings, watching: Watching) -> rules.Signals:
    """The noise and VIP rules of one account: its own where the file gives them, else the settings'."""
    lower = lambda handles: frozenset(h.lower() for h in handles)  # noqa: E731
    w = watching.watched
    keywords = w.ignore_keywords if w.ignore_keywords is not None else settings.ignore_keywords
    return rules.Signals(
        account_id=watching.account.id,
        responder_ids=frozenset(r.id for r in watching.responders),
        ignore_implicit=settings.ignore_implicit,
        muted=lower(w.muted_authors if w.muted_authors is not None else settings.muted_authors),
        keywords=tuple((word, rules.keyword_pattern(word)) for word in keywords),
        vip_handles=lower(settings.vip_authors),
        vip_min_followers=w.vip_min_followers if w.vip_min_followers is not None else settings.vip_min_followers,
    )


def alert_policy(config: Config, slack: SlackIdentity | None = None, watching: list[Watching] = ()) -> AlertPolicy:
    """When and where to alert, from the config alone (a duration of 0 turns escalation or reminders off), and where
    each account's alerts go; with the `watching` accounts verified, whose replies answer each one's mentions."""
    settings = config.settings
    resolved = slack.channels if slack else {}
    responders = {w.watched.key: w.responders for w in watching}  # known once verified
    accounts = {
        w.key: AccountRules(
            channel=resolved.get(w.channel or settings.slack_channel, settings.slack_channel),
            alert_after=w.alert_after or settings.alert_after,
            alert_after_vip=w.alert_after_vip or settings.alert_after_vip,
            reply_endpoints=(OWN_POSTS, *(reply_endpoint(r) for r in responders.get(w.key, ()))),
            warn_before=(w.warn_before if w.warn_before is not None else settings.warn_before) or None,
        )
        for w in config.accounts
    }
    return AlertPolicy(
        channel=resolved.get(settings.slack_channel, settings.slack_channel),
        alert_after=settings.alert_after,
        alert_after_vip=settings.alert_after_vip,
        escalate_after=settings.escalate_after or None,
        escalate_to=settings.escalate_to,
        remind_every=settings.remind_every or None,
        max_reminders=settings.max_reminders,
        expire_after=settings.expire_after or None,
        claim_expires=settings.claim_expires or None,
        warn_before=settings.warn_before or None,
        digest_threshold=settings.digest_threshold,
        reply_endpoints=(OWN_POSTS,),
        schedule=config.schedule,
        tz=config.tz,
        vip_ignores_hours=settings.vip_ignores_hours,
        accounts=accounts,
        read_patience=settings.poll_interval + call_deadline(settings),
    )


def call_deadline(settings: Settings) -> timedelta:
    """The total deadline of one call to a network or to Slack (bot.lanes): HTTP_TIMEOUT bounds each wait for a
    byte, and a call may read a few pages."""
    return settings.http_timeout * DEADLINE_TIMEOUTS


def action_access(settings: Settings, slack: SlackIdentity, config: AlertPolicy) -> Access:
    """Who may use the buttons and `/replywatch`: the workspace and app auth.test named, in the alert channels (and
    for the queue, the channels of ALLOW_QUEUE_IN)."""
    from bot.services.actions import Access

    return Access(
        alert_channels=config.channels,
        teams=frozenset(t for t in (slack.team_id, slack.enterprise_id) if t),
        app=slack.app_id or None,
        queue_channels=settings.queue_channels,
        queue_for_external=settings.queue_for_external,
    )
