"""Sweep: deliver what Slack should show — alerts for due, unanswered mentions, edits of alerts whose mention
was answered or deleted, and notices about replywatch itself — exactly once each, and politely.

Exactly once: every message is a row before it is a Slack message (alerts `sending` → `sent`; notices `pending`
→ `sending` → `sent`), and carries a tag in its Slack metadata. When the process stops, or a call fails in a
way that leaves unknown whether Slack posted, the row stays `sending`; the next sweep looks for the tagged
message in the channel's history before posting again. Only a clear "no" from Slack lets it be posted afresh.

Politely: at most one new message per second per channel, and nothing at all to a channel before its
Retry-After has passed. Nothing here sleeps: what cannot go now goes on a later sweep.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from bot import rules
from bot.clock import Clock
from bot.errors import RateLimited, Rejected, ServiceError
from bot.model import Account, Mention, SlackMessage
from bot.services.poll import MENTIONS, OWN_POSTS, TOKEN_REFUSED
from bot.slack.blocks import alert_message, closed_message, escape, notice_message

if TYPE_CHECKING:
    from bot.ports import SlackSink, XSource
    from bot.store.repository import Store

log = logging.getLogger(__name__)

POST_SPACING = timedelta(seconds=1)
FAILURE_PAUSE = timedelta(seconds=3)  # after a 5xx or a timeout, so an outage is not hammered every sweep
RATE_LIMIT_PAUSE = timedelta(seconds=30)  # a 429 without Retry-After
DUE_BATCH = 25  # due mentions read (and looked up on X) at a time; at most one is posted per sweep anyway
BROKEN_AFTER_INTERVALS = 3


@dataclass
class SweepResult:
    alerted: int = 0
    updated: int = 0
    notices: int = 0
    deleted: int = 0
    errors: int = 0


@dataclass
class Pacer:
    """Per channel: when the next post may go (one a second) and any Retry-After hold."""

    spacing: timedelta = POST_SPACING
    not_before: dict[str, datetime] = field(default_factory=dict)

    def ready(self, channel: str, now: datetime) -> bool:
        return now >= self.not_before.get(channel, now)

    def posted(self, channel: str, now: datetime) -> None:
        self.not_before[channel] = max(self.not_before.get(channel, now), now + self.spacing)

    def hold(self, channel: str, until: datetime) -> None:
        self.not_before[channel] = max(self.not_before.get(channel, until), until)


class SweepService:
    def __init__(
        self,
        slack: SlackSink,
        store: Store,
        account: Account,
        clock: Clock,
        channel: str,
        alert_after: timedelta,
        poll_interval: timedelta = timedelta(seconds=60),
        x: XSource | None = None,
    ) -> None:
        self.slack = slack
        self.store = store
        self.account = account
        self.clock = clock
        self.channel = channel
        self.alert_after = alert_after
        self.poll_interval = poll_interval
        self.x = x
        self.pacer = Pacer()
        self._looked_up: set[int] = set()

    def run_once(self) -> SweepResult:
        now = self.clock.now()
        result = SweepResult()
        self._queue_health_notices(now)
        with self.store.unit() as repo:
            in_doubt = repo.alerts_in_doubt()
            replies = repo.endpoint(self.account.username, OWN_POSTS)
            checked = replies.last_success_at if replies else None
            free = self.pacer.ready(self.channel, now)
            due = repo.due_without_alert(now - self.alert_after, checked, DUE_BATCH) if checked and free else []
            notices = repo.notices_unsent()
        for alert in in_doubt:
            self._deliver(f"mention:{alert.mention_id}", alert.created_at, now, result, in_doubt=True)
        for notice in notices:
            self._deliver(f"notice:{notice.key}", notice.created_at, now, result, in_doubt=notice.state == "sending")
        due = [m for m in due if rules.is_due(m.post.created_at, now, self.alert_after)]
        for mention in self._drop_deleted(due, result):
            if not self.pacer.ready(self.channel, now):
                break
            with self.store.unit() as repo:
                if not repo.start_alert(mention.id, self.channel, now):
                    continue
            self._deliver(f"mention:{mention.id}", now, now, result, in_doubt=False)
        self._update_closed(now, result)
        return result

    # --- delivery -------------------------------------------------------------------------------------

    def _deliver(self, tag: str, started: datetime, now: datetime, result: SweepResult, *, in_doubt: bool) -> None:
        """Post the message behind `tag` once. If an earlier try may have reached Slack, look for it first."""
        if not self.pacer.ready(self.channel, now):
            return
        kind, key = tag.split(":", 1)
        if in_doubt:
            try:
                found = self.slack.find_tagged(self.channel, tag, started)
            except Rejected as exc:
                log.warning("cannot search Slack for %s (%s); posting it", tag, exc.message)
                found = None
            except ServiceError as exc:
                self._note_failure(exc, now, result, f"cannot check Slack for {tag} yet")
                return
            if found is not None:
                self._mark(kind, key, "sent", found, now)
                log.info("%s was already in Slack (%s); adopted it", tag, found[1])
                return
        message = self._message(kind, key, now)
        if message is None:
            return
        self._mark(kind, key, "sending", None, now)
        try:
            channel, ts = self.slack.post(self.channel, message, tag)
        except Rejected as exc:
            log.error("Slack refused %s: %s", tag, exc.message)
            self._mark(kind, key, "retry", None, now)
            result.errors += 1
            return
        except ServiceError as exc:
            self._note_failure(exc, now, result, f"{tag} not confirmed, will check before retrying")
            return
        finally:
            self.pacer.posted(self.channel, now)
        self._mark(kind, key, "sent", (channel, ts), self.clock.now())
        log.info("posted %s (%s)", tag, ts)
        if kind == "mention":
            result.alerted += 1
        else:
            result.notices += 1

    def _message(self, kind: str, key: str, now: datetime) -> SlackMessage | None:
        with self.store.unit() as repo:
            if kind == "mention":
                mention = repo.mention(int(key))
                return alert_message(mention, now) if mention is not None else None
            notice = next((n for n in repo.notices_unsent() if n.key == key), None)
            return notice_message(notice.text) if notice is not None else None

    def _mark(self, kind: str, key: str, state: str, posted: tuple[str, str] | None, now: datetime) -> None:
        with self.store.unit() as repo:
            if kind == "mention":
                if state == "sent" and posted is not None:
                    repo.alert_sent(int(key), posted[0], posted[1], now)
                elif state == "retry":
                    repo.drop_alert(int(key))
            elif state == "sent" and posted is not None:
                repo.notice_state(key, "sent", posted[0], posted[1], now)
            else:
                repo.notice_state(key, "pending" if state == "retry" else state)

    def _note_failure(self, exc: ServiceError, now: datetime, result: SweepResult, what: str) -> None:
        """Slack said wait (Retry-After), or failed: leave the channel alone for a while either way."""
        result.errors += 1
        wait = (exc.retry_after or RATE_LIMIT_PAUSE) if isinstance(exc, RateLimited) else FAILURE_PAUSE
        self.pacer.hold(self.channel, now + wait)
        log.warning("%s: %s", what, exc.message)

    # --- edits ----------------------------------------------------------------------------------------

    def _update_closed(self, now: datetime, result: SweepResult) -> None:
        with self.store.unit() as repo:
            to_resolve = repo.alerts_to_resolve()
        for alert, mention in to_resolve:
            if not self.pacer.ready(self.channel, now):
                return
            try:
                self.slack.update(alert.channel, alert.ts, closed_message(mention, self.account.username))
            except ServiceError as exc:
                self._note_failure(exc, now, result, f"could not update the alert for mention {mention.id}")
                continue
            with self.store.unit() as repo:
                repo.alert_resolved(mention.id, self.clock.now())
            log.info("alert for mention %d updated: %s", mention.id, mention.reason)
            result.updated += 1

    # --- deleted posts --------------------------------------------------------------------------------

    def _drop_deleted(self, due: list[Mention], result: SweepResult) -> list[Mention]:
        """Look the due mentions up once before alerting; deleted ones close instead. A failed lookup alerts anyway."""
        if self.x is None or not due or due[0].id in self._looked_up or self._x_failing():
            return due
        fresh = [m for m in due if m.id not in self._looked_up]
        versions = {m.post.version_id or m.id: m.id for m in fresh}
        try:
            gone = self.x.deleted(list(versions))
        except ServiceError as exc:
            log.warning("could not check due mentions for deletion, alerting anyway: %s", exc.message)
            return due
        self._looked_up.update(versions.values())
        deleted = {versions[v] for v in gone}
        if deleted:
            with self.store.unit() as repo:
                for mention_id in deleted:
                    repo.mark_deleted(mention_id)
            log.info("%d due mention(s) were deleted on X; closed without an alert", len(deleted))
            result.deleted += len(deleted)
        return [m for m in due if m.id not in deleted]

    def _x_failing(self) -> bool:
        with self.store.unit() as repo:
            state = repo.endpoint(self.account.username, MENTIONS)
        return state is not None and state.last_error is not None

    # --- collection health ----------------------------------------------------------------------------

    def _queue_health_notices(self, now: datetime) -> None:
        """One notice when collection has failed for three intervals (or a token was refused), one on recovery."""
        with self.store.unit() as repo:
            states = repo.health(self.account.username)
            broken = [
                s for s in states
                if s.failing_since is not None
                and (now - s.failing_since > self.poll_interval * BROKEN_AFTER_INTERVALS or _auth_error(s.last_error))
            ]
            if broken:
                first = min(broken, key=lambda s: s.failing_since)
                since = first.failing_since
                repo.add_notice(
                    f"collection:{since.isoformat()}:broken",
                    f":warning: Mentions of @{self.account.username} are not being collected since "
                    f"{since:%Y-%m-%d %H:%M} UTC: {escape(first.last_error or 'unknown error')}",
                    now,
                )
                return
            last = repo.last_notice("collection:")
            if last is not None and last.endswith(":broken") and all(s.failing_since is None for s in states):
                since = last[len("collection:") : -len(":broken")]
                repo.add_notice(
                    f"collection:{since}:recovered",
                    f":white_check_mark: Mentions of @{self.account.username} are being collected again "
                    f"(not collected since {since[:16].replace('T', ' ')} UTC).",
                    now,
                )


def _auth_error(error: str | None) -> bool:
    return error is not None and error.startswith(TOKEN_REFUSED)

