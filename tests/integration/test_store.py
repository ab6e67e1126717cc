"""The store and its migrations, on SQLite and on PostgreSQL."""

from __future__ import annotations

import multiprocessing
import queue
import sqlite3
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import sqlalchemy
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import event, inspect

from bot.model import Post, Status, Verdict
from bot.store.db import SCHEMA, current_revision, head_revision, make_engine, upgrade
from bot.store.repository import Store
from bot.store.tables import Base

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
BIG = 2**62 + 12345  # X ids are above 2^53: a float or a 32-bit column would corrupt them
OPEN = Verdict(Status.OPEN, "waiting for a reply")


def post(id: int, conv: int | None = None, **kw: object) -> Post:  # noqa: A002
    return Post(id=id, author_id=BIG + 1, text="héllo <&>", created_at=T0, conversation_id=conv or id, author_handle="bob", **kw)  # type: ignore[arg-type]


def test_migrations_create_the_schema_the_models_describe(db_url: str) -> None:
    engine = make_engine(db_url)
    upgrade(engine)
    upgrade(engine)  # twice is harmless
    assert current_revision(engine) == SCHEMA == head_revision(), "reads check the newest migration without Alembic"
    assert {"mentions", "replies", "alerts", "poll_cursors"} <= set(inspect(engine).get_table_names())
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    assert diff == []
    engine.dispose()


def test_mentions_are_stored_once_with_big_ids_and_aware_times(store: Store) -> None:
    with store.unit() as repo:
        assert repo.add_mentions([(post(BIG), OPEN), (post(BIG + 7), OPEN)], T0) == [BIG, BIG + 7]
    with store.unit() as repo:
        assert repo.add_mentions([(post(BIG), Verdict(Status.IGNORED, "x")), (post(BIG + 9), OPEN)], T0) == [BIG + 9]
        stored = repo.mention(BIG)
    assert stored.status is Status.OPEN, "a mention read again is left as it was"
    assert stored.post.author_id == BIG + 1
    assert stored.post.text == "héllo <&>"
    assert stored.post.created_at == T0 and stored.post.created_at.tzinfo is not None


def test_a_failed_unit_of_work_leaves_nothing_behind(store: Store) -> None:
    try:
        with store.unit() as repo:
            repo.add_mentions([(post(1), OPEN)], T0)
            repo.record_poll("acme", "mentions", T0, newest_id=1)
            raise RuntimeError("crash between the two")
    except RuntimeError:
        pass
    with store.unit() as repo:
        assert repo.mention(1) is None
        assert repo.endpoint("acme", "mentions") is None


def test_cursor_moves_forward_only_and_errors_are_kept(store: Store) -> None:
    with store.unit() as repo:
        repo.record_poll("acme", "mentions", T0, newest_id=BIG)
        repo.record_poll("acme", "mentions", T0 + timedelta(seconds=1), newest_id=5)
        repo.record_poll("acme", "mentions", T0 + timedelta(seconds=2), error="X: timed out")
    with store.unit() as repo:
        assert repo.endpoint("acme", "mentions").newest_id == BIG
        [health] = repo.health("acme")
    assert health.last_error == "X: timed out"
    assert health.last_success_at == T0 + timedelta(seconds=1)
    assert health.last_attempt_at == T0 + timedelta(seconds=2)


def test_one_alert_per_mention(store: Store) -> None:
    with store.unit() as repo:
        repo.add_mentions([(post(10), OPEN)], T0)
        assert repo.start_alert(10, "C1", T0) is True
        assert repo.start_alert(10, "C1", T0) is False
    with store.unit() as repo:
        assert [a.mention_id for a in repo.alerts_in_doubt()] == [10]
        repo.alert_sent(10, "C1", "1.000100", T0)
        assert repo.alerts_in_doubt() == []
        assert repo.start_alert(10, "C1", T0) is False


