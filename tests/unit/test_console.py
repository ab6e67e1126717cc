"""The console sink: the cards as a terminal shows them, the information of a Slack alert laid out for a terminal,
nothing a stranger wrote interpreted, every message whole."""

from __future__ import annotations

import contextlib
import inspect
import io
import json
import os
import re
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from rich.console import Console
from rich.text import Text

from bot.console import render
from bot.console.sink import ConsoleSink
from bot.errors import Rejected, Unavailable
from bot.messages import AlertCard, ClosedCard, CollectionBroken, DigestCard, FollowUpNote, NoteCard, ReportNote
from bot.model import SLACK_USER_ID, AccountKey, Mention, Network, Post, Status
from bot.notes import Code, Icon, Link, Ping, Said, Stranger
from bot.ports import Sink
from bot.report.compute import Rows, compute
from bot.report.model import Received
from tests.conftest import judging

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
LATER = T0 + timedelta(hours=1)
HOSTILE = ("@acme <!channel> [bold red]loud[/bold red] [link=https://evil.example]x[/link] \x1b[31mRED\x1b[0m typed &amp;lt; "
           "and *this* <https://evil.example|https://good.example> bidi\u202eevil")
LITERALLY = ("@acme <!channel> [bold red]loud[/bold red] [link=https://evil.example]x[/link] [31mRED[0m typed &amp;lt; and *this* "
             "<https://evil.example|https://good.example> bidievil")  # as typed, the ESC and bidi characters dropped
SGR_AND_LINKS = re.compile(r"\x1b\[[0-9;]*m|\x1b\]8;[^\x1b]*\x1b\\")  # our own styles and hyperlinks


def mention(text: str = "hi", name: str = "Bob", handle: str = "bob", **kw: object) -> Mention:
    post_fields = {k: kw.pop(k) for k in ("private", "url") if k in kw}
    post = Post(id="1900000000000000001", author_id="2", text=text, created_at=T0, author_handle=handle, author_name=name,
                **{"url": f"https://x.com/{handle}/status/1900000000000000001", **post_fields})  # type: ignore[arg-type]
    return Mention(post=post, first_seen_at=T0, **{"status": Status.OPEN, "reason": "", "account": "acme", "id": 1, **kw})  # type: ignore[arg-type]


def shown(renderable: object, width: int = 100, colour: bool = False) -> str:
    """What a terminal of `width` columns would show (with colour: as it would receive it, escape codes and all)."""
    console = Console(file=io.StringIO(), width=width, force_terminal=colour, color_system="truecolor" if colour else None)
    console.print(renderable)
    return console.file.getvalue()  # type: ignore[attr-defined]


def flat(out: str) -> str:
    """The words a panel shows, its borders and quote bars taken away, wrapped lines joined."""
    return " ".join(re.sub(r"[│╭╮╰╯─]", " ", out).split())


def style_of(text: Text, word: str) -> str:
    return str(text.get_style_at_offset(Console(), text.plain.index(word)))


def output(sink: ConsoleSink) -> str:
    return sink.console.file.getvalue()  # type: ignore[attr-defined]


def a_sink(width: int = 100, **kw: object) -> ConsoleSink:
    return ConsoleSink(Console(file=io.StringIO(), width=width), clock=lambda: 1795000000.5, **kw)  # type: ignore[arg-type]


# --- what a card shows ---------------------------------------------------------------------------------------


