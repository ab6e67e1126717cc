"""Working alerts from Slack: the JSON payloads Slack sends for button clicks, the close form and `/replywatch`,
through the same handler Socket Mode calls, with the real store and the Slack stand-in; and once through a
websocket stand-in of Socket Mode itself."""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.calendar.schedule import Rotation, Schedule
from bot.model import Status
from bot.services.requests import Access
from bot.slack.interactions import Answer, Interactions
from bot.slack.socket import SocketListener
from bot.standins.http import wait_for
from tests.conftest import Loop, make_loop, slack_actions
from tests.standins.socket_mode import SocketModeStandIn

SEC, MIN = timedelta(seconds=1), timedelta(minutes=1)
JANE, OMAR = "U0JANE", "U0OMAR"
BERLIN = ZoneInfo("Europe/Berlin")
ACME = Access(alert_channels=frozenset({"C0ALERTS"}), teams=frozenset({"T0ACME"}), app="A0APP")  # what auth.test says


@pytest.fixture
def worked(fake_x, fake_slack, sqlite_store) -> tuple[Loop, Interactions]:  # noqa: ANN001
    loop = make_loop(fake_x, fake_slack, sqlite_store, buttons=True, display_tz=BERLIN, escalate_after=None)
    return loop, slack_actions(loop, BERLIN, ACME)


def alerted(loop: Loop, text: str = "@acme where is my refund?") -> tuple[int, object]:
    bob = loop.x.add_user("bob", "Bob")
    mention = loop.post(bob, text)
    loop.tick()
    loop.tick(30 * MIN)
    [alert] = loop.slack.alerts_for(mention)
    return mention, alert


def click(  # noqa: ANN001
    alert, action_id: str, user: str = JANE, option: str | None = None, *,
    team: str = "T0ACME", user_team: str | None = None, app: str = "A0APP", channel: str | None = None,
) -> dict:
    """A block_actions payload as Slack sends it for a click on the alert message (by default in its channel, by
    someone of the workspace)."""
    [buttons] = [b for b in alert.blocks if b["type"] == "actions"]
    element = next(e for e in buttons["elements"] if e["action_id"] == action_id)
    action = {"action_id": action_id, "block_id": buttons["block_id"], "type": element["type"], "action_ts": "1764061200.000100"}
    if element["type"] == "static_select":
        action["selected_option"] = next(o for o in element["options"] if o["value"].endswith(":" + option))
    else:
        action["value"] = element.get("value")
        action["text"] = element["text"]
    channel = channel or alert.channel
    return {
        "type": "block_actions",
        "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": user_team or team},
        "api_app_id": app,
        "token": "legacy-verification-token",
        "container": {"type": "message", "message_ts": alert.ts, "channel_id": channel, "is_ephemeral": False},
        "trigger_id": "1234.5678.abcdef",
        "team": {"id": team, "domain": "acme"},
        "channel": {"id": channel, "name": "alerts"},
        "message": {"type": "message", "ts": alert.ts, "text": alert.text, "blocks": alert.blocks},
        "response_url": "https://hooks.slack.com/actions/T0ACME/1/abc",
        "actions": [action],
    }


def submission(
    view: dict, reason: str | None, note: str | None, user: str = JANE, *,
    team: str = "T0ACME", user_team: str | None = None, app: str = "A0APP",
) -> dict:
    """The view_submission payload for the close form."""
    selected = {"text": {"type": "plain_text", "text": reason or ""}, "value": reason} if reason else None
    return {
        "type": "view_submission",
        "team": {"id": team, "domain": "acme"},
        "user": {"id": user, "username": user.lower(), "team_id": user_team or team},
        "api_app_id": app,
        "trigger_id": "2345.6789.bcdef",
        "view": {
            "id": "V0001",
            "type": "modal",
            "callback_id": view["callback_id"],
            "private_metadata": view["private_metadata"],
            "state": {
                "values": {
                    "reason": {"choice": {"type": "radio_buttons", "selected_option": selected}},
                    "note": {"text": {"type": "plain_text_input", "value": note}},
                }
            },
        },
    }


