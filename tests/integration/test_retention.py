"""Retention (RETENTION_DAYS) on a real database, SQLite file and PostgreSQL: closed mentions lose what names or quotes
their author after N days, open ones never; a past period's report reads the same after the purge but for the
strangers it named; the purge runs at the start and then nightly at 03:00 local, a batch a transaction; `status`
says what it did; a closed mention from before the upgrade counts from the latest time known of it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy

from bot.clock import FakeClock
from bot.config.load import Use, load_config
from bot.config.settings import Settings
from bot.messages import FollowUpNote, ReportNote, load
from bot.model import AccountKey, Network, Post, Status, Verdict
from bot.report.build import build_report
from bot.report.compute import Rows, compute
from bot.report.formats import as_text
from bot.report.model import ERASED, Received
from bot.services.retention import PAUSE, RetentionService
from bot.standins.x_api import FakeX
from bot.store.common import SENT
from bot.store.db import make_engine, upgrade
from bot.store.repository import Repository, Store
from bot.store.tables import ActionRow, MentionRow, NoticeRow, ReplyRow
from tests.conftest import judging
from tests.integration.test_cli import assert_clean_failure, cli
from tests.integration.test_report import HOURS, NOW, PERIOD, scripted_month
from tests.standins.slack_api import FakeSlack

W = AccountKey(Network.X, "acme")
T0 = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
DAYS = 30
BERLIN = ZoneInfo("Europe/Berlin")
MIN = timedelta(minutes=1)


def bob(post_id: str, at: datetime = T0, **kw: object) -> Post:
    """A stranger's mention, with everything that names them."""
    return Post(
        id=post_id, author_id="501", text="@acme my order never came, call me on 0170 1234", created_at=at,
        conversation_id=post_id, in_reply_to_user_id="100", author_handle="bob", author_name="Bob Baker",
        url=f"https://x.com/bob/status/{post_id}", version_id=f"{post_id}9", **kw,  # type: ignore[arg-type]
    )


OPEN = Verdict(Status.OPEN, "waiting for a reply")
NULLED = ("author_id", "version_id", "conversation_id", "replied_to_id", "in_reply_to_user_id")


def stored(repo: Repository, post: Post, verdict: Verdict = OPEN, at: datetime = T0) -> int:
    repo.add_mentions(W, [(post, verdict)], at)
    return repo.mention_keys(W, [post.id])[post.id]


def row(repo: Repository, mention_id: int) -> dict:
    return dict(repo.session.execute(sqlalchemy.select(MentionRow.__table__).where(MentionRow.id == mention_id)).one()._mapping)


def a_report(author: str, url: str) -> str:
    """A report's JSON naming one stranger among its longest waits."""
    received = [Received("x", "acme", "answered", T0, T0 + 40 * MIN, author, url, "acme", True, False)]
    report = compute(Rows(received), T0 - timedelta(days=7), T0 + timedelta(hours=1), T0 + timedelta(hours=1),
                     judging(ZoneInfo("UTC"), timedelta(minutes=30)), [W])
    return json.dumps(report.to_json())


