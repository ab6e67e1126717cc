"""The report's pure parts: the arithmetic at its edges, business-hours time, prices, the period the options name,
the JSON round trip."""

from __future__ import annotations

import argparse
import csv
import io
import json
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.calendar.schedule import Hours, open_time
from bot.config.settings import ConfigError, Settings
from bot.model import AccountKey, Network, Read
from bot.report import cost
from bot.report.command import chosen, period
from bot.report.compute import Rows, close_reason, compute, is_own, percentile
from bot.report.formats import as_csv, as_json, as_text
from bot.report.model import Acted, Received, Replied, Report
from tests.conftest import judging

BERLIN = ZoneInfo("Europe/Berlin")
OFFICE = Hours({d: (time(9), time(17)) for d in range(5)}, frozenset({date(2026, 12, 25)}))  # Mon-Fri 09-17, Christmas closed
ACME = AccountKey(Network.X, "acme")
START, END = datetime(2026, 11, 30, tzinfo=BERLIN), datetime(2026, 12, 7, tzinfo=BERLIN)  # Monday to Monday
NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
MIN = 60.0


def local(day: int, hour: int, minute: int = 0, month: int = 12) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=BERLIN)


def received(posted: datetime, status: str = "answered", reply: timedelta | None = None, **extra: object) -> Received:
    values = {
        "network": "x", "account": "acme", "status": status, "created_at": posted.astimezone(UTC),
        "answered_at": (posted + reply).astimezone(UTC) if reply is not None else None, "author": "bob", "url": "",
        "replied_by": "acme" if reply is not None else None, "alerted": False, "escalated": False,
    }
    return Received(**{**values, **extra})


def report(*mentions: Received, hours: Hours | None = None, **rows: object) -> Report:
    rules = judging(BERLIN, timedelta(minutes=30), hours=hours)
    return compute(Rows(received=list(mentions), **rows), START, END, NOW, rules, [ACME], cost.Prices(0.005, 0.001))


# --- the arithmetic at its edges -----------------------------------------------------------------------


def test_no_mentions_at_all() -> None:
    r = report()
    [acme] = r.accounts
    assert (acme.received, acme.needing_reply, acme.answered, acme.breaches, acme.alerts_sent) == (0, 0, 0, 0, 0)
    assert acme.reply_rate is None and acme.reply_median is None and acme.reply_p90 is None, "no rate of nothing"
    assert [d.day for d in acme.days] == [date(2026, 11, 30) + timedelta(days=i) for i in range(7)], "every day, zeros too"
    assert all((d.answered, d.unanswered, d.median_reply) == (0, 0, None) for d in acme.days)
    assert acme.longest_waits == () and sum(h.mentions for row in acme.hour_of_week for h in row) == 0
    assert as_csv(r).splitlines()[1].startswith("x,acme,0,")
    text = as_text(r)
    assert text.count("\n") == 1 and text.endswith("no mention received and nothing read in this period.\n"), "one line"


def test_nothing_answered() -> None:
    now = local(7, 0, 10)  # ten minutes after the period
    rows = Rows(received=[received(local(1, 10), "open"), received(local(1, 11), "expired"), received(local(6, 23, 50), "open")])
    [acme] = compute(rows, START, END, now, judging(BERLIN, timedelta(minutes=30)), [ACME]).accounts
    assert (acme.needing_reply, acme.answered, acme.open, acme.expired) == (3, 0, 2, 1)
    assert acme.reply_rate == 0.0 and acme.reply_median is None
    assert acme.breaches == 2, "the one posted at 23:50 is not due before 00:20, after the report's time"
    assert [w.state for w in acme.longest_waits] == ["open", "expired", "open"]
    assert acme.longest_waits[0].waited == (now - local(1, 10)).total_seconds()
    assert acme.longest_waits[2].waited == 20 * MIN


def test_percentiles() -> None:
    assert percentile([], 0.5) is None
    assert percentile([7.0], 0.5) == percentile([7.0], 0.9) == 7.0, "one value is every percentile"
    assert percentile([10.0, 20.0], 0.5) == 15.0
    assert percentile([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0], 0.9) == 10.0
    assert percentile([0.0, 100.0], 0.9) == pytest.approx(90.0)


