"""The console sink: what `replywatch run` would post to Slack, printed instead (SINK=console), one Panel a message.

It answers every call the app makes on bot.slack.client.SlackClient, so the services run unchanged. A few things
cannot be what they are in Slack:

- A console has no history to search. `find_tagged` answers from what this process printed: after a restart, a
  message whose post was in doubt (the process stopped between printing it and storing that it did) is printed
  again, where Slack would have found and adopted it.
- Nobody can click a button: buttons are shown, as Slack would show them, and nothing answers them.
- There are no users to look up: an on-call e-mail gets a made-up user ID, and pings to it print the e-mail.
- A chart is written to a folder (a temporary one unless given), and the message's image line names the file.

A message the output cannot take is refused (Rejected: the outbox retries it as plain text, then parks it); an
output that is gone (a closed pipe) is Unavailable, and the message waits.
"""

from __future__ import annotations

import itertools
import logging
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from rich.console import Console
from rich.text import Text

from bot.console.render import mrkdwn, plain, render_message
from bot.errors import Rejected, Unavailable
from bot.model import SlackMessage

log = logging.getLogger(__name__)


class ConsoleSink:
    """Prints each message to `console` (default: standard output, colour only on a terminal). Thread-safe: the
    sweep and the socket threads may print at once, and whole messages never interleave."""

    def __init__(
        self, console: Console | None = None, *, files: str | Path | None = None, clock: Callable[[], float] = time.time
    ) -> None:
        self.console = console if console is not None else Console(highlight=False, emoji=False, markup=False)
        self.files = Path(files) if files is not None else None
        self.people: dict[str, str] = {}  # a made-up user ID → the e-mail it stands for (lookup_email)
        self._clock = clock
        self._counter = itertools.count(1)
        self._lock = threading.Lock()
        self._tagged: dict[tuple[str, str, str | None], str] = {}  # (channel, tag, thread) → ts, as printed here
        self.printed: list[str] = []  # the tag of every message posted, in order (a tag twice: a duplicate)

    # --- what startup asks of Slack ------------------------------------------------------------------------

    def auth_test(self) -> dict:
        """Who is posting: nobody's token, the console."""
        return {"ok": True, "team": "console", "user": "replywatch"}

    def channel_id(self, channel: str) -> str:
        """A channel is its name here."""
        return channel

    def lookup_email(self, email: str) -> str:
        """A made-up user ID for an on-call e-mail; pings to it print the e-mail."""
        with self._lock:
            for user, known in self.people.items():
                if known == email:
                    return user
            user = f"UCONSOLE{len(self.people) + 1}"
            self.people[user] = email
            return user

    # --- messages ------------------------------------------------------------------------------------------

    def post(self, channel: str, message: SlackMessage, tag: str, thread_ts: str | None = None) -> tuple[str, str]:
        """Print a new message (in a thread: titled so) under its ts, made like Slack's, by which its edits and its
        thread name it; returns (channel, ts). The tag is the outbox's key, not the reader's: it is not printed."""
        with self._lock:
            ts = self._ts()
            where = f"in thread of {thread_ts}" if thread_ts else "new"
            self._print(render_message(message, f"{channel} · {where}", ts, self.people))
            self._tagged[(channel, tag, thread_ts)] = ts
            self.printed.append(tag)
        return channel, ts

    def update(self, channel: str, ts: str, message: SlackMessage) -> None:
        """Print the message again, as edited."""
        with self._lock:
            self._print(render_message(message, f"{channel} · edited {ts}", "", self.people))

    def find_tagged(self, channel: str, tag: str, oldest: datetime, thread_ts: str | None = None) -> tuple[str, str] | None:
        """A message this process printed with this tag; a console keeps no history beyond that."""
        with self._lock:
            ts = self._tagged.get((channel, tag, thread_ts))
        return (channel, ts) if ts is not None else None

    def tell(self, channel: str, user: str, text: str) -> None:
        """What Slack would show `user` alone: one line."""
        line = Text(f"{plain(channel)} · only @{plain(self.people.get(user, user))} sees: ", "dim")
        with self._lock:
            self._print(line + mrkdwn(text, self.people))

    def open_view(self, trigger_id: str, view: dict) -> None:
        """A form cannot open in a console: one line says which."""
        title = plain(str((view.get("title") or {}).get("text") or "a form"))
        with self._lock:
            self._print(Text(f"(the form {title!r} would open in Slack)", "dim"))

    def set_usergroup(self, group: str, users: list[str]) -> None:
        """One line: who the user group would now be."""
        members = ", ".join("@" + plain(self.people.get(u, u)) for u in users) or "nobody"
        with self._lock:
            self._print(Text(f"user group @{plain(group)} is now {members}", "dim"))

    def upload(self, filename: str, content: bytes, title: str, alt_text: str) -> str:
        """Write the file to the folder; its path is the file's ID (the image line shows it)."""
        with self._lock:
            if self.files is None:
                self.files = Path(tempfile.mkdtemp(prefix="replywatch-"))
            self.files.mkdir(parents=True, exist_ok=True)
            path = self.files / (Path(filename).name or "file")
            path.write_bytes(content)
        log.info("saved %s (%s)", path, title)
        return str(path)

    def _ts(self) -> str:
        return f"{int(self._clock())}.{next(self._counter) % 1_000_000:06d}"

    def _print(self, renderable: object) -> None:
        """Print it whole, or raise what the outbox understands: this message cannot be shown (its characters are
        not in the output's encoding: nothing was written), or the output is gone for now (a closed pipe)."""
        # Rendered first, then written here: rich's own write would answer a closed pipe by exiting the process.
        with self.console.capture() as captured:
            self.console.print(renderable)
        try:
            self.console.file.write(captured.get())
            self.console.file.flush()  # a pipe or a file is block-buffered: a message shows when it is printed
        except UnicodeError as exc:
            raise Rejected("console", f"cannot print it in {getattr(exc, 'encoding', 'this')} encoding") from None
        except OSError as exc:
            raise Unavailable("console", f"cannot write to the output ({type(exc).__name__})") from None
