from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot import rules
from bot.model import Mention, Post, Status
from tests.conftest import examples

ACME, BOB, CAROL = "1", "2", "3"
T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def post(id: int, author: str, *, conv: int | None = None, to: int | None = None, to_user: str | None = None,  # noqa: A002
         types: tuple[str, ...] = (), at: int | None = None) -> Post:
    """Post `id`, made `at` (else `id`) seconds after T0 (ids are numbers here only to order them; they are strings)."""
    refs = set(types) | ({"replied_to"} if to else set())
    made = T0 + timedelta(seconds=id if at is None else at)
    return Post(id=str(id), author_id=author, text="", created_at=made, conversation_id=str(conv or id),
                replied_to_id=str(to) if to else None, in_reply_to_user_id=to_user, reference_types=frozenset(refs))


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
        # X stamps whole seconds: a reply can carry its mention's very second. The reference decides, not the order.
        ("reply in the same second", post(101, ACME, conv=50, to=100, to_user=BOB, at=100), True),
        ("reply to the same author in the thread, in the same second", post(101, ACME, conv=50, to=104, to_user=BOB, at=100), True),
        ("direct reply stamped before the mention (a clock behind)", post(101, ACME, conv=50, to=100, to_user=BOB, at=99), True),
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


_MIN = st.integers(min_value=0, max_value=600).map(lambda m: timedelta(minutes=m))
_AT = st.one_of(st.none(), st.integers(min_value=0, max_value=900).map(lambda m: T0 + timedelta(minutes=m)))


@settings(max_examples=examples(400), deadline=None)
@given(
    escalated=_AT, reminded=_AT, snoozed=_AT, claimed=st.booleans(),
    escalate_after=st.one_of(st.none(), _MIN), remind_every=st.one_of(st.none(), _MIN.filter(bool)),
    reminders=st.integers(min_value=0, max_value=4), max_reminders=st.one_of(st.none(), st.integers(min_value=0, max_value=4)),
)
def test_next_follow_up_at_is_exactly_when_follow_up_first_speaks(  # noqa: PLR0913
    escalated, reminded, snoozed, claimed, escalate_after, remind_every, reminders, max_reminders,  # noqa: ANN001
) -> None:
    """The store keeps `next_follow_up_at` and asks `follow_up` only from then on: before it, `follow_up` must say
    nothing, and at it, something (else a nudge would be late, or judged again every tick)."""
    if escalated is None:
        reminded, reminders = None, 0
    mention = Mention(post(10, BOB), Status.OPEN, "waiting", T0, claimed_by="U0JANE" if claimed else None,
                      snoozed_until=snoozed, snoozed_by="U0OMAR" if snoozed else None)
    args = (escalate_after, remind_every)
    at = rules.next_follow_up_at(mention, escalated, reminded, *args, reminders=reminders, max_reminders=max_reminders)

    def speaks(now: datetime) -> bool:
        found = rules.follow_up(mention, escalated, reminded, now, *args, ("U0LEAD",), reminders=reminders, max_reminders=max_reminders)
        return found is not None

    if at is None:
        assert not speaks(T0 + timedelta(days=30))
    else:
        assert speaks(at) and not speaks(at - timedelta(seconds=1))
