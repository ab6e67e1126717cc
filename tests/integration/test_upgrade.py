"""An X-only deployment upgrades to accounts and networks with no change to its settings: what it stored moves to
its X account, and the alerts already in Slack are edited when answered, never posted again."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy

from bot.model import Mention, Post, Status
from bot.slack.blocks import alert_message
from bot.slack.client import SlackClient
from bot.standins.x_api import FakeX
from bot.store.db import SCHEMA, current_revision, make_engine, upgrade
from bot.store.repository import Store
from tests.conftest import START, make_loop
from tests.standins.slack_api import FakeSlack

MIN = timedelta(minutes=1)
MENTION = (
    "INSERT INTO mentions (id, author_id, author_handle, author_name, text, created_at, conversation_id, reference_types, "
    "status, status_reason, first_seen_at, author_protected) VALUES (:id, :author, :handle, '', :text, :at, :id, '', 'open', "
    "'waiting for a reply', :at, false)"
)
ALERT = "INSERT INTO alerts (mention_id, channel, ts, state, created_at, sent_at) VALUES (:id, 'C0ALERTS', :ts, 'sent', :at, :at)"
CURSOR = (
    "INSERT INTO poll_cursors (account, endpoint, newest_id, last_attempt_at, last_success_at, failures) "
    "VALUES ('Acme', :endpoint, :newest, :at, :at, 0)"
)


def test_a_database_at_0003_with_alerted_mentions_upgrades_and_its_alerts_are_edited_when_answered(
    db_url: str, fake_x: FakeX, fake_slack: FakeSlack
) -> None:
    engine = make_engine(db_url)
    upgrade(engine, "0003")
    fake_x.now = lambda: START - 40 * MIN
    bob, carol = fake_x.add_user("bob", "Bob"), fake_x.add_user("carol", "Carol")
    answered, waiting = fake_x.post(bob, "@acme where is my order?"), fake_x.post(carol, "@acme hello?")
    fresh = fake_x.post(carol, "@acme one more thing")  # read by the old version, not alerted yet
    slack = SlackClient(token=fake_slack.token, base_url=fake_slack.url, timeout=5)
    at = (START - 35 * MIN).replace(tzinfo=None)
    with engine.begin() as conn:
        for post_id, user in ((answered, bob), (waiting, carol), (fresh, carol)):
            tweet = fake_x.tweets[post_id]
            row = {"id": post_id, "author": user.id, "handle": user.username, "text": tweet.text, "at": at}
            conn.execute(sqlalchemy.text(MENTION), row)
        for post_id, user in ((answered, bob), (waiting, carol)):  # the old version's alerts, tagged with the X id
            post = Post(str(post_id), str(user.id), fake_x.tweets[post_id].text, START - 40 * MIN, author_handle=user.username,
                        url=f"https://x.com/{user.username}/status/{post_id}")
            message = alert_message(Mention(post, Status.OPEN, "", START, account="acme"), START)
            _, ts = slack.post("C0ALERTS", message, f"mention:{post_id}")
            conn.execute(sqlalchemy.text(ALERT), {"id": post_id, "ts": ts, "at": at})
        for endpoint in ("mentions", "own_posts"):
            conn.execute(sqlalchemy.text(CURSOR), {"endpoint": endpoint, "newest": fresh, "at": at})

    upgrade(engine)  # what `replywatch run` does on start
    assert current_revision(engine) == SCHEMA
    store = Store(engine)
    try:
        loop = make_loop(fake_x, fake_slack, store)
        before = {post_id: fake_slack.alerts_for(post_id) for post_id in (answered, waiting)}
        assert all(len(found) == 1 for found in before.values())
        loop.post(loop.acme, "@bob it ships today", reply_to=answered)
        loop.tick()
        loop.tick(MIN)

        [alert] = fake_slack.alerts_for(answered)
        assert alert.edits and "answered after" in alert.blocks[0]["text"]["text"], "edited when answered"
        assert "to @acme on X" in str(alert.blocks)
        assert fake_slack.alerts_for(waiting) == before[waiting] and not before[waiting][0].edits, "still open, as it was"
        assert sorted(fake_slack.alerted()) == sorted([answered, waiting, fresh]), "nothing alerted again; the new one once"
        assert fake_x.http.calls("/mentions")[0].query.get("since_id") == str(fresh), "read on from the stored cursor"
        with store.read() as repo:
            assert {m.post.id for m, _ in repo.open_mentions()} == {str(waiting), str(fresh)}
            assert {m.where for m, _ in repo.open_mentions()} == {loop.poll.where}
    finally:
        store.dispose()