def test_one_answered_mention_is_its_own_median_and_p90() -> None:
    [acme] = report(received(local(1, 10), reply=timedelta(minutes=12))).accounts
    assert acme.reply_median == acme.reply_p90 == 12 * MIN and acme.reply_rate == 1.0


@pytest.mark.parametrize(
    ("what", "start", "end", "open_minutes"),
    [
        ("within a day", local(1, 10), local(1, 10, 45), 45),
        ("from before opening", local(1, 7), local(1, 9, 30), 30),
        ("across a closed weekend", local(4, 16, 30), local(7, 9, 30), 60),
        ("posted and answered on a Saturday", local(5, 10), local(5, 18), 0),
        ("across Christmas, a holiday", local(24, 16), local(28, 9, 15), 60 + 15),
        ("over a whole working day", local(1, 17), local(2, 17), 8 * 60),
        ("an end before the start", local(1, 12), local(1, 11), 0),
    ],
)
def test_open_time(what: str, start: datetime, end: datetime, open_minutes: int) -> None:
    assert open_time(OFFICE, BERLIN, start.astimezone(UTC), end.astimezone(UTC)) == timedelta(minutes=open_minutes), what


def test_a_reply_over_the_weekend_in_business_hours() -> None:
    friday = received(local(4, 16, 30), reply=local(7, 9, 30) - local(4, 16, 30))
    [acme] = report(friday, hours=OFFICE).accounts
    assert acme.reply_median == (local(7, 9, 30) - local(4, 16, 30)).total_seconds()
    assert acme.open_reply_median == 60 * MIN
    assert acme.breaches == 1, "due at Monday's opening (the 30 minutes end at Friday's closing), answered 09:30"
    [without] = report(friday).accounts
    assert without.open_reply_median is None, "no hours, no open time"


@pytest.mark.parametrize(("reply", "breach"), [(timedelta(minutes=30), False), (timedelta(minutes=30, seconds=1), True)])
def test_a_breach_is_a_reply_later_than_alert_after(reply: timedelta, breach: bool) -> None:
    [acme] = report(received(local(1, 10), reply=reply)).accounts
    assert acme.breaches == int(breach)


@pytest.mark.parametrize(
    ("case", "mention", "breach"),
    [
        ("answered within ALERT_AFTER", received(local(1, 10), reply=timedelta(minutes=29)), False),
        ("a VIP's is held to ALERT_AFTER_VIP", received(local(1, 10), reply=timedelta(minutes=11), vip=True), True),
        ("a VIP's answered within it", received(local(1, 10), reply=timedelta(minutes=9), vip=True), False),
        ("a snooze moves the deadline", received(local(1, 10), reply=timedelta(minutes=50), snoozed_until=local(1, 11)), False),
        ("answered after the snooze's end", received(local(1, 10), reply=timedelta(minutes=61), snoozed_until=local(1, 11)), True),
        ("a snooze ending before the due time changes nothing",
         received(local(1, 10), reply=timedelta(minutes=31), snoozed_until=local(1, 10, 5)), True),
        ("still open past its deadline", received(local(1, 10), "open"), True),
        ("still open, snoozed past now", received(local(6, 23, 50), "open", snoozed_until=local(8, 9)), False),
        ("expired", received(local(1, 10), "expired"), True),
        ("no reply needed, closed after its deadline", received(local(1, 10), "closed"), False),
    ],
)
def test_one_definition_of_a_breach(case: str, mention: Received, breach: bool) -> None:
    """bot.rules.breached, as the report counts it: not answered by the deadline (the alert's due time, a VIP's
    ALERT_AFTER_VIP, moved by a snooze); "No reply needed" is never a breach."""
    rules = judging(BERLIN, timedelta(minutes=30), alert_after_vip=timedelta(minutes=10))
    [acme] = compute(Rows(received=[mention]), START, END, NOW, rules, [ACME]).accounts
    assert acme.breaches == int(breach), case


def test_each_account_its_own_alert_after() -> None:
    late = received(local(1, 10), reply=timedelta(minutes=45))
    rules = judging(BERLIN, timedelta(minutes=30), {ACME: timedelta(hours=1)})
    [acme] = compute(Rows(received=[late]), START, END, NOW, rules, [ACME]).accounts
    assert acme.breaches == 0


