"""The report's arithmetic: the rows the store read for a period, and how to judge them, in; a Report out. Pure: no
SQL, no clock (the report's time, `now`, is given).

What each number means (the README's "The report" says the same to users):

- The mention figures are about the mentions *received* in the period (posted in [start, end)), as they stand at
  `now`. A mention *needs a reply* unless it was ignored by a rule, deleted by its author, or closed from Slack as
  needing none: so needing a reply = answered + open + expired (expired counts as never answered).
- Time to reply is from the mention's post to its first reply (answered_at − created_at), over the answered ones;
  "open time" counts only the business hours' open time between the two. Percentiles interpolate between the
  closest ranks (a spreadsheet's PERCENTILE.INC): the median of 10 and 20 minutes is 15.
- A *breach* is bot.rules' one definition: a mention needing a reply not answered by its deadline (its alert's due
  time: the account's ALERT_AFTER, or ALERT_AFTER_VIP for a VIP, in business hours where they apply; moved to the end
  of a snooze): answered later than that, or still unanswered (open or expired) once it has passed at `now`.
- The longest waits are to the first reply, or to `now` for those never answered.
- Slack actions, the account's replies and original posts are those made in the period, whichever mention they
  concern; reads are counted on the UTC days the period touches, and today and this month at `now`.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.calendar import schedule as sched
from bot.model import AccountKey, Network, Read, Status
from bot.report import cost
from bot.report.model import AccountReport, Acted, Day, Hour, Received, Replied, Report, Responder, SlackUser, Usage, Wait
from bot.rules import AlertPolicy, breached

NEEDING = {Status.ANSWERED.value, Status.OPEN.value, Status.EXPIRED.value}
UNKNOWN = "unknown"  # who answered, when the reply that did is not stored
CLOSED_PREFIX = "no reply needed: "  # how a close from Slack words its reason (bot.services.actions)
NOTE = " — "  # what separates a close's reason from the note typed with it


@dataclass(frozen=True)
class Judging:
    """How the report judges: by the AlertPolicy the sweep alerts by (each mention's deadline; its time zone for the
    days and hours; its business hours), and how many of the longest waits to show."""

    policy: AlertPolicy
    top: int = 5

    @property
    def tz(self) -> ZoneInfo:
        return self.policy.tz  # type: ignore[return-value]  # a ZoneInfo: Config.tz

    @property
    def hours(self) -> sched.Hours | None:
        return self.policy.hours()

    def breached(self, m: Received, now: datetime) -> bool:
        where = AccountKey(Network(m.network), m.account)
        deadline = self.policy.deadline(where, m.created_at, m.vip, m.snoozed_until)
        return breached(Status(m.status), m.answered_at, deadline, now)


@dataclass
class Rows:
    """What the store read for the period: mentions, Slack actions, replies per author, originals, and the reads of
    the period's UTC days, of today and of this month."""

    received: Iterable[Received]
    acted: Sequence[Acted] = ()
    replied: Sequence[Replied] = ()
    originals: Mapping[AccountKey, int] = field(default_factory=dict)
    period_reads: Sequence[tuple[AccountKey, Read]] = ()
    today_reads: Sequence[tuple[AccountKey, Read]] = ()
    month_reads: Sequence[tuple[AccountKey, Read]] = ()


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-quantile (0 ≤ q ≤ 1) interpolating between the closest ranks; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low, high = math.floor(position), math.ceil(position)
    return float(ordered[low] + (ordered[high] - ordered[low]) * (position - low))


def period_days(start: datetime, end: datetime, tz: ZoneInfo) -> list[date]:
    """Every local day the period [start, end) touches, in order."""
    first, last = start.astimezone(tz).date(), (end - timedelta(microseconds=1)).astimezone(tz).date()
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def is_own(author: str, account: str) -> bool:
    """Whether `author` is the watched account itself (a Mastodon account keyed with its instance, too)."""
    name = author.lower().removeprefix("@")
    return name in (account, account.split("@")[0])


