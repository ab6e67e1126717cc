"""`replywatch status` as text shows strangers' handles and reasons as written: it prints plain lines (no rich, so
no markup to trip on) and escapes control characters, so nothing reaches the terminal as a command."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

import pytest

from bot import status
from bot.model import Mention, Network, Post, Status

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
HANDLES = ["[/x]", "[bold]loud[/bold]", ":warning:", "\\[escaped]"]
ESC = "\x1b[2J\x1b]8;;https://evil.example\x07"


@dataclass(frozen=True)
class Due:
    """What `status` asks of the sweep's configuration: when a mention falls due, and the local zone."""

    tz: tzinfo = UTC

    def due_at(self, mention: Mention) -> datetime:
        return mention.post.created_at + timedelta(minutes=30)


def mention(i: int, handle: str, state: Status = Status.OPEN, reason: str = "waiting for a reply") -> Mention:
    post = Post(id=str(i), author_id=str(100 + i), text="hi", created_at=NOW - timedelta(hours=i), author_handle=handle,
                url=f"https://x.com/{handle}/status/{i}")
    return Mention(post, state, reason, NOW, id=i, network=Network.X, account="acme")


def test_status_text_shows_handles_and_reasons_as_written(capsys: pytest.CaptureFixture[str]) -> None:
    rows = [(mention(i, h), None) for i, h in enumerate(HANDLES, start=1)]
    rows.append((mention(9, f"bob{ESC}"), None))
    closed = [mention(10, "[/y]", Status.IGNORED, f"ignored keyword [red]{ESC}")]
    queues = [(rows[0][0].where, len(rows), rows)]
    reads = status.Reads({}, None, NOW)
    status.write_text(len(rows), None, queues, closed, [], [], [], reads, Due(), NOW, [])
    out = capsys.readouterr().out
    for handle in HANDLES:
        assert f"@{handle}" in out, handle
    assert "@[/y]" in out and "ignored keyword [red]" in out
    assert "\x1b" not in out and "\x07" not in out, "no terminal escape reaches the terminal"
    assert "bob\\x1b[2J" in out
