"""Mastodon 4.3's notification policies, as the mentions read meets them.

An instance may *filter* what some accounts do (accounts the brand doesn't follow, new accounts, moderated ones,
private mentions from strangers: often exactly the people it must answer). Their notifications are stored like any
other, with ids in the same sequence, but GET /api/v1/notifications leaves them out unless `include_filtered=true`;
they wait, grouped per account, under GET /api/v1/notifications/requests. Accepting a request later lets them into
the list with their old ids, below any cursor (missed for good by a read that did not ask); dismissing one deletes
them. (A policy set to "drop" creates no notification at all: nothing any client can read.)

So every notifications read asks for them (calls.py adds include_filtered=true): each is read once, when it
arrives, whatever the brand later does with its request, and what an accept lets in is never read again (it is
below the cursor already). The answer marks each `"filtered": true`; Timeline.filtered counts them (`held`). A
server before 4.3 filters nothing and ignores the parameter.

One gap is left by a cursor stored before the reads asked for filtered notifications: what the instance filtered
before it and still holds would appear only once accepted, below that cursor. Cursors made since carry MARK; the
first read from one without it catches those up once (`catch_up`): the pending requests (one request, up to
CATCH_UP of them), then, for each request updated since `since`, that account's filtered mentions below the cursor
(one request each, up to a page). A server without notification requests (404: before 4.3) or that refuses them has
nothing to catch up. If a request of the catch-up fails, the read fails as a whole and is retried: nothing is
returned twice, and a cursor gets its MARK only with everything below it read.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from bot.errors import AuthFailed, BadResponse, Rejected
from bot.sources.mastodon.calls import Calls
from bot.sources.mastodon.statuses import order, valid_id

log = logging.getLogger(__name__)

MARK = "+filtered"  # ends a cursor made by a read that asked for filtered notifications (never in an id)
CATCH_UP = 40  # pending notification requests a catch-up looks at (Mastodon's default page)


def held(notification: dict) -> bool:
    """Whether the instance's policy had filtered this notification when it was read."""
    return notification.get("filtered") is True


def unmarked(cursor: str | None) -> tuple[str | None, bool]:
    """The notification id in a stored cursor, and whether the read that made it asked for filtered notifications."""
    if cursor is not None and cursor.endswith(MARK):
        return cursor[: -len(MARK)], True
    return cursor, False


def catch_up(calls: Calls, before: str, since: datetime, size: int) -> list[dict]:
    """The mention notifications the instance filtered below `before` and still holds in a request updated since
    `since`; [] when this server has none to give. Unavailable and RateLimited propagate (the read is retried)."""
    try:
        requests = calls.entries("notification requests", calls("notification requests", calls.api.notification_requests, limit=CATCH_UP))
    except (Rejected, AuthFailed, BadResponse) as exc:  # no notification policies here (a 404 before 4.3), or refused
        log.info("Mastodon: no filtered notifications to catch up (%s)", exc.message)
        return []
    if len(requests) >= CATCH_UP:
        log.warning("Mastodon: more than %d pending notification requests; the older ones are not caught up", CATCH_UP)
    found: list[dict] = []
    for request in requests:
        account, updated = request.get("account"), request.get("updated_at")
        if not isinstance(account, dict) or not valid_id(account.get("id")):
            continue
        if isinstance(updated, datetime) and _utc(updated) < since:
            continue  # nothing of that account's filtered since `since`
        what = "filtered mentions"
        try:
            page = calls(what, calls.api.notifications, account_id=account["id"], max_id=before, types=["mention"], limit=size)
            entries = calls.entries(what, page)
        except (Rejected, BadResponse) as exc:
            log.warning("Mastodon: the filtered mentions from account %s could not be read (%s)", account["id"], exc.message)
            continue
        found += [n for n in entries if held(n) and order(str(n["id"])) < order(before)]
    if found:
        log.info("Mastodon: %d mention(s) the instance filtered before replywatch asked for them caught up", len(found))
    return found


def _utc(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