def test_closed_mentions_lose_what_names_their_author_after_retention_days_and_open_ones_never(store: Store) -> None:
    at = T0 + 11 * MIN
    with store.unit() as repo:
        answered = stored(repo, bob("1"))
        reply = Post("2", "100", "", T0 + 10 * MIN, conversation_id="1", replied_to_id="1", in_reply_to_user_id="501",
                     author_handle="acme", url="https://x.com/acme/status/2")
        repo.add_replies(W, [reply])
        repo.start_alert(answered, "C0ALERTS", T0 + 5 * MIN)
        repo.alert_sent(answered, "C0ALERTS", "1700000000.000100", T0 + 5 * MIN)
        repo.mark_answered(W, [("1", reply)], at)
        closed = stored(repo, bob("3"))
        reason = "no reply needed: other — Bob is our landlord, @bob"
        assert repo.close(closed, reason, "U0JANE", at)
        repo.record_action(closed, "U0JANE", "close", reason, at)
        repo.record_action(closed, "U0OMAR", "snooze", "until 2026-11-02T12:00:00+00:00", at)
        ignored = stored(repo, bob("4"), Verdict(Status.IGNORED, "muted author @bob"))
        deleted, expired = stored(repo, bob("5")), stored(repo, bob("6"))
        repo.mark_deleted([deleted], at)
        repo.expire([expired], "expired: no reply within 7d; no longer waited for", at)
        recent = stored(repo, bob("7"))
        repo.expire([recent], "expired", T0 + timedelta(days=2))  # closed 29 days before the purge: kept
        waiting = stored(repo, bob("8", T0 - timedelta(days=90)))  # open for 120 days: never erased
        repo.add_notice("report:1", ReportNote(T0, T0, a_report("bob", "https://x.com/bob/status/1"), 1800.0), T0)
        repo.notice_state("report:1", SENT, "C0ALERTS", "1700000000.000200", T0)
        repo.add_notice("report:2", ReportNote(T0, T0, a_report("carol", "https://x.com/carol/status/9"), 1800.0), T0)  # unsent
        repo.add_notice("follow_up:1", FollowUpNote("escalation", ("here",), (answered,), 1, T0), T0)
        repo.notice_state("follow_up:1", SENT, "C0ALERTS", "1700000000.000300", T0)
        before = {k: row(repo, k) for k in (answered, closed, ignored, deleted, expired, recent, waiting)}
        notes_before = {n.key: n.payload for n in repo.session.scalars(sqlalchemy.select(NoticeRow))}

    clock, pauses = FakeClock(T0 + timedelta(days=31)), []
    service = RetentionService(store, clock, DAYS, BERLIN, pause=pauses.append)
    assert service.run_once() == 5

    personal = {"post_id", "version_id", "author_id", "author_handle", "author_name", "text", "url", "conversation_id",
                "replied_to_id", "in_reply_to_user_id", "status_reason", "purged_at"}
    with store.read() as repo:
        for key in (answered, closed, ignored, deleted, expired):
            now = row(repo, key)
            assert now["post_id"] == f"erased:{key}" and now["purged_at"] == clock.now()
            assert {k: now[k] for k in NULLED} == dict.fromkeys(NULLED)
            assert (now["author_handle"], now["author_name"], now["text"], now["url"]) == ("", "", "", "")
            assert "bob" not in json.dumps({k: str(v) for k, v in now.items()}).lower(), "nothing names him"
            kept = {k: v for k, v in before[key].items() if k not in personal}
            assert {k: now[k] for k in kept} == kept, "times, status, account, answer, claims: as they were"
        assert row(repo, ignored)["status_reason"] == "muted author"
        assert row(repo, closed)["status_reason"] == "no reply needed: other"
        assert row(repo, answered)["status_reason"] == "answered by post 2", "the account's own post"
        assert repo.mention(answered).answer_url == "https://x.com/acme/status/2" and repo.alert(answered).ts == "1700000000.000100"
        assert repo.actions(closed) == [("U0JANE", "close", "no reply needed: other", at),
                                         ("U0OMAR", "snooze", "until 2026-11-02T12:00:00+00:00", at)]
        assert row(repo, recent) == before[recent] and row(repo, waiting) == before[waiting], "closed 29 days ago; open"
        replied = repo.session.get(ReplyRow, ("x", "acme", "2"))
        assert (replied.replied_to_id, replied.conversation_id, replied.in_reply_to_user_id) == (None, None, None)
        assert (replied.author_id, replied.author_handle, replied.url, replied.created_at) == ("100", "acme", reply.url, reply.created_at)
        notes = {n.key: n for n in repo.session.scalars(sqlalchemy.select(NoticeRow))}
        sent = json.loads(load("report", notes["report:1"].payload).report)  # type: ignore[union-attr]
        assert [(w["author"], w["url"], w["waited"]) for w in sent["total"]["longest_waits"]] == [("", "", 2400.0)]
        assert {k: v for k, v in sent.items() if k not in ("accounts", "total")} == {
            k: v for k, v in json.loads(json.loads(notes_before["report:1"])["report"]).items() if k not in ("accounts", "total")}
        assert notes["report:2"].payload == notes_before["report:2"], "not posted yet: posted as it was, erased later"
        assert notes["follow_up:1"].payload == notes_before["follow_up:1"], "names no stranger"
        assert repo.retention_state() == (clock.now(), 5, T0 + timedelta(days=2))
        erased_payloads = {k: n.payload for k, n in notes.items()}

    clock.advance(timedelta(days=1))  # the next night: nothing left to erase, nothing written again
    assert service.run_once() == 0
    with store.read() as repo:
        assert {n.key: n.payload for n in repo.session.scalars(sqlalchemy.select(NoticeRow))} == erased_payloads
        assert repo.retention_state()[:2] == (T0 + timedelta(days=31), 5), "the last purge that erased something"
    assert pauses == []


