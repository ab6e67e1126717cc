"""Putting a report together: the config read at start says how to judge (time zone, business hours, each account's
ALERT_AFTER, the prices), one read of the store gives the rows, bot.report.compute does the arithmetic. The `report`
command and the weekly report both call `build_report`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from bot.config.load import Config
from bot.model import AccountKey
from bot.report import cost
from bot.report.compute import Judging, Rows, compute
from bot.report.model import Report
from bot.store.repository import Store

TOP = 5  # the longest waits a report lists


def judging(config: Config, top: int = TOP) -> Judging:
    """How the report judges, from the config read at start: by the AlertPolicy the sweep alerts by (the time zone,
    the business hours, each account's waits)."""
    from bot.app.configure import alert_policy

    return Judging(alert_policy(config), top)


def build_report(
    store: Store, config: Config, period: tuple[datetime, datetime], now: datetime,
    accounts: Sequence[AccountKey] | None = None, top: int = TOP,
) -> Report:
    """The report of `period` ([start, end), aware) at `now`: of `accounts` only, or of every watched account and
    any other with data in the period. Only reads the store."""
    start, end = period
    rules = judging(config, top)
    # reads are kept per UTC day: the period's are those of the UTC days it touches
    first_day, last_day = start.astimezone(UTC).date(), (end - timedelta(microseconds=1)).astimezone(UTC).date()
    today, month, tomorrow = cost.today_and_month(now)
    wanted = set(accounts) if accounts is not None else None

    def only(reads: list) -> list:
        return reads if wanted is None else [(where, read) for where, read in reads if where in wanted]

    with store.read() as repo:
        rows = Rows(
            received=repo.received(start, end, accounts),  # streamed: compute reads it inside this unit
            acted=repo.acted(start, end, accounts),
            replied=repo.replied(start, end, accounts),
            originals=repo.originals_counted(start, end, accounts),
            period_reads=only(repo.reads(first_day, last_day + timedelta(days=1))),
            today_reads=only(repo.reads(today, tomorrow)),
            month_reads=only(repo.reads(month, tomorrow)),
        )
        listed = list(accounts) if accounts is not None else config.keys
        return compute(rows, start, end, now, rules, listed, cost.Prices.of(config.settings))
