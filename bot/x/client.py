"""The X adapter: tweepy's v2 Client, pointed at `X_API_BASE_URL`, with a timeout on every call, and X's JSON
translated into `Post`s once, here. Errors come out as the classes in bot.errors, with the credentials this client
holds redacted from their messages (X's answer, or a proxy's, can echo them)."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime
from typing import Any

import requests
import tweepy

from bot.errors import AuthFailed, BadResponse, RateLimited, Rejected, ServiceError, Unavailable, UnknownAccount
from bot.logs import Redactor
from bot.model import Account, Post, RateInfo, Timeline

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
_X_ENTITIES = re.compile(r"&(amp|lt|gt);")
_X_UNESCAPE = {"amp": "&", "lt": "<", "gt": ">"}


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


class XClient:
    def __init__(
        self,
        *,
        base_url: str,
        timeout: float,
        bearer_token: str | None = None,
        user_keys: tuple[str, str, str, str] | None = None,
    ) -> None:
        self.user_auth = user_keys is not None
        self._redactor = Redactor(s for s in (bearer_token, *(user_keys or ())) if s)
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

    def lookup_account(self, username: str) -> Account:
        """The watched account's id; UnknownAccount if X has no such handle."""
        body = self._call("user lookup", self._client.get_user, username=username, user_auth=self.user_auth)
        data = body.get("data")
        if not isinstance(data, dict) or "id" not in data:
            raise UnknownAccount("X", f"no account @{username}")
        return Account(id=_int(data["id"]), username=str(data.get("username", username)), name=str(data.get("name", "")))

    def mentions(self, account: Account, since_id: int | None, start_time: datetime | None) -> Timeline:
        return self._timeline(
            "mentions", self._client.get_users_mentions, "pagination_token", MENTIONS_PAGES, account.id,
            since_id=since_id, start_time=start_time,
        )

    def own_posts(self, account: Account, since_id: int | None, start_time: datetime | None) -> Timeline:
        return self._timeline(
            "own posts", self._client.get_users_tweets, "pagination_token", POSTS_PAGES, account.id,
            since_id=since_id, start_time=start_time,
        )

    def search_mentions(
        self, account: Account, since_id: int | None, until_id: int, start_time: datetime | None
    ) -> Timeline:
        """Mentions from recent search (last 7 days), between the ids: how a gap past the 800 cap is recovered."""
        query = f"@{account.username} -is:retweet"
        return self._timeline(
            "search", self._client.search_recent_tweets, "next_token", SEARCH_PAGES, query,
            since_id=since_id, until_id=until_id, start_time=start_time,
        )

    def deleted(self, post_ids: list[int]) -> set[int]:
        """Which of these posts X no longer has. X answers HTTP 200 with a "Not Found Error" entry for each."""
        gone: set[int] = set()
        for i in range(0, len(post_ids), 100):
            body = self._call("lookup", self._client.get_tweets, post_ids[i : i + 100], user_auth=self.user_auth)
            for error in body.get("errors") or []:
                if isinstance(error, dict) and error.get("title") == "Not Found Error":
                    post_id = _optional_int(error.get("resource_id") or error.get("value"))
                    if post_id is not None:
                        gone.add(post_id)
        return gone & set(post_ids)

    def _timeline(self, what, method, token_name: str, pages: int, *args, since_id=None, until_id=None, start_time=None) -> Timeline:  # noqa: ANN001
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
        posts: dict[tuple[int, int | None], Post] = {}  # a page served twice must not count twice (the 800 cap)
        complete = True
        newest_id: int | None = None
        token: str | None = None
        seen: set[str] = set()
        rate: RateInfo | None = None
        for page in range(1, pages + 1):
            body, rate = self._call_with_rate(what, method, *args, **{token_name: token}, **params)
            meta = body.get("meta") if isinstance(body.get("meta"), dict) else {}
            if newest_id is None and _optional_int(meta.get("newest_id")) is not None:
                newest_id = _int(meta["newest_id"])
            for post in _posts(body):
                posts.setdefault((post.id, post.version_id), post)
            token = meta.get("next_token")
            if not token or not isinstance(token, str):
                break
            if token in seen:
                log.warning(
                    "X %s (%s): next_token repeated, a page already read; stopped after %d pages, keeping the %d posts read",
                    what, args[0], page, len(posts),
                )
                complete = False
                break
            seen.add(token)
        else:
            log.warning(
                "X %s (%s): still a next_token after %d pages, the page budget of one read; stopped, keeping the %d posts read",
                what, args[0], pages, len(posts),
            )
            complete = False
        read = list(posts.values())
        if newest_id is None and read:
            newest_id = max(p.version_id or p.id for p in read)
        return Timeline(posts=read, newest_id=newest_id, rate=rate, complete=complete)

    def _call(self, what: str, method, *args, **kwargs) -> dict:  # noqa: ANN001, ANN002, ANN003
        return self._call_with_rate(what, method, *args, **kwargs)[0]

    def _call_with_rate(self, what: str, method, *args, **kwargs) -> tuple[dict, RateInfo | None]:  # noqa: ANN001, ANN002, ANN003
        """One request; every error it raises has this client's credentials redacted from its message."""
        try:
            return self._request(what, method, *args, **kwargs)
        except ServiceError as exc:
            raise exc.redact(self._redactor.redact) from None

    @staticmethod
    def _request(what: str, method, *args, **kwargs) -> tuple[dict, RateInfo | None]:  # noqa: ANN001, ANN002, ANN003
        try:
            response = method(*args, **kwargs)
        except tweepy.TooManyRequests as exc:
            until = datetime.fromtimestamp(exc.reset_time, UTC) if exc.reset_time else None
            raise RateLimited("X", f"{what}: rate limited (429)", until=until) from None
        except (tweepy.Unauthorized, tweepy.Forbidden) as exc:
            raise AuthFailed("X", f"{what}: {_describe(exc)}") from None
        except tweepy.TwitterServerError as exc:
            raise Unavailable("X", f"{what}: {_describe(exc)}") from None
        except tweepy.HTTPException as exc:
            raise Rejected("X", f"{what}: {_describe(exc)}") from None
        except requests.Timeout:
            raise Unavailable("X", f"{what}: timed out") from None
        except requests.RequestException as exc:
            raise Unavailable("X", f"{what}: connection failed ({type(exc).__name__})") from None
        try:
            body = response.json()
        except ValueError:
            raise BadResponse("X", f"{what}: response is not JSON (HTTP {response.status_code})") from None
        if not isinstance(body, dict):
            raise BadResponse("X", f"{what}: response is not a JSON object")
        return body, _rate(response.headers)


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