def test_an_alert_shows_what_the_slack_alert_shows() -> None:
    card = AlertCard(mention("@acme where is my refund?", priority="VIP: 250k followers", network=Network.MASTODON,
                             account="acme@masto.test"), LATER, unchecked_since=T0)
    out = shown(render.panel(card, "#alerts · new", "1795000000.000001", on_call="UCONSOLE1",
                             names={"UCONSOLE1": "jane@acme.example"}), width=160)
    lines = [line.strip("│ ") for line in out.splitlines()]
    assert out.startswith("╭─ #alerts · new ─") and "─ 1795000000.000001 ─╯" in out
    assert lines[1] == "⭐ ⏳ Bob (@bob) has been waiting 1h for a reply · VIP: 250k followers"
    assert lines[2] == "@acme where is my refund?", "the post, quoted"
    assert out.splitlines()[2].startswith("│ │ @acme"), "set off by a bar"
    assert lines[3] == ("Open on Mastodon (https://x.com/bob/status/1900000000000000001) · to @acme@masto.test on Mastodon · "
                        "posted 2026-11-25 12:00 UTC")
    assert lines[4] == "on call: @jane@acme.example", "the on-call ping, shown by name"
    assert lines[5].startswith("⚠ Replies could not be checked since 2026-11-25 12:00 UTC: the network is not answering")
    assert lines[6] == "[ I'll take it ]  [ Snooze ▾ ]  [ No reply needed ]"


def test_an_alert_says_who_claimed_or_snoozed_it_in_its_time_zone_and_its_plain_form_is_text_only() -> None:
    claimed = mention(claimed_by="U0JANE", snoozed_until=LATER + timedelta(hours=4), snoozed_by="U0JANE")
    out = flat(shown(render.alert(AlertCard(claimed, LATER), tz=ZoneInfo("Europe/Berlin"), on_call="U0BOB", names={"U0JANE": "jane"})))
    assert "claimed by @jane · snoozed until 2026-11-25 18:00 CET by @jane" in out
    assert "on call" not in out, "a claimed alert pings nobody else"
    assert "posted 2026-11-25 13:00 CET" in out, "times in the sink's zone"
    plain = flat(shown(render.alert(AlertCard(mention(priority="VIP"), LATER, unchecked_since=T0, plain=True))))
    assert plain.startswith("Bob (@bob) has been waiting 1h for a reply · VIP") and "Replies could not be checked" in plain
    assert "[ I'll take it ]" not in plain and not re.search(r"[⏳⭐⚠]", plain), "no button, no icon"
    started = flat(shown(render.alert(AlertCard(mention(), LATER, unchecked_since=datetime.min.replace(tzinfo=UTC)))))
    assert "could not be checked since replywatch started" in started


def test_a_private_post_is_never_shown() -> None:
    secret = mention("my phone is 555-0100", private=True, network=Network.BLUESKY)
    for card in (AlertCard(secret, LATER), DigestCard((secret, mention("public")), LATER), ClosedCard(secret)):
        out = flat(shown(render.body(card)))
        assert "555-0100" not in out, type(card).__name__
        assert "private — open on Bluesky to read it" in out, type(card).__name__


def test_a_digest_lists_as_many_as_slacks_then_how_many_more() -> None:
    members = [mention(f"post {i}", handle=f"user{i}") for i in range(render.DIGEST_ROWS + 5)]
    members[1] = mention("gone", handle="carol", status=Status.ANSWERED)
    members[2] = mention("vip", handle="dan", priority="VIP")
    out = shown(render.digest(DigestCard(tuple(members), LATER), on_call="U1", names={"U1": "jane@acme.example"}), width=200)
    lines = out.splitlines()
    assert lines[0] == (f"⏳ {len(members)} mentions have been waiting for a reply · on call: @jane@acme.example; 1 since answered "
                        f"or closed, {len(members) - 1} still waiting")
    assert lines[1] == "• Bob (@user0) to @acme on X, 1h: post 0 · https://x.com/user0/status/1900000000000000001"
    assert lines[2] == "✅ @carol answered" and lines[3].startswith("• ⭐ Bob (@dan) to @acme on X, 1h: vip")
    assert len([line for line in lines if line.startswith(("•", "✅"))]) == render.DIGEST_ROWS
    assert lines[-1] == "and 5 more: /replywatch lists them all"
    row = render.digest(DigestCard(tuple(members[:3]), LATER)).renderables[2]
    assert isinstance(row, Text) and "strike" in style_of(row, "@carol"), "answered: struck through"
    long = flat(shown(render.digest(DigestCard((mention("word " * 100),), LATER))))
    assert "word word…" in long and long.count("word") < 30, "a row shows an excerpt"


