"""The Bluesky adapter: the atproto SDK's Client pointed at the PDS, with a timeout on every request.

What is Bluesky-specific and lives only here:
- The session. createSession is scarce, so the adapter logs in with the app password only when no stored session
  works, persists the session string whenever it is created or refreshed (the SDK's on_session_change), and lets the
  SDK refresh the access token (refreshSession) before it expires. A refresh token the server refused is dead: it is
  dropped, from the store too, and exactly one login follows. Every login is first logged with the session and
  allowed only when bot.sources.bluesky.session says so; a login that must wait raises RateLimited with its time
  (a 429's ratelimit-reset, to the second), or AuthFailed when the last one was refused.
- No since_id: notifications and the author feed are paged back, newest first, until an item the stored cursor
  marks as read (its newest indexedAt and the uris at that instant) or older than `since`, within a page budget.
- Replies: createRecord under a record key derived from the draft, so that a retry cannot post twice; a failed
  retry is confirmed with getRecord (bot.sources.bluesky.replies holds the rules: length, thread refs, the key).
Errors come out as bot.errors classes with the app password and tokens redacted from their messages.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import httpx
from atproto_client import models
from atproto_client.client.session import Session, SessionEvent
from atproto_client.exceptions import BadRequestError, LoginRequiredError, RateLimitExceededError, UnauthorizedError
from atproto_client.models.utils import get_response_model
from atproto_client.request import Response
from atproto_core.exceptions import AtProtocolError

from bot.errors import AuthFailed, BadResponse, RateLimited, Rejected, ServiceError, UnknownAccount
from bot.logs import Redactor
from bot.model import Account, Draft, Network, Post, RateInfo, Read, Timeline
from bot.sources.bluesky import replies, translate
from bot.sources.bluesky.errors import SERVICE, RefreshRefused, classify, describe, needs_new_tokens, rate_info
from bot.sources.bluesky.sdk import SdkClient, SessionStore
from bot.sources.bluesky.session import Kept, Login, next_login
from bot.sources.bluesky.translate import Entry, Mark
from bot.sources.meter import ReadCounter

log = logging.getLogger(__name__)

PAGE_SIZE = 100
# Pages one read follows: 1,000 notifications or own posts between two polls is a flood; past that the read stops
# with complete=False rather than follow a server paging for ever.
MAX_PAGES = 10
GET_POSTS_BATCH = 25  # app.bsky.feed.getPosts takes at most 25 uris
REPLY = "reply"


class BlueskySource:
    """bot.ports.Source for one Bluesky account, logged in with an app password."""

    network = Network.BLUESKY

    def __init__(
        self,
        *,
        base_url: str,
        handle: str,
        app_password: str,
        timeout: float,
        sessions: SessionStore,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._base_url = base_url
        self._handle = handle.lstrip("@")
        self._password = app_password
        self._timeout = timeout
        self._sessions = sessions
        self._clock = clock
        self._key = f"bluesky:{self._handle}"
        self._client: SdkClient | None = None
        self._account: Account | None = None
        self._secrets: set[str] = {app_password}
        self._reads = ReadCounter()

    # --- the port ----------------------------------------------------------------------------------------

    def account(self) -> Account:
        """The watched account (its DID, handle and display name), looked up once."""
        if self._account is None:
            self._account = self.lookup(self._handle)
        return self._account

    def lookup(self, handle: str) -> Account:
        """Another account by handle (or DID); UnknownAccount if Bluesky has none."""
        params = models.AppBskyActorGetProfile.Params(actor=handle.lstrip("@"))
        try:
            response = self._query("profile", "app.bsky.actor.getProfile", params)
        except Rejected as exc:
            raise UnknownAccount(SERVICE, f"no account @{handle.lstrip('@')}") from exc
        profile = self._guard(lambda: get_response_model(response, models.AppBskyActorDefs.ProfileViewDetailed))
        return Account(id=profile.did, username=profile.handle, name=profile.display_name or "")

    def mentions(self, cursor: str | None, since: datetime) -> Timeline:
        """Mentions, replies and quotes of the account, newer than `cursor` or since `since`."""
        reasons = list(translate.TALKING_REASONS)

        def page(api_cursor: str | None) -> tuple[list[Any], str | None, Response]:
            params = models.AppBskyNotificationListNotifications.Params(limit=PAGE_SIZE, reasons=reasons, cursor=api_cursor)
            response = self._query("notifications", "app.bsky.notification.listNotifications", params)
            return self._items(response, "notifications"), response.content.get("cursor"), response

        return self._page_back("notifications", page, translate.notification, cursor, since)

    def posts(self, who: Account, cursor: str | None, since: datetime) -> Timeline:
        """`who`'s posts and replies (reposts left out), newer than `cursor` or since `since`."""

        def page(api_cursor: str | None) -> tuple[list[Any], str | None, Response]:
            params = models.AppBskyFeedGetAuthorFeed.Params(
                actor=who.id, filter="posts_with_replies", limit=PAGE_SIZE, cursor=api_cursor
            )
            response = self._query("author feed", "app.bsky.feed.getAuthorFeed", params)
            return self._items(response, "feed"), response.content.get("cursor"), response

        return self._page_back("author feed", page, translate.feed_item, cursor, since)

    def deleted(self, post_ids: Sequence[str]) -> set[str]:
        """Which of these posts Bluesky no longer has: getPosts simply omits them."""
        wanted = list(dict.fromkeys(post_ids))
        found: set[str] = set()
        for i in range(0, len(wanted), GET_POSTS_BATCH):
            params = models.AppBskyFeedGetPosts.Params(uris=wanted[i : i + GET_POSTS_BATCH])
            response = self._query("posts lookup", "app.bsky.feed.getPosts", params)
            found |= {p["uri"] for p in self._items(response, "posts") if isinstance(p, dict) and isinstance(p.get("uri"), str)}
        return set(wanted) - found

    def reads(self) -> list[Read]:
        return self._reads.take()

    # --- replies (bot.sources.bluesky.replies says how) ------------------------------------------------------

    def reply_limit(self) -> int:
        return replies.LIMIT

    def length(self, text: str) -> int:
        """Graphemes: an emoji with its skin tone counts 1."""
        return replies.length(text)

    def write_refusal(self) -> str | None:
        return None  # an app password may post

    def reply(self, draft: Draft, retry: bool = False) -> Post:
        """Create the reply under the record key of `draft`; with `retry`, a failed create is confirmed by reading
        that record back (an earlier attempt may have made it, and a duplicate key is answered with a bare 500)."""
        size = replies.length(draft.text)
        if size > replies.LIMIT:
            raise Rejected(SERVICE, f"{REPLY}: {size} characters (graphemes), over Bluesky's {replies.LIMIT}")
        if not draft.text.strip():
            raise Rejected(SERVICE, f"{REPLY}: the text is empty")
        me = self.account()
        rkey = replies.record_key(draft)
        try:
            record = replies.record(draft, self._thread(draft.mention.id), self._clock())
            data = models.ComAtprotoRepoCreateRecord.Data(repo=me.id, collection=translate.POST_COLLECTION, rkey=rkey, record=record)
            response = self._xrpc(REPLY, "com.atproto.repo.createRecord", data=data)
        except ServiceError:
            if retry and (found := self._made(me, rkey, draft)) is not None:
                return found
            raise
        if response.content.get("uri") != replies.uri(me.id, rkey):
            raise self._redacted(BadResponse(SERVICE, f"{REPLY}: the answer names another record (it may have been posted: retry)"))
        return self._guard(lambda: translate.created(replies.uri(me.id, rkey), record, me, self._clock()))

    def _thread(self, mention: str) -> tuple[Any, Any]:
        """(root, parent) strong refs for a reply to `mention`; Rejected when it is gone or gated."""
        response = self._query("reply parent", "app.bsky.feed.getPosts", models.AppBskyFeedGetPosts.Params(uris=[mention]))
        view = next((v for v in self._items(response, "posts") if isinstance(v, dict) and v.get("uri") == mention), None)
        if view is None:
            raise Rejected(SERVICE, f"{REPLY}: the post replied to is gone (deleted)")
        return self._guard(lambda: replies.thread(view))

    def _made(self, me: Account, rkey: str, draft: Draft) -> Post | None:
        """The reply an earlier attempt made under `rkey`, read back with getRecord; None if there is none (or the
        look-up failed too: the caller's error stands)."""
        params = models.ComAtprotoRepoGetRecord.Params(repo=me.id, collection=translate.POST_COLLECTION, rkey=rkey)
        try:
            value = self._query("reply check", "com.atproto.repo.getRecord", params).content.get("value")
        except ServiceError as exc:
            log.info("Bluesky: no reply under record key %s yet (%s)", rkey, exc.message)
            return None
        if not replies.answers(value, draft):
            log.warning("Bluesky: the record under key %s is not this draft's reply; not taken for it", rkey)
            return None
        log.info("Bluesky: the reply under record key %s was made by an earlier attempt", rkey)
        try:
            return translate.created(replies.uri(me.id, rkey), value, me, self._clock())
        except Exception:  # noqa: BLE001 - a record the SDK's model refuses is no answer to go by
            log.warning("Bluesky: the record under key %s is not in the documented shape", rkey)
            return None

    # --- reading ---------------------------------------------------------------------------------------------

    def _page_back(
        self,
        what: str,
        page: Callable[[str | None], tuple[list[Any], str | None, Response]],
        translate_item: Callable[[Any], Entry | None],
        cursor: str | None,
        since: datetime,
    ) -> Timeline:
        """Follow the API's cursor back until an item already read (or older than `since`), within MAX_PAGES."""
        mark = Mark.decode(cursor) if cursor else None
        posts: dict[str, Post] = {}  # a page served twice must not count twice
        newest: Mark | None = None
        api_cursor: str | None = None
        seen: set[str] = set()
        rate: RateInfo | None = None
        complete = True
        for number in range(1, MAX_PAGES + 1):
            items, api_cursor, response = page(api_cursor)
            rate = rate_info(response.headers) or rate
            reached = False
            for entry in filter(None, map(translate_item, items)):
                if mark.covers(entry) if mark is not None else entry.at < since:
                    reached = True
                    continue
                newest = Mark.newer(newest, entry)
                if entry.post is not None:
                    posts.setdefault(entry.post.id, entry.post)
            if reached or not isinstance(api_cursor, str) or not api_cursor:
                break
            if api_cursor in seen:
                log.warning(
                    "Bluesky %s: cursor repeated, a page already read; stopped after %d pages, keeping %d posts", what, number, len(posts)
                )
                complete = False
                break
            seen.add(api_cursor)
        else:
            log.warning(
                "Bluesky %s: still a cursor after %d pages, the page budget of one read; stopped, keeping %d posts",
                what, MAX_PAGES, len(posts),
            )
            complete = False
        if newest is None:
            new_cursor = cursor
        else:
            new_cursor = (newest.merged(mark) if mark is not None and mark.at == newest.at else newest).encode()
        return Timeline(posts=list(posts.values()), cursor=new_cursor, rate=rate, complete=complete)

    def _items(self, response: Response, field: str) -> list[Any]:
        content = response.content
        items = content.get(field) if isinstance(content, dict) else None
        cursor = content.get("cursor") if isinstance(content, dict) else None
        if not isinstance(items, list) or not (cursor is None or isinstance(cursor, str)):
            raise self._redacted(BadResponse(SERVICE, f"{field}: response is not in the documented shape"))
        return items

    # --- requests and the session ---------------------------------------------------------------------------

    def _query(self, what: str, nsid: str, params: Any) -> Response:
        """One XRPC query (see `_xrpc`)."""
        return self._xrpc(what, nsid, params=params)

    def _xrpc(self, what: str, nsid: str, params: Any = None, data: Any = None) -> Response:
        """One XRPC call: a query, or with `data` a procedure; refreshes (or, the refresh token refused, logs in) once
        when the tokens need it."""
        for attempt in (1, 2):
            client = self._guard(self._connected)
            response = None
            try:
                if data is None:
                    response = client.invoke_query(nsid, params=params, output_encoding="application/json")
                else:
                    response = client.invoke_procedure(
                        nsid, data=data, input_encoding="application/json", output_encoding="application/json"
                    )
            except (RefreshRefused, LoginRequiredError, AtProtocolError) as exc:
                if attempt == 1 and needs_new_tokens(exc):
                    self._guard(lambda c=client, e=exc: self._renew(c, e))  # noqa: B023 - used at once
                    continue
                raise self._redacted(classify(what, exc, self._redact)) from None
            except (httpx.HTTPError, ValueError) as exc:
                raise self._redacted(classify(what, exc, self._redact)) from None
            finally:
                self._reads.count(what, _posts_in(response.content if response is not None else None))
            if not isinstance(response.content, dict):
                raise self._redacted(BadResponse(SERVICE, f"{what}: response is not a JSON object (HTTP {response.status_code})"))
            return response
        raise self._redacted(AuthFailed(SERVICE, f"{what}: the new session was refused too"))

    def _connected(self) -> SdkClient:
        """The client with a session: the stored one resumed, else a new login (if the log of logins allows one)."""
        if self._client is not None:
            return self._client
        kept = self._kept()
        if kept.session:
            self._secrets.update(kept.session.split(":::")[2:4])  # handle:::did:::access:::refresh:::pds
            client = self._new_client()
            try:
                client.login(session_string=kept.session, fetch_bsky_profile=False)  # no request: the SDK imports it
            except (ValueError, AtProtocolError):
                log.warning("Bluesky: the stored session for @%s is unreadable; logging in again", self._handle)
            else:
                self._client = client
                return client
        self._client = self._login(kept, "no usable session")  # only with a session: a refused login is tried later
        return self._client

    def _new_client(self) -> SdkClient:
        client = SdkClient(self._base_url, self._timeout, self._clock)
        client.on_session_change(self._session_changed)
        return client

    def _renew(self, client: SdkClient, exc: BaseException) -> None:
        """New tokens: a refresh when the PDS says the access token expired before our clock did; otherwise, or the
        refresh token refused, the session is dead and dropped (the next `_connected` logs in, once)."""
        if isinstance(exc, BadRequestError):
            try:
                client._refresh_and_set_session()
                return
            except RefreshRefused:
                pass
        refused = isinstance(exc, RefreshRefused | BadRequestError)
        log.warning(
            "Bluesky: %s for @%s; the session is dropped and a new login follows",
            "the refresh token was refused" if refused else "the session is unreadable", self._handle,
        )
        self._client = None
        self._keep(self._kept().with_session(None))

    def _login(self, kept: Kept, why: str) -> SdkClient:
        """A client logged in by createSession, if the kept log of logins allows one now (else RateLimited until it
        does, or AuthFailed after a refused login); the attempt is logged before it is sent."""
        now = self._clock()
        wait = next_login(kept.logins, now)
        if wait is not None:
            message = f"login: {wait.why}; next login attempt after {wait.until.isoformat(timespec='seconds')}"
            raise AuthFailed(SERVICE, message) if wait.refused else RateLimited(SERVICE, message, until=wait.until)
        self._keep(kept.with_login(Login(now)))
        client = self._new_client()
        log.info("Bluesky: logging in as @%s (%s)", self._handle, why)
        try:
            client.login(self._handle, self._password, fetch_bsky_profile=False)
        except RateLimitExceededError as exc:
            self._keep(self._kept().answered("limited", exc.reset_at))
            raise classify("login", exc, self._redact) from None
        except (UnauthorizedError, BadRequestError) as exc:
            self._keep(self._kept().answered("refused"))
            raise AuthFailed(SERVICE, f"login refused: {describe(exc, self._redact)}") from None
        except (AtProtocolError, httpx.HTTPError, ValueError) as exc:
            self._keep(self._kept().answered("failed"))
            raise classify("login", exc, self._redact) from None
        return client

    def _session_changed(self, event: SessionEvent, session: Session) -> None:
        self._secrets.update((session.access_jwt, session.refresh_jwt))
        if event is SessionEvent.CREATE:  # the login answered: its outcome is kept with the session it gave
            self._keep(self._kept().with_session(session.export()).answered("ok"))
        elif event is SessionEvent.REFRESH:
            self._keep(self._kept().with_session(session.export()))

    def _kept(self) -> Kept:
        return Kept.decode(self._sessions.load(self._key))

    def _keep(self, kept: Kept) -> None:
        self._sessions.save(self._key, kept.encode())

    def _guard(self, call: Callable[[], Any]) -> Any:
        """Run a step whose ServiceError must leave with the secrets redacted; a malformed body is BadResponse."""
        try:
            return call()
        except ServiceError as exc:
            raise self._redacted(exc) from None
        except AtProtocolError as exc:
            raise self._redacted(classify("request", exc, self._redact)) from None

    def _redact(self, text: str) -> str:
        return Redactor(self._secrets).redact(text)

    def _redacted(self, exc: ServiceError) -> ServiceError:
        return exc.redact(self._redact)


def _posts_in(content: Any) -> int:
    """The posts an answer carries (notifications, a feed's items, looked-up posts); a profile carries none."""
    if not isinstance(content, dict):
        return 0
    return sum(len(v) for k in ("notifications", "feed", "posts") if isinstance(v := content.get(k), list))
