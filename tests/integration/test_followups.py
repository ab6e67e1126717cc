"""Flood control and follow-ups against the stand-ins: digests, escalations and reminders in the alert's thread."""

from __future__ import annotations

from datetime import timedelta

from tests.conftest import make_loop

SEC, MIN = timedelta(seconds=1), timedelta(minutes=1)


def test_25_mentions_due_at_once_make_one_digest_that_is_edited_as_they_are_answered(fake_x, fake_slack, sqlite_store) -> None:  # noqa: ANN001
    loop = make_loop(fake_x, fake_slack, sqlite_store, escalate_after=None)
    fans = [loop.x.add_user(f"fan{i}", f"Fan <{i}>") for i in range(25)]
    posted = [loop.post(fan, f"@acme is the shop down? #{i}") for i, fan in enumerate(fans)]
    loop.tick()
    loop.tick(30 * MIN)
    for _ in range(3):
        loop.tick(SEC)
    assert loop.slack.alerted() == [], "no single alerts"
    [digest] = loop.slack.posts()
    shown = str(digest.blocks)
    assert "*25 mentions* have been waiting" in shown
    for fan, post_id in zip(fans, posted, strict=True):
        assert f"https://x.com/{fan.username}/status/{post_id}|@{fan.username}>" in shown
    assert "Fan &lt;7&gt;" in shown and "Fan <7>" not in shown, "names from X are escaped once"

    for fan, post_id in zip(fans[:3], posted[:3], strict=True):
        loop.post(loop.acme, f"@{fan.username} no, all good", reply_to=post_id)
    loop.tick(MIN)
    edited = str(digest.blocks)
    assert len(digest.edits) == 1
    assert "3 since answered or closed, 22 still waiting" in edited
    assert edited.count(":white_check_mark: ~@fan") == 3
    assert len(loop.slack.posts()) == 1, "edited in place, nothing new posted"


def test_a_few_due_at_once_still_get_their_own_alerts(loop) -> None:  # noqa: ANN001
    fans = [loop.x.add_user(f"fan{i}") for i in range(5)]
    posted = [loop.post(fan, "@acme hi") for fan in fans]
    loop.tick()
    loop.tick(30 * MIN)
    for _ in range(5):
        loop.tick(SEC)
    assert sorted(loop.slack.alerted()) == sorted(posted), "5 is not more than DIGEST_THRESHOLD"
    times = sorted(m.received_at for m in loop.slack.posts())
    assert all(b - a >= 1 for a, b in zip(times, times[1:], strict=False)), "one a second"


def test_a_stuck_mention_gets_one_escalation_in_its_thread_and_an_answered_one_none(fake_x, fake_slack, sqlite_store) -> None:  # noqa: ANN001
    loop = make_loop(
        fake_x, fake_slack, sqlite_store, alert_after=2 * SEC, interval=SEC,
        escalate_after=6 * SEC, escalate_to=("U0LEAD",), remind_every=None,
    )
    bob, carol = loop.x.add_user("bob"), loop.x.add_user("carol")
    stuck = loop.post(bob, "@acme <!channel> refund please")
    answered = loop.post(carol, "@acme quick question")
    for _ in range(6):  # due at 2 s; X's rate-limit headers allow a read every 2 s: the read after 2 s is at 4 s
        loop.tick(SEC)
    assert sorted(loop.slack.alerted()) == sorted([stuck, answered])
    loop.post(loop.acme, "@carol sure, ask away", reply_to=answered)
    for _ in range(20):
        loop.tick(SEC)
    [stuck_alert] = loop.slack.alerts_for(stuck)
    [answered_alert] = loop.slack.alerts_for(answered)
    [escalation] = loop.slack.thread(stuck_alert.ts)
    assert escalation.text.startswith(":rotating_light: Escalation: <@U0LEAD> still unanswered after")
    assert "&lt;!channel&gt;" not in escalation.text and "<!channel>" not in escalation.text
    assert loop.slack.thread(answered_alert.ts) == []


def test_reminders_follow_every_remind_every_until_answered(fake_x, fake_slack, sqlite_store) -> None:  # noqa: ANN001
    loop = make_loop(
        fake_x, fake_slack, sqlite_store, alert_after=MIN, escalate_after=10 * MIN, escalate_to=("S0TEAM", "here"),
        remind_every=30 * MIN,
    )
    bob = loop.x.add_user("bob")
    stuck = loop.post(bob, "@acme hello?")
    loop.tick()
    loop.tick(MIN)
    [alert] = loop.slack.alerts_for(stuck)
    for _ in range(7):  # 70 minutes: the escalation at 10, reminders at 40 and 70
        loop.tick(10 * MIN)
    thread = loop.slack.thread(alert.ts)
    assert [m.text.split(":")[2].strip() for m in thread] == ["Escalation", "Reminder", "Reminder"]
    assert all("<!subteam^S0TEAM> <!here>" in m.text for m in thread)
    loop.post(loop.acme, "@bob hi!", reply_to=stuck)
    for _ in range(6):
        loop.tick(10 * MIN)
    assert len(loop.slack.thread(alert.ts)) == 3, "answered: no more reminders"


def test_a_threaded_escalation_whose_answer_was_lost_is_found_not_posted_twice(fake_x, fake_slack, sqlite_store) -> None:  # noqa: ANN001
    loop = make_loop(fake_x, fake_slack, sqlite_store, alert_after=MIN, escalate_after=5 * MIN, remind_every=None)
    bob = loop.x.add_user("bob")
    stuck = loop.post(bob, "@acme hello?")
    loop.tick()
    loop.tick(MIN)
    [alert] = loop.slack.alerts_for(stuck)
    loop.slack.http.fail("chat.postMessage", drop=True)  # Slack posts it, the answer never arrives
    loop.tick(5 * MIN)
    assert len(loop.slack.thread(alert.ts)) == 1
    for _ in range(5):
        loop.tick(5 * SEC)
    assert len(loop.slack.thread(alert.ts)) == 1, "looked up in the thread (conversations.replies), adopted"
    assert loop.slack.http.calls("conversations.replies")


def test_a_digest_gets_one_escalation_for_all_its_stuck_mentions(fake_x, fake_slack, sqlite_store) -> None:  # noqa: ANN001
    loop = make_loop(fake_x, fake_slack, sqlite_store, escalate_after=40 * MIN, escalate_to=("U0LEAD",), remind_every=None)
    fans = [loop.x.add_user(f"fan{i}") for i in range(8)]
    for fan in fans:
        loop.post(fan, "@acme ?")
    loop.tick()
    loop.tick(30 * MIN)
    loop.tick(SEC)
    [digest] = loop.slack.digests()
    loop.tick(10 * MIN)
    loop.tick(SEC)
    [escalation] = loop.slack.thread(digest.ts)
    assert "<@U0LEAD> 8 mentions still unanswered after 40m" in escalation.text
