"""The whole loop — poll, rules, store, sweep — through the real tweepy and slack_sdk clients against the
stand-ins, with a fake clock."""

from __future__ import annotations

from datetime import timedelta

from bot.model import AccountKey, Network, Status
from bot.standins.http import Reply
from tests.conftest import Loop

W = AccountKey(Network.X, "acme")  # the watched account

MIN = timedelta(minutes=1)


def test_unanswered_mention_is_alerted_once_when_due_and_not_before(loop: Loop) -> None:
    bob = loop.x.add_user("bob", "Bob Example")
    mention = loop.post(bob, "@acme my order never arrived")
    loop.tick()
    loop.tick(29 * MIN)
    assert loop.slack.posts() == []
    loop.tick(1 * MIN)
    [alert] = loop.slack.posts()
    assert alert.channel == "C0ALERTS"
    assert "Bob Example" in alert.text and "@bob" in alert.text and "my order never arrived" in alert.text
    section = alert.blocks[0]["text"]["text"]
    assert "waiting 30m" in section
    assert f"https://x.com/bob/status/{mention}" in alert.blocks[1]["elements"][0]["text"]
    assert alert.unfurl_links is False and alert.unfurl_media is False
    for _ in range(5):
        loop.tick(10 * MIN)
    assert len(loop.slack.posts()) == 1


def test_mention_answered_in_time_is_never_alerted(loop: Loop) -> None:
    bob = loop.x.add_user("bob")
    mention = loop.post(bob, "@acme hello?")
    loop.tick()
    loop.clock.advance(10 * MIN)
    loop.post(loop.acme, "@bob hi Bob, looking into it", reply_to=mention)
    loop.tick()
    loop.tick(60 * MIN)
    assert loop.slack.posts() == []
    stored = loop.mention(mention)
    assert stored.status is Status.ANSWERED


def test_alert_is_edited_in_place_when_the_answer_comes_later(loop: Loop) -> None:
    bob = loop.x.add_user("bob", "Bob")
    mention = loop.post(bob, "@acme anyone there?")
    loop.tick()
    loop.tick(31 * MIN)
    [alert] = loop.slack.posts()
    loop.clock.advance(14 * MIN)
    reply = loop.post(loop.acme, "@bob sorry for the wait!", reply_to=mention)
    loop.tick()
    assert len(loop.slack.posts()) == 1, "no second message: the same one is edited"
    assert len(alert.edits) == 1
    text = alert.blocks[0]["text"]["text"]
    assert "answered after 45m" in text
    assert f"https://x.com/acme/status/{reply}" in alert.blocks[1]["elements"][0]["text"]
    loop.tick(MIN)
    assert len(alert.edits) == 1, "edited once, not on every sweep"


def test_hostile_text_is_escaped_exactly_once(loop: Loop) -> None:
    eve = loop.x.add_user("eve", "Eve <!here>")
    loop.post(eve, "@acme <!channel> & <@U1> <https://evil.example|https://acme.com> &amp;")
    loop.tick()
    loop.tick(31 * MIN)
    [alert] = loop.slack.posts()
    section = alert.blocks[0]["text"]["text"]
    assert "&lt;!channel&gt; &amp; &lt;@U1&gt; &lt;https://evil.example|https://acme.com&gt; &amp;amp;" in section
    assert "Eve &lt;!here&gt;" in section
    for shown in (section, alert.text):
        assert "<!" not in shown and "<@" not in shown and "<https://evil" not in shown
        assert "&amp;lt;" not in shown, "escaped twice"


def test_self_mentions_and_retweets_are_recorded_but_never_alerted(loop: Loop) -> None:
    bob = loop.x.add_user("bob")
    own = loop.post(loop.acme, "Big news from @acme today")
    original = loop.post(bob, "@acme is great")
    retweet = loop.post(bob, "RT @bob: @acme is great", retweet=original)
    loop.tick()
    loop.post(loop.acme, "@bob thanks!", reply_to=original)
    loop.tick(5 * MIN)
    loop.tick(60 * MIN)
    assert loop.slack.posts() == []
    assert (loop.mention(own).status, loop.mention(own).reason) == (Status.IGNORED, "own post")
    assert (loop.mention(retweet).status, loop.mention(retweet).reason) == (Status.IGNORED, "retweet")


def test_earlier_mentions_in_a_thread_are_answered_by_a_reply_to_a_later_one(loop: Loop) -> None:
    bob, carol = loop.x.add_user("bob"), loop.x.add_user("carol")
    first = loop.post(bob, "@acme my package is late")
    loop.clock.advance(MIN)
    second = loop.post(bob, "order #123 for @acme, it was due Monday", reply_to=first)
    carols = loop.post(carol, "@bob same here, @acme", reply_to=first)
    loop.tick()
    loop.clock.advance(5 * MIN)
    loop.post(loop.acme, "@bob we are on it", reply_to=second)
    loop.tick()
    loop.tick(60 * MIN)
    assert loop.slack.alerted() == [carols], "bob's two mentions are answered; carol's, in the same thread, is not"


