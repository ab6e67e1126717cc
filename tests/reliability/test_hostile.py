"""Text from strangers and malformed answers from X: escaped once, logged in one line, and the loop goes on."""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.model import FollowUp, Mention, Post, Status
from bot.slack.blocks import (
    alert_message,
    answered_message,
    close_view,
    closed_message,
    digest_message,
    escape,
    follow_up_message,
    notice_message,
    queue_message,
)
from bot.x.client import unescape_x
from tests.conftest import Loop
from tests.reliability.figures import FIGURES
from tests.standins.http import Reply

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
CONTROL_SEQUENCE = re.compile(r"<[!@#]|<https?:|<mailto:|<tel:")
LONE_AMP = re.compile(r"&(?!amp;|lt;|gt;)")
BIDI = list("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")  # every direction control
PIECES = ["<!channel>", "<!here>", "<!everyone>", "<@U1>", "<#C1>", "<!subteam^S1>", "<https://evil|https://acme.com>",
          "&amp;", "&lt;", "&gt;", "&", "<", ">", "|", "\n", "\x1b[31m", "*", "_", "`", "@", "#", *BIDI]
short = st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=5)), max_size=30).map("".join)
# A long post of many lines: each line grows by "&gt; " when quoted, and each & < > by up to three characters.
long_lines = st.builds(lambda line, n: "\n".join([line] * n), short, st.integers(min_value=50, max_value=1000))
hostile = st.one_of(st.text(), short, long_lines)
# Block Kit's limits (PLATFORM.md, Slack section): beyond them Slack refuses the message, on every retry.
SECTION, BUTTON, BLOCKS, FALLBACK = 3000, 75, 50, 40_000


def _fields(message) -> list[str]:  # noqa: ANN001
    texts = [message.text]
    for block in message.blocks:
        if "text" in block:
            texts.append(block["text"]["text"])
        texts.extend(e["text"] for e in block.get("elements", []) if isinstance(e.get("text"), str))  # mrkdwn; buttons are ours
    return texts


@settings(max_examples=10_000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=hostile, name=hostile, handle=hostile)
def test_10000_hostile_strings_never_form_a_control_sequence_or_a_double_escape(text: str, name: str, handle: str) -> None:
    FIGURES["hostile strings tried"] += 3
    from_x = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")  # as X sends it
    post = Post(id=2**62, author_id=5, text=unescape_x(from_x), created_at=T0, author_handle=handle, author_name=name)
    mention = Mention(post=post, status=Status.ANSWERED, reason="", first_seen_at=T0, answered_by=2**62 + 9,
                      answered_at=T0 + timedelta(minutes=40))
    waiting = Mention(post=post, status=Status.OPEN, reason="", first_seen_at=T0, claimed_by="U0JANE")
    closed = Mention(post=post, status=Status.CLOSED, reason=f"no reply needed: other — {text}", first_seen_at=T0)
    now = T0 + timedelta(minutes=31)
    queue = queue_message([waiting], now)
    messages = (
        alert_message(mention, now),
        alert_message(waiting, now, buttons=True),
        answered_message(mention, "acme"),
        closed_message(closed, "acme"),
        digest_message([waiting, mention, closed], now),
        follow_up_message(FollowUp("escalation", ("U0LEAD",)), [waiting, mention], now),
        SimpleNamespace(text=queue["text"], blocks=queue["blocks"]),
        SimpleNamespace(text="", blocks=close_view(waiting, "C0ALERTS")["blocks"][:1]),
        notice_message(f"{escape(text)} <https://x.com/i/web/status/{2**62}|Open on X>"),  # a notice quoting X
    )
    for message in messages:
        for shown in _fields(message):
            links = re.findall(
                r"<https://x\.com/[\w/]+/status/\d+\|(?:Open on X|Reply on X|Mention on X|@\w{1,15}|\(unknown handle\))>"
                r"|<@U0JANE>|<@U0LEAD>",  # our own pings, from settings and Slack ids, never from X
                shown,
            )
            rest = shown
            for link in links:
                rest = rest.replace(link, "")
            assert not CONTROL_SEQUENCE.search(rest), shown
            assert not LONE_AMP.search(rest), shown
            shown_as = re.sub(r"&(amp|lt|gt);", lambda m: {"amp": "&", "lt": "<", "gt": ">"}[m.group(1)], rest)
            for entity in ("&amp;", "&lt;", "&gt;"):
                assert entity not in shown_as or entity in text + name, f"{entity} shown but never typed: escaped twice"
        assert_within_slack_limits(message)


