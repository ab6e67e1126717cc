"""The console sink (SINK=console): bot.ports.Sink printed to a terminal, each card a Panel laid out by
bot.console.render from the card itself, so the services run as they do with Slack. A few things cannot be what
they are in Slack:

- A console has no history to search. `find` answers from what this process printed: after a restart, a message
  whose delivery was in doubt (the process stopped between printing it and storing that it did) is printed again,
  where Slack would have found and adopted it.
- Nobody can click a button: buttons are shown, as Slack would show them, and nothing answers them; the form that
  asks why a mention needs no reply is one line saying that it would open.
- There are no users to look up: an e-mail gets a made-up user ID (`person`), and pings to it print the e-mail.
- A report's chart is written to a folder (a temporary one unless given), and the report names the file.

A message the output cannot take is refused (Rejected: the outbox retries it in its plain form, then parks it); an
output that is gone (a closed pipe) is Unavailable, and the message waits.
"""

from __future__ import annotations

import itertools
import logging
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, tzinfo
from pathlib import Path

from rich.console import Console, RenderableType
from rich.text import Text

from bot.console import render
from bot.errors import Rejected, Unavailable
from bot.messages import AlertCard, Card, DigestCard, ReportNote
from bot.model import Mention, ReplyForm

log = logging.getLogger(__name__)


