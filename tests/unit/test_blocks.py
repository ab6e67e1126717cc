from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.humanize import format_age
from bot.model import Mention, Post, Status
from bot.slack.blocks import alert_message, answered_message, close_view, closed_message, digest_message
from bot.slack.notes import notice_message
from bot.slack.text import escape
from bot.sources.x.translate import post_url, unescape_x
from bot.strangers import safe_url
from tests.conftest import examples

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def mention(text: str = "hi", name: str = "Bob", handle: str = "bob", **kw: object) -> Mention:
    p = Post(id="1900000000000000001", author_id="2", text=text, created_at=T0, author_handle=handle, author_name=name,
             url=post_url(handle, "1900000000000000001"))
    return Mention(post=p, first_seen_at=T0, **{"status": Status.OPEN, "reason": "", "account": "acme", **kw})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("from_x", "shown"),
    [
        ("&lt;!channel&gt; &amp; &lt;@U1&gt;", "&lt;!channel&gt; &amp; &lt;@U1&gt;"),
        ("fish &amp;amp; chips", "fish &amp;amp; chips"),  # the person typed "&amp;"
        ("&lt;https://evil|https://good&gt;", "&lt;https://evil|https://good&gt;"),
        ("&quot;quoted&quot; &#64;", "&amp;quot;quoted&amp;quot; &amp;#64;"),  # X only escapes & < >
        ("plain words", "plain words"),
    ],
)
def test_x_text_is_unescaped_once_then_escaped_once(from_x: str, shown: str) -> None:
    assert escape(unescape_x(from_x)) == shown


def test_long_text_is_cut_inside_block_kit_limits_without_splitting_an_entity() -> None:
    msg = alert_message(mention("<" * 5000), T0 + timedelta(hours=1))
    section = msg.blocks[0]["text"]["text"]
    assert len(section) <= 3000
    assert re.search(r"&(?!amp;|lt;|gt;)", section) is None
    assert section.rstrip().endswith("…")


def test_a_long_post_of_many_short_lines_stays_inside_the_section_limit_once_quoted() -> None:
    msg = alert_message(mention("ok\n" * 2000), T0 + timedelta(hours=1))  # 6,000 characters, 2,000 quoted lines
    section = msg.blocks[0]["text"]["text"]
    assert len(section) <= 3000, "Slack refuses a longer section, and would refuse every retry"
    assert section.split("\n")[1:4] == ["&gt; ok", "&gt; ok", "&gt; ok"], "the post is still shown quoted"
    assert section.endswith("…"), "and visibly cut"


def test_a_long_notice_is_cut_without_splitting_an_entity_or_a_link() -> None:
    link = "<https://x.com/bob/status/5|@bob>"
    msg = notice_message("a" + "&amp;" * 599 + link + " and more")
    section = msg.blocks[0]["text"]["text"]
    assert len(section) <= 3000
    assert re.search(r"&(?!amp;|lt;|gt;)", section) is None, "no half entity"
    assert "<" not in section.replace(link, ""), "no half link"
    assert section.endswith("…")


BIDI = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"


def test_every_bidirectional_control_is_removed_from_what_slack_shows() -> None:
    m = mention(f"pay {BIDI}here", name=f"Bob{BIDI}", priority=f"vip{BIDI}")
    closed = mention(f"pay {BIDI}here", name=f"Bob{BIDI}", status=Status.CLOSED, reason=f"spam{BIDI}")
    now = T0 + timedelta(hours=1)
    shown = [alert_message(m, now, buttons=True), closed_message(closed), digest_message([m, closed], now),
             notice_message(f"X says {BIDI}no")]
    for msg in shown:
        everything = msg.text + repr(msg.blocks)
        assert not any(ch in everything for ch in BIDI), msg
    assert not any(ch in repr(close_view(m, "C1")) for ch in BIDI)
    assert "pay here" in alert_message(m, now).blocks[0]["text"]["text"]


def test_control_characters_and_newlines_in_names_are_removed() -> None:
    msg = alert_message(mention(name="Bob\n\x1b[31mAdmin\u202e"), T0 + timedelta(hours=1))
    assert "*Bob [31mAdmin*" in msg.blocks[0]["text"]["text"]
    assert "\x1b" not in msg.text and "\u202e" not in msg.text