def test_a_closed_alert_says_how_it_closed() -> None:
    answered = mention("hi there", status=Status.ANSWERED, answered_at=T0 + timedelta(minutes=42),
                       answer_url="https://x.com/acme/status/2")
    out = flat(shown(render.closed(ClosedCard(answered)), width=200))
    assert out.startswith("✅ Bob (@bob) was answered after 42m hi there Reply on X (https://x.com/acme/status/2) · Mention on X")
    closed = mention("hi", status=Status.CLOSED, reason="no reply needed: spam", claimed_by="U1")
    out = flat(shown(render.closed(ClosedCard(closed), names={"U1": "jane"})))
    assert out.startswith("✔ Bob (@bob): closed by @jane, no reply needed: spam hi")
    expired = mention("hi", status=Status.EXPIRED, reason="expired: no reply within 7d")
    assert flat(shown(render.closed(ClosedCard(expired)))).startswith("⏳ Bob (@bob): expired: no reply within 7d hi")
    deleted = flat(shown(render.closed(ClosedCard(mention("call 555-0100", status=Status.DELETED)))))
    assert deleted == "🗑 Bob (@bob) deleted this post on X; no reply needed to @acme on X · posted 2026-11-25 12:00 UTC"


def test_a_notes_spans_each_in_its_style() -> None:
    said = (Icon("rotating_light"), Said(" Escalation: "), Ping("U1"), Said(" "), Ping("here"), Said(" see "),
            Link("https://x.com/bob/status/5?a=1&b=2", "@bob"), Said(", run "), Code("replywatch status"), Said(" "),
            Stranger("[red]err[/red] *x*"), Said(" "), Icon("no_such_icon"))
    text = render.spans(said, {"U1": "jane@acme.example"})
    assert text.plain == ("🚨 Escalation: @jane@acme.example @here see @bob (https://x.com/bob/status/5?a=1&b=2), run "
                          "replywatch status [red]err[/red] *x* :no_such_icon:")
    assert "bold" in style_of(text, "@jane") and "bold" in style_of(text, "@here")
    assert "underline" in style_of(text, "@bob") and "link https://x.com/bob/status/5?a=1&b=2" in style_of(text, "@bob")
    assert "cyan" in style_of(text, "replywatch status")
    assert style_of(text, "[red]err") == "none" and style_of(text, "Escalation") == "none", "strangers' text and ours: plain"
    unsafe = render.link("javascript:alert(1)", "open")
    assert unsafe.plain == "open (javascript:alert(1))" and "link" not in style_of(unsafe, "open"), "shown, never a hyperlink"


def test_a_note_card_and_a_follow_up_with_nothing_left_to_say() -> None:
    note = NoteCard(FollowUpNote("escalation", ("S0TEAM",), (1,), 3, T0), LATER, (mention(),))
    assert flat(shown(render.body(note), width=200)) == (
        "🚨 Escalation: @S0TEAM 3 mentions still unanswered after 1h: @bob (https://x.com/bob/status/1900000000000000001) and 2 more")
    gone = NoteCard(FollowUpNote("reminder", ("S0TEAM",), (1,), 1, T0), LATER, ())
    assert "nothing left to say" in shown(render.body(gone))


# --- strangers' text ---------------------------------------------------------------------------------------------