def slash(user: str = JANE, *, channel: str = "C0ALERTS", team: str = "T0ACME", app: str = "A0APP") -> dict:
    return {
        "token": "legacy-verification-token", "team_id": team, "team_domain": "acme", "channel_id": channel,
        "channel_name": "alerts", "user_id": user, "user_name": user.lower(), "command": "/replywatch", "text": "",
        "api_app_id": app, "is_enterprise_install": "false", "response_url": "https://hooks.slack.com/commands/T0ACME/1/abc",
        "trigger_id": "3456.7890.cdef",
    }


def run(answer: Answer) -> dict | None:
    if answer.later:
        answer.later()
    return answer.ack


def test_alerts_carry_the_four_actions(worked) -> None:  # noqa: ANN001
    loop, _ = worked
    mention, alert = alerted(loop)
    [buttons] = [b for b in alert.blocks if b["type"] == "actions"]
    labels = [e.get("text", e.get("placeholder"))["text"] for e in buttons["elements"]]
    assert labels == ["I'll take it", "Snooze", "No reply needed", "Open on X"]
    assert buttons["elements"][3]["url"] == f"https://x.com/bob/status/{mention}"


def test_claim_edits_the_message_and_is_recorded(worked) -> None:  # noqa: ANN001
    loop, actions = worked
    mention, alert = alerted(loop)
    assert run(actions.handle("interactive", click(alert, "claim"))) is None
    loop.tick(SEC)
    assert "claimed by <@U0JANE>" in str(alert.blocks), "edited in place"
    assert len(loop.slack.posts()) == 1
    with loop.store.unit() as repo:
        assert repo.mention(loop.key(mention)).claimed_by == JANE
        assert [(u, a) for u, a, _, _ in repo.actions(loop.key(mention))] == [(JANE, "claim")]


def on_call_of(user: str) -> Schedule:
    """An on-call rotation of one, in UTC, with no business hours."""
    return Schedule(ZoneInfo("UTC"), oncall=Rotation((user,), 7, time(9), date(2026, 1, 5)))


def test_a_claim_not_answered_within_claim_expires_goes_back_to_the_queue(worked) -> None:  # noqa: ANN001
    """CLAIM_EXPIRES: the alert shows the mention unclaimed again, and the claimer and the on-call person are told in
    its thread, once; claiming again restarts the clock; an answered mention keeps its claim."""
    loop, actions = worked
    loop.configure(claim_expires=30 * MIN, schedule=on_call_of(OMAR))
    mention, alert = alerted(loop)
    run(actions.handle("interactive", click(alert, "claim")))
    loop.tick(SEC)
    loop.tick(29 * MIN)
    assert "claimed by <@U0JANE>" in str(alert.blocks) and loop.slack.thread(alert.ts) == [], "not yet"
    loop.tick(MIN)
    loop.tick(SEC)
    assert "claimed by" not in str(alert.blocks), "edited: unclaimed"
    [told] = loop.slack.thread(alert.ts)
    assert f"<@{JANE}>" in told.text and f"<@{OMAR}>" in told.text and "Back in the queue" in told.text
    with loop.store.read() as repo:
        assert repo.mention(loop.key(mention)).claimed_by is None
    run(actions.handle("interactive", click(alert, "claim")))  # claimed again: the clock restarts
    loop.tick(SEC)
    loop.tick(20 * MIN)
    assert "claimed by <@U0JANE>" in str(alert.blocks) and len(loop.slack.thread(alert.ts)) == 1
    loop.x.post(loop.x.user("acme"), "@bob on it", reply_to=mention)
    loop.tick(20 * MIN)
    loop.tick(SEC)
    assert len(loop.slack.thread(alert.ts)) == 1, "answered: its claim lapses no more"


def test_snooze_until_tomorrow_morning_in_the_team_time_zone_then_a_fresh_reminder(worked) -> None:  # noqa: ANN001
    loop, actions = worked
    mention, alert = alerted(loop)  # 09:30 UTC = 10:30 in Berlin
    run(actions.handle("interactive", click(alert, "snooze", OMAR, option="tomorrow")))
    with loop.store.unit() as repo:
        until = repo.mention(loop.key(mention)).snoozed_until
    assert until == datetime(2026, 11, 26, 9, 0, tzinfo=BERLIN).astimezone(UTC)
    loop.tick(SEC)
    assert "snoozed until 2026-11-26 09:00 CET by <@U0OMAR>" in str(alert.blocks)
    loop.tick(timedelta(hours=20))
    assert loop.slack.thread(alert.ts) == [], "nothing while it sleeps"
    loop.tick(timedelta(hours=3, minutes=1))
    [woke] = loop.slack.thread(alert.ts)
    assert woke.text.startswith(":alarm_clock: Snooze over: <@U0OMAR> still unanswered")