def test_a_bad_handle_never_reaches_a_link() -> None:
    assert post_url("bob|<!channel>", "5") == "https://x.com/i/web/status/5"
    msg = alert_message(mention(handle="x|<!here>"), T0)
    assert "<!here>" not in str(msg.blocks) and "x|" not in str(msg.blocks)


@pytest.mark.parametrize(
    "url",
    ["https://evil.example/|Open on X", "https://a.example/x>y", "javascript:alert(1)", "http://plain.example/",
     "https://a.example/ space", "https://a.example/\n<!channel>", ""],
)
def test_a_link_from_a_network_that_could_break_out_of_its_link_is_not_shown(url: str) -> None:
    """A Mastodon status's url comes from whichever instance it lives on."""
    assert safe_url(url) == ""
    m = mention()
    m = Mention(**{**m.__dict__, "post": Post(**{**m.post.__dict__, "url": url})})
    assert url.strip() not in str(alert_message(m, T0, buttons=True).blocks) or url == ""


def test_answered_message_says_by_which_post_and_after_how_long() -> None:
    m = mention(answered_by="1900000000000000099", answered_at=T0 + timedelta(hours=1, minutes=5),
                answer_url="https://x.com/acme/status/1900000000000000099")
    msg = answered_message(m)
    assert "answered after 1h 5m" in msg.blocks[0]["text"]["text"]
    assert "<https://x.com/acme/status/1900000000000000099|Reply on X>" in msg.blocks[1]["elements"][0]["text"]
    assert "to @acme on X" in msg.blocks[1]["elements"][0]["text"]


@pytest.mark.parametrize(
    ("delta", "text"),
    [(timedelta(seconds=5), "5s"), (timedelta(minutes=3, seconds=5), "3m"), (timedelta(hours=2), "2h"),
     (timedelta(hours=2, minutes=7), "2h 7m"), (timedelta(days=1, hours=3), "1d 3h"), (timedelta(seconds=-4), "0s")],
)
def test_format_age(delta: timedelta, text: str) -> None:
    assert format_age(delta) == text


CONTROL_SEQUENCE = re.compile(r"<[!@#]|<https?:|<mailto:")
PIECES = list("<>&|!@#^:/ aZ_\n\x1b\u202e") + ["&amp;", "&lt;", "&gt;", "<!channel>", "<@U1>", "<https://e|x>"]
hostile = st.lists(st.sampled_from(PIECES), max_size=40).map("".join)
_UNSLACK = {"&amp;": "&", "&lt;": "<", "&gt;": ">"}


def unslack(text: str) -> str:
    return re.sub(r"&(amp|lt|gt);", lambda m: _UNSLACK[m.group(0)], text)


@settings(max_examples=examples(500), deadline=None)
@given(typed=hostile, name=hostile, handle=hostile)
def test_property_no_control_sequence_and_no_double_escape(typed: str, name: str, handle: str) -> None:
    from_x = escape(typed)  # X sends &, <, > escaped, as Slack wants them
    msg = alert_message(mention(unescape_x(from_x), name, handle), T0 + timedelta(minutes=31))
    section = msg.blocks[0]["text"]["text"]
    ours = re.compile(r" · <https://x\.com/(\w+|i/web)/status/\d+\|Open on X>$")  # the fallback's link to the post
    assert ours.search(msg.text)
    for shown in (ours.sub("", msg.text), section):
        assert not CONTROL_SEQUENCE.search(shown)
        assert re.search(r"&(?!amp;|lt;|gt;)", shown) is None, "every & starts one of our escapes"
    quoted = ["" if line == "&gt;" else line.removeprefix("&gt; ") for line in section.split("\n")[1:]]
    expected = re.sub(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]", "", typed)
    assert unslack("\n".join(quoted)) == (expected or "(no text)"), "shown exactly as typed: escaped once"
    link = msg.blocks[1]["elements"][0]["text"]
    assert re.fullmatch(r"<https://x\.com/(\w+|i/web)/status/\d+\|Open on X> · to @acme on X · posted [\d: -]+UTC", link)
