"""What deserves an alert, against the stand-ins: X's own shapes (display_text_range, entities, public_metrics,
protected) through tweepy, the rules, the store and the sweep."""

from __future__ import annotations

from datetime import timedelta

from bot.model import AccountKey, Network, Status
from tests.conftest import Loop, make_loop

W = AccountKey(Network.X, "acme")  # the watched account

SEC, MIN = timedelta(seconds=1), timedelta(minutes=1)


def _status(loop: Loop, mention_id: int) -> tuple[Status, str]:
    m = loop.mention(mention_id)
    assert m is not None
    return m.status, m.reason


def test_only_a_reply_chain_mention_is_not_alerted_but_replies_to_us_and_explicit_ones_are(loop: Loop) -> None:
    bob, carol = loop.x.add_user("bob"), loop.x.add_user("carol")
    ours = loop.post(loop.acme, "We are live!")
    thread = loop.post(bob, "@acme @carol look at this")
    chain_only = loop.post(carol, "@bob @acme wow, nice", reply_to=thread)
    to_our_post = loop.post(carol, "@acme congrats", reply_to=ours)
    explicit = loop.post(bob, "@carol yes, and @acme should fix the typo", reply_to=chain_only)
    loop.tick()
    loop.tick(31 * MIN)
    for _ in range(4):
        loop.tick(SEC)
    assert sorted(loop.slack.alerted()) == sorted([thread, to_our_post, explicit])
    assert _status(loop, chain_only) == (Status.IGNORED, "implicit mention: only in the reply chain")


def test_a_responders_reply_answers_the_mention(fake_x, fake_slack, sqlite_store) -> None:  # noqa: ANN001
    fake_x.add_user("acme_help", "Acme Support")
    loop = make_loop(fake_x, fake_slack, sqlite_store, responders=("acme_help",))
    bob, helper = loop.x.add_user("bob"), loop.x.user("acme_help")
    first = loop.post(bob, "@acme my invoice is wrong")
    second = loop.post(bob, "@acme also the app crashes")
    loop.tick()
    loop.clock.advance(5 * MIN)
    loop.post(helper, "@bob sorry! sending a corrected one", reply_to=first)
    loop.tick(MIN)
    assert _status(loop, first)[0] is Status.ANSWERED
    loop.tick(30 * MIN)
    loop.tick(SEC)
    assert loop.slack.alerted() == [second], "the responder answered one; the other still waits"
    with loop.store.unit() as repo:
        assert {h.endpoint for h in repo.health(W)} == {"mentions", "own_posts", "own_posts:acme_help"}


def test_muted_authors_and_ignored_keywords_are_recorded_never_alerted(fake_x, fake_slack, sqlite_store) -> None:  # noqa: ANN001
    from bot.rules import keyword_pattern

    words = ("giveaway", "/free\\s+crypto/")
    loop = make_loop(
        fake_x, fake_slack, sqlite_store,
        signals={"muted": frozenset({"spambot"}), "keywords": tuple((w, keyword_pattern(w)) for w in words)},
    )
    spam, bob = loop.x.add_user("SpamBot"), loop.x.add_user("bob")
    muted = loop.post(spam, "@acme hello")
    keyword = loop.post(bob, "@acme GiveAway!!")
    regex = loop.post(bob, "@acme Free   Crypto here")
    real = loop.post(bob, "@acme my order?")
    loop.tick()
    for _ in range(3):
        loop.tick(31 * MIN)
    assert loop.slack.alerted() == [real]
    assert _status(loop, muted) == (Status.IGNORED, "muted author @SpamBot")
    assert _status(loop, keyword) == (Status.IGNORED, "ignored keyword giveaway")
    assert _status(loop, regex) == (Status.IGNORED, "ignored keyword /free\\s+crypto/")


def test_a_vip_is_alerted_within_seconds_while_others_wait(fake_x, fake_slack, sqlite_store) -> None:  # noqa: ANN001
    loop = make_loop(
        fake_x, fake_slack, sqlite_store, interval=SEC,
        signals={"vip_min_followers": 100_000}, alert_after_vip=2 * SEC,
    )
    star, bob = loop.x.add_user("star", "Star", followers=250_000), loop.x.add_user("bob", followers=120)
    vip = loop.post(star, "@acme your app is down?")
    other = loop.post(bob, "@acme me too")
    for _ in range(4):
        loop.tick(SEC)
    assert loop.slack.alerted() == [vip], "alerted within a few seconds; bob waits for ALERT_AFTER"
    [alert] = loop.slack.posts()
    assert "VIP: 250k followers" in alert.blocks[0]["text"]["text"]
    loop.tick(30 * MIN)
    assert loop.slack.alerted() == [vip, other]


def test_a_protected_authors_text_is_not_posted(loop: Loop) -> None:
    locked = loop.x.add_user("locked", "Locked Person", protected=True)
    loop.post(locked, "@acme my private complaint about order 555")
    loop.tick()
    loop.tick(31 * MIN)
    [alert] = loop.slack.posts()
    shown = alert.text + str(alert.blocks)
    assert "order 555" not in shown
    assert "private — open on X to read it" in shown
