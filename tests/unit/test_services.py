"""The services on fakes of their ports (tests/fakes.py): poll, sweep (alerts, edits, look-ups) and follow-ups over a
real SQLite store and a fake clock, with no HTTP. What the adapters do with the real networks and Slack is tested
against the stand-ins (tests/contract, tests/integration)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot.clock import FakeClock
from bot.errors import RateLimited
from bot.model import AccountKey, Network, Post, Status
from bot.services.deleted import DeletionCheck
from bot.services.followups import FollowUpService
from bot.services.poll import MENTIONS, PollService
from bot.services.sweep import SweepService
from bot.store.repository import Store
from tests.conftest import policy
from tests.fakes import FakeSource, RecordingSink

START = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
WHERE = AccountKey(Network.X, "acme")
MINUTE = timedelta(minutes=1)


@dataclass
class Desk:
    """The services of one watched account, wired to the fakes as the composition root wires the adapters."""

    source: FakeSource
    sink: RecordingSink
    store: Store
    clock: FakeClock
    poll: PollService
    follow_ups: FollowUpService
    sweep: SweepService

    def tick(self, advance: timedelta = timedelta(0)) -> None:
        """Time passes, then each service runs once, in the order the running bot runs them after a poll."""
        self.clock.advance(advance)
        self.poll.run_once()
        self.follow_ups.run_once()
        self.sweep.run_once()

    def mention(self, author: str, text: str) -> Post:
        return self.source.mention(author, text, self.clock.now())

    def status(self, post: Post) -> Status:
        with self.store.read() as repo:
            key = repo.mention_keys(WHERE, [post.id])[post.id]
            found = repo.mention(key)
        assert found is not None
        return found.status


def desk(store: Store, look_ups: bool = False, **changes: object) -> Desk:
    """`look_ups`: each mention is looked up before it is alerted (CHECK_DELETED; on its own lane: a thread);
    `changes`: AlertPolicy fields (ALERT_AFTER is 30 minutes, ESCALATE_AFTER 2 hours, as by default)."""
    clock, source, sink = FakeClock(START), FakeSource(), RecordingSink()
    rules = policy(channel="C0ALERTS", **changes)
    deletions = DeletionCheck({WHERE: source} if look_ups else {}, store)
    account = source.account()
    return Desk(
        source, sink, store, clock,
        poll=PollService(source, store, account, clock, rand=lambda: 0.5),
        follow_ups=FollowUpService(store, [WHERE], clock, rules, deletions),
        sweep=SweepService(sink, store, [WHERE], clock, rules, deletions),
    )


def test_a_mention_past_alert_after_is_alerted_once(store: Store) -> None:
    d = desk(store)
    d.mention("bob", "where is my refund?")
    d.tick()
    d.tick(29 * MINUTE)
    assert d.sink.sent == [], "not due yet"
    d.tick(MINUTE)
    [alert] = d.sink.sent
    assert alert.channel == "C0ALERTS" and alert.tag.startswith("mention:")
    assert alert.text == "alert @bob: @acme where is my refund?"
    for _ in range(3):
        d.tick(MINUTE)
    assert len(d.sink.sent) == 1, "alerted once"


def test_an_answer_edits_the_alert_and_posts_nothing_new(store: Store) -> None:
    d = desk(store)
    mention = d.mention("bob", "where is my refund?")
    d.tick()
    d.tick(30 * MINUTE)
    [alert] = d.sink.sent
    d.source.answer(mention, "@bob refund sent", d.clock.now())
    d.tick(MINUTE)
    assert d.status(mention) is Status.ANSWERED
    assert [s.text for s in d.sink.sent] == ["closed @bob: answered"] and len(alert.edits) == 1
    d.tick(MINUTE)
    assert len(alert.edits) == 1, "edited once"


def test_a_reply_read_at_the_due_time_keeps_the_mention_from_being_alerted(store: Store) -> None:
    d = desk(store)
    mention = d.mention("bob", "quick question")
    d.tick()
    d.clock.advance(30 * MINUTE - timedelta(seconds=1))
    d.source.answer(mention, "@bob sure", d.clock.now())  # a second before it falls due, not read yet
    d.tick(timedelta(seconds=1))
    assert d.sink.sent == [] and d.status(mention) is Status.ANSWERED


def test_a_deleted_mention_is_looked_up_closed_and_not_alerted(store: Store) -> None:
    d = desk(store, look_ups=True)
    kept, deleted = d.mention("bob", "still here"), d.mention("carol", "never mind")
    d.tick()
    d.source.delete(deleted)
    d.tick(30 * MINUTE)
    d.tick(MINUTE)  # the sweep waits a second for a look-up, then goes on: a busy machine's is posted a tick later
    assert [s.text for s in d.sink.sent] == ["alert @bob: @acme still here"]
    assert d.status(deleted) is Status.DELETED and d.status(kept) is Status.OPEN
    assert d.source.calls.count("deleted") == 1, "looked up once, before the alert"


def test_a_rate_limited_read_waits_for_the_reset_then_reads_again(store: Store) -> None:
    d = desk(store)
    d.source.fail(RateLimited("X", "too many requests", until=START + 15 * MINUTE))
    d.tick()
    with store.read() as repo:
        failing = repo.endpoint(WHERE, MENTIONS)
    assert failing is not None and failing.last_error and failing.next_attempt_at == START + 15 * MINUTE
    for _ in range(14):
        d.tick(MINUTE)
    assert d.source.calls.count("mentions") == 1, "nothing read before the reset"
    mention = d.mention("bob", "hello?")
    d.tick(MINUTE)
    assert d.source.calls.count("mentions") == 2
    with store.read() as repo:
        assert repo.endpoint(WHERE, MENTIONS).last_error is None
    assert d.status(mention) is Status.OPEN


def test_an_alert_still_open_after_escalate_after_is_escalated_in_its_thread(store: Store) -> None:
    d = desk(store, escalate_to=("U0LEAD",), remind_every=None)
    d.mention("bob", "hello?")
    d.tick()
    d.tick(30 * MINUTE)
    [alert] = d.sink.sent
    d.tick(89 * MINUTE)
    assert len(d.sink.sent) == 1, "not two hours yet"
    d.tick(MINUTE)
    [nudge] = d.sink.tagged("notice:")
    assert nudge.text == "follow_up escalation" and nudge.thread_ts == alert.ts
    d.tick(MINUTE)
    assert len(d.sink.sent) == 2, "escalated once"


def test_many_mentions_due_at_once_make_one_digest(store: Store) -> None:
    d = desk(store)
    for i in range(6):
        d.mention(f"fan{i}", f"question {i}")
    d.tick()
    d.tick(30 * MINUTE)
    assert [s.text for s in d.sink.sent] == ["digest of 6, 6 open"]
