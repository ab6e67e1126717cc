"""The X adapter: one watched account, through tweepy's v2 Client pointed at `X_API_BASE_URL`, with a timeout on every
call; X's JSON becomes `Post`s in bot.sources.x.translate. Errors come out as the classes in bot.errors, with the
credentials this client holds redacted from their messages (X's answer, or a proxy's, can echo them).

What is X's alone stays here: the mentions timeline returns only the 800 newest mentions, so when a read hits that
cap, the gap behind it is read from recent search (7 days) and the timeline says what was recovered, or what may
be missing (`Timeline.gap`); cursors are X's `newest_id`; ids are snowflakes that tell when they were made.

Replies (`reply`) are posted with user-context credentials only, on an app X lets write (the `x-access-level` header
of every user-context answer says so, `write_refusal` reports it); X has no idempotency key, so a retry first looks
for the reply among the account's newest own posts (bot.sources.x.replies holds these rules)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
import tweepy

from bot.errors import AuthFailed, BadResponse, RateLimited, Rejected, ServiceError, Unavailable, UnknownAccount
from bot.logs import Redactor
from bot.model import Account, Draft, Gap, Network, Post, RateInfo, Read, Timeline
from bot.sources.meter import ReadCounter
from bot.sources.x import replies
from bot.sources.x.translate import newest, posts, snowflake_time, x_id

log = logging.getLogger(__name__)

TWEEPY_HOST = "https://api.twitter.com"
TWEET_FIELDS = [
    "author_id",
    "created_at",
    "conversation_id",
    "in_reply_to_user_id",
    "referenced_tweets",
    "entities",
    "display_text_range",
]
USER_FIELDS = ["username", "name", "protected", "public_metrics"]
PAGE_SIZE = 100
# The most pages one read follows. X serves at most the 800 newest mentions (8 pages of 100) and a user's 3,200
# newest posts (32 pages); two spare pages each for a last, empty page. Recent search has no count cap: 1,000 pages
# is 100,000 mentions in the gap being recovered (a flood of 50,000 is read in one poll where the rate limit
# allows it: a 429 midway lets the next poll try again); more than that is a server paging for ever, not a read.
MENTIONS_PAGES = 10
POSTS_PAGES = 34
SEARCH_PAGES = 1000
MENTIONS_CAP = 800
OWNED = ("mentions", "own posts")  # reads of the account's own timelines: "owned reads" under user-context auth
REPLY = "reply"
# Pages of the account's own posts (newest first, only those after the mention) a retry looks through for the reply
# it may have posted: the attempt before was moments ago, so the reply is among the newest; each post read is billed.
RETRY_PAGES = 2
SEARCH_REACH = timedelta(days=7) - timedelta(minutes=5)


class _RedirectingSession(requests.Session):
    """tweepy hard-codes its host and sets no timeout; this session fixes both for every request it sends."""

    def __init__(self, base_url: str, timeout: float) -> None:
        super().__init__()
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def request(self, method, url, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN201
        if isinstance(url, str) and url.startswith(TWEEPY_HOST):
            url = self.base_url + url[len(TWEEPY_HOST) :]
        kwargs.setdefault("timeout", self.timeout)
        return super().request(method, url, *args, **kwargs)


class XSource:
    """The Source of one X account (`handle`)."""

    network = Network.X

    def __init__(
        self,
        *,
        base_url: str,
        timeout: float,
        handle: str = "",
        bearer_token: str | None = None,
        user_keys: tuple[str, str, str, str] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.handle = handle
        self.clock = clock  # how far back recent search reaches
        self.user_auth = user_keys is not None
        self._access_level: str | None = None  # the app's, as the last user-context answer's x-access-level said
        self._account: Account | None = None
        self._redactor = Redactor(s for s in (bearer_token, *(user_keys or ())) if s)
        self._reads = ReadCounter()
        consumer_key, consumer_secret, access_token, access_secret = user_keys or (None, None, None, None)
        self._client = tweepy.Client(
            bearer_token=bearer_token,
            consumer_key=consumer_key,
            consumer_secret=consumer_secret,
            access_token=access_token,
            access_token_secret=access_secret,
            return_type=requests.Response,
            wait_on_rate_limit=False,
        )
        self._client.session = _RedirectingSession(base_url, timeout)

    def account(self) -> Account:
        if self._account is None:
            self._account = self.lookup(self.handle)
        return self._account

    def lookup(self, handle: str) -> Account:
        """An account's id; UnknownAccount if X has no such handle."""
        body = self._call("user lookup", self._client.get_user, username=handle, user_auth=self.user_auth)
        data = body.get("data")
        user_id = x_id(data.get("id")) if isinstance(data, dict) else None
        if user_id is None:
            raise UnknownAccount("X", f"no account @{handle}")
        return Account(id=user_id, username=str(data.get("username", handle)), name=str(data.get("name", "")))

    def mentions(self, cursor: str | None, since: datetime) -> Timeline:
        account = self.account()
        timeline = self._timeline(
            "mentions", self._client.get_users_mentions, "pagination_token", MENTIONS_PAGES, account.id,
            since_id=cursor, start_time=None if cursor else since,
        )
        if len(timeline.posts) < MENTIONS_CAP:
            return timeline
        return self._recover_gap(timeline, cursor, since)

    def posts(self, who: Account, cursor: str | None, since: datetime) -> Timeline:
        return self._timeline(
            "own posts", self._client.get_users_tweets, "pagination_token", POSTS_PAGES, who.id,
            since_id=cursor, start_time=None if cursor else since,
        )

    def deleted(self, post_ids: Sequence[str]) -> set[str]:
        """Which of these posts X no longer has. X answers HTTP 200 with a "Not Found Error" entry for each."""
        gone: set[str] = set()
        ids = list(post_ids)
        for i in range(0, len(ids), 100):
            body = self._call("lookup", self._client.get_tweets, ids[i : i + 100], user_auth=self.user_auth)
            for error in body.get("errors") or []:
                if isinstance(error, dict) and error.get("title") == "Not Found Error":
                    post_id = x_id(error.get("resource_id") or error.get("value"))
                    if post_id is not None:
                        gone.add(post_id)
        return gone & set(ids)

    def _recover_gap(self, timeline: Timeline, cursor: str | None, since: datetime) -> Timeline:
        """The read hit X's 800 cap: read the rest of the gap (since the cursor) from recent search."""
        now = self.clock()
        oldest = min((p.version_id or p.id for p in timeline.posts), key=int)
        gap_start = snowflake_time(cursor) if cursor is not None else since
        gap_end = snowflake_time(oldest)
        reach = now - SEARCH_REACH
        since_id = cursor if cursor is not None and gap_start > reach else None
        try:
            found = self._timeline(
                "search", self._client.search_recent_tweets, "next_token", SEARCH_PAGES,
                f"@{self.account().username} -is:retweet",
                since_id=since_id, until_id=oldest, start_time=None if since_id else max(gap_start, reach),
            )
        except ServiceError as exc:  # the class stays (a rate limit's time with it); the message says what failed
            raise exc.redact(lambda m: f"more than {MENTIONS_CAP} new mentions; recovering the rest from search failed: {m}") from None
        recovered = [p for p in found.posts if "retweeted" not in p.reference_types]
        missing = []
        if not found.complete:
            oldest_found = min((p.version_id or p.id for p in recovered), key=int, default=oldest)
            missing.append((gap_start, snowflake_time(oldest_found), "the search stopped before the start of that period"))
        if gap_start < reach:
            missing.append((gap_start, reach, "search reaches back 7 days"))
        log.warning("X mentions: hit the %d cap; recovered %d from search", MENTIONS_CAP, len(recovered))
        gap = Gap(MENTIONS_CAP, gap_start, gap_end, len(recovered), tuple(missing))
        return replace(timeline, posts=timeline.posts + recovered, gap=gap)

    def _timeline(self, what, method, token_name: str, pages: int, *args, since_id=None, until_id=None, start_time=None) -> Timeline:  # noqa: ANN001, PLR0913
        """Every post newer than `since_id` (or since `start_time`), following the page token with the same since_id.

        A server that sends a page token it sent before, or still one after `pages` pages, would keep the read going
        for ever: the read stops there with one warning and keeps the posts read so far (the next read starts after
        the newest of them)."""
        params: dict[str, Any] = {
            "max_results": PAGE_SIZE,
            "tweet_fields": TWEET_FIELDS,
            "expansions": ["author_id"],
            "user_fields": USER_FIELDS,
            "user_auth": self.user_auth,
            "until_id": until_id,
        }
        if since_id is not None:
            params["since_id"] = since_id
        elif start_time is not None:
            params["start_time"] = start_time.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        read: dict[tuple[str, str | None], Post] = {}  # a page served twice must not count twice (the 800 cap)
        complete = True
        newest_id: str | None = None
        token: str | None = None
        seen: set[str] = set()
        rate: RateInfo | None = None
        for page in range(1, pages + 1):
            body, rate = self._call_with_rate(what, method, *args, **{token_name: token}, **params)
            meta = body.get("meta") if isinstance(body.get("meta"), dict) else {}
            newest_id = newest_id or x_id(meta.get("newest_id"))
            for post in posts(body, self._account):
                read.setdefault((post.id, post.version_id), post)
            token = meta.get("next_token")
            if not token or not isinstance(token, str):
                break
            if token in seen:
                log.warning(
                    "X %s (%s): next_token repeated, a page already read; stopped after %d pages, keeping the %d posts read",
                    what, args[0], page, len(read),
                )
                complete = False
                break
            seen.add(token)
        else:
            log.warning(
                "X %s (%s): still a next_token after %d pages, the page budget of one read; stopped, keeping the %d posts read",
                what, args[0], pages, len(read),
            )
            complete = False
        found = list(read.values())
        return Timeline(posts=found, cursor=newest_id or newest([p.version_id or p.id for p in found]), rate=rate, complete=complete)

    def reads(self) -> list[Read]:
        return self._reads.take()

    # --- replies -----------------------------------------------------------------------------------------------

    def reply_limit(self) -> int:
        return replies.LIMIT

    def length(self, text: str) -> int:
        """X's weighted length: CJK and emoji count 2, a link 23."""
        return replies.length(text)

    def write_refusal(self) -> str | None:
        return replies.refusal(self.user_auth, self._access_level)

    def reply(self, draft: Draft, retry: bool = False) -> Post:
        """Post `draft` as a reply to its mention's newest version; with `retry`, the account's newest posts are looked
        through first (X has no idempotency key), and a "duplicate content" refusal is looked into once more."""
        self._refuse_unless_allowed()
        size = self.length(draft.text)
        if size > replies.LIMIT:
            raise Rejected("X", f"{REPLY}: {size} characters as X counts them (CJK and emoji 2, a link 23), over {replies.LIMIT}")
        if not draft.text.strip():
            raise Rejected("X", f"{REPLY}: the text is empty")
        account = self.account()
        self._refuse_unless_allowed()  # the look-up may just have told the app's access level
        target = draft.mention.version_id or draft.mention.id
        if retry and (found := self._find_reply(draft)) is not None:
            return found
        try:
            body = self._call(
                replies.billed_as(draft.text), self._client.create_tweet, text=draft.text, in_reply_to_tweet_id=target, user_auth=True
            )
        except Rejected as exc:
            if retry and replies.DUPLICATE in exc.message.lower() and (found := self._find_reply(draft)) is not None:
                return found
            raise
        data = body.get("data")
        if not isinstance(data, dict) or x_id(data.get("id")) is None or not isinstance(data.get("text"), str):
            raise BadResponse("X", f"{REPLY}: the answer names no post (it may have been posted: retry)")
        return replies.posted(data, account, draft.mention, target)

    def _refuse_unless_allowed(self) -> None:
        refusal = self.write_refusal()
        if refusal is not None:
            raise AuthFailed("X", f"{REPLY}: {refusal}")

    def _find_reply(self, draft: Draft) -> Post | None:
        """The reply to `draft`'s mention with its text among the account's newest own posts (after the mention)."""
        found = self._timeline(
            "own posts", self._client.get_users_tweets, "pagination_token", RETRY_PAGES, self.account().id,
            since_id=draft.mention.id,
        )
        wanted = replies.comparable(draft.text)
        mine = [p for p in found.posts if p.replied_to_id in draft.mention.ids and replies.comparable(p.text) == wanted]
        return min(mine, key=lambda p: int(p.id), default=None)

    def _call(self, what: str, method, *args, **kwargs) -> dict:  # noqa: ANN001, ANN002, ANN003
        return self._call_with_rate(what, method, *args, **kwargs)[0]

    def _call_with_rate(self, what: str, method, *args, **kwargs) -> tuple[dict, RateInfo | None]:  # noqa: ANN001, ANN002, ANN003
        """One request, counted; every error it raises has this client's credentials redacted from its message."""
        body: dict = {}
        try:
            body, rate = self._request(what, method, *args, **kwargs)
            return body, rate
        except ServiceError as exc:
            raise exc.redact(self._redactor.redact) from None
        finally:
            data = body.get("data")
            # X bills every post returned, the posts an expansion includes too ("includes.tweets")
            posts = (len(data) if isinstance(data, list) else 0) + len((body.get("includes") or {}).get("tweets") or [])
            owned = self.user_auth and what in OWNED and (not args or args[0] == (self._account.id if self._account else None))
            self._reads.count(what, posts, owned=owned)

    def _request(self, what: str, method, *args, **kwargs) -> tuple[dict, RateInfo | None]:  # noqa: ANN001, ANN002, ANN003
        try:
            response = method(*args, **kwargs)
        except tweepy.TooManyRequests as exc:
            until = datetime.fromtimestamp(exc.reset_time, UTC) if exc.reset_time else None
            raise RateLimited("X", f"{what}: rate limited (429)", until=until) from None
        except tweepy.Forbidden as exc:
            self._note_access(exc.response)
            if what not in (REPLY, replies.WITH_LINK):
                raise AuthFailed("X", f"{what}: {_describe(exc)}") from None
            refusal = replies.forbidden(_json(exc.response), self._access_level)
            if refusal is None:  # this post refused (a duplicate, too long, a closed thread), not the app
                raise Rejected("X", f"{what}: {_describe(exc)}") from None
            if refusal == replies.READ_ONLY and self._access_level is None:
                self._access_level = "read"  # as good as the header: write_refusal says so from now on
            raise AuthFailed("X", f"{what}: {_describe(exc)}; {refusal}") from None
        except tweepy.Unauthorized as exc:
            raise AuthFailed("X", f"{what}: {_describe(exc)}") from None
        except tweepy.TwitterServerError as exc:
            raise Unavailable("X", f"{what}: {_describe(exc)}") from None
        except tweepy.HTTPException as exc:
            raise Rejected("X", f"{what}: {_describe(exc)}") from None
        except requests.Timeout:
            raise Unavailable("X", f"{what}: timed out") from None
        except requests.RequestException as exc:
            raise Unavailable("X", f"{what}: connection failed ({type(exc).__name__})") from None
        self._note_access(response)
        try:
            body = response.json()
        except ValueError:
            raise BadResponse("X", f"{what}: response is not JSON (HTTP {response.status_code})") from None
        if not isinstance(body, dict):
            raise BadResponse("X", f"{what}: response is not a JSON object")
        return body, _rate(response.headers)


    def _note_access(self, response: Any) -> None:
        """Keep the app's access level from a user-context answer's x-access-level header."""
        level = getattr(response, "headers", {}).get("x-access-level") if self.user_auth else None
        if isinstance(level, str) and level:
            self._access_level = level


def _json(response: Any) -> Any:
    try:
        return response.json()
    except (ValueError, AttributeError):
        return None


def _rate(headers: Any) -> RateInfo | None:
    try:
        return RateInfo(
            limit=int(headers["x-rate-limit-limit"]),
            remaining=int(headers["x-rate-limit-remaining"]),
            reset=datetime.fromtimestamp(int(headers["x-rate-limit-reset"]), UTC),
        )
    except (KeyError, TypeError, ValueError, OverflowError, OSError):
        return None


def _describe(exc: tweepy.HTTPException) -> str:
    status = exc.response.status_code if exc.response is not None else "?"
    detail = "; ".join(str(m) for m in (exc.api_messages or [])[:2]) or (exc.response.reason or "")
    return f"HTTP {status} {detail}".strip()
