"""The report as a person reads it in a terminal (text: tables drawn by rich, no colour), as JSON (the Report's own
keys, documented in the README) and as CSV (one header row, a row per account and one for the total).

Handles, names and close reasons are strangers' text, shown as written in every format: in the text, every cell is a
rich Text (never markup, nor emoji codes) with its control characters shown as escapes, so that nothing reaches the
terminal as a command; in CSV, a text cell that a spreadsheet would run as a formula (it starts with = + - @, a tab or
a CR) starts with ' instead; JSON escapes what it must by itself."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from datetime import timedelta
from zoneinfo import ZoneInfo

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from bot.humanize import WEEKDAYS, format_age
from bot.report.model import ERASED, AccountReport, Report, Usage

WIDTH = 120  # columns the text is laid out in when not told otherwise
DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
BUSIEST = 3  # hours of the week the text names


def as_json(report: Report) -> str:
    """The report as one JSON document (indented, keys in a stable order)."""
    return json.dumps(report.to_json(), indent=2, ensure_ascii=False) + "\n"


CSV_COLUMNS: tuple[tuple[str, Callable[[AccountReport], object]], ...] = (
    ("network", lambda a: _text_cell(a.network or "")),
    ("account", lambda a: _text_cell(a.account or "total")),
    ("received", lambda a: a.received),
    ("ignored", lambda a: a.ignored),
    ("deleted", lambda a: a.deleted),
    ("closed_no_reply_needed", lambda a: a.closed),
    ("needing_reply", lambda a: a.needing_reply),
    ("answered", lambda a: a.answered),
    ("open", lambda a: a.open),
    ("expired", lambda a: a.expired),
    ("reply_rate", lambda a: _fixed(a.reply_rate, 4)),
    ("answered_within_target", lambda a: a.within_target),
    ("within_target_rate", lambda a: _fixed(a.within_target_rate, 4)),
    ("answered_from_slack", lambda a: a.answered_from_slack),
    ("reply_median_seconds", lambda a: _fixed(a.reply_median, 0)),
    ("reply_p90_seconds", lambda a: _fixed(a.reply_p90, 0)),
    ("open_hours_reply_median_seconds", lambda a: _fixed(a.open_reply_median, 0)),
    ("open_hours_reply_p90_seconds", lambda a: _fixed(a.open_reply_p90, 0)),
    ("alerts_sent", lambda a: a.alerts_sent),
    ("escalations", lambda a: a.escalations),
    ("breaches", lambda a: a.breaches),
    ("replies", lambda a: a.replies),
    ("originals", lambda a: a.originals),
    ("requests", lambda a: a.period_reads.requests),
    ("posts_read", lambda a: a.period_reads.posts),
    ("owned_posts_read", lambda a: a.period_reads.owned),
    ("spend_usd", lambda a: _fixed(a.period_reads.spend, 4)),
    ("today_posts_read", lambda a: a.today_reads.posts),
    ("today_spend_usd", lambda a: _fixed(a.today_reads.spend, 4)),
    ("month_posts_read", lambda a: a.month_reads.posts),
    ("month_spend_usd", lambda a: _fixed(a.month_reads.spend, 4)),
)


def as_csv(report: Report) -> str:
    """The main table: a header row, one row per account, then the total (empty cells where there is no value)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(name for name, _ in CSV_COLUMNS)
    for row in (*report.accounts, report.total):
        writer.writerow(value(row) for _, value in CSV_COLUMNS)
    return out.getvalue()


def as_text(report: Report, width: int = WIDTH) -> str:
    """The report as tables for a terminal, `width` columns wide, without colour; one line when nothing happened."""
    console = Console(file=io.StringIO(), width=width, color_system=None, force_terminal=False, highlight=False, record=True)
    rows = (*report.accounts, report.total) if len(report.accounts) != 1 else report.accounts
    tz = ZoneInfo(report.timezone)
    last = report.end - timedelta(microseconds=1)  # the period's last moment: its end is excluded
    start, last = report.start.astimezone(tz), last.astimezone(tz)
    title = (f"Engagement report, {WEEKDAYS[start.weekday()]} {start:%Y-%m-%d %H:%M} to {WEEKDAYS[last.weekday()]} "
             f"{last:%Y-%m-%d %H:%M} ({report.timezone}), made {report.generated_at.astimezone(tz):%Y-%m-%d %H:%M}")
    if report.total.received == 0 and report.total.period_reads.requests == 0:
        return f"{title}: no mention received and nothing read in this period.\n"
    console.print(_plain(title))
    console.print(_mentions(rows))
    console.print(_replies(rows, report.hours))
    console.print(_who(rows))
    console.print(_slack(rows))
    console.print(_waits(report))
    console.print(_busiest(report))
    console.print(_talking(rows))
    console.print(_cost(rows))
    console.print(_days(report))
    return "\n".join(line.rstrip() for line in console.export_text().splitlines()) + "\n"  # no trailing blanks


_FORMULA = ("=", "+", "-", "@", "\t", "\r")  # what a spreadsheet reads as the start of a formula
_UNSEEN = re.compile(r"[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")  # controls, bidi included


def _text_cell(value: str) -> str:
    """A CSV text cell a spreadsheet shows as text: one that would start a formula gets a leading '."""
    return "'" + value if value.startswith(_FORMULA) else value


