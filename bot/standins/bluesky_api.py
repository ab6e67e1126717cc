"""A stand-in for a Bluesky PDS (with its AppView), answering XRPC in the documented shapes.

Sessions as bot.standins.bluesky_sessions issues and checks them. Errors are XRPC bodies `{"error", "message"}`;
`ratelimit-*` headers on every answer and 429 RateLimitExceeded once the window is spent.

The world: users (did:plc:…), posts (records with facets, reply refs and quote embeds), likes, reposts, follows, each
producing the notifications the AppView gives their recipients (mention, then quote, then reply, one per recipient
per post, as the AppView dedupes; like, repost, follow), and deletion (the post and its notifications gone).

`paging = "endless"`: every listNotifications answer carries a fresh cursor, past the last page too.

Writing: com.atproto.repo.createRecord of an app.bsky.feed.post in the caller's own repo (answered {uri, cid, commit,
validationStatus}), under the record key given (a TID) or a new one; the post then notifies as any other and is in
the author's feed. A record key already used is answered with a bare 500 InternalServerError, as the reference PDS
does (atproto#3718); a text over 300 graphemes is 400 InvalidRecord. com.atproto.repo.getRecord reads a record back
(400 RecordNotFound when there is none). `gate(uri)` closes the thread of a post to replies from anyone but its
author: getPosts then shows `viewer.replyDisabled` to the others (unless `show_gates` is off, as an AppView lagging
behind), and a reply into it is refused (403 ReplyNotAllowed). `fail_write` makes the next createRecord fail: a bare
500 before it is done, done with the answer lost, or done with the answer cut short.
"""

from __future__ import annotations

import hashlib
import itertools
import re
import threading
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import regex

from bot.standins.bluesky_sessions import ACCESS_TTL, Sessions, error
from bot.standins.http import Reply, Request, StandIn, WriteFault

_B32 = "abcdefghijklmnopqrstuvwxyz234567"
_TID = re.compile(r"[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}")
POST = "app.bsky.feed.post"
GRAPHEMES = 300


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


@dataclass
class User:
    did: str
    handle: str
    display_name: str
    followers: int = 0
    password: str | None = None

    def view(self) -> dict:
        return {"did": self.did, "handle": self.handle, "displayName": self.display_name, "labels": []}


@dataclass
class Record:
    uri: str
    cid: str
    author: str  # DID
    value: dict
    indexed_at: datetime


@dataclass
class Notification:
    recipient: str
    reason: str
    record: Record
    subject: str | None = None

    def view(self, users: dict[str, User]) -> dict:
        return {
            "uri": self.record.uri,
            "cid": self.record.cid,
            "author": users[self.record.author].view(),
            "reason": self.reason,
            **({"reasonSubject": self.subject} if self.subject else {}),
            "record": self.record.value,
            "isRead": False,
            "indexedAt": _iso(self.record.indexed_at),
            "labels": [],
        }