class ConsoleSink:
    """Prints each card to `console` (default: standard output, colour only on a terminal), times in `tz`, naming on
    alerts whoever `on_call(now)` says holds the rotation (a user ID, or None). Thread-safe: the sweep and the socket
    threads may print at once, and whole messages never interleave."""

    queue_rows = 10

    def __init__(
        self,
        console: Console | None = None,
        *,
        files: str | Path | None = None,
        clock: Callable[[], float] = time.time,
        tz: tzinfo = UTC,
        on_call: Callable[[datetime], str | None] = lambda now: None,
    ) -> None:
        self.console = console if console is not None else Console(highlight=False, emoji=False, markup=False)
        self.files = Path(files) if files is not None else None
        self.tz = tz
        self.on_call = on_call
        self.people: dict[str, str] = {}  # a made-up user ID → the e-mail it stands for (`person`)
        self._clock = clock
        self._counter = itertools.count(1)
        self._lock = threading.Lock()
        self._tagged: dict[tuple[str, str, str | None], str] = {}  # (channel, tag, thread) → ts, as printed here
        self.printed: list[str] = []  # the tag of every message delivered, in order (a tag twice: a duplicate)

    # --- cards ---------------------------------------------------------------------------------------------

    def deliver(self, channel: str, card: Card, tag: str, thread: str | None = None) -> tuple[str, str]:
        """Print a new message (in a thread: titled so) signed with its ts, made like Slack's, by which its edits and
        its thread name it; returns (channel, ts). The tag is the outbox's key, not the reader's: it is not printed."""
        on_call = self._holder(card)
        with self._lock:
            ts = self._ts()
            where = f"in thread of {thread}" if thread else "new"
            self._print(render.panel(card, f"{channel} · {where}", ts, tz=self.tz, on_call=on_call, names=self.people))
            self._tagged[(channel, tag, thread)] = ts
            self.printed.append(tag)
        return channel, ts

    def edit(self, channel: str, ref: str, card: Card) -> None:
        """Print the card again, titled as the edit of message `ref`."""
        on_call = self._holder(card)
        with self._lock:
            self._print(render.panel(card, f"{channel} · edited {ref}", tz=self.tz, on_call=on_call, names=self.people))

    def find(self, channel: str, tag: str, oldest: datetime, thread: str | None = None) -> tuple[str, str] | None:
        """A message this process printed with this tag; a console keeps no history beyond that."""
        with self._lock:
            ts = self._tagged.get((channel, tag, thread))
        return (channel, ts) if ts is not None else None

    def attach_chart(self, note: ReportNote) -> str:
        """Write the report's chart (a PNG) to the folder; its path is the chart's id, which the report names."""
        from bot.report.chart import report_chart  # Pillow: loaded only when a report is printed

        chart = report_chart(note)
        with self._lock:
            if self.files is None:
                self.files = Path(tempfile.mkdtemp(prefix="replywatch-"))
            self.files.mkdir(parents=True, exist_ok=True)
            path = self.files / (Path(chart.filename).name or "chart.png")
            path.write_bytes(chart.content)
        log.info("saved %s (%s)", path, chart.title)
        return str(path)

    # --- people --------------------------------------------------------------------------------------------

    def ask_reason(self, trigger: str, mention: Mention, channel: str) -> None:
        """A form cannot open in a console: one line says which would, and for which mention."""
        line = Text("(the form 'No reply needed' would open in Slack, for the mention by ", render.DIM)
        line.append_text(render.who(mention)).append(f" in {render.clean(channel, single_line=True)})")
        with self._lock:
            self._print(line)

    def ask_reply(self, trigger: str, form: ReplyForm, channel: str) -> None:
        """A form cannot open in a console either: one line says which would."""
        line = Text("(the form 'Reply' would open in Slack, for the mention by ", render.DIM)
        line.append_text(render.who(form.mention)).append(f", up to {form.limit:,} characters)")
        with self._lock:
            self._print(line)

    def members(self, group: str) -> frozenset[str]:
        """A console knows no user groups: nobody is in one."""
        return frozenset()

    def tell(self, channel: str, user: str, text: str) -> None:
        """What Slack would show `user` alone: one line, the text as it is (our words, unformatted)."""
        with self._lock:
            line = Text(f"{render.clean(channel, single_line=True)} · only ", render.DIM)
            line.append_text(render.ping(user, self.people)).append(" sees: ", render.DIM).append(render.clean(text))
            self._print(line)

    def hand_over(self, group: str, users: list[str]) -> None:
        """One line: who the on-call user group would now be."""
        with self._lock:
            line = Text("user group ", render.DIM).append_text(render.ping(group, self.people)).append(" is now ", render.DIM)
            line.append_text(Text(", ").join(render.ping(u, self.people) for u in users) if users else Text("nobody"))
            self._print(line)

    def person(self, email: str) -> str:
        """A made-up user ID for a team member's e-mail; pings to it print the e-mail."""
        with self._lock:
            for user, known in self.people.items():
                if known == email:
                    return user
            user = f"UCONSOLE{len(self.people) + 1}"
            self.people[user] = email
            return user

    # --- the output ----------------------------------------------------------------------------------------

    def _holder(self, card: Card) -> str | None:
        """Who is on call as an alert or a digest is laid out (asked outside the lock: it may read the schedule)."""
        return self.on_call(card.now) if isinstance(card, AlertCard | DigestCard) else None

    def _ts(self) -> str:
        return f"{int(self._clock())}.{next(self._counter) % 1_000_000:06d}"

    def _print(self, renderable: RenderableType) -> None:
        """Print it whole, or raise what the outbox understands: this message cannot be shown (its characters are
        not in the output's encoding: nothing was written), or the output is gone for now (a closed pipe)."""
        # Rendered first, then written here: rich's own write would answer a closed pipe by exiting the process. Its
        # capture still flushes the output as it ends, so what a failed write left buffered is flushed here first.
        try:
            self.console.file.flush()
        except OSError as exc:
            raise Unavailable("console", f"cannot write to the output ({type(exc).__name__})") from None
        with self.console.capture() as captured:
            self.console.print(renderable)
        try:
            self.console.file.write(captured.get())
            self.console.file.flush()  # a pipe or a file is block-buffered: a message shows when it is printed
        except UnicodeError as exc:
            raise Rejected("console", f"cannot print it in {getattr(exc, 'encoding', 'this')} encoding") from None
        except OSError as exc:
            raise Unavailable("console", f"cannot write to the output ({type(exc).__name__})") from None
