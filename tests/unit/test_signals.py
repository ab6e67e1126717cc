"""The signal rules, one table each: what deserves an alert, what waits less, when a thread gets a nudge."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot import rules
from bot.model import FollowUp, Mention, Post, Status

ACME, BOB, ALICE = "1", "2", "3"
T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
SIGNALS = rules.Signals(
    ACME,
    responder_ids=frozenset({ALICE}),
    muted=frozenset({"spammer"}),
    keywords=(("giveaway", rules.keyword_pattern("giveaway")), ("/win.*prize/", rules.keyword_pattern("/win.*prize/"))),
    vip_handles=frozenset({"bigco"}),
    vip_min_followers=100_000,
)


def post(text: str, *, author: str = BOB, handle: str = "bob", implicit: bool = False, types: tuple[str, ...] = (),
         followers: int | None = None) -> Post:
    return Post(id="100", author_id=author, text=text, created_at=T0, reference_types=frozenset(types),
                author_handle=handle, implicit=implicit, author_followers=followers)


@pytest.mark.parametrize(
    ("case", "mention", "status", "reason"),
    [
        ("a plain mention", post("@acme where is my order?"), Status.OPEN, "waiting for a reply"),
        ("named only where the network put the handle (X's reply chain)", post("@carol @acme agreed", implicit=True),
         Status.IGNORED, "implicit mention: only in the reply chain"),
        ("a quote post mentioning the account", post("look @acme", types=("quoted",)), Status.OPEN, "waiting for a reply"),
        ("a retweet", post("RT @acme: news", types=("retweeted",)), Status.IGNORED, "retweet"),
        ("a responder's post", post("@bob @acme on it", author=ALICE, handle="alice"), Status.IGNORED, "posted by responder @alice"),
        ("a muted author, any case", post("@acme buy now", handle="SpamMer"), Status.IGNORED, "muted author @SpamMer"),
        ("a keyword, any case", post("@acme GIVEAWAY time"), Status.IGNORED, "ignored keyword giveaway"),
        ("a regular expression", post("@acme you WIN a big Prize"), Status.IGNORED, "ignored keyword /win.*prize/"),
        ("a keyword that is only a part of a word still counts", post("@acme giveaways!"), Status.IGNORED, "ignored keyword giveaway"),
    ],
)
def test_what_deserves_an_alert(case: str, mention: Post, status: Status, reason: str) -> None:
    verdict = rules.classify(mention, SIGNALS)
    assert (verdict.status, verdict.reason) == (status, reason), case


def test_implicit_mentions_are_alerted_when_the_rule_is_off() -> None:
    implicit = post("@carol @acme agreed", implicit=True)
    assert rules.classify(implicit, rules.Signals(ACME, ignore_implicit=False)).status is Status.OPEN


@pytest.mark.parametrize(
    ("case", "mention", "priority"),
    [
        ("an ordinary author", post("@acme hi", followers=99_999), None),
        ("at the follower threshold", post("@acme hi", followers=100_000), "VIP: 100k followers"),
        ("a big account", post("@acme hi", followers=250_000), "VIP: 250k followers"),
        ("millions", post("@acme hi", followers=3_400_000), "VIP: 3.4M followers"),
        ("listed, any case", post("@acme hi", handle="BigCo", followers=10), "VIP: listed in VIP_AUTHORS"),
        ("followers unknown", post("@acme hi"), None),
    ],
)
def test_vips(case: str, mention: Post, priority: str | None) -> None:
    assert rules.classify(mention, SIGNALS).priority == priority, case


def test_a_muted_vip_is_still_muted() -> None:
    verdict = rules.classify(post("@acme hi", handle="spammer", followers=10**6), SIGNALS)
    assert (verdict.status, verdict.priority) == (Status.IGNORED, None)


H = timedelta(hours=1)


def mention(*, claimed: str | None = None, snoozed: datetime | None = None, status: Status = Status.OPEN) -> Mention:
    return Mention(post=Post(id="1", author_id=BOB, text="", created_at=T0), status=status, reason="", first_seen_at=T0,
                   claimed_by=claimed, snoozed_until=snoozed, snoozed_by="U0SNOOZER" if snoozed else None)


LEAD = ("U0LEAD",)


@pytest.mark.parametrize(
    ("case", "m", "escalated", "reminded", "age", "expected"),
    [
        ("not stuck long enough", mention(), None, None, 1.9 * H, None),
        ("stuck: escalation to ESCALATE_TO", mention(), None, None, 2 * H, FollowUp("escalation", LEAD)),
        ("escalated, reminder not due yet", mention(), T0 + 2 * H, None, 3.9 * H, None),
        ("escalated two hours ago: reminder", mention(), T0 + 2 * H, None, 4 * H, FollowUp("reminder", LEAD)),
        ("reminded recently", mention(), T0 + 2 * H, T0 + 4 * H, 5 * H, None),
        ("claimed: the claimer is reminded instead of escalating", mention(claimed="U0JANE"), None, None, 2 * H,
         FollowUp("reminder", ("U0JANE",))),
        ("claimed: later reminders too", mention(claimed="U0JANE"), T0 + 2 * H, None, 4 * H, FollowUp("reminder", ("U0JANE",))),
        ("snoozed: nothing", mention(snoozed=T0 + 5 * H), None, None, 4 * H, None),
        ("snooze over: once, to who snoozed it", mention(snoozed=T0 + 3 * H), T0 + 2 * H, None, 3 * H,
         FollowUp("woke", ("U0SNOOZER",))),
        ("snooze over and already said", mention(snoozed=T0 + 3 * H), T0 + 2 * H, T0 + 3 * H, 3.5 * H, None),
        ("snooze over on a claimed item: the claimer", mention(snoozed=T0 + 3 * H, claimed="U0JANE"), None, None, 3 * H,
         FollowUp("woke", ("U0JANE",))),
        ("answered: never", mention(status=Status.ANSWERED), None, None, 9 * H, None),
        ("closed as no reply needed: never", mention(status=Status.CLOSED), T0 + 2 * H, None, 9 * H, None),
    ],
)
def test_escalations_and_reminders(case: str, m: Mention, escalated, reminded, age, expected) -> None:  # noqa: ANN001
    assert rules.follow_up(m, escalated, reminded, T0 + age, 2 * H, 2 * H, LEAD) == expected, case


def test_reminders_off_and_escalation_off() -> None:
    assert rules.follow_up(mention(), T0 + 2 * H, None, T0 + 9 * H, 2 * H, None, LEAD) is None
    assert rules.follow_up(mention(), None, None, T0 + 9 * H, None, 2 * H, LEAD) is None
