"""A stand-in for the X API v2, answering in its documented shapes.

Posts: `{"data": [...], "includes": {"users": [...]}, "meta": {"result_count", "newest_id", "oldest_id",
"next_token"}}`, newest first; only the fields asked for in `tweet.fields` (by default X returns just id, text and
edit_history_tweet_ids); text HTML-escaped as X does; rate-limit headers on every answer; 401 problem bodies for a
wrong token; unknown users as HTTP 200 with an `errors` entry. Ids are snowflakes (above 2^53).

Two switches make it misbehave the way a broken API, proxy or gateway can: `paging` ("repeat": every answer is
the first page with the same `next_token`; "endless": every answer carries a `next_token`, past the last page too)
and `echo_credentials` (a 401 answer repeats the Authorization header it received, raw, URL-encoded and decoded).

Posting: `POST /2/tweets` ({"text", "reply": {"in_reply_to_tweet_id"}}) as the user whose access token signed the
OAuth 1.0a request (`grant`), answered 201 {"data": {"id", "text", "edit_history_tweet_ids"}}; the post is then in
the author's timeline and, as a reply, in the thread. Refused as X refuses: a bearer token (app-only) with
"Unsupported Authentication", an app whose `access_level` has no "write" with "oauth1-permissions", a text whose
weighted length (twitter-text) is over 280, a reply to a post that is gone, and a text the author has already posted
("duplicate content"), each a 403 with X's problem body. Every user-context answer carries `x-access-level` (unless
`access_header` is off). `fail_write` makes the next post fail: a 503, done with the answer lost, or done with the
answer cut short.
"""

from __future__ import annotations

import html
import re
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal
from urllib.parse import quote, unquote

from bot.standins.http import Reply, Request, StandIn, WriteFault

TWITTER_EPOCH_MS = 1288834974657
MENTIONS_CAP = 800
WEIGHTED_LIMIT = 280


def _problem(title: str, detail: str, kind: str = "about:blank", status: int = 403) -> Reply:
    """X's v2 problem body."""
    return Reply(status, {"title": title, "detail": detail, "type": kind, "status": status})


APP_ONLY = _problem(
    "Unsupported Authentication",
    "Authenticating with OAuth 2.0 Application-Only is forbidden for this endpoint.  Supported authentication types are "
    "[OAuth 1.0a User Context, OAuth 2.0 User Context].",
    "https://api.twitter.com/2/problems/unsupported-authentication",
)
READ_ONLY = _problem(
    "Forbidden",
    "Your client app is not configured with the appropriate oauth1 app permissions for this endpoint.",
    "https://api.twitter.com/2/problems/oauth1-permissions",
)
DUPLICATE = _problem("Forbidden", "You are not allowed to create a Tweet with duplicate content.")
TOO_LONG = _problem(
    "Forbidden", "Your Tweet text is too long. For more information on how Twitter determines text length see "
    "https://github.com/twitter/twitter-text.",
)
GONE_PARENT = _problem("Forbidden", "You attempted to reply to a Tweet that is deleted or not visible to you.")


@dataclass
class User:
    id: int
    username: str
    name: str
    followers: int = 0
    protected: bool = False


@dataclass
class Tweet:
    id: int
    author_id: int
    text: str
    created_at: datetime
    conversation_id: int
    references: list[tuple[str, int]] = field(default_factory=list)
    in_reply_to_user_id: int | None = None
    history: list[int] = field(default_factory=list)  # edit_history_tweet_ids, oldest first
    superseded: bool = False  # an older version of an edited post


