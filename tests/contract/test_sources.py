"""The contract every Source adapter keeps, run against each network's stand-in through the real client library
(tweepy, atproto, Mastodon.py): the same cases, the same expectations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot import rules
from bot.errors import AuthFailed, BadResponse, RateLimited, ServiceError, Unavailable
from bot.model import Post, Status
from bot.ports import Source
from tests.contract.world import World


# network → the module holding its World (a class named World)
def since() -> datetime:
    return datetime.now(UTC) - timedelta(hours=24)


def answered(mention: Post, replies: list[Post], source: Source) -> bool:
    return rules.first_answer(mention, replies, {source.account().id}) is not None


def test_the_account_is_found(world: World) -> None:
    account = world.source().account()
    assert account.username.split("@")[0].split(".")[0] == "acme"
    assert account.id


def test_a_new_mention_is_read_once_with_its_author_text_time_and_link(world: World) -> None:
    source = world.source()
    first = source.mentions(None, since())
    assert first.posts == []
    post_id = world.mention("bob", "hello @acme, is the shop open? <b>&amp;</b>")
    read = source.mentions(first.cursor, since())
    (post,) = read.posts
    assert post.id == post_id
    assert post.author_handle.split(".")[0] == "bob"
    assert "hello @acme, is the shop open? <b>&amp;</b>" in post.text  # as typed: no markup added, nothing escaped
    assert post.created_at.tzinfo is not None and since() < post.created_at <= datetime.now(UTC)
    assert post.url.startswith("https://")
    assert not post.implicit and not post.private
    assert read.cursor is not None
    assert source.mentions(read.cursor, since()).posts == []  # reads nothing twice


def test_a_reply_to_the_accounts_post_talks_to_it_and_noise_does_not(world: World) -> None:
    source = world.source()
    own = world.own_post()
    start = source.mentions(None, since())
    world.noise("carol", own)
    question = world.reply_to_own("dave", own)
    read = source.mentions(start.cursor, since())
    signals = rules.Signals(source.account().id)
    waiting = [p.id for p in read.posts if rules.classify(p, signals).status is Status.OPEN]
    assert waiting == [question], "a repost may be read (X's mentions have them), but never waits for an answer"


def test_a_reply_from_the_account_answers_its_mention(world: World) -> None:
    source = world.source()
    mention = world.mention("bob")
    (post,) = source.mentions(None, since()).posts
    assert not answered(post, source.posts(source.account(), None, since()).posts, source)
    reply = world.reply(mention)
    replies = source.posts(source.account(), None, since()).posts
    assert reply in {r.id for r in replies}
    assert answered(post, replies, source)


def test_a_later_reply_in_the_same_thread_answers_the_earlier_mention(world: World) -> None:
    source = world.source()
    first = world.mention("bob", "@acme my order is late")
    second = world.mention("bob", "@acme and the box was broken", reply_to=first)
    world.reply(second)
    mentions = {p.id: p for p in source.mentions(None, since()).posts}
    replies = source.posts(source.account(), None, since()).posts
    assert answered(mentions[second], replies, source)
    assert answered(mentions[first], replies, source)


def test_a_reply_to_someone_else_answers_nothing(world: World) -> None:
    source = world.source()
    world.mention("bob")
    other = world.mention("carol")
    world.reply(other)
    mentions = {p.author_handle.split(".")[0]: p for p in source.mentions(None, since()).posts}
    replies = source.posts(source.account(), None, since()).posts
    assert answered(mentions["carol"], replies, source)
    assert not answered(mentions["bob"], replies, source)


def test_a_deleted_mention_is_reported_deleted_and_others_are_not(world: World) -> None:
    source = world.source()
    gone, kept = world.mention("bob"), world.mention("carol")
    world.delete(gone)
    assert source.deleted([gone, kept]) == {gone}
    assert source.deleted([]) == set()


def test_an_edited_mention_keeps_its_id_and_a_reply_to_the_edit_answers_it(world: World) -> None:
    source = world.source()
    mention = world.mention("bob", "@acme helo")
    first = source.mentions(None, since())
    target = world.edit(mention, "@acme hello")
    if target is None:
        pytest.skip(f"{world.network.label} has no edits")
    again = source.mentions(first.cursor, since())
    latest = {p.id: p for p in [*first.posts, *again.posts]}
    assert set(latest) == {mention}
    world.reply(target)
    assert answered(latest[mention], source.posts(source.account(), None, since()).posts, source)


@pytest.mark.parametrize(
    ("failure", "error"),
    [("rate_limit", RateLimited), ("unavailable", Unavailable), ("bad_payload", BadResponse), ("auth", AuthFailed)],
)
def test_a_failed_read_raises_our_error_without_secrets_and_loses_nothing(world: World, failure: str, error: type) -> None:
    source = world.source()
    start = source.mentions(None, since())
    post_id = world.mention("bob")
    world.fail(failure)  # type: ignore[arg-type]
    with pytest.raises(ServiceError) as raised:
        source.mentions(start.cursor, since())
    assert isinstance(raised.value, error), raised.value
    assert not any(secret in str(raised.value) for secret in world.secrets())
    if failure == "rate_limit":
        until = raised.value.until
        assert until is not None and timedelta(seconds=30) < until - datetime.now(UTC) < timedelta(seconds=90)
    assert [p.id for p in source.mentions(start.cursor, since()).posts] == [post_id]  # the next read finds it