def test_no_reply_needed_asks_why_then_closes_with_the_reason(worked) -> None:  # noqa: ANN001
    loop, actions = worked
    mention, alert = alerted(loop)
    run(actions.handle("interactive", click(alert, "close")))
    [opened] = loop.slack.views
    assert opened["trigger_id"] == "1234.5678.abcdef"
    view = opened["view"]
    assert view["callback_id"] == "close_reason"
    assert [o["value"] for o in view["blocks"][1]["element"]["options"]] == ["spam", "elsewhere", "not_for_us", "other"]

    refused = actions.handle("interactive", submission(view, "other", None))
    assert refused.ack == {"response_action": "errors", "errors": {"note": "Say why in a few words."}}
    assert refused.later is None

    assert run(actions.handle("interactive", submission(view, "other", "  answered by DM   <!channel> "))) is None
    with loop.store.unit() as repo:
        closed = repo.mention(loop.key(mention))
        trail = repo.actions(loop.key(mention))
    assert (closed.status, closed.reason) == (Status.CLOSED, "no reply needed: other — answered by DM <!channel>")
    assert [(u, a, d) for u, a, d, _ in trail] == [(JANE, "close", closed.reason)]
    loop.tick(SEC)
    shown = alert.blocks[0]["text"]["text"]
    assert "closed by <@U0JANE>, no reply needed: other — answered by DM &lt;!channel&gt;" in shown
    assert not [b for b in alert.blocks if b["type"] == "actions"], "no buttons on a closed alert"


def test_a_click_that_changes_a_mention_wakes_the_sweep_and_one_that_changes_nothing_does_not(worked) -> None:  # noqa: ANN001
    """`replywatch run` lets an idle sweep rest: what a click changed must not wait for its next tick."""
    loop, actions = worked
    woken: list[int] = []
    actions.actions.on_change = lambda: woken.append(1)
    _, alert = alerted(loop)
    run(actions.handle("interactive", click(alert, "claim")))
    assert woken == [1]
    run(actions.handle("interactive", click(alert, "close")))
    assert woken == [1], "the form is only opened"
    run(actions.handle("interactive", submission(loop.slack.views[0]["view"], "spam", None)))
    assert woken == [1, 1]
    run(actions.handle("interactive", click(alert, "claim", OMAR)))
    assert woken == [1, 1], "already closed: nothing changed"


def test_a_second_click_on_a_closed_item_says_so_only_to_the_clicker(worked) -> None:  # noqa: ANN001
    loop, actions = worked
    mention, alert = alerted(loop)
    before = click(alert, "claim", OMAR)
    run(actions.handle("interactive", click(alert, "close")))
    run(actions.handle("interactive", submission(loop.slack.views[0]["view"], "spam", None)))
    run(actions.handle("interactive", before))
    run(actions.handle("interactive", click(alert, "close", OMAR)))
    assert [e["user"] for e in loop.slack.ephemeral] == [OMAR, OMAR]
    assert all("already closed (no reply needed: spam)" in e["text"] for e in loop.slack.ephemeral)
    assert len(loop.slack.views) == 1, "no second form"
    with loop.store.unit() as repo:
        assert repo.mention(loop.key(mention)).claimed_by == JANE


def test_slash_command_lists_the_open_queue_oldest_first_for_the_asker_only(worked) -> None:  # noqa: ANN001
    loop, actions = worked
    bob, locked = loop.x.add_user("bob"), loop.x.add_user("locked", protected=True)
    first = loop.post(bob, "@acme first <!here>")
    loop.clock.advance(5 * MIN)
    loop.post(locked, "@acme secret order 555")
    loop.tick()
    loop.tick(MIN)
    answer = actions.handle("slash_commands", slash())
    assert answer.later is None
    ack = answer.ack
    assert ack["response_type"] == "ephemeral"
    shown = json.dumps(ack["blocks"])
    assert "*2 open mention(s)*" in shown
    assert shown.index("@bob") < shown.index("@locked"), "oldest first"
    assert f"/status/{first}" in shown and "&lt;!here&gt;" in shown and "<!here>" not in shown
    assert "order 555" not in shown and "open on X to read it" in shown