class FakeX:
    def __init__(self, *, bearer: str = "x-test-bearer", api_key: str = "x-test-key") -> None:
        self.bearer = bearer
        self.api_key = api_key
        self.users: dict[int, User] = {}
        self.tweets: dict[int, Tweet] = {}
        self._seq = 0
        self._last_ms = 0
        self._lock = threading.Lock()
        self.remaining: dict[str, int] = {}
        self.window_reset: dict[str, int] = {}
        self.limit = 450  # requests per endpoint per window
        self.served: Counter[str] = Counter()  # posts returned, per endpoint: mentions, tweets, search, lookup
        self.paging: Literal["honest", "repeat", "endless"] = "honest"
        self.echo_credentials = False
        self.holders: dict[str, int] = {}  # access token → the user it acts for (user context)
        self.access_level = "read-write"  # the app's permission: "read", "read-write", "read-write-directmessages"
        self.access_header = True  # x-access-level on user-context answers
        self.now = lambda: datetime.now(UTC)  # tests on a fake clock replace this
        self.http = StandIn(self.handle)
        self.url = self.http.url

    # --- the world ------------------------------------------------------------------------------------

    def add_user(self, username: str, name: str | None = None, followers: int = 0, protected: bool = False) -> User:
        user_id = 10_000 + len(self.users) + 1
        user = User(id=user_id, username=username, name=name or username.title(), followers=followers, protected=protected)
        self.users[user.id] = user
        return user

    def grant(self, user: User, access_token: str) -> None:
        """`access_token` (with the app's key) acts for `user`: what it posts, `user` posts."""
        self.holders[access_token] = user.id

    def replies_to(self, tweet_id: int) -> list[Tweet]:
        """The posts that reply to `tweet_id` (its current versions)."""
        return [t for t in self.tweets.values() if ("replied_to", tweet_id) in t.references and not t.superseded]

    def fail_write(self, fault: WriteFault) -> None:
        """The next post fails: "unavailable" a 503 (not posted), "lost" posted with the answer lost, "cut" posted with
        the answer cut short."""
        self.http.fail_write("/2/tweets", fault, _problem("Service Unavailable", "Service Unavailable", status=503))

    def user(self, username: str) -> User:
        return next(u for u in self.users.values() if u.username.lower() == username.lower())

    def _new_id(self, created_at: datetime) -> int:
        ms = int(created_at.timestamp() * 1000) - TWITTER_EPOCH_MS
        ms = max(ms, self._last_ms)
        self._seq = self._seq + 1 if ms == self._last_ms else 0
        self._last_ms = ms
        return (ms << 22) | (self._seq & 0x3FFFFF)

    def post(
        self,
        author: User,
        text: str,
        *,
        reply_to: int | None = None,
        quote: int | None = None,
        retweet: int | None = None,
        at: datetime | None = None,
    ) -> int:
        """Publish a post as `author` (text as typed; X escapes it when serving). Returns its id."""
        with self._lock:
            created = at or self.now()
            tweet_id = self._new_id(created)
            references: list[tuple[str, int]] = []
            conversation = tweet_id
            in_reply_to = None
            if reply_to is not None:
                parent = self.tweets[reply_to]
                references.append(("replied_to", reply_to))
                conversation = parent.conversation_id
                in_reply_to = parent.author_id
            if quote is not None:
                references.append(("quoted", quote))
            if retweet is not None:
                references.append(("retweeted", retweet))
            self.tweets[tweet_id] = Tweet(tweet_id, author.id, text, created, conversation, references, in_reply_to, [tweet_id])
            return tweet_id

    def edit(self, tweet_id: int, text: str, at: datetime | None = None) -> int:
        """Edit a post: X gives the new version a new id and lists both in edit_history_tweet_ids."""
        with self._lock:
            old = self.tweets[tweet_id]
            new_id = self._new_id(at or self.now())
            old.superseded = True
            self.tweets[new_id] = Tweet(
                new_id, old.author_id, text, at or self.now(), old.conversation_id, old.references,
                old.in_reply_to_user_id, [*old.history, new_id],
            )
            return new_id

    def delete(self, tweet_id: int) -> None:
        with self._lock:
            del self.tweets[tweet_id]

    # --- HTTP -----------------------------------------------------------------------------------------

    def handle(self, request: Request) -> Reply:
        if not self._authorized(request):
            return self._unauthorized(request)
        reply = self._route(request)
        if request.headers.get("authorization", "").startswith("OAuth ") and self.access_header:
            reply.headers["x-access-level"] = self.access_level
        return reply

    def _route(self, request: Request) -> Reply:
        path = request.path
        if path == "/2/tweets" and request.method == "POST":
            return self._with_limits("create", self._create(request))
        if match := re.fullmatch(r"/2/users/by/username/(\w+)", path):
            return self._with_limits("users/by", self._user_lookup(match.group(1)))
        if path == "/2/tweets/search/recent":
            return self._with_limits("search", self._search(request.query))
        if path == "/2/tweets":
            return self._with_limits("lookup", self._lookup(request.query))
        if match := re.fullmatch(r"/2/users/(\d+)/(mentions|tweets)", path):
            user = self.users.get(int(match.group(1)))
            if user is None:
                return Reply(404, {"title": "Not Found Error", "detail": "no such user", "type": "about:blank"})
            return self._with_limits(match.group(2), self._timeline(user, match.group(2), request.query))
        return Reply(404, {"title": "Not Found", "detail": f"no route {path}", "type": "about:blank", "status": 404})

    def _authorized(self, request: Request) -> bool:
        auth = request.headers.get("authorization", "")
        if auth.startswith("Bearer "):
            return auth[len("Bearer ") :] == self.bearer
        return auth.startswith("OAuth ") and f'oauth_consumer_key="{self.api_key}"' in auth

    def _unauthorized(self, request: Request) -> Reply:
        if not self.echo_credentials:
            return Reply(401, {"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"})
        auth = request.headers.get("authorization", "")
        echo = f"{auth} (encoded {quote(auth, safe='')}, decoded {unquote(auth)})"
        body = {"title": f"Unauthorized: {echo}", "type": "about:blank", "status": 401, "detail": f"Rejected credentials {echo}"}
        return Reply(401, body)

    def _create(self, request: Request) -> Reply:
        auth = request.headers.get("authorization", "")
        if not auth.startswith("OAuth "):
            return APP_ONLY
        token = re.search(r'oauth_token="([^"]*)"', auth)
        author = self.users.get(self.holders.get(unquote(token.group(1)) if token else "", 0))
        if author is None:
            return _problem("Unauthorized", "Unauthorized", status=401)
        if "write" not in self.access_level:
            return READ_ONLY
        try:
            body = request.json()
            text = body["text"]
            parent = (body.get("reply") or {}).get("in_reply_to_tweet_id")
            reply_to = int(parent) if parent is not None else None
        except (ValueError, KeyError, TypeError, AttributeError):
            return _problem("Invalid Request", "One or more parameters to your request was invalid.",
                            "https://api.twitter.com/2/problems/invalid-request", 400)
        if not isinstance(text, str) or not text.strip():
            return _problem("Invalid Request", "One or more parameters to your request was invalid.",
                            "https://api.twitter.com/2/problems/invalid-request", 400)
        if _weighted(text) > WEIGHTED_LIMIT:
            return TOO_LONG
        if reply_to is not None and reply_to not in self.tweets:
            return GONE_PARENT
        if any(t.author_id == author.id and t.text == text and not t.superseded for t in self.tweets.values()):
            return DUPLICATE
        tweet_id = self.post(author, text, reply_to=reply_to)
        data = {"id": str(tweet_id), "text": html.escape(text, quote=False), "edit_history_tweet_ids": [str(tweet_id)]}
        return Reply(201, {"data": data})

    def _with_limits(self, endpoint: str, reply: Reply) -> Reply:
        """450 requests per endpoint per 15-minute window, which starts with the first request and then resets.
        Counts the posts each endpoint returns (X bills each one)."""
        data = reply.body.get("data") if isinstance(reply.body, dict) else None
        if isinstance(data, list):
            self.served[endpoint] += len(data)
        now = int(self.now().timestamp())
        if now >= self.window_reset.get(endpoint, 0):
            self.window_reset[endpoint] = now + 900
            self.remaining[endpoint] = self.limit
        self.remaining[endpoint] -= 1
        reply.headers.update(
            {
                "x-rate-limit-limit": str(self.limit),
                "x-rate-limit-remaining": str(max(0, self.remaining[endpoint])),
                "x-rate-limit-reset": str(self.window_reset[endpoint]),
            }
        )
        return reply

    def _user_lookup(self, username: str) -> Reply:
        try:
            user = self.user(username)
        except StopIteration:
            return Reply(
                200,
                {
                    "errors": [
                        {
                            "value": username,
                            "detail": f"Could not find user with username: [{username}].",
                            "title": "Not Found Error",
                            "resource_type": "user",
                            "parameter": "username",
                            "resource_id": username,
                            "type": "https://api.twitter.com/2/problems/resource-not-found",
                        }
                    ]
                },
            )
        return Reply(200, {"data": {"id": str(user.id), "name": user.name, "username": user.username}})

    def _mentioning(self, user: User) -> list[Tweet]:
        pattern = re.compile(rf"(?<!\w)@{re.escape(user.username)}(?!\w)", re.IGNORECASE)
        found = [t for t in self.tweets.values() if pattern.search(t.text) and not t.superseded]
        return sorted(found, key=lambda t: t.id, reverse=True)

    def _timeline(self, user: User, kind: str, query: dict[str, str]) -> Reply:
        if kind == "mentions":
            found = self._mentioning(user)[:MENTIONS_CAP]  # X keeps only the newest 800 reachable
        else:
            found = sorted(
                (t for t in self.tweets.values() if t.author_id == user.id and not t.superseded), key=lambda t: t.id, reverse=True
            )
        return self._page(found, query, "pagination_token")

    def _search(self, query: dict[str, str]) -> Reply:
        match = re.fullmatch(r"@(\w+) -is:retweet", query.get("query", ""))
        if not match:
            return Reply(400, {"title": "Invalid Request", "detail": "unsupported query in the stand-in", "type": "about:blank"})
        week_ago = self.now() - timedelta(days=7)
        if "start_time" in query and datetime.fromisoformat(query["start_time"].replace("Z", "+00:00")) < week_ago:
            return Reply(400, {"title": "Invalid Request", "detail": "start_time must be within the last 7 days", "type": "about:blank"})
        if "since_id" in query and self.tweets.get(int(query["since_id"])) and self.tweets[int(query["since_id"])].created_at < week_ago:
            return Reply(400, {"title": "Invalid Request", "detail": "since_id must be within the last 7 days", "type": "about:blank"})
        found = [
            t for t in self._mentioning(self.user(match.group(1)))
            if t.created_at >= week_ago and not any(kind == "retweeted" for kind, _ in t.references)
        ]
        return self._page(found, query, "next_token", min_size=10)

    def _lookup(self, query: dict[str, str]) -> Reply:
        ids = [i for i in query.get("ids", "").split(",") if i]
        fields = set(filter(None, query.get("tweet.fields", "").split(",")))
        data = [self._render(self.tweets[int(i)], fields) for i in ids if int(i) in self.tweets]
        errors = [
            {
                "value": i, "detail": f"Could not find tweet with ids: [{i}].", "title": "Not Found Error",
                "resource_type": "tweet", "parameter": "ids", "resource_id": i,
                "type": "https://api.twitter.com/2/problems/resource-not-found",
            }
            for i in ids if int(i) not in self.tweets
        ]
        body: dict[str, object] = {}
        if data:
            body["data"] = data
        if errors:
            body["errors"] = errors
        return Reply(200, body)

    def _page(self, found: list[Tweet], query: dict[str, str], token_name: str, min_size: int = 5) -> Reply:
        if "since_id" in query:
            found = [t for t in found if t.id > int(query["since_id"])]
        if "until_id" in query:
            found = [t for t in found if t.id < int(query["until_id"])]
        if "start_time" in query:
            start = datetime.fromisoformat(query["start_time"].replace("Z", "+00:00"))
            found = [t for t in found if t.created_at >= start]
        size = int(query.get("max_results", 10))
        if not min_size <= size <= 100:
            return Reply(400, {
                "errors": [{"message": "max_results out of range"}],
                "title": "Invalid Request",
                "detail": "One or more parameters to your request was invalid.",
                "type": "https://api.twitter.com/2/problems/invalid-request",
            })
        offset = 0 if self.paging == "repeat" else int(query.get(token_name, "0") or 0)
        page = found[offset : offset + size]
        next_token = str(offset + size) if offset + size < len(found) or self.paging == "endless" else None
        if self.paging == "repeat":
            next_token = "the-same-page-again"
        if not page:
            return Reply(200, {"meta": {"result_count": 0, **({"next_token": next_token} if next_token else {})}})
        meta: dict[str, object] = {
            "result_count": len(page),
            "newest_id": str(page[0].id),
            "oldest_id": str(page[-1].id),
        }
        if next_token:
            meta["next_token"] = next_token
        fields = set(filter(None, query.get("tweet.fields", "").split(",")))
        body: dict[str, object] = {"data": [self._render(t, fields) for t in page], "meta": meta}
        if "author_id" in query.get("expansions", ""):
            user_fields = set(filter(None, query.get("user.fields", "").split(",")))
            authors = {t.author_id for t in page}
            body["includes"] = {"users": [self._render_user(self.users[a], user_fields) for a in sorted(authors)]}
        return Reply(200, body)

    def _render(self, tweet: Tweet, fields: set[str]) -> dict:
        text = html.escape(tweet.text, quote=False)
        out: dict[str, object] = {"id": str(tweet.id), "text": text, "edit_history_tweet_ids": [str(i) for i in tweet.history]}
        prefix = re.match(r"^(@\w+\s+)*", tweet.text).end() if tweet.references else 0
        optional = {
            "author_id": str(tweet.author_id),
            "created_at": tweet.created_at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{tweet.created_at.microsecond // 1000:03d}Z",
            "conversation_id": str(tweet.conversation_id),
            "in_reply_to_user_id": str(tweet.in_reply_to_user_id) if tweet.in_reply_to_user_id else None,
            "referenced_tweets": [{"type": k, "id": str(i)} for k, i in tweet.references] or None,
            "display_text_range": [prefix, len(tweet.text)],
            "entities": self._entities(tweet.text),
        }
        out.update({k: v for k, v in optional.items() if k in fields and v is not None})
        return out

    def _entities(self, text: str) -> dict | None:
        mentions = []
        for m in re.finditer(r"(?<!\w)@(\w{1,15})", text):
            entry: dict[str, object] = {"start": m.start(), "end": m.end(), "username": m.group(1)}
            user = next((u for u in self.users.values() if u.username.lower() == m.group(1).lower()), None)
            if user:
                entry["id"] = str(user.id)
            mentions.append(entry)
        return {"mentions": mentions} if mentions else None

    def _render_user(self, user: User, fields: set[str]) -> dict:
        out: dict[str, object] = {"id": str(user.id), "name": user.name, "username": user.username}
        if "protected" in fields:
            out["protected"] = user.protected
        if "public_metrics" in fields:
            out["public_metrics"] = {"followers_count": user.followers, "following_count": 0, "tweet_count": 0, "listed_count": 0}
        return out

    def close(self) -> None:
        self.http.close()


def _weighted(text: str) -> int:
    """X's weighted length of `text` (twitter-text's rules), as X checks a post against 280. Imported here, not at the
    top: every command imports the demo, and so this stand-in."""
    import warnings

    with warnings.catch_warnings():  # it reads its emoji table with pkg_resources, which warns on import
        warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)
        from twitter_text import parse_tweet
    return parse_tweet(text).weightedLength
