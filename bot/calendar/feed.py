"""Fetching a rotation's iCal feed and keeping its last good copy (what the text means is bot.calendar.ical's job).

- **A fetch** is a GET with `requests`, following up to MAX_REDIRECTS redirects, under one total deadline
  (`timeout`, 10 s: connecting, every hop, the answer and the whole body; a server that trickles bytes is cut off at
  the deadline like one that says nothing; only the system's name look-up is outside it) and a cap on the body
  (`max_bytes`, 5 MB, counted after decompression). It is good when the answer is a 200 whose body bot.calendar.ical
  reads as a rota.
- **The last good copy** lives in memory, swapped whole into the rotation's IcalFeed (where `on_call` reads it), and
  in a cache file the caller names, written whole (a temporary file, then a rename) and readable by its owner only,
  so that a restart without network still has the rota. The cache records whose it is (a hash of the feed's address:
  the cache of an address since changed is ignored) and when it was fetched.
- **A failed fetch never empties the rota.** The copy stays, and `refresh` returns one line saying what went wrong
  and what is used instead ("…; keeping the copy fetched 2026-03-02 09:00 CET"). Before any good copy exists nobody
  is known to be on call (`on_call` says None) and the line says that instead. Never a silent empty rota.
- **No secret.** A feed's address usually holds a private token: only its host is ever shown, as "the [oncall]
  ical_url feed on calendar.example.com" (`describe`), and no error text of requests (which quotes the URL) is passed
  on, to the line or to the log. urllib3 logs each request's path at DEBUG: a filter on its loggers blanks the
  feeds' paths and queries there.
- **Transitions, not attempts, are logged**: once when fetching breaks (again if the reason changes), once when it
  recovers. After a good fetch the next is due `every` (REFRESH_EVERY) later; after a failure, RETRY_FIRST later,
  doubling with each failure in a row up to `every`.

What the wiring (bot/app/) needs, all of it:

    feeds = feed.feeds(schedule, cache_dir)   # a Feed per rotation given by ical_url; its cache: cache_dir/oncall.ics
    for f in feeds:
        f.restore(now)                        # at start, before any network: the cached copy, if there is one
    # then, in a lane of its own (a fetch may take `timeout`), on every tick:
    if f.due(now):
        problem = f.refresh(now)              # None: fetched and read; else the line (kept in f.health() too)
    f.health()                                # FeedHealth: name, problem, copy_fetched_at, failing_since, failures, …
    f.health().notice_key                     # one notice per outage: the same key from its first failure to its end
    f.people(now, now + timedelta(days=14))   # the e-mails the copy names then, to look up in Slack, and then
    f.resolve({"jane@example.com": "U01JANE"})  # so that on_call answers with the Slack user ID, not the e-mail

`refresh` reads the cache itself when `restore` was not called first. Give `refresh` the clock's time (it stamps the
copy), even where what is shown is another moment (`replywatch oncall --at`: refresh at the clock's now, then
`oncall_view.write(schedule, at, [the problem lines])`).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urljoin, urlsplit
from zoneinfo import ZoneInfo

import requests
import urllib3

from bot.calendar import ical
from bot.calendar.schedule import IcalFeed, Schedule

log = logging.getLogger(__name__)

TIMEOUT = 10.0  # seconds for the whole fetch
MAX_BYTES = 5 * 1024 * 1024
REFRESH_EVERY = timedelta(minutes=15)
RETRY_FIRST = timedelta(minutes=1)
MAX_REDIRECTS = 5
_READ = 64 * 1024  # at most this much a read; a read returns what has arrived
_HEADERS = {"Accept": "text/calendar, */*;q=0.5", "User-Agent": "replywatch (on-call rota)"}
_CACHE_MAGIC = "replywatch-ical-cache/1"


@dataclass(frozen=True)
class FeedHealth:
    """A feed's state, for health and `status`, and the key of its one notice per outage."""

    key: str  # "oncall" or "backup"
    name: str  # "the [oncall] ical_url feed on calendar.example.com": no path, no query, no token
    problem: str | None  # the line the last refresh returned; None after a good fetch, or before any attempt
    copy_fetched_at: datetime | None  # when the copy in use was fetched; None: no copy, nobody known to be on call
    failing_since: datetime | None  # the first failure of the failures in a row
    failures: int  # failed fetches in a row
    next_attempt: datetime | None  # when `due` says yes again (None: at once)

    @property
    def ok(self) -> bool:
        return self.problem is None and self.copy_fetched_at is not None

    @property
    def line(self) -> str:
        """One line for health: the problem, else whether there is a copy and from when."""
        if self.problem is not None:
            return self.problem
        if self.copy_fetched_at is None:
            return f"{self.name} has not been fetched yet; nobody is known to be on call"
        return f"{self.name} ok, fetched {self.copy_fetched_at.astimezone(UTC).strftime('%Y-%m-%d %H:%M UTC')}"

    @property
    def notice_key(self) -> str | None:
        """The same while one outage lasts, another for the next: a notice added under it is added once."""
        if self.failing_since is None:
            return None
        return f"ical-feed:{self.key}:{self.failing_since.astimezone(UTC).isoformat()}"


