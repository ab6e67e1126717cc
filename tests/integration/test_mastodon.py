"""The Mastodon adapter against its stand-in, through the real Mastodon.py, for what the contract does not cover:
HTML to text, privacy, Link paging and its budget, notification policies (4.3+), rate limits, thread roots, errors
and secrets. How look-ups share the rate limit with the reads: test_mastodon_bulkheads.py."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from bot.errors import AuthFailed, BadResponse, RateLimited, Rejected, Unavailable, UnknownAccount
from bot.sources.mastodon import MastodonSource, filtered
from bot.sources.mastodon.client import LOOKUPS_PER_READ, MENTION_PAGE, PAGES
from bot.standins.http import Reply
from bot.standins.mastodon_api import FakeMastodon, rate_headers

TOKEN = "masto-integration-token-9c2a"
NOTIFICATIONS = "/api/v1/notifications"


@pytest.fixture
def fake() -> Iterator[FakeMastodon]:
    fake = FakeMastodon(token=TOKEN)
    for handle in ("acme", "bob", "carol"):
        fake.add_account(handle)
    yield fake
    fake.close()


def source(fake: FakeMastodon, token: str = TOKEN, timeout: float = 5.0) -> MastodonSource:
    return MastodonSource(instance=fake.url, handle="acme", access_token=token, timeout=timeout)


def since() -> datetime:
    return datetime.now(UTC) - timedelta(hours=1)


# --- HTML arrives as plain text -------------------------------------------------------------------------

TYPED = [
    ("escaped characters come back once", "is 1 < 2 & 3 > 2? \"yes\" 'no'", "is 1 < 2 & 3 > 2? \"yes\" 'no'"),
    ("an entity typed as text stays text", "write &amp;lt; for <", "write &amp;lt; for <"),
    ("a hostile Slack mention is just characters", "<!channel> <@U123> look", "<!channel> <@U123> look"),
    ("the mention h-card reads @acme", "hi @acme and @carol!", "hi @acme and @carol!"),
    ("a hashtag reads #tag", "#help @acme", "#help @acme"),
    ("a long link reads whole", "@acme see https://example.com/orders/12345/tracking?code=abcdef&x=1",
     "@acme see https://example.com/orders/12345/tracking?code=abcdef&x=1"),
    ("a line break and a paragraph", "@acme line one\nline two\n\nnext paragraph", "@acme line one\nline two\n\nnext paragraph"),
]

REMOTE = [  # HTML as other servers send it, which Mastodon passes on sanitised
    ("entities once", "<p>&amp;lt;b&amp;gt; is &lt;b&gt;</p>", "&lt;b&gt; is <b>"),
    ("tags dropped, text kept", "<p><strong>bold</strong> <em>it</em> <del>gone</del> <code>x()</code></p>", "bold it gone x()"),
    ("a remote mention span", '<p><span class="h-card"><a href="https://masto.test/@acme" class="u-url mention">@<span>acme'
     "</span></a></span> hi</p>", "@acme hi"),
    ("invisible spans of a shortened link", '<p><a href="https://example.org/a/b/c/d/e/f"><span class="invisible">https://'
     '</span><span class="ellipsis">example.org/a/b/</span><span class="invisible">c/d/e/f</span></a></p>',
     "https://example.org/a/b/c/d/e/f"),
    ("a link's visible text", '<p><a href="https://example.org/x">the docs</a></p>', "the docs"),
    ("br without a slash, newlines in the source", "<p>one<br>\ntwo</p>\n<p>three</p>", "one\ntwo\n\nthree"),
    ("a quote block and a list", "<blockquote><p>said</p></blockquote><ul><li>a</li><li>b</li></ul>", "said\n\na\nb"),
    ("no markup at all", "plain words &amp; more", "plain words & more"),
]


@pytest.mark.parametrize(("case", "typed", "text"), TYPED, ids=[c[0] for c in TYPED])
def test_what_a_person_typed_arrives_as_typed(fake: FakeMastodon, case: str, typed: str, text: str) -> None:
    fake.post(fake.account("bob"), typed if "@acme" in typed else f"{typed} @acme")
    (post,) = source(fake).mentions(None, since()).posts
    assert post.text == (text if "@acme" in typed else f"{text} @acme")


@pytest.mark.parametrize(("case", "content", "text"), REMOTE, ids=[c[0] for c in REMOTE])
def test_remote_html_arrives_as_plain_text(fake: FakeMastodon, case: str, content: str, text: str) -> None:
    fake.post(fake.account("bob"), "@acme", content=content)
    (post,) = source(fake).mentions(None, since()).posts
    assert post.text == text


def test_a_content_warning_goes_in_front_on_its_own_line(fake: FakeMastodon) -> None:
    fake.post(fake.account("bob"), "@acme the order arrived broken", spoiler_text="complaint")
    (post,) = source(fake).mentions(None, since()).posts
    assert post.text == "CW: complaint\n@acme the order arrived broken"


@pytest.mark.parametrize(
    ("visibility", "private"), [("public", False), ("unlisted", False), ("private", True), ("direct", True)]
)
def test_a_direct_or_followers_only_mention_is_private(fake: FakeMastodon, visibility: str, private: bool) -> None:
    fake.post(fake.account("bob"), "@acme my card number is …", visibility=visibility)
    (post,) = source(fake).mentions(None, since()).posts
    assert post.private is private


def test_a_post_carries_its_author_link_and_quote(fake: FakeMastodon) -> None:
    remote = fake.add_account("dana", "Dana D.", domain="other.test", followers=12_345)
    own = fake.post(fake.account("acme"), "launch day")
    quoted = fake.post(remote, "@acme look at this", quote=own)
    (post,) = source(fake).mentions(None, since()).posts
    assert (post.id, post.author_id, post.author_handle, post.author_name) == (quoted, remote.id, "dana@other.test", "Dana D.")
    assert post.author_followers == 12_345 and post.url == f"https://other.test/@dana/{quoted}"
    assert post.reference_types == {"quoted"} and post.version_id is None and post.conversation_id == quoted


# --- paging -----------------------------------------------------------------------------------------

def test_link_paging_over_several_pages_returns_each_once(fake: FakeMastodon) -> None:
    src = source(fake)
    start = src.mentions(None, since())
    ids = [fake.post(fake.account("bob"), f"@acme number {i}") for i in range(2 * MENTION_PAGE + 7)]
    before = len(fake.http.calls(NOTIFICATIONS))
    read = src.mentions(start.cursor, since())
    assert [p.id for p in read.posts] == ids[::-1] and read.complete
    assert len(fake.http.calls(NOTIFICATIONS)) - before == 3  # the third page is short: the last
    assert src.mentions(read.cursor, since()).posts == []
    first = source(fake).mentions(None, since())  # no cursor: down from the newest, Link rel="next"
    assert [p.id for p in first.posts] == ids[::-1] and first.cursor == read.cursor


def test_own_posts_page_and_leave_boosts_out(fake: FakeMastodon) -> None:
    acme = fake.account("acme")
    ids = [fake.post(acme, f"post {i}") for i in range(90)]
    fake.reblog(acme, fake.post(fake.account("bob"), "something to boost"))
    src = source(fake)
    read = src.posts(src.account(), None, since())
    assert [p.id for p in read.posts] == ids[::-1] and read.complete
    newer = fake.post(acme, "one more")
    assert [p.id for p in src.posts(src.account(), read.cursor, since()).posts] == [newer]


@pytest.mark.slow
def test_a_flood_past_the_page_budget_is_read_over_two_reads_without_loss(fake: FakeMastodon) -> None:
    src = source(fake)
    fake.post(fake.account("carol"), "@acme before the flood")
    start = src.mentions(None, since())  # a cursor: the reads page up from it
    ids = [fake.post(fake.account("bob"), f"@acme flood {i}") for i in range(PAGES * MENTION_PAGE + 30)]
    first = src.mentions(start.cursor, since())
    assert not first.complete and len(first.posts) == PAGES * MENTION_PAGE
    second = src.mentions(first.cursor, since())
    assert second.complete
    assert sorted(p.id for p in [*first.posts, *second.posts]) == sorted(ids)


def test_the_page_budget_stops_an_endless_server(fake: FakeMastodon, caplog: pytest.LogCaptureFixture) -> None:
    src = source(fake)
    fake.post(fake.account("bob"), "@acme hello")
    start = src.mentions(None, since())
    fake.paging = "endless"
    before = len(fake.http.calls(NOTIFICATIONS))
    with caplog.at_level(logging.WARNING):
        read = src.mentions(start.cursor, since())
    assert not read.complete and len(fake.http.calls(NOTIFICATIONS)) - before == PAGES
    newest, oldest = (int(filtered.unmarked(t.cursor)[0]) for t in (read, start))
    assert len(read.posts) == PAGES * MENTION_PAGE and newest == oldest + PAGES * MENTION_PAGE
    assert len([r for r in caplog.records if "page budget" in r.getMessage()]) == 1


def test_a_server_repeating_a_page_is_stopped(fake: FakeMastodon) -> None:
    src = source(fake)
    fake.post(fake.account("carol"), "@acme first")
    start = src.mentions(None, since())
    ids = [fake.post(fake.account("bob"), f"@acme {i}") for i in range(MENTION_PAGE)]
    fake.paging = "repeat"
    read = src.mentions(start.cursor, since())
    assert not read.complete and sorted(p.id for p in read.posts) == sorted(ids)
    assert len(fake.http.calls(NOTIFICATIONS)) == 3  # the first read, a page, the same page again


# --- notification policies (Mastodon 4.3+) -----------------------------------------------------------

def test_a_mention_the_instance_filtered_is_read_and_counted(fake: FakeMastodon) -> None:
    stranger = fake.add_account("newbie", domain="far.test")
    fake.filter_from(stranger)
    held = fake.post(stranger, "@acme my order never came", visibility="direct")
    plain = fake.post(fake.account("bob"), "@acme hello")
    read = source(fake).mentions(None, since())
    assert [p.id for p in read.posts] == [plain, held] and read.filtered == 1
    assert read.posts[1].private


@pytest.mark.parametrize("then", ["accept", "dismiss"])
def test_a_filtered_mention_is_read_once_whatever_the_account_does_with_its_request(fake: FakeMastodon, then: str) -> None:
    stranger = fake.add_account("newbie", domain="far.test")
    fake.filter_from(stranger)
    src = source(fake)
    start = src.mentions(None, since())
    held = fake.post(stranger, "@acme hello?")
    read = src.mentions(start.cursor, since())
    assert [p.id for p in read.posts] == [held] and read.filtered == 1
    getattr(fake, then)(stranger)  # accepted: it joins the list with its old id, below the cursor; dismissed: deleted
    again = src.mentions(read.cursor, since())
    assert again.posts == [] and again.filtered == 0  # not read twice
    later = fake.post(stranger, "@acme me again")
    last = src.mentions(again.cursor, since())
    assert [p.id for p in last.posts] == [later] and last.filtered == (then == "dismiss")  # a dismissed sender stays filtered


def test_a_server_before_4_3_is_read_as_ever(fake: FakeMastodon) -> None:
    fake.version = "4.2.0"  # no policies: include_filtered is an unknown parameter, ignored
    stranger = fake.add_account("newbie", domain="far.test")
    fake.filter_from(stranger)
    src = source(fake)
    fake.post(fake.account("bob"), "@acme zero")
    start = src.mentions(None, since())
    ids = [fake.post(stranger, "@acme one"), fake.post(fake.account("bob"), "@acme two")]
    old_cursor, _ = filtered.unmarked(start.cursor)  # as an older replywatch stored it: nothing to catch up here
    read = src.mentions(old_cursor, since())
    assert [p.id for p in read.posts] == ids[::-1] and read.filtered == 0
    assert src.mentions(read.cursor, since()).posts == []
    assert len(fake.http.calls("/notifications/requests")) == 1  # a 404, once


def test_mentions_filtered_before_this_version_asked_for_them_are_caught_up_once(fake: FakeMastodon) -> None:
    stranger = fake.add_account("newbie", domain="far.test")
    fake.filter_from(stranger)
    missed = fake.post(stranger, "@acme anyone there?")  # filtered: the older version never saw it
    seen = fake.post(fake.account("bob"), "@acme hi")
    old_cursor = max(fake.notifications, key=int)  # what the older version stored: the newest notification it read
    assert fake.notifications[old_cursor].status_id == seen
    newer = fake.post(stranger, "@acme hello??")  # above the cursor: the ordinary read finds it
    src = source(fake)
    read = src.mentions(old_cursor, since())
    assert sorted(p.id for p in read.posts) == sorted([missed, newer]) and read.filtered == 2
    requests = len(fake.http.calls("/notifications/requests"))
    fake.accept(stranger)
    again = src.mentions(read.cursor, since())
    assert again.posts == [] and len(fake.http.calls("/notifications/requests")) == requests  # once


def test_a_catch_up_that_fails_fails_the_read_which_is_retried_whole(fake: FakeMastodon) -> None:
    stranger = fake.add_account("newbie", domain="far.test")
    fake.filter_from(stranger)
    missed = fake.post(stranger, "@acme anyone there?")
    seen = fake.post(fake.account("bob"), "@acme hi")
    old_cursor = max(fake.notifications, key=int)
    fake.http.fail("/notifications/requests", Reply(503, {"error": "down"}))
    src = source(fake)
    with pytest.raises(Unavailable):
        src.mentions(old_cursor, since())
    read = src.mentions(old_cursor, since())  # the poll kept the cursor it had
    assert [p.id for p in read.posts] == [missed] and seen not in [p.id for p in read.posts]
    assert src.mentions(read.cursor, since()).posts == []


# --- rate limits ------------------------------------------------------------------------------------

def test_the_rate_headers_come_with_the_timeline(fake: FakeMastodon) -> None:
    read = source(fake).mentions(None, since())
    assert read.rate is not None and read.rate.limit == 300 and read.rate.remaining == fake.remaining
    assert timedelta(minutes=4) < read.rate.reset - datetime.now(UTC) <= timedelta(minutes=5, seconds=2)


def test_a_429_is_rate_limited_until_the_reset_and_never_sleeps(fake: FakeMastodon) -> None:
    src = source(fake)
    src.mentions(None, since())
    fake.remaining, fake.window_reset = 0, datetime.now(UTC) + timedelta(seconds=200)
    started = time.monotonic()
    with pytest.raises(RateLimited) as raised:
        src.mentions(None, since())
    assert time.monotonic() - started < 1.0
    assert abs(raised.value.until - fake.window_reset) < timedelta(seconds=2)
    assert not fake.http.calls("/api/v1/instance")


# --- threads ----------------------------------------------------------------------------------------

def test_a_reply_finds_the_root_of_its_thread_once(fake: FakeMastodon) -> None:
    bob, carol = fake.account("bob"), fake.account("carol")
    root = fake.post(bob, "what does everyone think?")
    middle = fake.post(carol, "not sure", reply_to=root)
    mention = fake.post(bob, "@acme can you tell us?", reply_to=middle)
    src = source(fake)
    (post,) = src.mentions(None, since()).posts
    assert (post.id, post.conversation_id, post.replied_to_id, post.in_reply_to_user_id) == (mention, root, middle, carol.id)
    assert len(fake.http.calls("/context")) == 1
    reply = fake.post(fake.account("acme"), "@bob yes", reply_to=mention)
    (own,) = src.posts(src.account(), None, since()).posts
    assert (own.id, own.conversation_id) == (reply, root) and own.reference_types == {"replied_to"}
    assert len(fake.http.calls("/context")) == 1  # its parent's root was known


def test_a_failed_root_look_up_leaves_the_conversation_unknown_and_the_read_whole(fake: FakeMastodon) -> None:
    roots = [fake.post(fake.account("bob"), f"start {i}") for i in range(2)]
    for root in roots:
        fake.post(fake.account("carol"), "@acme help", reply_to=root)
    fake.http.fail("/context", Reply(500, {"error": "boom"}))
    posts = source(fake).mentions(None, since()).posts
    assert [p.replied_to_id for p in posts] == roots[::-1] and {p.conversation_id for p in posts} == {None}
    assert len(fake.http.calls("/context")) == 1  # no more look-ups in a read after one failed


def test_root_look_ups_wait_while_the_rate_limit_runs_low(fake: FakeMastodon) -> None:
    fake.post(fake.account("carol"), "@acme help", reply_to=fake.post(fake.account("bob"), "start"))
    fake.remaining, fake.window_reset = 20, datetime.now(UTC) + timedelta(minutes=3)
    (post,) = source(fake).mentions(None, since()).posts
    assert post.conversation_id is None and not fake.http.calls("/context")


def test_root_look_ups_are_budgeted_per_read(fake: FakeMastodon) -> None:
    bob = fake.account("bob")
    roots = [fake.post(fake.account("carol"), f"thread {i}") for i in range(LOOKUPS_PER_READ + 5)]
    for root in roots:
        fake.post(bob, "@acme me too", reply_to=root)
    posts = source(fake).mentions(None, since()).posts
    assert len(fake.http.calls("/context")) == LOOKUPS_PER_READ
    assert sum(p.conversation_id is None for p in posts) == 5


# --- errors and secrets -----------------------------------------------------------------------------

def test_a_wrong_token_is_auth_failed_without_the_token(fake: FakeMastodon) -> None:
    wrong = "masto-wrong-token-1234"
    with pytest.raises(AuthFailed) as raised:
        source(fake, token=wrong).account()
    assert "401" in str(raised.value) and wrong not in str(raised.value)


def test_a_server_echoing_the_token_is_redacted(fake: FakeMastodon) -> None:
    # Mastodon.py keeps the server's "error" only where the endpoint answers an object (a list's is lost)
    fake.http.fail("/verify_credentials", Reply(403, {"error": f"Forbidden: Bearer {TOKEN}"}))
    with pytest.raises(AuthFailed) as raised:
        source(fake).account()
    assert TOKEN not in str(raised.value) and "[redacted]" in str(raised.value)


def _prefixes(secret: str, text: str) -> list[str]:
    """The starts of `secret` (6 characters or more) that `text` shows."""
    return [secret[:n] for n in range(6, len(secret) + 1) if secret[:n] in text]


@pytest.mark.parametrize("before_the_cut", range(1, len(TOKEN)))
def test_a_token_straddling_where_an_error_is_cut_is_redacted_whole(
    fake: FakeMastodon, caplog: pytest.LogCaptureFixture, before_the_cut: int,
) -> None:
    shown = "verify credentials: HTTP 403 "  # what the message says before the server's words
    words = "." * (200 - len(shown) - before_the_cut) + TOKEN + " and more"  # the token across character 200
    fake.http.fail("/verify_credentials", Reply(403, {"error": words}))
    with caplog.at_level(logging.DEBUG), pytest.raises(AuthFailed) as raised:
        source(fake).account()
    assert str(raised.value).startswith(f"Mastodon: {shown}...")
    assert _prefixes(TOKEN, str(raised.value)) == [] and _prefixes(TOKEN, caplog.text) == []


def test_a_token_straddling_where_a_logged_entry_is_cut_is_redacted_whole(
    fake: FakeMastodon, caplog: pytest.LogCaptureFixture,
) -> None:
    fake.post(fake.account("bob"), "@acme fine")
    fake.limit = fake.remaining = 10_000
    src = source(fake)
    for filler in range(0, 200):  # every place the token can sit across the cut, whatever comes before it in the line
        entry = {"id": None, "type": "." * filler + TOKEN}
        fake.http.fail(NOTIFICATIONS, Reply(200, [entry, *[fake._notification(n) for n in fake.notifications.values()]]))
        with caplog.at_level(logging.DEBUG):
            src.mentions(None, since())
    assert "[redacted]" in caplog.text and _prefixes(TOKEN, caplog.text) == []


def test_a_token_of_another_account_is_auth_failed(fake: FakeMastodon) -> None:
    src = MastodonSource(instance=fake.url, handle="@someoneelse", access_token=TOKEN, timeout=5.0)
    with pytest.raises(AuthFailed, match="belongs to @acme"):
        src.account()


def test_lookup_finds_a_known_account_and_not_an_unknown_one(fake: FakeMastodon) -> None:
    fake.add_account("erin", "Erin", domain="far.test")
    assert source(fake).lookup("@erin@far.test").username == "erin@far.test"
    with pytest.raises(UnknownAccount):
        source(fake).lookup("nobody")


@pytest.mark.parametrize(
    ("fault", "error", "words"),
    [
        (dict(reply=Reply(502, {"error": "Bad Gateway"})), Unavailable, "502"),
        (dict(reply=Reply(404, {"error": "Not Found"})), Rejected, "404"),
        (dict(reply=Reply(422, {"error": "Validation failed"})), Rejected, "422"),
        (dict(reply=Reply(200, raw=b"<html>maintenance</html>")), BadResponse, "not JSON"),
        (dict(garble=True), BadResponse, "not JSON"),
        (dict(reply=Reply(200, {"id": "1", "type": "mention"})), BadResponse, "not a list"),
        (dict(reply=Reply(200, [], {"X-RateLimit-Reset": "soon"})), BadResponse, "X-RateLimit-Reset"),
        (dict(drop=True), Unavailable, "connection failed"),
        (dict(reply=Reply(200, []), delay=1.5), Unavailable, "timed out"),
    ],
    ids=["502", "404", "422", "html", "garbled", "object", "bad reset", "dropped", "slow"],
)
def test_each_failure_is_classified_once(fake: FakeMastodon, fault: dict, error: type, words: str) -> None:
    fake.http.fail(NOTIFICATIONS, **fault)
    with pytest.raises(error, match=words):
        source(fake, timeout=0.5).mentions(None, since())


def test_a_malformed_status_is_logged_in_one_line_and_passed_over(fake: FakeMastodon, caplog: pytest.LogCaptureFixture) -> None:
    good = fake.post(fake.account("bob"), "@acme fine")
    page = [fake._notification(n) for n in fake.notifications.values()]
    broken = {**page[0], "id": "999999", "status": {**page[0]["status"], "id": "42", "created_at": "yesterday-ish" * 40}}
    fake.http.fail(NOTIFICATIONS, Reply(200, [broken, *page], rate_headers(200, datetime.now(UTC) + timedelta(minutes=5))))
    with caplog.at_level(logging.WARNING):
        read = source(fake).mentions(None, since())
    assert [p.id for p in read.posts] == [good] and filtered.unmarked(read.cursor) == ("999999", True)
    (line,) = [r.getMessage() for r in caplog.records if "passed over" in r.getMessage()]
    assert "\n" not in line and len(line) < 300


@pytest.mark.parametrize("version", ["4.3.0", "4.2.0"])
def test_deleted_is_what_the_server_no_longer_has_and_other_errors_raise(fake: FakeMastodon, version: str) -> None:
    fake.version = version  # 4.3: GET /api/v1/statuses?id[]= leaves it out; before, GET /api/v1/statuses/:id is a 404
    kept, gone = fake.post(fake.account("bob"), "@acme a"), fake.post(fake.account("bob"), "@acme b")
    fake.delete(gone)
    src = source(fake)
    assert src.deleted([kept, gone, gone, "not/an id"]) == {gone}
    fake.http.fail("/api/v1/statuses", Reply(503, {"error": "down"}))
    with pytest.raises(Unavailable):
        src.deleted([kept])