def test_a_purge_goes_a_batch_a_transaction_and_a_writer_gets_in_between(store: Store, db_url: str) -> None:
    with store.unit() as repo:
        keys = [stored(repo, bob(str(i)), Verdict(Status.IGNORED, "retweet")) for i in range(1, 6)]
        replies = [Post(f"r{i}", "100", "", T0, conversation_id=str(i), replied_to_id=str(i), in_reply_to_user_id="501")
                   for i in range(1, 6)]
        repo.add_replies(W, [*replies, Post("r9", "100", "", T0 + timedelta(days=2), replied_to_id="9", in_reply_to_user_id="502")])
    other = Store(make_engine(db_url))
    written: list[int] = []

    def pause(seconds: float) -> None:  # between two batches: another process writes (on SQLite: takes the lock)
        assert seconds == PAUSE
        with other.unit() as repo:
            written.append(stored(repo, bob(f"9{len(written)}", T0 + timedelta(days=40)), at=T0 + timedelta(days=40)))

    try:
        service = RetentionService(store, FakeClock(T0 + timedelta(days=31)), DAYS, BERLIN, batch=2, pause=pause)
        assert service.run_once() == 5
    finally:
        other.dispose()
    assert len(written) == 4, "5 mentions in batches of 2: 2, 2, then 1; and 5 replies so"
    with store.read() as repo:
        assert all(repo.mention(k).post.author_handle == "" for k in keys)
        forgotten = {r.post_id: r.in_reply_to_user_id for r in repo.session.scalars(sqlalchemy.select(ReplyRow))}
        assert forgotten == {**{f"r{i}": None for i in range(1, 6)}, "r9": "502"}, "one posted 29 days before: kept"
        assert all(repo.mention(k).post.author_handle == "bob" and repo.mention(k).status is Status.OPEN for k in written)


def test_it_runs_at_the_start_then_each_night_at_three_local(store: Store) -> None:
    start = datetime(2026, 12, 1, 13, 0, tzinfo=UTC)  # 14:00 in Berlin
    with store.unit() as repo:
        first = stored(repo, bob("1"), Verdict(Status.IGNORED, "retweet"), at=start - timedelta(days=40))
        later = stored(repo, bob("2"))
        repo.expire([later], "expired", start - timedelta(days=DAYS) + timedelta(hours=7))  # kept 30 days: until 20:00 UTC
    clock = FakeClock(start)
    service = RetentionService(store, clock, DAYS, BERLIN, pause=lambda _: None)
    assert service.run_once() == 1, "the first check after the start"
    assert service.run_once() == 0
    clock.advance(timedelta(hours=12, minutes=59))  # 02:59 in Berlin: `later` is due since 20:00, but it is not 03:00
    assert service.run_once() == 0
    clock.advance(MIN)  # 03:00 in Berlin (02:00 UTC)
    assert service.run_once() == 1
    clock.advance(MIN)
    assert service.run_once() == 0
    with store.read() as repo:
        assert repo.mention(first).post.text == repo.mention(later).post.text == ""


