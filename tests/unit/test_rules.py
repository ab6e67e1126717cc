from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot import rules
from bot.model import Post, Status

ACME, BOB, CAROL = 1, 2, 3
T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def post(id: int, author: int, *, conv: int | None = None, to: int | None = None, to_user: int | None = None,  # noqa: A002
         types: tuple[str, ...] = ()) -> Post:
    refs = set(types) | ({"replied_to"} if to else set())
    return Post(id=id, author_id=author, text="", created_at=T0 + timedelta(seconds=id), conversation_id=conv or id,
                replied_to_id=to, in_reply_to_user_id=to_user, reference_types=frozenset(refs))


@pytest.mark.parametrize(
    ("case", "mention", "status", "reason"),
    [
        ("someone mentions the account", post(10, BOB), Status.OPEN, "waiting for a reply"),
        ("a reply to the account's post", post(11, BOB, conv=5, to=5, to_user=ACME), Status.OPEN, "waiting for a reply"),
        ("a quote post", post(12, BOB, types=("quoted",)), Status.OPEN, "waiting for a reply"),
        ("the account mentions itself", post(13, ACME), Status.IGNORED, "own post"),
        ("a retweet", post(14, BOB, types=("retweeted",)), Status.IGNORED, "retweet"),
        ("the account retweets a mention", post(15, ACME, types=("retweeted",)), Status.IGNORED, "own post"),
    ],
)
def test_classify(case: str, mention: Post, status: Status, reason: str) -> None:
    verdict = rules.classify(mention, rules.Signals(ACME))
    assert (verdict.status, verdict.reason) == (status, reason), case


MENTION = post(100, BOB, conv=50, to=50, to_user=ACME)


@pytest.mark.parametrize(
    ("case", "reply", "answers"),
    [
        ("direct reply to the mention", post(101, ACME, conv=50, to=100, to_user=BOB), True),
        ("later reply to the same author in the same thread", post(105, ACME, conv=50, to=104, to_user=BOB), True),
        ("reply in the thread, but to someone else", post(105, ACME, conv=50, to=103, to_user=CAROL), False),
        ("reply to the author in another conversation", post(105, ACME, conv=77, to=76, to_user=BOB), False),
        ("reply to the author's earlier post in the thread", post(99, ACME, conv=50, to=98, to_user=BOB), False),
        ("a post by somebody else replying to the mention", post(101, CAROL, conv=50, to=100, to_user=BOB), False),
        ("the account's post in the thread that is no reply", post(101, ACME, conv=50), False),
    ],
)
def test_answers(case: str, reply: Post, answers: bool) -> None:
    assert rules.answers(reply, MENTION, {ACME}) is answers, case


def test_first_answer_is_the_earliest_of_several() -> None:
    later = post(120, ACME, conv=50, to=100, to_user=BOB)
    earlier = post(110, ACME, conv=50, to=100, to_user=BOB)
    unrelated = post(105, ACME, conv=9, to=8, to_user=CAROL)
    assert rules.first_answer(MENTION, [later, unrelated, earlier], {ACME}) == earlier
    assert rules.first_answer(MENTION, [unrelated], {ACME}) is None