def assert_within_slack_limits(message) -> None:  # noqa: ANN001
    """What Slack would refuse: an over-long field, too many blocks, or text that reorders itself (bidi)."""
    assert len(message.text) <= FALLBACK
    assert len(message.blocks) <= BLOCKS
    for block in message.blocks:
        if "text" in block:
            assert len(block["text"]["text"]) <= SECTION, block
        for element in block.get("elements", []):
            if element.get("type") == "button":
                assert len(element["text"]["text"]) <= BUTTON, element
            elif isinstance(element.get("text"), str):
                assert len(element["text"]) <= SECTION, element
            for option in element.get("options", []):
                assert len(option["text"]["text"]) <= BUTTON, option
    everything = json.dumps([message.text, message.blocks], ensure_ascii=False)
    assert not [ch for ch in BIDI if ch in everything], "a direction control reached Slack"


@settings(max_examples=200, deadline=None)
@given(text=short, count=st.integers(min_value=1, max_value=600), shown=st.integers(min_value=1, max_value=600))
def test_hundreds_of_mentions_fit_in_one_message(text: str, count: int, shown: int) -> None:
    posts = [Post(id=2**62 + i, author_id=5, text=text, created_at=T0, author_handle="bob", author_name=text) for i in range(count)]
    mentions = [Mention(post=p, status=Status.OPEN, reason="", first_seen_at=T0) for p in posts]
    now = T0 + timedelta(minutes=31)
    queue = queue_message(mentions, now, limit=shown)
    for message in (digest_message(mentions, now, "U0LEAD"), follow_up_message(FollowUp("reminder", ("U0LEAD",) * 40), mentions, now),
                    SimpleNamespace(text=queue["text"], blocks=queue["blocks"])):
        assert_within_slack_limits(message)
    listed = sum(b["text"]["text"].count("\n• ") + b["text"]["text"].startswith("• ") for b in queue["blocks"])
    assert listed == count or f"and {count - listed} more" in queue["blocks"][-1]["text"]["text"], "the queue says what it left out"


def test_malformed_answers_from_x_are_logged_in_one_line_and_the_loop_goes_on(loop: Loop, caplog) -> None:  # noqa: ANN001
    bob = loop.x.add_user("bob", "Bob\n\x1b[2J FAKE LOG LINE")
    loop.tick()
    good = loop.post(bob, "@acme " + "x" * 200_000)
    odd = loop.post(bob, "@acme red")
    fields = {"author_id", "created_at", "conversation_id"}
    bad_page = {
        "data": [
            loop.x._render(loop.x.tweets[good], fields),  # noqa: SLF001
            {"id": "not-a-number", "text": "@acme ?"},
            {"text": "@acme no id"},
            {"id": str(odd + 1), "text": "@acme no time", "author_id": str(bob.id)},
            "just a string",
            {"id": str(odd), "text": "@acme \x1b[31mred\x00", "created_at": loop.clock.now().isoformat(), "author_id": str(bob.id),
             "referenced_tweets": [{"type": "hologram", "id": "5"}, "junk"], "conversation_id": "x"},
        ],
        "includes": {"users": [{"id": str(bob.id), "username": "bob", "name": bob.name}, "junk"]},
        "meta": {"result_count": 6, "newest_id": "???"},
    }
    loop.x.http.fail("/mentions", Reply(200, raw=b"<html>gateway error</html>"))
    caplog.set_level(logging.WARNING)
    loop.tick(2 * 60 * timedelta(seconds=1))
    loop.x.http.fail("/mentions", Reply(200, bad_page))
    loop.tick(timedelta(minutes=5))
    loop.x.http.fail("/mentions", Reply(200, raw=json.dumps([1, 2]).encode()))
    loop.tick(timedelta(minutes=10))
    loop.tick(timedelta(minutes=20))
    with loop.store.unit() as repo:
        stored = {m.id: m for m, _ in repo.open_mentions()}
    assert good in stored and odd in stored, "the readable posts of a bad page are kept"
    assert stored[odd].post.reference_types == frozenset({"hologram"})
    assert stored[odd].post.text == "@acme \x1b[31mred", "NUL dropped (PostgreSQL refuses it); the rest kept, escaped on display"
    messages = [r.getMessage() for r in caplog.records]
    assert any("not JSON" in m for m in messages) and any("passed over" in m for m in messages)
    from bot.logs import one_line

    assert all("\n" not in one_line(m) for m in messages)
    alert = loop.slack.alerts_for(good)[0]
    assert len(alert.blocks[0]["text"]["text"]) <= 3000
    assert "FAKE LOG LINE" in alert.text and "\x1b" not in alert.text and "\n" not in alert.text.split(")")[0]