def test_ignored_deleted_and_closed_need_no_reply() -> None:
    r = report(received(local(1, 10), "ignored"), received(local(1, 10), "deleted", alerted=True),
               received(local(1, 10), "closed", alerted=True), received(local(1, 10), reply=timedelta(minutes=5)))
    [acme] = r.accounts
    assert (acme.received, acme.needing_reply, acme.reply_rate, acme.alerts_sent, acme.breaches) == (4, 1, 1.0, 2, 0)


def test_who_answered_and_who_acted() -> None:
    r = report(
        received(local(1, 10), reply=timedelta(minutes=5)),
        received(local(1, 11), reply=timedelta(minutes=5), replied_by="helper"),
        received(local(1, 12), reply=timedelta(minutes=5), replied_by=None),
        acted=[Acted("x", "acme", "U1", "close", "no reply needed: other — answered by DM", 2),
               Acted("x", "acme", "U1", "close", "no reply needed: spam", 1), Acted("x", "acme", "U2", "claim", "", 3)],
        replied=[Replied("x", "acme", "acme", 4), Replied("x", "acme", "helper", 9)],
        originals={ACME: 3},
    )
    [acme] = r.accounts
    assert [(p.author, p.own, p.answered) for p in acme.responders] == [("acme", True, 1), ("helper", False, 1), ("unknown", False, 1)]
    assert [(u.user, u.claims, u.closes, u.close_reasons) for u in acme.slack] == [("U1", 0, 3, {"other": 2, "spam": 1}), ("U2", 3, 0, {})]
    assert (acme.replies, acme.originals) == (4, 3), "a responder's replies are not the account talking"


def test_close_reasons_and_who_is_the_account() -> None:
    assert close_reason("no reply needed: handled elsewhere — by phone") == "handled elsewhere"
    assert is_own("Acme", "acme") and is_own("acme", "acme@mastodon.social") and not is_own("helper", "acme")


def test_the_total_adds_up_accounts_and_bills_only_x() -> None:
    bsky = AccountKey(Network.BLUESKY, "acme.bsky.social")
    rows = Rows(
        received=[received(local(1, 10), reply=timedelta(minutes=10)),
                  received(local(1, 10), reply=timedelta(minutes=30), network="bluesky", account="acme.bsky.social")],
        period_reads=[(ACME, Read("mentions", 10, 100, 40)), (bsky, Read("mentions", 5, 50))],
    )
    r = compute(rows, START, END, NOW, judging(BERLIN, timedelta(minutes=30)), [ACME, bsky], cost.Prices(0.005, 0.001))
    x, sky = r.accounts
    assert x.period_reads.spend == pytest.approx(60 * 0.005 + 40 * 0.001) and sky.period_reads.spend == 0.0
    assert r.total.received == 2 and r.total.reply_median == 20 * MIN, "the median of all, not of the medians"
    assert (r.total.period_reads.posts, r.total.period_reads.requests) == (150, 15)
    assert [row.split(",")[1] for row in as_csv(r).splitlines()] == ["account", "acme", "acme.bsky.social", "total"]


def test_the_json_round_trip_is_exact() -> None:
    r = report(received(local(1, 10), reply=timedelta(minutes=7), alerted=True),
               received(local(2, 3), "open"), acted=[Acted("x", "acme", "U1", "close", "no reply needed: spam", 1)],
               period_reads=[(ACME, Read("mentions", 3, 7, 2))], hours=OFFICE)
    text = json.dumps(r.to_json())
    assert Report.from_json(json.loads(text)) == r and Report.from_json(text) == r
    data = json.loads(text)
    assert data["start"] == "2026-11-30T00:00:00+01:00" and data["accounts"][0]["days"][0]["day"] == "2026-11-30"
    assert list(data) == ["start", "end", "generated_at", "timezone", "hours", "accounts", "total"]


# --- strangers' text in every format ----------------------------------------------------------------------

