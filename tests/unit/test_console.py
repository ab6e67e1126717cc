"""The console sink: Slack messages as a terminal shows them, nothing a stranger wrote interpreted, every message whole."""

from __future__ import annotations

import contextlib
import io
import os
import re
import tempfile
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from rich.console import Console
from rich.text import Text

from bot.console.render import mrkdwn, render_message
from bot.console.sink import ConsoleSink
from bot.model import SLACK_USER_ID, FollowUp, SlackMessage
from bot.slack.blocks import alert_message, digest_message
from bot.slack.notes import follow_up_message
from bot.slack.text import context, plain, section
from tests.unit.test_blocks import T0, mention

LATER = T0 + timedelta(hours=1)
HOSTILE = "@acme <!channel> [bold red]loud[/bold red] [link=https://evil.example]x[/link] \x1b[31mRED\x1b[0m typed &amp;lt; and *this*"


def shown(renderable: object, width: int = 100, colour: bool = False) -> str:
    """What a terminal of `width` columns would show (with colour: as it would receive it, escape codes and all)."""
    console = Console(file=io.StringIO(), width=width, force_terminal=colour, color_system="truecolor" if colour else None)
    console.print(renderable)
    return console.file.getvalue()  # type: ignore[attr-defined]


def style_of(text: Text, word: str) -> str:
    return str(text.get_style_at_offset(Console(), text.plain.index(word)))


@pytest.mark.parametrize(
    ("written", "reads"),
    [
        ("*bold* _italic_ ~struck~ `code`", "bold italic struck code"),
        ("<https://x.com/bob/status/5?a=1&amp;b=2|Open on X>", "Open on X (https://x.com/bob/status/5?a=1&b=2)"),
        ("<https://x.com/bob/status/5>", "https://x.com/bob/status/5"),
        ("<@U0JANE> <!channel> <!here> <!subteam^S0TEAM>", "@U0JANE @channel @here @S0TEAM"),
        ("<!subteam^S0TEAM|@support> <@U0JANE|jane>", "@support @jane"),
        ("&amp;lt; &lt;b&gt; fish &amp;amp; chips", "&lt; <b> fish &amp; chips"),  # undone once: &amp;lt; was typed &lt;
        ("&gt; quoted\n&gt;\nnot quoted", "│ quoted\n│ \nnot quoted"),
        ("snake_case_name, 2*3*4 and a_b_", "snake_case_name, 2*3*4 and a_b_"),
        (":hourglass: *Bob* waited · :no_such_code:", "⏳ Bob waited · :no_such_code:"),
        ("[bold red]x[/] [link=https://evil]y[/link]", "[bold red]x[/] [link=https://evil]y[/link]"),
        ("bell\x07 esc\x1b[31m bidi\u202eevil", "bell esc[31m bidievil"),  # dropped here too, whatever the layouts did
    ],
)
def test_mrkdwn_reads_as_slack_shows_it(written: str, reads: str) -> None:
    assert mrkdwn(written).plain == reads


def test_mrkdwn_styles() -> None:
    text = mrkdwn("*bold* _italic_ ~struck~ `code` <https://x.com/a|Open> <!channel>")
    assert "bold" in style_of(text, "bold") and "italic" in style_of(text, "italic") and "strike" in style_of(text, "struck")
    assert "cyan" in style_of(text, "code")
    assert "link https://x.com/a" in style_of(text, "Open") and "bold" in style_of(text, "@channel")


def test_an_alert_with_its_buttons() -> None:
    message = alert_message(mention("@acme where is my refund?"), LATER, buttons=True, on_call="U0JANE")
    out = shown(render_message(message, "#alerts · new", "mention:1 · 1795000000.000001"))
    assert out.startswith("╭─ #alerts · new ─") and "mention:1 · 1795000000.000001 ─╯" in out
    assert "⏳ Bob (@bob) has been waiting 1h for a reply" in out
    assert "│ │ @acme where is my refund?" in out, "the post, quoted"
    assert "on call: @U0JANE" in out
    assert "[ I'll take it ] [ Snooze: 1 hour · 4 hours · until tomorrow 09:00 ▾ ] [ No reply needed ]" in out
    assert "[ Open on X ] (https://x.com/bob/status/1900000000000000001)" in out


