"""Look-ups that are not reads (is this mention deleted? which thread is it in?) never starve the reads that collect
mentions of the rate limit they share: the Mastodon adapter against its stand-in, through the real Mastodon.py."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from bot.sources.mastodon import MastodonSource
from bot.sources.mastodon.calls import RATE_RESERVE
from bot.standins.http import Reply, Request
from bot.standins.mastodon_api import MANY_STATUSES, FakeMastodon

TOKEN = "masto-bulkhead-token-41d7"
MANY = "/api/v1/statuses"  # GET /api/v1/statuses?id[]=… (4.3+), and GET /api/v1/statuses/:id one by one


@pytest.fixture
def fake() -> Iterator[FakeMastodon]:
    fake = FakeMastodon(token=TOKEN, limit=60, window=timedelta(minutes=1))  # a tight instance: 60 requests a minute
    for handle in ("acme", "bob"):
        fake.add_account(handle)
    yield fake
    fake.close()


def source(fake: FakeMastodon) -> MastodonSource:
    return MastodonSource(instance=fake.url, handle="acme", access_token=TOKEN, timeout=5.0)


def since() -> datetime:
    return datetime.now(UTC) - timedelta(hours=1)


def due(fake: FakeMastodon, count: int) -> tuple[MastodonSource, list[str], str | None]:
    """`count` mentions read (as a poll would), so that they are all due for a look-up; and the cursor after them."""
    ids = [fake.post(fake.account("bob"), f"@acme question {i}") for i in range(count)]
    src = source(fake)
    read = src.mentions(None, since())
    assert sorted(p.id for p in read.posts) == sorted(ids)
    return src, ids, read.cursor


def test_ninety_look_ups_take_a_few_batched_requests_and_the_next_read_is_not_refused(fake: FakeMastodon) -> None:
    src, ids, cursor = due(fake, 90)
    for gone in ids[::30]:
        fake.delete(gone)
    assert src.deleted(ids) == set(ids[::30])
    assert len(fake.http.calls(MANY)) == math.ceil(90 / MANY_STATUSES)  # 5 requests, not 90
    assert all(len(r.query["id[]"].split(",")) <= MANY_STATUSES for r in fake.http.calls(MANY))
    new = fake.post(fake.account("bob"), "@acme and one more")
    assert [p.id for p in src.mentions(cursor, since()).posts] == [new]


def test_without_the_batch_endpoint_look_ups_go_one_by_one_and_stop_at_the_reserve(fake: FakeMastodon) -> None:
    fake.version = "4.2.0"  # before 4.3: GET /api/v1/statuses (no id) is a 404
    src, ids, cursor = due(fake, 90)
    fake.delete(ids[0])
    fake.delete(ids[1])
    gone = src.deleted(ids)
    assert gone == {ids[0], ids[1]}  # found before the reserve was reached; the rest count as not deleted
    assert len(fake.http.calls(MANY + "/")) < 90  # stopped part of the way
    assert fake.remaining >= RATE_RESERVE * fake.limit - 1  # the reserve is left for the reads
    new = fake.post(fake.account("bob"), "@acme still there?")
    assert [p.id for p in src.mentions(cursor, since()).posts] == [new]  # not refused with 429
    probes = [r for r in fake.http.requests if r.path == MANY]
    assert len(probes) == 1  # the missing endpoint was tried once
    src.deleted(ids[:3])
    assert len([r for r in fake.http.requests if r.path == MANY]) == 1  # and is remembered


def test_look_ups_wait_while_the_window_is_low_and_run_once_it_has_reset(fake: FakeMastodon) -> None:
    src, ids, _ = due(fake, 5)
    fake.delete(ids[0])
    fake.remaining = 10  # someone else spent the window: below the reserve
    src.mentions(None, since())  # the client learns it from a read's headers
    before = len(fake.http.calls(MANY))
    assert src.deleted(ids) == set() and len(fake.http.calls(MANY)) == before  # not known yet, nothing spent
    fake.window_reset = datetime.now(UTC)  # the window is over: the next answer starts a new one
    src.mentions(None, since())
    assert src.deleted(ids) == {ids[0]}


def test_a_429_ends_the_look_ups_with_what_was_found(fake: FakeMastodon) -> None:
    src, ids, _ = due(fake, 30)
    fake.delete(ids[0])
    fake.delete(ids[25])
    batches = []

    def spend(request: Request) -> None:
        if request.path == MANY:
            batches.append(request)
            if len(batches) == 2:
                fake.remaining = 0  # another client of the token spent the window meanwhile: this one gets a 429

    fake.http.before = spend
    assert src.deleted(ids) == {ids[0]}  # the second batch (with ids[25]) was refused: not known, so not deleted
    assert len(batches) == 2


def test_a_server_that_ignores_id_brackets_is_not_believed(fake: FakeMastodon) -> None:
    src, ids, _ = due(fake, 3)
    fake.delete(ids[2])
    fake.http.fail(MANY, Reply(200, []))  # every status "missing": a server answering [] whatever it is asked
    assert src.deleted(ids) == {ids[2]}  # confirmed one by one: the live ones were found
    asked = len([r for r in fake.http.requests if r.path == MANY])
    src.deleted(ids)
    assert len([r for r in fake.http.requests if r.path == MANY]) == asked  # and that server is asked one by one since
