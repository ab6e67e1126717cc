"""Answer from the alert: the Reply button, its form, and the reply posted once as the account, through the real
slack_sdk and tweepy clients against the Slack and X stand-ins. Who may use it, what the form says in place, and
the alert edited to "answered from Slack"."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.services.replying import Replying, ReplyService
from bot.slack.interactions import Interactions
from bot.sources.x.client import XSource
from bot.standins.x_api import FakeX
from tests.conftest import Loop, make_loop, slack_actions
from tests.integration.test_actions import ACME, JANE, OMAR, alerted, click, run
from tests.standins.slack_api import FakeSlack

USER_KEYS = ("x-key", "x-key-secret", "x-access-token", "x-access-secret")
GROUP = "S0SUPPORT"
MIN = timedelta(minutes=1)


@pytest.fixture
def replying(fake_x: FakeX, fake_slack: FakeSlack, sqlite_store) -> tuple[Loop, Interactions, ReplyService]:  # noqa: ANN001
    fake_x.api_key = USER_KEYS[0]
    fake_x.grant(fake_x.user("acme"), USER_KEYS[2])
    loop = make_loop(fake_x, fake_slack, sqlite_store, buttons=True, escalate_after=None)
    writer = XSource(base_url=fake_x.url, timeout=5, handle="acme", user_keys=USER_KEYS, clock=loop.clock.now)
    service = ReplyService(loop.store, {loop.poll.where: Replying(writer, GROUP)}, loop.sweep.sink, loop.clock)
    loop.sweep.sink.replying = frozenset({loop.poll.where})
    fake_slack.usergroups[GROUP] = [JANE]
    interactions = slack_actions(loop, access=ACME)
    interactions.actions.replies = service
    return loop, interactions, service


def submitted(view: dict, text: str, user: str = JANE) -> dict:
    """The view_submission payload of the reply form."""
    return {
        "type": "view_submission", "team": {"id": "T0ACME", "domain": "acme"},
        "user": {"id": user, "username": user.lower(), "team_id": "T0ACME"}, "api_app_id": "A0APP", "trigger_id": "2.3.4",
        "view": {"id": "V0001", "type": "modal", "callback_id": view["callback_id"], "private_metadata": view["private_metadata"],
                 "state": {"values": {"text": {"text": {"type": "plain_text_input", "value": text}}}}},
    }


def test_a_reply_written_in_slack_is_posted_once_and_answers_the_mention(replying, fake_x: FakeX, fake_slack: FakeSlack) -> None:  # noqa: ANN001
    loop, interactions, service = replying
    mention, alert = alerted(loop)
    [buttons] = [b for b in alert.blocks if b["type"] == "actions"]
    assert [e["action_id"] for e in buttons["elements"]][:2] == ["claim", "reply"]
    run(interactions.handle("interactive", click(alert, "reply")))
    [opened] = fake_slack.views
    view = opened["view"]
    assert view["callback_id"] == "reply" and "as @acme on X" in str(view["blocks"]) and "280" in str(view["blocks"])

    too_long = "日本語" * 50  # 150 characters, 300 as X counts them
    answer = interactions.handle("interactive", submitted(view, too_long))
    assert answer.ack == {"response_action": "errors", "errors": {"text": "300 characters as X counts them; at most 280."}}
    assert answer.later is None and fake_x.replies_to(mention) == []

    text = "@bob sorry for the wait: the refund went out today"
    for _ in range(2):  # Slack delivered the submission twice
        answer = interactions.handle("interactive", submitted(view, text))
        assert answer.ack is None
        run(answer)
    service.run_once()
    service.run_once()
    [reply] = fake_x.replies_to(mention)
    assert reply.text == text, "posted once, as @acme, in reply to the mention"
    loop.tick(timedelta(seconds=1))
    assert "answered from Slack by <@U0JANE>" in str(alert.blocks) and text in str(alert.blocks), "edited at once"
    loop.tick(MIN)  # the poll reads the reply back: the same answer
    with loop.store.read() as repo:
        stored = repo.mention(loop.key(mention))
        assert (stored.answered_by, stored.answered_from) == (str(reply.id), JANE)
    assert len(fake_slack.posts()) == 1


def test_only_the_reply_group_may_reply_and_nothing_is_posted_otherwise(replying, fake_x: FakeX, fake_slack: FakeSlack) -> None:  # noqa: ANN001
    loop, interactions, service = replying
    mention, alert = alerted(loop)
    run(interactions.handle("interactive", click(alert, "reply", OMAR)))
    assert fake_slack.views == []
    [told] = fake_slack.ephemeral
    assert told["user"] == OMAR and "reply group" in told["text"]
    run(interactions.handle("interactive", click(alert, "reply", JANE)))
    [opened] = fake_slack.views
    fake_slack.usergroups[GROUP] = ["U0LEAD"]  # Jane left the group before she sent it
    run(interactions.handle("interactive", submitted(opened["view"], "on it")))
    service.run_once()
    assert fake_x.replies_to(mention) == [] and "reply group" in fake_slack.ephemeral[-1]["text"]


def test_a_read_only_app_is_said_in_the_form_and_in_place(replying, fake_x: FakeX, fake_slack: FakeSlack) -> None:  # noqa: ANN001
    loop, interactions, service = replying
    mention, alert = alerted(loop)
    fake_x.access_level = "read"
    fake_x.fail_write("unavailable")  # a first post is refused for the app: X says read-only
    run(interactions.handle("interactive", click(alert, "reply")))
    view = fake_slack.views[0]["view"]
    run(interactions.handle("interactive", submitted(view, "on it")))
    service.run_once()
    loop.clock.advance(MIN)
    service.run_once()
    assert fake_x.replies_to(mention) == []
    assert "read-only" in fake_slack.ephemeral[-1]["text"] and "still open" in fake_slack.ephemeral[-1]["text"]
    answer = interactions.handle("interactive", submitted(view, "once more"))
    assert "read-only" in answer.ack["errors"]["text"], "the form says so in place from now on"


def test_run_wires_the_reply_button_and_posts_through_socket_mode(env, fake_x: FakeX, fake_slack: FakeSlack, tmp_path, monkeypatch) -> None:  # noqa: ANN001
    """As `replywatch run` builds it: an account with reply_from_slack gets the button, its form opens over Socket Mode,
    and the reply goes out on the "replies" job."""
    from bot.app.wire import build_app, poll_job
    from bot.clock import FakeClock
    from bot.config.load import load_config
    from bot.standins.http import wait_for
    from tests.conftest import START
    from tests.standins.socket_mode import SocketModeStandIn

    fake_x.api_key = USER_KEYS[0]
    fake_x.grant(fake_x.user("acme"), USER_KEYS[2])
    (tmp_path / "replywatch.toml").write_text('[[accounts]]\nnetwork = "x"\nhandle = "acme"\nreply_from_slack = true\n')
    keys = dict(zip(("X_API_KEY", "X_API_SECRET", "X_ACCESS_TOKEN", "X_ACCESS_TOKEN_SECRET"), USER_KEYS, strict=True))
    settings = {**env, **keys, "SLACK_APP_TOKEN": fake_slack.app_token, "ALERT_AFTER": "2m", "ESCALATE_AFTER": "0"}
    for key, value in settings.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("X_BEARER_TOKEN", raising=False)
    socket = SocketModeStandIn()
    fake_slack.socket_url = socket.url
    clock = FakeClock(START)
    fake_x.now, fake_slack.now = clock.now, lambda: clock.now().timestamp()
    app = build_app(load_config(), clock)
    try:
        jobs = {name: job for name, job, _ in app.jobs()}
        assert "replies" in jobs
        app.socket.connect()
        assert socket.wait_connected()
        mention = fake_x.post(fake_x.add_user("bob"), "@acme where is my refund?", at=clock.now())
        for _ in range(3):
            clock.advance(MIN)
            jobs[poll_job(app.polls[0].where)]()
            jobs["sweep"]()
        [alert] = fake_slack.alerts_for(mention)
        socket.ack(socket.send("interactive", click(alert, "reply")))
        assert wait_for(lambda: len(fake_slack.views) == 1)
        view = fake_slack.views[0]["view"]
        ack = socket.ack(socket.send("interactive", submitted(view, "@bob it went out today")))
        assert ack is not None and not ack[0], "no errors in the form"
        assert wait_for(lambda: jobs["replies"]() == 1 or fake_x.replies_to(mention))
        jobs["replies"]()
        assert [t.text for t in fake_x.replies_to(mention)] == ["@bob it went out today"]
    finally:
        app.socket.close()
        socket.close()
        app.store.dispose()
