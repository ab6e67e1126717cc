"""The contract every Source adapter keeps when it posts a reply, run against each network's stand-in through the real
client library (tweepy, atproto, Mastodon.py): posted once however often it is sent, read back by `posts()` as the
same post, its length counted as the network counts it, refused with a clear error that holds no secret. Then what
is one network's alone (X's app permissions and duplicates, Bluesky's record key and facets, Mastodon's addressing
and visibility)."""

from __future__ import annotations

import importlib
import uuid
from collections.abc import Iterator

import pytest

from bot import rules
from bot.errors import AuthFailed, BadResponse, Rejected, ServiceError, Unavailable
from bot.model import Draft, Network, Post
from bot.ports import Source
from tests.contract.conftest import WORLDS, available
from tests.contract.test_sources import since
from tests.contract.world import World


def mentioned(world: World, source: Source, author: str = "bob", text: str = "hello @acme, where is my order?") -> Post:
    """A new mention by `author`, as the adapter reads it."""
    post_id = world.mention(author, text)
    return next(p for p in source.mentions(None, since()).posts if p.id == post_id)


def draft(mention: Post, text: str = "it ships tomorrow, sorry for the wait", direct: bool = False) -> Draft:
    return Draft(mention=mention, text=text, key=uuid.uuid4().hex, direct=direct)


def secret_free(world: World, error: BaseException) -> bool:
    return not any(secret in str(error) for secret in world.secrets())


FIELDS = ("id", "author_id", "text", "created_at", "conversation_id", "replied_to_id", "in_reply_to_user_id",
          "reference_types", "author_handle", "author_name", "version_id", "implicit", "private", "url")


def same_post(a: Post, b: Post) -> bool:
    return all(getattr(a, f) == getattr(b, f) for f in FIELDS)


# --- every network --------------------------------------------------------------------------------------------


def test_a_reply_is_posted_and_read_back_by_posts_as_the_same_post_answering_the_mention(world: World) -> None:
    writer = world.writer()
    mention = mentioned(world, writer)
    reply = writer.reply(draft(mention))
    assert world.replies(mention.id) == [reply.id]
    assert reply.replied_to_id == mention.id and reply.author_id == writer.account().id
    assert "it ships tomorrow, sorry for the wait" in reply.text and reply.url.startswith("https://")
    read = {p.id: p for p in writer.posts(writer.account(), None, since()).posts}
    assert same_post(read[reply.id], reply), (read[reply.id], reply)
    assert rules.first_answer(mention, [reply], {writer.account().id}) is not None


def test_the_length_is_counted_as_the_network_counts_it(world: World) -> None:
    writer = world.writer()
    assert writer.reply_limit() == world.limit
    for text, expected in world.lengths():
        assert writer.length(text) == expected, text


def test_a_reply_too_long_by_the_networks_count_is_refused_and_nothing_is_posted(world: World) -> None:
    writer = world.writer()
    mention = mentioned(world, writer)
    too_long = world.over_limit()
    assert writer.length(too_long) > writer.reply_limit()
    with pytest.raises(Rejected) as raised:
        writer.reply(draft(mention, too_long))
    assert str(writer.reply_limit()) in str(raised.value)
    assert world.replies(mention.id) == []
    longest = world.at_limit()
    assert writer.length(longest) == writer.reply_limit()
    accepted = writer.reply(draft(mention, longest))
    assert world.replies(mention.id) == [accepted.id]


def test_the_same_draft_sent_twice_with_retry_posts_once(world: World) -> None:
    writer = world.writer()
    mention = mentioned(world, writer)
    once = draft(mention)
    first = writer.reply(once, retry=True)
    again = writer.reply(once, retry=True)
    assert again.id == first.id
    assert world.replies(mention.id) == [first.id]
    assert world.writer().reply(once, retry=True).id == first.id, "a new adapter (a restart) finds it too"
    assert world.replies(mention.id) == [first.id]