MARKUP = ["[/x]", "[bold]loud[/bold]", "[link=https://evil.example]acme.com[/link]", ":warning:", "\\[escaped]"]
ESC = "\x1b[2J\x1b]8;;https://evil.example\x07"  # clear the screen; a terminal hyperlink


def strangers() -> Report:
    """Handles and a close reason that rich would read as markup, emoji codes and terminal escapes."""
    mentions = [received(local(1, 10 + i), reply=timedelta(minutes=5), author=text, replied_by=text)
                for i, text in enumerate(MARKUP)]
    mentions.append(received(local(1, 16), "open", author=f"bob{ESC}"))
    acted = [Acted("x", "acme", "[/U1]", "close", f"no reply needed: [red]spam{ESC}", 1)]
    return report(*mentions, acted=acted)


def test_the_text_report_shows_strangers_markup_as_written() -> None:
    text = as_text(strangers(), width=400)
    for handle in MARKUP:
        assert f"@{handle}" in text, handle
    assert "[/U1]" in text and "[red]spam" in text
    assert "\x1b" not in text and "\x07" not in text, "no terminal escape reaches the terminal"
    assert "bob\\x1b[2J" in text, "shown, escaped"


def test_the_csv_report_starts_no_cell_with_a_formula() -> None:
    """A spreadsheet runs a cell that starts with = + - @ (or a tab or CR before them) as a formula."""
    keys = [AccountKey(Network.MASTODON, name) for name in ("=HYPERLINK(\"https://evil.example\")", "@acme@mastodon.social",
                                                            "+1", "-1", "\t=1", "\r=1")]
    r = compute(Rows(received=[]), START, END, NOW, judging(BERLIN, timedelta(minutes=30)), keys, cost.Prices(0.005, 0.001))
    rows = list(csv.reader(io.StringIO(as_csv(r))))
    cells = [cell for row in rows[1:] for cell in row]
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")]
    assert [row[1] for row in rows[1:-1]] == ["'=HYPERLINK(\"https://evil.example\")", "'@acme@mastodon.social", "'+1", "'-1",
                                             "'\t=1", "'\r=1"], "shown as text, nothing dropped"
    assert rows[1][2:5] == ["0", "0", "0"], "numbers stay numbers"


def test_the_json_report_keeps_strangers_text_exact_and_escaped() -> None:
    r = strangers()
    text = as_json(r)
    assert "\x1b" not in text and "\x07" not in text, "control characters as \\u escapes"
    assert Report.from_json(text) == r, "every handle exactly as written"


# --- prices ----------------------------------------------------------------------------------------------


def test_prices_and_spend() -> None:
    settings = Settings(slack_bot_token="xoxb-1", slack_channel="#a", x_price_per_read=0.01, x_price_per_owned_read=0.002)
    prices = cost.Prices.of(settings)
    assert prices == cost.Prices(0.01, 0.002)
    assert cost.spend(Network.X, Read("mentions", 2, 100, 30), prices) == pytest.approx(70 * 0.01 + 30 * 0.002)
    assert cost.spend(Network.MASTODON, Read("mentions", 2, 100), prices) == 0.0
    posting = cost.Prices(0.005, 0.001)  # X's prices of a post created: 0.015, and 0.200 with a link
    assert cost.spend(Network.X, Read("reply", 3, 0), posting) == pytest.approx(3 * 0.015), "billed per post created"
    assert cost.spend(Network.X, Read("reply with a link", 2, 0), posting) == pytest.approx(2 * 0.200)
    assert cost.spend(Network.BLUESKY, Read("reply", 3, 0), posting) == 0.0


def test_meter_today_and_this_month() -> None:
    class Reads:
        def reads(self, since: date, until: date | None = None, where: AccountKey | None = None) -> list:
            days = {date(2026, 12, 1): 10, date(2026, 12, 15): 20, date(2026, 12, 16): 5}
            return [(ACME, Read("mentions", 1, n)) for d, n in days.items() if since <= d < (until or date.max)]

    [(where, meter)] = cost.meter(Reads(), datetime(2026, 12, 16, 23, 30, tzinfo=UTC), cost.Prices(0.005, 0.001)).items()
    assert where == ACME and (meter.today.posts, meter.month.posts) == (5, 35)
    assert meter.month.spend == pytest.approx(35 * 0.005)


