"""What `replywatch status` prints: the open queue (a summary and the oldest mentions, as they are read), the
closed ones, collection, failing Slack channels, parked messages and the health verdict (every broken part, by the
rules `health` and /healthz apply); as a table grouped by watched account, or as one JSON document whose open list
is streamed."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from bot import backoff, logs
from bot.humanize import format_age, local_time, pace
from bot.model import AccountKey
from bot.report.cost import Meter
from bot.sources import SPECS


def local(moment: datetime, tz) -> str:  # noqa: ANN001
    return local_time(moment, tz, weekday=True)


def iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


@dataclass(frozen=True)
class Reads:
    """What each account read today and this month (bot.report.cost), against X_MONTHLY_READ_BUDGET."""

    meters: dict[AccountKey, Meter]
    budget: int | None
    now: datetime

    def paced(self, where: AccountKey) -> float | None:
        """Posts an hour the account's reads are held to (its budget spent), else None."""
        if self.budget is None or not SPECS[where.network].billed or self.meters[where].month.posts < self.budget:
            return None
        return backoff.budget_pace(self.budget, self.now)

    def lines(self) -> list[str]:
        found = []
        for where, m in sorted(self.meters.items(), key=lambda item: str(item[0])):
            line = f"  {where}: today {m.today.posts:,} posts ({m.today.requests:,} requests)"
            line += f", this month {m.month.posts:,} posts ({m.month.requests:,} requests)"
            if SPECS[where.network].billed:
                line += f", about ${m.month.spend:,.2f}" + (f" of a budget of {self.budget:,} posts" if self.budget else "")
            posts = self.paced(where)
            if posts is not None:
                line += f"; BUDGET SPENT: reads slowed to the budget's pace, about {pace(posts)}, until the month ends"
            found.append(line)
        return found


@dataclass(frozen=True)
class Retention:
    """RETENTION_DAYS (None: off) and what its purges did (bot.services.retention): when mentions were last erased and
    how many then, and when the oldest closed mention not erased yet closed."""

    days: int | None
    tz: tzinfo
    now: datetime
    last_at: datetime | None = None
    last_count: int = 0
    oldest_kept: datetime | None = None

    @property
    def overdue(self) -> bool:
        """A closed mention is kept more than a night past RETENTION_DAYS: nothing has purged (is `run` running?)."""
        late = self.now - timedelta(days=self.days + 1, hours=1) if self.days is not None else None
        return late is not None and self.oldest_kept is not None and self.oldest_kept < late

    def line(self) -> str:
        if self.days is None:
            return "retention: off (RETENTION_DAYS not set): nothing is erased"
        last = f"{local(self.last_at, self.tz)} ({self.last_count:,} mention(s))" if self.last_at else "never"
        oldest = f"closed {format_age(self.now - self.oldest_kept)} ago" if self.oldest_kept else "none"
        line = f"retention: closed mentions erased {self.days} day(s) after closing, nightly at 03:00 {self.tz}; last erased {last}; "
        line += f"oldest closed mention kept: {oldest}"
        return line + ("; OVERDUE: is `replywatch run` running?" if self.overdue else "")

    def data(self) -> dict:
        return {
            "days": self.days, "last_purge_at": iso(self.last_at), "last_purged": self.last_count,
            "oldest_kept_closed_at": iso(self.oldest_kept), "overdue": self.overdue,
        }