def test_hostile_text_prints_literally_and_sends_no_escape_sequence() -> None:
    """eve's post, name, VIP reason and an error a network sent carry rich markup, Slack markup, an ANSI colour code,
    a bidi override and "&amp;lt;" as typed: each prints as written (the control characters dropped), in a colour
    terminal too, and nothing is parsed: neither rich's markup nor Slack's."""
    eve = mention(HOSTILE, name="Eve [bold]\x1b[2J", handle="eve", priority="[blink]VIP[/blink]",
                  url="https://x.com/eve/status/1\x1b]8;;https://evil.example\x1b\\")
    broken = NoteCard(CollectionBroken("x", "acme", T0, f"503 {HOSTILE}"), LATER)
    for card in (AlertCard(eve, LATER), DigestCard((eve,), LATER), ClosedCard(eve), broken):
        for colour in (False, True):
            out = shown(render.panel(card, "#alerts · new"), width=400, colour=colour)
            literal = SGR_AND_LINKS.sub("", out)
            assert "\x1b" not in literal, "the text's escape codes never reach the terminal, nor break out of a hyperlink"
            assert (LITERALLY[:80] if isinstance(card, DigestCard) else LITERALLY) in literal, type(card).__name__
            assert "\u202e" not in out and "&lt;" not in out and "&amp;amp;" not in out, "nothing escaped, nothing unescaped"
            if not isinstance(card, NoteCard):
                assert "Eve [bold][2J (@eve)" in literal
            if isinstance(card, AlertCard):
                assert "has been waiting 1h for a reply · [blink]VIP[/blink]" in literal
        assert "\x1b" not in shown(render.panel(card, "#alerts · new"), width=400), "no colour: no escape at all"
    text = render.alert(AlertCard(mention("*this* _that_ `code`"), LATER)).renderables[1].text  # type: ignore[attr-defined]
    assert text.plain == "*this* _that_ `code`" and style_of(text, "this") == "none", "no mrkdwn is read"


def test_a_long_post_wraps_without_losing_text() -> None:
    words = [f"word{i}" for i in range(300)]
    out = shown(render.panel(AlertCard(mention("\n".join([" ".join(words[:150]), " ".join(words[150:])])), LATER)), width=44)
    assert all(len(line) <= 44 for line in out.splitlines())
    quoted = [line for line in out.splitlines() if line.startswith("│ │ ")]
    assert " ".join(" ".join(line.strip("│ ").split()) for line in quoted) == " ".join(words), "every word, in order, each line quoted"
    assert "[ I'll take it ]  [ Snooze ▾ ]" in out and "│ [ No reply needed ]" in out, "a button never broken in two"


# --- the sink ------------------------------------------------------------------------------------------------


def test_the_sink_is_the_port() -> None:
    for name, port in inspect.getmembers(Sink, inspect.isfunction):
        if not name.startswith("_"):
            assert list(inspect.signature(getattr(ConsoleSink, name)).parameters) == list(inspect.signature(port).parameters), name
    assert ConsoleSink.queue_rows == 10


def test_deliveries_edits_and_threads_are_titled_and_found_again() -> None:
    asked: list[datetime] = []
    sink = a_sink(on_call=lambda now: asked.append(now) or "U0JANE")
    channel, ts = sink.deliver("#alerts", AlertCard(mention(), LATER), "mention:1")
    assert (channel, ts) == ("#alerts", "1795000000.000001")
    follow_up = NoteCard(FollowUpNote("escalation", ("S0TEAM",), (1,), 1, T0), LATER, (mention(),))
    assert sink.deliver("#alerts", follow_up, "notice:2", thread=ts) == ("#alerts", "1795000000.000002")
    sink.edit("#alerts", ts, ClosedCard(mention(status=Status.ANSWERED, answered_at=LATER)))
    out = output(sink)
    titles = [line for line in out.splitlines() if line.startswith("╭")]
    assert [t.split(" ─")[0] for t in titles] == [
        "╭─ #alerts · new", "╭─ #alerts · in thread of 1795000000.000001", "╭─ #alerts · edited 1795000000.000001",
    ]
    assert "🚨 Escalation: @S0TEAM still unanswered after 1h" in out and "was answered after 1h" in out
    assert "on call: @U0JANE" in out and asked == [LATER], "the alert asked who is on call then; the note and the edit did not"
    assert "mention:1" not in out and "notice:2" not in out, "a tag is the outbox's key, not something a reader needs"
    assert [line.rsplit(" ─", 1)[0].split("─ ")[-1] for line in out.splitlines() if line.startswith("╰") and "." in line] == [
        "1795000000.000001", "1795000000.000002"], "each new message signed with the ts its edits and thread name"
    assert sink.printed == ["mention:1", "notice:2"]
    oldest = datetime(2026, 1, 1, tzinfo=UTC)
    assert sink.find("#alerts", "mention:1", oldest) == ("#alerts", ts)
    assert sink.find("#alerts", "notice:2", oldest, thread=ts) == ("#alerts", "1795000000.000002")
    assert sink.find("#alerts", "notice:2", oldest) is None, "not outside its thread"
    assert sink.find("#alerts", "mention:9", oldest) is None and sink.find("#other", "mention:1", oldest) is None
    assert a_sink().find("#alerts", "mention:1", oldest) is None, "another process printed nothing"


