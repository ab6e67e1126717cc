"""Logging: one line per record (text or JSON), every configured secret redacted, whatever logger wrote it.

tweepy logs request headers (with `Authorization: Bearer …`) at DEBUG and requests-oauthlib logs signed
headers, so guarding our own lines is not enough: the formatter on the root handler redacts the final text of
every record, raw, URL-encoded and URL-decoded, then cuts it to MAX_MESSAGE (never before: a secret that straddled a
cut would no longer be recognised, and its first part would show), and escapes control characters so a record is
always one line. Code that logs passes text whole and lets the formatter cut.

Logs are not the only way out: a server can echo the credentials it was sent (a proxy's 401 page), and an error
message goes to the database, `status`, Slack. `Redactor` is the one implementation of redaction; the formatter
uses it, and so do the adapters on every error message they raise, and the CLI on what it prints.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from urllib.parse import quote, quote_plus, unquote, unquote_plus

REDACTED = "[redacted]"
MAX_MESSAGE = 2000  # characters of a record's message kept, cut only once every secret is out of it
_TICKET = re.compile(r"(ticket=)[^&\s\"'\\]+")  # Socket Mode's websocket URL carries a one-time credential
_ESCAPES = {i: f"\\x{i:02x}" for i in [*range(0x20), 0x7F]} | {ord("\n"): "\\n", ord("\r"): "\\r", ord("\t"): "\\t"}


def one_line(text: str) -> str:
    """Escape newlines and control characters (ANSI codes included) so text cannot forge log lines."""
    return text.translate(_ESCAPES)


class Redactor:
    """Takes secrets out of a text: raw, URL-encoded and URL-decoded, and Socket Mode's one-time `ticket=`. Matching
    ignores case, so a proxy's lower-case percent-escapes are caught too (redacting a little more is harmless).
    Values shorter than 4 characters are left alone: they would redact ordinary words."""

    def __init__(self, secrets: Iterable[str]) -> None:
        variants = {
            v for s in secrets if len(s) >= 4 for v in (s, quote(s, safe=""), quote_plus(s), unquote(s), unquote_plus(s))
        }
        longest_first = sorted(variants, key=len, reverse=True)  # a secret inside a longer form of another goes too
        self._pattern = re.compile("|".join(map(re.escape, longest_first)), re.IGNORECASE) if variants else None

    def redact(self, text: str) -> str:
        if self._pattern is not None:
            text = self._pattern.sub(REDACTED, text)
        return _TICKET.sub(rf"\1{REDACTED}", text)


class RedactingFormatter(logging.Formatter):
    def __init__(self, secrets: list[str], json_format: bool) -> None:
        super().__init__()
        self._redactor = Redactor(secrets)
        self._json = json_format

    def redact(self, text: str) -> str:
        return self._redactor.redact(text)

    def message(self, record: logging.LogRecord) -> str:
        """The record's message without secrets, then cut to MAX_MESSAGE."""
        text = self.redact(record.getMessage())
        return text if len(text) <= MAX_MESSAGE else text[:MAX_MESSAGE] + f"… ({len(text) - MAX_MESSAGE} more characters)"

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        return datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")

    def format(self, record: logging.LogRecord) -> str:
        message = self.message(record)
        if not self._json:
            line = f"{self.formatTime(record)} {record.levelname} {record.name}: {message}"
            if record.exc_info:
                line += "\n" + self.redact(self.formatException(record.exc_info))
            return one_line(line)
        entry = {
            "time": self.formatTime(record),
            "level": record.levelname,
            "logger": record.name,
            "message": message,
        }
        if record.exc_info:
            entry["exception"] = self.redact(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=True)


def configure(level: str, fmt: str, secrets: list[str]) -> None:
    """Send every logger's records through one redacting handler on stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(RedactingFormatter(secrets, json_format=fmt == "json"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("alembic").setLevel(max(logging.WARNING, root.level))
    # slack_sdk logs its own ERROR for every failed call; the adapter already reports each in one line.
    logging.getLogger("slack_sdk").setLevel(logging.DEBUG if root.level <= logging.DEBUG else logging.CRITICAL)
