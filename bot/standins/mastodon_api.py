"""A stand-in for a Mastodon instance's REST API (v1), answering in its documented shapes.

Ids are numeric strings: statuses get snowflakes (milliseconds << 16, as Mastodon makes them), notifications a
plain sequence. Lists come newest first with a `Link` header (`rel="next"` with max_id, `rel="prev"` with min_id)
when the page is not empty; `since_id` gives the newest page above it, `min_id` the page just above it. Content is
HTML the way Mastodon renders what a person typed: escaped, in <p>, with <br />, mention h-cards, hashtags and long
links cut with invisible spans. Every answer carries X-RateLimit-Limit/Remaining/Reset (Reset in ISO 8601): `limit`
requests per `window` per token (Mastodon's default: 300 per 5 minutes), then 429. A wrong token gets 401
`{"error": "The access token is invalid"}`. A repeated query parameter (`id[]=1&id[]=2`) reaches the routes as one
value with its values joined by commas.

`version` plays a server generation. "4.3.0" (the default) has notification policies: what an account in `filtering`
does to the token holder is *filtered* (Notification.filtered, `"filtered": true` in the JSON), left out of
GET /api/v1/notifications unless `include_filtered` is true, and grouped per account under
GET /api/v1/notifications/requests until the holder accepts (the same notifications, same ids, join the list) or
dismisses (they are deleted) the request; it also has GET /api/v1/statuses?id[]= (at most 20 ids, 422 above;
the ids it doesn't have are left out). An older version ("4.2.0") filters nothing, ignores include_filtered and
answers 404 for both endpoints.

The token holder sees every status (visibility is reported, not enforced). `paging` makes it misbehave: "repeat"
answers every list request with the newest page and the same links; "endless" adds a page of new mentions before
each notifications answer (a flood that never ends).

Posting: POST /api/v1/statuses (status, in_reply_to_id, visibility) as the token holder, answered with the status.
A request with an Idempotency-Key the holder has used before gets the status made then, not a second one (Mastodon
keeps the key an hour; here, for ever). A token without `write` or `write:statuses` in `scopes` is 403 "This action
is outside the authorized scopes"; a text longer than `max_characters` as Mastodon counts it (each URL 23, a remote
mention @user@domain as @user) is 422, as is a blank one or an unknown visibility; a reply to a status that is gone
is 404. GET /api/v2/instance tells `max_characters` (configuration.statuses). `fail_write` makes the next post fail:
a 503 before it is done, done with the answer lost, or done with the answer cut short.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal
from urllib.parse import urlencode

import regex

from bot.standins.http import Reply, Request, StandIn, WriteFault

DOMAIN = "masto.test"
LIMIT = 300
WINDOW = timedelta(minutes=5)
MANY_STATUSES = 20  # ids GET /api/v1/statuses takes at most (Api::BaseController::DEFAULT_STATUSES_LIMIT)
_FALSE = {"0", "f", "F", "false", "FALSE", "off", "OFF", ""}  # what Rails casts to false (anything else is true)
_INVALID = 'Bearer error="invalid_token", error_description="The access token is invalid"'
URL_LENGTH = 23
VISIBILITIES = ("public", "unlisted", "private", "direct")
_TOKENS = re.compile(r"(?P<url>https?://[^\s<>\"]+)|(?<![\w@])@(?P<mention>\w+(?:@[\w.-]+\w)?)|(?<![\w#])#(?P<tag>\w+)")


@dataclass
class Account:
    id: str
    username: str
    display_name: str
    domain: str | None = None  # None: local to this instance
    followers: int = 0

    @property
    def acct(self) -> str:
        return self.username if self.domain is None else f"{self.username}@{self.domain}"

    @property
    def url(self) -> str:
        return f"https://{self.domain or DOMAIN}/@{self.username}"


@dataclass
class Status:
    id: str
    account_id: str
    text: str  # as typed
    created_at: datetime
    visibility: str = "public"
    in_reply_to_id: str | None = None
    in_reply_to_account_id: str | None = None
    spoiler_text: str = ""
    edited_at: datetime | None = None
    reblog_of: str | None = None
    quote_of: str | None = None
    content: str | None = None  # raw HTML to serve instead of rendering `text` (what a remote server sent)


@dataclass
class Notification:
    id: str
    type: str
    account_id: str  # who did it
    recipient_id: str
    created_at: datetime
    status_id: str | None = None
    filtered: bool = False  # held by the recipient's notification policy (4.3+)


@dataclass
class NotificationRequest:
    """Mastodon 4.3's record of one account's filtered notifications, until the recipient accepts or dismisses it."""

    id: str
    account_id: str  # whose notifications it holds
    created_at: datetime


@dataclass
class FakeMastodon:
    token: str = "masto-test-token"
    accounts: dict[str, Account] = field(default_factory=dict)
    statuses: dict[str, Status] = field(default_factory=dict)
    notifications: dict[str, Notification] = field(default_factory=dict)
    paging: Literal["honest", "repeat", "endless"] = "honest"
    version: str = "4.3.0"
    limit: int = LIMIT
    window: timedelta = WINDOW
    filtering: set[str] = field(default_factory=set)  # account ids whose notifications the holder's policy filters
    max_characters: int = 500  # configuration.statuses.max_characters
    scopes: set[str] = field(default_factory=lambda: {"read", "write", "follow"})  # the token's

    def __post_init__(self) -> None:
        self._lock = threading.RLock()
        self._last_ms = 0
        self._seq = 0
        self._next_notification = 100_000
        self._next_request = 900_000
        self.requests: dict[str, NotificationRequest] = {}  # pending notification requests by the account they hold
        self.keys: dict[tuple[str, str], str] = {}  # (account id, Idempotency-Key) → the status it made
        self.remaining = self.limit
        self.window_reset: datetime | None = None
        self.now = lambda: datetime.now(UTC)  # tests on a fake clock replace this
        self.http = StandIn(self.handle)
        self.url = self.http.url
        self.http.join_repeated = True  # arrays come as a repeated parameter (`reasons`, `uris`, `id[]`, `types[]`)

    @property
    def policies(self) -> bool:
        """Whether this server generation has notification policies (and GET /api/v1/statuses?id[]=): 4.3 on."""
        return tuple(int(part) for part in self.version.split(".")[:2]) >= (4, 3)

    # --- the world ------------------------------------------------------------------------------------

    def add_account(self, username: str, display_name: str | None = None, domain: str | None = None, followers: int = 0) -> Account:
        account = Account(str(1_000 + len(self.accounts) + 1), username, display_name or username.title(), domain, followers)
        self.accounts[account.id] = account
        return account

    def account(self, acct: str) -> Account:
        return next(a for a in self.accounts.values() if a.acct.lower() == acct.lower().lstrip("@"))

    def _status_id(self, at: datetime) -> str:
        ms = max(int(at.timestamp() * 1000), self._last_ms)
        self._seq = self._seq + 1 if ms == self._last_ms else 0
        self._last_ms = ms
        return str((ms << 16) | self._seq)

    def _notify(self, kind: str, by: Account, to: Account, status_id: str | None = None) -> None:
        with self._lock:
            if by.id != to.id:
                self._next_notification += 1
                nid = str(self._next_notification)
                held = self.policies and by.id in self.filtering and to.id == self._holder().id
                self.notifications[nid] = Notification(nid, kind, by.id, to.id, self.now(), status_id, held)
                if held and by.id not in self.requests:
                    self._next_request += 1
                    self.requests[by.id] = NotificationRequest(str(self._next_request), by.id, self.now())

    def filter_from(self, *accounts: Account) -> None:
        """The holder's notification policy filters what these accounts do from now on (not followed, a new account, a
        private mention from a stranger: the reason is the instance's). Only a 4.3 server filters."""
        self.filtering |= {a.id for a in accounts}

    def accept(self, account: Account) -> None:
        """The holder accepts the account's notification request: its filtered notifications join the list with their
        old ids, and nothing of the account's is filtered any more."""
        with self._lock:
            self.filtering.discard(account.id)
            self.requests.pop(account.id, None)
            for n in self.notifications.values():
                if n.account_id == account.id:
                    n.filtered = False

    def dismiss(self, account: Account) -> None:
        """The holder dismisses the account's request: Mastodon deletes its filtered notifications
        (FilteredNotificationCleanupWorker); what the account does later is filtered again."""
        with self._lock:
            self.requests.pop(account.id, None)
            for nid in [n.id for n in self.notifications.values() if n.account_id == account.id and n.filtered]:
                del self.notifications[nid]

    def _holder(self) -> Account:
        """The token holder: the first account added."""
        return self.accounts[next(iter(self.accounts))]

    def post(
        self, author: Account, text: str, *, reply_to: str | None = None, visibility: str = "public",
        spoiler_text: str = "", quote: str | None = None, content: str | None = None,
    ) -> str:
        """Publish a status as `author`; the accounts it names, and the author it replies to, get a mention."""
        with self._lock:
            at = self.now()
            parent = self.statuses[reply_to] if reply_to else None
            status = Status(
                self._status_id(at), author.id, text, at, visibility, reply_to, parent.account_id if parent else None,
                spoiler_text, quote_of=quote, content=content,
            )
            self.statuses[status.id] = status
            named = {a.id for a in self._mentioned(text)} | ({parent.account_id} if parent else set())
            for account_id in sorted(named):
                self._notify("mention", author, self.accounts[account_id], status.id)
            return status.id

    def edit(self, status_id: str, text: str) -> None:
        """Mastodon edits in place: the id stays, edited_at is set, no new mention notification for those named."""
        with self._lock:
            status = self.statuses[status_id]
            status.text, status.edited_at, status.content = text, self.now(), None

    def favourite(self, by: Account, status_id: str) -> None:
        self._notify("favourite", by, self.accounts[self.statuses[status_id].account_id], status_id)

    def reblog(self, by: Account, status_id: str) -> str:
        with self._lock:
            original = self.statuses[status_id]
            boost = Status(self._status_id(self.now()), by.id, "", self.now(), reblog_of=status_id)
            self.statuses[boost.id] = boost
            self._notify("reblog", by, self.accounts[original.account_id], status_id)
            return boost.id

    def follow(self, by: Account, whom: Account) -> None:
        self._notify("follow", by, whom)

    def delete(self, status_id: str) -> None:
        """The status goes, and every notification about it."""
        with self._lock:
            del self.statuses[status_id]
            for nid in [n.id for n in self.notifications.values() if n.status_id == status_id]:
                del self.notifications[nid]
            for account_id in [a for a in self.requests if not self._held(a)]:
                del self.requests[account_id]

    def replies_to(self, status_id: str) -> list[Status]:
        """The statuses replying to `status_id`."""
        with self._lock:
            return [s for s in self.statuses.values() if s.in_reply_to_id == status_id]

    def fail_write(self, fault: WriteFault) -> None:
        """The next post fails: "unavailable" a 503 (nothing posted), "lost" posted with the answer lost, "cut"
        posted with the answer cut short."""
        self.http.fail_write("/api/v1/statuses", fault, Reply(503, {"error": "Service Unavailable"}))

    def _held(self, account_id: str) -> list[Notification]:
        """The holder's notifications from `account_id` that the policy filtered and that are still there."""
        holder = self._holder().id
        return [n for n in self.notifications.values() if n.account_id == account_id and n.recipient_id == holder and n.filtered]

    def _mentioned(self, text: str) -> list[Account]:
        named = [m.group("mention").lower() for m in _TOKENS.finditer(text) if m.group("mention")]
        return [a for a in self.accounts.values() if a.acct.lower() in named]

    # --- HTTP -----------------------------------------------------------------------------------------

    def handle(self, request: Request) -> Reply:
        with self._lock:
            if request.headers.get("authorization") != f"Bearer {self.token}":
                return self._limited(Reply(401, {"error": "The access token is invalid"}, {"WWW-Authenticate": _INVALID}))
            if self.remaining <= 0 and self.window_reset and self.now() < self.window_reset:
                return self._limited(Reply(429, {"error": "Too many requests"}))
            return self._limited(self._route(request))

    def _route(self, request: Request) -> Reply:
        path, query = request.path, request.query
        me = self._holder()
        if request.method == "POST":
            return self._post_status(request, me) if path == "/api/v1/statuses" else Reply(404, {"error": "Not Found"})
        if path.rstrip("/") == "/api/v2/instance":
            return Reply(200, self._instance())
        if path == "/api/v1/accounts/verify_credentials":
            return Reply(200, self._account(me) | {"source": {"privacy": "public", "sensitive": False, "note": ""}})
        if path == "/api/v1/accounts/lookup":
            found = next((a for a in self.accounts.values() if a.acct.lower() == query.get("acct", "").lower().lstrip("@")), None)
            return Reply(200, self._account(found)) if found else _not_found()
        if path == "/api/v1/notifications":
            if self.paging == "endless":
                flood = next((a for a in self.accounts.values() if a.id != me.id), me)
                for i in range(int(query.get("limit", 40))):
                    self.post(flood, f"@{me.acct} flood {i}")
            types = set(query["types[]"].split(",")) if "types[]" in query else None
            held = not self.policies or query.get("include_filtered", "") not in _FALSE  # before 4.3: nothing is filtered
            found = [
                n for n in self.notifications.values()
                if n.recipient_id == me.id and (types is None or n.type in types) and (held or not n.filtered)
                and query.get("account_id", n.account_id) == n.account_id
            ]
            return self._page(request, found, 40, 80, self._notification)
        if path == "/api/v1/notifications/requests" and self.policies:
            found = [r for r in self.requests.values() if self._held(r.account_id)]
            return self._page(request, found, 40, 80, self._request)
        if path == "/api/v1/statuses" and self.policies:
            ids = list(dict.fromkeys(i for i in query.get("id[]", "").split(",") if i))
            if len(ids) > MANY_STATUSES:
                return Reply(422, {"error": "Validation failed"})
            return Reply(200, [self._status(self.statuses[i]) for i in ids if i in self.statuses])
        if match := re.fullmatch(r"/api/v1/accounts/(\w+)/statuses", path):
            if match.group(1) not in self.accounts:
                return _not_found()
            found = [
                s for s in self.statuses.values()
                if s.account_id == match.group(1) and not (s.reblog_of and query.get("exclude_reblogs") in ("1", "true"))
            ]
            return self._page(request, found, 20, 40, self._status)
        if match := re.fullmatch(r"/api/v1/statuses/(\w+)(/context)?", path):
            status = self.statuses.get(match.group(1))
            if status is None:
                return _not_found()
            if not match.group(2):
                return Reply(200, self._status(status))
            ancestors = []
            while status.in_reply_to_id and (status := self.statuses.get(status.in_reply_to_id)) is not None:
                ancestors.insert(0, self._status(status))
            return Reply(200, {"ancestors": ancestors, "descendants": []})
        return Reply(404, {"error": "Not Found"})

    def _post_status(self, request: Request, me: Account) -> Reply:
        """POST /api/v1/statuses, as Api::V1::StatusesController#create and PostStatusService answer it."""
        if not self.scopes & {"write", "write:statuses"}:
            return Reply(403, {"error": "This action is outside the authorized scopes"})
        key = request.headers.get("idempotency-key")
        if key and (me.id, key) in self.keys and self.keys[(me.id, key)] in self.statuses:
            return Reply(200, self._status(self.statuses[self.keys[(me.id, key)]]))
        params = request.form()
        text, reply_to = str(params.get("status") or ""), params.get("in_reply_to_id") or None
        visibility = params.get("visibility") or "public"
        if not text.strip():
            return Reply(422, {"error": "Validation failed: Text can't be blank"})
        if visibility not in VISIBILITIES:
            return Reply(422, {"error": "Validation failed: Visibility is not included in the list"})
        if countable_length(text) > self.max_characters:
            return Reply(422, {"error": f"Validation failed: Text character limit of {self.max_characters} exceeded"})
        if reply_to is not None and reply_to not in self.statuses:
            return _not_found()
        status_id = self.post(me, text, reply_to=reply_to, visibility=visibility)
        if key:
            self.keys[(me.id, key)] = status_id
        return Reply(200, self._status(self.statuses[status_id]))

    def _instance(self) -> dict:
        """GET /api/v2/instance, the parts a client reads."""
        return {
            "domain": DOMAIN, "title": "Masto Test", "version": self.version,
            "description": "", "usage": {"users": {"active_month": len(self.accounts)}}, "languages": ["en"], "rules": [],
            "thumbnail": {"url": f"https://{DOMAIN}/thumbnail.png"},
            "registrations": {"enabled": False, "approval_required": False, "message": None},
            "contact": {"email": f"admin@{DOMAIN}", "account": None},
            "configuration": {
                "urls": {"streaming": f"wss://{DOMAIN}"},
                "accounts": {"max_featured_tags": 10},
                "statuses": {"max_characters": self.max_characters, "max_media_attachments": 4, "characters_reserved_per_url": URL_LENGTH},
                "media_attachments": {"supported_mime_types": ["image/png"], "image_size_limit": 16777216},
                "polls": {"max_options": 4, "max_characters_per_option": 50, "min_expiration": 300, "max_expiration": 2629746},
                "translation": {"enabled": False},
            },
        }

    def _page(self, request: Request, items: list, default: int, most: int, render) -> Reply:  # noqa: ANN001
        query = request.query
        items = sorted(items, key=lambda i: int(i.id), reverse=True)
        limit = min(int(query.get("limit", default)), most)
        if self.paging != "repeat":
            if "max_id" in query:
                items = [i for i in items if int(i.id) < int(query["max_id"])]
            if "since_id" in query:
                items = [i for i in items if int(i.id) > int(query["since_id"])]
            if "min_id" in query:  # the page just above min_id, still newest first
                items = [i for i in items if int(i.id) > int(query["min_id"])][-limit:]
        page = items[:limit]
        reply = Reply(200, [render(i) for i in page])
        if page:
            keep = {k: v for k, v in query.items() if k in ("limit", "types[]", "exclude_reblogs", "include_filtered", "account_id")}
            base = f"{self.url}{request.path}?"
            reply.headers["Link"] = (
                f'<{base}{urlencode({**keep, "max_id": page[-1].id})}>; rel="next", '
                f'<{base}{urlencode({**keep, "min_id": page[0].id})}>; rel="prev"'
            )
        return reply

    def _limited(self, reply: Reply) -> Reply:
        """Count the request in the window (it starts with the first request) and say so in the headers."""
        now = self.now()
        if self.window_reset is None or now >= self.window_reset:
            self.window_reset, self.remaining = now + self.window, self.limit
        self.remaining -= 1
        reply.headers.update(rate_headers(max(0, self.remaining), self.window_reset, self.limit))
        return reply

    # --- rendering ------------------------------------------------------------------------------------

    def _account(self, account: Account) -> dict:
        return {
            "id": account.id, "username": account.username, "acct": account.acct, "display_name": account.display_name,
            "locked": False, "bot": False, "discoverable": True, "group": False, "created_at": "2020-01-01T00:00:00.000Z",
            "note": "", "url": account.url, "uri": account.url, "avatar": "", "avatar_static": "", "header": "",
            "header_static": "", "followers_count": account.followers, "following_count": 0, "statuses_count": 0,
            "last_status_at": None, "emojis": [], "fields": [],
        }

    def _status(self, status: Status) -> dict:
        author = self.accounts[status.account_id]
        reblog = self.statuses.get(status.reblog_of) if status.reblog_of else None
        quoted = self.statuses.get(status.quote_of) if status.quote_of else None
        return {
            "id": status.id, "created_at": _time(status.created_at), "in_reply_to_id": status.in_reply_to_id,
            "in_reply_to_account_id": status.in_reply_to_account_id, "sensitive": bool(status.spoiler_text),
            "spoiler_text": status.spoiler_text, "visibility": status.visibility, "language": "en",
            "uri": f"https://{author.domain or DOMAIN}/users/{author.username}/statuses/{status.id}",
            "url": f"{author.url}/{status.id}", "replies_count": 0, "reblogs_count": 0, "favourites_count": 0,
            "edited_at": _time(status.edited_at) if status.edited_at else None,
            "content": status.content if status.content is not None else ("" if reblog else render_html(status.text, self)),
            "reblog": self._status(reblog) if reblog else None, "application": None, "account": self._account(author),
            "media_attachments": [], "tags": [], "emojis": [], "card": None, "poll": None,
            "mentions": [{"id": a.id, "username": a.username, "url": a.url, "acct": a.acct} for a in self._mentioned(status.text)],
            "quote": {"state": "accepted", "quoted_status": self._status(quoted)} if quoted else None,
        }

    def _notification(self, notification: Notification) -> dict:
        status = self.statuses.get(notification.status_id) if notification.status_id else None
        return {
            "id": notification.id, "type": notification.type, "created_at": _time(notification.created_at),
            "group_key": f"ungrouped-{notification.id}", "account": self._account(self.accounts[notification.account_id]),
            "status": self._status(status) if status else None,
            **({"filtered": True} if notification.filtered else {}),  # REST::NotificationSerializer: only when filtered
        }

    def _request(self, request: NotificationRequest) -> dict:
        held = sorted(self._held(request.account_id), key=lambda n: int(n.id))
        last = next((self.statuses[n.status_id] for n in reversed(held) if n.status_id in self.statuses), None)
        return {
            "id": request.id, "created_at": _time(request.created_at), "updated_at": _time(held[-1].created_at),
            "notifications_count": str(len(held)), "account": self._account(self.accounts[request.account_id]),
            "last_status": self._status(last) if last else None,
        }

    def close(self) -> None:
        self.http.close()