def test_people_are_made_up_and_pings_to_them_print_their_email() -> None:
    sink = a_sink(width=200)
    jane = sink.person("jane@acme.example")
    assert SLACK_USER_ID.fullmatch(jane) and sink.person("jane@acme.example") == jane and sink.person("bob@acme.example") != jane
    sink.on_call = lambda now: jane  # what build_app does once it knows the rotation
    sink.hand_over("S0ONCALL", [jane])
    sink.hand_over("S0BACKUP", [])
    sink.tell("#alerts", jane, "Only people of this workspace can use these buttons &amp; *that* [b]is[/b] all\x1b[2J")
    sink.ask_reason("1.2.3", mention(name="Eve [bold]", handle="eve"), "#alerts")
    sink.deliver("#alerts", AlertCard(mention(), LATER), "mention:1")
    sink.deliver("#alerts", NoteCard(FollowUpNote("reminder", (jane,), (1,), 1, T0), LATER, (mention(),)), "notice:1")
    lines = output(sink).splitlines()
    assert lines[:4] == [
        "user group @S0ONCALL is now @jane@acme.example",
        "user group @S0BACKUP is now nobody",
        "#alerts · only @jane@acme.example sees: Only people of this workspace can use these buttons &amp; *that* [b]is[/b] all[2J",
        "(the form 'No reply needed' would open in Slack, for the mention by Eve [bold] (@eve) in #alerts)",
    ]
    assert "on call: @jane@acme.example" in output(sink) and "🔔 Reminder: @jane@acme.example still unanswered" in output(sink)
    assert "UCONSOLE" not in output(sink)
    assert sink.printed == ["mention:1", "notice:1"], "one-line notices are not deliveries"


def a_report_note() -> ReportNote:
    start, end = T0 - timedelta(days=7), T0
    received = [Received("x", "acme", "answered", T0 - timedelta(days=1), T0 - timedelta(days=1) + timedelta(minutes=40), "bob[red]",
                         "https://x.com/bob/status/1", "acme", True, False)]
    report = compute(Rows(received), start, end, T0, judging(ZoneInfo("UTC"), timedelta(minutes=30)), [AccountKey(Network.X, "acme")])
    return ReportNote(start, end, json.dumps(report.to_json()), 1800.0)


def test_a_report_is_printed_as_its_text_and_its_chart_written_to_a_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))  # the temporary folder below: not the machine's
    (tmp_path / "tmp").mkdir()
    sink = a_sink(width=120, files=tmp_path / "charts")
    note = a_report_note()
    path = Path(sink.attach_chart(note))
    assert path.parent == tmp_path / "charts" and path.name.startswith("replywatch-report-")
    assert path.read_bytes().startswith(b"\x89PNG")
    sink.deliver("#alerts", NoteCard(ReportNote(note.start, note.end, note.report, note.alert_after, str(path)), LATER), "notice:report:1")
    out = flat(output(sink))
    assert "📊 How we answered Engagement report, Wed 2026-11-18 12:00 to Wed 2026-11-25 11:59 (UTC)" in out
    assert "@bob[red]" in out and "Waited longest" in out, "the report's text format, strangers' text as written"
    assert f"chart: {path}" in out
    other = a_sink()
    assert Path(other.attach_chart(note)).parent.parent == tmp_path / "tmp", "without a folder: a temporary one"