def test_a_mention_closed_without_a_time_counts_from_the_next_purge(store: Store) -> None:
    with store.unit() as repo:
        key = stored(repo, bob("1"))
        assert repo.close(key, "no reply needed: spam", "U0JANE")  # no `now`: the closing time is not known
    clock = FakeClock(T0 + timedelta(days=100))
    service = RetentionService(store, clock, DAYS, BERLIN, pause=lambda _: None)
    assert service.run_once() == 0, "kept: it closed no earlier than we know"
    with store.read() as repo:
        assert repo.retention_state() == (None, 0, clock.now())
    clock.advance(timedelta(days=DAYS, minutes=1))
    assert service.run_once() == 1


@pytest.fixture
def month_settings(tmp_path: Path, db_url: str) -> Settings:
    (tmp_path / "replywatch.toml").write_text(HOURS)
    return Settings(x_account="acme", x_bearer_token="x-test-bearer", slack_bot_token="xoxb-test", slack_channel="#alerts",
                    replywatch_config=str(tmp_path / "replywatch.toml"), database_url=db_url)


def test_a_past_periods_report_reads_the_same_after_the_purge_but_for_the_strangers_it_named(
    fake_x: FakeX, fake_slack: FakeSlack, store: Store, month_settings: Settings
) -> None:
    month = scripted_month(fake_x, fake_slack, store, month_settings)  # a month through the real poll, sweep and Slack
    before = month.report.to_json()
    purge = FakeClock(datetime(2026, 12, 20, 3, 0, tzinfo=UTC))
    assert RetentionService(store, purge, 1, BERLIN, pause=lambda _: None).run_once() == 13, "every closed one: all but lena, mia"

    after = build_report(store, load_config(Use.READ, settings=month_settings), PERIOD, NOW)
    expected = json.loads(json.dumps(before))
    for account in (*expected["accounts"], expected["total"]):
        for wait in account["longest_waits"]:
            if wait["state"] != "open":  # lena still waits: she is kept
                wait["author"] = wait["url"] = ""
    assert after.to_json() == expected
    assert [w.author for w in after.total.longest_waits] == ["", "", "lena", "", ""]
    assert after.total.responders == month.report.total.responders and after.total.slack == month.report.total.slack
    shown = as_text(after, width=160).split("Waited longest")[1]
    assert shown.count(ERASED) == 4 and "@lena" in shown and "@ivan" not in shown


def _stamp(engine: sqlalchemy.Engine, moment: datetime) -> object:
    """A time as a raw statement must give it to this database: SQLite keeps naive UTC as SQLAlchemy writes it."""
    return moment.replace(tzinfo=None).isoformat(" ", "microseconds") if engine.dialect.name == "sqlite" else moment


def _at_0008(engine: sqlalchemy.Engine, rows: list[tuple[int, str, datetime]]) -> None:
    mention = sqlalchemy.text(
        "INSERT INTO mentions (id, network, account, post_id, author_id, author_handle, author_name, text, url, created_at, "
        "reference_types, status, status_reason, answered_at, answer_url, first_seen_at, private) VALUES (:id, 'x', 'acme', "
        ":post, '501', 'bob', 'Bob', 'hi', '', :seen, '', :status, '', :answered, '', :seen, false)"
    )
    with engine.begin() as conn:
        for key, status, seen in rows:
            answered = _stamp(engine, seen + timedelta(hours=1)) if status == "answered" else None
            conn.execute(mention, {"id": key, "post": str(key), "status": status, "seen": _stamp(engine, seen), "answered": answered})


