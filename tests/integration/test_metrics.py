"""/metrics and /healthz, scraped over HTTP from an app built as `replywatch run` builds it, against the stand-ins,
on a fake clock: each figure moves as the stand-ins make it move."""

from __future__ import annotations

import socket as sockets
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.app import App, build_app, poll_job
from bot.clock import FakeClock
from bot.load import load_settings
from bot.metrics_http import MetricsServer
from bot.standins.http import Reply, wait_for
from bot.standins.x_api import FakeX
from tests.conftest import START
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
    app = build_app(load_settings(), clock, metrics=server.metrics)
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
    assert r.value("replywatch_sla_breaches_total", **ACME) == 0, "alerted, not answered yet: not a breach yet"

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
    assert r.value("replywatch_sla_breaches_total", **ACME) == 1, "answered after its alert"
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
    app = build_app(load_settings(), metrics=server.metrics)
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
    assert {"replywatch_collection_healthy", "replywatch_alert_after_seconds"} <= used, "the rules' two alerts"
    assert dashboard["__inputs"][0]["name"] == "DS_PROMETHEUS"
    assert {t["datasource"]["uid"] for p in dashboard["panels"] for t in p["targets"]} == {"${DS_PROMETHEUS}"}


def test_the_store_tallies_on_every_backend(store) -> None:  # noqa: ANN001
    """The scrape's statements on SQLite and PostgreSQL: counts by status, the oldest open, alerts, escalations,
    reminders, breaches (answered after the alert, or expired; not answered before it), reads."""
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
    assert (tally.alerts, tally.escalations, tally.reminders, tally.breaches) == (3, 1, 1, 2)
    assert tally.reads == {"mentions": (3, 8)}
    assert [h.endpoint for h in tally.health] == ["mentions"]