def _plain(value: str) -> Text:
    """Text shown as written: no markup, no emoji codes, control characters as escapes (\\x1b, \\u202e)."""
    return Text(_UNSEEN.sub(lambda m: m.group().encode("unicode_escape").decode(), value))


class _Table(Table):
    """A table whose cells are plain text, whatever they say."""

    def add_row(self, *cells: object, **kwargs: object) -> None:  # type: ignore[override]
        super().add_row(*(_plain(c) if isinstance(c, str) else c for c in cells), **kwargs)


def _table(title: str, *columns: str) -> Table:
    table = _Table(title=_plain(title), title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    for i, name in enumerate(columns):
        table.add_column(_plain(name), justify="left" if i == 0 else "right", overflow="fold")
    return table


def _mentions(rows: tuple[AccountReport, ...]) -> Table:
    table = _table("Mentions received", "account", "received", "ignored", "deleted", "closed", "needing reply",
                   "answered", "open", "expired", "reply rate")
    for a in rows:
        table.add_row(a.name, *map(str, (a.received, a.ignored, a.deleted, a.closed, a.needing_reply, a.answered, a.open,
                                         a.expired)), _percent(a.reply_rate))
    return table


def _replies(rows: tuple[AccountReport, ...], hours: bool) -> Table:
    open_columns = ("median (open hours)", "p90 (open hours)") if hours else ()
    table = _table("Time to first reply", "account", "median", "p90", *open_columns, "alerts sent", "escalations", "breaches",
                   "within target")
    for a in rows:
        opened = (_age(a.open_reply_median), _age(a.open_reply_p90)) if hours else ()
        table.add_row(a.name, _age(a.reply_median), _age(a.reply_p90), *opened, str(a.alerts_sent), str(a.escalations),
                      str(a.breaches), _percent(a.within_target_rate))
    return table


def _who(rows: tuple[AccountReport, ...]) -> Table:
    table = _table("Who answered", "account", "author", "answered", "from Slack", "within target")
    for a in rows:
        for r in a.responders:
            share = _percent(r.within_target / r.answered if r.answered else None)
            table.add_row(a.name, f"@{r.author}" + (" (the account)" if r.own else ""), str(r.answered), str(r.from_slack), share)
    return table


def _slack(rows: tuple[AccountReport, ...]) -> Table:
    table = _table("Acted in Slack", "account", "user", "claims", "snoozes", "closes", "close reasons")
    for a in rows:
        for u in a.slack:
            reasons = ", ".join(f"{reason} {n}" for reason, n in u.close_reasons.items())
            table.add_row(a.name, u.user, str(u.claims), str(u.snoozes), str(u.closes), reasons)
    return table


def _waits(report: Report) -> Table:
    table = _table("Waited longest", "author", "account", "posted", "waited", "state")
    for w in report.total.longest_waits:
        state = {"answered": "answered", "open": "still waiting", "expired": "never answered"}.get(w.state, w.state)
        name = next((a.name for a in report.accounts if (a.network, a.account) == (w.network, w.account)), w.account)
        who = f"@{w.author}" if w.author else ERASED
        table.add_row(who, name, f"{w.posted_at.astimezone(_zone(report)):%Y-%m-%d %H:%M}", _age(w.waited), state)
    return table


def _busiest(report: Report) -> Table:
    cells = [(d, h, cell) for d, row in enumerate(report.total.hour_of_week) for h, cell in enumerate(row) if cell.mentions]
    table = _table("Busiest hours of the week", f"hour ({report.timezone})", "mentions", "median reply")
    for d, h, cell in sorted(cells, key=lambda c: (-c[2].mentions, c[0], c[1]))[:BUSIEST]:
        table.add_row(f"{DAYS[d]} {h:02d}:00", str(cell.mentions), _age(cell.median_reply))
    return table


def _talking(rows: tuple[AccountReport, ...]) -> Table:
    table = _table("Talking with people or broadcasting", "account", "replies", "original posts", "replies share")
    for a in rows:
        posts = a.replies + a.originals
        table.add_row(a.name, str(a.replies), str(a.originals), _percent(a.replies / posts if posts else None))
    return table


def _cost(rows: tuple[AccountReport, ...]) -> Table:
    table = _table("What collection read and cost (UTC days)", "account", "requests", "posts read", "spend",
                   "today: posts", "today: spend", "this month: posts", "this month: spend")
    for a in rows:
        table.add_row(a.name, str(a.period_reads.requests), str(a.period_reads.posts), _usd(a.period_reads),
                      str(a.today_reads.posts), _usd(a.today_reads), str(a.month_reads.posts), _usd(a.month_reads))
    return table


def _days(report: Report) -> Table:
    table = _table("Day by day (all accounts)", "day", "answered", "unanswered", "median reply")
    for d in report.total.days:
        table.add_row(f"{DAYS[d.day.weekday()]} {d.day}", str(d.answered), str(d.unanswered), _age(d.median_reply))
    return table


def _zone(report: Report) -> ZoneInfo:
    return ZoneInfo(report.timezone)


def _age(seconds: float | None) -> str:
    return "–" if seconds is None else format_age(timedelta(seconds=seconds))


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def _usd(usage: Usage) -> str:
    return f"${usage.spend:.3f}"


def _fixed(value: float | None, places: int) -> str:
    return "" if value is None else f"{value:.{places}f}"