def test_the_open_summary_counts_each_open_mention_once_and_only_sent_alerts(store: Store) -> None:
    with store.unit() as repo:
        repo.add_mentions([(replace(post(20 + i), created_at=T0 + timedelta(minutes=i)), OPEN) for i in range(4)], T0)
        for mention_id in (20, 21, 23):
            repo.start_alert(mention_id, "C1", T0)
        repo.alert_sent(20, "C1", "1.000020", T0)  # 21: still sending (no ts); 22: no alert
        repo.alert_sent(23, "C1", "1.000023", T0)
        assert repo.close(23, "no reply needed", "U0OMAR")  # alerted, but no longer open
    with store.read() as repo:
        assert repo.open_summary() == (3, 1, T0), "(open, alerted: a sent alert, not one still sending, the oldest)"
        assert repo.open_count() == 3
    with store.unit() as repo:
        for mention_id in (20, 21, 22):
            repo.close(mention_id, "done", "U0OMAR")
    with store.read() as repo:
        assert repo.open_summary() == (0, 0, None) and repo.open_count() == 0


def test_due_mentions_and_answers(store: Store) -> None:
    with store.unit() as repo:
        repo.add_mentions([(post(20, conv=5), OPEN), (post(21, conv=5), OPEN), (post(22), OPEN)], T0)
        reply = Post(id=30, author_id=None, text="", created_at=T0, conversation_id=5, replied_to_id=21, in_reply_to_user_id=BIG + 1)
        repo.add_replies([reply])
    with store.unit() as repo:
        assert [m.id for m in repo.due_mentions(T0, T0, 100)] == [20, 21, 22]
        assert repo.due_mentions(T0 - timedelta(seconds=1), T0, 100) == []
        assert repo.due_mentions(T0, T0 - timedelta(seconds=1), 100) == [], "not before replies were checked"
        repo.postpone([(22, T0 + timedelta(minutes=5))])
        assert [m.id for m in repo.due_mentions(T0, T0, 100)] == [20, 21], "its exact due time is later"
        assert repo.replies_to(1, [99], [(5, BIG + 2)]) == [], "another post, another author"
        [reply] = repo.replies_to(1, [], [(5, BIG + 1)])
        assert reply.author_id == 1 and repo.replies_to(1, [21], []) == [reply]
        assert sorted(p.id for p in repo.open_posts([], [(5, BIG + 1)])) == [20, 21]
        repo.mark_answered([(21, reply)], T0)
    with store.unit() as repo:
        assert [p.id for p in repo.open_posts([21], [(5, BIG + 1)])] == [20]
        assert [m.id for m in repo.due_mentions(T0 + timedelta(hours=1), T0, 100)] == [20, 22], "an answered one is never due"
        answered = repo.mention(21)
    assert (answered.status, answered.answered_by, answered.answered_at) == (Status.ANSWERED, 30, T0)


def test_times_written_in_bulk_compare_to_the_microsecond_in_any_zone(store: Store) -> None:
    """Rows go in through the driver in bulk, parameters through SQLAlchemy: on SQLite both are text compared as
    text, so they must be the same UTC text, to the microsecond."""
    at = datetime(2026, 11, 25, 14, 0, 0, 7, tzinfo=timezone(timedelta(hours=2)))  # 12:00:00.000007 UTC
    on_the_second = T0 + timedelta(seconds=1)
    with store.unit() as repo:
        repo.add_mentions([(Post(40, 1, "", at, conversation_id=40), OPEN), (Post(41, 1, "", on_the_second, conversation_id=41), OPEN)], T0)
    with store.read() as repo:
        assert repo.mention(40).post.created_at == at and repo.mention(41).post.created_at == on_the_second
        just_before = at - timedelta(microseconds=1)
        assert [m.id for m in repo.due_mentions(at, T0, 10)] == [40]
        assert repo.due_mentions(just_before, T0, 10) == []
        assert [m.id for m in repo.due_mentions(on_the_second, T0, 10)] == [40, 41]
        assert repo.expirable(on_the_second, 10) == [40], "posted before 12:00:01 exactly: not the one posted then"
        assert repo.due_mentions(at, T0 - timedelta(microseconds=1), 10) == [], "first seen at T0: not checked before it"


