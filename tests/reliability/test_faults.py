"""Stand-in faults, each with its own test: rate limits, outages, hung servers, revoked tokens."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from bot.store.repository import Store
from tests.conftest import Loop, make_loop
from tests.standins.http import Reply
from tests.standins.slack_api import FakeSlack
from tests.standins.x_api import FakeX

SEC, MIN = timedelta(seconds=1), timedelta(minutes=1)


@pytest.fixture
def fast(fake_x: FakeX, fake_slack: FakeSlack, sqlite_store: Store) -> Loop:
    """ALERT_AFTER=3s, POLL_INTERVAL=1s, on a fake clock."""
    return make_loop(fake_x, fake_slack, sqlite_store, alert_after=3 * SEC, interval=SEC)


def _in_window(loop: Loop, path: str, times: list[float], start: float, end: float) -> int:
    return sum(1 for t in times if start <= t < end)


def test_x_429_with_reset_6s_away_is_respected(fast: Loop) -> None:
    bob = fast.x.add_user("bob")
    fast.tick()
    reset = int((fast.clock.now() + 6 * SEC).timestamp())
    fast.x.http.fail("/mentions", Reply(429, {"title": "Too Many Requests", "detail": "Too Many Requests", "type": "about:blank", "status": 429}, {"x-rate-limit-reset": str(reset), "x-rate-limit-remaining": "0"}))
    mention = fast.post(bob, "@acme hello?")
    seen: list[float] = []
    fast.x.http.before = lambda r: seen.append(fast.clock.now().timestamp()) if "/mentions" in r.path else None
    for _ in range(14):
        fast.tick(SEC)
    start = reset - 6
    assert _in_window(fast, "/mentions", seen, start, reset) == 1, "one request inside the window: the one refused"
    assert min(t for t in seen if t >= reset) - reset <= 1, "read again as soon as the window is over"
    [alert] = fast.slack.alerts_for(mention)
    assert alert.received_at >= reset


def test_monthly_cap_is_reported_not_hammered(fast: Loop) -> None:
    fast.tick()
    reset = int((fast.clock.now() + timedelta(days=9)).timestamp())
    fast.x.http.fail("/mentions", Reply(429, {"title": "UsageCapExceeded", "detail": "Usage cap exceeded: Monthly product cap", "type": "about:blank"}, {"x-rate-limit-reset": str(reset)}))
    for _ in range(30):
        fast.tick(MIN)
    assert len(fast.x.http.calls("/mentions")) == 2, "one good read, one refused; then nothing until the reset"
    [notice] = fast.slack.notices()
    assert "not being collected" in notice.text and "cap spent" in notice.text


def test_x_outage_backs_off_exponentially_with_a_cap(loop: Loop) -> None:
    loop.tick()
    loop.x.http.fail("/mentions", Reply(503, {"title": "Service Unavailable", "type": "about:blank"}), times=1000)
    seen: list[float] = []
    loop.x.http.before = lambda r: seen.append(loop.clock.now().timestamp()) if "/mentions" in r.path else None
    for _ in range(90):
        loop.tick(MIN)
    gaps = [round((b - a) / 60) for a, b in zip(seen, seen[1:], strict=False)]
    assert gaps[:6] == [1, 2, 4, 8, 15, 15], gaps
    assert len(loop.slack.notices()) == 1, "one notice for the whole outage"


def test_revoked_token_is_one_notice_and_recovery_another(loop: Loop) -> None:
    loop.tick()
    loop.x.bearer, real = "revoked", loop.x.bearer
    loop.tick(MIN)
    loop.tick(SEC)
    [broken] = loop.slack.notices()
    assert "not being collected" in broken.text and "token refused" in broken.text and "401" in broken.text
    for _ in range(5):
        loop.tick(5 * MIN)
    assert len(loop.slack.notices()) == 1
    loop.x.bearer = real
    for _ in range(4):
        loop.tick(15 * MIN)
    notices = loop.slack.notices()
    assert len(notices) == 2 and "collected again" in notices[1].text


def test_slack_down_30s_then_rate_limited_delivers_each_alert_once(fast: Loop) -> None:
    users = [fast.x.add_user(f"user{i}") for i in range(4)]
    mentions = [fast.post(u, f"@acme help {i}") for i, u in enumerate(users)]
    fast.tick()
    for path in ("chat.postMessage", "conversations.history"):
        fast.slack.http.fail(path, Reply(500, {"ok": False, "error": "internal_error"}), times=10**6)
    for _ in range(30):
        fast.tick(SEC)
    assert fast.slack.posts() == []
    fast.slack.http.faults.clear()
    retry = Reply(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "3"})
    fast.slack.http.fail("chat.postMessage", retry, times=2)
    for _ in range(20):
        fast.tick(SEC)
    assert sorted(fast.slack.alerted()) == sorted(mentions), "every due alert, exactly once"
    times = sorted(m.received_at for m in fast.slack.posts())
    assert all(b - a >= 1 for a, b in zip(times, times[1:], strict=False)), "never more than one a second"


def test_hung_servers_end_at_the_timeout_and_polling_goes_on(fake_x: FakeX, fake_slack: FakeSlack, sqlite_store: Store) -> None:
    loop = make_loop(fake_x, fake_slack, sqlite_store, alert_after=3 * SEC, interval=SEC, timeout=1)
    bob = fake_x.add_user("bob")
    loop.tick()
    first = loop.post(bob, "@acme one")
    fake_x.http.fail("/2/users/", delay=30, times=2)  # accepts, never answers
    started = time.monotonic()
    loop.tick(3 * SEC)
    assert time.monotonic() - started < 4, "both X calls ended at their 1 s timeout"
    with loop.store.unit() as repo:
        assert "timed out" in repo.endpoint("acme", "mentions").last_error
    loop.tick(5 * SEC)
    loop.tick(5 * SEC)
    assert loop.slack.alerted() == [first], "polling went on once X answered again"
    second = loop.post(bob, "@acme two")
    loop.tick(5 * SEC)
    fake_slack.http.fail("chat.postMessage", delay=30)
    started = time.monotonic()
    loop.tick(5 * SEC)
    assert time.monotonic() - started < 3, "the Slack call ended at its timeout"
    for _ in range(3):
        loop.tick(5 * SEC)
    assert sorted(loop.slack.alerted()) == sorted([first, second])
