from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, tzinfo

import pytest
from hypothesis import settings

from bot.clock import FakeClock
from bot.model import Account, AccountKey, Mention, Network
from bot.rules import AlertPolicy, Signals
from bot.services.actions import ActionService
from bot.services.deleted import DeletionCheck
from bot.services.expiry import ExpiryService
from bot.services.followups import FollowUpService
from bot.services.health import HealthService
from bot.services.oncall import OnCallService
from bot.services.poll import OWN_POSTS, PollService, reply_endpoint
from bot.services.requests import Access
from bot.services.sweep import SweepService
from bot.slack.client import SlackClient
from bot.slack.interactions import Interactions
from bot.slack.sink import SlackSink
from bot.sources.x.client import XSource
from bot.standins.x_api import FakeX, User
from bot.store.db import make_engine, upgrade
from bot.store.repository import Store
from tests.standins.slack_api import FakeSlack

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
START = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)

# Hypothesis: `make test` tries each property on a few examples (the dev profile); `make test-all` sets
# HYPOTHESIS_PROFILE=ci: each property at the depth it states with `examples(n)`, and otherwise Hypothesis as it runs
# here unasked (its own "ci" settings where it detects a CI service, its defaults elsewhere).
HYPOTHESIS_PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "dev")
settings.register_profile("ci")
settings.register_profile("dev", max_examples=25)
settings.load_profile(HYPOTHESIS_PROFILE)


@pytest.fixture(autouse=True)
def _logging_as_it_was() -> Iterator[None]:
    """A command run in-process sets up logging onto the test's own stderr, closed once the test ends: later tests
    get the root logger back as it was (pytest's capture), not a handler writing to a closed file."""
    names = ("", "alembic", "slack_sdk")
    before = {name: (list(logging.getLogger(name).handlers), logging.getLogger(name).level) for name in names}
    yield
    for name, (handlers, level) in before.items():
        logger = logging.getLogger(name)
        logger.handlers[:] = handlers
        logger.setLevel(level)


def examples(depth: int) -> int:
    """A property's max_examples: `depth` in the CI profile, no more than the dev profile's otherwise."""
    return depth if HYPOTHESIS_PROFILE == "ci" else min(depth, settings.default.max_examples)


def postgres_reason() -> str | None:
    """Why PostgreSQL cannot be used here, or None (the benchmarks ask too)."""
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed"
    try:
        psycopg.connect(POSTGRES_URL.replace("+psycopg", ""), connect_timeout=3).close()
    except Exception as exc:  # noqa: BLE001
        return f"no PostgreSQL at {POSTGRES_URL}: {type(exc).__name__}"
    return None


@pytest.fixture(scope="session")
def postgres_admin_url() -> str:
    reason = postgres_reason()
    if reason:
        if os.environ.get("REQUIRE_POSTGRES") == "1":
            pytest.fail(f"REQUIRE_POSTGRES=1 but {reason}")
        pytest.skip(reason)
    return POSTGRES_URL


@pytest.fixture
def postgres_url(postgres_admin_url: str) -> Iterator[str]:
    """A fresh, empty database for one test, dropped afterwards."""
    import psycopg

    name = f"replywatch_{uuid.uuid4().hex[:12]}"
    admin = postgres_admin_url.replace("+psycopg", "")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield postgres_admin_url.rsplit("/", 1)[0] + f"/{name}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path) -> str:  # noqa: ANN001
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/replywatch.db"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    engine = make_engine(db_url)
    upgrade(engine)
    s = Store(engine)
    yield s
    s.dispose()


@pytest.fixture
def sqlite_store(tmp_path) -> Iterator[Store]:  # noqa: ANN001
    engine = make_engine(f"sqlite:///{tmp_path}/replywatch.db")
    upgrade(engine)
    s = Store(engine)
    yield s
    s.dispose()


@pytest.fixture
def fake_x() -> Iterator[FakeX]:
    x = FakeX()
    x.add_user("acme", "Acme Inc")
    yield x
    x.close()


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    slack = FakeSlack()
    yield slack
    slack.close()


