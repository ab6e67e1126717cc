"""/metrics and /healthz, scraped over HTTP from an app built as `replywatch run` builds it, against the stand-ins,
on a fake clock: each figure moves as the stand-ins make it move."""

from __future__ import annotations

import socket as sockets
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from bot.app.wire import App, build_app, poll_job
from bot.calendar.schedule import Hours, Schedule
from bot.clock import FakeClock
from bot.config.load import load_config
from bot.metrics.collector import StoreCollector, Watch, overdue
from bot.metrics.http import MetricsServer
from bot.model import AccountKey, Mention, Network, Post, Status, Verdict
from bot.rules import AlertPolicy
from bot.standins.http import Reply, wait_for
from bot.standins.x_api import FakeX
from bot.store.repository import Store
from tests.conftest import START, policy
from tests.standins.slack_api import FakeSlack

SEC, MIN = timedelta(seconds=1), timedelta(minutes=1)
ACME = {"network": "x", "account": "acme"}


class Running:
    """The app, its jobs as `run` schedules them (timed), and its metrics port."""

    def __init__(self, app: App, server: MetricsServer, clock: FakeClock) -> None:
        self.app, self.server, self.clock = app, server, clock
        self.jobs = {name: job for name, job, _ in app.jobs()}

    def poll(self) -> None:
        self.jobs[poll_job(self.app.polls[0].where)]()

    def sweep(self) -> None:
        self.jobs["sweep"]()

    def get(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.server.port}{path}", timeout=5) as answer:
                return answer.status, answer.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def scrape(self) -> dict[tuple[str, frozenset], float]:
        """Every sample of /metrics, by name and labels."""
        status, text = self.get("/metrics")
        assert status == 200
        return {
            (s.name, frozenset(s.labels.items())): s.value for f in text_string_to_metric_families(text) for s in f.samples
        }

    def value(self, name: str, **labels: str) -> float:
        """One sample (0 if absent: a counter not yet counted)."""
        return self.scrape().get((name, frozenset(labels.items())), 0.0)


@pytest.fixture
def running(env: dict[str, str], fake_x: FakeX, fake_slack: FakeSlack, monkeypatch: pytest.MonkeyPatch) -> Iterator[Running]:
    settings = {**env, "ALERT_AFTER": "60s", "ESCALATE_AFTER": "5m", "POLL_INTERVAL": "60s", "METRICS_PORT": "9108"}
    for key, value in settings.items():
        monkeypatch.setenv(key, value)
    clock = FakeClock(START)
    fake_x.now, fake_slack.now = clock.now, lambda: clock.now().timestamp()
    server = MetricsServer(0, "127.0.0.1")  # any free port: tests run side by side
    app = build_app(load_config(), clock, metrics=server.metrics)
    server.start(app)
    yield Running(app, server, clock)
    server.stop()
    app.store.dispose()