class FakeBluesky(Sessions):
    def __init__(self) -> None:
        self.users: dict[str, User] = {}
        self.records: dict[str, Record] = {}  # every record by uri: posts, likes, reposts, follows
        self.notifications: list[Notification] = []
        self._init_sessions()
        self.calls: Counter[str] = Counter()  # per XRPC method
        self.limit = 3000  # requests per window, as bsky.social allows per IP per 5 min
        self.window = timedelta(minutes=5)
        self.remaining = self.limit
        self.window_reset: datetime | None = None
        self.paging: Literal["honest", "endless"] = "honest"
        self.gates: set[str] = set()  # roots of threads closed to replies (but their author's)
        self.show_gates = True
        self.access_ttl = ACCESS_TTL
        self.now = lambda: datetime.now(UTC)  # tests on a fake clock replace this
        self._rkeys = itertools.count(1)
        self._lock = threading.RLock()
        self.http = StandIn(self.handle)
        self.http.join_repeated = True  # arrays come as a repeated parameter (`reasons`, `uris`, `id[]`, `types[]`)
        self.url = self.http.url

    # --- the world ------------------------------------------------------------------------------------

    def add_user(self, handle: str, name: str | None = None, followers: int = 0, password: str | None = None) -> User:
        did = "did:plc:" + "".join(_B32[b % 32] for b in hashlib.sha256(handle.encode()).digest()[:24])
        user = User(did, handle, name or handle.split(".")[0].title(), followers, password)
        self.users[did] = user
        return user

    def user(self, handle_or_did: str) -> User:
        name = handle_or_did.lstrip("@").lower()
        return next(u for u in self.users.values() if name in (u.did, u.handle.lower()))

    def _record(self, author: User, collection: str, value: dict, at: datetime | None, rkey: str | None = None) -> Record:
        rkey = rkey or f"3l{next(self._rkeys):011d}"  # TID-like: later records get larger keys
        uri = f"at://{author.did}/{collection}/{rkey}"
        at = at or self.now()
        at = at.replace(microsecond=at.microsecond // 1000 * 1000)  # the AppView keeps milliseconds
        record = Record(uri, "bafyrei" + hashlib.sha256(uri.encode()).hexdigest()[:52], author.did, value, at)
        self.records[uri] = record
        return record

    def _ref(self, uri: str) -> dict:
        return {"uri": uri, "cid": self.records[uri].cid}

    def post(
        self,
        author: User,
        text: str,
        *,
        mentions: tuple[User, ...] = (),
        reply_to: str | None = None,
        quote: str | None = None,
        at: datetime | None = None,
        created_at: str | None = None,
    ) -> str:
        """Publish a post as `author` (text as typed, a mention facet for each of `mentions`); returns its at-URI."""
        with self._lock:
            now = at or self.now()
            value: dict[str, Any] = {"$type": "app.bsky.feed.post", "text": text, "createdAt": created_at or _iso(now), "langs": ["en"]}
            facets = []
            for who in mentions:
                start = text.encode().find(f"@{who.handle.split('.')[0]}".encode())
                start = max(start, 0)
                facets.append({
                    "index": {"byteStart": start, "byteEnd": start + len(who.handle.split(".")[0]) + 1},
                    "features": [{"$type": "app.bsky.richtext.facet#mention", "did": who.did}],
                })
            if facets:
                value["facets"] = facets
            if reply_to is not None:
                value["reply"] = {"root": self._ref(self._root(reply_to)), "parent": self._ref(reply_to)}
            if quote is not None:
                value["embed"] = {"$type": "app.bsky.embed.record", "record": self._ref(quote)}
            return self._publish(author, value, now).uri

    def _root(self, uri: str) -> str:
        """The first post of the thread the post `uri` is in."""
        return self.records[uri].value.get("reply", {}).get("root", {}).get("uri", uri)

    def _publish(self, author: User, value: dict, at: datetime | None, rkey: str | None = None) -> Record:
        """Store a post record and notify whom it concerns: in the AppView's order and dedupe, those its mention
        facets name, then the quoted post's author, then the thread's authors (parent, root)."""
        record = self._record(author, POST, value, at, rkey)
        targets = [
            ("mention", feature.get("did"))
            for facet in value.get("facets") or [] for feature in facet.get("features") or []
            if feature.get("$type") == "app.bsky.richtext.facet#mention"
        ]
        quoted = (value.get("embed") or {}).get("record", {}).get("uri")
        if quoted in self.records:
            targets.append(("quote", self.records[quoted].author))
        for ref in ("parent", "root"):
            uri = (value.get("reply") or {}).get(ref, {}).get("uri")
            if uri in self.records:
                targets.append(("reply", self.records[uri].author))
        notified = {author.did}
        for reason, did in targets:
            if did not in notified and did in self.users:
                notified.add(did)
                self.notifications.append(Notification(did, reason, record))
        return record

    def gate(self, uri: str) -> None:
        """The thread of `uri` takes replies from its root's author only (a threadgate allowing no one else)."""
        with self._lock:
            self.gates.add(self._root(uri))

    def replies_to(self, uri: str) -> list[Record]:
        """The posts replying to `uri`."""
        with self._lock:
            return [r for r in self.records.values() if (r.value.get("reply") or {}).get("parent", {}).get("uri") == uri]

    def fail_write(self, fault: WriteFault) -> None:
        """The next createRecord fails: "unavailable" a bare 500 (nothing made), "lost" made with the answer lost,
        "cut" made with the answer cut short."""
        self.http.fail_write("com.atproto.repo.createRecord", fault, error(500, "InternalServerError", "Internal Server Error"))

    def _closed(self, uri: str, did: str) -> bool:
        """Whether a thread gate keeps `did` from replying to `uri`."""
        root = self._root(uri) if uri in self.records else uri
        return root in self.gates and root in self.records and self.records[root].author != did

    def like(self, who: User, uri: str) -> None:
        self._interact(who, "app.bsky.feed.like", "like", uri)

    def repost(self, who: User, uri: str) -> None:
        self._interact(who, "app.bsky.feed.repost", "repost", uri)

    def _interact(self, who: User, collection: str, reason: str, uri: str) -> None:
        with self._lock:
            value = {"$type": collection, "subject": self._ref(uri), "createdAt": _iso(self.now())}
            record = self._record(who, collection, value, None)
            self.notifications.append(Notification(self.records[uri].author, reason, record, subject=uri))

    def follow(self, who: User, whom: User) -> None:
        with self._lock:
            value = {"$type": "app.bsky.graph.follow", "subject": whom.did, "createdAt": _iso(self.now())}
            record = self._record(who, "app.bsky.graph.follow", value, None)
            whom.followers += 1
            self.notifications.append(Notification(whom.did, "follow", record))

    def delete(self, uri: str) -> None:
        """Delete a record: it is gone from every view, its notifications too."""
        with self._lock:
            self.records.pop(uri, None)
            self.notifications = [n for n in self.notifications if n.record.uri != uri]

    # --- XRPC -----------------------------------------------------------------------------------------

    def handle(self, request: Request) -> Reply:
        with self._lock:
            method = request.path.removeprefix("/xrpc/")
            self.calls[method] = self.calls[method] + 1
            now = self.now()
            if self.window_reset is None or now >= self.window_reset:
                self.window_reset, self.remaining = now + self.window, self.limit
            headers = {
                "ratelimit-limit": str(self.limit),
                "ratelimit-remaining": str(max(self.remaining - 1, 0)),
                "ratelimit-reset": str(int(self.window_reset.timestamp())),
                "ratelimit-policy": f"{self.limit};w={int(self.window.total_seconds())}",
            }
            if self.remaining <= 0:
                reply = error(429, "RateLimitExceeded", "Rate Limit Exceeded")
            else:
                self.remaining -= 1
                reply = self._route(method, request)
            reply.headers = {**headers, **reply.headers}
            return reply

    def _route(self, method: str, request: Request) -> Reply:
        if method == "com.atproto.server.createSession":
            return self._create_session(request)
        if method == "com.atproto.server.refreshSession":
            return self._refresh_session(request)
        if method == "com.atproto.repo.createRecord" and request.method == "POST":
            token = self._bearer(request, "com.atproto.access")
            return token if isinstance(token, Reply) else self._create_record(token.did, request)
        queries = {
            "com.atproto.repo.getRecord": self._get_record,
            "com.atproto.server.getSession": self._get_session,
            "app.bsky.notification.listNotifications": self._list_notifications,
            "app.bsky.feed.getAuthorFeed": self._author_feed,
            "app.bsky.feed.getPosts": self._get_posts,
            "app.bsky.actor.getProfile": self._get_profile,
        }
        if method not in queries:
            return error(501, "MethodNotImplemented", "Method Not Implemented")
        token = self._bearer(request, "com.atproto.access")
        if isinstance(token, Reply):
            return token
        return queries[method](token.did, request.query)

    def _get_session(self, did: str, query: dict[str, str]) -> Reply:
        return Reply(200, {"did": did, "handle": self.users[did].handle, "active": True})

    def _get_profile(self, did: str, query: dict[str, str]) -> Reply:
        try:
            user = self.user(query.get("actor", ""))
        except StopIteration:
            return error(400, "InvalidRequest", "Profile not found")
        return Reply(200, {**user.view(), "followersCount": user.followers, "followsCount": 0, "postsCount": 0})

    def _page(self, items: list[tuple[datetime, str, dict]], query: dict[str, str]) -> tuple[list[dict], str | None]:
        """Newest first, `limit` at a time, the cursor the last item's (indexedAt, uri): keyset paging as the AppView's."""
        try:
            limit = int(query.get("limit", "50"))
        except ValueError:
            limit = 0
        if not 1 <= limit <= 100:
            raise ValueError("limit must be between 1 and 100")
        ordered = sorted(items, key=lambda i: (i[0], i[1]), reverse=True)
        if query.get("cursor"):
            at_ms, _, uri = query["cursor"].partition("::")
            key = (datetime.fromtimestamp(int(at_ms) / 1000, UTC), uri)
            ordered = [i for i in ordered if (i[0], i[1]) < key]
        page = ordered[:limit]
        cursor = f"{int(page[-1][0].timestamp() * 1000)}::{page[-1][1]}" if len(page) == limit else None
        return [i[2] for i in page], cursor

    def _list_notifications(self, did: str, query: dict[str, str]) -> Reply:
        reasons = set(filter(None, query.get("reasons", "").split(",")))
        items = [
            (n.record.indexed_at, n.record.uri, n.view(self.users))
            for n in self.notifications
            if n.recipient == did and (not reasons or n.reason in reasons)
        ]
        if self.paging == "endless" and query.get("cursor", "").startswith("endless-"):
            return Reply(200, {"notifications": [], "cursor": f"endless-{self.calls['app.bsky.notification.listNotifications']}"})
        try:
            page, cursor = self._page(items, query)
        except ValueError as exc:
            return error(400, "InvalidRequest", str(exc))
        if self.paging == "endless" and cursor is None:
            cursor = f"endless-{self.calls['app.bsky.notification.listNotifications']}"
        return Reply(200, {"notifications": page, **({"cursor": cursor} if cursor else {}), "priority": False})

    def _post_view(self, record: Record) -> dict:
        return {
            "uri": record.uri, "cid": record.cid, "author": self.users[record.author].view(), "record": record.value,
            "replyCount": 0, "repostCount": 0, "likeCount": 0, "quoteCount": 0, "indexedAt": _iso(record.indexed_at), "labels": [],
        }

    def _author_feed(self, did: str, query: dict[str, str]) -> Reply:
        try:
            actor = self.user(query.get("actor", ""))
        except StopIteration:
            return error(400, "InvalidRequest", "Profile not found")
        replies = query.get("filter", "posts_with_replies") in ("posts_with_replies", "posts_and_author_threads")
        items = []
        for record in self.records.values():
            if record.author != actor.did:
                continue
            if record.uri.split("/")[3] == "app.bsky.feed.post" and (replies or "reply" not in record.value):
                items.append((record.indexed_at, record.uri, {"post": self._post_view(record)}))
            elif record.uri.split("/")[3] == "app.bsky.feed.repost" and record.value["subject"]["uri"] in self.records:
                reason = {"$type": "app.bsky.feed.defs#reasonRepost", "by": actor.view(), "indexedAt": _iso(record.indexed_at)}
                reposted = self._post_view(self.records[record.value["subject"]["uri"]])
                items.append((record.indexed_at, record.uri, {"post": reposted, "reason": reason}))
        try:
            page, cursor = self._page(items, query)
        except ValueError as exc:
            return error(400, "InvalidRequest", str(exc))
        return Reply(200, {"feed": page, **({"cursor": cursor} if cursor else {})})

    def _get_posts(self, did: str, query: dict[str, str]) -> Reply:
        uris = [u for u in query.get("uris", "").split(",") if u]
        if len(uris) > 25:
            return error(400, "InvalidRequest", "uris must not have more than 25 elements")
        views = []
        for uri in (u for u in uris if u in self.records):
            view = self._post_view(self.records[uri])
            if self.show_gates and self._closed(uri, did):
                view["viewer"] = {"replyDisabled": True}
            views.append(view)
        return Reply(200, {"posts": views})

    def _create_record(self, did: str, request: Request) -> Reply:
        try:
            body = request.json()
            repo, collection, value, rkey = body["repo"], body["collection"], body["record"], body.get("rkey")
            text, reply = value["text"], value.get("reply") or {}
        except (ValueError, KeyError, TypeError):
            return error(400, "InvalidRequest", "Input must have the properties repo, collection and record")
        if repo not in (did, self.users[did].handle):
            return error(400, "InvalidRequest", "Invalid repo")
        if collection != POST or value.get("$type", POST) != POST:
            return error(400, "InvalidRequest", f"the stand-in creates {POST} records only")
        if rkey is not None and not (isinstance(rkey, str) and _TID.fullmatch(rkey)):
            return error(400, "InvalidRequest", "Invalid record key: expected a TID")
        if rkey is not None and f"at://{did}/{POST}/{rkey}" in self.records:
            return error(500, "InternalServerError", "Internal Server Error")  # the reference PDS's word for it
        if not isinstance(text, str) or len(regex.findall(r"\X", text)) > GRAPHEMES or len(text.encode()) > 3000:
            return error(400, "InvalidRecord", f"Invalid {POST} record: Record/text must not be longer than {GRAPHEMES} graphemes")
        parent = reply.get("parent", {}).get("uri") if isinstance(reply, dict) else None
        if parent is not None and self._closed(parent, did):
            return error(403, "ReplyNotAllowed", "Replies to this thread are limited by its thread gate")
        record = self._publish(self.users[did], {"$type": POST, **value}, None, rkey)
        rev = f"3l{next(self._rkeys):011d}"
        commit = {"cid": "bafyreicommit" + hashlib.sha256(record.uri.encode()).hexdigest()[:40], "rev": rev}
        return Reply(200, {"uri": record.uri, "cid": record.cid, "commit": commit, "validationStatus": "valid"})

    def _get_record(self, did: str, query: dict[str, str]) -> Reply:
        try:
            repo = self.user(query.get("repo", "")).did
        except StopIteration:
            return error(400, "InvalidRequest", f"Could not find repo: {query.get('repo', '')}")
        uri = f"at://{repo}/{query.get('collection', '')}/{query.get('rkey', '')}"
        record = self.records.get(uri)
        if record is None:
            return error(400, "RecordNotFound", f"Could not locate record: {uri}")
        return Reply(200, {"uri": uri, "cid": record.cid, "value": record.value})

    def close(self) -> None:
        self.http.close()
