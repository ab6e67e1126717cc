"""The command line as a user runs it: settings from the environment and the working folder, stand-ins for X and
Slack. Commands run in this process (bot.cli.main, as sqlite-utils tests its CLI); what is about processes, signals
and locks (a second `run`, a writer holding SQLite's lock, what a command imports) runs in a real one."""

from __future__ import annotations

import argparse
import gc
import io
import json
import logging
import os
import subprocess
import sys
import threading
import traceback
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from pathlib import Path
from unittest import mock

import pytest

from bot.standins.x_api import FakeX
from tests.conftest import make_loop
from tests.standins.slack_api import FakeSlack

ROOT = Path(__file__).resolve().parents[2]


def cli(env: dict[str, str], *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """`replywatch ARGS` in this process, as `cli_process` runs it in a new one: the environment without X_* and
    SLACK_*, plus `env`; the working folder's .env; stdout and stderr captured; the exit status main returns (or
    SystemExit's, or 1 and the traceback for an uncaught exception). What main changes for the whole process (the
    environment, the logging handlers and levels, the collector) is put back afterwards. It runs on a thread of its
    own, so that a command that does not end within `timeout` fails the test instead of hanging the suite. `run` is
    always a new process: it takes the database's lock and the signals, which only the end of a process gives back."""
    from bot.cli import main

    if args[:1] == ("run",):
        return cli_process(env, *args, timeout=timeout)
    out, err, status = io.StringIO(), io.StringIO(), []

    def call() -> None:
        try:
            status.append(main(list(args)))
        except SystemExit as exc:  # argparse: --help, --version, a usage error
            if exc.code is not None and not isinstance(exc.code, int):
                print(exc.code, file=sys.stderr)
            status.append(exc.code if isinstance(exc.code, int) else int(exc.code is not None))
        except BaseException:  # noqa: BLE001 - what a process would print before exiting with 1
            traceback.print_exc()
            status.append(1)

    with _isolated(env), redirect_stdout(out), redirect_stderr(err):
        worker = threading.Thread(target=call, name="replywatch-cli", daemon=True)
        worker.start()
        worker.join(timeout)
    assert not worker.is_alive(), f"replywatch {' '.join(args)} was still running after {timeout} s"
    return subprocess.CompletedProcess(["replywatch", *args], status[0], out.getvalue(), err.getvalue())


@contextmanager
def _isolated(env: dict[str, str]) -> Iterator[None]:
    loggers = [logging.getLogger(name) for name in (None, "alembic", "slack_sdk")]  # those logs.configure sets
    saved = [(logger, logger.level, list(logger.handlers)) for logger in loggers]
    with mock.patch.dict(os.environ):
        for key in [k for k in os.environ if k.startswith(("X_", "SLACK_"))]:
            del os.environ[key]
        os.environ.update(env)
        try:
            yield
        finally:
            for logger, level, handlers in saved:
                logger.setLevel(level)
                logger.handlers[:] = handlers
            gc.enable()
            gc.unfreeze()  # `status` and `health` freeze what they imported: a process would end there


def cli_process(env: dict[str, str], *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """`replywatch ARGS` as a new process (`python -m bot`), for what is about processes, signals and locks."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("X_", "SLACK_"))}
    base["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-m", "bot", *args], env={**base, **env}, capture_output=True, text=True, timeout=timeout, cwd=os.getcwd()
    )


def assert_clean_failure(result: subprocess.CompletedProcess[str], message: str, env: dict[str, str]) -> None:
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("replywatch: ") and message in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    for key in ("X_BEARER_TOKEN", "SLACK_BOT_TOKEN"):
        if env.get(key):
            assert env[key] not in result.stderr + result.stdout


@pytest.mark.parametrize("command", [[], ["run"], ["status"], ["check"], ["db"], ["db", "upgrade"], ["health"]])
def test_every_command_has_help(command: list[str]) -> None:
    result = cli({}, *command, "--help")
    assert result.returncode == 0 and "usage: replywatch" in result.stdout


def test_check_reports_what_it_found(env: dict[str, str]) -> None:
    _stored(env["DATABASE_URL"])
    result = cli(env, "check")
    assert result.returncode == 0, result.stderr
    assert "slack: token ok (team 'Acme'" in result.stdout
    assert "alerts go to #alerts (C0ALERTS)" in result.stdout
    assert "x: token ok (app-only bearer token); watching @acme on X (id 10001)" in result.stdout
    assert "database: ok, schema up to date, 1 open mention(s)" in result.stdout


def test_a_copied_env_example_checks_clean_and_run_names_what_it_needs(env: dict[str, str]) -> None:
    Path(".env").write_text((ROOT / ".env.example").read_text())  # the working folder is the test's own
    result = cli({}, "check")
    assert result.returncode == 0, result.stderr
    assert "Slack: not used (SINK=console)" in result.stdout
    assert "accounts: none to watch yet: X_ACCOUNT is required but not set" in result.stdout
    assert_clean_failure(cli({}, "run"), "X_ACCOUNT is required but not set", {})


def test_check_without_slack_says_so_and_still_checks_the_networks(env: dict[str, str], fake_slack: FakeSlack) -> None:
    env = {k: v for k, v in env.items() if not k.startswith("SLACK_")}
    result = cli(env, "check")
    assert result.returncode == 0, result.stderr
    assert "Slack: not used (SINK=console)" in result.stdout and "#replywatch" in result.stdout
    assert "x: token ok (app-only bearer token); watching @acme on X (id 10001)" in result.stdout
    assert fake_slack.http.calls("/") == []
    wrong = cli({**env, "X_BEARER_TOKEN": "wrong-bearer-secret"}, "check")
    assert_clean_failure(wrong, "X_BEARER_TOKEN was rejected by X: HTTP 401", {**env, "X_BEARER_TOKEN": "wrong-bearer-secret"})


@pytest.mark.parametrize("command", ["run", "check"])
def test_sink_slack_without_a_token_stops_with_one_line(env: dict[str, str], command: str) -> None:
    env = {**{k: v for k, v in env.items() if k != "SLACK_BOT_TOKEN"}, "SINK": "slack"}
    assert_clean_failure(cli(env, command), "SLACK_BOT_TOKEN is required but not set (SINK=slack", env)


def test_check_verifies_every_account_one_line_each(env: dict[str, str], tmp_path: Path) -> None:
    from bot.standins.bluesky_api import FakeBluesky
    from bot.standins.mastodon_api import FakeMastodon

    bsky, masto = FakeBluesky(), FakeMastodon(token="masto-token-5e1f")
    try:
        bsky.add_user("acme.bsky.social", password="bsky-pass-93aa")
        masto.add_account("acme")
        (tmp_path / "replywatch.toml").write_text(
            '[[accounts]]\nnetwork = "x"\nhandle = "acme"\n\n'
            f'[[accounts]]\nnetwork = "bluesky"\nhandle = "acme.bsky.social"\ninstance = "{bsky.url}"\n'
            'app_password_env = "BSKY_PASSWORD"\n\n'
            f'[[accounts]]\nnetwork = "mastodon"\nhandle = "acme"\ninstance = "{masto.url}"\naccess_token_env = "MASTO_TOKEN"\n'
        )
        secrets = {"BSKY_PASSWORD": "bsky-pass-93aa", "MASTO_TOKEN": "masto-token-5e1f"}
        result = cli({**env, **secrets}, "check")
        assert result.returncode == 0, result.stderr
        lines = [line for line in result.stdout.splitlines() if line.startswith(("x:", "bluesky:", "mastodon:"))]
        assert [line.split(";")[0] for line in lines] == [
            "x: token ok (app-only bearer token)", "bluesky: token ok (app password)", "mastodon: token ok (access token)",
        ]
        assert "watching @acme.bsky.social on Bluesky (id did:plc:" in lines[1] and "watching @acme@127.0.0.1 on Mastodon" in lines[2]
        wrong = cli({**env, **secrets, "MASTO_TOKEN": "masto-wrong-token-77"}, "check")
        assert wrong.returncode == 2 and "MASTO_TOKEN was rejected by Mastodon" in wrong.stderr, wrong.stderr
        assert "masto-wrong-token-77" not in wrong.stderr + wrong.stdout
        missing = cli({**env, "BSKY_PASSWORD": "bsky-pass-93aa"}, "check")
        assert missing.returncode == 2 and 'account "acme": access_token_env: MASTO_TOKEN is not set' in missing.stderr
    finally:
        bsky.close()
        masto.close()


def test_check_with_user_context_auth(env: dict[str, str], fake_x: FakeX) -> None:
    del env["X_BEARER_TOKEN"]
    keys = {"X_API_KEY": fake_x.api_key, "X_API_SECRET": "s1", "X_ACCESS_TOKEN": "t1", "X_ACCESS_TOKEN_SECRET": "s2"}
    result = cli({**env, **keys}, "check")
    assert result.returncode == 0, result.stderr
    assert "x: token ok (user context)" in result.stdout
    assert fake_x.http.calls("/2/users/by/username/acme")[-1].headers["authorization"].startswith("OAuth ")


def test_check_says_when_replies_from_slack_cannot_be_posted(env: dict[str, str], fake_x: FakeX, tmp_path: Path) -> None:
    del env["X_BEARER_TOKEN"]
    keys = {"X_API_KEY": fake_x.api_key, "X_API_SECRET": "s1", "X_ACCESS_TOKEN": "t1", "X_ACCESS_TOKEN_SECRET": "s2"}
    (tmp_path / "accounts.toml").write_text('[[accounts]]\nnetwork = "x"\nhandle = "acme"\nreply_from_slack = true\n')
    env = {**env, **keys, "REPLYWATCH_CONFIG": str(tmp_path / "accounts.toml")}
    ok = cli(env, "check")
    assert ok.returncode == 0, ok.stderr
    assert "x: replies from Slack as @acme on X: ok" in ok.stdout
    fake_x.access_level = "read"
    refused = cli(env, "check")
    assert refused.returncode == 0, "run starts all the same: the form says so"
    assert "x: replies from Slack as @acme on X: cannot be posted: the X app behind X_API_KEY is read-only" in refused.stdout


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"SLACK_BOT_TOKEN": "xoxb-wrong-secret"}, "SLACK_BOT_TOKEN was rejected by Slack: invalid_auth"),
        ({"X_BEARER_TOKEN": "wrong-bearer-secret"}, "X_BEARER_TOKEN was rejected by X: HTTP 401"),
        ({"X_ACCOUNT": "nobody"}, "X_ACCOUNT: X has no account @nobody"),
        ({"SLACK_CHANNEL": "#nope"}, "SLACK_CHANNEL: no channel #nope visible to the bot"),
        ({"X_API_BASE_URL": "http://127.0.0.1:9"}, "cannot reach X at X_API_BASE_URL"),
        ({"SLACK_API_BASE_URL": "http://127.0.0.1:9/api/"}, "cannot reach Slack at SLACK_API_BASE_URL"),
    ],
)
def test_rejected_tokens_and_unknown_names_stop_with_one_line(
    env: dict[str, str], change: dict[str, str], message: str
) -> None:
    env = {**env, **change}
    assert_clean_failure(cli(env, "check"), message, env)


@pytest.mark.parametrize("change", [{"SLACK_BOT_TOKEN": "xoxb-wrong-secret"}, {"X_BEARER_TOKEN": "wrong-bearer-secret"}])
def test_run_refuses_to_start_with_a_rejected_token(env: dict[str, str], change: dict[str, str]) -> None:
    env = {**env, **change}
    assert_clean_failure(cli(env, "run"), "was rejected by", env)


@pytest.mark.parametrize(
    ("change", "command", "message"),
    [
        ({"ALERT_AFTER": "soon"}, "status", "ALERT_AFTER must be a duration"),
        ({"SLACK_BOT_TOKEN": "xapp-1"}, "status", "SLACK_BOT_TOKEN must be a Slack bot token starting with xoxb-"),
        ({"SLACK_BOT_TOKEN": "", "SINK": "slack"}, "status", "SLACK_BOT_TOKEN is required but not set"),  # empty: not set
        ({"X_BEARER_TOKEN": ""}, "check", "X credentials are required"),  # `status` reads the database only: it needs none
        ({"DATABASE_URL": "nosuchdb://x"}, "status", "DATABASE_URL"),
    ],
)
def test_bad_settings_stop_with_one_line(env: dict[str, str], change: dict[str, str], command: str, message: str) -> None:
    env = {**env, **change}
    env = {k: v for k, v in env.items() if v != "" or k == "SLACK_BOT_TOKEN"}  # given empty: as if not given
    assert_clean_failure(cli(env, command), message, env)


def test_unreachable_database_is_one_line(env: dict[str, str]) -> None:
    env = {**env, "DATABASE_URL": "postgresql+psycopg://bot:dbsecret99@127.0.0.1:9/none"}
    result = cli(env, "status")
    assert_clean_failure(result, "DATABASE_URL: cannot use the database", env)
    assert "dbsecret99" not in result.stderr


def test_a_second_run_on_the_same_sqlite_file_is_refused(env: dict[str, str], fake_x: FakeX, fake_slack: FakeSlack, tmp_path: Path) -> None:
    """Two processes on one SQLite file would both poll and both post: the second stops before it does anything."""
    from bot.standins.http import wait_for

    base = {k: v for k, v in os.environ.items() if not k.startswith(("X_", "SLACK_"))}
    with (tmp_path / "first.log").open("wb") as log:
        first = subprocess.Popen([sys.executable, "-m", "bot", "run"], env={**base, **env, "PYTHONPATH": str(ROOT)}, stdout=log, stderr=log)
    try:
        assert wait_for(lambda: fake_x.http.calls("/mentions"), timeout=20), (tmp_path / "first.log").read_text()
        checks = len(fake_slack.http.calls("auth.test"))
        second = cli_process(env, "run", timeout=20)
        assert_clean_failure(second, f"DATABASE_URL: another `replywatch run` uses {tmp_path}/replywatch.db", env)
        assert len(fake_slack.http.calls("auth.test")) == checks, "refused before it checked a token or migrated"
        assert first.poll() is None, "the first goes on"
    finally:
        first.terminate()
        first.wait(timeout=20)


def test_status_lists_open_mentions_oldest_first(env: dict[str, str], fake_x: FakeX, fake_slack: FakeSlack) -> None:
    from bot.store.db import make_engine, upgrade
    from bot.store.repository import Store

    engine = make_engine(env["DATABASE_URL"])
    upgrade(engine)
    loop = make_loop(fake_x, fake_slack, Store(engine))
    bob, carol = fake_x.add_user("bob"), fake_x.add_user("carol", "Carol\x1b[2J")
    from datetime import UTC, datetime, timedelta

    now = datetime.now(UTC)
    loop.clock.advance(now - loop.clock.now())
    fake_x.post(carol, "@acme newer", at=now - timedelta(minutes=5))
    older = fake_x.post(bob, "@acme older", at=now - timedelta(hours=2))
    loop.tick()
    engine.dispose()

    result = cli(env, "status")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[:2] == ["open mentions: 2 (oldest first, by account)", "@acme on X: 2 open"]
    assert "@bob" in lines[2] and "alerted" in lines[2] and "not alerted" not in lines[2]
    carol_due = (now - timedelta(minutes=5) + timedelta(minutes=30)).strftime("%Y-%m-%d %H:%M")
    assert "@carol" in lines[3] and " due " in lines[3] and f"{carol_due} UTC" in lines[3], "when ALERT_AFTER ends"
    assert "@acme on X: mentions   last success" in result.stdout and "next read in" in result.stdout

    data = json.loads(cli(env, "status", "--json").stdout)
    assert [m["author_handle"] for m in data["open"]] == ["bob", "carol"]
    assert data["open"][0]["id"] == str(older) and data["open"][0]["alerted"] is True
    assert {c["endpoint"] for c in data["collection"]} == {"mentions", "own_posts"}


def test_status_all_shows_why_each_closed_mention_closed(env: dict[str, str], fake_x: FakeX, fake_slack: FakeSlack) -> None:
    from datetime import UTC, datetime

    from bot.rules import keyword_pattern
    from bot.store.db import make_engine, upgrade
    from bot.store.repository import Store

    engine = make_engine(env["DATABASE_URL"])
    upgrade(engine)
    loop = make_loop(fake_x, fake_slack, Store(engine), signals={"keywords": (("giveaway", keyword_pattern("giveaway")),)})
    loop.clock.advance(datetime.now(UTC) - loop.clock.now())
    bob, carol = fake_x.add_user("bob"), fake_x.add_user("carol")
    thread = loop.post(bob, "@acme @carol hi")
    loop.post(carol, "@bob @acme agreed", reply_to=thread)
    loop.post(bob, "@acme win a GIVEAWAY")
    spam = loop.post(carol, "@acme buy followers")
    loop.tick()
    with loop.store.unit() as repo:
        repo.close(loop.key(spam), "no reply needed: spam", "U0JANE")
    engine.dispose()

    result = cli(env, "status", "--all")
    assert result.returncode == 0, result.stderr
    closed = result.stdout.split("closed mentions: 3 (newest first)\n")[1].splitlines()
    assert "closed    no reply needed: spam" in closed[0]
    assert "ignored   ignored keyword giveaway" in closed[1]
    assert "ignored   implicit mention: only in the reply chain" in closed[2]
    assert "closed mentions" not in cli(env, "status").stdout
    data = json.loads(cli(env, "status", "--all", "--json").stdout)
    assert [c["reason"] for c in data["closed"]][0] == "no reply needed: spam"


def test_status_shows_a_failing_timeline(env: dict[str, str], fake_x: FakeX, fake_slack: FakeSlack) -> None:
    from datetime import UTC, datetime

    from bot.standins.http import Reply
    from bot.store.db import make_engine, upgrade
    from bot.store.repository import Store

    engine = make_engine(env["DATABASE_URL"])
    upgrade(engine)
    loop = make_loop(fake_x, fake_slack, Store(engine))
    loop.clock.advance(datetime.now(UTC) - loop.clock.now())
    fake_x.http.fail("/mentions", Reply(503, {"title": "Service Unavailable", "type": "about:blank"}))
    loop.tick()
    engine.dispose()
    result = cli(env, "status")
    assert "@acme on X: mentions   last success never, next read in" in result.stdout
    assert "FAILING for" in result.stdout and "HTTP 503" in result.stdout
    data = json.loads(cli(env, "status", "--json").stdout)
    failing = next(c for c in data["collection"] if c["endpoint"] == "mentions")
    assert failing["error"] and failing["failing_since"] and failing["next_attempt_at"]


def _stored(url: str, revision: str = "head") -> None:
    """A database at `revision` with one open mention and a poll a moment ago."""
    from datetime import UTC, datetime

    from bot.model import AccountKey, Network, Post, Status, Verdict
    from bot.store.db import make_engine, upgrade
    from bot.store.repository import Store

    engine = make_engine(url)
    upgrade(engine, revision)
    if revision == "head":
        now = datetime.now(UTC)
        with Store(engine).unit() as repo:
            where = AccountKey(Network.X, "acme")
            mention = Post(id="4242", author_id="7", text="@acme hello?", created_at=now, conversation_id="4242",
                           author_handle="bob", url="https://x.com/bob/status/4242")
            repo.add_mentions(where, [(mention, Verdict(Status.OPEN, "waiting for a reply"))], now)
            repo.record_poll(where, "mentions", now, cursor="4242")
    engine.dispose()


def test_health_and_status_answer_while_a_writer_holds_the_lock(env: dict[str, str], tmp_path: Path) -> None:
    """Reads never take the write lock: the container's health check does not wait out the 15 s busy timeout."""
    import sqlite3
    import time

    _stored(env["DATABASE_URL"])
    writer = sqlite3.connect(tmp_path / "replywatch.db", isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # as a poll does while it stores what it read
    try:
        for command, expected in (("health", "healthy"), ("status", "open mentions: 1")):
            started = time.monotonic()
            result = cli_process(env, command, timeout=12)
            took = time.monotonic() - started
            assert result.returncode == 0, result.stderr
            assert result.stdout.startswith(expected)
            assert took < 5, f"{command} took {took:.1f} s"
    finally:
        writer.rollback()
        writer.close()


# What `status` and `health` must not load: they answer in well under a second (a container's health check, someone
# at a terminal) because only `run` and `check` import the X and Slack clients, the migrations and the scheduler.
NOT_FOR_READS = ("tweepy", "slack_sdk", "requests", "alembic", "apscheduler", "pydantic_settings", "bot.x", "bot.slack.client")


@pytest.mark.parametrize("args", [["status"], ["status", "--json", "--all"], ["health"]])
def test_reads_import_neither_the_clients_nor_the_migrations(env: dict[str, str], args: list[str]) -> None:
    _stored(env["DATABASE_URL"])
    probe = (
        "import gc, sys; from bot.cli import main; code = main(sys.argv[1:]); "
        f"print('loaded:', sorted({{m.split('.')[0] if not m.startswith('bot.') else m for m in sys.modules}} & set({NOT_FOR_READS!r})), "
        "'collector on:', gc.isenabled()); sys.exit(code)"
    )
    base = {k: v for k, v in os.environ.items() if not k.startswith(("X_", "SLACK_"))}
    result = subprocess.run([sys.executable, "-c", probe, *args], env={**base, **env, "PYTHONPATH": str(ROOT)}, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "loaded: [] collector on: True", "imported with the collector off, then on again"


def test_status_reads_a_read_only_copy(env: dict[str, str], tmp_path: Path) -> None:
    """A copy taken with VACUUM INTO (not in WAL mode), opened read-only through SQLite's URI form."""
    import sqlite3

    _stored(env["DATABASE_URL"])
    copy = tmp_path / "copy" / "replywatch.db"
    copy.parent.mkdir()
    with sqlite3.connect(tmp_path / "replywatch.db") as source:
        source.execute("VACUUM INTO ?", (str(copy),))
    before = copy.read_bytes()
    env = {**env, "DATABASE_URL": f"sqlite:///file:{copy}?mode=ro&uri=true"}
    for command, expected in (("status", "open mentions: 1"), ("health", "healthy")):
        result = cli(env, command)
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith(expected)
    assert copy.read_bytes() == before
    assert not (tmp_path / "file:").exists(), "the URI is not a folder to create"


@pytest.mark.parametrize("state", ["behind", "missing"])
def test_reads_name_the_fix_for_a_schema_that_is_behind(env: dict[str, str], tmp_path: Path, state: str) -> None:
    """status and health never migrate: a schema one migration behind, or no database at all, is one line naming
    `replywatch db upgrade`, and the database is left as it was. check says the same and carries on."""
    from bot.store.db import current_revision, make_engine

    db = tmp_path / "replywatch.db"
    if state == "behind":
        _stored(env["DATABASE_URL"], "0002")
    for command in ("status", "health"):
        assert_clean_failure(cli(env, command), "run `replywatch db upgrade`", env)
    checked = cli(env, "check")
    assert checked.returncode == 0, checked.stderr
    assert "run `replywatch db upgrade`" in checked.stdout
    if state == "missing":
        assert not db.exists(), "a read creates no database"
    else:
        engine = make_engine(env["DATABASE_URL"])
        assert current_revision(engine) == "0002"
        engine.dispose()
    assert cli(env, "db", "upgrade").returncode == 0
    assert cli(env, "status").stdout.startswith("open mentions: 0")


def test_a_schema_newer_than_this_replywatch_is_one_line(env: dict[str, str], tmp_path: Path) -> None:
    """A database a newer replywatch migrated: reads and `db upgrade` stop with one line instead of a traceback."""
    import sqlite3

    _stored(env["DATABASE_URL"])
    db = sqlite3.connect(tmp_path / "replywatch.db")
    with db:
        db.execute("UPDATE alembic_version SET version_num = '0999'")
    db.close()
    for command in (["status"], ["db", "upgrade"]):
        assert_clean_failure(cli(env, *command), "the database schema is at 0999, newer than this replywatch knows", env)


def test_status_lists_the_oldest_and_sums_up_the_rest(env: dict[str, str], fake_x: FakeX, fake_slack: FakeSlack) -> None:
    """A long queue: a summary and the oldest --limit, in text and in (streamed) JSON."""
    from datetime import UTC, datetime, timedelta

    from bot.model import AccountKey, Network, Post, Status, Verdict
    from bot.store.db import make_engine, upgrade
    from bot.store.repository import Store

    engine = make_engine(env["DATABASE_URL"])
    upgrade(engine)
    now = datetime.now(UTC)
    posts = [Post(id=str(1000 + i), author_id="7", text="hi", created_at=now - timedelta(minutes=i), author_handle=f"fan{i}")
             for i in range(120)]
    bluesky = AccountKey(Network.BLUESKY, "acme.bsky.social")
    elsewhere = [Post(id=f"at://did:plc:b{i}/app.bsky.feed.post/3l{i}", author_id=f"did:plc:b{i}", text="hi",
                      created_at=now - timedelta(hours=5), author_handle=f"sky{i}.bsky.social") for i in range(3)]
    waiting = Verdict(Status.OPEN, "waiting for a reply")
    with Store(engine).unit() as repo:
        repo.add_mentions(AccountKey(Network.X, "acme"), [(p, waiting) for p in posts], now)
        repo.add_mentions(bluesky, [(p, waiting) for p in elsewhere], now)
    engine.dispose()

    lines = cli(env, "status").stdout.splitlines()
    assert lines[0] == "open mentions: 123 (oldest first, by account)"
    assert lines[1] == "@acme on X: 120 open", "the watched account first, though the other's mentions are older"
    assert "@fan119 " in lines[2] and "@fan70 " in lines[51], "the 50 oldest"
    assert lines[52].strip() == "… and 70 more (--limit N shows N, --limit 0 all)"
    assert lines[53] == "@acme.bsky.social on Bluesky: 3 open" and "@sky0.bsky.social" in lines[54]
    assert sum("@fan" in line for line in cli(env, "status", "--limit", "0").stdout.splitlines()) == 120
    data = json.loads(cli(env, "status", "--json", "--limit", "3").stdout)
    assert data["summary"]["open"] == 123 and data["summary"]["listed"] == 3 and data["summary"]["alerted"] == 0
    assert data["summary"]["accounts"] == [
        {"network": "x", "account": "acme", "open": 120}, {"network": "bluesky", "account": "acme.bsky.social", "open": 3},
    ]
    assert [m["author_handle"] for m in data["open"]] == ["sky0.bsky.social", "sky1.bsky.social", "sky2.bsky.social"]
    bad = cli(env, "status", "--limit", "some")
    assert bad.returncode == 2 and "--limit: a whole number of at least 0" in bad.stderr and "Traceback" not in bad.stderr


def test_version_and_every_command_says_what_it_does() -> None:
    result = cli({}, "--version")
    assert result.returncode == 0 and result.stdout.startswith("replywatch ") and result.stdout.strip() != "replywatch"
    from bot.cli import _parser

    def commands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
        found = {}
        for action in parser._subparsers._group_actions if parser._subparsers else []:  # noqa: SLF001
            for name, sub in action.choices.items():
                found[name] = sub
                found |= {f"{name} {k}": v for k, v in commands(sub).items()}
        return found

    every = commands(_parser())
    assert {"run", "status", "report", "demo", "check", "db upgrade", "oncall", "health"} <= set(every)
    assert [name for name, sub in every.items() if not sub.description] == [], "each --help says what the command does"
