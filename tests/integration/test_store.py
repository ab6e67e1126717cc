"""The store and its migrations, on SQLite and on PostgreSQL."""

from __future__ import annotations

import multiprocessing
import os
import queue
import sqlite3
import stat
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import event, inspect

from bot.model import AccountKey, Network, Post, Status, Verdict
from bot.store.db import SCHEMA, current_revision, head_revision, make_engine, upgrade
from bot.store.repository import Store
from bot.store.tables import Base

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
BIG = 2**62 + 12345  # X ids are above 2^53: a float or a 32-bit column would corrupt them
OPEN = Verdict(Status.OPEN, "waiting for a reply")
W = AccountKey(Network.X, "acme")


def post(id: int, conv: int | None = None, **kw: object) -> Post:  # noqa: A002
    return Post(id=str(id), author_id=str(BIG + 1), text="héllo <&>", created_at=T0, conversation_id=str(conv or id),  # type: ignore[arg-type]
                author_handle="bob", **kw)


def add(repo, *posts: Post, verdict: Verdict = OPEN) -> list[int]:  # noqa: ANN001
    """Store these posts as open mentions of @acme on X; their keys, in order."""
    repo.add_mentions(W, [(p, verdict) for p in posts], T0)
    return keys(repo, *(int(p.id) for p in posts))


def keys(repo, *ids: int) -> list[int]:  # noqa: ANN001
    found = repo.mention_keys(W, [str(i) for i in ids])
    return [found[str(i)] for i in ids]


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
        assert repo.add_mentions(W, [(post(BIG), OPEN), (post(BIG + 7), OPEN)], T0) == [str(BIG), str(BIG + 7)]
    with store.unit() as repo:
        assert repo.add_mentions(W, [(post(BIG), Verdict(Status.IGNORED, "x")), (post(BIG + 9), OPEN)], T0) == [str(BIG + 9)]
        elsewhere = AccountKey(Network.BLUESKY, "acme.bsky.social")
        assert repo.add_mentions(elsewhere, [(post(BIG), OPEN)], T0) == [str(BIG)], "the same id on another network"
        [key] = keys(repo, BIG)
        stored = repo.mention(key)
    assert stored.status is Status.OPEN, "a mention read again is left as it was"
    assert (stored.post.id, stored.post.author_id, stored.where) == (str(BIG), str(BIG + 1), W)
    assert stored.post.text == "héllo <&>"
    assert stored.post.created_at == T0 and stored.post.created_at.tzinfo is not None


def test_a_failed_unit_of_work_leaves_nothing_behind(store: Store) -> None:
    try:
        with store.unit() as repo:
            repo.add_mentions(W, [(post(1), OPEN)], T0)
            repo.record_poll(W, "mentions", T0, cursor="1")
            raise RuntimeError("crash between the two")
    except RuntimeError:
        pass
    with store.unit() as repo:
        assert repo.mention_keys(W, ["1"]) == {}
        assert repo.endpoint(W, "mentions") is None


def test_the_cursor_stays_when_a_read_brings_none_and_errors_are_kept(store: Store) -> None:
    with store.unit() as repo:
        repo.record_poll(W, "mentions", T0, cursor=str(BIG))
        repo.record_poll(W, "mentions", T0 + timedelta(seconds=1), cursor=None)
        repo.record_poll(W, "mentions", T0 + timedelta(seconds=2), error="X: timed out")
    with store.unit() as repo:
        assert repo.endpoint(W, "mentions").cursor == str(BIG)
        [health] = repo.health(W)
    assert health.last_error == "X: timed out"
    assert health.last_success_at == T0 + timedelta(seconds=1)
    assert health.last_attempt_at == T0 + timedelta(seconds=2)


def test_one_alert_per_mention(store: Store) -> None:
    with store.unit() as repo:
        [key] = add(repo, post(10))
        assert repo.start_alert(key, "C1", T0) is True
        assert repo.start_alert(key, "C1", T0) is False
    with store.unit() as repo:
        assert [a.mention_id for a in repo.alerts_in_doubt()] == [key]
        repo.alert_sent(key, "C1", "1.000100", T0)
        assert repo.alerts_in_doubt() == []
        assert repo.start_alert(key, "C1", T0) is False