def rate_headers(remaining: int, reset: datetime, limit: int = LIMIT) -> dict[str, str]:
    """Mastodon's rate-limit headers: the reset as an ISO 8601 time with microseconds."""
    return {
        "X-RateLimit-Limit": str(limit),
        "X-RateLimit-Remaining": str(remaining),
        "X-RateLimit-Reset": reset.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
    }


def countable_length(text: str) -> int:
    """A status's length as StatusLengthValidator counts it: graphemes, each URL as 23, a remote mention as @user."""
    parts, last = [], 0
    for match in _TOKENS.finditer(text):
        parts.append(text[last : match.start()])
        last = match.end()
        if match.group("url"):
            parts.append("." * URL_LENGTH)
        elif match.group("mention"):
            parts.append("@" + match.group("mention").split("@")[0])
        else:
            parts.append(match.group(0))
    parts.append(text[last:])
    return len(regex.findall(r"\X", "".join(parts)))


def render_html(text: str, world: FakeMastodon) -> str:
    """What Mastodon's TextFormatter makes of what a person typed: escaped, paragraphs, <br />, links and mentions."""
    paragraphs = []
    for paragraph in re.split(r"\n\n+", text.strip()):
        paragraphs.append("<p>" + "<br />".join(_linkify(line, world) for line in paragraph.split("\n")) + "</p>")
    return "".join(paragraphs)