def test_the_open_queue_is_read_page_by_page_each_mention_once_in_order(store: Store) -> None:
    """Pages of a thousand, each from where the last ended: mentions posted in the same second (ordered by id)
    are neither skipped nor repeated at a page's edge, and a limit is a limit."""
    posts = [Post(10_000 + i, 1, "", T0 + timedelta(seconds=i // 700), conversation_id=i + 1) for i in range(2500)]
    with store.unit() as repo:
        repo.add_mentions([(p, OPEN) for p in reversed(posts)], T0)
        repo.start_alert(posts[1000].id, "C1", T0)
    expected = [p.id for p in posts]
    with store.read() as repo:
        everything = list(repo.iter_open_mentions())
        assert [m.id for m, _ in everything] == expected
        assert [m.id for m, alert in everything if alert is not None] == [posts[1000].id], "each with its alert"
        assert [m.id for m, _ in repo.iter_open_mentions(1500)] == expected[:1500]
        assert [m.id for m, _ in repo.iter_open_mentions(1000)] == expected[:1000]


def test_sqlite_settings(tmp_path) -> None:  # noqa: ANN001
    engine = make_engine(f"sqlite:///{tmp_path}/sub/folder/r.db")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 15000
    engine.dispose()


def test_two_writers_wait_instead_of_failing(tmp_path) -> None:  # noqa: ANN001
    """Read-then-write transactions from two threads: BEGIN IMMEDIATE makes them queue, not 'database is locked'."""
    import threading

    engine = make_engine(f"sqlite:///{tmp_path}/r.db")
    upgrade(engine)
    store = Store(engine)
    errors: list[Exception] = []

    def writer(offset: int) -> None:
        try:
            for i in range(40):
                with store.unit() as repo:
                    repo.endpoint("acme", "mentions")
                    repo.add_mentions([(post(offset + i), OPEN)], T0)
                    repo.record_poll("acme", "mentions", T0, newest_id=offset + i)
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n * 1000,)) for n in range(1, 4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with store.unit() as repo:
        assert len(repo.open_mentions()) == 120
    store.dispose()


def test_digests_actions_and_closing_on_both_databases(store: Store) -> None:
    vip = Verdict(Status.OPEN, "waiting for a reply", "VIP: 250k followers")
    with store.unit() as repo:
        repo.add_mentions([(post(BIG), OPEN), (post(BIG + 1), OPEN), (post(BIG + 2, author_protected=True), vip)], T0)
        repo.start_alert(BIG, "C1", T0)
        started = repo.start_digest([BIG, BIG + 1, BIG + 2], "C1", T0)
    assert started is not None
    digest, claimed = started
    assert sorted(claimed) == [BIG + 1, BIG + 2]
    with store.unit() as repo:
        assert [m.id for m in repo.digest(digest)[1]] == [BIG + 1, BIG + 2], "a mention alerted already is not taken twice"
        assert repo.mention(BIG + 2).priority == "VIP: 250k followers" and repo.mention(BIG + 2).post.author_protected
        assert [d.id for d in repo.digests_in_doubt()] == [digest]
        assert [a.mention_id for a in repo.alerts_in_doubt()] == [BIG], "digest lines are found through their digest"
        repo.digest_sent(digest, "C1", "1.000002", T0)
        repo.alert_sent(BIG, "C1", "1.000001", T0)
    with store.unit() as repo:
        repo.claim(BIG, "U0JANE")
        repo.record_action(BIG, "U0JANE", "claim", "", T0)
        assert repo.close(BIG + 1, "no reply needed: spam", "U0OMAR")
        assert not repo.close(BIG + 1, "again", "U0OMAR"), "closed once"
        repo.record_action(BIG + 1, "U0OMAR", "close", "no reply needed: spam", T0)
    with store.unit() as repo:
        stale = {a.mention_id: (a.revision, a.rendered, a.digest_id) for a, _ in repo.alerts_to_refresh(T0)}
        assert stale == {BIG: (1, 0, None), BIG + 1: (1, 0, digest)}
        assert repo.actions(BIG) == [("U0JANE", "claim", "", T0)]
        assert [(m.id, m.status, m.reason, m.claimed_by) for m in repo.closed_mentions()] == [
            (BIG + 1, Status.CLOSED, "no reply needed: spam", "U0OMAR")
        ]
        repo.alert_rendered(BIG, 1, False, T0)
        repo.alert_rendered(BIG + 1, 1, True, T0)
    with store.unit() as repo:
        assert repo.alerts_to_refresh(T0) == []
        assert {m.id for _, m in repo.follow_ups_due(T0, 100)} == {BIG, BIG + 2}, "a closed mention's alert has none"


def test_a_read_does_not_wait_for_a_writer(tmp_path) -> None:  # noqa: ANN001
    """`/replywatch` is answered inside Slack's 3 seconds even while a poll holds the write lock."""
    import threading

    engine = make_engine(f"sqlite:///{tmp_path}/r.db")
    upgrade(engine)
    store = Store(engine)
    with store.unit() as repo:
        repo.add_mentions([(post(BIG), OPEN)], T0)
    holding, release = threading.Event(), threading.Event()

    def writer() -> None:
        with store.unit() as repo:
            repo.add_mentions([(post(BIG + 1), OPEN)], T0)
            holding.set()
            release.wait(30)

    thread = threading.Thread(target=writer)
    thread.start()
    assert holding.wait(10)
    try:
        with store.read() as repo:
            seen = [m.id for m, _ in repo.open_mentions()]
        assert not release.is_set() and thread.is_alive(), "read while the writer still held the lock"
        assert seen == [BIG], "the last commit, not the writer's uncommitted row"
    finally:
        release.set()
        thread.join()
    store.dispose()


def test_every_sqlite_connection_syncs_each_commit_to_disk(tmp_path) -> None:  # noqa: ANN001
    """synchronous=FULL: a commit survives the disk failing under it (power loss, a file system forced read-only),
    so an alert's row is on disk before its Slack call is made. NORMAL loses the last commits there."""
    engine = make_engine(f"sqlite:///{tmp_path}/r.db")
    upgrade(engine)
    store = Store(engine)
    held = [engine.raw_connection() for _ in range(3)]  # three at once: three connections, each set up on its own
    try:
        assert [c.driver_connection.execute("PRAGMA synchronous").fetchone()[0] for c in held] == [2, 2, 2]  # FULL
    finally:
        for c in held:
            c.close()
    with store.unit() as repo:
        assert repo.session.connection().exec_driver_sql("PRAGMA synchronous").scalar() == 2
    with store.read() as repo:
        assert repo.session.connection().exec_driver_sql("PRAGMA synchronous").scalar() == 2
    store.dispose()


FLOOD = 50_000  # one poll's worth after a long outage; an IN-list of this many ids is past both databases' limits


def test_a_flood_of_mentions_is_stored_and_found_on_both_databases(store: Store) -> None:
    """Every statement that takes a list of ids or rows is batched: PostgreSQL takes at most 65,535 parameters a
    statement, SQLite 32,766 as built by default (Debian's build raises it to 250,000: held to the default here)."""
    if store.engine.dialect.name == "sqlite":
        store.engine.dispose()
        event.listen(store.engine, "connect", lambda conn, _: conn.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 32766))
    ids = list(range(BIG, BIG + FLOOD))
    unknown = list(range(BIG + FLOOD, BIG + FLOOD + 20_000))  # looked for, never stored
    replies = [  # one for every tenth mention: 5,000 rows, five statements' worth
        Post(id=i + 2 * FLOOD, author_id=None, text="", created_at=T0, conversation_id=i, replied_to_id=i, in_reply_to_user_id=BIG + 1)
        for i in ids[::10]
    ]
    later = T0 + timedelta(hours=1)
    with store.unit() as repo:
        assert len(repo.add_mentions([(post(i), OPEN) for i in ids], T0)) == FLOOD
        repo.add_replies(replies)
    with store.unit() as repo:
        threads = [(i, BIG + 1) for i in ids + unknown]
        assert sorted(p.id for p in repo.open_posts(ids + unknown, [])) == ids
        assert sorted(p.id for p in repo.open_posts([], threads)) == ids
        found = repo.replies_to(1, ids + unknown, threads)
        assert sorted(r.id for r in found) == [r.id for r in replies], "each reply once, though it matches twice"
        for first_or_last in (ids[0], ids[-1]):
            repo.start_alert(first_or_last, "C1", T0)
            repo.alert_sent(first_or_last, "C1", f"1.{first_or_last}", T0)
        started = repo.start_digest(ids, "C1", T0)
        assert started is not None
        digest = started[0]
        repo.followed_up(ids + unknown, later, first=True)
    with store.read() as repo:
        assert len(repo.digest(digest)[1]) == FLOOD - 2, "every mention not alerted yet, in one digest"
        followed = {i: repo.alert(i).escalated_at for i in (ids[0], ids[-1])}
    assert followed == {ids[0]: later, ids[-1]: later}, "in the first chunk of ids and in the last"


def _migrate(url: str, barrier, errors) -> None:  # noqa: ANN001
    """One process starting on a fresh database: connect, wait for the other, migrate."""
    try:
        engine = make_engine(url)
        engine.connect().close()
        barrier.wait(60)
        upgrade(engine)
        engine.dispose()
    except Exception as exc:  # noqa: BLE001
        errors.put(f"{type(exc).__name__}: {str(exc).splitlines()[0]}")


def test_two_processes_starting_at_once_migrate_one_after_the_other(postgres_url: str) -> None:
    """The first migration of a fresh PostgreSQL database, by two processes at once: both start, none dies on a
    unique violation in pg_type (each would create the same tables)."""
    ctx = multiprocessing.get_context("spawn")
    barrier, errors = ctx.Barrier(2), ctx.Queue()
    starts = [ctx.Process(target=_migrate, args=(postgres_url, barrier, errors)) for _ in range(2)]
    for p in starts:
        p.start()
    for p in starts:
        p.join(120)
        if p.is_alive():
            p.kill()
    problems = []
    while True:
        try:
            problems.append(errors.get(timeout=0.5))
        except queue.Empty:
            break
    assert problems == [] and [p.exitcode for p in starts] == [0, 0]
    engine = make_engine(postgres_url)
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata) == []
    assert current_revision(engine) is not None
    engine.dispose()


