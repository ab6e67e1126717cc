"""One request to the instance through Mastodon.py: counted, its errors classified once into bot.errors, the access
token redacted before anything is cut short; and the account's rate-limit window as the answers report it, which
every request of the account shares.

- **Errors**: Mastodon.py wraps every transport failure, timeouts included, in MastodonNetworkError (the cause is
  the requests exception it came from), raises MastodonAPIError with (message, status, reason, error) for an HTTP
  error and with two strings for a body that is not JSON, and casts bodies permissively (an unreadable date becomes
  None, a wrong shape is passed through), so the shapes are checked by the callers. 404 and 410 are `Gone` (a
  Rejected outside this folder). `request_timeout` is requests' per-operation timeout (connect, then each read),
  not a deadline for the whole answer.
- **Secrets**: a server can echo the token it was sent. What a server says is redacted first and cut to SHOWN
  characters after, in error messages and log lines alike: cut first, a token across the cut would leave its first
  characters behind, which no redaction recognises.
- **Rate limits**: `ratelimit_method="throw"` (Mastodon.py's default, "wait", sleeps inside the call for up to 5
  minutes); a 429 is RateLimited until X-RateLimit-Reset, which Mastodon.py reads (ISO 8601) and corrects by the
  server's Date header. Look-ups that are not timeline reads (thread roots, deletions) ask `spare()` before each
  request and stop while the window is down to RATE_RESERVE of its limit: the mentions read is never refused for them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import mastodon
import requests

from bot.errors import AuthFailed, BadResponse, RateLimited, Rejected, ServiceError, Unavailable
from bot.logs import Redactor
from bot.model import RateInfo, Read
from bot.sources.mastodon.statuses import posts_in, valid_id
from bot.sources.meter import ReadCounter

log = logging.getLogger(__name__)

SERVICE = "Mastodon"
# The share of the window's limit that look-ups leave to the timeline reads. At Mastodon's default (300 requests per
# 5 minutes) that is 60 requests, for the at most five polls (one a minute) before the window resets: twelve a poll,
# room for the mentions, own posts and responders' posts to read a page each and a few more in a burst. A share, not
# a count, so that an instance with a tighter limit keeps the same room (12 of 60 a minute).
RATE_RESERVE = 0.2
SHOWN = 200  # characters of what a server said that an error message or a log line keeps (after redaction)
GONE = (404, 410)
NOTIFICATIONS = "/api/v1/notifications"


class Gone(Rejected):
    """404 or 410: what was asked for is not there (a deleted status, an unknown account, an endpoint this server
    lacks). Outside, a Rejected."""


class Calls:
    """The account's Mastodon.py client; `calls(what, method, ...)` makes one request the way described above."""

    def __init__(self, *, instance: str, access_token: str, timeout: float) -> None:
        self._redactor = Redactor([access_token])
        self.api = mastodon.Mastodon(
            access_token=access_token,
            api_base_url=instance.rstrip("/"),
            ratelimit_method="throw",
            request_timeout=timeout,
            version_check_mode="none",  # no /api/v1/instance request at construction
            session=_Session(),
        )
        self._reads = ReadCounter()

    def __call__(self, what: str, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """One request through Mastodon.py (counted under `what`); its errors come out as ours, without the token."""
        answer: Any = None
        try:
            answer = method(*args, **kwargs)
            return answer
        except mastodon.MastodonError as exc:
            raise self._classify(what, exc).redact(self._redactor.redact) from None
        except (TypeError, ValueError, KeyError, AttributeError) as exc:  # Mastodon.py choking on a malformed answer
            raise BadResponse(SERVICE, f"{what}: unreadable answer ({type(exc).__name__})").redact(self._redactor.redact) from None
        finally:
            self._reads.count(what, posts_in(answer))

    def entries(self, what: str, page: Any) -> list[dict]:
        """A page's items with a usable id (the others logged and passed over); a page that is not a JSON array is
        BadResponse."""
        if not self.api.session.last_is_list or not isinstance(page, list):
            raise BadResponse(SERVICE, f"{what}: the answer is not a list")
        entries = []
        for raw in page:
            if isinstance(raw, dict) and valid_id(raw.get("id")):
                entries.append(raw)
            else:
                log.warning("Mastodon %s: an entry without a usable id, passed over: %s", what, self.shown(raw))
        return entries

    def shown(self, value: Any) -> str:
        """What a log line may show of something a server sent: its repr, the token redacted, then cut to SHOWN."""
        return self._redactor.redact(repr(value))[:SHOWN]

    def spare(self) -> bool:
        """Whether a look-up may spend a request and still leave RATE_RESERVE of the window's limit: as the last
        answer said, unless its window is over (then the next answer starts a new one)."""
        api = self.api
        if api.ratelimit_reset is None or api.ratelimit_reset <= time.time():
            return True
        return api.ratelimit_remaining - 1 >= api.ratelimit_limit * RATE_RESERVE

    def rate(self) -> RateInfo | None:
        """The window as the last answer reported it (None if it did not)."""
        reset = self.api.ratelimit_reset
        if "X-RateLimit-Remaining" not in self.api.session.last_headers or reset is None:
            return None
        return RateInfo(self.api.ratelimit_limit, self.api.ratelimit_remaining, datetime.fromtimestamp(reset, UTC))

    def reads(self) -> list[Read]:
        return self._reads.take()

    def _classify(self, what: str, exc: mastodon.MastodonError) -> ServiceError:
        if isinstance(exc, mastodon.MastodonRatelimitError):
            if "calculations failed" in str(exc):  # Mastodon.py's words for an X-RateLimit-Reset it cannot read
                return BadResponse(SERVICE, f"{what}: unreadable X-RateLimit-Reset header")
            reset = self.api.ratelimit_reset
            return RateLimited(SERVICE, f"{what}: rate limited (429)", until=datetime.fromtimestamp(reset, UTC) if reset else None)
        if isinstance(exc, mastodon.MastodonNetworkError):
            if isinstance(exc.__context__, requests.Timeout):
                return Unavailable(SERVICE, f"{what}: timed out")
            return Unavailable(SERVICE, f"{what}: connection failed ({type(exc.__context__).__name__})")
        status = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], int) else None
        if status is None:
            reason = "the answer is not JSON" if isinstance(exc, mastodon.MastodonAPIError) else f"unreadable answer ({type(exc).__name__})"
            return BadResponse(SERVICE, f"{what}: {reason}")
        said = str(exc.args[3] or exc.args[2] or "") if len(exc.args) > 3 else ""
        detail = self._redactor.redact(f"{what}: HTTP {status} {said}".strip())[:SHOWN]  # redacted, then cut
        if status in (401, 403):
            return AuthFailed(SERVICE, detail)
        if status >= 500 or status == 408:
            return Unavailable(SERVICE, detail)
        return Gone(SERVICE, detail) if status in GONE else Rejected(SERVICE, detail)


class _Session(requests.Session):
    """Keeps the last answer's headers (Mastodon.py keeps the rate-limit numbers but not whether they were sent), and
    asks for filtered notifications on every notifications read (filtered.py says why; Mastodon.py 2.3's
    notifications() has no include_filtered parameter, and its pagination info is opaque)."""

    last_headers: Any = {}
    last_is_list = False  # the body was a JSON array (Mastodon.py turns an object into a list of its keys)

    def request(self, method, url, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN201
        if method == "GET" and urlsplit(url).path.endswith(NOTIFICATIONS):
            kwargs["params"] = {**(kwargs.get("params") or {}), "include_filtered": "true"}
        self.last_headers, self.last_is_list = {}, False
        response = super().request(method, url, *args, **kwargs)
        self.last_headers = response.headers
        self.last_is_list = response.content.lstrip()[:1] == b"["
        return response
