"""Typed notes: stored as a kind and JSON, read back equal, laid out in Slack by type."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot import messages
from bot.messages import CollectionBroken, CollectionRecovered, FollowUpNote, GapNote, Handoff, ParkedNote, Text
from bot.model import Mention, Network, Post, Status
from bot.slack.notes import note_message

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
BOB = Mention(Post("7", "2", "hi", T0, author_handle="bob", url="https://x.com/bob/status/7"), Status.OPEN, "", T0,
              id=41, network=Network.X, account="acme")
NOTES = [
    (FollowUpNote("escalation", ("U0LEAD",), (41,), 1, T0), ":rotating_light: Escalation: <@U0LEAD> still unanswered after 2h: "
     "<https://x.com/bob/status/7|@bob>"),
    (FollowUpNote("reminder", ("U0LEAD",), (41,), 12, T0 - timedelta(hours=1)),
     ":bell: Reminder: <@U0LEAD> 12 mentions still unanswered after 3h: <https://x.com/bob/status/7|@bob> and 11 more"),
    (Handoff("U0JANE", T0 + timedelta(days=7), "U0OMAR", 3, T0 - timedelta(hours=1), "Europe/Berlin"),
     "<@U0JANE> is on call until 2026-12-02 13:00 CET. Backup: <@U0OMAR>. 3 mention(s) open, the oldest waiting 3h."),
    (CollectionBroken("bluesky", "acme.bsky.social", T0, "token refused: <b>"),
     "Mentions of @acme.bsky.social on Bluesky are not being collected since 2026-11-25 12:00 UTC: token refused: &lt;b&gt;"),
    (CollectionRecovered("mastodon", "acme", T0), "Mentions of @acme on Mastodon are being collected again"),
    (GapNote("x", "acme", 800, T0, T0 + timedelta(hours=1), 250, ((T0, T0, "search reaches back 7 days"),)),
     "250 mention(s) from 2026-11-25 12:00 to 2026-11-25 13:00 UTC were recovered"),
    (ParkedNote(3, "invalid_blocks", 41), "refused the alert for the mention by @bob (https://x.com/bob/status/7) 3 times"),
    (Text("queued before typed notes"), "queued before typed notes"),
]


@pytest.mark.parametrize(("note", "shown"), NOTES)
def test_a_note_is_stored_as_its_kind_and_fields_and_read_back_equal(note: messages.Message, shown: str) -> None:
    stored = messages.payload(note)
    assert "<@" not in stored and ":rotating_light:" not in stored, "fields, never Slack text"
    assert messages.load(note.kind, stored) == note


@pytest.mark.parametrize(("note", "shown"), NOTES)
def test_the_slack_sink_lays_each_note_out_by_its_type(note: messages.Message, shown: str) -> None:
    mentions = [BOB] if 41 in messages.named(note) else []
    message = note_message(note, T0 + timedelta(hours=2), mentions)
    assert message is not None and shown in message.text


def test_a_follow_up_whose_mentions_are_gone_says_nothing() -> None:
    assert note_message(FollowUpNote("reminder", ("U0LEAD",), (99,), 1, T0), T0, []) is None


def test_an_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown message kind"):
        messages.load("telegram", "{}")