def write_json(summary, rows, closed, health, parked, channels, reads, config, now, broken, retention=None) -> None:  # noqa: ANN001
    """One JSON document, its open list streamed."""
    write = sys.stdout.write
    write('{"summary": ' + json.dumps(summary) + ', "open": [')
    for i, (m, alert) in enumerate(rows):
        item = {
            "id": m.post.id,
            "network": m.network.value,
            "account": m.account,
            "author_handle": m.post.author_handle,
            "author_name": m.post.author_name,
            "created_at": m.post.created_at.isoformat(),
            "age_seconds": int((now - m.post.created_at).total_seconds()),
            "alerted": alert is not None and alert.ts is not None,
            "due_at": config.due_at(m).isoformat(),
            "claimed_by": m.claimed_by,
            "snoozed_until": iso(m.snoozed_until),
            "vip": m.priority,
            "url": m.post.url,
        }
        write(("" if i == 0 else ", ") + "\n  " + json.dumps(item))
    rest = {
        "closed": [
            {
                "id": m.post.id,
                "network": m.network.value,
                "account": m.account,
                "author_handle": m.post.author_handle,
                "created_at": m.post.created_at.isoformat(),
                "status": m.status.value,
                "reason": m.reason,
                "url": m.post.url,
            }
            for m in closed or []
        ],
        "collection": [
            {
                "network": where.network.value,
                "account": where.handle,
                "endpoint": h.endpoint,
                "last_success_at": iso(h.last_success_at),
                "last_attempt_at": iso(h.last_attempt_at),
                "next_attempt_at": iso(h.next_attempt_at),
                "failing_since": iso(h.failing_since),
                "error": h.last_error,
                "filtered": h.filtered,
            }
            for where, h in health
        ],
        "parked": [{"kind": p.kind, "what": p.what, "reason": p.reason} for p in parked],
        "reads": [
            {
                "network": where.network.value, "account": where.handle,
                **{span: {"posts": u.posts, "requests": u.requests, "spend": round(u.spend, 4)} for span, u in
                   (("today", m.today), ("month", m.month))},
                "paced_posts_an_hour": reads.paced(where),
            }
            for where, m in reads.meters.items()
        ],
        "slack_channels_failing": [
            {"channel": channel, "failing_since": iso(since), "error": error} for channel, since, error in channels
        ],
        "health": {"healthy": not broken, "broken": broken},
    }
    if retention is not None:
        rest["retention"] = retention.data()
    write("\n], " + json.dumps(rest, indent=2)[1:] + "\n")


def write_text(total, limit, queues, closed, health, parked, channels, reads, config, now, broken, retention=None) -> None:  # noqa: ANN001
    """`queues`: (account, how many are open, its oldest as they are read) for each account."""
    print(f"open mentions: {total}" + (" (oldest first, by account)" if total else ""))
    for where, count, rows in queues:
        print(f"{where}: {count} open")
        _rows(rows, config, now)
        if limit is not None and count > limit:
            print(f"  … and {count - limit} more (--limit N shows N, --limit 0 all)")
    if closed is not None:
        print(f"closed mentions: {len(closed)}" + (" (newest first)" if closed else ""))
    for m in closed or []:
        who = f"@{m.post.author_handle}" if m.post.author_handle else f"user {m.post.author_id}" if m.post.author_id else "(erased)"
        stamp = f"{m.post.created_at:%Y-%m-%d %H:%M}"
        print(f"  {stamp}  {logs.one_line(who):<18} {m.status.value:<9} {logs.one_line(m.reason)}")
    print("collection:")
    if not health:
        print("  no poll yet")
    for where, h in health:
        last = f"{format_age(now - h.last_success_at)} ago" if h.last_success_at else "never"
        upcoming = h.next_attempt_at or now
        next_try = f"in {format_age(upcoming - now)}" if upcoming > now else "now"
        line = f"  {where}: {h.endpoint:<10} last success {last}, next read {next_try}"
        if h.last_error:
            since = format_age(now - h.failing_since) if h.failing_since else "?"
            line += f", FAILING for {since}: {logs.one_line(h.last_error)}"
        if h.filtered:
            line += f"; {h.filtered:,} mention(s) read that the instance's notification filter held"
        print(line)
    if reads.meters:
        print("reads (UTC days; X bills each post a read returns):")
        print("\n".join(reads.lines()))
    for channel, since, error in channels:
        print(f"slack: channel {channel} takes no messages for {format_age(now - since)}: {logs.one_line(error)}")
    if parked:
        print(f"parked (Slack refused them for good): {len(parked)}")
    for p in parked:
        print(f"  {p.kind:<7} {logs.one_line(p.what)}: {logs.one_line(p.reason)}")
    if retention is not None:
        print(retention.line())
    print("health: " + ("healthy" if not broken else f"UNHEALTHY, {len(broken)} broken part(s)"))
    for line in broken:
        print(f"  {line}")


def _rows(rows, config, now) -> None:  # noqa: ANN001
    for m, alert in rows:
        who = f"@{m.post.author_handle}" if m.post.author_handle else f"user {m.post.author_id}"
        due = config.due_at(m)
        alerted = "alerted" if alert is not None and alert.ts else f"due {local(due, config.tz)}" if due > now else "not alerted"
        age = format_age(now - m.post.created_at)
        extra = "".join(
            f", {text}" for text in (
                m.priority,
                f"claimed by {m.claimed_by}" if m.claimed_by else None,
                f"snoozed until {m.snoozed_until:%Y-%m-%d %H:%M} UTC" if m.snoozed_until and m.snoozed_until > now else None,
            ) if text
        )
        print(f"  {age:>8}  {logs.one_line(who):<18} {alerted:<12} {logs.one_line(m.post.url)}{logs.one_line(extra)}")