def unescape_x(text: str) -> str:
    """X sends text with &, <, > HTML-escaped; undo exactly that, once."""
    return _X_ENTITIES.sub(lambda m: _X_UNESCAPE[m.group(1)], text)


def _no_nul(text: str) -> str:
    """PostgreSQL text cannot hold NUL; nobody means one."""
    return text.replace("\x00", "")


def _int(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("not an id")
    return int(value)


def _optional_int(value: Any) -> int | None:
    try:
        return None if value is None else _int(value)
    except (TypeError, ValueError):
        return None


def _time(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return None


def _posts(body: dict) -> list[Post]:
    """Translate one page; a post without a usable id or time is logged and passed over."""
    includes = body.get("includes") if isinstance(body.get("includes"), dict) else {}
    users = {}
    for user in includes.get("users") or []:
        if isinstance(user, dict) and "id" in user:
            users[str(user["id"])] = user
    posts = []
    for raw in body.get("data") or []:
        post = _post(raw, users) if isinstance(raw, dict) else None
        if post is None:
            log.warning("X sent a post without a usable id or created_at, passed over: %.200r", raw)
            continue
        posts.append(post)
    return posts


def _post(raw: dict, users: dict[str, dict]) -> Post | None:
    version_id = _optional_int(raw.get("id"))
    created_at = _time(raw.get("created_at"))
    if version_id is None or created_at is None:
        return None
    history = raw.get("edit_history_tweet_ids")
    original = _optional_int(history[0]) if isinstance(history, list) and history else None
    post_id = original if original is not None and original <= version_id else version_id
    refs = [r for r in raw.get("referenced_tweets") or [] if isinstance(r, dict)]
    replied_to = next((_optional_int(r.get("id")) for r in refs if r.get("type") == "replied_to"), None)
    author = users.get(str(raw.get("author_id")), {})
    metrics = author.get("public_metrics") if isinstance(author.get("public_metrics"), dict) else {}
    return Post(
        id=post_id,
        author_id=_optional_int(raw.get("author_id")),
        text=_no_nul(unescape_x(str(raw.get("text", "")))),
        created_at=created_at,
        conversation_id=_optional_int(raw.get("conversation_id")),
        replied_to_id=replied_to,
        in_reply_to_user_id=_optional_int(raw.get("in_reply_to_user_id")),
        reference_types=frozenset(str(r.get("type")) for r in refs),
        author_handle=_no_nul(str(author.get("username", "")))[:64],
        author_name=_no_nul(str(author.get("name", "")))[:200],
        version_id=version_id if version_id != post_id else None,
        display_start=_display_start(raw.get("display_text_range")),
        mentioned=_mentioned(raw.get("entities")),
        author_followers=_optional_int(metrics.get("followers_count")),
        author_protected=author.get("protected") is True,
    )


def _display_start(value: Any) -> int:
    start = _optional_int(value[0]) if isinstance(value, list) and value else None
    return max(0, start or 0)


def _mentioned(entities: Any) -> tuple[tuple[str, int], ...]:
    """The @handles in the text and where each starts (X's entities.mentions)."""
    found = entities.get("mentions") if isinstance(entities, dict) else None
    out = []
    for entry in found if isinstance(found, list) else []:
        if isinstance(entry, dict) and isinstance(entry.get("username"), str):
            start = _optional_int(entry.get("start"))
            if start is not None:
                out.append((entry["username"].lower()[:15], start))
    return tuple(out)