def test_the_open_summary_counts_each_open_mention_once_and_only_sent_alerts(store: Store) -> None:
    with store.unit() as repo:
        m20, m21, m22, m23 = add(repo, *(replace(post(20 + i), created_at=T0 + timedelta(minutes=i)) for i in range(4)))
        for mention_id in (m20, m21, m23):
            repo.start_alert(mention_id, "C1", T0)
        repo.alert_sent(m20, "C1", "1.000020", T0)  # 21: still sending (no ts); 22: no alert
        repo.alert_sent(m23, "C1", "1.000023", T0)
        assert repo.close(m23, "no reply needed", "U0OMAR")  # alerted, but no longer open
    with store.read() as repo:
        assert repo.open_summary() == (3, 1, T0), "(open, alerted: a sent alert, not one still sending, the oldest)"
        assert repo.open_count() == 3
    with store.unit() as repo:
        for mention_id in (m20, m21, m22):
            repo.close(mention_id, "done", "U0OMAR")
    with store.read() as repo:
        assert repo.open_summary() == (0, 0, None) and repo.open_count() == 0


def test_due_mentions_and_answers(store: Store) -> None:
    author = str(BIG + 1)
    with store.unit() as repo:
        m20, m21, m22 = add(repo, post(20, conv=5), post(21, conv=5), post(22))
        reply = Post(id="30", author_id=None, text="", created_at=T0, conversation_id="5", replied_to_id="21",
                     in_reply_to_user_id=author, url="https://x.com/acme/status/30")
        repo.add_replies(W, [reply])
    with store.unit() as repo:
        assert [m.id for m in repo.due_mentions(T0, T0, 100)] == [m20, m21, m22]
        assert repo.due_mentions(T0 - timedelta(seconds=1), T0, 100) == []
        assert repo.due_mentions(T0, T0 - timedelta(seconds=1), 100) == [], "not before replies were checked"
        repo.postpone([(m22, T0 + timedelta(minutes=5))])
        assert [m.id for m in repo.due_mentions(T0, T0, 100)] == [m20, m21], "its exact due time is later"
        assert repo.replies_to(W, "1", ["99"], [("5", str(BIG + 2))]) == [], "another post, another author"
        assert repo.replies_to(AccountKey(Network.MASTODON, "acme"), "1", ["21"], [("5", author)]) == [], "another account's"
        [reply] = repo.replies_to(W, "1", [], [("5", author)])
        assert reply.author_id == "1" and repo.replies_to(W, "1", ["21"], []) == [reply]
        assert sorted(p.id for p in repo.open_posts(W, [], [("5", author)])) == ["20", "21"]
        assert repo.open_posts(AccountKey(Network.BLUESKY, "acme"), ["21"], [("5", author)]) == [], "another account's"
        repo.mark_answered(W, [("21", reply)], T0)
    with store.unit() as repo:
        assert [p.id for p in repo.open_posts(W, ["21"], [("5", author)])] == ["20"]
        assert [m.id for m in repo.due_mentions(T0 + timedelta(hours=1), T0, 100)] == [m20, m22], "an answered one is never due"
        answered = repo.mention(m21)
    assert (answered.status, answered.answered_by, answered.answered_at) == (Status.ANSWERED, "30", T0)
    assert answered.answer_url == "https://x.com/acme/status/30"


def test_times_written_in_bulk_compare_to_the_microsecond_in_any_zone(store: Store) -> None:
    """Rows go in through the driver in bulk, parameters through SQLAlchemy: on SQLite both are text compared as
    text, so they must be the same UTC text, to the microsecond."""
    at = datetime(2026, 11, 25, 14, 0, 0, 7, tzinfo=timezone(timedelta(hours=2)))  # 12:00:00.000007 UTC
    on_the_second = T0 + timedelta(seconds=1)
    with store.unit() as repo:
        m40, m41 = add(repo, Post("40", "1", "", at, conversation_id="40"), Post("41", "1", "", on_the_second, conversation_id="41"))
    with store.read() as repo:
        assert repo.mention(m40).post.created_at == at and repo.mention(m41).post.created_at == on_the_second
        just_before = at - timedelta(microseconds=1)
        assert [m.id for m in repo.due_mentions(at, T0, 10)] == [m40]
        assert repo.due_mentions(just_before, T0, 10) == []
        assert [m.id for m in repo.due_mentions(on_the_second, T0, 10)] == [m40, m41]
        assert repo.expirable(on_the_second, 10) == [m40], "posted before 12:00:01 exactly: not the one posted then"
        assert repo.due_mentions(at, T0 - timedelta(microseconds=1), 10) == [], "first seen at T0: not checked before it"


