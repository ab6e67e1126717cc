"""Text from strangers and malformed answers from X: escaped once, logged in one line, and the loop goes on."""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.messages import FollowUpNote
from bot.model import FollowUp, Mention, Network, Post, SlackMessage, Status
from bot.slack.blocks import alert_message, answered_message, close_view, closed_message, digest_message, queue_message
from bot.slack.notes import note_message, notice_message
from bot.slack.text import escape
from bot.sources.mastodon.text import status_text
from bot.sources.x.translate import post_url, unescape_x
from bot.standins.http import Reply
from bot.standins.mastodon_api import render_html
from tests.conftest import Loop, examples
from tests.reliability.figures import FIGURES

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


def follow_up_message(follow_up: FollowUp, mentions: list[Mention], now: datetime) -> SlackMessage:
    """The escalation or reminder the sweep posts about `mentions`, as Slack shows it."""
    note = FollowUpNote(follow_up.kind, follow_up.to, tuple(m.id or 0 for m in mentions), len(mentions),
                        min(m.post.created_at for m in mentions))
    message = note_message(note, now, mentions)
    assert message is not None
    return message


def _fields(message) -> list[str]:  # noqa: ANN001
    texts = [message.text]
    for block in message.blocks:
        if "text" in block:
            texts.append(block["text"]["text"])
        texts.extend(e["text"] for e in block.get("elements", []) if isinstance(e.get("text"), str))  # mrkdwn; buttons are ours
    return texts


MASTODON = SimpleNamespace(accounts={})  # the stand-in's renderer looks the mentioned accounts up here: none


def as_delivered(network: Network, typed: str, handle: str) -> tuple[str, str]:
    """(the text, the link) a network's adapter hands on for a post typed so, by an author with this handle: X sends
    &, <, > escaped, Bluesky plain text, Mastodon HTML that its adapter turns into text once; the link comes from the
    network (Mastodon's from whichever instance the post lives on)."""
    if network is Network.X:
        return unescape_x(typed.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")), post_url(handle, str(2**62))
    if network is Network.BLUESKY:
        return typed, f"https://bsky.app/profile/{handle}/post/3lhostile"
    return status_text(render_html(typed, MASTODON)), f"https://masto.example/@{handle}/1"  # type: ignore[arg-type]


OURS = re.compile(  # our own links and pings: to a post, with our labels; people from settings and Slack ids, never text
    r"<https://[^\s<>|]+\|(?:(?:Open|Reply|Mention) on (?:X|Bluesky|Mastodon)|@[\w.@-]{1,100}|\(unknown handle\))>"
    r"|<@U0JANE>|<@U0LEAD>"
)


@pytest.mark.slow
@pytest.mark.parametrize("network", list(Network))
@settings(max_examples=examples(5_000), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=hostile, name=hostile, handle=hostile)
def test_hostile_strings_from_every_network_never_form_a_control_sequence_or_a_double_escape(
    network: Network, text: str, name: str, handle: str
) -> None:
    FIGURES[f"hostile strings tried ({network.label})"] += 3
    shown_text, url = as_delivered(network, text, handle)
    post = Post(id=str(2**62), author_id="5", text=shown_text, created_at=T0, author_handle=handle, author_name=name, url=url)
    answer = url.replace("2", "3")
    base = {"post": post, "reason": "", "first_seen_at": T0, "network": network, "account": "acme"}
    mention = Mention(**base, status=Status.ANSWERED, answered_by=str(2**62 + 9), answered_at=T0 + timedelta(minutes=40),
                      answer_url=answer)
    waiting = Mention(**{**base, "status": Status.OPEN, "claimed_by": "U0JANE"})
    closed = Mention(**{**base, "status": Status.CLOSED, "reason": f"no reply needed: other — {text}"})
    now = T0 + timedelta(minutes=31)
    queue = queue_message([waiting], now)
    messages = (
        alert_message(mention, now),
        alert_message(waiting, now, buttons=True),
        answered_message(mention),
        closed_message(closed),
        digest_message([waiting, mention, closed], now),
        follow_up_message(FollowUp("escalation", ("U0LEAD",)), [waiting, mention], now),
        SimpleNamespace(text=queue["text"], blocks=queue["blocks"]),
        SimpleNamespace(text="", blocks=close_view(waiting, "C0ALERTS")["blocks"][:1]),
        notice_message(f"{escape(text)} <https://x.com/i/web/status/{2**62}|Open on X>"),  # a notice quoting a post
    )
    for message in messages:
        for shown in _fields(message):
            rest = OURS.sub("", shown)
            assert not CONTROL_SEQUENCE.search(rest), shown
            assert not LONE_AMP.search(rest), shown
            shown_as = re.sub(r"&(amp|lt|gt);", lambda m: {"amp": "&", "lt": "<", "gt": ">"}[m.group(1)], rest)
            for entity in ("&amp;", "&lt;", "&gt;"):
                assert entity not in shown_as or entity in text + name, f"{entity} shown but never typed: escaped twice"
        assert_within_slack_limits(message)
    if network is Network.MASTODON:  # the HTML turned back into what was typed, but for how HTML treats white space
        assert shown_text.split() == _visible(text).split()


def _visible(typed: str) -> str:
    """What a person typed, as Mastodon keeps it: without NUL."""
    return typed.replace("\x00", "")


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


@settings(max_examples=examples(200), deadline=None)
@given(text=short, count=st.integers(min_value=1, max_value=600), shown=st.integers(min_value=1, max_value=600))
def test_hundreds_of_mentions_fit_in_one_message(text: str, count: int, shown: int) -> None:
    posts = [Post(id=str(2**62 + i), author_id="5", text=text, created_at=T0, author_handle="bob", author_name=text,
                  url=post_url("bob", str(2**62 + i))) for i in range(count)]
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
        stored = {int(m.post.id): m for m, _ in repo.open_mentions()}
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