@pytest.fixture
def env(fake_x: FakeX, fake_slack: FakeSlack, tmp_path, monkeypatch) -> dict[str, str]:  # noqa: ANN001
    """Environment for a bot that talks to the stand-ins, from a working folder without a .env."""
    values = {
        "X_ACCOUNT": "acme",
        "X_BEARER_TOKEN": fake_x.bearer,
        "X_API_BASE_URL": fake_x.url,
        "SLACK_BOT_TOKEN": fake_slack.token,
        "SLACK_CHANNEL": "#alerts",
        "SLACK_API_BASE_URL": fake_slack.url,
        "DATABASE_URL": f"sqlite:///{tmp_path}/replywatch.db",
        "HTTP_TIMEOUT": "5s",
    }
    from bot.config.settings import Settings

    settings = {name.upper() for name in Settings.model_fields}
    for key in list(os.environ):
        if key.startswith(("X_", "SLACK_")) or key in settings:
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    return values


@dataclass
class Loop:
    """The services wired to the stand-ins through the real adapters, on a fake clock. A tick runs each once, in
    the order in which what one writes is what the next reads."""

    x: FakeX
    slack: FakeSlack
    store: Store
    clock: FakeClock
    account: Account
    poll: PollService
    sweep: SweepService
    follow_ups: FollowUpService
    on_call: OnCallService
    health: HealthService
    expiry: ExpiryService
    acme: User
    display: dict = field(default_factory=dict)  # the renderer's: buttons, display_tz

    def tick(self, advance: timedelta = timedelta(0)) -> None:
        self.clock.advance(advance)
        for service in (self.poll, self.expiry, self.health, self.on_call, self.follow_ups, self.sweep):
            service.run_once()

    def configure(self, **changes: object) -> None:
        """Change AlertPolicy fields (and the renderer's `buttons`, `display_tz`) for every service that reads them."""
        self.display.update({k: changes.pop(k) for k in ("buttons", "display_tz") if k in changes})
        config = replace(self.sweep.config, **_with_tz(changes))
        for service in (self.sweep, self.follow_ups, self.on_call, self.expiry):
            service.config = config
        self.sweep.sink = self.sweep.outbox.sink = self.on_call.sink = slack_sink(self.sweep.sink.client, config, **self.display)
        self.sweep._rejudged = self.follow_ups._rejudged = False  # as a restart with new settings does

    def key(self, post_id: int) -> int:
        """The store's key of the mention with this X id (what Slack buttons carry)."""
        with self.store.read() as repo:
            return repo.mention_keys(AccountKey(Network.X, "acme"), [str(post_id)])[str(post_id)]

    def mention(self, post_id: int) -> Mention | None:
        """The stored mention with this X id, if there is one."""
        with self.store.read() as repo:
            key = repo.mention_keys(AccountKey(Network.X, "acme"), [str(post_id)]).get(str(post_id))
            return repo.mention(key) if key is not None else None

    def post(self, author: User, text: str, **kwargs: object) -> int:
        return self.x.post(author, text, at=self.clock.now(), **kwargs)  # type: ignore[arg-type]


def slack_sink(client: SlackClient, config: AlertPolicy, buttons: bool = False, display_tz: tzinfo | None = None) -> SlackSink:
    """The Slack sink as `replywatch run` builds it from its settings."""
    return SlackSink(client, buttons=buttons, tz=display_tz or config.tz, on_call=config.on_call)


def slack_actions(loop: Loop, tz: tzinfo = UTC, access: Access | None = None) -> Interactions:
    """The loop's buttons and `/replywatch` as Socket Mode delivers them: Slack's payloads read and answered by
    bot.slack.interactions, decided by the actions service (`handle(kind, payload)` → the Answer)."""
    actions = ActionService(loop.store, loop.sweep.sink, loop.clock, "C0ALERTS", tz, access)
    return Interactions(actions, loop.sweep.sink.client.tell)


def policy(**fields: object) -> AlertPolicy:
    """The AlertPolicy `replywatch run` builds from the default settings, with `fields` changed (its time zone follows
    a `schedule` given, as the one time-zone rule has it)."""
    from bot.app.configure import alert_policy
    from bot.config.load import Config
    from bot.config.settings import Settings

    base = alert_policy(Config(Settings(x_account="acme", x_bearer_token="test", replywatch_config=None)))  # type: ignore[arg-type]
    return replace(base, **_with_tz(fields))