def test_the_open_queue_is_read_page_by_page_each_mention_once_in_order(store: Store) -> None:
    """Pages of a thousand, each from where the last ended: mentions posted in the same second (ordered by id)
    are neither skipped nor repeated at a page's edge, and a limit is a limit."""
    posts = [Post(str(10_000 + i), "1", "", T0 + timedelta(seconds=i // 700), conversation_id=str(i + 1)) for i in range(2500)]
    with store.unit() as repo:
        repo.add_mentions(W, [(p, OPEN) for p in posts], T0)  # keys in the order of the list
        repo.start_alert(keys(repo, 11_000)[0], "C1", T0)
    expected = [p.id for p in posts]
    with store.read() as repo:
        everything = list(repo.iter_open_mentions())
        assert [m.post.id for m, _ in everything] == expected
        assert [m.post.id for m, alert in everything if alert is not None] == ["11000"], "each with its alert"
        assert [m.post.id for m, _ in repo.iter_open_mentions(1500)] == expected[:1500]
        assert [m.post.id for m, _ in repo.iter_open_mentions(1000)] == expected[:1000]


def test_sqlite_settings(tmp_path) -> None:  # noqa: ANN001
    engine = make_engine(f"sqlite:///{tmp_path}/sub/folder/r.db")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 15000
    engine.dispose()


def _modes(db: Path) -> dict[str, int]:
    """The permission bits of the database and of its WAL and shared-memory files."""
    return {f.name: stat.S_IMODE(f.stat().st_mode) for f in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm"))}


def test_the_database_and_its_wal_files_are_readable_by_their_owner_only(tmp_path: Path) -> None:
    """They hold Bluesky session tokens: 0600 from the first write, whatever the umask lets other files be."""
    db = tmp_path / "data" / "replywatch.db"
    old = os.umask(0o022)  # the usual one, under which files are created 0644
    try:
        engine = make_engine(f"sqlite:///{db}")
        upgrade(engine)
        with engine.begin() as conn:  # an open connection keeps the -wal and -shm files
            conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS probe (x)")
            conn.exec_driver_sql("INSERT INTO probe VALUES (1)")
            assert _modes(db) == {"replywatch.db": 0o600, "replywatch.db-wal": 0o600, "replywatch.db-shm": 0o600}
        engine.dispose()
    finally:
        os.umask(old)


def test_a_database_found_readable_by_others_is_tightened(tmp_path: Path, caplog) -> None:  # noqa: ANN001
    """A file an older replywatch created 0644, with its -wal and -shm beside it: the writer makes them 0600 and says so."""
    db = tmp_path / "replywatch.db"
    old = os.umask(0o022)
    try:
        earlier = sqlite3.connect(db)  # as an older replywatch left it, still open: -wal and -shm are there too
        earlier.execute("PRAGMA journal_mode=WAL")
        earlier.execute("CREATE TABLE t (x)")
        earlier.commit()
        assert set(_modes(db).values()) == {0o644}
        engine = make_engine(f"sqlite:///{db}")
        assert _modes(db) == {"replywatch.db": 0o600, "replywatch.db-wal": 0o600, "replywatch.db-shm": 0o600}
        assert "was open to other users (644): now 600" in caplog.text
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM t").scalar() == 0, "the data is untouched"
        engine.dispose()
        earlier.close()
    finally:
        os.umask(old)


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
                    repo.endpoint(W, "mentions")
                    repo.add_mentions(W, [(post(offset + i), OPEN)], T0)
                    repo.record_poll(W, "mentions", T0, cursor=str(offset + i))
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
        a, b = add(repo, post(BIG), post(BIG + 1))
        [c] = add(repo, post(BIG + 2, private=True), verdict=vip)
        repo.start_alert(a, "C1", T0)
        started = repo.start_digest([a, b, c], "C1", T0)
    assert started is not None
    digest, claimed = started
    assert sorted(claimed) == [b, c]
    with store.unit() as repo:
        assert [m.id for m in repo.digest(digest)[1]] == [b, c], "a mention alerted already is not taken twice"
        assert repo.mention(c).priority == "VIP: 250k followers" and repo.mention(c).post.private
        assert [d.id for d in repo.digests_in_doubt()] == [digest]
        assert [a.mention_id for a in repo.alerts_in_doubt()] == [a], "digest lines are found through their digest"
        repo.digest_sent(digest, "C1", "1.000002", T0)
        repo.alert_sent(a, "C1", "1.000001", T0)
    with store.unit() as repo:
        repo.claim(a, "U0JANE", T0)
        repo.record_action(a, "U0JANE", "claim", "", T0)
        assert repo.close(b, "no reply needed: spam", "U0OMAR")
        assert not repo.close(b, "again", "U0OMAR"), "closed once"
        repo.record_action(b, "U0OMAR", "close", "no reply needed: spam", T0)
    with store.unit() as repo:
        stale = {a.mention_id: (a.revision, a.rendered, a.digest_id) for a, _ in repo.alerts_to_refresh(T0)}
        assert stale == {a: (1, 0, None), b: (1, 0, digest)}
        assert repo.actions(a) == [("U0JANE", "claim", "", T0)]
        assert [(m.id, m.status, m.reason, m.claimed_by) for m in repo.closed_mentions()] == [
            (b, Status.CLOSED, "no reply needed: spam", "U0OMAR")
        ]
        repo.alert_rendered(a, 1, False, T0)
        repo.alert_rendered(b, 1, True, T0)
    with store.unit() as repo:
        assert repo.alerts_to_refresh(T0) == []
        assert {m.id for _, m in repo.follow_ups_due(T0, 100)} == {a, c}, "a closed mention's alert has none"


def test_a_read_does_not_wait_for_a_writer(tmp_path) -> None:  # noqa: ANN001
    """`/replywatch` is answered inside Slack's 3 seconds even while a poll holds the write lock."""
    import threading

    engine = make_engine(f"sqlite:///{tmp_path}/r.db")
    upgrade(engine)
    store = Store(engine)
    with store.unit() as repo:
        [first] = add(repo, post(BIG))
    holding, release = threading.Event(), threading.Event()

    def writer() -> None:
        with store.unit() as repo:
            repo.add_mentions(W, [(post(BIG + 1), OPEN)], T0)
            holding.set()
            release.wait(30)

    thread = threading.Thread(target=writer)
    thread.start()
    assert holding.wait(10)
    try:
        with store.read() as repo:
            seen = [m.id for m, _ in repo.open_mentions()]
        assert not release.is_set() and thread.is_alive(), "read while the writer still held the lock"
        assert seen == [first], "the last commit, not the writer's uncommitted row"
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


@pytest.mark.slow
def test_a_flood_of_mentions_is_stored_and_found_on_both_databases(store: Store) -> None:
    """Every statement that takes a list of ids or rows is batched: PostgreSQL takes at most 65,535 parameters a
    statement, SQLite 32,766 as built by default (Debian's build raises it to 250,000: held to the default here)."""
    if store.engine.dialect.name == "sqlite":
        store.engine.dispose()
        event.listen(store.engine, "connect", lambda conn, _: conn.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 32766))
    ids = [str(i) for i in range(BIG, BIG + FLOOD)]
    unknown = [str(i) for i in range(BIG + FLOOD, BIG + FLOOD + 20_000)]  # looked for, never stored
    author = str(BIG + 1)
    replies = [  # one for every tenth mention: 5,000 rows, five statements' worth
        Post(id=f"r{i}", author_id=None, text="", created_at=T0, conversation_id=i, replied_to_id=i, in_reply_to_user_id=author)
        for i in ids[::10]
    ]
    later = T0 + timedelta(hours=1)
    with store.unit() as repo:
        assert len(repo.add_mentions(W, [(post(int(i)), OPEN) for i in ids], T0)) == FLOOD
        repo.add_replies(W, replies)
    with store.unit() as repo:
        threads = [(i, author) for i in ids + unknown]
        assert sorted(p.id for p in repo.open_posts(W, ids + unknown, [])) == ids
        assert sorted(p.id for p in repo.open_posts(W, [], threads)) == ids
        found = repo.replies_to(W, "1", ids + unknown, threads)
        assert sorted(r.id for r in found) == sorted(r.id for r in replies), "each reply once, though it matches twice"
        stored = repo.mention_keys(W, ids + unknown)
        assert len(stored) == FLOOD
        keyed = [stored[i] for i in ids]
        for first_or_last in (keyed[0], keyed[-1]):
            repo.start_alert(first_or_last, "C1", T0)
            repo.alert_sent(first_or_last, "C1", f"1.{first_or_last}", T0)
        started = repo.start_digest(keyed, "C1", T0)
        assert started is not None
        digest = started[0]
        repo.followed_up(keyed + list(range(10**9, 10**9 + 20_000)), later, first=True)
    with store.read() as repo:
        assert len(repo.digest(digest)[1]) == FLOOD - 2, "every mention not alerted yet, in one digest"
        followed = {i: repo.alert(i).escalated_at for i in (keyed[0], keyed[-1])}
    assert followed == {keyed[0]: later, keyed[-1]: later}, "in the first chunk of ids and in the last"


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