def _unknown_item(payload: dict) -> dict:
    payload["actions"][0]["value"] = "4242"  # no such mention
    return payload


REFUSED_CLICKS = {
    "another team": (lambda a: click(a, "claim", team="T0OTHER"), "C0ALERTS", "Only members of the workspace"),
    "another app": (lambda a: click(a, "claim", app="A0OTHER"), "C0ALERTS", "named another Slack app"),
    "another channel": (lambda a: click(a, "claim", channel="C0RANDOM"), "C0RANDOM", "only on its alerts in <#C0ALERTS>"),
    "an unknown item": (lambda a: _unknown_item(click(a, "claim")), "C0ALERTS", "no alert for that mention in this channel"),
    "an external user": (
        lambda a: click(a, "snooze", option="tomorrow", user_team="T0PARTNER\nINFO forged"), "C0ALERTS", "Only members of the workspace",
    ),
    "a close click from outside": (lambda a: click(a, "close", team="T0OTHER"), "C0ALERTS", "Only members of the workspace"),
}


@pytest.mark.parametrize("case", REFUSED_CLICKS.values(), ids=REFUSED_CLICKS.keys())
def test_a_click_from_outside_is_refused_to_the_clicker_only_logged_once_and_changes_nothing(worked, case, caplog) -> None:  # noqa: ANN001
    loop, actions = worked
    loop.slack.channels["C0RANDOM"] = "random"  # the bot is in another channel too
    mention, alert = alerted(loop)
    make, where, says = case
    with caplog.at_level(logging.INFO, logger="bot.services.actions"):
        assert run(actions.handle("interactive", make(alert))) is None
    [told] = loop.slack.ephemeral
    assert (told["channel"], told["user"]) == (where, JANE) and says in told["text"]
    assert loop.slack.views == [], "no close form"
    with loop.store.unit() as repo:
        m = repo.mention(loop.key(mention))
        assert (m.status, m.claimed_by, m.snoozed_until, repo.actions(loop.key(mention))) == (Status.OPEN, None, None, [])
    [line] = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert "\n" not in line and "legacy-verification-token" not in line and "hooks.slack.com" not in line
    loop.tick(SEC)
    assert "claimed by" not in str(alert.blocks) and "snoozed" not in str(alert.blocks)


def _never_alerted(loop: Loop) -> dict:
    """A close form for a mention that was never alerted (not due yet): what a forged private_metadata can name."""
    fresh = loop.post(loop.x.add_user("carol"), "@acme just now")
    loop.tick(MIN)
    assert loop.slack.alerts_for(fresh) == [], "stored, not due yet"
    return {"callback_id": "close_reason", "private_metadata": json.dumps({"mention": str(loop.key(fresh)), "channel": "C0ALERTS"})}


REFUSED_FORMS = {
    "a mention never alerted": (_never_alerted, {}, "no alert for that mention in this channel"),
    "another channel": (lambda _: None, {"channel": "C0RANDOM"}, "only on its alerts in <#C0ALERTS>"),
    "another team": (lambda _: None, {"team": "T0OTHER"}, "Only members of the workspace"),
    "another app": (lambda _: None, {"app": "A0OTHER"}, "named another Slack app"),
    "an external user": (lambda _: None, {"user_team": "T0PARTNER"}, "Only members of the workspace"),
}


