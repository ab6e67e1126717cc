"""Nothing lost past X's 800-mention cap, nothing read twice, deleted and edited posts handled."""

from __future__ import annotations

from datetime import timedelta

from bot.model import Status
from tests.conftest import Loop
from tests.reliability.figures import FIGURES

SEC, MIN = timedelta(seconds=1), timedelta(minutes=1)


def _drain(loop: Loop, ticks: int) -> None:
    for _ in range(ticks):
        loop.tick(SEC)


def test_900_mentions_while_down_are_all_stored_and_alerted_once_in_one_digest(loop: Loop) -> None:
    users = [loop.x.add_user(f"fan{i}") for i in range(30)]
    loop.tick()
    loop.clock.advance(2 * MIN)
    posted = []
    for i in range(900):  # the bot is down for three hours
        posted.append(loop.post(users[i % 30], f"@acme question {i}"))
        loop.clock.advance(12 * SEC)
    loop.tick(31 * MIN)
    with loop.store.unit() as repo:
        stored = {int(m.post.id) for m, _ in repo.open_mentions()}
    assert stored == set(posted), f"lost {len(set(posted) - stored)}"
    _drain(loop, 30)
    [digest] = loop.slack.digests()
    assert loop.slack.alerted() == [], "one digest, not 900 messages"
    with loop.store.unit() as repo:
        in_digest = {int(m.post.id): alert for m, alert in repo.open_mentions() if alert is not None and alert.ts == digest.ts}
    FIGURES["mentions lost"] += len(set(posted) - set(in_digest))
    assert set(in_digest) == set(posted), "all 900 in the digest"
    assert "900 mentions" in digest.blocks[0]["text"]["text"]
    assert "and 540 more" in str(digest.blocks[-1]), "what does not fit in one message is counted"
    [notice] = loop.slack.notices()
    assert "More than 800 mentions" in notice.text and "100 mention(s)" in notice.text and "recovered" in notice.text
    assert len(loop.x.http.calls("/search/recent")) == 1


def test_a_gap_older_than_search_reaches_says_what_may_be_missing(loop: Loop) -> None:
    loop.configure(expire_after=None)  # the first mention stays open through the 9 days
    users = [loop.x.add_user(f"fan{i}") for i in range(10)]
    loop.tick()
    first = loop.post(users[0], "@acme before the outage")
    loop.tick(MIN)
    loop.clock.advance(timedelta(days=1))
    old = [loop.post(users[i % 10], f"@acme old {i}") for i in range(50)]
    loop.clock.advance(timedelta(days=8))
    recent = []
    for i in range(850):
        recent.append(loop.post(users[i % 10], f"@acme new {i}"))
        loop.clock.advance(SEC)
    loop.tick(MIN)
    with loop.store.unit() as repo:
        stored = {int(m.post.id) for m, _ in repo.open_mentions()}
    assert set(recent) <= stored
    assert not set(old) & stored, "beyond search's 7 days: not recoverable"
    assert first in stored
    loop.tick(SEC)
    [notice] = loop.slack.notices()
    assert "may be missing" in notice.text and "search reaches back 7 days" in notice.text