def test_a_hostile_post_prints_literally_and_sends_no_escape_sequence() -> None:
    """eve's post carries rich markup, a Slack ping, an ANSI colour code and "&amp;lt;" as typed: each prints as
    written (the control character dropped), in a colour terminal too."""
    message = alert_message(mention(HOSTILE, name="Eve [bold]", handle="eve"), LATER)
    for colour in (False, True):
        out = shown(render_message(message, "#alerts · new"), width=200, colour=colour)
        assert "\x1b[31m" not in out and "\x1b[0m typed" not in out, "the post's escape codes never reach the terminal"
        flat = re.sub(r"\x1b\[[0-9;]*m|\x1b\]8;[^\x1b]*\x1b\\", "", out)  # our own styles and links, taken away
        assert "Eve [bold] (@eve)" in flat
        assert "<!channel> [bold red]loud[/bold red] [link=https://evil.example]x[/link] [31mRED[0m" in flat
        assert "typed &amp;lt; and this" in flat, "Slack's escaping undone exactly once; *this* is bold, as in Slack"
        assert "@channel" not in flat, "a stranger's <!channel> is text, never a ping"
    assert "\x1b" not in shown(render_message(message, "#alerts · new"), width=200), "no colour: no escape at all"


def test_a_long_message_wraps_without_losing_text() -> None:
    words = [f"word{i}" for i in range(300)]  # 2,190 characters: inside a section's 3,000
    out = shown(render_message(digest_message([mention(" ".join(words))] * 3, LATER), "#alerts · new"), width=50)
    assert all(len(line) <= 50 for line in out.splitlines())
    flat = " ".join(re.sub(r"[│╭╮╰╯─]", " ", out).split())
    assert "(Bob) to @acme on X, 1h: word0 word1 word2" in flat
    body = " ".join(re.sub(r"[│╭╮╰╯─]", " ", shown(render_message(SlackMessage("", [section(" ".join(words))])), 40)).split())
    assert body == " ".join(words), "every word, in order"


def test_every_other_block_kind() -> None:
    blocks = [
        {"type": "header", "text": plain("Weekly report")},
        {"type": "section", "fields": [{"type": "mrkdwn", "text": "*Received*"}, {"type": "plain_text", "text": "*42*"}]},
        {"type": "divider"},
        {"type": "image", "slack_file": {"id": "/tmp/replywatch-x/chart.png"}, "alt_text": "Mentions per day", "title": plain("Per day")},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "see `replywatch report`"}, {"type": "image", "alt_text": "logo"}]},
        {"type": "rich_text", "elements": []},
    ]
    out = shown(render_message(SlackMessage("fallback", blocks)), width=80)
    lines = [line.strip("│ ") for line in out.splitlines()]
    assert lines[1:4] == ["Weekly report", "Received  *42*", "─" * 76], "plain_text keeps its asterisks"
    assert "🖼  Per day: /tmp/replywatch-x/chart.png" in out and "Mentions per day" in out
    assert "see replywatch report  [logo]" in out and "(rich_text block)" in out
    assert "fallback" not in out
    assert "only the fallback" in shown(render_message(SlackMessage("only the *fallback*", [])))


def test_posts_edits_and_threads_are_titled_and_found_again(tmp_path: Path) -> None:
    console = Console(file=io.StringIO(), width=100)
    sink = ConsoleSink(console, clock=lambda: 1795000000.5)
    channel, ts = sink.post("#alerts", alert_message(mention(), LATER), "mention:1")
    assert (channel, ts) == ("#alerts", "1795000000.000001")
    follow_up = follow_up_message(FollowUp("escalation", ("S0TEAM",)), [mention()], LATER)
    assert sink.post("#alerts", follow_up, "notice:2", thread_ts=ts)[1] == "1795000000.000002"
    sink.update("#alerts", ts, digest_message([mention()], LATER))
    out = console.file.getvalue()  # type: ignore[attr-defined]
    titles = [line for line in out.splitlines() if line.startswith("╭")]
    assert [t.split(" ─")[0] for t in titles] == [
        "╭─ #alerts · new", "╭─ #alerts · in thread of 1795000000.000001", "╭─ #alerts · edited 1795000000.000001",
    ]
    assert "🚨 Escalation: @S0TEAM still unanswered after 1h" in out
    assert "mention:1" not in out and "notice:2" not in out, "a tag is the outbox's key, not something a reader needs"
    assert [line.rsplit(" ─", 1)[0].split("─ ")[-1] for line in out.splitlines() if line.startswith("╰") and "." in line] == [
        "1795000000.000001", "1795000000.000002"], "each new message signed with the ts its edits and thread name"
    oldest = datetime(2026, 1, 1, tzinfo=UTC)
    assert sink.find_tagged("#alerts", "mention:1", oldest) == ("#alerts", ts)
    assert sink.find_tagged("#alerts", "notice:2", oldest, thread_ts=ts) == ("#alerts", "1795000000.000002")
    assert sink.find_tagged("#alerts", "mention:9", oldest) is None and sink.find_tagged("#other", "mention:1", oldest) is None
    assert ConsoleSink(console).find_tagged("#alerts", "mention:1", oldest) is None, "another process printed nothing"