def test_first_start_reads_only_the_last_24_hours(loop: Loop) -> None:
    bob = loop.x.add_user("bob")
    old = loop.x.post(bob, "@acme last year's complaint", at=loop.clock.now() - timedelta(days=3))
    answered = loop.x.post(bob, "@acme answered this morning", at=loop.clock.now() - timedelta(hours=5))
    loop.x.post(loop.acme, "@bob done", reply_to=answered, at=loop.clock.now() - timedelta(hours=4))
    waiting = loop.x.post(bob, "@acme still waiting", at=loop.clock.now() - timedelta(hours=2))
    loop.tick()
    assert loop.mention(old) is None
    assert loop.mention(answered).status is Status.ANSWERED
    assert loop.slack.alerted() == [waiting]


def test_nothing_is_read_twice_and_pages_are_followed(loop: Loop) -> None:
    users = [loop.x.add_user(f"user{i}") for i in range(5)]
    for i in range(250):
        loop.post(users[i % 5], f"@acme question {i}")
        loop.clock.advance(timedelta(seconds=1))
    loop.tick()
    pages = loop.x.http.calls("/mentions")
    assert len(pages) == 3
    assert all(p.query.get("max_results") == "100" for p in pages)
    with loop.store.unit() as repo:
        assert len(repo.open_mentions()) == 250
    newest = max(loop.x.tweets)
    loop.tick(MIN)
    again = loop.x.http.calls("/mentions")[3]
    assert again.query["since_id"] == str(newest) and "pagination_token" not in again.query
    later = loop.post(users[0], "@acme one more")
    loop.tick(MIN)
    with loop.store.unit() as repo:
        assert loop.mention(later) is not None
        assert len(repo.open_mentions()) == 251


def test_x_failure_is_recorded_and_the_loop_goes_on(loop: Loop) -> None:
    bob = loop.x.add_user("bob")
    first = loop.post(bob, "@acme first")
    loop.tick()
    loop.x.http.fail("/mentions", Reply(503, {"title": "Service Unavailable", "detail": "down", "type": "about:blank"}), times=3)
    loop.tick(31 * MIN)
    assert loop.slack.alerted() == [first], "what is stored is alerted even while X fails"
    with loop.store.unit() as repo:
        health = {h.endpoint: h for h in repo.health(W)}
    assert "503" in health["mentions"].last_error
    late = loop.post(bob, "@acme second")
    for _ in range(3):
        loop.tick(5 * MIN)
    with loop.store.unit() as repo:
        assert loop.mention(late) is not None
        assert {h.endpoint: h for h in repo.health(W)}["mentions"].last_error is None
    loop.tick(MIN)
    notices = [m.text for m in loop.slack.notices()]
    assert len(notices) == 2, notices
    assert "Mentions of @acme on X are not being collected since" in notices[0] and "503" in notices[0]
    assert "are being collected again" in notices[1]


def test_no_alert_before_replies_were_checked(loop: Loop) -> None:
    """A mention whose possible answer could not be read yet is not alerted: no crying wolf."""
    bob = loop.x.add_user("bob")
    mention = loop.x.post(bob, "@acme hi", at=loop.clock.now() - timedelta(hours=1))
    loop.x.post(loop.acme, "@bob hi!", reply_to=mention, at=loop.clock.now() - timedelta(minutes=50))
    loop.x.http.fail("/tweets", Reply(500, {"title": "Internal Error", "type": "about:blank"}))
    loop.tick()
    assert loop.slack.posts() == []
    loop.tick(MIN)
    assert loop.slack.posts() == []
    assert loop.mention(mention).status is Status.ANSWERED


def test_alert_posted_but_unconfirmed_is_found_again_not_posted_twice(loop: Loop) -> None:
    bob = loop.x.add_user("bob")
    mention = loop.post(bob, "@acme help")
    loop.tick()
    loop.slack.http.fail("chat.postMessage", drop=True)
    loop.tick(31 * MIN)
    assert len(loop.slack.alerts_for(mention)) == 1, "Slack posted it, the answer was lost"
    loop.tick(MIN)
    loop.tick(MIN)
    assert len(loop.slack.alerts_for(mention)) == 1
    with loop.store.unit() as repo:
        [(_, alert)] = repo.open_mentions()
    assert alert.state == "sent" and alert.ts == loop.slack.alerts_for(mention)[0].ts


def test_alert_refused_outright_is_retried(loop: Loop) -> None:
    bob = loop.x.add_user("bob")
    mention = loop.post(bob, "@acme help")
    loop.tick()
    loop.slack.http.fail("chat.postMessage", Reply(200, {"ok": False, "error": "channel_not_found"}))
    loop.tick(31 * MIN)
    assert loop.slack.alerts_for(mention) == []
    loop.tick(MIN)
    assert len(loop.slack.alerts_for(mention)) == 1


def test_alert_not_confirmed_and_not_posted_is_posted_after_checking(loop: Loop) -> None:
    bob = loop.x.add_user("bob")
    mention = loop.post(bob, "@acme help")
    loop.tick()
    loop.slack.http.fail("chat.postMessage", Reply(503, {"ok": False, "error": "service_unavailable"}))
    loop.tick(31 * MIN)
    assert loop.slack.alerts_for(mention) == []
    loop.tick(MIN)
    assert len(loop.slack.alerts_for(mention)) == 1
    assert loop.slack.http.calls("conversations.history"), "history was checked before posting again"
