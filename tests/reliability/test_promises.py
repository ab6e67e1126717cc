"""The README's timing promises on a fake clock, through the real adapters and the stand-ins: no alert before a
read of the replies that started at its due time, POLL_INTERVAL kept, "answered" edits never starved by new
alerts, deleted posts nobody is pinged about, look-ups counted, and a wall clock stepped back changing nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.app.wire import build_app
from bot.clock import FakeClock
from bot.config.load import load_config
from bot.model import Status
from bot.scheduler import IDLE
from tests.conftest import START, Loop, make_loop

SEC, MIN = timedelta(seconds=1), timedelta(minutes=1)
HALF = SEC / 2


@pytest.fixture
def fast(fake_x, fake_slack, sqlite_store) -> Loop:  # noqa: ANN001
    """ALERT_AFTER=3s, POLL_INTERVAL=1s, with X's rate limit high enough not to stretch the interval."""
    fake_x.limit = 1_000_000
    return make_loop(fake_x, fake_slack, sqlite_store, alert_after=3 * SEC, interval=SEC, digest_threshold=1000, escalate_after=None)


def test_a_mention_answered_before_its_due_time_is_not_alerted_when_the_sweep_runs_before_the_next_read(fast: Loop) -> None:
    """The reply exists before the deadline; the read that would find it has not run yet when the sweep does."""
    bob, carol = fast.x.add_user("bob"), fast.x.add_user("carol")
    answered = fast.post(bob, "@acme where is my parcel?")
    waiting = fast.post(carol, "@acme hello?")
    fast.tick()  # both read at once: seen at 0 s, replies read at 0 s
    fast.clock.advance(2.5 * SEC)
    fast.post(fast.acme, "@bob on its way", reply_to=answered)  # answered at 2.5 s, due at 3 s
    fast.clock.advance(HALF)
    fast.sweep.run_once()  # 3 s: due, but the replies were last read at 0 s
    assert fast.slack.alerted() == [], "a read that started before the due time cannot prove it unanswered"
    fast.poll.run_once()  # the read at 3 s finds the reply
    fast.sweep.run_once()
    assert fast.slack.alerted() == [waiting], "the one still unanswered is alerted once that read completes"
    assert fast.mention(answered).status is Status.ANSWERED


def test_reads_keep_poll_interval_when_the_clock_is_read_just_after_the_tick(fast: Loop) -> None:
    """The scheduler ticks every second; the poll reads the clock 2 to 5 ms into each tick (it varies)."""
    for k in range(10):
        delay = (5 if k % 2 == 0 else 2) * SEC / 1000
        fast.clock.advance(delay)
        fast.poll.run_once()
        fast.clock.advance(SEC - delay)
    assert len(fast.x.http.calls("/mentions")) == 10, "one read per tick, none skipped"


def test_a_wall_clock_stepped_back_stops_neither_reading_nor_alerting(fast: Loop) -> None:
    bob = fast.x.add_user("bob")
    fast.tick()
    fast.tick(SEC)
    fast.clock.step(-60 * SEC)  # NTP steps the clock back a minute
    reads = len(fast.x.http.calls("/mentions"))
    mention = fast.post(bob, "@acme anyone?")
    for _ in range(6):
        fast.tick(SEC)
    assert len(fast.x.http.calls("/mentions")) == reads + 6, "a read every second, as before the step"
    assert fast.slack.alerted() == [mention], "alerted 3 s after it was posted, not a minute later"


def test_answered_edits_get_their_share_while_a_new_alert_falls_due_every_second(fast: Loop) -> None:
    fans = [fast.x.add_user(f"fan{i}") for i in range(40)]
    posted: list[int] = []
    replies_read_at: float | None = None
    edited_at: dict[int, float] = {}
    for step in range(80):  # 40 s: a sweep every half second, a read every second, a new mention every second
        t = step / 2
        if step % 2 == 0:
            posted.append(fast.post(fans[len(posted)], "@acme help"))
            if t == 12:
                answered = fast.slack.alerted()[:3]
                assert len(answered) == 3
                for mention in answered:
                    fast.post(fast.acme, "@fan done", reply_to=mention)
            fast.poll.run_once()
            if t == 12:
                replies_read_at = t
        fast.sweep.run_once()
        if replies_read_at is not None:
            for mention in answered:
                [alert] = fast.slack.alerts_for(mention)
                if alert.edits and mention not in edited_at:
                    edited_at[mention] = t
        fast.clock.advance(HALF)
    assert replies_read_at is not None and set(edited_at) == set(answered), "every answered alert was edited"
    delays = sorted(edited_at[m] - replies_read_at for m in answered)
    assert delays[0] <= 1 and delays[-1] <= 5, f"edits took turns with new alerts: {delays}"
    assert len(fast.slack.alerted()) >= 30, "and new alerts kept going out"


