"""One contract for every sink (bot.ports.Sink), run against Slack (the real slack_sdk client against the Slack
stand-in) and the console (a rich Console writing to memory or a pipe): a card delivered is shown and found again by
its tag (by a new process too, where the sink keeps history), an edit replaces it, a card the sink cannot take is
refused (Rejected) and not found, and no error carries a secret."""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import pytest
from rich.console import Console

from bot.console.sink import ConsoleSink
from bot.errors import Rejected, ServiceError
from bot.messages import AlertCard, ClosedCard, CollectionBroken, NoteCard
from bot.model import Mention, Network, Post, Status
from bot.ports import Sink
from bot.slack.client import SlackClient
from bot.slack.sink import SlackSink
from tests.standins.slack_api import FakeSlack

T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
LATER = T0 + timedelta(minutes=45)
CHANNEL = "C0ALERTS"


@dataclass
class Case:
    """A sink, and what its contract needs around it: what it has shown so far, a new process's sink on the same
    place (None: the sink keeps no history), how to make it refuse the next card and break for good, and the
    secret its errors must never carry."""

    sink: Sink
    shown: Callable[[], str]
    restarted: Callable[[], Sink] | None
    refuse: Callable[[], None]
    broken: Callable[[], Sink]
    secret: str


def _slack(fake: FakeSlack, token: str | None = None) -> SlackSink:
    client = SlackClient(token=token or fake.token, base_url=fake.url, timeout=5)
    return SlackSink(client, buttons=True, tz=UTC, on_call=lambda _now: None)


def _slack_case() -> Iterator[Case]:
    fake = FakeSlack(token="xoxb-1111-2222-contractsecret")
    try:
        def shown() -> str:
            return "\n".join(f"{m.text} {m.blocks}" for m in fake.messages)

        def refuse() -> None:
            fake.refuse = lambda _args: "invalid_blocks"

        yield Case(_slack(fake), shown, lambda: _slack(fake), refuse, lambda: _slack(fake, fake.token + "-revoked"), fake.token)
    finally:
        fake.close()


def _console_case() -> Iterator[Case]:
    out = io.StringIO()

    def refuse() -> None:
        sink.console = Console(file=io.TextIOWrapper(io.BytesIO(), encoding="ascii"), width=100)  # "☕" cannot go

    def broken() -> Sink:  # an output whose reader is gone: a closed pipe
        read, write = os.pipe()
        os.close(read)
        pipes.append(open(write, "w", encoding="utf-8"))  # noqa: SIM115
        return ConsoleSink(Console(file=pipes[-1], width=100))

    pipes: list[io.TextIOWrapper] = []
    sink = ConsoleSink(Console(file=out, width=100))
    yield Case(sink, out.getvalue, None, refuse, broken, "")
    for pipe in pipes:
        with contextlib.suppress(BrokenPipeError):  # what is still buffered has nowhere to go
            pipe.close()


@pytest.fixture(params=["slack", "console"])
def case(request: pytest.FixtureRequest) -> Iterator[Case]:
    yield from (_slack_case() if request.param == "slack" else _console_case())


def _mention(text: str = "@acme where is my refund? ☕") -> Mention:
    post = Post(id="7", author_id="5", text=text, created_at=T0, author_handle="bob", author_name="Bob",
                url="https://x.com/bob/status/7")
    return Mention(post=post, status=Status.OPEN, reason="", first_seen_at=T0, id=41, network=Network.X, account="acme")


def test_a_delivered_card_is_shown_and_found_again_by_its_tag(case: Case) -> None:
    channel, ref = case.sink.deliver(CHANNEL, AlertCard(_mention(), LATER), "mention:41")
    assert "where is my refund?" in case.shown()
    assert case.sink.find(channel, "mention:41", T0) == (channel, ref)
    assert case.sink.find(channel, "mention:42", T0) is None, "another tag"


def test_a_card_delivered_before_a_crash_is_found_by_the_next_process_where_the_sink_keeps_history(case: Case) -> None:
    channel, ref = case.sink.deliver(CHANNEL, AlertCard(_mention(), LATER), "mention:41")
    if case.restarted is None:
        pytest.skip("the console keeps no history: a card in doubt is shown again after a restart")
    assert case.restarted().find(channel, "mention:41", T0) == (channel, ref)


def test_a_note_goes_into_the_thread_it_names_and_is_found_there(case: Case) -> None:
    channel, ref = case.sink.deliver(CHANNEL, AlertCard(_mention(), LATER), "mention:41")
    note = NoteCard(CollectionBroken("x", "acme", T0, "HTTP 503 from X"), LATER)
    _, reply = case.sink.deliver(channel, note, "notice:broken", thread=ref)
    assert "not being collected" in case.shown() and "HTTP 503 from X" in case.shown()
    assert case.sink.find(channel, "notice:broken", T0, thread=ref) == (channel, reply)


def test_an_edit_shows_the_new_card_in_place_of_the_old(case: Case) -> None:
    channel, ref = case.sink.deliver(CHANNEL, AlertCard(_mention(), LATER), "mention:41")
    before = case.shown()
    answered = replace(_mention(), status=Status.ANSWERED, reason="answered by @acme", answered_by="acme",
                       answered_at=LATER - timedelta(minutes=5), answer_url="https://x.com/acme/status/8")
    case.sink.edit(channel, ref, ClosedCard(answered))
    assert "nswered after 40m" not in before and "nswered after 40m" in case.shown()


def test_a_card_the_sink_cannot_take_is_refused_and_not_found(case: Case) -> None:
    case.refuse()
    with pytest.raises(Rejected):
        case.sink.deliver(CHANNEL, AlertCard(_mention(), LATER), "mention:41")
    assert case.sink.find(CHANNEL, "mention:41", T0) is None, "refused: nothing to find, it goes again"


def test_no_error_carries_a_secret(case: Case) -> None:
    broken = case.broken()
    with pytest.raises(ServiceError) as raised:
        broken.deliver(CHANNEL, AlertCard(_mention(), LATER), "mention:41")
    said = f"{raised.value} {raised.value.message}"
    assert "\n" not in said, "one line"
    assert not case.secret or case.secret not in said
