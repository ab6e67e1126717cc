"""One bad message never blocks the rest: a message Slack refuses for ever, an alert message someone deleted, an
archived channel. The real adapters against the stand-ins, on a fake clock: a sweep every half second, a read
every second, as `replywatch run` does with POLL_INTERVAL=1s."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from bot.model import AccountKey, Network
from bot.standins.x_api import FakeX
from bot.store.repository import Store
from tests.conftest import START, Loop, make_loop
from tests.integration.test_cli import cli
from tests.standins.slack_api import FakeSlack

W = AccountKey(Network.X, "acme")  # the watched account

SEC = timedelta(seconds=1)
ALERT_AFTER = 3 * SEC


@pytest.fixture
def fast(fake_x: FakeX, fake_slack: FakeSlack, sqlite_store: Store) -> Loop:
    fake_x.limit = 1_000_000
    return make_loop(
        fake_x, fake_slack, sqlite_store, alert_after=ALERT_AFTER, interval=SEC, digest_threshold=1000,
        escalate_after=None, remind_every=None,
    )


def run(loop: Loop, seconds: float, every_second: object = None) -> None:
    """`seconds` of `replywatch run`: a read each second, then a sweep each half second."""
    for step in range(int(seconds * 2)):
        if step % 2 == 0:
            if callable(every_second):
                every_second()
            loop.poll.run_once()
        for service in (loop.health, loop.on_call, loop.follow_ups, loop.sweep):
            service.run_once()
        loop.clock.advance(SEC / 2)


def field(args: dict, name: str) -> object:
    """A JSON argument of a Slack call, whether it came form-encoded or in a JSON body."""
    value = args.get(name)
    return json.loads(value) if isinstance(value, str) else value


def about(args: dict, post_id: int) -> bool:
    """Whether a Slack call posts the alert about this X post (its own message, tagged mention:…, linking to it)."""
    tag = ((field(args, "metadata") or {}).get("event_payload") or {}).get("tag") or ""
    return tag.startswith("mention:") and f"/status/{post_id}" in json.dumps(field(args, "blocks")) + str(args.get("text"))


def test_an_alert_slack_refuses_for_ever_is_parked_and_every_other_alert_goes_out_on_time(fast: Loop, env: dict[str, str]) -> None:
    fans = [fast.x.add_user(f"fan{i}") for i in range(12)]
    posted: dict[int, datetime] = {}
    bad: list[int] = []

    def one_more() -> None:
        if len(posted) < len(fans):
            mention = fast.post(fans[len(posted)], "@acme help")
            posted[mention] = fast.clock.now()
            if len(posted) == 2:
                bad.append(mention)
                fast.slack.refuse = lambda args: "invalid_blocks" if about(args, mention) else None

    run(fast, 60, one_more)
    good = set(posted) - set(bad)
    assert set(fast.slack.alerted()) == good, "every other alert went out"
    for mention in good:
        [alert] = fast.slack.alerts_for(mention)
        late = datetime.fromtimestamp(alert.received_at, UTC) - posted[mention] - ALERT_AFTER
        assert late <= 2 * SEC, f"alerted {late.total_seconds():.1f}s after it was due"
    tries = [r for r in fast.slack.http.calls("chat.postMessage") if about(r.form(), bad[0])]
    assert len(tries) == 3, "tried three times, with back-off, then parked"
    assert field(tries[0].form(), "blocks") and not field(tries[-1].form(), "blocks"), "then tried as plain text, without blocks"
    [notice] = fast.slack.notices()
    assert "Slack refused the alert for the mention by @fan1" in notice.text and "parked" in notice.text
    status = json.loads(cli(env, "status", "--json").stdout)
    assert [p["what"] for p in status["parked"]] == [f"alert for the mention https://x.com/fan1/status/{bad[0]}"]
    assert "invalid_blocks" in status["parked"][0]["reason"]
    text = cli(env, "status").stdout
    assert "parked (Slack refused them for good): 1" in text


def test_an_escalation_slack_refuses_for_ever_is_parked_and_alerts_keep_going(fake_x, fake_slack, sqlite_store) -> None:  # noqa: ANN001
    fake_x.limit = 1_000_000
    loop = make_loop(
        fake_x, fake_slack, sqlite_store, alert_after=ALERT_AFTER, interval=SEC, digest_threshold=1000,
        escalate_after=6 * SEC, escalate_to=("U0LEAD",), remind_every=None,
    )
    fake_slack.refuse = lambda args: "thread_not_found" if "escalation:" in str(args.get("metadata", "")) else None
    bob, carol = loop.x.add_user("bob"), loop.x.add_user("carol")
    stuck = loop.post(bob, "@acme refund?")
    run(loop, 20)
    later = loop.post(carol, "@acme hello?")
    run(loop, 60)
    assert sorted(fake_slack.alerted()) == sorted([stuck, later]), "the alert after the refused escalation went out"
    tries: dict[str, list[dict]] = {}
    for request in fake_slack.http.calls("chat.postMessage"):
        tag = (field(request.form(), "metadata") or {})["event_payload"]["tag"]
        if tag.startswith("notice:escalation:"):
            tries.setdefault(tag, []).append(request.form())
    assert len(tries) == 2 and all(len(t) == 3 for t in tries.values()), "each escalation tried three times, then parked"
    assert all(t[0].get("thread_ts") and not t[-1].get("thread_ts") for t in tries.values()), "then at the top level"
    with loop.store.read() as repo:
        parked = repo.parked()
    assert len(parked) == 2 and all(p.kind == "notice" and "thread_not_found" in p.reason for p in parked)


def test_a_deleted_alert_message_is_noted_and_every_other_alert_is_still_edited(fast: Loop) -> None:
    fans = [fast.x.add_user(f"fan{i}") for i in range(3)]
    mentions = [fast.post(fan, "@acme help") for fan in fans]
    run(fast, 8)
    alerts = {m: fast.slack.alerts_for(m)[0] for m in mentions}
    fast.slack.delete(alerts[mentions[0]].ts)  # someone tidies the channel
    answered_at: dict[int, datetime] = {}
    edited_at: dict[int, datetime] = {}

    def answer_one_and_watch() -> None:  # the deleted one first, then the others, a couple of seconds apart
        if len(answered_at) < len(mentions) and fast.clock.now() - max(answered_at.values(), default=START) >= 2 * SEC:
            mention = mentions[len(answered_at)]
            fast.post(fast.acme, "@fan done", reply_to=mention)
            answered_at[mention] = fast.clock.now()
        for mention in mentions[1:]:
            if alerts[mention].edits and mention not in edited_at:
                edited_at[mention] = fast.clock.now()

    run(fast, 12, answer_one_and_watch)
    assert set(edited_at) == set(mentions[1:]), "the other alerts were edited"
    late = {m: edited_at[m] - answered_at[m] for m in mentions[1:]}
    assert all(d <= 2 * SEC for d in late.values()), f"edited within a read and a second of the answer: {late}"
    with fast.store.read() as repo:
        [parked] = repo.parked()
    assert parked.kind == "edit" and "deleted in Slack" in parked.reason
    assert len(fast.slack.http.calls("chat.update")) == 3, "the deleted one was tried once, not again"


@pytest.mark.slow
def test_an_archived_channel_is_left_alone_with_back_off_and_reported(fast: Loop, env: dict[str, str]) -> None:
    fast.slack.archived.add("C0ALERTS")
    mention = fast.post(fast.x.add_user("bob"), "@acme hi")
    run(fast, 180)
    tries = len(fast.slack.http.calls("chat.postMessage"))
    assert 4 <= tries <= 8, f"{tries} posts in 3 minutes: back-off from 5 s, doubling"
    with fast.store.read() as repo:
        [(channel, since, error)] = repo.failing_channels()
    assert channel == "C0ALERTS" and "is_archived" in error
    assert "slack: channel C0ALERTS takes no messages" in cli(env, "status").stdout
    fast.slack.archived.clear()
    run(fast, 200)
    assert fast.slack.alerted() == [mention], "posted once the channel works again"
    with fast.store.read() as repo:
        assert repo.failing_channels() == []


def test_health_turns_unhealthy_when_the_channel_has_failed_for_two_minutes(env: dict[str, str], sqlite_store: Store) -> None:
    now = datetime.now(UTC)
    with sqlite_store.unit() as repo:
        repo.record_poll(W, "mentions", now)
        repo.channel_failed("C0ALERTS", "chat.postMessage: is_archived", now - 90 * SEC)
    assert cli(env, "health").returncode == 0, "90 s: not yet"
    with sqlite_store.unit() as repo:
        repo.channel_works("C0ALERTS")
        repo.channel_failed("C0ALERTS", "chat.postMessage: is_archived", now - 150 * SEC)
    result = cli(env, "health")
    assert result.returncode == 1
    assert result.stderr.startswith("unhealthy: delivery: channel C0ALERTS: chat.postMessage: is_archived"), "as /healthz says it"