def test_every_figure_moves_as_the_standins_make_it_move(running: Running, fake_x: FakeX, fake_slack: FakeSlack) -> None:
    r = running
    r.poll()
    assert r.value("replywatch_open_mentions", **ACME) == 0
    assert r.value("replywatch_poll_duration_seconds_count", **ACME) == 1
    assert r.value("replywatch_alert_after_seconds", **ACME) == 60
    assert r.get("/healthz") == (200, "ok\n")

    bob = fake_x.add_user("bob")
    mention = fake_x.post(bob, "@acme where is my refund?", at=r.clock.now())
    r.clock.advance(MIN)  # a poll reads each timeline once a poll interval
    r.poll()
    assert r.value("replywatch_open_mentions", **ACME) == 1
    assert r.value("replywatch_mentions", **ACME, status="open") == 1
    assert r.value("replywatch_oldest_open_mention_age_seconds", **ACME) == 60
    assert r.value("replywatch_rate_limit_remaining", **ACME, endpoint="mentions") == fake_x.remaining["mentions"]
    read = {k: v for k, v in r.scrape().items() if k[0] == "replywatch_posts_read_total"}
    assert sum(read.values()) == sum(fake_x.served.values()) == 1, "posts read: what X returned, and only that"
    assert r.value("replywatch_read_requests_total", **ACME, endpoint="mentions") == 2, "one read each poll"

    r.clock.advance(MIN)
    r.poll()
    r.sweep()
    assert fake_slack.alerted() == [mention]
    assert r.value("replywatch_alerts_total", **ACME) == 1
    assert r.value("replywatch_sweep_duration_seconds_count") == 1
    assert r.value("replywatch_sla_breaches", **ACME) == 1, "open past its deadline: a breach, as the report counts it"
    assert r.value("replywatch_overdue_mentions", **ACME) == 1, "past ALERT_AFTER, unanswered"

    r.clock.advance(5 * MIN)
    r.poll()
    r.sweep()
    r.sweep()  # the escalation is queued by the first tick's follow-ups and posted by a sweep
    assert r.value("replywatch_escalations_total", **ACME) == 1

    fake_x.post(fake_x.user("acme"), "@bob refund sent", reply_to=mention, at=r.clock.now())
    r.clock.advance(MIN)
    r.poll()
    assert r.value("replywatch_open_mentions", **ACME) == 0
    assert r.value("replywatch_mentions", **ACME, status="open") == 0
    assert r.value("replywatch_mentions", **ACME, status="answered") == 1
    assert r.value("replywatch_oldest_open_mention_age_seconds", **ACME) == 0
    assert r.value("replywatch_overdue_mentions", **ACME) == 0
    assert r.value("replywatch_sla_breaches", **ACME) == 1, "answered after its deadline: still the one breach"
    assert r.value("replywatch_poll_duration_seconds_count", **ACME) == 5

    fake_x.http.fail("/mentions", Reply(429, {"title": "Too Many Requests"}, {"x-rate-limit-reset": "0"}))
    r.clock.advance(MIN)
    r.poll()
    assert r.value("replywatch_api_errors_total", **ACME, kind="RateLimited") == 1
    assert r.get("/healthz") == (200, "ok\n"), "one rate limit is no broken collection"


def test_healthz_says_why_collection_is_broken_and_shows_no_token(running: Running, fake_x: FakeX) -> None:
    r = running
    r.poll()
    assert r.value("replywatch_collection_healthy", **ACME) == 1
    assert ("replywatch_token_refused", frozenset(ACME.items())) in r.scrape(), "shown at 0 before any refusal"
    assert r.value("replywatch_token_refused", **ACME) == 0
    token = fake_x.bearer
    fake_x.bearer = "x-another-token"  # the one the bot holds is refused from now on
    r.clock.advance(MIN)
    r.poll()
    status, body = r.get("/healthz")
    assert status == 503
    assert body.startswith("collection: @acme on X: token refused: "), body
    assert token not in body
    assert r.value("replywatch_collection_healthy", **ACME) == 0
    assert r.value("replywatch_api_errors_total", **ACME, kind="AuthFailed") >= 1
    assert r.value("replywatch_token_refused", **ACME) == 1, "at the first refused read, not after an increase"
    fake_x.bearer = token  # renewed
    r.clock.advance(5 * MIN)  # past the back-off after a failed read
    r.poll()
    assert r.value("replywatch_token_refused", **ACME) == 0


def test_healthz_names_a_channel_that_takes_no_messages(running: Running) -> None:
    r = running
    r.poll()
    with r.app.store.unit() as repo:
        repo.channel_failed("C0ALERTS", "not_in_channel", r.clock.now())
    assert r.get("/healthz")[0] == 200, "a blip is not an outage"
    assert r.value("replywatch_delivery_healthy") == 1
    r.clock.advance(3 * MIN)
    r.poll()
    assert r.get("/healthz") == (503, "delivery: channel C0ALERTS: not_in_channel\n")
    assert r.value("replywatch_delivery_healthy") == 0


def test_healthz_fails_when_polls_stop(running: Running) -> None:
    r = running
    r.poll()
    r.clock.advance(10 * MIN)  # no poll since: the scheduler is stuck or gone
    status, body = r.get("/healthz")
    assert status == 503 and body.startswith("collection: no poll attempt since "), body
    assert r.value("replywatch_collection_healthy", **ACME) == 0