def test_bursts_of_1200_mentions_are_each_read_once(loop: Loop) -> None:
    users = [loop.x.add_user(f"fan{i}") for i in range(20)]
    served: list[int] = []
    original = loop.x._page  # noqa: SLF001

    def counting(found, query, token_name, min_size=5):  # noqa: ANN001, ANN202
        reply = original(found, query, token_name, min_size)
        served.append(len(reply.body.get("data", [])))
        return reply

    loop.x._page = counting  # noqa: SLF001
    loop.tick()
    published, polls = 0, 0
    for burst, size in enumerate([50, 150, 100, 200, 50, 100, 150, 100, 50, 150, 50, 50]):
        for i in range(size):
            loop.post(users[i % 20], f"@acme burst {burst} #{i}")
            published += 1
        loop.clock.advance(2 * MIN)
        loop.poll.run_once()
        loop.clock.advance(MIN)
        loop.poll.run_once()  # a quiet poll: one empty page
        polls += 2
    pages = len(loop.x.http.calls("/mentions"))
    read = sum(served)
    ratio = read / published
    print(f"\nposts read / posts published: {read} / {published} = {ratio:.3f} ({polls} polls, {pages} mention pages)")
    FIGURES["posts read per post published (x1000)"] = round(ratio * 1000)
    assert published == 1200 and read == published, "each post read exactly once"
    assert pages <= sum(-(-size // 100) for size in [50, 150, 100, 200, 50, 100, 150, 100, 50, 150, 50, 50]) + polls


def test_deleted_mention_closes_without_alert_and_loses_its_text(loop: Loop) -> None:
    bob = loop.x.add_user("bob")
    kept = loop.post(bob, "@acme still here")
    gone = loop.post(bob, "@acme my card number is 1234")
    loop.tick()
    loop.x.delete(gone)
    loop.tick(31 * MIN)
    loop.tick(SEC)
    assert loop.slack.alerted() == [kept]
    deleted = loop.mention(gone)
    assert (deleted.status, deleted.reason, deleted.post.text) == (Status.DELETED, "deleted by its author", "")
    [lookup] = loop.x.http.calls("/2/tweets")
    assert lookup.query["ids"].split(",") == sorted([str(kept), str(gone)]) or set(lookup.query["ids"].split(",")) == {str(kept), str(gone)}


def test_alerted_then_deleted_mention_has_its_alert_updated(loop: Loop) -> None:
    bob = loop.x.add_user("bob")
    mention = loop.post(bob, "@acme a secret")
    loop.tick()
    loop.tick(31 * MIN)
    [alert] = loop.slack.alerts_for(mention)
    loop.x.delete(mention)
    with loop.store.unit() as repo:
        repo.mark_deleted([loop.key(mention)], loop.clock.now())  # as the next check finds it
    loop.tick(SEC)
    assert "deleted this post" in alert.blocks[0]["text"]["text"] and "a secret" not in str(alert.blocks)


def test_failed_lookup_still_alerts(loop: Loop) -> None:
    from bot.standins.http import Reply

    bob = loop.x.add_user("bob")
    mention = loop.post(bob, "@acme hi")
    loop.tick()
    loop.x.http.fail("/2/tweets", Reply(503, {"title": "Service Unavailable", "type": "about:blank"}))
    loop.tick(31 * MIN)
    assert loop.slack.alerted() == [mention]


def test_an_edited_mention_is_the_same_mention(loop: Loop) -> None:
    bob = loop.x.add_user("bob")
    original = loop.post(bob, "@acme my odrer is late")
    loop.tick()
    loop.clock.advance(MIN)
    edited = loop.x.edit(original, "@acme my order is late", at=loop.clock.now())
    loop.tick(MIN)
    with loop.store.unit() as repo:
        rows = repo.open_mentions()
    assert [(m.post.id, m.post.version_id, m.post.text) for m, _ in rows] == [(str(original), str(edited), "@acme my order is late")]
    loop.tick(30 * MIN)
    assert loop.slack.alerted() == [original]
    assert "my order is late" in loop.slack.alerts_for(original)[0].text
    loop.post(loop.acme, "@bob on it", reply_to=edited)
    loop.tick(MIN)
    assert loop.slack.alerts_for(original)[0].edits, "a reply to the edited version answers the mention"


def test_a_search_that_stops_short_says_which_mentions_may_be_missing(loop: Loop, monkeypatch) -> None:  # noqa: ANN001
    """Recent search reads a gap newest first, up to its page budget: when the budget ends first, the notice
    names the period it did not reach instead of claiming the gap recovered."""
    import bot.sources.x.client

    monkeypatch.setattr(bot.sources.x.client, "SEARCH_PAGES", 2)
    loop.slack.channels["C0SOCIAL"] = "social"
    loop.poll.channel = "C0SOCIAL"  # the account's own channel, as [[accounts]] can give it
    users = [loop.x.add_user(f"fan{i}") for i in range(10)]
    loop.tick()
    for i in range(1200):  # 800 from the timeline, a gap of 400: two pages of search reach 200 of them
        loop.post(users[i % 10], f"@acme busy day {i}")
        loop.clock.advance(SEC)
    loop.tick(MIN)
    loop.tick(SEC)
    [notice] = loop.slack.notices()
    assert notice.channel == "C0SOCIAL", "said where the account's alerts go"
    assert "200 mention(s)" in notice.text and "the search stopped before the start of that period" in notice.text
    assert "may be missing" in notice.text