class _Redact(logging.Filter):
    """Blanks the feeds' paths and queries in urllib3's own log records ("GET /private/TOKEN/basic.ics" at DEBUG)."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._secrets: set[str] = set()  # the feeds' own
        self._passing: deque[str] = deque(maxlen=64)  # addresses redirected to, which may change at every fetch

    def add(self, secret: str, passing: bool) -> None:
        with self._lock:
            if secret in self._secrets or secret in self._passing:
                return
            if passing:
                self._passing.append(secret)
            else:
                self._secrets.add(secret)

    def filter(self, record: logging.LogRecord) -> bool:
        with self._lock:
            secrets = sorted({*self._secrets, *self._passing}, key=len, reverse=True)  # a path with its query first
        text = record.getMessage() if secrets else ""
        if any(secret in text for secret in secrets):
            for secret in secrets:
                text = text.replace(secret, "/[ical_url path hidden]")
            record.msg, record.args = text, None
        return True


_REDACT = _Redact()
_URLLIB3_LOGGERS = ("urllib3.connectionpool", "urllib3.util.retry")


def _hide(url: str, passing: bool = False) -> None:
    """Have urllib3's log records blank this address's path and query (the filter is installed on first use)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return
    for secret in (parts.path + (f"?{parts.query}" if parts.query else ""), parts.path):
        if secret not in ("", "/"):
            _REDACT.add(secret, passing)
    for name in _URLLIB3_LOGGERS:
        if _REDACT not in logging.getLogger(name).filters:
            logging.getLogger(name).addFilter(_REDACT)


class _Failed(Exception):
    """Why a fetch gave no good copy, in words that follow the feed's name."""


def describe(key: str, url: str) -> str:
    """How a feed is named wherever it is shown: its table and its host, never its path or query."""
    try:
        host = urlsplit(url).hostname or "an unnamed host"
    except ValueError:
        host = "an unnamed host"
    return f"the [{key}] ical_url feed on {host}"


def feeds(schedule: Schedule, cache_dir: Path | str, *, timeout: float = TIMEOUT, max_bytes: int = MAX_BYTES) -> list[Feed]:
    """A Feed for each rotation the file gives as an iCal feed, its cache `cache_dir`/<key>.ics (oncall.ics, backup.ics)."""
    return [Feed(key, source, schedule.tz, Path(cache_dir) / f"{key}.ics", timeout=timeout, max_bytes=max_bytes)
            for key, source in schedule.feeds()]