def test_notes_files_and_people(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))  # the temporary folder below: not the machine's
    (tmp_path / "tmp").mkdir()
    console = Console(file=io.StringIO(), width=120)
    sink = ConsoleSink(console, files=tmp_path / "charts")
    jane = sink.lookup_email("jane@acme.example")
    assert SLACK_USER_ID.fullmatch(jane) and sink.lookup_email("jane@acme.example") == jane
    sink.set_usergroup("S0ONCALL", [jane])
    sink.tell("#alerts", jane, "Only people of this workspace can use these buttons &amp; *that* is all")
    sink.open_view("1.2.3", {"title": plain("No reply needed")})
    path = sink.upload("../replywatch-report.png", b"\x89PNG", "How we answered", "chart")
    assert Path(path) == tmp_path / "charts" / "replywatch-report.png" and Path(path).read_bytes() == b"\x89PNG"
    sink.post("#alerts", SlackMessage("", [context(f"on call: <@{jane}>")]), "notice:1")
    lines = console.file.getvalue().splitlines()  # type: ignore[attr-defined]
    assert lines[:3] == [
        "user group @S0ONCALL is now @jane@acme.example",
        "#alerts · only @jane@acme.example sees: Only people of this workspace can use these buttons & that is all",
        "(the form 'No reply needed' would open in Slack)",
    ]
    assert "on call: @jane@acme.example" in lines[4]
    assert Path(ConsoleSink(console).upload("chart.png", b"png", "t", "a")).read_bytes() == b"png", "a temporary folder"


def test_messages_printed_from_many_threads_never_interleave() -> None:
    console = Console(file=io.StringIO(), width=60)
    sink = ConsoleSink(console)
    message = alert_message(mention("a long post " * 40), LATER)

    def post(n: int) -> None:
        for i in range(10):
            sink.post("#alerts", message, f"mention:{n}-{i}")

    threads = [threading.Thread(target=post, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    lines = console.file.getvalue().splitlines()  # type: ignore[attr-defined]
    opened = 0
    for line in lines:
        assert line[0] == ("│" if opened else "╭") or (opened and line[0] == "╰"), "a message inside another"
        opened = 0 if line[0] == "╰" else 1
    assert sum(line.startswith("╭") for line in lines) == 80
    assert len({ts for ts in re.findall(r"\d+\.\d{6}", console.file.getvalue())}) == 80, "every ts unique"  # type: ignore[attr-defined]


def test_an_output_that_cannot_take_a_message_raises_what_the_outbox_understands() -> None:
    from bot.errors import Rejected, Unavailable

    ascii_out = io.TextIOWrapper(io.BytesIO(), encoding="ascii")
    with pytest.raises(Rejected, match="ascii"):
        ConsoleSink(Console(file=ascii_out, width=60)).post("#alerts", alert_message(mention("café ☕"), LATER), "mention:1")
    read, write = os.pipe()
    os.close(read)
    pipe = open(write, "w", encoding="utf-8")  # noqa: SIM115
    sink = ConsoleSink(Console(file=pipe, width=60))
    with pytest.raises(Unavailable, match="BrokenPipeError"):
        sink.post("#alerts", alert_message(mention(), LATER), "mention:1")
    assert sink.find_tagged("#alerts", "mention:1", T0) is None, "not printed: posted again once the output works"
    with contextlib.suppress(BrokenPipeError):  # what is still buffered has nowhere to go
        pipe.close()


def test_services_know_nothing_of_the_console() -> None:
    from tests.unit.test_architecture import BOT, _imports

    for path in sorted((BOT / "services").glob("*.py")):
        assert not [m for m in _imports(path) if m.startswith(("bot.console", "rich"))], path.name


def test_the_start_note_says_why_alerts_are_printed() -> None:
    from bot.config import Settings
    from bot.startup import console_note

    assert console_note(Settings(x_account="acme")) == (
        "No SLACK_BOT_TOKEN: alerts are printed here instead of Slack (SINK=console); their buttons cannot be clicked"
    )
    told = Settings(x_account="acme", sink="console", slack_bot_token="xoxb-1", slack_app_token="xapp-1")  # type: ignore[arg-type]
    assert console_note(told).startswith("Alerts are printed here instead of Slack (SINK=console)")
    assert console_note(told).endswith("; SLACK_APP_TOKEN is not used")