def test_a_mention_closed_before_the_upgrade_counts_from_the_latest_time_known_of_it(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        upgrade(engine, "0008")
        _at_0008(engine, [(1, "answered", T0), (2, "closed", T0), (3, "expired", T0), (4, "ignored", T0), (5, "open", T0)])
        with engine.begin() as conn:
            conn.execute(sqlalchemy.insert(ActionRow.__table__).values(
                mention_id=2, user_id="U0JANE", action="close", detail="no reply needed: spam", at=T0 + timedelta(hours=2)))
            conn.execute(sqlalchemy.text(
                "INSERT INTO alerts (mention_id, channel, ts, state, created_at, sent_at, updated_at, revision, rendered, refusals, "
                "reminders) VALUES (3, 'C0ALERTS', '1.1', 'resolved', :a, :a, :b, 1, 1, 0, 0)"),
                {"a": _stamp(engine, T0), "b": _stamp(engine, T0 + timedelta(days=7))})
        upgrade(engine)
        store = Store(engine)
        with store.read() as repo:
            closed_at = {k: row(repo, k)["closed_at"] for k in range(1, 6)}
        assert closed_at == {1: T0 + timedelta(hours=1), 2: T0 + timedelta(hours=2), 3: T0 + timedelta(days=7), 4: T0, 5: None}
    finally:
        engine.dispose()


def test_status_says_what_retention_did_and_a_wrong_value_is_named(env: dict[str, str]) -> None:
    now = datetime.now(UTC)
    engine = make_engine(env["DATABASE_URL"])
    upgrade(engine)
    store = Store(engine)
    with store.unit() as repo:
        old = stored(repo, bob("1", now - timedelta(days=50)), Verdict(Status.IGNORED, "muted author @bob"), at=now - timedelta(days=50))
        kept = stored(repo, bob("2", now - timedelta(days=5)), Verdict(Status.IGNORED, "retweet"), at=now - timedelta(days=5))
    RetentionService(store, FakeClock(now), DAYS, ZoneInfo("UTC"), pause=lambda _: None).purge(now - timedelta(hours=1))
    with store.read() as repo:
        assert (repo.mention(old).post.author_handle, repo.mention(kept).post.author_handle) == ("", "bob")
    store.dispose()

    result = cli({**env, "RETENTION_DAYS": "30"}, "status", "--all")
    assert result.returncode == 0, result.stderr
    line = next(li for li in result.stdout.splitlines() if li.startswith("retention: "))
    assert line.startswith("retention: closed mentions erased 30 day(s) after closing, nightly at 03:00 UTC; last erased ")
    assert "(1 mention(s)); oldest closed mention kept: closed 5d ago" in line and "OVERDUE" not in line
    assert "(erased)" in result.stdout and "@bob" in result.stdout, "the kept one still names him"
    data = json.loads(cli({**env, "RETENTION_DAYS": "30"}, "status", "--json").stdout)["retention"]
    assert (data["days"], data["last_purged"], data["overdue"]) == (30, 1, False) and data["oldest_kept_closed_at"]
    assert "retention: off (RETENTION_DAYS not set)" in cli(env, "status").stdout
    assert "OVERDUE" in cli({**env, "RETENTION_DAYS": "3"}, "status").stdout, "kept 5 days with 3: no purge ran"
    for wrong in ("-3", "0", "thirty", "1.5"):
        bad = {**env, "RETENTION_DAYS": wrong}
        assert_clean_failure(cli(bad, "status"), "RETENTION_DAYS must be a whole number of days of at least 1", bad)


def test_a_reply_written_in_slack_loses_its_text_with_the_mention(store: Store) -> None:
    """A reply from Slack names whom it answers ("@bob, here you go"): erased with the rest of the mention."""
    from bot.model import OutgoingReply

    with store.unit() as repo:
        answered = stored(repo, bob("1"))
        sent = OutgoingReply("k" * 32, answered, "U0JANE", "C0ALERTS", "@bob here you go", False, "sending")
        repo.add_outgoing(sent, T0)
        reply = Post("2", "100", "@bob here you go", T0 + 5 * MIN, replied_to_id="1", author_handle="acme")
        repo.outgoing_posted(sent, W, reply, T0 + 5 * MIN)
        assert repo.mention(answered).answer_text == "@bob here you go"
    RetentionService(store, FakeClock(T0 + timedelta(days=31)), DAYS, BERLIN, pause=lambda _: None).run_once()
    with store.read() as repo:
        assert repo.mention(answered).answer_text == "" and repo.outgoing("k" * 32).text == ""
        assert repo.mention(answered).answered_from == "U0JANE", "who answered is kept"