def judging(tz: tzinfo, alert_after: timedelta, by_account: dict | None = None, hours: object = None, **policy_fields: object):  # noqa: ANN201
    """How a report judges (bot.report.compute.Judging): by the AlertPolicy of the default settings, in `tz`, with
    `alert_after` (each account of `by_account` its own) and the business `hours` given."""
    from bot.calendar.schedule import Schedule
    from bot.report.compute import Judging
    from bot.rules import AccountRules

    accounts = {key: AccountRules("#alerts", wait, wait, ()) for key, wait in (by_account or {}).items()}
    schedule = Schedule(tz, hours=hours) if hours is not None else None  # type: ignore[arg-type]
    return Judging(policy(**{"tz": tz, "alert_after": alert_after, "alert_after_vip": alert_after, "schedule": schedule,
                             "accounts": accounts, **policy_fields}))


def _with_tz(fields: dict) -> dict:
    schedule = fields.get("schedule")
    return {"tz": schedule.tz, **fields} if schedule is not None else fields


def make_loop(
    fake_x: FakeX,
    fake_slack: FakeSlack,
    store: Store,
    alert_after: timedelta = timedelta(minutes=30),
    interval: timedelta = timedelta(seconds=60),
    timeout: float = 5,
    responders: tuple[str, ...] = (),
    signals: dict | None = None,
    **sweep: object,
) -> Loop:
    """`signals`: Signals fields besides the ids (muted, keywords, vip_min_followers …); `sweep`: AlertPolicy fields,
    and the renderer's `buttons` and `display_tz`."""
    clock = FakeClock(START)
    fake_x.now = clock.now
    fake_slack.now = lambda: clock.now().timestamp()
    x = XSource(base_url=fake_x.url, timeout=timeout, handle="acme", bearer_token=fake_x.bearer, clock=clock.now)
    slack = SlackClient(token=fake_slack.token, base_url=fake_slack.url, timeout=timeout)
    account = x.account()
    helpers = [x.lookup(h) for h in responders]
    rules = Signals(account.id, frozenset(r.id for r in helpers), **(signals or {}))
    display = {k: sweep.pop(k) for k in ("buttons", "display_tz") if k in sweep}
    config = policy(**{
        "channel": slack.channel_id("#alerts"),
        "alert_after": alert_after,
        "reply_endpoints": (OWN_POSTS, *(reply_endpoint(r) for r in helpers)),
        "read_patience": interval + timedelta(seconds=3 * timeout),  # a poll interval and a call's deadline, as `run` has it
        **sweep,
    })
    where = AccountKey(Network.X, "acme")
    deletions = DeletionCheck({where: x}, store)
    sink = slack_sink(slack, config, **display)
    return Loop(
        x=fake_x,
        slack=fake_slack,
        store=store,
        clock=clock,
        account=account,
        poll=PollService(x, store, account, clock, interval, rand=lambda: 0.5, signals=rules, responders=helpers),
        sweep=SweepService(sink, store, [where], clock, config, deletions),
        follow_ups=FollowUpService(store, [where], clock, config, deletions),
        on_call=OnCallService(sink, store, clock, config),
        health=HealthService(store, where, clock, interval),
        expiry=ExpiryService(store, clock, config),
        acme=fake_x.user("acme"),
        display=display,
    )


@pytest.fixture
def loop(fake_x: FakeX, fake_slack: FakeSlack, sqlite_store: Store) -> Loop:
    return make_loop(fake_x, fake_slack, sqlite_store)



def pytest_terminal_summary(terminalreporter) -> None:  # noqa: ANN001
    from tests.reliability.figures import FIGURES, ORDER

    if not FIGURES:
        return
    terminalreporter.section("reliability figures")
    for name in [n for n in ORDER if n in FIGURES] + sorted(set(FIGURES) - set(ORDER)):  # those the tests run recorded
        terminalreporter.write_line(f"{name}: {FIGURES[name]}")