def test_a_port_in_use_fails_the_start_with_one_line(env: dict[str, str], monkeypatch, capsys) -> None:  # noqa: ANN001
    from bot.cli import main

    taken = sockets.socket()
    taken.bind(("0.0.0.0", 0))  # noqa: S104
    taken.listen()
    port = taken.getsockname()[1]
    try:
        for key, value in {**env, "METRICS_PORT": str(port)}.items():
            monkeypatch.setenv(key, value)
        assert main(["run"]) == 2
    finally:
        taken.close()
    assert capsys.readouterr().err == f"replywatch: METRICS_PORT: port {port} is already in use\n"


def test_socket_mode_acknowledgements_are_timed(
    env: dict[str, str], fake_x: FakeX, fake_slack: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.integration.test_actions import slash
    from tests.standins.socket_mode import SocketModeStandIn

    for key, value in {**env, "SLACK_APP_TOKEN": fake_slack.app_token}.items():
        monkeypatch.setenv(key, value)
    socket = SocketModeStandIn()
    fake_slack.socket_url = socket.url
    server = MetricsServer(0, "127.0.0.1")
    app = build_app(load_config(), metrics=server.metrics)
    server.start(app)
    r = Running(app, server, FakeClock(START))
    try:
        assert r.value("replywatch_socket_ack_seconds_count") == 0
        app.socket.connect()
        assert socket.wait_connected()
        for _ in range(2):
            assert socket.ack(socket.send("slash_commands", slash())) is not None
        # the stand-in has the second ack a moment before the listener reports it
        assert wait_for(lambda: r.value("replywatch_socket_ack_seconds_count") == 2, timeout=5)
        assert 0 < r.value("replywatch_socket_ack_seconds_sum") < 3
    finally:
        app.socket.close()
        socket.close()
        server.stop()
        app.store.dispose()



def test_the_dashboard_and_the_alert_rules_use_only_metrics_replywatch_exports(running: Running) -> None:
    import json
    import re
    from pathlib import Path

    import yaml

    suffixes = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_sum", "_count", "_created")}
    families = text_string_to_metric_families(running.get("/metrics")[1])
    exported = {f.name + s for f in families for s in suffixes.get(f.type, ("",))}
    deploy = Path(__file__).resolve().parents[2] / "deploy"
    dashboard = json.loads((deploy / "grafana/replywatch-dashboard.json").read_text())
    rules = yaml.safe_load((deploy / "prometheus/replywatch-rules.yml").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    exprs += [r["expr"] for g in rules["groups"] for r in g["rules"]]
    used = {name for e in exprs for name in re.findall(r"\breplywatch_[a-z_]+", e)}
    assert used - exported == set()
    assert {"replywatch_overdue_mentions", "replywatch_token_refused", "replywatch_collection_healthy"} <= used


def test_the_store_tallies_on_every_backend(store) -> None:  # noqa: ANN001
    """The scrape's statements on SQLite and PostgreSQL: counts by status, the oldest open, alerts, escalations,
    reminders, the settled mentions breaches are judged by (answered or expired, in the order they settled), reads."""
    from bot.model import AccountKey, Network, Post, Read, Status, Verdict

    where = AccountKey(Network.X, "acme")
    posts = [Post(id=str(i), author_id="9", text="@acme hi", created_at=START + i * SEC) for i in range(4)]
    with store.unit() as repo:
        repo.add_mentions(where, [(p, Verdict(Status.OPEN, "waiting")) for p in posts], START)
        keys = repo.mention_keys(where, [p.id for p in posts])
        for i in range(3):
            repo.start_alert(keys[str(i)], "C0ALERTS", START + MIN)
            repo.alert_sent(keys[str(i)], "C0ALERTS", f"1.{i}", START + MIN)
        repo.followed_up([keys["0"]], START + 2 * MIN, first=True)
        repo.followed_up([keys["0"]], START + 3 * MIN, first=False, reminder=True)
        late, early = (Post(id=f"r{i}", author_id="1", text="hi", created_at=at) for i, at in ((0, START + 5 * MIN), (1, START)))
        repo.mark_answered(where, [("0", late), ("3", early)], START + 5 * MIN)
        repo.expire([keys["1"]], "open too long", START + 9 * MIN)
        repo.add_reads(where, [Read("mentions", requests=2, posts=7)], START.date())
        repo.add_reads(where, [Read("mentions", requests=1, posts=1)], (START + 24 * 60 * MIN).date())
        repo.record_poll(where, "mentions", START + 9 * MIN)
    with store.read() as repo:
        tally = repo.tallies()[where]
    assert tally.by_status == {Status.ANSWERED: 2, Status.EXPIRED: 1, Status.OPEN: 1}
    assert tally.oldest_open == posts[2].created_at
    assert (tally.alerts, tally.escalations, tally.reminders) == (3, 1, 1)
    assert tally.reads == {"mentions": (3, 8)}
    with store.read() as repo:
        settled = repo.settled(None)
        assert [(m.id, m.status) for m in settled] == [(keys["0"], Status.ANSWERED), (keys["3"], Status.ANSWERED),
                                                       (keys["1"], Status.EXPIRED)], "in the order they settled"
        assert settled[0].answered_at == late.created_at and not settled[0].vip
        assert [m.id for m in repo.settled((settled[0].closed_at, settled[0].id), batch=1)] == [keys["3"]], "after the mark"
    assert [h.endpoint for h in tally.health] == ["mentions"]


def test_the_metrics_table_in_the_docs_lists_every_metric_replywatch_exports(running: Running) -> None:
    """The table of metrics (README or the page of docs/ that holds it) says the name and type of each, no more."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    row = re.compile(r"^\| `(replywatch_[a-z_]+)(?:\{[a-z_, ]*\})?` \| (\w+) \|", re.MULTILINE)
    documented = {m[1]: m[2] for page in [root / "README.md", *(root / "docs").glob("*.md")] for m in row.finditer(page.read_text())}
    families = text_string_to_metric_families(running.get("/metrics")[1])
    exported = {f.name + ("_total" if f.type == "counter" else ""): f.type for f in families if not f.name.endswith("_created")}
    assert documented == exported


# --- overdue mentions: the business-hours clock -------------------------------------------------------------------

WHERE = AccountKey(Network.X, "acme")
OPEN_9_TO_5 = Schedule(tz=ZoneInfo("UTC"), hours=Hours(days={day: (time(9), time(17)) for day in range(5)}))  # Mon–Fri


def _scraped(store: Store, clock: FakeClock, config: AlertPolicy) -> CollectorRegistry:
    """A registry serving the store's figures as /metrics does, the due times worked out by `config`."""
    watch = Watch(store, clock, {WHERE: config.alert_after}, MIN, 5 * SEC, clock.now(), config)
    registry = CollectorRegistry()
    registry.register(StoreCollector(watch))
    return registry


def _add(store: Store, posted: dict[str, datetime], vip: set[str] = frozenset(), where: AccountKey = WHERE) -> dict[str, int]:
    posts = [(Post(id=k, author_id="9", text="@acme hi", created_at=at), k) for k, at in posted.items()]
    judged = [(p, Verdict(Status.OPEN, "waiting", priority="VIP: listed" if k in vip else None)) for p, k in posts]
    with store.unit() as repo:
        repo.add_mentions(where, judged, max(posted.values()))
        return repo.mention_keys(where, list(posted))


def test_overdue_mentions_are_counted_on_the_business_hours_clock(store: Store) -> None:
    """Mon–Fri 09:00–17:00, ALERT_AFTER 30 minutes, on Wednesday morning: what came in overnight is not overdue
    before 09:30, though its wall-clock wait passed hours ago; what was due yesterday is; a snoozed one is not until
    it wakes; a VIP who breaks through the hours is."""
    config = policy(channel="C0ALERTS", alert_after=30 * MIN, alert_after_vip=10 * MIN, schedule=OPEN_9_TO_5, vip_ignores_hours=True)
    wednesday = START  # 2026-11-25 09:00 UTC, opening time
    tuesday = wednesday - timedelta(days=1)
    keys = _add(store, {
        "overnight": tuesday.replace(hour=23),  # due Wednesday 09:30
        "yesterday": tuesday.replace(hour=16),  # due Tuesday 16:30
        "snoozed": tuesday.replace(hour=15),  # due Tuesday 15:30, snoozed until Wednesday 10:00
        "new": wednesday.replace(minute=5),  # due 09:35
        "answered": tuesday.replace(hour=12),
    })
    _add(store, {"vip": tuesday.replace(hour=23, minute=50)}, vip={"vip"})  # 10 minutes, whatever the hours: due 00:00
    _add(store, {"theirs": tuesday.replace(hour=10)}, where=AccountKey(Network.BLUESKY, "acme.bsky.social"))
    with store.unit() as repo:
        repo.snooze(keys["snoozed"], "U0CLAIMER", wednesday.replace(hour=10))
        reply = Post(id="r1", author_id="1", text="done", created_at=tuesday.replace(hour=12, minute=5))
        repo.mark_answered(WHERE, [("answered", reply)], tuesday.replace(hour=12, minute=6))
    clock = FakeClock(wednesday.replace(minute=20))
    metrics = _scraped(store, clock, config)

    def overdue() -> float | None:
        return metrics.get_sample_value("replywatch_overdue_mentions", ACME)

    assert overdue() == 2, "yesterday's and the VIP's: not the overnight one, the snoozed one or the new one"
    hours_waited = metrics.get_sample_value("replywatch_oldest_open_mention_age_seconds", ACME) / 3600
    assert round(hours_waited, 2) == 18.33, "the wall clock's oldest age, still served, says all are late"
    clock.advance(11 * MIN)  # 09:31
    assert overdue() == 3, "the overnight one, 30 minutes into open time"
    clock.advance(30 * MIN)  # 10:01
    assert overdue() == 5, "the snoozed one woke; the new one is due"
    clock.advance(timedelta(hours=9, minutes=59))  # 20:00
    assert overdue() == 5, "closing time leaves what is overdue overdue"


def test_overdue_mentions_agree_with_the_sweeps_due_rule_mention_by_mention(store: Store) -> None:
    """Every open mention judged one by one by AlertPolicy.due_at, against the gauge read a few at a time: equal at
    every moment of six days, across nights, a weekend, a holiday, VIPs and snoozes."""
    import random

    rand = random.Random(25)
    paris = ZoneInfo("Europe/Paris")
    hours = Hours(days={day: (time(9), time(18)) for day in range(5)}, holidays=frozenset({START.date() + timedelta(days=2)}))
    config = policy(channel="C0ALERTS", alert_after=45 * MIN, alert_after_vip=20 * MIN, schedule=Schedule(tz=paris, hours=hours))
    now = START + timedelta(days=2)
    posted = {f"p{i}": now - timedelta(minutes=rand.randrange(0, 6 * 24 * 60)) for i in range(240)}
    posted |= {f"same-{i}": START.replace(hour=8, minute=40) for i in range(12)}  # one moment, a page and more
    vip = {k for k in posted if rand.random() < 0.2} | {"same-3", "same-10", "same-11"}
    keys = _add(store, posted, vip)
    snoozes = {k: now + timedelta(minutes=rand.randrange(-24 * 60, 24 * 60)) for k in posted if rand.random() < 0.1}
    with store.unit() as repo:
        for k, until in snoozes.items():
            repo.snooze(keys[k], "U0CLAIMER", until)
    watch = Watch(store, FakeClock(now), {WHERE: config.alert_after}, MIN, 5 * SEC, now, config)

    def one_by_one(at: datetime) -> int:
        mentions = [Mention(Post(k, "9", "", p), Status.OPEN, "", p, priority="VIP" if k in vip else None, account="acme")
                    for k, p in posted.items() if not (k in snoozes and snoozes[k] > at)]
        return sum(config.due_at(m) <= at for m in mentions)

    seen = set()
    tied_due = START.replace(hour=9, minute=25)  # the twelve fall due: the newest due, VIPs read first
    for at in [tied_due, *(now + step * MIN for step in range(-5 * 24 * 60, 24 * 60, 53))]:
        with store.read() as repo:
            counted = overdue(repo, watch, WHERE, at, batch=7)
        assert counted == one_by_one(at), at
        seen.add(counted)
    assert len(seen) > 30, "the moments tried saw the count move"


@dataclass(frozen=True)
class _Counting(AlertPolicy):
    """The alert policy, noting each mention whose due time is worked out."""

    asked: list[datetime] = field(default_factory=list)

    def due(self, where: AccountKey, posted: datetime, vip: bool) -> datetime:
        self.asked.append(posted)
        return super().due(where, posted, vip)


def test_overdue_reads_only_the_mentions_not_yet_due_however_big_the_queue(sqlite_store: Store) -> None:
    """20,000 open mentions, weeks overdue, and 30 that came in over the weekend (not due before Monday 09:30): the
    scrape works out the due time of those 30 and a few more, never of the backlog, and counts the backlog."""
    config = _Counting(**{**vars(policy(channel="C0ALERTS", alert_after=30 * MIN, schedule=OPEN_9_TO_5))})
    saturday = START + timedelta(days=3)
    backlog = {f"old{i}": START - timedelta(days=20) + i * MIN for i in range(20_000)}  # up to 6 days before START
    weekend = {f"weekend{i}": saturday + i * 30 * MIN for i in range(30)}
    _add(sqlite_store, backlog | weekend)
    metrics = _scraped(sqlite_store, FakeClock(saturday + timedelta(days=1, hours=12)), config)
    assert metrics.get_sample_value("replywatch_overdue_mentions", ACME) == 20_000
    assert 30 <= len(config.asked) <= 32, "the weekend's, then the newest of the backlog: the rest is counted by SQL"


def test_the_running_bot_counts_overdue_mentions_in_its_business_hours(
    env: dict[str, str], fake_x: FakeX, fake_slack: FakeSlack, tmp_path, monkeypatch: pytest.MonkeyPatch  # noqa: ANN001
) -> None:
    config = tmp_path / "replywatch.toml"
    config.write_text('timezone = "UTC"\n[hours]\nmon = "09:00-17:00"\n')  # Wednesday: closed
    settings = {**env, "ALERT_AFTER": "60s", "POLL_INTERVAL": "60s", "REPLYWATCH_CONFIG": str(config)}
    for key, value in settings.items():
        monkeypatch.setenv(key, value)
    clock = FakeClock(START)
    fake_x.now, fake_slack.now = clock.now, lambda: clock.now().timestamp()
    server = MetricsServer(0, "127.0.0.1")
    app = build_app(load_config(), clock, metrics=server.metrics)
    server.start(app)
    try:
        r = Running(app, server, clock)
        r.poll()
        fake_x.post(fake_x.add_user("bob"), "@acme where is my refund?", at=clock.now())
        clock.advance(5 * MIN)
        r.poll()
        assert r.value("replywatch_open_mentions", **ACME) == 1
        assert r.value("replywatch_overdue_mentions", **ACME) == 0, "due on Monday at 09:01"
    finally:
        server.stop()
        app.store.dispose()


def test_the_metric_and_the_report_count_the_same_breaches(running: Running, fake_x: FakeX) -> None:
    """One definition of a breach (bot.rules.breached) in /metrics and in the report, on the same database: answered
    late, still open past the deadline and expired count; answered in time, closed as needing no reply after the
    deadline, and snoozed past now do not. Judged again after SETTLING, from the running count."""
    from bot.report.build import build_report

    r = running
    bob = fake_x.add_user("bob")
    posted = {name: fake_x.post(bob, f"@acme {name}", at=r.clock.now()) for name in
              ("late", "in time", "open", "no reply needed", "snoozed", "expired")}
    r.clock.advance(30 * SEC)
    r.poll()
    fake_x.post(fake_x.user("acme"), "@bob done", reply_to=posted["in time"], at=r.clock.now())
    r.clock.advance(2 * MIN)
    r.poll()
    fake_x.post(fake_x.user("acme"), "@bob sorry, done", reply_to=posted["late"], at=r.clock.now())
    r.clock.advance(MIN)
    r.poll()
    with r.app.store.unit() as repo:
        ids = {m.post.id: m.id for m, _ in repo.open_mentions()}
        repo.close(ids[str(posted["no reply needed"])], "no reply needed: spam", "U1", r.clock.now())
        repo.snooze(ids[str(posted["snoozed"])], "U1", r.clock.now() + timedelta(hours=1))
        repo.expire([ids[str(posted["expired"])]], "expired", r.clock.now())
    now = r.clock.now()
    report = build_report(r.app.store, r.app.config, (now - timedelta(days=1), now + SEC), now)
    assert report.total.breaches == 3, "late, open, expired"
    assert r.value("replywatch_sla_breaches", **ACME) == report.total.breaches
    r.clock.advance(10 * MIN)  # settled for good: from the running count now
    assert r.value("replywatch_sla_breaches", **ACME) == 3
    assert r.value("replywatch_sla_breaches", **ACME) == 3, "judged once, counted once"