@pytest.mark.parametrize("case", REFUSED_FORMS.values(), ids=REFUSED_FORMS.keys())
def test_a_close_form_from_outside_or_for_a_mention_not_alerted_there_is_refused_in_the_form(worked, case) -> None:  # noqa: ANN001
    loop, actions = worked
    mention, alert = alerted(loop)
    run(actions.handle("interactive", click(alert, "close")))
    view = loop.slack.views[0]["view"]
    forge, change, says = case
    forged = forge(loop)
    if forged is not None:
        view = forged
    elif "channel" in change:
        view = {**view, "private_metadata": json.dumps({"mention": str(loop.key(mention)), "channel": change.pop("channel")})}
    answer = actions.handle("interactive", submission(view, "spam", None, **change))
    assert answer.later is None
    assert answer.ack["response_action"] == "errors" and says in answer.ack["errors"]["reason"]
    with loop.store.unit() as repo:
        assert all(m.status is Status.OPEN for m, _ in repo.open_mentions())
        assert len(repo.open_mentions()) == (2 if forged else 1)
        assert repo.actions(loop.key(mention)) == []


REFUSED_QUEUES = {
    "another channel": (slash(channel="C0RANDOM"), "shows the queue only in <#C0ALERTS>"),
    "a direct message": (slash(channel="D0JANE"), "shows the queue only in <#C0ALERTS>"),
    "an external user in the shared alert channel": (slash(team="T0PARTNER"), "only to members of the workspace"),
    "another app": (slash(app="A0OTHER"), "named another Slack app"),
}


@pytest.mark.parametrize("case", REFUSED_QUEUES.values(), ids=REFUSED_QUEUES.keys())
def test_the_queue_is_never_shown_outside_the_alert_channel_or_to_other_organizations(worked, case) -> None:  # noqa: ANN001
    loop, actions = worked
    mention, _ = alerted(loop, "@acme order 555 never came")
    payload, says = case
    answer = actions.handle("slash_commands", payload)
    assert answer.later is None
    assert answer.ack["response_type"] == "ephemeral" and says in answer.ack["text"]
    shown = json.dumps(answer.ack)
    assert "order 555" not in shown and str(mention) not in shown and "open mention" not in shown


def test_allow_queue_in_adds_channels_and_lets_other_organizations_in_only_with_external(worked) -> None:  # noqa: ANN001
    loop, _ = worked
    mention, _ = alerted(loop)

    def queue(access: Access, payload: dict) -> str:
        actions = slack_actions(loop, BERLIN, access)
        return json.dumps(actions.handle("slash_commands", payload).ack)

    team = replace(ACME, queue_channels=frozenset({"C0TEAM"}))
    assert f"/status/{mention}" in queue(team, slash(channel="C0TEAM"))
    assert f"/status/{mention}" in queue(team, slash(channel="C0ALERTS"))
    assert "only to members of the workspace" in queue(team, slash(channel="C0TEAM", team="T0PARTNER"))
    assert "shows the queue only in <#C0ALERTS>, <#C0TEAM>" in queue(team, slash(channel="C0RANDOM"))
    shared = replace(team, queue_for_external=True)
    assert f"/status/{mention}" in queue(shared, slash(channel="C0TEAM", team="T0PARTNER"))
    assert "shows the queue only in" in queue(shared, slash(channel="C0RANDOM", team="T0PARTNER")), "still only there"


@pytest.mark.parametrize(
    "payload",
    [
        {"type": "block_actions"},
        {"type": "block_actions", "user": {"id": "<!channel>"}, "actions": [{"action_id": "claim", "value": "1"}]},
        {"type": "block_actions", "user": {"id": JANE}, "actions": [{"action_id": "claim", "value": "not-a-number"}]},
        {"type": "block_actions", "user": {"id": JANE}, "actions": [{"action_id": "snooze", "selected_option": {"value": "5:forever"}}]},
        {
            "type": "view_submission",
            "user": {"id": JANE},
            "view": {
                "callback_id": "close_reason",
                "private_metadata": "{",
                "state": {"values": {"reason": {"choice": {"selected_option": {"value": "spam"}}}}},
            },
        },
        {"type": "shortcut", "user": {"id": JANE}},
        [],
    ],
)
def test_strange_payloads_are_acknowledged_and_change_nothing(worked, payload) -> None:  # noqa: ANN001
    loop, actions = worked
    mention, _ = alerted(loop)
    assert run(actions.handle("interactive", payload)) is None
    with loop.store.unit() as repo:
        m = repo.mention(loop.key(mention))
        assert (m.status, m.claimed_by, m.snoozed_until, repo.actions(loop.key(mention))) == (Status.OPEN, None, None, [])


