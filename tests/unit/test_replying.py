"""Replies sent from Slack (bot.services.replying) on the fakes: posted once whatever happens, the mention answered at
once and its alert edited, a refusal told and never tried again. The adapters' side of exactly once (idempotency
keys, a look before a retry) is held by tests/contract/test_replies.py against the stand-ins."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.errors import BadResponse, Unavailable
from bot.messages import ClosedCard
from bot.model import Status
from bot.services.replying import Replying, ReplyService
from bot.store.repository import Store
from tests.fakes import FakeSource
from tests.unit.test_services import MINUTE, WHERE, Desk, desk

JANE = "U0JANE"


def replies(d: Desk, source: FakeSource | None = None) -> ReplyService:
    return ReplyService(d.store, {WHERE: Replying(source or d.source)}, d.sink, d.clock)


def alerted(d: Desk):  # noqa: ANN201
    """A mention past ALERT_AFTER, alerted; (the post, the stored mention)."""
    post = d.mention("bob", "where is my refund?")
    d.tick()
    d.tick(30 * MINUTE)
    with d.store.read() as repo:
        mention = repo.mention(repo.mention_keys(WHERE, [post.id])[post.id])
    assert mention is not None and len(d.sink.sent) == 1
    return post, mention


def stored(d: Desk, mention_id: int):  # noqa: ANN201
    with d.store.read() as repo:
        return repo.mention(mention_id)


def test_a_reply_from_slack_answers_the_mention_at_once_and_edits_its_alert(store: Store) -> None:
    d = desk(store)
    post, mention = alerted(d)
    service = replies(d)
    service.send(mention, JANE, "C0ALERTS", "@bob refund sent today")
    assert service.run_once() == 1
    answered = stored(d, mention.id)
    assert answered.status is Status.ANSWERED, "at once, no wait for the next poll"
    assert (answered.answered_from, answered.answer_text) == (JANE, "@bob refund sent today")
    [reply] = [p for p in d.source.posted if p.replied_to_id == post.id]
    d.tick(MINUTE)  # the poll reads the reply back: the same reply, not a second answer
    again = stored(d, mention.id)
    assert (again.answered_by, again.answered_from) == (reply.id, JANE)
    [alert] = d.sink.sent
    assert isinstance(alert.edits[-1], ClosedCard) and alert.edits[-1].mention.answered_from == JANE
    assert service.run_once() == 0, "nothing left to post"


def test_the_same_form_sent_twice_is_one_reply(store: Store) -> None:
    d = desk(store)
    _, mention = alerted(d)
    service = replies(d)
    first = service.send(mention, JANE, "C0ALERTS", "on it")
    assert service.send(mention, JANE, "C0ALERTS", "on it") == first, "Slack delivered the submission twice"
    service.run_once()
    service.run_once()
    assert d.source.calls.count("reply") == 1 and len(d.source.sent) == 1


@pytest.mark.parametrize("posted", [False, True], ids=["a 5xx before posting", "the answer lost after posting"])
def test_a_lost_answer_is_tried_again_as_a_retry_and_posts_once(store: Store, posted: bool) -> None:
    d = desk(store)
    _, mention = alerted(d)
    service = replies(d)
    d.source.fail_write(Unavailable("x", "reply: 503"), posted=posted)
    service.send(mention, JANE, "C0ALERTS", "on it")
    service.run_once()
    assert stored(d, mention.id).status is Status.OPEN and service.run_once() == 0, "waits before it tries again"
    d.clock.advance(timedelta(seconds=15))
    restarted = replies(d)  # the process may have stopped meanwhile: the intent is in the store
    assert restarted.run_once() == 1
    assert len(d.source.sent) == 1 and stored(d, mention.id).status is Status.ANSWERED
    with d.store.read() as repo:
        assert repo.outgoing(restarted.send(mention, JANE, "C0ALERTS", "on it")).attempts == 2


def test_a_refused_reply_is_told_never_retried_and_the_mention_stays_open(store: Store) -> None:
    d = desk(store)
    _, mention = alerted(d)
    service = replies(d)
    d.source.refusal = "the X app behind X_API_KEY is read-only"
    service.send(mention, JANE, "C0CHAT", "on it")
    service.run_once()
    d.clock.advance(timedelta(hours=1))
    assert service.run_once() == 0, "never tried again"
    assert d.source.calls.count("reply") == 1 and d.source.sent == {}
    assert stored(d, mention.id).status is Status.OPEN
    [(channel, user, text)] = d.sink.told
    assert (channel, user) == ("C0CHAT", JANE) and "read-only" in text and "still open" in text


def test_a_reply_to_a_mention_answered_meanwhile_is_not_posted(store: Store) -> None:
    d = desk(store)
    post, mention = alerted(d)
    service = replies(d)
    service.send(mention, JANE, "C0ALERTS", "on it")
    d.source.answer(post, "@bob done", d.clock.now())
    d.tick(MINUTE)
    service.run_once()
    assert d.source.sent == {} and "closed first" in d.sink.told[0][2]


def test_the_form_says_in_place_what_is_wrong(store: Store) -> None:
    d = desk(store)
    _, mention = alerted(d)
    service = replies(d)
    d.source.limit = 10
    assert service.problems(mention, "  ") == {"text": "Write the reply first."}
    assert service.problems(mention, "x" * 11) == {"text": "11 characters as X counts them; at most 10."}
    assert service.problems(mention, "x" * 10) == {}
    d.source.refusal = "set X_API_KEY"
    assert "cannot be posted as this account: set X_API_KEY" in service.problems(mention, "ok")["text"]
    form = service.form(mention)
    assert (form.limit, form.direct, form.refusal) == (10, False, "set X_API_KEY")
    other = ReplyService(d.store, {}, d.sink, d.clock)
    assert "off for this account" in other.problems(mention, "ok")["text"]


def test_a_cut_answer_then_a_refusal_of_the_retry_stops_there(store: Store) -> None:
    d = desk(store)
    _, mention = alerted(d)
    service = replies(d)
    d.source.fail_write(BadResponse("x", "reply: cut body"), posted=False)
    service.send(mention, JANE, "C0ALERTS", "on it")
    service.run_once()
    d.source.refusal = "revoked"
    d.clock.advance(timedelta(minutes=1))
    service.run_once()
    d.clock.advance(timedelta(hours=1))
    assert service.run_once() == 0 and stored(d, mention.id).status is Status.OPEN and len(d.sink.told) == 1


def test_the_answer_to_a_private_mention_stays_out_of_the_channel() -> None:
    """An alert edited to "answered from Slack" shows the reply's text, unless the mention was private (a protected
    author's, a direct message): its answer is as private as it."""
    from dataclasses import replace
    from datetime import UTC, datetime

    from bot.model import Mention, Post
    from bot.slack.blocks import closed_message

    at = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    post = Post("1", "9", "my e-mail is kim@example.org", at, author_handle="kim", url="https://masto.test/@kim/1")
    answered = Mention(post, Status.ANSWERED, "answered", at, answered_at=at + timedelta(minutes=5), answered_from=JANE,
                       answer_text="@kim done, kim@example.org is deleted")
    assert "kim@example.org is deleted" in str(closed_message(answered).blocks)
    private = replace(answered, post=replace(post, private=True))
    shown = str(closed_message(private).blocks)
    assert "kim@example.org" not in shown and f"<@{JANE}>" in shown


def test_a_reply_never_confirmed_is_given_up_rather_than_risk_a_second_post(store: Store) -> None:
    """A network keeps an idempotency key for a while only (Mastodon: about an hour): past GIVE_UP, a reply whose answer
    was lost is not tried again; its writer is told to look, and the mention stays open."""
    from bot.services.replying import GIVE_UP

    d = desk(store)
    _, mention = alerted(d)
    service = replies(d)
    service.send(mention, JANE, "C0ALERTS", "on it")
    for _ in range(12):
        d.source.fail_write(Unavailable("x", "reply: 503"))
    service.run_once()
    written = d.clock.now()
    while not d.sink.told and d.clock.now() - written < 2 * GIVE_UP:
        d.clock.advance(timedelta(minutes=5))
        service.run_once()
    assert d.clock.now() - written > GIVE_UP, "tried again until then"
    [(_, _, text)] = d.sink.told
    assert "did not confirm it within" in text and "still open" in text
    assert d.source.sent == {} and stored(d, mention.id).status is Status.OPEN
    d.clock.advance(timedelta(hours=1))
    assert service.run_once() == 0, "never tried again"
