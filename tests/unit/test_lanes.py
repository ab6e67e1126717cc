"""A lane: one call at a time, a total deadline whatever the call does, and a stuck lane that refuses new calls at
once and says why, while every other lane goes on."""

from __future__ import annotations

import threading
import time

import pytest

from bot.errors import Unavailable
from bot.lanes import PARKED_AFTER, Lanes


def test_a_call_past_its_deadline_is_abandoned_and_holds_its_own_lane_only() -> None:
    lanes = Lanes(deadline=0.3)
    stuck, other = lanes.get("reads of @acme on Bluesky", "Bluesky"), lanes.get("reads of @acme on X", "X")
    release = threading.Event()
    started = time.monotonic()
    with pytest.raises(Unavailable, match="no complete answer within 0.3s"):
        stuck.call(release.wait, 30)
    assert time.monotonic() - started < 1, "the caller waited the deadline, not the call"
    with pytest.raises(Unavailable, match="still waits for a call started at"):
        stuck.call(lambda: "never runs")
    assert other.call(lambda: "read") == "read", "another lane is not held"
    assert list(lanes.problems()) == ["reads of @acme on Bluesky"]
    release.set()
    deadline = time.monotonic() + 5
    while lanes.problems() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert stuck.call(lambda: "read") == "read" and lanes.problems() == {}, "once the call ends, the lane works again"


def test_failures_in_a_row_are_named_where_they_are_told_and_cleared_by_a_success() -> None:
    lanes = Lanes(deadline=1)
    uploads, channel = lanes.get("chart uploads", "Slack"), lanes.get("Slack channel C1", "Slack", failures_told=False)

    def fail() -> None:
        raise Unavailable("Slack", "files.getUploadURLExternal: internal_error")

    for lane in (uploads, channel):
        for _ in range(PARKED_AFTER):
            with pytest.raises(Unavailable):
                lane.call(fail)
    assert lanes.problems() == {"chart uploads": "3 failures in a row, the last: files.getUploadURLExternal: internal_error"}
    uploads.call(lambda: "F1")
    assert lanes.problems() == {}