def compute(
    rows: Rows, start: datetime, end: datetime, now: datetime, judging: Judging, accounts: Sequence[AccountKey] = (),
    prices: cost.Prices | None = None,
) -> Report:
    """The Report of [start, end) at `now`: one AccountReport for each of `accounts` and each other account the rows
    name, in that order, and the total."""
    prices = prices or cost.Prices(0.0, 0.0)
    mentions: dict[AccountKey, list[Received]] = defaultdict(list)
    for r in rows.received:
        mentions[AccountKey(Network(r.network), r.account)].append(r)
    acted, replied = _by_account(rows.acted), _by_account(rows.replied)
    usages = [cost.usage(reads, prices) for reads in (rows.period_reads, rows.today_reads, rows.month_reads)]
    seen = [*mentions, *acted, *replied, *rows.originals, *usages[0]]
    keys = list(dict.fromkeys([*accounts, *sorted(seen, key=lambda k: (k.network.value, k.handle))]))
    days = period_days(start, end, judging.tz)
    # the business-hours arithmetic once per mention, for its account's figures and the total's
    judged = {m: _judge(m, now, judging) for group in mentions.values() for m in group if m.status in NEEDING}
    reports = tuple(
        _account(
            where, mentions.get(where, []), acted.get(where, []), replied.get(where, []), rows.originals.get(where, 0),
            [u.get(where, Usage()) for u in usages], days, now, judging, judged,
        )
        for where in keys
    )
    if len(reports) == 1:  # the total of one account is that account: not worked out twice
        total = replace(reports[0], network=None, account=None)
    else:
        everything = [r for where in keys for r in mentions.get(where, [])]
        total_usage = [cost.combine(e for usage in group for e in usage.endpoints) for group in _usages(reports)]
        total = _account(
            None, everything, [a for w in keys for a in acted.get(w, [])], [p for w in keys for p in replied.get(w, [])],
            sum(rows.originals.get(w, 0) for w in keys), total_usage, days, now, judging, judged,
        )
    return Report(start, end, now, judging.tz.key, judging.hours is not None, reports, total)


def _by_account(items: Iterable[Acted | Replied]) -> dict[AccountKey, list]:
    found: dict[AccountKey, list] = defaultdict(list)
    for item in items:
        found[AccountKey(Network(item.network), item.account)].append(item)
    return found


def _usages(reports: Sequence[AccountReport]) -> list[list[Usage]]:
    return [[a.period_reads for a in reports], [a.today_reads for a in reports], [a.month_reads for a in reports]]


def _account(
    where: AccountKey | None, mentions: list[Received], acted: list[Acted], replied: list[Replied], originals: int,
    usage: list[Usage], days: list[date], now: datetime, judging: Judging, judged: Mapping[Received, tuple[float | None, bool]],
) -> AccountReport:
    status = defaultdict(int)
    for m in mentions:
        status[m.status] += 1
    needing = [m for m in mentions if m.status in NEEDING]
    answered = [m for m in needing if m.answered_at is not None and m.status == Status.ANSWERED.value]
    waits = [max(0.0, (m.answered_at - m.created_at).total_seconds()) for m in answered]  # type: ignore[operator]
    open_waits = [seconds for m in answered if (seconds := judged[m][0]) is not None]
    return AccountReport(
        network=where.network.value if where else None,
        account=where.handle if where else None,
        received=len(mentions),
        ignored=status[Status.IGNORED.value],
        deleted=status[Status.DELETED.value],
        closed=status[Status.CLOSED.value],
        needing_reply=len(needing),
        answered=len(answered),
        open=status[Status.OPEN.value],
        expired=status[Status.EXPIRED.value],
        reply_rate=len(answered) / len(needing) if needing else None,
        reply_median=percentile(waits, 0.5),
        reply_p90=percentile(waits, 0.9),
        open_reply_median=percentile(open_waits, 0.5),
        open_reply_p90=percentile(open_waits, 0.9),
        alerts_sent=sum(m.alerted for m in mentions),
        escalations=sum(m.escalated for m in mentions),
        breaches=sum(judged[m][1] for m in needing),
        replies=sum(r.count for r in replied if is_own(r.author, r.account)),
        originals=originals,
        responders=_responders(answered, judged),
        slack=_slack(acted),
        longest_waits=_longest(needing, now, judging.top),
        hour_of_week=_hours_of_week(needing, judging.tz),
        days=_days(needing, days, judging.tz),
        period_reads=usage[0],
        today_reads=usage[1],
        month_reads=usage[2],
        within_target=sum(not judged[m][1] for m in answered),
        answered_from_slack=sum(m.from_slack for m in answered),
    )