# --- the period and accounts the options name ------------------------------------------------------------


def options(**given: str | None) -> argparse.Namespace:
    return argparse.Namespace(**{"since": None, "start": None, "until": None, **given})


def test_periods() -> None:
    assert period(options(), NOW, BERLIN) == (NOW - timedelta(days=7), NOW), "the last 7 days by default"
    assert period(options(since="24h"), NOW, BERLIN) == (NOW - timedelta(hours=24), NOW)
    assert period(options(start="2026-11-01", until="2026-11-30"), NOW, BERLIN) == (
        datetime(2026, 11, 1, tzinfo=BERLIN), datetime(2026, 12, 1, tzinfo=BERLIN)), "--until's day is included"
    assert period(options(start="2026-12-01"), NOW, BERLIN) == (datetime(2026, 12, 1, tzinfo=BERLIN), NOW)


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"since": "a week"}, "--since must be a duration"),
        ({"since": "0"}, "--since must be longer than 0"),
        ({"start": "yesterday"}, "--from must be a date such as 2026-11-23"),
        ({"start": "2026-12-01", "until": "2026-13-01"}, "--until must be a date"),
        ({"start": "2026-12-02", "until": "2026-12-01"}, "--until (2026-12-01) must not be before --from (2026-12-02)"),
        ({"until": "2026-12-01"}, "--until needs --from"),
        ({"since": "7d", "start": "2026-12-01"}, "--since cannot be given with --from"),
    ],
)
def test_a_wrong_period_names_its_option(given: dict, message: str) -> None:
    with pytest.raises(ConfigError, match="^" + message.replace("(", r"\(").replace(")", r"\)")):
        period(options(**given), NOW, BERLIN)


def test_accounts_by_name() -> None:
    watched = [ACME, AccountKey(Network.MASTODON, "acme@mastodon.social"), AccountKey(Network.BLUESKY, "shop.bsky.social")]
    assert chosen(None, watched) is None
    assert chosen(["@acme"], watched) == watched[:2], "the same name on two networks: both"
    assert chosen(["bluesky:shop.bsky.social"], watched) == [watched[2]]
    with pytest.raises(ConfigError, match="--account 'nobody' is not a watched account"):
        chosen(["nobody"], watched)
    with pytest.raises(ConfigError, match="the network must be x, bluesky or mastodon"):
        chosen(["myspace:acme"], watched)


def test_a_week_ending_at_midnight_is_titled_by_its_last_day_in_english() -> None:
    from bot.messages import ReportNote
    from bot.slack.report import report_message

    r = report(received(local(1, 10), reply=timedelta(minutes=5)))  # Monday 30 Nov 00:00 to Monday 7 Dec 00:00, Berlin
    posted = report_message(ReportNote(START, END, json.dumps(r.to_json()), 30 * MIN))
    assert "How we answered, Mon 30 Nov to Sun 06 Dec 2026" in posted.text, "the end is excluded: the week is Mon to Sun"
    assert as_text(r).startswith("Engagement report, Mon 2026-11-30 00:00 to Sun 2026-12-06 23:59")


def test_answered_within_target_and_from_slack() -> None:
    """"% answered within target": the mentions needing a reply answered by their deadline, per account and per
    person; and how many were answered from Slack rather than on the network."""
    r = report(
        received(local(1, 10), reply=timedelta(minutes=10), from_slack=True),
        received(local(1, 11), reply=timedelta(minutes=40)),  # late
        received(local(1, 12), reply=timedelta(minutes=5), replied_by="helper"),
        received(local(1, 13), "open"),
    )
    [acme] = r.accounts
    assert (acme.needing_reply, acme.answered, acme.within_target, acme.answered_from_slack) == (4, 3, 2, 1)
    assert acme.within_target_rate == 0.5
    assert [(p.author, p.answered, p.within_target) for p in acme.responders] == [("acme", 2, 1), ("helper", 1, 1)]
    row = next(csv.DictReader(io.StringIO(as_csv(r))))
    assert (row["answered_within_target"], row["within_target_rate"], row["answered_from_slack"]) == ("2", "0.5000", "1")