@pytest.mark.parametrize(("fault", "error"), [("lost", Unavailable), ("cut", BadResponse)])
def test_an_answer_lost_after_the_post_was_made_then_a_retry_posts_once(world: World, fault: str, error: type) -> None:
    writer = world.writer()
    mention = mentioned(world, writer)
    once = draft(mention)
    world.fail_write(fault)  # type: ignore[arg-type]
    with pytest.raises(ServiceError) as raised:
        writer.reply(once)
    assert isinstance(raised.value, error), raised.value
    assert secret_free(world, raised.value)
    (made,) = world.replies(mention.id)  # the network did it; the adapter could not know
    assert writer.reply(once, retry=True).id == made
    assert world.replies(mention.id) == [made]


def test_a_5xx_before_posting_then_a_retry_posts_once(world: World) -> None:
    writer = world.writer()
    mention = mentioned(world, writer)
    once = draft(mention)
    world.fail_write("unavailable")
    with pytest.raises(Unavailable) as raised:
        writer.reply(once)
    assert secret_free(world, raised.value)
    assert world.replies(mention.id) == []
    reply = writer.reply(once, retry=True)
    assert world.replies(mention.id) == [reply.id]


def test_a_refusal_raises_a_clear_error_and_posts_nothing(world: World) -> None:
    writer = world.writer()
    mention = mentioned(world, writer)
    expected, words = world.refuse(mention.id)
    for retry in (False, True):
        with pytest.raises(ServiceError) as raised:
            writer.reply(draft(mention), retry=retry)
        assert isinstance(raised.value, expected), raised.value
        assert words in str(raised.value), raised.value
        assert secret_free(world, raised.value)
    assert world.replies(mention.id) == []


def test_the_writer_may_post_as_far_as_can_be_told(world: World) -> None:
    writer = world.writer()
    assert writer.write_refusal() is None
    writer.account()
    assert writer.write_refusal() is None


def test_a_changed_limit_is_refused_by_the_network_then_counted_with(world: World) -> None:
    writer = world.writer()
    mention = mentioned(world, writer)
    assert writer.reply_limit() == world.limit  # read, and kept
    if not world.set_limit(100):
        pytest.skip(f"{world.network.label}'s limit is fixed")
    text = "@bob " + "a" * 195
    with pytest.raises(Rejected):
        writer.reply(draft(mention, text))  # the network says no; the adapter's limit was stale
    assert world.replies(mention.id) == []
    assert writer.reply_limit() == 100
    with pytest.raises(Rejected, match="100"):
        writer.reply(draft(mention, text))


def test_a_direct_mention_is_answered_directly_and_a_public_one_publicly(world: World) -> None:
    writer = world.writer()
    post_id = world.direct_mention("bob", "@acme my address is 1 Main St, the parcel never came")
    if post_id is None:
        pytest.skip(f"{world.network.label} has no private mentions")
    private = next(p for p in writer.mentions(None, since()).posts if p.id == post_id)
    assert private.private
    answer = writer.reply(draft(private, "we have sent you a new one", direct=True))
    assert world.visibility(answer.id) == "direct"
    public = writer.reply(draft(mentioned(world, writer, "carol")))
    assert world.visibility(public.id) == "public"


# --- one network's own ------------------------------------------------------------------------------------------


def _one(network: Network) -> Iterator[World]:
    if network.value not in available():
        pytest.skip(f"no contract world for {network.label}")
    w = importlib.import_module(WORLDS[network.value]).World()
    yield w
    w.close()


@pytest.fixture
def x() -> Iterator[World]:
    yield from _one(Network.X)


@pytest.fixture
def bluesky() -> Iterator[World]:
    yield from _one(Network.BLUESKY)


@pytest.fixture
def mastodon() -> Iterator[World]:
    yield from _one(Network.MASTODON)


def posts_sent(calls: list) -> int:
    return sum(r.method == "POST" for r in calls)


# --- X ----------------------------------------------------------------------------------------------------------


def test_x_an_app_only_bearer_token_cannot_reply_and_says_which_settings_to_set(x: World) -> None:
    reader = x.source()
    mention = mentioned(x, reader)
    refusal = reader.write_refusal()
    assert refusal is not None and "X_API_KEY" in refusal and "X_ACCESS_TOKEN_SECRET" in refusal
    with pytest.raises(AuthFailed, match="user-context"):
        reader.reply(draft(mention))
    assert posts_sent(x.fake.http.calls("/2/tweets")) == 0  # type: ignore[attr-defined]


