"""The engagement report of a scripted month: mentions, replies (by the account and by a responder), alerts,
escalations and Slack actions made through the real poll and sweep against the X and Slack stand-ins on a fake
clock, with business hours. Every number a user reads is checked against the one worked out by hand below, in
the text, the JSON and the CSV."""

from __future__ import annotations

import csv
import io
import json
import re
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import delete

from bot.calendar import schedule_file
from bot.config.load import Use, load_config
from bot.config.settings import Settings
from bot.model import AccountKey, Network, Post, Read, Status, Verdict
from bot.report.build import build_report
from bot.report.formats import as_csv, as_json, as_text
from bot.report.model import Report
from bot.rules import keyword_pattern
from bot.standins.x_api import FakeX
from bot.store.db import make_engine, upgrade
from bot.store.repository import Store
from bot.store.tables import ReadRow
from tests.conftest import Loop, make_loop, slack_actions
from tests.integration.test_actions import ACME, click, run, submission
from tests.integration.test_cli import assert_clean_failure, cli
from tests.standins.slack_api import FakeSlack

BERLIN = ZoneInfo("Europe/Berlin")  # UTC+1 all month: 09:00-17:00 there is 08:00-16:00 UTC
HOURS = 'timezone = "Europe/Berlin"\n[hours]\n' + "".join(f'{d} = "09:00-17:00"\n' for d in ("mon", "tue", "wed", "thu", "fri"))
NOW = datetime(2026, 12, 16, 9, 0, tzinfo=UTC)  # when the report is made: the morning after the period
PERIOD = (datetime(2026, 11, 25, tzinfo=BERLIN), datetime(2026, 12, 16, tzinfo=BERLIN))  # --from 2026-11-25 --until 2026-12-15
MIN = 60.0