class Feed:
    """One rotation's feed: fetched by `refresh`, its last good copy swapped into `source` and kept in `cache`."""

    def __init__(
        self, key: str, source: IcalFeed, tz: ZoneInfo, cache: Path | None, *, timeout: float = TIMEOUT,
        max_bytes: int = MAX_BYTES, every: timedelta = REFRESH_EVERY, session: requests.Session | None = None,
    ) -> None:
        self.key, self.source, self.tz, self.cache = key, source, tz, cache
        self.timeout, self.max_bytes, self.every = timeout, max_bytes, every
        self.name = describe(key, source.url)
        _hide(source.url)
        self._session = session or requests.Session()
        self._fingerprint = hashlib.sha256(source.url.encode()).hexdigest()[:32]
        self._lock = threading.Lock()
        self._restored = False
        self._fetched_at: datetime | None = None
        self._problem: str | None = None
        self._reason: str | None = None
        self._failing_since: datetime | None = None
        self._failures = 0
        self._next: datetime | None = None
        self._cache_failed = False

    def due(self, now: datetime) -> bool:
        """Whether to refresh now: at once at first, then as the module docstring says."""
        with self._lock:
            return self._next is None or now >= self._next

    def health(self) -> FeedHealth:
        """The feed's state now, for health, `status` and the notice."""
        with self._lock:
            return FeedHealth(self.key, self.name, self._problem, self._fetched_at if self.source.copy is not None else None,
                              self._failing_since, self._failures, self._next)

    def people(self, start: datetime, end: datetime) -> list[str]:
        """The e-mails the copy names from `start` to `end`; none without a copy."""
        copy = self.source.copy
        return copy.people(start, end) if copy is not None else []

    def resolve(self, users: Mapping[str, str]) -> None:
        """Add e-mail → Slack user ID look-ups: from now on `on_call` answers with the ID for those e-mails."""
        with self._lock:
            self.source.users = {**self.source.users, **users}

    def restore(self, now: datetime) -> bool:
        """Take the cached copy when there is no copy in memory yet; True if one was taken. An unreadable cache is
        logged and left alone (the next good fetch replaces it)."""
        self._restored = True
        if self.cache is None or self.source.copy is not None:
            return False
        try:
            raw = self.cache.read_bytes()
        except FileNotFoundError:
            return False
        except OSError as exc:
            log.warning("%s: cannot read its cache %s (%s)", self.name, self.cache, exc.strerror or type(exc).__name__)
            return False
        header, _, body = raw.partition(b"\n")
        fields = header.decode("ascii", "replace").split(" ")
        if len(fields) != 3 or fields[0] != _CACHE_MAGIC or fields[1] != self._fingerprint:
            log.warning("%s: its cache %s is of another feed or another format; not used", self.name, self.cache)
            return False
        try:
            fetched = datetime.fromisoformat(fields[2])
            rota = ical.parse(body, self.tz, now)
        except ValueError as exc:  # FeedError is a ValueError
            log.warning("%s: its cache %s cannot be read (%s); not used", self.name, self.cache, exc)
            return False
        with self._lock:
            if self.source.copy is not None:  # a refresh got there first
                return False
            self.source.copy, self._fetched_at = rota, fetched
        log.info("%s: using the copy fetched %s, from its cache, until it is fetched again", self.name, _when(fetched, self.tz))
        return True

    def refresh(self, now: datetime) -> str | None:
        """Fetch the feed; None when a good copy was fetched, else one line saying why not and what is used instead."""
        if not self._restored:
            self.restore(now)
        try:
            body = self._fetch()
            rota = ical.parse(body, self.tz, now)
        except (_Failed, ical.FeedError) as exc:
            return self._failed(now, str(exc))
        with self._lock:
            self.source.copy, self._fetched_at = rota, now
            recovered = self._failing_since is not None
            self._problem = self._reason = self._failing_since = None
            self._failures = 0
            self._next = now + self.every
        if recovered:
            log.info("%s fetched again; who is on call is read from it", self.name)
        self._save(body, now)
        return None

    def _failed(self, now: datetime, reason: str) -> str:
        with self._lock:
            self._failures += 1
            self._failing_since = self._failing_since or now
            if self.source.copy is not None and self._fetched_at is not None:
                line = f"{self.name} {reason}; keeping the copy fetched {_when(self._fetched_at, self.tz)}"
            else:
                line = f"{self.name} {reason}; nobody is known to be on call until it is fetched"
            changed, self._problem, self._reason = reason != self._reason, line, reason
            self._next = now + min(self.every, RETRY_FIRST * 2 ** min(self._failures - 1, 20))
        if changed:
            log.warning("%s", line)
        return line

    def _fetch(self) -> bytes:
        """The body of a 200, within the deadline and the cap; _Failed saying why not. Redirects are followed here,
        not by requests, so that every hop shares the one deadline and every address on the way is kept out of logs."""
        late = f"did not answer within {self.timeout:g} s"
        deadline = time.monotonic() + self.timeout
        url = self.source.url
        try:
            for _ in range(MAX_REDIRECTS + 1):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise _Failed(late)
                answer = self._session.get(url, stream=True, timeout=urllib3.Timeout(total=left), headers=_HEADERS,
                                           allow_redirects=False)
                with answer:
                    if answer.is_redirect:
                        url = urljoin(url, answer.headers["location"])
                        _hide(url, passing=True)
                        continue
                    if answer.status_code != 200:
                        raise _Failed(_status(answer.status_code))
                    declared = answer.headers.get("content-length", "")
                    if declared.isdigit() and int(declared) > self.max_bytes:
                        raise _Failed(self._too_big())
                    return self._read(answer, deadline, late)
            raise _Failed(f"redirected more than {MAX_REDIRECTS} times")
        except requests.Timeout:
            raise _Failed(late) from None
        except requests.exceptions.SSLError:
            raise _Failed("failed the check of its TLS certificate") from None
        except requests.ConnectionError:
            raise _Failed("could not be reached (no such host, or the connection was refused or cut)") from None
        except requests.RequestException as exc:
            raise _Failed(f"could not be fetched ({type(exc).__name__})") from None

    def _read(self, answer: requests.Response, deadline: float, late: str) -> bytes:
        """The body, read as it arrives; each wait on the socket no longer than what is left of the deadline."""
        chunks, size = [], 0
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise _Failed(late)
                connection = answer.raw.connection
                if connection is not None and connection.sock is not None:
                    connection.sock.settimeout(left)
                chunk = answer.raw.read1(_READ, decode_content=True)
                if not chunk:
                    return b"".join(chunks)
                size += len(chunk)
                if size > self.max_bytes:
                    raise _Failed(self._too_big())
                chunks.append(chunk)
        except (urllib3.exceptions.ReadTimeoutError, TimeoutError):
            raise _Failed(late) from None
        except (urllib3.exceptions.HTTPError, requests.RequestException, OSError) as exc:
            raise _Failed(f"broke off while sending ({type(exc).__name__})") from None

    def _too_big(self) -> str:
        mb = self.max_bytes / 1024 / 1024
        return f"is larger than {mb:g} MB" if mb >= 1 else f"is larger than {self.max_bytes / 1024:g} KB"

    def _save(self, body: bytes, now: datetime) -> None:
        """Write the copy to the cache whole, readable by its owner only. A failure is logged once, not raised."""
        if self.cache is None:
            return
        temporary = self.cache.with_name(f".{self.cache.name}.{os.getpid()}.tmp")
        try:
            self.cache.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(f"{_CACHE_MAGIC} {self._fingerprint} {now.astimezone(UTC).isoformat()}\n".encode("ascii"))
                out.write(body)
            os.replace(temporary, self.cache)
        except OSError as exc:
            with contextlib.suppress(OSError):
                temporary.unlink(missing_ok=True)
            if not self._cache_failed:
                log.warning("%s: cannot write its cache %s (%s); a restart without network will know nobody on call",
                            self.name, self.cache, exc.strerror or type(exc).__name__)
            self._cache_failed = True
            return
        if self._cache_failed:
            log.info("%s: its cache %s is written again", self.name, self.cache)
        self._cache_failed = False


def _status(code: int) -> str:
    if code in (401, 403):
        return f"was refused (HTTP {code}): its private address may have been reset"
    if code in (404, 410):
        return f"was not found (HTTP {code})"
    if code == 429:
        return "is rate limited (HTTP 429)"
    if code >= 500:
        return f"is failing at the server (HTTP {code})"
    return f"answered HTTP {code}"


def _when(moment: datetime, tz: ZoneInfo) -> str:
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z")