def test_x_a_read_only_app_is_told_by_its_access_level_before_any_post(x: World) -> None:
    x.fake.access_level = "read"  # type: ignore[attr-defined]
    writer = x.writer()
    writer.account()
    assert "read-only" in (writer.write_refusal() or "") and "Read and Write" in (writer.write_refusal() or "")


def test_x_a_read_only_app_refused_by_the_post_itself_is_auth_failed_and_told_from_then_on(x: World) -> None:
    x.fake.access_level, x.fake.access_header = "read", False  # type: ignore[attr-defined]
    writer = x.writer()
    mention = mentioned(x, writer)
    assert writer.write_refusal() is None  # nothing says so yet
    with pytest.raises(AuthFailed, match="read-only") as raised:
        writer.reply(draft(mention))
    assert secret_free(x, raised.value)
    assert "read-only" in (writer.write_refusal() or "")
    assert x.replies(mention.id) == []


def test_x_duplicate_content_is_rejected_and_a_retry_does_not_take_another_reply_for_its_own(x: World) -> None:
    writer = x.writer()
    first, second = mentioned(x, writer, "bob"), mentioned(x, writer, "carol")
    writer.reply(draft(first, "thanks, fixed"))
    with pytest.raises(Rejected, match="duplicate"):
        writer.reply(draft(second, "thanks, fixed"))
    with pytest.raises(Rejected, match="duplicate"):
        writer.reply(draft(second, "thanks, fixed"), retry=True)  # the reply with that text answers bob, not carol
    assert x.replies(second.id) == []


def test_x_a_reply_to_an_edited_mention_answers_its_newest_version(x: World) -> None:
    writer = x.writer()
    mention_id = x.mention("bob", "@acme helo")
    newest = x.edit(mention_id, "@acme hello")
    mention = next(p for p in writer.mentions(None, since()).posts if p.id == mention_id)
    reply = writer.reply(draft(mention))
    assert reply.replied_to_id == newest and rules.first_answer(mention, [reply], {writer.account().id}) is not None


def test_x_a_retry_looks_among_the_accounts_own_posts_and_posts_nothing_again(x: World) -> None:
    writer = x.writer()
    mention = mentioned(x, writer)
    once = draft(mention)
    x.fail_write("lost")
    with pytest.raises(Unavailable):
        writer.reply(once)
    reply = writer.reply(once, retry=True)
    assert posts_sent(x.fake.http.calls("/2/tweets")) == 1  # type: ignore[attr-defined]
    assert x.fake.http.calls(f"/2/users/{writer.account().id}/tweets")  # type: ignore[attr-defined]
    assert x.replies(mention.id) == [reply.id]


# --- Bluesky ----------------------------------------------------------------------------------------------------


def test_bluesky_a_retry_of_a_record_already_made_is_refused_with_a_500_and_read_back(bluesky: World) -> None:
    writer = bluesky.writer()
    mention = mentioned(bluesky, writer)
    once = draft(mention)
    bluesky.fail_write("lost")
    with pytest.raises(Unavailable):
        writer.reply(once)
    reply = writer.reply(once, retry=True)
    calls = bluesky.api.calls  # type: ignore[attr-defined]
    assert (calls["com.atproto.repo.createRecord"], calls["com.atproto.repo.getRecord"]) == (2, 1)
    assert bluesky.replies(mention.id) == [reply.id]


def test_bluesky_every_attempt_uses_one_record_key_a_tid(bluesky: World) -> None:
    writer = bluesky.writer()
    mention = mentioned(bluesky, writer)
    once = draft(mention)
    bluesky.fail_write("unavailable")
    with pytest.raises(Unavailable):
        writer.reply(once)
    reply = writer.reply(once, retry=True)
    creates = [r.json()["rkey"] for r in bluesky.api.http.calls("com.atproto.repo.createRecord")]  # type: ignore[attr-defined]
    assert len(creates) == 2 and len(set(creates)) == 1 and reply.id.endswith("/" + creates[0])
    assert len(creates[0]) == 13 and creates[0][0] in "234567abcdefghij"
    assert creates[0] != writer.reply(draft(mention, "another answer")).id.rsplit("/", 1)[1], "another draft, another key"