def utc(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


@dataclass
class Month:
    report: Report
    text: str
    json: dict
    csv: list[dict[str, str]]
    served: dict[str, int]  # posts the X stand-in returned, all month, per endpoint
    served_posts: int
    served_requests: int
    settings: Settings
    store: Store


def scripted_month(x: FakeX, slack: FakeSlack, store: Store, settings: Settings) -> Month:
    """The month, event by event (times UTC; Berlin is an hour ahead)."""
    helper = x.add_user("helper", "Helper")
    people = {name: x.add_user(name) for name in ("bob", "carol", "dave", "erin", "frank", "gina", "hank", "ivan", "judy",
                                                  "kim", "lena", "mia")}
    loop = make_loop(
        x, slack, store, responders=("helper",), signals={"keywords": (("unsubscribe", keyword_pattern("unsubscribe")),)},
        buttons=True, display_tz=BERLIN, schedule=schedule_file.parse(_toml(HOURS)),
    )
    actions = slack_actions(loop, BERLIN, ACME)

    def at(moment: datetime) -> None:
        loop.tick(moment - loop.clock.now())

    def mention(who: str, moment: datetime, text: str = "@acme hello?") -> int:
        loop.clock.advance(moment - loop.clock.now())
        post = loop.post(people[who], text)
        loop.tick()  # read at once
        return post

    def reply(by, to: int, moment: datetime) -> None:  # noqa: ANN001
        loop.clock.advance(moment - loop.clock.now())
        loop.post(by, "thanks for writing", reply_to=to)
        loop.tick()

    # Wed 11-25 (the day opens at 08:00 UTC)
    m1 = mention("bob", utc(11, 25, 9))
    reply(loop.acme, m1, utc(11, 25, 9, 10))  # 10 min
    m2 = mention("carol", utc(11, 25, 10))
    reply(helper, m2, utc(11, 25, 10, 20))  # 20 min, by the responder
    m3 = mention("dave", utc(11, 25, 11))
    at(utc(11, 25, 11, 31))  # alerted
    reply(loop.acme, m3, utc(11, 25, 12))  # 60 min: a breach
    m4 = mention("erin", utc(11, 25, 13))
    at(utc(11, 25, 13, 31))  # alerted
    at(utc(11, 25, 13, 40))
    run(actions.handle("interactive", click(_alert(loop, m4), "claim", "U0JANE")))
    m5 = mention("frank", utc(11, 25, 14), "@acme cheap followers here")
    at(utc(11, 25, 14, 31))  # alerted, then closed as spam
    run(actions.handle("interactive", click(_alert(loop, m5), "close", "U0OMAR")))
    run(actions.handle("interactive", submission(loop.slack.views[-1]["view"], "spam", "obvious bot", user="U0OMAR")))
    at(utc(11, 25, 15, 1))  # m4 escalated (2 h)
    reply(loop.acme, m4, utc(11, 25, 15, 30))  # 150 min
    loop.clock.advance(utc(11, 26, 10) - loop.clock.now())
    loop.post(loop.acme, "Our winter hours")  # an original post
    loop.tick()
    # Fri 11-27 16:30 in Berlin, half an hour before closing: due at Monday's opening
    m6 = mention("gina", utc(11, 27, 15, 30))
    m7 = mention("hank", utc(11, 28, 10))  # Saturday: closed
    reply(loop.acme, m7, utc(11, 28, 11))  # 60 min, none of it open time
    at(utc(11, 30, 8, 1))  # m6 alerted at Monday's opening
    reply(loop.acme, m6, utc(11, 30, 8, 30))  # 2d 17h; 60 min of open time
    # Tue 12-01
    mention("ivan", utc(12, 1, 9))  # never answered: alerted, escalated, expired after 7 days
    m9 = mention("judy", utc(12, 1, 10))
    at(utc(12, 1, 10, 10))
    x.delete(m9)  # deleted before its alert: looked up and closed
    mention("kim", utc(12, 1, 11), "@acme unsubscribe")  # ignored
    at(utc(12, 1, 11, 1))  # ivan's escalated
    m11 = mention("bob", utc(12, 1, 12))
    at(utc(12, 1, 12, 31))  # alerted, snoozed
    run(actions.handle("interactive", click(_alert(loop, m11), "snooze", "U0JANE", option="1h")))
    reply(loop.acme, m11, utc(12, 1, 13, 50))  # 110 min
    loop.clock.advance(utc(12, 2, 10) - loop.clock.now())
    loop.post(loop.acme, "Our new app")  # an original post
    loop.tick()
    at(utc(12, 8, 10))  # ivan's expired
    # Wed 12-09
    m12 = mention("carol", utc(12, 9, 9))
    reply(helper, m12, utc(12, 9, 9, 5))  # 5 min
    m13 = mention("dave", utc(12, 9, 9, 30))
    reply(loop.acme, m13, utc(12, 9, 9, 45))  # 15 min
    # Tue 12-15, 16:00 in Berlin: still waiting when the report is made
    mention("lena", utc(12, 15, 15))
    at(utc(12, 15, 15, 31))  # alerted
    mention("mia", utc(12, 16, 8))  # after the period
    report = build_report(store, load_config(Use.READ, settings=settings), PERIOD, NOW)
    text = as_text(report, width=160)
    return Month(report, text, json.loads(as_json(report)), list(csv.DictReader(io.StringIO(as_csv(report)))),
                 dict(x.served), sum(x.served.values()), len(x.http.requests), settings, store)


def _toml(text: str) -> dict:
    return tomllib.loads(text)


def _alert(loop: Loop, post: int):  # noqa: ANN202
    [alert] = loop.slack.alerts_for(post)
    return alert


@pytest.fixture(scope="module")
def month(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Month]:
    folder = tmp_path_factory.mktemp("month")
    (folder / "replywatch.toml").write_text(HOURS)
    url = f"sqlite:///{folder}/replywatch.db"
    engine = make_engine(url)
    upgrade(engine)
    store = Store(engine)
    x, slack = FakeX(), FakeSlack()
    x.add_user("acme", "Acme Inc")
    settings = Settings(x_account="acme", x_bearer_token="x-test-bearer", slack_bot_token="xoxb-test", slack_channel="#alerts",
                        replywatch_config=str(folder / "replywatch.toml"), database_url=url)
    try:
        yield scripted_month(x, slack, store, settings)
    finally:
        x.close()
        slack.close()
        store.dispose()


def text_table(text: str, title: str) -> dict[str, dict[str, str]]:
    """The rows of the text table titled `title`, by their first cell, as {column: cell}."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == title)
    body = lines[start + 2:]  # the title, an empty line, the header, its rule, the rows
    header = re.split(r"\s{2,}", body[0].strip())
    rows = {}
    for line in body[2:]:  # under the header's rule
        if not line.strip():
            break
        cells = re.split(r"\s{2,}", line.strip())
        rows[cells[0]] = dict(zip(header, cells, strict=True))
    return rows


# (what a user reads, JSON key of @acme's report, the value worked out by hand, the text table and column, CSV column)
ACME_X = "@acme on X"
CASES = [
    # m1-m14 were posted in the period (mia's was not)
    ("mentions received", "received", 14, ("Mentions received", "received", "14"), "received"),
    ("ignored by a rule (kim: unsubscribe)", "ignored", 1, ("Mentions received", "ignored", "1"), "ignored"),
    ("deleted by the author (judy)", "deleted", 1, ("Mentions received", "deleted", "1"), "deleted"),
    ("closed from Slack, no reply needed (frank)", "closed", 1, ("Mentions received", "closed", "1"), "closed_no_reply_needed"),
    ("needing a reply: answered, open, expired", "needing_reply", 11, ("Mentions received", "needing reply", "11"), "needing_reply"),
    ("answered", "answered", 9, ("Mentions received", "answered", "9"), "answered"),
    ("still open (lena)", "open", 1, ("Mentions received", "open", "1"), "open"),
    ("expired, never answered (ivan)", "expired", 1, ("Mentions received", "expired", "1"), "expired"),
    ("reply rate 9 / 11", "reply_rate", 9 / 11, ("Mentions received", "reply rate", "82%"), "reply_rate"),
    # 5, 10, 15, 20, 60, 60, 110, 150, 3900 minutes
    ("median time to reply", "reply_median", 60 * MIN, ("Time to first reply", "median", "1h"), "reply_median_seconds"),
    ("p90 time to reply: 150 + 0.2 × (3900 − 150) min", "reply_p90", 900 * MIN, ("Time to first reply", "p90", "15h"),
     "reply_p90_seconds"),
    # open time: 0 (Saturday), 5, 10, 15, 20, 60 (Fri 16:30 → Mon 09:30), 60, 110, 150 minutes
    ("median time to reply in open hours", "open_reply_median", 20 * MIN, ("Time to first reply", "median (open hours)", "20m"),
     "open_hours_reply_median_seconds"),
    ("p90 in open hours: 110 + 0.2 × 40 min", "open_reply_p90", 118 * MIN, ("Time to first reply", "p90 (open hours)", "1h 58m"),
     "open_hours_reply_p90_seconds"),
    ("alerts sent: dave, erin, frank, gina, bob, ivan, lena", "alerts_sent", 7, ("Time to first reply", "alerts sent", "7"),
     "alerts_sent"),
    ("escalations: erin, ivan", "escalations", 2, ("Time to first reply", "escalations", "2"), "escalations"),
    ("breaches: dave, erin, gina, bob, ivan, lena", "breaches", 6, ("Time to first reply", "breaches", "6"), "breaches"),
    ("the account's replies", "replies", 7, ("Talking with people or broadcasting", "replies", "7"), "replies"),
    ("its original posts", "originals", 2, ("Talking with people or broadcasting", "original posts", "2"), "originals"),
]


@pytest.mark.parametrize(("what", "key", "expected", "text", "column"), CASES, ids=[c[0] for c in CASES])
def test_every_number_is_the_hand_computed_one(month: Month, what: str, key: str, expected: float, text: tuple, column: str) -> None:
    [acme] = month.json["accounts"]
    assert acme[key] == pytest.approx(expected), what
    title, header, shown = text
    assert text_table(month.text, title)[ACME_X][header] == shown, what
    row = next(r for r in month.csv if r["account"] == "acme")
    assert float(row[column]) == pytest.approx(expected, abs=0.5 if column.endswith("seconds") else 1e-4), what
    total = next(r for r in month.csv if r["account"] == "total")
    assert row[column] == total[column], "one account: the total is the same"


def test_who_answered_and_who_acted_in_slack(month: Month) -> None:
    [acme] = month.json["accounts"]
    assert acme["responders"] == [{"author": "acme", "own": True, "answered": 7, "within_target": 3, "from_slack": 0},
                                  {"author": "helper", "own": False, "answered": 2, "within_target": 2, "from_slack": 0}]
    assert acme["within_target"] == 5 and acme["breaches"] >= acme["answered"] - acme["within_target"], "of the 9 answered"
    assert acme["slack"] == [
        {"user": "U0JANE", "claims": 1, "snoozes": 1, "closes": 0, "close_reasons": {}},
        {"user": "U0OMAR", "claims": 0, "snoozes": 0, "closes": 1, "close_reasons": {"spam": 1}},
    ]
    who = text_table(month.text, "Who answered")
    assert who == {ACME_X: {"account": ACME_X, "author": "@acme (the account)", "answered": "7"}} or len(who) == 1
    assert "@helper" in month.text.split("Who answered")[1].split("Acted in Slack")[0]
    slack = month.text.split("Acted in Slack")[1].split("Waited longest")[0]
    assert re.search(r"U0JANE\s+1\s+1\s+0", slack) and re.search(r"U0OMAR\s+0\s+0\s+1\s+spam 1", slack)


def test_the_longest_waits(month: Month) -> None:
    [acme] = month.json["accounts"]
    waits = [(w["author"], w["waited"] / MIN, w["state"]) for w in acme["longest_waits"]]
    assert waits == [
        ("ivan", 15 * 24 * 60, "expired"),  # 12-01 09:00 to the report's time, 12-16 09:00
        ("gina", 3900, "answered"),
        ("lena", 18 * 60, "open"),
        ("erin", 150, "answered"),
        ("bob", 110, "answered"),
    ]
    shown = text_table(month.text, "Waited longest")
    assert [(a, r["waited"], r["state"]) for a, r in shown.items()] == [
        ("@ivan", "15d", "never answered"), ("@gina", "2d 17h", "answered"), ("@lena", "18h", "still waiting"),
        ("@erin", "2h 30m", "answered"), ("@bob", "1h 50m", "answered"),
    ]


def test_hours_of_the_week_and_days(month: Month) -> None:
    [acme] = month.json["accounts"]
    grid = acme["hour_of_week"]
    assert len(grid) == 7 and all(len(day) == 24 for day in grid)
    assert grid[2][10] == {"mentions": 3, "median_reply": 10 * MIN}  # Wednesdays 10:00 in Berlin: bob, carol, dave
    assert grid[5][11] == {"mentions": 1, "median_reply": 60 * MIN}  # hank, Saturday
    assert sum(c["mentions"] for day in grid for c in day) == 11
    busiest = text_table(month.text, "Busiest hours of the week")
    assert list(busiest)[0] == "Wed 10:00" and busiest["Wed 10:00"]["mentions"] == "3" and busiest["Wed 10:00"]["median reply"] == "10m"
    assert "hour (Europe/Berlin)" in month.text
    days = {d["day"]: (d["answered"], d["unanswered"], d["median_reply"]) for d in acme["days"]}
    assert len(days) == 21 and list(days)[0] == "2026-11-25" and list(days)[-1] == "2026-12-15"
    assert days["2026-11-25"] == (4, 0, 40 * MIN)  # 10, 20, 60, 150 min
    assert days["2026-11-27"] == (1, 0, 3900 * MIN)
    assert days["2026-12-01"] == (1, 1, 110 * MIN)  # bob answered, ivan never
    assert days["2026-12-15"] == (0, 1, None)
    assert days["2026-11-26"] == (0, 0, None)
    assert month.json["total"]["days"] == acme["days"]


def test_what_collection_read_and_cost(month: Month) -> None:
    """The meter against what the X stand-in served: every request and every post, priced at $0.005 a post."""
    [acme] = month.json["accounts"]
    period, today = acme["period_reads"], acme["today_reads"]
    assert period["posts"] + today["posts"] == month.served_posts
    assert period["requests"] + today["requests"] == month.served_requests
    assert period["spend"] == pytest.approx(period["posts"] * 0.005)
    posts: dict[str, int] = {}
    for e in period["endpoints"] + today["endpoints"]:
        posts[e["endpoint"]] = posts.get(e["endpoint"], 0) + e["posts"]
    assert posts.pop("mentions") == month.served["mentions"] == 15
    assert posts.pop("lookup") == month.served["lookup"], "a look-up before each alert and follow-up"
    assert sum(posts.values()) == month.served["tweets"], "the account's and the responder's timelines"
    assert acme["month_reads"]["posts"] >= today["posts"] > 0
    row = next(r for r in month.csv if r["account"] == "acme")
    assert int(row["posts_read"]) == period["posts"] and float(row["spend_usd"]) == pytest.approx(period["posts"] * 0.005, abs=1e-4)
    shown = text_table(month.text, "What collection read and cost (UTC days)")[ACME_X]
    assert shown["posts read"] == str(period["posts"]) and shown["spend"] == f"${period['posts'] * 0.005:.3f}"


def test_the_json_round_trip_is_exact(month: Month) -> None:
    again = Report.from_json(json.loads(json.dumps(month.report.to_json())))
    assert again == month.report
    assert Report.from_json(as_json(month.report)) == month.report


def test_one_account_or_one_more(month: Month) -> None:
    """--account narrows the report; an account with data that is no longer watched still shows."""
    with month.store.unit() as repo:
        repo.add_reads(AccountKey(Network.BLUESKY, "acme.bsky.social"), [Read("mentions", 3, 40)], date(2026, 12, 2))
    try:
        both = build_report(month.store, load_config(Use.READ, settings=month.settings), PERIOD, NOW)
        assert [a.name for a in both.accounts] == [ACME_X, "@acme.bsky.social on Bluesky"]
        bsky = both.accounts[1]
        assert (bsky.received, bsky.period_reads.posts, bsky.period_reads.spend) == (0, 40, 0.0), "Bluesky bills nothing"
        assert both.total.period_reads.posts == month.report.total.period_reads.posts + 40
        assert both.total.received == 14
        only = build_report(month.store, load_config(Use.READ, settings=month.settings), PERIOD, NOW,
                            [AccountKey(Network.BLUESKY, "acme.bsky.social")])
        assert [a.name for a in only.accounts] == ["@acme.bsky.social on Bluesky"] and only.total.received == 0
        assert "total" in as_text(both) and len(list(csv.reader(io.StringIO(as_csv(both))))) == 4
    finally:
        with month.store.unit() as repo:
            repo.session.execute(delete(ReadRow).where(ReadRow.network == "bluesky"))


def test_the_command(month: Month) -> None:
    """`replywatch report` as a user runs it, on the month's database (its clock is the real one: the numbers that
    do not depend on when it runs)."""
    env = {"X_ACCOUNT": "acme", "SLACK_BOT_TOKEN": "xoxb-test", "SLACK_CHANNEL": "#alerts",
           "DATABASE_URL": month.settings.database_url, "REPLYWATCH_CONFIG": month.settings.replywatch_config or ""}
    result = cli(env, "report", "--from", "2026-11-25", "--until", "2026-12-15", "--format", "json")
    assert result.returncode == 0, result.stderr
    [acme] = json.loads(result.stdout)["accounts"]
    assert (acme["received"], acme["answered"], acme["needing_reply"], acme["reply_median"]) == (14, 9, 11, 3600)
    text = cli(env, "report", "--from", "2026-11-25", "--until", "2026-12-15")
    assert text.returncode == 0 and "Mentions received" in text.stdout and "\x1b[" not in text.stdout, "no colour in a pipe"
    rows = list(csv.DictReader(io.StringIO(cli(env, "report", "--from", "2026-11-25", "--until", "2026-12-15", "--format", "csv").stdout)))
    assert [r["account"] for r in rows] == ["acme", "total"] and rows[0]["received"] == "14"
    for args, message in [
        (("--since", "soon"), "--since must be a duration"),
        (("--from", "25.11.2026"), "--from must be a date such as"),
        (("--from", "2026-12-15", "--until", "2026-11-25"), "--until (2026-11-25) must not be before --from"),
        (("--account", "nobody"), "--account 'nobody' is not a watched account"),
    ]:
        assert_clean_failure(cli(env, "report", *args), message, env)


def test_the_command_has_help() -> None:
    result = cli({}, "report", "--help")
    assert result.returncode == 0 and "usage: replywatch report" in result.stdout and "--until" in result.stdout


def test_the_store_reads_a_period_on_every_backend(store: Store) -> None:
    """The report's reads on SQLite and PostgreSQL: only the period's rows and the accounts asked for, the first
    reply's author joined within the same account, the alert's state, counts added up by SQL."""
    acme, shop = AccountKey(Network.X, "acme"), AccountKey(Network.MASTODON, "shop@mastodon.social")
    start, end = utc(12, 1, 0), utc(12, 8, 0)

    def post(pid: str, at: datetime, author: str = "bob", reply_to: str | None = None) -> Post:
        return Post(pid, f"id-{author}", "hi", at, replied_to_id=reply_to, author_handle=author)

    open_ = Verdict(Status.OPEN, "waiting")
    with store.unit() as repo:
        repo.add_mentions(acme, [(post("1", utc(12, 1, 9)), open_), (post("2", utc(12, 2, 9), ""), open_),
                                 (post("3", utc(11, 30, 23)), open_), (post("4", utc(12, 8, 0)), open_)], utc(12, 8, 1))
        repo.add_mentions(shop, [(post("1", utc(12, 3, 9)), open_)], utc(12, 8, 1))
        replies = [post("r1", utc(12, 1, 9, 20), "helper", "1"), post("r2", utc(12, 2, 9, 5), "acme", "2")]
        repo.add_replies(acme, replies)
        repo.add_replies(shop, [post("r1", utc(12, 3, 9, 1), "shop", "1")])  # the same post id in another account
        repo.mark_answered(acme, [("1", replies[0]), ("2", replies[1])], utc(12, 8, 1))
        keys = repo.mention_keys(acme, ["1", "2"])
        repo.start_alert(keys["1"], "C0ALERTS", utc(12, 1, 9, 31))
        repo.alert_sent(keys["1"], "C0ALERTS", "1764580260.000100", utc(12, 1, 9, 31))
        repo.followed_up([keys["1"]], utc(12, 1, 11), first=True)
        repo.record_action(keys["1"], "U0JANE", "claim", "", utc(12, 1, 9, 40))
        repo.record_action(keys["2"], "U0OMAR", "close", "no reply needed: spam", utc(12, 2, 9))
        repo.record_action(keys["2"], "U0OMAR", "close", "no reply needed: spam", utc(12, 9, 9))  # after the period
        repo.add_originals(acme, [post("o1", utc(12, 4, 9), "acme"), post("o2", utc(12, 9, 9), "acme")])
    with store.read() as repo:
        got = sorted(repo.received(start, end), key=lambda r: (r.network, r.created_at))
        assert [(r.account, r.author, r.replied_by, r.alerted, r.escalated) for r in got] == [
            ("shop@mastodon.social", "bob", None, False, False),
            ("acme", "bob", "helper", True, True),
            ("acme", "id-", "acme", False, False),  # no handle: the author's id
        ]
        assert [r.account for r in repo.received(start, end, [acme])] == ["acme", "acme"]
        assert list(repo.received(start, end, [])) == []
        assert sorted(repo.acted(start, end)) == [
            ("x", "acme", "U0JANE", "claim", "", 1), ("x", "acme", "U0OMAR", "close", "no reply needed: spam", 1),
        ]
        assert sorted(repo.replied(start, end, [acme])) == [("x", "acme", "acme", 1), ("x", "acme", "helper", 1)]
        assert repo.originals_counted(start, end) == {acme: 1}


def test_the_store_pages_through_many_mentions(sqlite_store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    import bot.store.report

    monkeypatch.setattr(bot.store.report, "PAGE", 3)
    acme = AccountKey(Network.X, "acme")
    with sqlite_store.unit() as repo:
        repo.add_mentions(acme, [(Post(str(i), "a", "hi", utc(12, 1, 9, i)), Verdict(Status.OPEN, "")) for i in range(10)], utc(12, 2, 0))
    with sqlite_store.read() as repo:
        assert sorted(r.created_at.minute for r in repo.received(utc(12, 1, 0), utc(12, 2, 0))) == list(range(10))