def test_a_mention_deleted_after_its_alert_is_closed_before_anyone_is_pinged(fake_x, fake_slack, sqlite_store) -> None:  # noqa: ANN001
    loop = make_loop(
        fake_x, fake_slack, sqlite_store, alert_after=MIN, escalate_after=10 * MIN, escalate_to=("U0LEAD",), remind_every=30 * MIN
    )
    bob, carol = loop.x.add_user("bob"), loop.x.add_user("carol")
    gone = loop.post(bob, "@acme my card number is 1234")
    stuck = loop.post(carol, "@acme hello?")
    loop.tick()
    loop.tick(MIN)
    loop.tick(SEC)
    [alert] = loop.slack.alerts_for(gone)
    [other] = loop.slack.alerts_for(stuck)
    loop.x.delete(gone)
    for _ in range(3):
        loop.tick(5 * MIN)
    assert loop.slack.thread(alert.ts) == [], "nobody is pinged about a post that no longer exists"
    assert "deleted this post" in alert.blocks[0]["text"]["text"] and "1234" not in str(alert.blocks)
    [escalation] = loop.slack.thread(other.ts)
    assert "<@U0LEAD>" in escalation.text
    assert loop.mention(gone).status is Status.DELETED
    looked_up = [c.query["ids"].split(",") for c in loop.x.http.calls("/2/tweets") if "ids" in c.query]
    both = sorted([str(gone), str(stuck)])
    assert [sorted(ids) for ids in looked_up] == [both, both], "one batch before the alerts, one before the escalations"


@pytest.mark.parametrize(("check_deleted", "lookups"), [("true", 1), ("false", 0)])
def test_check_deleted_decides_whether_due_mentions_are_looked_up(
    env: dict[str, str], fake_x, fake_slack, monkeypatch: pytest.MonkeyPatch, check_deleted: str, lookups: int  # noqa: ANN001
) -> None:
    for key, value in {**env, "ALERT_AFTER": "60s", "CHECK_DELETED": check_deleted}.items():
        monkeypatch.setenv(key, value)
    clock = FakeClock(START)
    fake_x.now, fake_slack.now = clock.now, lambda: clock.now().timestamp()
    app = build_app(load_config(), clock)
    mention = fake_x.post(fake_x.add_user("bob"), "@acme hi", at=clock.now())
    for _ in range(3):
        app.polls[0].run_once()
        app.sweep.run_once()
        clock.advance(MIN)
    assert fake_slack.alerted() == [mention]
    assert len([c for c in fake_x.http.calls("/2/tweets") if "ids" in c.query]) == lookups
    app.store.dispose()


def test_the_tick_says_when_nothing_waits_so_that_run_lets_the_sweep_rest(
    env: dict[str, str], fake_x, fake_slack, monkeypatch: pytest.MonkeyPatch  # noqa: ANN001
) -> None:
    for key, value in {**env, "ALERT_AFTER": "60s"}.items():
        monkeypatch.setenv(key, value)
    clock = FakeClock(START)
    fake_x.now, fake_slack.now = clock.now, lambda: clock.now().timestamp()
    app = build_app(load_config(), clock)
    app.polls[0].run_once()
    assert app.tick() == IDLE, "nothing stored, nothing due"
    mention = fake_x.post(fake_x.add_user("bob"), "@acme hi", at=clock.now())
    clock.advance(2 * MIN)
    app.polls[0].run_once()
    assert app.tick() != IDLE, "an alert went out"
    assert fake_slack.alerted() == [mention]
    assert app.tick() == IDLE, "and then nothing waits"
    app.store.dispose()