def test_upgrading_to_0005_finds_the_work_already_waiting(db_url: str) -> None:
    """A database from before stored due times: the mentions waiting for an alert are due again (worked out by the
    next sweep), and alerts of mentions closed meanwhile are edited."""
    engine = make_engine(db_url)
    upgrade(engine, "0004")
    waiting, alerted, closed = BIG, BIG + 1, BIG + 2
    with engine.begin() as conn:
        for mention_id, status in ((waiting, "open"), (alerted, "open"), (closed, "answered")):
            conn.execute(
                sqlalchemy.text(
                    "INSERT INTO mentions (id, author_handle, author_name, text, created_at, reference_types, status, "
                    "status_reason, first_seen_at, author_protected) VALUES (:id, 'bob', '', 'hi', :at, '', :status, '', :at, false)"
                ),
                {"id": mention_id, "at": T0.replace(tzinfo=None), "status": status},
            )
        for mention_id in (alerted, closed):
            conn.execute(
                sqlalchemy.text(
                    "INSERT INTO alerts (mention_id, channel, ts, state, created_at, sent_at, revision, rendered, refusals) "
                    "VALUES (:id, 'C1', '1.0', 'sent', :at, :at, 0, 0, 0)"
                ),
                {"id": mention_id, "at": T0.replace(tzinfo=None)},
            )
    upgrade(engine)
    store = Store(engine)
    with store.read() as repo:
        assert [m.id for m in repo.due_mentions(T0, T0, 10)] == [waiting]
        assert [a.mention_id for a, _ in repo.alerts_to_refresh(T0)] == [closed]
    store.dispose()
