"""The Mastodon adapter: Mastodon.py's client on the account's instance, statuses translated into `Post`s once, here.

What is Mastodon's and stays here:

- **Mentions are notifications** of type `mention` (a reply to the account's post is one too); the cursor is the
  newest *notification* id read, and `posts()`'s cursor the newest status id. A read with a cursor pages *up* from
  it with `min_id` (each page the statuses just above the last, Mastodon's `rel="prev"` link): a read stopped by its
  page budget resumes exactly there next time and loses nothing. (`since_id` would page down from the newest, and
  Mastodon's `rel="next"` link, like Mastodon.py's fetch_next, drops it: a stopped read would leave a hole.) A read
  without a cursor pages down (`max_id`) until it is older than `since`.
- **Content is HTML**: `text.status_text` makes it the typed text once; the content warning goes in front.
- **Direct (and followers-only) statuses are private**: their text must not be shown in a channel.
- **No thread ids**: `conversation_id` is the thread's first post. A status that replies to nothing is its own
  root; a reply's root is its parent's when this adapter has seen the parent, else one
  `GET /api/v1/statuses/:id/context` (`ancestors[0]`). Cost: at most one request per reply whose parent is new to
  the adapter (the account's own replies mostly answer mentions already seen, so they cost nothing), at most
  LOOKUPS_PER_READ per read, none while fewer than RATE_RESERVE requests are left in the window (300 per 5 minutes
  per account): the timeline reads come first. A look-up that fails or is skipped leaves conversation_id None
  (the mention can still be answered by a direct reply); it never fails the read.
- **Edits keep the id** (`edited_at` changes): version_id stays None.
- **Rate limits**: `ratelimit_method="throw"` (Mastodon.py's default, "wait", sleeps inside the call for up to 5
  minutes); a 429 is RateLimited until X-RateLimit-Reset, which Mastodon.py reads (ISO 8601) and corrects by the
  server's Date header. `deleted()` costs one request per id.
- **Errors**: Mastodon.py wraps every transport failure, timeouts included, in MastodonNetworkError (the cause is
  the requests exception it came from), raises MastodonAPIError with (message, status, reason, error) for an HTTP
  error and with two strings for a body that is not JSON, and casts bodies permissively (an unreadable date
  becomes None, a wrong shape is passed through), so the shapes are checked here. `request_timeout` is requests'
  per-operation timeout (connect, then each read), not a deadline for the whole answer.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import mastodon
import requests

from bot.errors import AuthFailed, BadResponse, RateLimited, Rejected, ServiceError, Unavailable, UnknownAccount
from bot.logs import Redactor
from bot.model import Account, Network, Post, RateInfo, Read, Timeline
from bot.sources.mastodon.statuses import order, parse_post, posts_in, valid_id
from bot.sources.meter import ReadCounter

log = logging.getLogger(__name__)

SERVICE = "Mastodon"
# Pages per read: 80 notifications (Mastodon's most) or 40 statuses a page. Ten pages are 800 mentions or 400 posts
# in one poll; a flood beyond that is read over the next polls (a read with a cursor resumes where it stopped).
MENTION_PAGE, POST_PAGE, PAGES = 80, 40, 10
LOOKUPS_PER_READ = 20  # thread-root look-ups (one request each) in one read
RATE_RESERVE = 30  # requests left in the window below which root look-ups are skipped
ROOTS_KEPT = 10_000  # status id → thread root, least recently used dropped first
GONE = (404, 410)


class MastodonSource:
    network = Network.MASTODON

    def __init__(self, *, instance: str, handle: str, access_token: str, timeout: float) -> None:
        self.handle = handle.strip().lstrip("@")
        self._redactor = Redactor([access_token])
        self._api = mastodon.Mastodon(
            access_token=access_token,
            api_base_url=instance.rstrip("/"),
            ratelimit_method="throw",
            request_timeout=timeout,
            version_check_mode="none",  # no /api/v1/instance request at construction
            session=_Session(),
        )
        self._me: Account | None = None
        self._roots: OrderedDict[str, str | None] = OrderedDict()
        self._lookups = 0
        self._reads = ReadCounter()

    # --- Source -----------------------------------------------------------------------------------------

    def account(self) -> Account:
        """The account the token belongs to, once; AuthFailed if it is not the configured handle."""
        if self._me is None:
            raw = self._call("verify credentials", self._api.account_verify_credentials)
            me = _account(raw)
            if me is None:
                raise BadResponse(SERVICE, "verify credentials: no account id in the answer")
            if me.username.split("@")[0].lower() != self.handle.split("@")[0].lower():
                raise AuthFailed(SERVICE, f"the access token belongs to @{me.username}, not @{self.handle}")
            self._me = me
        return self._me

    def lookup(self, handle: str) -> Account:
        """An account the instance knows (local, or remote and already seen there); UnknownAccount if none."""
        try:
            raw = self._call("account lookup", self._api.account_lookup, handle.strip().lstrip("@"))
        except _Gone:
            raise UnknownAccount(SERVICE, f"no account @{handle.strip().lstrip('@')} known to the instance") from None
        found = _account(raw)
        if found is None:
            raise BadResponse(SERVICE, "account lookup: no account id in the answer")
        return found

    def mentions(self, cursor: str | None, since: datetime) -> Timeline:
        """Mention notifications newer than `cursor` (a notification id) or, with none, since `since`."""
        # Only "mention": Mastodon 4.5's "quote" notifications are not read yet (a quote that names the account is
        # a mention anyway); the stand-in's query keeps one value of types[] (bot/standins/http.py).
        return self._read("mentions", self._api.notifications, cursor, since, MENTION_PAGE, _mention, types=["mention"])

    def posts(self, who: Account, cursor: str | None, since: datetime) -> Timeline:
        """`who`'s statuses, replies included and boosts left out, newer than `cursor` (a status id) or since `since`."""
        return self._read(
            "posts", self._api.account_statuses, cursor, since, POST_PAGE, _own, who.id, exclude_reblogs=True,
        )

    def deleted(self, post_ids: Sequence[str]) -> set[str]:
        """The ids Mastodon answers 404 (or 410) for: one request each."""
        gone = set()
        for post_id in dict.fromkeys(post_ids):
            if not valid_id(post_id):
                continue  # never ours: it would not make a path of one segment
            try:
                self._call("status", self._api.status, post_id)
            except _Gone:
                gone.add(post_id)
        return gone

    # --- reading ----------------------------------------------------------------------------------------

    def _read(self, what, method, cursor, since, size, unwrap, *args, **params) -> Timeline:  # noqa: ANN001, ANN002, ANN003
        """Every item newer than `cursor` (paging up from it) or, with none, since `since` (paging down)."""
        self._lookups = 0
        if cursor is not None and not valid_id(cursor):
            log.warning("Mastodon %s: the stored cursor %.40r is not an id; reading since %s instead", what, cursor, since)
            cursor = None
        found, complete = self._fetch(what, method, cursor, since, size, *args, **params)
        items = {str(r["id"]): r for r in found if cursor is None or order(r["id"]) > order(cursor)}  # a server ignoring min_id
        posts = []
        for raw in sorted(items.values(), key=lambda r: order(r["id"]), reverse=True):
            status, created_at = unwrap(raw)
            if status is None or (cursor is None and isinstance(created_at, datetime) and _utc(created_at) < since):
                continue
            post = self._post(status)
            if post is not None:
                posts.append(post)
        newest = max(items, key=order, default=cursor)  # past the statuses passed over too: they are not read again
        return Timeline(posts=posts, cursor=newest, rate=self._rate(), complete=complete)

    def _fetch(self, what, method, cursor, since, size, *args, **params) -> tuple[list[dict], bool]:  # noqa: ANN001, ANN002, ANN003
        """The items of up to PAGES pages, up from `cursor` or down from the newest until older than `since`; and
        False when the page budget ended the read, or the server sent a page that did not move."""
        up = cursor is not None
        page = self._call(what, method, *args, limit=size, **({"min_id": cursor} if up else {}), **params)
        found: list[dict] = []
        edge = cursor
        for number in range(1, PAGES + 1):
            entries = _entries(what, page, self._api.session.last_is_list)
            found += entries
            if len(page) < size:
                return found, True  # a short page is the last (anything newer is read next time, from the new cursor)
            ids = sorted((r["id"] for r in entries), key=order)
            if edge is not None and (order(ids[-1]) <= order(edge) if up else order(ids[0]) >= order(edge)):
                log.warning("Mastodon %s: the server sent a page already read; stopped after %d pages", what, number)
                return found, False
            edge = ids[-1] if up else ids[0]
            oldest = min(entries, key=lambda r: order(r["id"])).get("created_at")
            link = getattr(page, "_pagination_prev" if up else "_pagination_next", None)
            if not link or (not up and isinstance(oldest, datetime) and _utc(oldest) < since):
                return found, True
            if number < PAGES:
                page = self._call(what, self._api.fetch_previous if up else self._api.fetch_next, page)
        log.warning("Mastodon %s: still more after %d pages, the page budget of one read; the rest comes next read", what, PAGES)
        return found, False

    def _post(self, status: dict) -> Post | None:
        post = parse_post(status, self._root)
        if post is None:
            log.warning("Mastodon sent a status without a usable id, author, time or content, passed over: %.200r", status)
        return post

    def _root(self, status_id: str, parent_id: str | None) -> str | None:
        """The first post of the thread `status_id` is in (see the module docstring for what it costs)."""
        if parent_id is None:
            root: str | None = status_id
        elif parent_id in self._roots:
            root = self._roots[parent_id]
        elif status_id in self._roots:
            root = self._roots[status_id]
        elif self._lookups >= LOOKUPS_PER_READ or self._api.ratelimit_remaining < RATE_RESERVE:
            return None  # not remembered: a later read may look it up
        else:
            self._lookups += 1
            try:
                context = self._call("thread", self._api.status_context, status_id)
                ancestors = context.get("ancestors") if isinstance(context, dict) else None
                first = ancestors[0] if isinstance(ancestors, list) and ancestors else None
                root = str(first["id"]) if isinstance(first, dict) and valid_id(first.get("id")) else None
            except ServiceError as exc:
                self._lookups = LOOKUPS_PER_READ  # no more this read: each would wait for the same failure
                log.warning("Mastodon: the thread of status %s could not be read (%s); its conversation is unknown", status_id, exc)
                return None
        self._roots[status_id] = root
        self._roots.move_to_end(status_id)
        while len(self._roots) > ROOTS_KEPT:
            self._roots.popitem(last=False)
        return root

    def _rate(self) -> RateInfo | None:
        headers = self._api.session.last_headers
        reset = self._api.ratelimit_reset
        if "X-RateLimit-Remaining" not in headers or reset is None:
            return None
        return RateInfo(self._api.ratelimit_limit, self._api.ratelimit_remaining, datetime.fromtimestamp(reset, UTC))

    def reads(self) -> list[Read]:
        return self._reads.take()

    # --- calls and errors -------------------------------------------------------------------------------

    def _call(self, what: str, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """One request through Mastodon.py (counted); its errors come out as ours, with the token redacted."""
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

    def _classify(self, what: str, exc: mastodon.MastodonError) -> ServiceError:
        if isinstance(exc, mastodon.MastodonRatelimitError):
            if "calculations failed" in str(exc):  # Mastodon.py's words for an X-RateLimit-Reset it cannot read
                return BadResponse(SERVICE, f"{what}: unreadable X-RateLimit-Reset header")
            reset = self._api.ratelimit_reset
            return RateLimited(SERVICE, f"{what}: rate limited (429)", until=datetime.fromtimestamp(reset, UTC) if reset else None)
        if isinstance(exc, mastodon.MastodonNetworkError):
            if isinstance(exc.__context__, requests.Timeout):
                return Unavailable(SERVICE, f"{what}: timed out")
            return Unavailable(SERVICE, f"{what}: connection failed ({type(exc.__context__).__name__})")
        status = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], int) else None
        if status is None:
            reason = "the answer is not JSON" if isinstance(exc, mastodon.MastodonAPIError) else f"unreadable answer ({type(exc).__name__})"
            return BadResponse(SERVICE, f"{what}: {reason}")
        detail = f"{what}: HTTP {status} {str(exc.args[3] or exc.args[2] or '') if len(exc.args) > 3 else ''}".strip()[:200]
        if status in (401, 403):
            return AuthFailed(SERVICE, detail)
        if status >= 500 or status == 408:
            return Unavailable(SERVICE, detail)
        return _Gone(SERVICE, detail) if status in GONE else Rejected(SERVICE, detail)


