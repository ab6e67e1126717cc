"""Stand-in faults, each with its own test: rate limits, outages, hung servers, revoked tokens."""

from __future__ import annotations

import itertools
import logging
import time
from datetime import timedelta

import pytest

from bot.model import AccountKey, Network
from bot.standins.http import Reply
from bot.standins.x_api import FakeX
from bot.store.repository import Store
from tests.conftest import Loop, make_loop
from tests.standins.slack_api import FakeSlack

W = AccountKey(Network.X, "acme")  # the watched account

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
    body = {"title": "Too Many Requests", "detail": "Too Many Requests", "type": "about:blank", "status": 429}
    fast.x.http.fail("/mentions", Reply(429, body, {"x-rate-limit-reset": str(reset), "x-rate-limit-remaining": "0"}))
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
    body = {"title": "UsageCapExceeded", "detail": "Usage cap exceeded: Monthly product cap", "type": "about:blank"}
    fast.x.http.fail("/mentions", Reply(429, body, {"x-rate-limit-reset": str(reset)}))
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
        assert "timed out" in repo.endpoint(W, "mentions").last_error
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


def _cut_off_after(x: FakeX, path: str, limit: int) -> None:
    """A safety valve for the code under test: past `limit` requests to `path` the stand-in drops the connection,
    so a client that pages for ever fails the test (the read errs, nothing is stored) instead of hanging it."""
    count = itertools.count(1)
    x.http.before = lambda r: "drop" if path in r.path and next(count) > limit else None


def _open_ids(loop: Loop) -> set[int]:
    with loop.store.unit() as repo:
        return {int(m.post.id) for m, _ in repo.open_mentions()}


def test_a_repeating_page_token_ends_the_read_and_keeps_what_was_read(loop: Loop, caplog: pytest.LogCaptureFixture) -> None:
    bob = loop.x.add_user("bob")
    mentions = [loop.post(bob, f"@acme question {i}") for i in range(150)]
    loop.x.paging = "repeat"  # every answer: the first page again, with the same next_token
    _cut_off_after(loop.x, "/2/users/", 300)  # mentions and own posts
    caplog.set_level(logging.WARNING, logger="bot.sources.x")
    loop.tick()
    assert len(loop.x.http.calls("/mentions")) == 2, "the first page, then the same page again: stop there"
    assert _open_ids(loop) == set(mentions[-100:]), "the 100 mentions of the page read are kept"
    with loop.store.unit() as repo:
        assert repo.endpoint(W, "mentions").last_error is None
    assert len(loop.x.http.calls("/tweets")) == 2, "own posts too"
    warnings = sorted(r.getMessage() for r in caplog.records if r.name.startswith("bot.sources.x"))
    assert len(warnings) == 2 and warnings[0].startswith("X mentions") and warnings[1].startswith("X own posts"), warnings
    assert all("repeated" in w for w in warnings), "one line each, saying why"
    loop.x.paging = "honest"
    later = loop.post(bob, "@acme still there?")
    loop.tick(MIN)
    assert later in _open_ids(loop), "the next poll reads as usual"


def test_a_page_token_that_never_ends_stops_at_the_page_budget(loop: Loop, caplog: pytest.LogCaptureFixture) -> None:
    bob = loop.x.add_user("bob")
    mentions = [loop.post(bob, f"@acme question {i}") for i in range(250)]
    loop.x.paging = "endless"  # a new next_token on every answer, empty pages after the third
    _cut_off_after(loop.x, "/2/users/", 300)  # mentions and own posts
    caplog.set_level(logging.WARNING, logger="bot.sources.x")
    loop.tick()
    assert len(loop.x.http.calls("/mentions")) == 10, "X serves at most 800 mentions (8 pages); the budget is 10 pages"
    assert _open_ids(loop) == set(mentions), "all three real pages are kept"
    warnings = sorted(r.getMessage() for r in caplog.records if r.name.startswith("bot.sources.x"))
    assert len(warnings) == 2 and warnings[0].startswith("X mentions") and warnings[1].startswith("X own posts"), warnings
    assert all("budget" in w for w in warnings), "one line each, saying why"
    loop.x.paging = "honest"
    later = loop.post(bob, "@acme still there?")
    loop.tick(MIN)
    assert later in _open_ids(loop), "the next poll reads as usual"


def test_a_garbled_answer_after_slack_posted_is_a_doubt_not_a_refusal(loop: Loop) -> None:
    mention = loop.post(loop.x.add_user("bob"), "@acme hello?")
    loop.tick()
    loop.slack.http.fail("chat.postMessage", garble=True)  # Slack posts it; the 200 answer is cut short
    loop.tick(31 * MIN)
    for _ in range(5):
        loop.tick(SEC)
    assert loop.slack.alerted() == [mention], "one alert: the tagged message was looked up and adopted, not posted again"
    assert loop.slack.http.calls("conversations.history")