def test_bluesky_a_reply_in_a_thread_names_its_root_and_its_parent(bluesky: World) -> None:
    writer = bluesky.writer()
    root = bluesky.mention("bob", "@acme first question")
    second = bluesky.mention("bob", "@acme and another", reply_to=root)
    mention = next(p for p in writer.mentions(None, since()).posts if p.id == second)
    reply = writer.reply(draft(mention))
    value = bluesky.api.records[reply.id].value  # type: ignore[attr-defined]
    assert value["reply"]["root"]["uri"] == root and value["reply"]["parent"]["uri"] == second
    assert value["reply"]["root"]["cid"] == bluesky.api.records[root].cid  # type: ignore[attr-defined]
    assert reply.conversation_id == root


def test_bluesky_links_and_the_authors_handle_become_facets(bluesky: World) -> None:
    writer = bluesky.writer()
    mention = mentioned(bluesky, writer)
    text = "@bob.bsky.social café hours: https://acme.example/hours."
    reply = writer.reply(draft(mention, text))
    value = bluesky.api.records[reply.id].value  # type: ignore[attr-defined]
    encoded = text.encode()
    spans = {f["features"][0]["$type"].rsplit("#", 1)[1]: encoded[f["index"]["byteStart"] : f["index"]["byteEnd"]].decode()
             for f in value["facets"]}
    assert spans == {"mention": "@bob.bsky.social", "link": "https://acme.example/hours"}
    assert value["text"] == text
    assert [n.reason for n in bluesky.api.notifications if n.record.uri == reply.id] == ["mention"]  # type: ignore[attr-defined]


def test_bluesky_a_gate_the_appview_did_not_show_is_still_refused_as_a_gate(bluesky: World) -> None:
    writer = bluesky.writer()
    mention = mentioned(bluesky, writer)
    bluesky.api.gate(mention.id)  # type: ignore[attr-defined]
    bluesky.api.show_gates = False  # type: ignore[attr-defined]
    with pytest.raises(Rejected, match="gate"):
        writer.reply(draft(mention))
    assert bluesky.replies(mention.id) == []


# --- Mastodon ---------------------------------------------------------------------------------------------------


def test_mastodon_a_reply_starts_with_the_authors_handle_once(mastodon: World) -> None:
    writer = mastodon.writer()
    bob = mentioned(mastodon, writer, "bob")
    remote = mastodon.fake.add_account("dana", domain="elsewhere.social")  # type: ignore[attr-defined]
    dana = mentioned(mastodon, writer, remote.acct)
    plain = writer.reply(draft(bob, "thanks!"))
    named = writer.reply(draft(bob, "thanks @bob, it is on its way"))
    far = writer.reply(draft(dana, "thanks!"))
    statuses = mastodon.fake.statuses  # type: ignore[attr-defined]
    assert statuses[plain.id].text == "@bob thanks!" and plain.text == "@bob thanks!"
    assert statuses[named.id].text == "thanks @bob, it is on its way"
    assert statuses[far.id].text == "@dana@elsewhere.social thanks!"
    assert writer.length("@dana@elsewhere.social thanks!") == len("@dana thanks!")


def test_mastodon_the_idempotency_key_is_the_drafts(mastodon: World) -> None:
    writer = mastodon.writer()
    once = draft(mentioned(mastodon, writer))
    writer.reply(once)
    (sent,) = [r for r in mastodon.fake.http.calls("/api/v1/statuses") if r.method == "POST"]  # type: ignore[attr-defined]
    assert sent.headers["idempotency-key"] == once.key


def test_mastodon_the_instances_limit_is_kept_not_asked_each_time(mastodon: World) -> None:
    mastodon.set_limit(1000)
    writer = mastodon.writer()
    assert [writer.reply_limit() for _ in range(3)] == [1000] * 3
    assert len(mastodon.fake.http.calls("/api/v2/instance")) == 1  # type: ignore[attr-defined]