def _linkify(line: str, world: FakeMastodon) -> str:
    out, last = [], 0
    for match in _TOKENS.finditer(line):
        out.append(_escape(line[last : match.start()]))
        last = match.end()
        if url := match.group("url"):
            scheme, rest = url.split("://", 1)
            shown = (
                f'<span class="invisible">{_escape(scheme)}://</span><span class="ellipsis">{_escape(rest[:30])}</span>'
                f'<span class="invisible">{_escape(rest[30:])}</span>'
                if len(rest) > 30
                else f'<span class="invisible">{_escape(scheme)}://</span><span class="">{_escape(rest)}</span>'
            )
            out.append(f'<a href="{_escape(url)}" target="_blank" rel="nofollow noopener" translate="no">{shown}</a>')
        elif tag := match.group("tag"):
            out.append(f'<a href="https://{DOMAIN}/tags/{tag}" class="mention hashtag" rel="tag">#<span>{_escape(tag)}</span></a>')
        else:
            account = next((a for a in world.accounts.values() if a.acct.lower() == match.group("mention").lower()), None)
            if account is None:
                out.append(_escape(match.group(0)))
            else:
                out.append(
                    f'<span class="h-card" translate="no"><a href="{account.url}" class="u-url mention">'
                    f"@<span>{_escape(account.username)}</span></a></span>"
                )
    out.append(_escape(line[last:]))
    return "".join(out)


def _escape(text: str) -> str:
    """Rails' ERB::Util.h: & < > " '."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;").replace("'", "&#39;")


def _time(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


def _not_found() -> Reply:
    return Reply(404, {"error": "Record not found"})
