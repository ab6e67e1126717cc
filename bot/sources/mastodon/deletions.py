"""Which statuses an instance no longer has (Source.deleted), asked within the rate budget the reads need.

- **Many at once**: Mastodon 4.3 answers GET /api/v1/statuses?id[]=… for up to MANY_IDS ids (more is a 422: the
  controller's check_statuses_limit against DEFAULT_STATUSES_LIMIT; the API docs give no number), leaving out the ids
  it does not have or that the token may not see: the same ones GET /api/v1/statuses/:id answers 404 for.
- **One by one** elsewhere: a server before 4.3, or one that is not Mastodon, answers that path with a 404 (or
  another 4xx); then each status is asked alone (404 or 410: deleted) and that is remembered for the adapter's life,
  so the probe costs one request a process. Until an answer has held one of the statuses asked for, a server may be
  ignoring `id[]` and answering [] whatever it is asked: the ids missing from such an answer are asked alone, and
  one found alive that way sends that server one by one for good.
- **Within the budget**: before each request, `Calls.spare()` (the reserve the thread look-ups keep too); once the
  window is down to its reserve, or a 429 comes, the look-ups stop and return what they found. What was not looked
  up counts as not deleted: the ping goes out (an alert about a deleted post is better than none about a live one),
  and a later look-up can still close it.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Sequence

from bot.errors import RateLimited, Rejected
from bot.sources.mastodon.calls import Calls, Gone
from bot.sources.mastodon.statuses import valid_id

log = logging.getLogger(__name__)

MANY_IDS = 20


class Deletions:
    def __init__(self, calls: Calls) -> None:
        self._calls = calls
        self._many: bool | None = None  # GET /api/v1/statuses?id[]=: True works, False not here, None not known yet

    def __call__(self, post_ids: Sequence[str]) -> set[str]:
        """The ids the instance no longer has, of those the budget let it be asked about."""
        together = deque(i for i in dict.fromkeys(post_ids) if valid_id(i))  # never ours: not one path segment
        alone: deque[str] = deque()
        gone: set[str] = set()
        try:
            while together or alone:
                if not self._calls.spare():
                    log.info("Mastodon: %d deletion look-up(s) put off: the rate limit is down to its reserve", len(together) + len(alone))
                    break
                if alone or self._many is False:
                    post_id = (alone or together).popleft()
                    if self._gone(post_id):
                        gone.add(post_id)
                    continue
                chunk = [together.popleft() for _ in range(min(MANY_IDS, len(together)))]
                found = self._found(chunk)
                if found is None:
                    together.extendleft(reversed(chunk))  # no such endpoint: asked one by one
                elif found or self._many:
                    self._many = True
                    gone.update(i for i in chunk if i not in found)
                else:
                    alone.extend(chunk)  # none came back, from an endpoint not known to read id[]: asked alone
        except RateLimited as exc:
            log.warning("Mastodon: deletion look-ups stopped (%s); those not answered count as not deleted", exc.message)
        return gone

    def _found(self, chunk: list[str]) -> set[str] | None:
        """Which of `chunk` the instance still has, in one request; None if it has no such endpoint."""
        try:
            answer = self._calls("statuses", self._calls.api.statuses, chunk)
        except Rejected as exc:
            if self._many:
                raise
            self._many = False
            log.info("Mastodon: no GET /api/v1/statuses?id[]= on this instance (%s); statuses are looked up one by one", exc.message)
            return None
        return {str(s["id"]) for s in self._calls.entries("statuses", answer)} & set(chunk)

    def _gone(self, post_id: str) -> bool:
        """Whether the instance answers 404 (or 410) for this status."""
        try:
            self._calls("status", self._calls.api.status, post_id)
        except Gone:
            return True
        if self._many is None:
            self._many = False
            log.info("Mastodon: GET /api/v1/statuses?id[]= left out a status it has; statuses are looked up one by one")
        return False
