"""The cost meter: every read counted per account, endpoint and UTC day, as X bills it, across restarts; and the
monthly read budget (a notice at 80 %, reads at the budget's pace from 100 %). Through the real tweepy and
slack_sdk clients against the stand-ins, on a fake clock."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from bot import backoff
from bot.model import AccountKey, Network, Read
from bot.standins.x_api import FakeX
from bot.store.repository import Store
from tests.conftest import START, Loop, make_loop
from tests.integration.test_cli import cli
from tests.standins.slack_api import FakeSlack

W = AccountKey(Network.X, "acme")
MIN = timedelta(minutes=1)
ENDPOINTS = {"mentions": "mentions", "own posts": "tweets", "search": "search", "lookup": "lookup"}  # ours → X's


def stored_reads(store: Store) -> dict[str, tuple[int, int]]:
    with store.read() as repo:
        return {read.endpoint: (read.requests, read.posts) for _, read in repo.reads(START.date() - timedelta(days=40))}


def test_the_meter_counts_every_post_x_returned_across_restarts(fake_x: FakeX, fake_slack: FakeSlack, sqlite_store: Store) -> None:
    loop = make_loop(fake_x, fake_slack, sqlite_store, alert_after=5 * MIN)
    people = [fake_x.add_user(f"fan{i}") for i in range(30)]
    for i in range(230):  # three pages of mentions
        loop.post(people[i % 30], f"@acme question {i}")
    loop.tick()
    loop.post(loop.acme, "@fan0 answered", reply_to=max(fake_x.tweets))
    loop.post(loop.acme, "Our spring sale starts today")  # an original post: read, billed, not a reply
    loop.tick(6 * MIN)  # the unanswered are due: each is looked up (deleted?) before its alert
    for _ in range(3):
        loop.tick(MIN)
    assert fake_x.served["lookup"] > 0 and fake_x.served["tweets"] == 2

    restarted = make_loop(fake_x, fake_slack, sqlite_store, alert_after=5 * MIN)  # a new process on the same store
    restarted.clock.advance(loop.clock.now() - START + MIN)
    for i in range(900):  # more than X's 800 cap: the rest comes from recent search
        restarted.post(people[i % 30], f"@acme flood {i}")
    restarted.tick()
    assert fake_x.served["search"] > 0

    reads = stored_reads(sqlite_store)
    assert {e: reads[e][1] for e in ENDPOINTS if e in reads} == {e: fake_x.served[x] for e, x in ENDPOINTS.items() if fake_x.served[x]}
    assert sum(posts for _, posts in reads.values()) == sum(fake_x.served.values())
    assert reads["mentions"][0] >= 4  # requests: the pages, counted apart from the posts


def test_the_budget_warns_once_at_80_percent_and_once_at_100(loop: Loop) -> None:
    loop.poll.budget = 100
    bob = loop.x.add_user("bob")
    for i in range(79):
        loop.post(bob, f"@acme hi {i}")
    loop.tick()
    assert not [m for m in loop.slack.notices() if "budget" in m.text]
    loop.post(bob, "@acme one more")
    loop.tick(MIN)
    [warning] = [m for m in loop.slack.notices() if "budget" in m.text]
    assert "@acme on X has read 80 posts in 2026-11, 80 % of its monthly budget of 100" in warning.text
    for i in range(10):
        loop.post(bob, f"@acme again {i}")
        loop.tick(MIN)
    assert len([m for m in loop.slack.notices() if "budget" in m.text]) == 1
    for i in range(15):
        loop.post(bob, f"@acme past it {i}")
    loop.tick(MIN)
    notes = [m.text for m in loop.slack.notices() if "budget" in m.text]
    assert len(notes) == 2 and "reads now go at the budget's pace" in notes[1]
    loop.tick(MIN)
    assert len([m for m in loop.slack.notices() if "budget" in m.text]) == 2



def test_status_shows_the_reads_of_today_and_the_month_and_why_they_are_slowed(env: dict[str, str], sqlite_store: Store) -> None:
    today = datetime.now(UTC).date()  # `status` reads the machine's clock
    with sqlite_store.unit() as repo:
        repo.add_reads(W, [Read("mentions", 4, 90, 0), Read("lookup", 2, 15, 0)], today)
    shown = cli({**env, "X_MONTHLY_READ_BUDGET": "100"}, "status")
    assert shown.returncode == 0, shown.stderr
    [line] = [x for x in shown.stdout.splitlines() if x.startswith("  @acme on X: today")]
    assert "today 105 posts (6 requests), this month 105 posts (6 requests), about $0.53 of a budget of 100 posts" in line
    assert "BUDGET SPENT: reads slowed to the budget's pace" in line
    [reads] = json.loads(cli({**env, "X_MONTHLY_READ_BUDGET": "100"}, "status", "--json").stdout)["reads"]
    assert reads["today"] == reads["month"] == {"posts": 105, "requests": 6, "spend": 0.525}
    assert reads["paced_posts_an_hour"] == backoff.budget_pace(100, datetime.now(UTC))
    relaxed = cli({**env, "X_MONTHLY_READ_BUDGET": "1000"}, "status").stdout
    assert "of a budget of 1,000 posts" in relaxed and "BUDGET SPENT" not in relaxed


@pytest.mark.slow
def test_over_budget_reads_go_at_the_budgets_pace_and_none_is_dropped(loop: Loop) -> None:
    budget = 7200  # November: 720 hours, so 10 posts an hour
    loop.poll.budget = budget
    bob = loop.x.add_user("bob")
    with loop.store.unit() as repo:  # the month so far: the budget is spent
        repo.add_reads(W, [Read("mentions", 500, budget)], START.date())
    start = loop.clock.now()
    posted = 0
    read_at: list[tuple[float, int]] = []  # (hours since start, posts read so far this month beyond the budget)
    for minute in range(12 * 60):  # 12 hours, a mention every 2 minutes: 30 an hour, three times the pace
        if minute % 2 == 0:
            loop.post(bob, f"@acme question {minute}")
            posted += 1
        before = sum(r[1] for r in stored_reads(loop.store).values())
        loop.poll.run_once()
        after = sum(r[1] for r in stored_reads(loop.store).values())
        if after > before:
            read_at.append(((loop.clock.now() - start) / timedelta(hours=1), after - budget))
        loop.clock.advance(MIN)
    assert backoff.budget_pace(budget, START) == 10
    # each read of N posts is followed by N / pace hours without a read: the posts read before the last read, over
    # the time from the first read to the last, are the budget's pace (the mentions wait, and are read later)
    rate = read_at[-2][1] / (read_at[-1][0] - read_at[0][0])
    assert 9 <= rate <= 11, read_at
    assert len(read_at) < 12 * 60 / 10  # far fewer reads than one a minute
    # slowed, not stopped: a read at the end of the run finds every mention posted
    loop.clock.advance(backoff.BUDGET_MAX_WAIT)
    loop.poll.run_once()
    with loop.store.read() as repo:
        asked = [str(i) for i, tweet in loop.x.tweets.items() if tweet.author_id == bob.id]
        assert len(asked) == posted and len(repo.mention_keys(W, asked)) == posted
