"""No secret is ever written, at any log level, by any logger: tweepy, requests, urllib3, oauthlib, slack_sdk."""

from __future__ import annotations

import logging
from datetime import timedelta
from urllib.parse import quote, quote_plus

import pytest

from bot import logs
from bot.clock import FakeClock
from bot.services.poll import PollService
from bot.services.sweep import SweepConfig, SweepService
from bot.slack.client import SlackClient
from bot.store.repository import Store
from bot.x.client import XClient
from tests.conftest import START
from tests.reliability.figures import FIGURES
from tests.standins.http import Reply
from tests.standins.slack_api import FakeSlack
from tests.standins.x_api import FakeX

SECRETS = {
    "bearer": "AAAAAAAAAAAAAAAAAAAAAbearer%2Fsecret%3Dvalue",
    "key": "consumer-key-Zx81",
    "key_secret": "consumer/secret+Qq==",
    "token": "1234-access-token-secret",
    "token_secret": "access/token+secret==",
    "slack": "xoxb-1111-2222-slacksecret",
}


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
            x = XClient(base_url=fake_x.url, timeout=2, bearer_token=SECRETS["bearer"])
        else:
            keys = (SECRETS["key"], SECRETS["key_secret"], SECRETS["token"], SECRETS["token_secret"])
            x = XClient(base_url=fake_x.url, timeout=2, user_keys=keys)
        slack = SlackClient(token=SECRETS["slack"], base_url=fake_slack.url, timeout=2)
        account = x.lookup_account("acme")
        poll = PollService(x, sqlite_store, account, clock, timedelta(seconds=60))
        sweep = SweepService(slack, sqlite_store, account, clock, SweepConfig("C0ALERTS", alert_after=timedelta(minutes=1)), x)
        fake_x.post(bob, "@acme hi", at=clock.now())
        for step in range(6):
            if step == 2:
                fake_x.http.fail("/mentions", Reply(401, {"title": "Unauthorized", "detail": "Unauthorized", "type": "about:blank"}))
                fake_slack.http.fail("chat.postMessage", Reply(200, {"ok": False, "error": "invalid_auth"}))
            if step == 3:
                fake_x.http.fail("/mentions", delay=5)
            poll.run_once()
            sweep.run_once()
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
