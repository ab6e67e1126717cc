"""Bulkheads: no slow or broken part holds up the rest, and health tells the truth. Each test is one part misbehaving
(a chart upload that fails, a look-up that never ends, an archived channel, a network that stops answering) while
the others stay healthy; the real adapters against the stand-ins, on a fake clock."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from bot.config.load import Use, load_config
from bot.config.settings import Settings
from bot.humanize import pace
from bot.lanes import Lanes
from bot.model import AccountKey, Network, Post, Read, Status, Verdict
from bot.report.build import build_report
from bot.rules import AccountRules
from bot.services.deleted import DeletionCheck
from bot.services.poll import MENTIONS, OWN_POSTS, PollService
from bot.services.sweep import SweepService
from bot.standins.http import Reply
from bot.standins.x_api import FakeX
from bot.store.db import make_engine, upgrade
from bot.store.repository import Store
from tests.conftest import Loop, make_loop
from tests.integration.test_cli import cli
from tests.integration.test_weekly_report import reporter, reports
from tests.reliability.test_isolation import run
from tests.standins.slack_api import UPLOAD_PATH, FakeSlack

SEC, MIN = timedelta(seconds=1), timedelta(minutes=1)
ALERT_AFTER = 3 * SEC
X_ACME = AccountKey(Network.X, "acme")


@pytest.fixture
def fast(fake_x: FakeX, fake_slack: FakeSlack, sqlite_store: Store) -> Loop:
    fake_x.limit = 1_000_000
    return make_loop(
        fake_x, fake_slack, sqlite_store, alert_after=ALERT_AFTER, interval=SEC, digest_threshold=1000,
        escalate_after=None, remind_every=None, read_patience=5 * SEC,
    )


def alerts(loop: Loop, post_id: int) -> list:
    """The alerts about this X post (of any network's alerts in the channel)."""
    return [m for m in loop.slack.posts() if (m.metadata or {}).get("event_payload", {}).get("tag", "").startswith("mention:")
            and f"/status/{post_id}" in str(m.blocks)]


def alerted_at(loop: Loop, post_id: int) -> datetime:
    [alert] = alerts(loop, post_id)
    return datetime.fromtimestamp(alert.received_at, UTC)


# --- 1. a chart upload that fails holds its report only --------------------------------------------------------


def test_a_failing_chart_upload_holds_no_alert_backs_off_and_the_report_goes_without_it(fast: Loop) -> None:
    service = reporter(fast, "daily 09:00")
    with fast.store.unit() as repo:
        repo.first_seen("report_every", "daily 09:00", fast.clock.now() - timedelta(days=2))
    fast.slack.http.fail(UPLOAD_PATH, Reply(500, "upstream broke"), times=1000)
    fast.slack.http.fail("files.getUploadURLExternal", Reply(500, "upstream broke"), times=1000)
    assert service.run_once() is True  # the day's report is due: queued, its chart to upload first
    fans = [fast.x.add_user(f"fan{i}") for i in range(30)]
    posted: dict[int, datetime] = {}

    def one_more() -> None:
        if len(posted) < len(fans):
            mention = fast.post(fans[len(posted)], "@acme hello?")
            posted[mention] = fast.clock.now()

    run(fast, 90, one_more)
    for mention, at in posted.items():
        late = alerted_at(fast, mention) - at - ALERT_AFTER
        assert late <= 2 * SEC, f"an alert in the report's channel went out {late.total_seconds():.1f}s after it was due"
    tries = fast.slack.http.calls("files.getUploadURLExternal")
    assert len(tries) == 3, "three uploads, with back-off (10 s, then 20 s), not one every sweep"
    [report] = reports(fast)
    assert not [b for b in report.blocks if b["type"] == "image"], "the report went without its chart"


# --- 2. a look-up that never ends holds only its own account's pings -------------------------------------------


class Hanging:
    """A network account whose look-ups never answer (a server dripping a byte at a time), and whose reads work."""

    network = Network.MASTODON

    def __init__(self) -> None:
        self.release = threading.Event()
        self.looked_up: list[list[str]] = []

    def deleted(self, post_ids: Sequence[str]) -> set[str]:
        self.looked_up.append(list(post_ids))
        self.release.wait(30)
        return set()

    def reads(self) -> list[Read]:
        return []


def test_a_look_up_that_never_answers_stalls_no_other_account(fast: Loop, sqlite_store: Store) -> None:
    masto = AccountKey(Network.MASTODON, "acme@masto.test")
    hanging = Hanging()
    config = replace(fast.sweep.config, read_patience=timedelta(hours=1))
    sources = {X_ACME: fast.sweep.deletions.sources[X_ACME], masto: hanging}  # type: ignore[union-attr,dict-item]
    deletions = DeletionCheck(sources, sqlite_store, Lanes(4.0, fast.clock.monotonic))  # a look-up's deadline: 4 s
    fast.sweep = SweepService(fast.sweep.sink, sqlite_store, [X_ACME, masto], fast.clock, config, deletions)
    now = fast.clock.now()
    post = Post("1001", "9", "@acme is anyone there?", now, author_handle="fan@elsewhere", url="https://masto.test/@fan/1001")
    with sqlite_store.unit() as repo:
        repo.add_mentions(masto, [(post, Verdict(Status.OPEN, "mentions the account"))], now)
        for endpoint in (MENTIONS, OWN_POSTS):
            repo.record_poll(masto, endpoint, now)
    fan = fast.x.add_user("fan")
    started = threading.Event()
    x_mention, x_posted = 0, now

    def every_second() -> None:
        nonlocal x_mention, x_posted
        if hanging.looked_up and not started.is_set():
            started.set()
            x_mention, x_posted = fast.post(fan, "@acme my parcel?"), fast.clock.now()
        with sqlite_store.unit() as repo:  # the Mastodon account's reads keep working
            for endpoint in (MENTIONS, OWN_POSTS):
                repo.record_poll(masto, endpoint, fast.clock.now())

    try:
        wall = datetime.now(UTC)
        run(fast, 15, every_second)
        took = (datetime.now(UTC) - wall).total_seconds()
        assert started.is_set() and x_mention
        late = alerted_at(fast, x_mention) - x_posted - ALERT_AFTER
        assert late <= 2 * SEC, "the X account's alert went out on time while Mastodon's look-up hung"
        assert took < 12, f"the sweep waited on the hanging look-up: 15 s of sweeps took {took:.0f}s of real time"
        assert len(hanging.looked_up) == 1, "one look-up, not one a sweep"
        problems = deletions.lanes.problems()
        assert any("look-ups of @acme@masto.test on Mastodon" in name for name in problems), problems
        masto_alerts = [m for m in fast.slack.posts() if "masto.test/@fan/1001" in str(m.blocks)]
        assert len(masto_alerts) == 1, "past the look-up's deadline, the Mastodon mention is alerted all the same"
    finally:
        hanging.release.set()


# --- 4. an archived channel keeps its own edits waiting, no one else's -----------------------------------------


def test_an_archived_channel_blocks_no_other_channel_s_edits(fast: Loop, sqlite_store: Store) -> None:
    bob, carol = fast.x.add_user("bob"), fast.x.add_user("carol")
    first = fast.post(bob, "@acme order 1?")
    run(fast, 1)
    second = fast.post(carol, "@acme order 2?")
    run(fast, 6)
    assert fast.slack.alerts_for(first) and fast.slack.alerts_for(second)
    with sqlite_store.unit() as repo:  # the older alert was moved to a channel that is archived now
        repo.session.execute(text("UPDATE alerts SET channel = 'C0GONE' WHERE mention_id = :m"), {"m": fast.key(first)})
    fast.slack.archived.add("C0GONE")
    fast.post(fast.acme, "@bob here you go", reply_to=first)
    run(fast, 1)
    fast.post(fast.acme, "@carol here you go", reply_to=second)
    run(fast, 30)
    [edited] = fast.slack.alerts_for(second)
    assert edited.edits, "the other channel's answered alert was edited"
    assert fast.slack.http.calls("chat.update"), "and the archived channel's edit was tried, and refused"


# --- 5. a network that stops answering does not keep due mentions silent -----------------------------------------


def test_a_network_that_hangs_still_gets_its_due_alerts_on_time_saying_replies_went_unread(fast: Loop) -> None:
    bob = fast.x.add_user("bob")
    mention, posted = fast.post(bob, "@acme refund?"), fast.clock.now()
    run(fast, 1)
    down_since = fast.clock.now()
    fast.x.http.fail("/tweets", Reply(503, {"title": "Service Unavailable"}), times=10_000)  # reads of replies fail
    run(fast, 15)
    at = alerted_at(fast, mention)
    due = posted + ALERT_AFTER
    assert at - due <= 5 * SEC + 2 * SEC, "alerted within the read patience of its due time"
    [alert] = fast.slack.alerts_for(mention)
    assert "could not be checked since" in str(alert.blocks), "the alert says its replies went unread"
    assert down_since <= fast.clock.now()
    # the network answers again: a reply made before the due time is read, and the alert edited to answered
    fast.x.http.faults.clear()
    fast.post(fast.acme, "@bob done", reply_to=mention)
    run(fast, 5)
    assert fast.mention(mention).status is Status.ANSWERED  # type: ignore[union-attr]


# --- 14. a look-up once per mention, whatever channel or pacer ----------------------------------------------------


def test_due_mentions_are_looked_up_once_each_whatever_the_other_channels_do(fast: Loop, sqlite_store: Store) -> None:
    bsky = AccountKey(Network.BLUESKY, "acme.bsky.social")  # idle, alerting into a channel of its own
    rules = {bsky: AccountRules("C0BSKY", ALERT_AFTER, ALERT_AFTER, (OWN_POSTS,)), X_ACME: fast.sweep.config.rules(X_ACME)}
    config = replace(fast.sweep.config, accounts=rules)
    fast.sweep = SweepService(fast.sweep.sink, sqlite_store, [X_ACME, bsky], fast.clock, config, fast.sweep.deletions)

    def bsky_reads() -> None:
        with sqlite_store.unit() as repo:
            for endpoint in (MENTIONS, OWN_POSTS):
                repo.record_poll(bsky, endpoint, fast.clock.now())

    fans = [fast.x.add_user(f"fan{i}") for i in range(5)]
    for fan in fans:
        fast.post(fan, "@acme hi")
    run(fast, 20, bsky_reads)  # five alerts into one channel go a second apart
    assert len(fast.slack.alerted()) == 5
    looked = [i for r in fast.x.http.calls("/2/tweets") if r.query.get("ids") for i in r.query["ids"].split(",")]
    assert len(looked) == 5, f"{len(looked)} posts looked up (and billed) for 5 due mentions"


# --- 6. one health verdict: `health` exits 1 on what /healthz and `status` call broken ---------------------------


def test_health_exits_1_naming_every_broken_part_as_status_does(env: dict[str, str]) -> None:
    engine = make_engine(env["DATABASE_URL"])
    upgrade(engine)
    now = datetime.now(UTC)
    with Store(engine).unit() as repo:
        repo.record_poll(X_ACME, MENTIONS, now - 10 * MIN, error="X: no complete answer within 15s (reads of @acme on X)")
        repo.record_poll(X_ACME, MENTIONS, now - 5 * SEC, error="X: no complete answer within 15s (reads of @acme on X)")
        repo.record_poll(X_ACME, OWN_POSTS, now - 5 * SEC)
        repo.parts_failing({"look-ups of @acme on X": "3 failures in a row, the last: HTTP 503"}, now)
    engine.dispose()
    health = cli({**env, "POLL_INTERVAL": "60s"}, "health")
    assert health.returncode == 1, health.stdout + health.stderr
    assert "unhealthy: collection: @acme on X: X: no complete answer within 15s" in health.stderr
    assert "unhealthy: look-ups of @acme on X: 3 failures in a row" in health.stderr
    status = cli({**env, "POLL_INTERVAL": "60s"}, "status")
    assert "health: UNHEALTHY, 2 broken part(s)" in status.stdout, status.stdout
    assert "  look-ups of @acme on X: 3 failures in a row, the last: HTTP 503" in status.stdout
    alive = cli({**env, "POLL_INTERVAL": "60s"}, "health", "--alive")
    assert alive.returncode == 0, "polls are tried: a restart would cure none of this, so a liveness probe passes"


def test_health_alive_fails_only_when_polls_stopped(env: dict[str, str]) -> None:
    engine = make_engine(env["DATABASE_URL"])
    upgrade(engine)
    with Store(engine).unit() as repo:
        repo.record_poll(X_ACME, MENTIONS, datetime.now(UTC) - 10 * MIN)  # the last attempt, ten poll intervals ago
    engine.dispose()
    alive = cli({**env, "POLL_INTERVAL": "60s"}, "health", "--alive")
    assert alive.returncode == 1 and "unhealthy: collection: no poll attempt since" in alive.stderr, alive.stderr


# --- 9. a read budget lets go, and never holds back the replies that answer stored mentions ------------------------


def test_an_over_budget_account_still_reads_its_replies_and_a_lifted_budget_lets_go_at_the_next_start(loop: Loop) -> None:
    loop.poll.budget = 100
    with loop.store.unit() as repo:  # the month's budget is spent
        repo.add_reads(X_ACME, [Read("mentions", 50, 100)], loop.clock.now().date())
    bob = loop.x.add_user("bob")
    mention = loop.post(bob, "@acme broken again")
    loop.poll.run_once()  # over budget: the next mentions read waits the budget's pace (hours)
    loop.post(loop.acme, "@bob on it", reply_to=mention)
    loop.clock.advance(MIN)
    loop.poll.run_once()
    assert loop.mention(mention).status is Status.ANSWERED, "the own posts were read a poll interval later"  # type: ignore[union-attr]
    reads = len(loop.x.http.calls("/mentions"))
    restarted = PollService(loop.poll.source, loop.store, loop.account, loop.clock, loop.poll.interval, rand=lambda: 0.5)
    restarted.run_once()  # the budget was lifted (X_MONTHLY_READ_BUDGET removed) and replywatch restarted
    assert len(loop.x.http.calls("/mentions")) == reads + 1, "mentions are read again at once"


def test_status_says_a_slow_budget_pace_in_words_a_person_reads() -> None:
    assert pace(100 / 720) == "one post every 7h 12m"
    assert pace(10) == "10 posts an hour" and pace(2.5) == "2.5 posts an hour"


def test_a_mention_answered_in_time_while_replies_went_unread_is_alerted_then_counted_answered_in_time(fast: Loop) -> None:
    bob = fast.x.add_user("bob")
    mention = fast.post(bob, "@acme refund?")
    run(fast, 1)
    fast.x.http.fail("/users/10001/tweets", Reply(503, {"title": "Service Unavailable"}), times=10_000)  # own posts unread
    fast.post(fast.acme, "@bob sent it", reply_to=mention)  # answered a second later, in time: nobody can see it yet
    run(fast, 12)
    assert len(alerts(fast, mention)) == 1, "the alert went out, saying replies went unread"
    fast.x.http.faults.clear()
    run(fast, 4)
    [alert] = alerts(fast, mention)
    assert alert.edits, "edited to answered once the reply was read"
    settings = Settings(slack_bot_token="xoxb-test", slack_channel="#alerts", x_account="acme", alert_after="3s")  # type: ignore[arg-type]
    start = fast.clock.now() - timedelta(hours=1)
    report = build_report(fast.store, load_config(Use.READ, settings=settings), (start, fast.clock.now()), fast.clock.now())
    assert (report.total.answered, report.total.breaches, report.total.alerts_sent) == (1, 0, 1), "answered in time, no breach"


def test_status_says_how_many_mentions_a_mastodon_instance_s_filter_held(env: dict[str, str], tmp_path) -> None:  # noqa: ANN001
    masto = AccountKey(Network.MASTODON, "acme@masto.test")
    engine = make_engine(env["DATABASE_URL"])
    upgrade(engine)
    now = datetime.now(UTC)
    with Store(engine).unit() as repo:
        repo.record_poll(masto, MENTIONS, now - MIN, filtered=2)
        repo.record_poll(masto, MENTIONS, now, filtered=1)  # counted up, read after read
    engine.dispose()
    (tmp_path / "replywatch.toml").write_text(
        '[[accounts]]\nnetwork = "mastodon"\nhandle = "acme"\ninstance = "https://masto.test"\naccess_token_env = "MASTODON_TOKEN"\n'
    )
    status = cli({**env, "REPLYWATCH_CONFIG": str(tmp_path / "replywatch.toml"), "MASTODON_TOKEN": "t0ken-masto"}, "status")
    assert "3 mention(s) read that the instance's notification filter held" in status.stdout, status.stdout + status.stderr