class _Gone(Rejected):
    """404 or 410: what was asked for is not there (a deleted status, an unknown account). Outside, a Rejected."""


class _Session(requests.Session):
    """Keeps the last answer's headers: Mastodon.py keeps the rate-limit numbers but not whether they were sent."""

    last_headers: Any = {}
    last_is_list = False  # the body was a JSON array (Mastodon.py turns an object into a list of its keys)

    def request(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN201
        self.last_headers, self.last_is_list = {}, False
        response = super().request(*args, **kwargs)
        self.last_headers = response.headers
        self.last_is_list = response.content.lstrip()[:1] == b"["
        return response


def _entries(what: str, page: Any, is_list: bool) -> list[dict]:
    """A page's items with a usable id; a page that is not a JSON array is BadResponse."""
    if not is_list or not isinstance(page, list):
        raise BadResponse(SERVICE, f"{what}: the answer is not a list")
    entries = []
    for raw in page:
        if isinstance(raw, dict) and valid_id(raw.get("id")):
            entries.append(raw)
        else:
            log.warning("Mastodon %s: an entry without a usable id, passed over: %.200r", what, raw)
    return entries


def _mention(notification: dict) -> tuple[dict | None, Any]:
    """The status a mention notification is about (None for any other type a server sends anyway)."""
    status = notification.get("status")
    if notification.get("type") != "mention" or not isinstance(status, dict):
        return None, notification.get("created_at")
    return status, notification.get("created_at")


def _own(status: dict) -> tuple[dict | None, Any]:
    """A status of the account's own (None for a boost, from a server that ignores exclude_reblogs)."""
    return (None if status.get("reblog") else status), status.get("created_at")


def _account(raw: Any) -> Account | None:
    if not isinstance(raw, dict) or not valid_id(raw.get("id")):
        return None
    return Account(id=str(raw["id"]), username=str(raw.get("acct") or raw.get("username") or ""), name=str(raw.get("display_name") or ""))


def _utc(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
