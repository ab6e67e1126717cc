"""The Mastodon adapter: Mastodon.py's client on the account's instance, statuses translated into `Post`s once, here.

What is Mastodon's and stays in this folder (requests, errors and the rate budget: calls.py; notification policies:
filtered.py; deletion look-ups: deletions.py):

- **Mentions are notifications** of type `mention` (a reply to the account's post is one too), filtered ones
  included (filtered.py); the cursor is the newest *notification* id read, and `posts()`'s cursor the newest status
  id. A read with a cursor pages *up* from it with `min_id` (each page the statuses just above the last, Mastodon's
  `rel="prev"` link): a read stopped by its page budget resumes exactly there next time and loses nothing.
  (`since_id` would page down from the newest, and Mastodon's `rel="next"` link, like Mastodon.py's fetch_next,
  drops it: a stopped read would leave a hole.) A read without a cursor pages down (`max_id`) until it is older
  than `since`.
- **Content is HTML**: `text.status_text` makes it the typed text once; the content warning goes in front.
- **Direct (and followers-only) statuses are private**: their text must not be shown in a channel.
- **No thread ids**: `conversation_id` is the thread's first post. A status that replies to nothing is its own
  root; a reply's root is its parent's when this adapter has seen the parent, else one
  `GET /api/v1/statuses/:id/context` (`ancestors[0]`). Cost: at most one request per reply whose parent is new to
  the adapter (the account's own replies mostly answer mentions already seen, so they cost nothing), at most
  LOOKUPS_PER_READ per read, none while the window is down to its reserve (`Calls.spare`): the timeline reads come
  first. A look-up that fails or is skipped leaves conversation_id None (the mention can still be answered by a
  direct reply); it never fails the read.
- **Edits keep the id** (`edited_at` changes): version_id stays None.
- **Replies** (`reply`): POST /api/v1/statuses with the draft's key as Idempotency-Key, addressed to the mention's
  author, in the mention's visibility (one GET of the mention says which); the instance's own limit, kept for an
  hour (replies.py holds these rules).
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from functools import partial
from typing import Any

from bot.errors import AuthFailed, BadResponse, Rejected, ServiceError, UnknownAccount
from bot.model import Account, Draft, Network, Post, Read, Timeline
from bot.sources.mastodon import filtered, replies
from bot.sources.mastodon.calls import SERVICE, Calls, Gone
from bot.sources.mastodon.deletions import Deletions
from bot.sources.mastodon.statuses import order, parse_post, valid_id

log = logging.getLogger(__name__)

# Pages per read: 80 notifications (Mastodon's most) or 40 statuses a page. Ten pages are 800 mentions or 400 posts
# in one poll; a flood beyond that is read over the next polls (a read with a cursor resumes where it stopped).
MENTION_PAGE, POST_PAGE, PAGES = 80, 40, 10
LOOKUPS_PER_READ = 20  # thread-root look-ups (one request each) in one read
ROOTS_KEPT = 10_000  # status id → thread root, least recently used dropped first

Unwrap = Callable[[dict], tuple[dict | None, Any]]  # an item of a page → (the status it is about, when it happened)


class MastodonSource:
    network = Network.MASTODON

    def __init__(self, *, instance: str, handle: str, access_token: str, timeout: float) -> None:
        self.handle = handle.strip().lstrip("@")
        self._calls = Calls(instance=instance, access_token=access_token, timeout=timeout)
        self._api = self._calls.api
        self._deletions = Deletions(self._calls)
        self._me: Account | None = None
        self._roots: OrderedDict[str, str | None] = OrderedDict()
        self._lookups = 0
        self._limit = replies.Limit(lambda: self._calls("instance", self._api.instance_v2))

    # --- Source -----------------------------------------------------------------------------------------

    def account(self) -> Account:
        """The account the token belongs to, once; AuthFailed if it is not the configured handle."""
        if self._me is None:
            raw = self._calls("verify credentials", self._api.account_verify_credentials)
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
            raw = self._calls("account lookup", self._api.account_lookup, handle.strip().lstrip("@"))
        except Gone:
            raise UnknownAccount(SERVICE, f"no account @{handle.strip().lstrip('@')} known to the instance") from None
        found = _account(raw)
        if found is None:
            raise BadResponse(SERVICE, "account lookup: no account id in the answer")
        return found

    def mentions(self, cursor: str | None, since: datetime) -> Timeline:
        """Mention notifications, filtered ones included, newer than `cursor` (a notification id) or, with none,
        since `since`; once after a cursor from before filtered ones were asked for, those it missed as well."""
        # Only "mention": Mastodon 4.5's "quote" notifications are not read yet (a quote that names the account is
        # a mention anyway).
        cursor, asked = filtered.unmarked(cursor)
        cursor = self._usable("mentions", cursor, since)
        missed = filtered.catch_up(self._calls, cursor, since, MENTION_PAGE) if cursor is not None and not asked else []
        first = partial(self._api.notifications, types=["mention"])
        read = self._read("mentions", first, cursor, since, MENTION_PAGE, _mention, held=filtered.held)
        if missed:  # all below the cursor, so older than what the read found
            posts, held = self._posts(missed, None, since, _mention, filtered.held)
            read = replace(read, posts=read.posts + posts, filtered=read.filtered + held)
        return read if read.cursor is None else replace(read, cursor=read.cursor + filtered.MARK)

    def posts(self, who: Account, cursor: str | None, since: datetime) -> Timeline:
        """`who`'s statuses, replies included and boosts left out, newer than `cursor` (a status id) or since `since`."""
        first = partial(self._api.account_statuses, who.id, exclude_reblogs=True)
        return self._read("posts", first, self._usable("posts", cursor, since), since, POST_PAGE, _own)

    def deleted(self, post_ids: Sequence[str]) -> set[str]:
        """The ids the instance no longer has, as far as the rate budget lets it be asked (see deletions.py)."""
        return self._deletions(post_ids)

    def reads(self) -> list[Read]:
        return self._calls.reads()

    # --- replies (replies.py says how) ---------------------------------------------------------------------

    def reply_limit(self) -> int:
        """The instance's max_characters (GET /api/v2/instance), kept for an hour; 500 where it says nothing."""
        return self._limit()

    def length(self, text: str) -> int:
        """Characters, a URL as 23 and a remote mention @user@domain as @user."""
        return replies.length(text)

    def write_refusal(self) -> str | None:
        return None  # a token without write:statuses says so only when it posts

    def reply(self, draft: Draft, retry: bool = False) -> Post:
        """Post `draft` in reply to its mention, with its key as Idempotency-Key (so `retry` needs nothing more)."""
        me = self.account()
        try:
            mention = self._calls("reply parent", self._api.status, draft.mention.id)
        except Gone:
            raise Rejected(SERVICE, "reply: the post replied to is gone (deleted)") from None
        author = mention.get("account") if isinstance(mention, dict) else None
        acct = str(author.get("acct") or "") if isinstance(author, dict) else draft.mention.author_handle
        if not draft.text.strip():
            raise Rejected(SERVICE, "reply: the text is empty")
        text = replies.addressed(draft.text, acct if acct != me.username else "")
        size, most = replies.length(text), self.reply_limit()
        if size > most:
            named = " with the author's @handle in front" if text != draft.text else ""
            raise Rejected(SERVICE, f"reply: {size} characters as the instance counts them{named}, over its {most}")
        visibility = replies.visibility(draft, mention.get("visibility") if isinstance(mention, dict) else None)
        try:
            raw = self._calls(
                "reply", self._api.status_post, text, in_reply_to_id=draft.mention.id, visibility=visibility,
                idempotency_key=draft.key,
            )
        except AuthFailed as exc:
            raise (exc.redact(lambda m: f"{m}; {replies.NO_SCOPE}") if replies.out_of_scope(exc) else exc) from None
        except Rejected as exc:
            if replies.too_long(exc):
                self._limit.forget()  # the instance's limit changed: read it again next time
            raise
        if draft.mention.conversation_id is not None:
            self._roots.setdefault(draft.mention.id, draft.mention.conversation_id)  # as a read would know the thread
        post = parse_post(raw, self._root) if isinstance(raw, dict) else None
        if post is None:
            raise BadResponse(SERVICE, "reply: the answer is not a status (it may have been posted: retry)")
        return post

    # --- reading ----------------------------------------------------------------------------------------

    @staticmethod
    def _usable(what: str, cursor: str | None, since: datetime) -> str | None:
        if cursor is not None and not valid_id(cursor):
            log.warning("Mastodon %s: the stored cursor %r is not an id; reading since %s instead", what, cursor, since)
            return None
        return cursor

    def _read(
        self, what: str, first: Callable[..., Any], cursor: str | None, since: datetime, size: int, unwrap: Unwrap,
        held: Callable[[dict], bool] | None = None,
    ) -> Timeline:
        """Every item newer than `cursor` (paging up from it) or, with none, since `since` (paging down); `held`
        says which items the instance had filtered (Timeline.filtered counts them)."""
        self._lookups = 0
        found, complete = self._fetch(what, first, cursor, since, size)
        items = {str(r["id"]): r for r in found if cursor is None or order(r["id"]) > order(cursor)}  # a server ignoring min_id
        posts, filtered_count = self._posts(list(items.values()), cursor, since, unwrap, held)
        newest = max(items, key=order, default=cursor)  # past the statuses passed over too: they are not read again
        return Timeline(posts=posts, cursor=newest, rate=self._calls.rate(), complete=complete, filtered=filtered_count)

    def _posts(
        self, items: list[dict], cursor: str | None, since: datetime, unwrap: Unwrap, held: Callable[[dict], bool] | None,
    ) -> tuple[list[Post], int]:
        """The posts of these items, newest first (without a cursor, none older than `since`), and how many of
        them `held` says the instance had filtered."""
        posts, count = [], 0
        for raw in sorted(items, key=lambda r: order(r["id"]), reverse=True):
            status, created_at = unwrap(raw)
            if status is None or (cursor is None and isinstance(created_at, datetime) and _utc(created_at) < since):
                continue
            post = parse_post(status, self._root)
            if post is None:
                shown = self._calls.shown(status)
                log.warning("Mastodon sent a status without a usable id, author, time or content, passed over: %s", shown)
                continue
            posts.append(post)
            count += held is not None and held(raw)
        return posts, count

    def _fetch(self, what: str, first: Callable[..., Any], cursor: str | None, since: datetime, size: int) -> tuple[list[dict], bool]:
        """The items of up to PAGES pages, up from `cursor` or down from the newest until older than `since`; and
        False when the page budget ended the read, or the server sent a page that did not move."""
        up = cursor is not None
        page = self._calls(what, first, limit=size, **({"min_id": cursor} if up else {}))
        found: list[dict] = []
        edge = cursor
        for number in range(1, PAGES + 1):
            entries = self._calls.entries(what, page)
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
                page = self._calls(what, self._api.fetch_previous if up else self._api.fetch_next, page)
        log.warning("Mastodon %s: still more after %d pages, the page budget of one read; the rest comes next read", what, PAGES)
        return found, False

    def _root(self, status_id: str, parent_id: str | None) -> str | None:
        """The first post of the thread `status_id` is in (see the module docstring for what it costs)."""
        if parent_id is None:
            root: str | None = status_id
        elif parent_id in self._roots:
            root = self._roots[parent_id]
        elif status_id in self._roots:
            root = self._roots[status_id]
        elif self._lookups >= LOOKUPS_PER_READ or not self._calls.spare():
            return None  # not remembered: a later read may look it up
        else:
            self._lookups += 1
            try:
                context = self._calls("thread", self._api.status_context, status_id)
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
