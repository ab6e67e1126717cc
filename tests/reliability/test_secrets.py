"""No secret is ever written, at any log level, by any logger: tweepy, requests, urllib3, oauthlib, slack_sdk; and no
secret leaves the process or reaches the store in any other text either (an error message, a Slack notice,
`status`, `check`), even when a server echoes the credentials it was sent."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import timedelta
from urllib.parse import quote, quote_plus, unquote

import pytest

from bot import logs
from bot.clock import FakeClock
from bot.errors import ServiceError
from bot.model import Account, AccountKey, Network
from bot.services.deleted import DeletionCheck
from bot.services.health import HealthService
from bot.services.poll import PollService
from bot.services.sweep import SweepService
from bot.slack.client import SlackClient
from bot.slack.socket import SocketListener
from bot.sources.x.client import XSource
from bot.standins.http import Reply
from bot.standins.x_api import FakeX
from bot.store.repository import Store
from tests.conftest import START, policy, slack_sink
from tests.integration.test_cli import cli
from tests.reliability.figures import FIGURES
from tests.standins.slack_api import FakeSlack

W = AccountKey(Network.X, "acme")  # the watched account

SECRETS = {
    "bearer": "AAAAAAAAAAAAAAAAAAAAAbearer%2Fsecret%3Dvalue",
    "key": "consumer-key-Zx81",
    "key_secret": "consumer/secret+Qq==",
    "token": "1234-access-token-secret",
    "token_secret": "access/token+secret==",
    "slack": "xoxb-1111-2222-slacksecret",
    "app": "xapp-1-A111-appsecret/42",
}


def _services(x: XSource, slack: SlackClient, store: Store, account: Account, clock: FakeClock) -> Callable[[], None]:
    """Poll, collection health and sweep, run once each, in that order."""
    poll = PollService(x, store, account, clock, timedelta(seconds=60), where=W)
    health = HealthService(store, W, clock, timedelta(seconds=60))
    config = policy(channel="C0ALERTS", alert_after=timedelta(minutes=1))
    sweep = SweepService(slack_sink(slack, config), store, [W], clock, config, DeletionCheck({W: x}, store))

    def run_once() -> None:
        for service in (poll, health, sweep):
            service.run_once()

    return run_once


def _leaked(text: str) -> list[str]:
    """The names of the secrets found in `text`, in any form: raw, URL-encoded or URL-decoded."""
    return sorted(
        name for name, secret in SECRETS.items()
        if any(form in text for form in {secret, quote(secret, safe=""), quote_plus(secret), unquote(secret)})
    )


@pytest.mark.parametrize("auth", ["bearer", "user context"])
def test_the_loop_at_debug_writes_no_secret(auth: str, sqlite_store: Store, capfd: pytest.CaptureFixture[str]) -> None:
    fake_x, fake_slack = FakeX(bearer=SECRETS["bearer"], api_key=SECRETS["key"]), FakeSlack(token=SECRETS["slack"])
    try:
        fake_x.add_user("acme")
        bob = fake_x.add_user("bob")
        logs.configure("DEBUG", "text", list(SECRETS.values()))
        clock = FakeClock(START)
        fake_x.now = clock.now
        if auth == "bearer":
            x = XSource(base_url=fake_x.url, timeout=2, handle="acme", bearer_token=SECRETS["bearer"])
        else:
            keys = (SECRETS["key"], SECRETS["key_secret"], SECRETS["token"], SECRETS["token_secret"])
            x = XSource(base_url=fake_x.url, timeout=2, handle="acme", user_keys=keys)
        slack = SlackClient(token=SECRETS["slack"], base_url=fake_slack.url, timeout=2)
        account = x.account()
        run_once = _services(x, slack, sqlite_store, account, clock)
        fake_x.post(bob, "@acme hi", at=clock.now())
        for step in range(6):
            if step == 2:
                fake_x.http.fail("/mentions", Reply(401, {"title": "Unauthorized", "detail": "Unauthorized", "type": "about:blank"}))
                fake_slack.http.fail("chat.postMessage", Reply(200, {"ok": False, "error": "invalid_auth"}))
            if step == 3:
                fake_x.http.fail("/mentions", delay=5)
            run_once()
            clock.advance(timedelta(minutes=2))
        logging.getLogger("urllib3").debug("Authorization: Bearer %s", SECRETS["bearer"])
    finally:
        logging.getLogger().handlers.clear()
        fake_x.close()
        fake_slack.close()
    out = capfd.readouterr()
    written = out.out + out.err
    assert "Making API request" in written and "Received API response" in written, "tweepy's DEBUG lines were on"
    found = [
        name for name, secret in SECRETS.items()
        for form in {secret, quote(secret, safe=""), quote_plus(secret)} if form in written
    ]
    FIGURES["secrets found"] += len(found)
    assert found == []
    assert fake_slack.posts(), "the loop did work"


@pytest.mark.parametrize("auth", ["bearer", "user context"])
def test_credentials_echoed_by_x_reach_neither_the_store_nor_status_slack_or_check(
    auth: str, fake_x: FakeX, fake_slack: FakeSlack, sqlite_store: Store, env: dict[str, str]
) -> None:
    fake_x.bearer, fake_x.api_key, fake_slack.token = SECRETS["bearer"], SECRETS["key"], SECRETS["slack"]
    env["SLACK_BOT_TOKEN"] = SECRETS["slack"]
    clock = FakeClock(START)
    fake_x.now = clock.now
    if auth == "bearer":
        env["X_BEARER_TOKEN"] = SECRETS["bearer"]
        x = XSource(base_url=fake_x.url, timeout=2, handle="acme", bearer_token=SECRETS["bearer"])
    else:
        del env["X_BEARER_TOKEN"]
        names = ("X_API_KEY", "X_API_SECRET", "X_ACCESS_TOKEN", "X_ACCESS_TOKEN_SECRET")
        keys = (SECRETS["key"], SECRETS["key_secret"], SECRETS["token"], SECRETS["token_secret"])
        env.update(zip(names, keys, strict=True))
        x = XSource(base_url=fake_x.url, timeout=2, handle="acme", user_keys=keys)
    slack = SlackClient(token=SECRETS["slack"], base_url=fake_slack.url, timeout=2)
    account = x.account()
    run_once = _services(x, slack, sqlite_store, account, clock)
    fake_x.post(fake_x.add_user("bob"), "@acme hi", at=clock.now())
    run_once()
    # The credentials are refused now, and the gateway in front of X repeats them in its 401 answer.
    fake_x.echo_credentials = True
    if auth == "bearer":
        fake_x.bearer = "revoked"
    else:
        fake_x.api_key = "revoked"
    for _ in range(3):
        clock.advance(timedelta(minutes=2))
        run_once()

    with sqlite_store.unit() as repo:
        errors = [h.last_error or "" for h in repo.health(W)]
    assert any("401 Rejected credentials" in e for e in errors), errors  # the echo did reach the message
    [notice] = fake_slack.notices()
    assert "not being collected" in notice.text and "401" in notice.text
    slack_text = "".join(m.text + json.dumps(m.blocks) for m in fake_slack.messages)
    status_json = cli(env, "status", "--json")
    assert status_json.returncode == 0, status_json.stderr
    assert "401" in json.dumps(json.loads(status_json.stdout)["collection"])
    status = cli(env, "status")
    assert "FAILING" in status.stdout, status.stdout + status.stderr
    check = cli(env, "check")
    assert check.returncode == 2 and "rejected by X" in check.stderr, check.stderr

    texts = {
        "database": "\n".join(errors),
        "Slack": slack_text,
        "status --json": status_json.stdout + status_json.stderr,
        "status": status.stdout + status.stderr,
        "check": check.stdout + check.stderr,
    }
    leaks = {where: found for where, text in texts.items() if (found := _leaked(text))}
    assert leaks == {}


@pytest.mark.parametrize("adapter", ["x bearer", "x user context", "slack", "socket mode"])
def test_no_adapter_error_carries_a_secret_the_server_echoed(adapter: str) -> None:
    fake_x, fake_slack = FakeX(bearer="revoked", api_key="revoked"), FakeSlack(token=SECRETS["slack"], app_token=SECRETS["app"])
    fake_x.echo_credentials = True  # X refuses the credentials below and repeats them in its 401 answer; so does Slack
    for secret, path in ((SECRETS["slack"], "auth.test"), (SECRETS["app"], "apps.connections.open")):
        echo = f"invalid_auth: {secret} {quote(secret, safe='')} {quote_plus(secret)}"
        fake_slack.http.fail(path, Reply(200, {"ok": False, "error": echo}))
    keys = (SECRETS["key"], SECRETS["key_secret"], SECRETS["token"], SECRETS["token_secret"])
    socket = SocketListener(app_token=SECRETS["app"], base_url=fake_slack.url, timeout=2, handler=lambda *_: None)
    call = {
        "x bearer": lambda: XSource(base_url=fake_x.url, timeout=2, handle="acme", bearer_token=SECRETS["bearer"]).account(),
        "x user context": lambda: XSource(base_url=fake_x.url, timeout=2, handle="acme", user_keys=keys).account(),
        "slack": lambda: SlackClient(token=SECRETS["slack"], base_url=fake_slack.url, timeout=2).auth_test(),
        "socket mode": socket.check,
    }[adapter]
    try:
        with pytest.raises(ServiceError) as raised:
            call()
    finally:
        socket.close()
        fake_x.close()
        fake_slack.close()
    exc = raised.value
    assert "invalid_auth" in exc.message or "Rejected credentials" in exc.message, exc.message  # the echo was read
    assert _leaked(exc.message) == [] and _leaked(str(exc)) == []


def test_check_prints_no_secret_that_slack_sends_back(fake_slack: FakeSlack, env: dict[str, str]) -> None:
    echo = f"Acme ({fake_slack.token}, {quote(fake_slack.token, safe='')})"
    fake_slack.http.fail("auth.test", Reply(200, {"ok": True, "team": echo, "user": "replywatch", "team_id": "T0ACME", "user_id": "U0BOT"}))
    result = cli(env, "check")
    assert result.returncode == 0, result.stderr
    assert "slack: token ok (team 'Acme (" in result.stdout  # the team name Slack sent was shown
    assert fake_slack.token not in result.stdout + result.stderr
    assert quote(fake_slack.token, safe="") not in result.stdout + result.stderr