def _judge(m: Received, now: datetime, judging: Judging) -> tuple[float | None, bool]:
    """(the open time to its first reply, in seconds, if answered and there are hours; whether it breached: no reply
    within its account's ALERT_AFTER, counted in open time with hours, as its alert's due time is)."""
    late = judging.breached(m, now)
    if m.status == Status.ANSWERED.value and m.answered_at is not None:
        opened = sched.open_time(judging.hours, judging.tz, m.created_at, m.answered_at) if judging.hours is not None else None
        return (opened.total_seconds() if opened is not None else None), late
    return None, late


def _responders(answered: list[Received], judged: Mapping[Received, tuple[float | None, bool]]) -> tuple[Responder, ...]:
    counts: dict[tuple[str, bool], list[int]] = defaultdict(lambda: [0, 0, 0])
    for m in answered:
        who = m.replied_by or UNKNOWN
        count = counts[(who, m.replied_by is not None and is_own(who, m.account))]
        count[0] += 1
        count[1] += not judged[m][1]
        count[2] += m.from_slack
    ordered = sorted(counts.items(), key=lambda item: (not item[0][1], -item[1][0], item[0][0]))  # the account first
    return tuple(Responder(who, own, n, within, slack) for (who, own), (n, within, slack) in ordered)


def close_reason(detail: str) -> str:
    """The reason a close from Slack gave ("spam", "handled elsewhere" …), without the note typed with it."""
    return detail.removeprefix(CLOSED_PREFIX).split(NOTE)[0].strip() or "other"


def _slack(acted: list[Acted]) -> tuple[SlackUser, ...]:
    users: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    reasons: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for a in acted:
        users[a.user][a.action] += a.count
        if a.action == "close":
            reasons[a.user][close_reason(a.detail)] += a.count
    return tuple(
        SlackUser(user, users[user]["claim"], users[user]["snooze"], users[user]["close"], dict(sorted(reasons[user].items())))
        for user in sorted(users)
    )


def _longest(needing: list[Received], now: datetime, top: int) -> tuple[Wait, ...]:
    def waited(m: Received) -> float:
        until = m.answered_at if m.status == Status.ANSWERED.value and m.answered_at is not None else now
        return max(0.0, (until - m.created_at).total_seconds())

    ranked = sorted(needing, key=lambda m: (-waited(m), m.created_at, m.author))[:top]
    return tuple(Wait(m.network, m.account, m.author, m.created_at, waited(m), m.status, m.url) for m in ranked)


def _reply(m: Received) -> float | None:
    if m.status != Status.ANSWERED.value or m.answered_at is None:
        return None
    return max(0.0, (m.answered_at - m.created_at).total_seconds())


def _hours_of_week(needing: list[Received], tz: ZoneInfo) -> tuple[tuple[Hour, ...], ...]:
    counts = [[0] * 24 for _ in range(7)]
    replies: list[list[list[float]]] = [[[] for _ in range(24)] for _ in range(7)]
    for m in needing:
        local = m.created_at.astimezone(tz)
        counts[local.weekday()][local.hour] += 1
        if (reply := _reply(m)) is not None:
            replies[local.weekday()][local.hour].append(reply)
    return tuple(tuple(Hour(counts[d][h], percentile(replies[d][h], 0.5)) for h in range(24)) for d in range(7))


def _days(needing: list[Received], days: list[date], tz: ZoneInfo) -> tuple[Day, ...]:
    answered: dict[date, list[float]] = defaultdict(list)
    unanswered: dict[date, int] = defaultdict(int)
    for m in needing:
        day = m.created_at.astimezone(tz).date()
        if (reply := _reply(m)) is not None:
            answered[day].append(reply)
        else:
            unanswered[day] += 1
    return tuple(Day(d, len(answered[d]), unanswered[d], percentile(answered[d], 0.5)) for d in days)