def test_through_socket_mode_every_envelope_is_acknowledged_within_3_seconds(worked, fake_slack) -> None:  # noqa: ANN001
    loop, actions = worked
    mention, alert = alerted(loop)
    socket = SocketModeStandIn()
    fake_slack.socket_url = socket.url
    failures = []

    def handler(kind: str, payload: dict) -> Answer:
        if payload.get("command") == "/boom":
            failures.append(kind)
            raise RuntimeError("handler broke")
        return actions.handle(kind, payload)

    listener = SocketListener(app_token=fake_slack.app_token, base_url=fake_slack.url, timeout=5, handler=handler)
    try:
        listener.connect()
        assert socket.wait_connected()
        command = socket.send("slash_commands", slash())
        payload, took = socket.ack(command)
        assert took < 3
        assert payload["response_type"] == "ephemeral" and f"/status/{mention}" in json.dumps(payload)

        claim = socket.send("interactive", click(alert, "claim", OMAR))
        payload, took = socket.ack(claim)
        assert payload is None and took < 3
        assert wait_for(lambda: loop.store and _claimed(loop, mention) == OMAR, timeout=5)

        broken = socket.send("slash_commands", {**slash(), "command": "/boom"})
        assert socket.ack(broken) is not None, "acknowledged even when handling failed"
        assert failures == ["slash_commands"]
    finally:
        listener.close()
        socket.close()


def test_replywatch_run_takes_the_workspace_and_app_from_auth_test_and_the_channels_from_the_settings(
    env, fake_slack, monkeypatch  # noqa: ANN001
) -> None:
    from bot.app.wire import build_app
    from bot.config.load import load_config

    for key, value in {**env, "SLACK_APP_TOKEN": fake_slack.app_token, "ALLOW_QUEUE_IN": "C0TEAM"}.items():
        monkeypatch.setenv(key, value)
    socket = SocketModeStandIn()
    fake_slack.socket_url = socket.url
    app = build_app(load_config())
    try:
        app.socket.connect()
        assert socket.wait_connected()

        def answer(payload: dict) -> str:
            return socket.ack(socket.send("slash_commands", payload))[0]["text"]

        assert answer(slash()) == answer(slash(channel="C0TEAM")) == ":white_check_mark: Nothing is waiting for a reply."
        assert "shows the queue only in <#C0ALERTS>, <#C0TEAM>" in answer(slash(channel="C0RANDOM"))
        assert "only to members of the workspace" in answer(slash(team="T0PARTNER"))
        assert "named another Slack app" in answer(slash(app="A0OTHER"))
    finally:
        app.socket.close()
        socket.close()
        app.store.dispose()


def _claimed(loop: Loop, mention: int) -> str | None:
    with loop.store.unit() as repo:
        return repo.mention(loop.key(mention)).claimed_by


def test_a_wrong_app_token_fails_the_start_with_one_line(fake_slack) -> None:  # noqa: ANN001
    from bot.app.verify import StartupError, check_socket

    for token in ("xapp-wrong", fake_slack.token):
        listener = SocketListener(app_token=token, base_url=fake_slack.url, timeout=5, handler=lambda *_: Answer())
        with pytest.raises(StartupError) as caught:
            check_socket(listener)
        assert str(caught.value).startswith("SLACK_APP_TOKEN was rejected by Slack: ")
        listener.close()


def test_socket_mode_keeps_trying_until_it_first_connects(fake_slack) -> None:  # noqa: ANN001
    from bot.standins.http import Reply

    socket = SocketModeStandIn()
    fake_slack.socket_url = socket.url
    fake_slack.http.fail("apps.connections.open", Reply(503, {"ok": False, "error": "service_unavailable"}))
    listener = SocketListener(app_token=fake_slack.app_token, base_url=fake_slack.url, timeout=5, handler=lambda *_: Answer())
    try:
        listener.keep_connected()
        assert not socket.wait_connected(timeout=0.5), "Slack was down"
        listener.keep_connected()
        assert socket.wait_connected(timeout=5)
        calls = len(fake_slack.http.calls("apps.connections.open"))
        listener.keep_connected()
        assert len(fake_slack.http.calls("apps.connections.open")) == calls, "connected once: slack_sdk reconnects from here"
    finally:
        listener.close()
        socket.close()