class Trickle(io.StringIO):
    """An output that takes a write a few characters at a time, letting other threads run in between."""

    def write(self, text: str) -> int:
        for i in range(0, len(text), 40):
            super().write(text[i : i + 40])
            time.sleep(0)
        return len(text)


def test_messages_delivered_from_many_threads_never_interleave() -> None:
    sink = ConsoleSink(Console(file=Trickle(), width=60))
    card = AlertCard(mention("a long post " * 40), LATER)

    def deliver(n: int) -> None:
        for i in range(10):
            sink.deliver("#alerts", card, f"mention:{n}-{i}")

    threads = [threading.Thread(target=deliver, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    lines = output(sink).splitlines()
    opened = 0
    for line in lines:
        assert line[0] == ("│" if opened else "╭") or (opened and line[0] == "╰"), "a message inside another"
        opened = 0 if line[0] == "╰" else 1
    assert sum(line.startswith("╭") for line in lines) == 80 and len(sink.printed) == 80
    assert len(set(re.findall(r"\d+\.\d{6}", output(sink)))) == 80, "every ts unique"


def test_an_output_that_cannot_take_a_message_raises_what_the_outbox_understands() -> None:
    ascii_out = io.TextIOWrapper(io.BytesIO(), encoding="ascii")
    refusing = ConsoleSink(Console(file=ascii_out, width=60))
    with pytest.raises(Rejected, match="ascii"):
        refusing.deliver("#alerts", AlertCard(mention("café ☕"), LATER), "mention:1")
    assert refusing.printed == [] and refusing.find("#alerts", "mention:1", T0) is None
    read, write = os.pipe()
    os.close(read)
    pipe = open(write, "w", encoding="utf-8")  # noqa: SIM115
    sink = ConsoleSink(Console(file=pipe, width=60))
    with pytest.raises(Unavailable, match="BrokenPipeError"):
        sink.deliver("#alerts", AlertCard(mention(), LATER), "mention:1")
    assert sink.find("#alerts", "mention:1", T0) is None and sink.printed == [], "not printed: delivered again once the output works"
    with pytest.raises(Unavailable):
        sink.tell("#alerts", "U1", "hello")
    with contextlib.suppress(BrokenPipeError):  # what is still buffered has nowhere to go
        pipe.close()


# --- around it -----------------------------------------------------------------------------------------------


def test_services_know_nothing_of_the_console_and_the_console_parses_no_mrkdwn() -> None:
    from tests.unit.test_architecture import BOT, _imports

    for path in sorted((BOT / "services").glob("*.py")):
        assert not [m for m in _imports(path) if m.startswith(("bot.console", "rich"))], path.name
    for path in sorted((BOT / "console").glob("*.py")):
        assert not [m for m in _imports(path) if m.startswith(("bot.slack.notes", "bot.slack.render", "slack_sdk"))], path.name
        assert "mrkdwn(" not in path.read_text() and "import re\n" not in path.read_text(), path.name


def test_the_start_note_says_why_alerts_are_printed() -> None:
    from bot.app.verify import console_note
    from bot.config.settings import Settings

    assert console_note(Settings(x_account="acme")) == (
        "No SLACK_BOT_TOKEN: alerts are printed here instead of Slack (SINK=console); their buttons cannot be clicked"
    )
    told = Settings(x_account="acme", sink="console", slack_bot_token="xoxb-1", slack_app_token="xapp-1")  # type: ignore[arg-type]
    assert console_note(told).startswith("Alerts are printed here instead of Slack (SINK=console)")
    assert console_note(told).endswith("; SLACK_APP_TOKEN is not used")
