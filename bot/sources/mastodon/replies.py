"""What posting a reply on Mastodon takes beyond the call itself, decided here once:

- **Length**: each instance sets its own limit (`configuration.statuses.max_characters` of GET /api/v2/instance,
  500 where it says nothing), kept for LIMIT_KEPT: `Limit`. Mastodon counts characters (graphemes), every URL as 23
  and a remote mention `@user@domain` as `@user` (StatusLengthValidator): `length`.
- **Addressed**: a reply that names nobody is seen by nobody but the account's followers, and a direct one by nobody
  at all; so it starts with `@` and the mention's author (`user@domain` for a remote one) unless it names them.
- **Visibility**: the mention's own (a direct mention is answered directly; a followers-only one stays so), never
  wider: `visibility`.
- **Exactly once**: the draft's key is the Idempotency-Key, which Mastodon keeps for an hour: a retry within it gets
  the status already made instead of a second one.
- **Refusals**: a 403 "outside the authorized scopes" is a token without write:statuses (AuthFailed saying so); a 422
  is a refusal of this status (Rejected), and one about its length means the instance's limit changed: forgotten,
  so that the next `reply_limit` reads it again.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from typing import Any

import regex

from bot.errors import ServiceError
from bot.model import Draft

log = logging.getLogger(__name__)

DEFAULT_LIMIT = 500
LIMIT_KEPT = 3600.0  # seconds an instance's limit is kept before it is read again
URL_LENGTH = 23
SCOPE = "write:statuses"
NO_SCOPE = f"the access token lacks the {SCOPE} scope: make one with {SCOPE} (read alone cannot post)"
_URL = re.compile(r"https?://[^\s<>\"]+")
_REMOTE_MENTION = re.compile(r"(?<![=/\w])@(\w+(?:[\w.-]+\w)?)@[\w.-]+\w", re.IGNORECASE)
# Narrowest first: a reply is never seen by more people than the mention was.
VISIBILITIES = ("direct", "private", "unlisted", "public")


def length(text: str) -> int:
    """`text`'s length as Mastodon counts it against the instance's limit."""
    countable = _REMOTE_MENTION.sub(r"@\1", _URL.sub("." * URL_LENGTH, text))
    return len(regex.findall(r"\X", countable))


def addressed(text: str, author: str) -> str:
    """`text` as the reply to `author` (an acct: user, or user@domain) must be: starting with @author unless it names
    them already."""
    if not author:
        return text
    names = re.compile(rf"(?<![\w@/]){re.escape('@' + author)}(?![\w@-]|\.\w)", re.IGNORECASE)
    return text if names.search(text) else f"@{author} {text}"


def visibility(draft: Draft, mention: str | None) -> str:
    """The reply's visibility: direct for a direct draft, else the mention's (the narrower if unsure)."""
    if draft.direct:
        return "direct"
    if mention in VISIBILITIES:
        return mention
    return "private" if draft.mention.private else "public"


def too_long(exc: ServiceError) -> bool:
    """Whether a refusal is about the status's length (the instance's limit is not what was thought)."""
    return "character limit" in exc.message.lower() or "too long" in exc.message.lower()


def out_of_scope(exc: ServiceError) -> bool:
    """Whether a 403 says the token may not do this (Mastodon: "This action is outside the authorized scopes")."""
    return "scope" in exc.message.lower()


class Limit:
    """The instance's max_characters, read when first asked and again LIMIT_KEPT later (or once forgotten)."""

    def __init__(self, read: Callable[[], Any], clock: Callable[[], float] = time.monotonic) -> None:
        self._read = read
        self._clock = clock
        self._value: int | None = None
        self._until = 0.0

    def __call__(self) -> int:
        if self._value is not None and self._clock() < self._until:
            return self._value
        try:
            self._value = _max_characters(self._read())
        except ServiceError as exc:  # keep what was known (or the default) and ask again next time
            log.warning("Mastodon: the instance's limit could not be read (%s); counting with %s", exc.message,
                        self._value or DEFAULT_LIMIT)
            return self._value or DEFAULT_LIMIT
        self._until = self._clock() + LIMIT_KEPT
        return self._value

    def forget(self) -> None:
        self._until = 0.0


def _max_characters(instance: Any) -> int:
    """configuration.statuses.max_characters of a GET /api/v2/instance answer; DEFAULT_LIMIT where it has none."""
    try:
        value = instance["configuration"]["statuses"]["max_characters"]
    except (KeyError, TypeError, IndexError):
        return DEFAULT_LIMIT
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else DEFAULT_LIMIT
