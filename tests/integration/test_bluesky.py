"""The Bluesky adapter beyond the contract: the kept session (one login, refreshes, restarts, refused tokens, the
createSession budget and 429s), paging back over many pages and the page budget, timeouts, passed-over items and
secrets in error bodies. The real atproto client talks to FakeBluesky over loopback; one fake clock drives both the
stand-in's token expiry and the SDK's own expiry check (the adapter hands its clock to the SDK's get_current_time, so
no wall-clock patching is needed). Where the poll loop matters, `drive` schedules reads as it does: bot.backoff
applied to what each read returned or raised (RateLimited.until above all), on the fake clock."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest

from bot import backoff
from bot.errors import AuthFailed, RateLimited, ServiceError, Unavailable, UnknownAccount
from bot.model import Account, Timeline
from bot.sources.bluesky import BlueskySource
from bot.sources.bluesky.client import MAX_PAGES
from bot.standins.bluesky_api import FakeBluesky, Notification, Record
from bot.standins.http import Reply
from tests.contract.bluesky import APP_PASSWORD, MemorySessions

CREATE = "com.atproto.server.createSession"
REFRESH = "com.atproto.server.refreshSession"
LIST = "app.bsky.notification.listNotifications"


class FakeClock:
    def __init__(self) -> None:
        self.at = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.at

    def advance(self, **kwargs: float) -> None:
        self.at += timedelta(**kwargs)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def api(clock: FakeClock) -> Iterator[FakeBluesky]:
    fake = FakeBluesky()
    fake.now = clock
    fake.add_user("acme.bsky.social", "Acme Inc", password=APP_PASSWORD)
    fake.add_user("bob.bsky.social", "Bob", followers=1234)
    yield fake
    fake.close()


def make(api: FakeBluesky, clock: FakeClock, sessions: MemorySessions, timeout: float = 5.0) -> BlueskySource:
    return BlueskySource(
        base_url=api.url, handle="acme.bsky.social", app_password=APP_PASSWORD, timeout=timeout, sessions=sessions, clock=clock
    )


def mention(api: FakeBluesky, text: str = "hello @acme") -> str:
    return api.post(api.user("bob.bsky.social"), text, mentions=(api.user("acme.bsky.social"),))


class Loop:
    """Reads mentions and own posts as the poll loop schedules them: each endpoint again at the time bot.backoff gives
    for what its read returned or raised, the clock jumping from one due read to the next."""

    def __init__(self, source: BlueskySource, api: FakeBluesky, clock: FakeClock, interval: timedelta) -> None:
        acme = api.user("acme.bsky.social")
        me = Account(id=acme.did, username=acme.handle, name=acme.display_name)
        since = clock() - timedelta(hours=1)
        self.reads: dict[str, Callable[[], Timeline]] = {
            "mentions": lambda: source.mentions(None, since), "posts": lambda: source.posts(me, None, since),
        }
        self.clock, self.interval = clock, interval
        self.due = dict.fromkeys(self.reads, clock())
        self.failures = dict.fromkeys(self.reads, 0)

    def run(self, until: datetime) -> list[tuple[datetime, str]]:
        """Every read due up to `until`: (when, "ok" or the error's class name)."""
        outcomes = []
        while min(self.due.values()) <= until:
            self.clock.at = max(self.clock.at, min(self.due.values()))
            for name, read in self.reads.items():  # in the poll's order, at the same instant
                if self.due[name] > self.clock():
                    continue
                now = self.clock()
                try:
                    timeline = read()
                except RateLimited as exc:
                    self.due[name] = backoff.after_rate_limit(now, self.interval, exc.until)
                    outcomes.append((now, type(exc).__name__))
                except ServiceError as exc:
                    self.failures[name] += 1
                    self.due[name] = backoff.after_failure(now, self.interval, self.failures[name], lambda: 0.5)
                    outcomes.append((now, type(exc).__name__))
                else:
                    self.failures[name] = 0
                    self.due[name] = backoff.after_success(now, self.interval, timeline.rate)
                    outcomes.append((now, "ok"))
        return outcomes


def most_in_any(times: list[datetime], span: timedelta) -> int:
    """The most of `times` that fall within any window of length `span`."""
    times = sorted(times)
    return max((sum(start <= t < start + span for t in times) for start in times), default=0)


@pytest.mark.slow
def test_an_hour_of_one_second_polls_logs_in_once_and_refreshes_as_the_access_token_expires(api: FakeBluesky, clock: FakeClock) -> None:
    api.access_ttl = timedelta(minutes=20)  # the SDK refreshes 15 min before expiry: about every 5 minutes here
    sessions = MemorySessions()
    source = make(api, clock, sessions)
    since = clock() - timedelta(hours=1)
    cursor = None
    posted, read = [], []
    for second in range(3600):
        clock.advance(seconds=1)
        if second % 600 == 0:
            posted.append(mention(api, f"@acme question {second}"))
        timeline = source.mentions(cursor, since)
        cursor = timeline.cursor
        read += [p.id for p in timeline.posts]
    assert read == posted  # each once
    assert api.calls[CREATE] == 1
    assert 10 <= api.calls[REFRESH] <= 13
    assert sessions.saves == 2 + api.calls[REFRESH]  # the login logged before it is sent; the session on every change
    assert sessions.values["bluesky:acme.bsky.social"].split(":::")[2] in api.tokens


def test_a_restart_resumes_the_stored_session_without_logging_in(api: FakeBluesky, clock: FakeClock) -> None:
    sessions = MemorySessions()
    make(api, clock, sessions).mentions(None, clock() - timedelta(hours=1))
    assert api.calls[CREATE] == 1
    post_id = mention(api)
    assert [p.id for p in make(api, clock, sessions).mentions(None, clock() - timedelta(hours=1)).posts] == [post_id]
    clock.advance(hours=3)  # the stored access token has expired meanwhile: refreshed, not a new login
    make(api, clock, sessions).account()
    assert api.calls[CREATE] == 1
    assert api.calls[REFRESH] == 1


def test_a_server_saying_the_token_expired_before_our_clock_does_gets_one_refresh(api: FakeBluesky, clock: FakeClock) -> None:
    source = make(api, clock, MemorySessions())
    source.account()
    api.now = lambda: clock() + timedelta(hours=3)  # the PDS's clock is ahead: it answers 400 ExpiredToken
    post_id = api.post(api.user("bob.bsky.social"), "@acme hi", mentions=(api.user("acme.bsky.social"),), at=clock())
    assert [p.id for p in source.mentions(None, clock() - timedelta(hours=1)).posts] == [post_id]
    assert (api.calls[CREATE], api.calls[REFRESH]) == (1, 1)


def test_a_refused_refresh_token_costs_one_login_and_a_refused_app_password_is_auth_failed_without_secrets(
    api: FakeBluesky, clock: FakeClock
) -> None:
    source = make(api, clock, MemorySessions())
    source.account()
    api.expire_refresh_tokens()
    clock.advance(hours=3)
    source.mentions(None, clock() - timedelta(hours=1))
    assert (api.calls[CREATE], api.calls[REFRESH]) == (2, 1)

    api.expire_refresh_tokens()
    api.user("acme.bsky.social").password = "another-app-password"  # the app password was revoked
    clock.advance(hours=3)
    with pytest.raises(AuthFailed) as raised:
        source.mentions(None, clock() - timedelta(hours=1))
    assert api.calls[CREATE] == 3
    assert not any(secret in str(raised.value) for secret in [APP_PASSWORD, *api.issued])
    with pytest.raises(AuthFailed, match="next login attempt"):  # no second login so soon: createSession is scarce
        source.mentions(None, clock() - timedelta(hours=1))
    assert api.calls[CREATE] == 3
    clock.advance(minutes=21)  # the third login in a day: the next waits 5 min doubled twice
    api.user("acme.bsky.social").password = APP_PASSWORD  # fixed: the next attempt logs in
    source.mentions(None, clock() - timedelta(hours=1))
    assert api.calls[CREATE] == 4


def test_paging_back_over_several_pages_returns_each_mention_once(api: FakeBluesky, clock: FakeClock) -> None:
    source = make(api, clock, MemorySessions())
    start = source.mentions(None, clock() - timedelta(hours=1))
    posted = []
    for i in range(250):
        clock.advance(seconds=1)
        posted.append(mention(api, f"@acme number {i}"))
    before = api.calls[LIST]
    timeline = source.mentions(start.cursor, clock() - timedelta(hours=1))
    assert [p.id for p in timeline.posts] == posted[::-1]  # newest first, each once
    assert timeline.complete
    assert api.calls[LIST] - before == 3
    assert source.mentions(timeline.cursor, clock() - timedelta(hours=1)).posts == []


def test_mentions_at_the_same_instant_as_the_cursor_are_not_lost(api: FakeBluesky, clock: FakeClock) -> None:
    source = make(api, clock, MemorySessions())
    first = mention(api)
    read = source.mentions(None, clock() - timedelta(hours=1))
    second = mention(api)  # the same millisecond as the first: only its uri tells it apart
    assert [p.id for p in read.posts] == [first]
    assert [p.id for p in source.mentions(read.cursor, clock() - timedelta(hours=1)).posts] == [second]


def test_the_page_budget_stops_an_endless_server(api: FakeBluesky, clock: FakeClock, caplog: pytest.LogCaptureFixture) -> None:
    source = make(api, clock, MemorySessions())
    post_id = mention(api)
    api.paging = "endless"
    with caplog.at_level(logging.WARNING):
        timeline = source.mentions(None, clock() - timedelta(hours=1))
    assert [p.id for p in timeline.posts] == [post_id]
    assert not timeline.complete
    assert api.calls[LIST] == MAX_PAGES
    assert sum("page budget" in r.getMessage() for r in caplog.records) == 1


def test_a_malformed_notification_is_logged_and_passed_over(api: FakeBluesky, clock: FakeClock, caplog: pytest.LogCaptureFixture) -> None:
    source = make(api, clock, MemorySessions())
    good = mention(api, "@acme ünïcödé 🎉 & <b>")
    bob, acme = api.user("bob.bsky.social"), api.user("acme.bsky.social")
    broken = Record(f"at://{bob.did}/app.bsky.feed.post/3lbroken", "bafyreibroken", bob.did, {"$type": "app.bsky.feed.post"}, clock())
    api.notifications.append(Notification(acme.did, "mention", broken))
    with caplog.at_level(logging.WARNING):
        (post,) = source.mentions(None, clock() - timedelta(hours=1)).posts
    assert post.id == good and post.text == "@acme ünïcödé 🎉 & <b>"
    assert post.author_name == "Bob" and post.url.startswith("https://bsky.app/profile/bob.bsky.social/post/")
    assert [r.getMessage() for r in caplog.records if "passed over" in r.getMessage()][0].count("\n") == 0


def test_replies_and_quotes_are_translated_with_their_thread(api: FakeBluesky, clock: FakeClock) -> None:
    source = make(api, clock, MemorySessions())
    bob, acme = api.user("bob.bsky.social"), api.user("acme.bsky.social")
    own = api.post(acme, "our news")
    reply = api.post(bob, "nice", reply_to=own)
    quote = api.post(bob, "look at this", quote=own)
    posts = {p.id: p for p in source.mentions(None, clock() - timedelta(hours=1)).posts}
    assert posts[reply].replied_to_id == own and posts[reply].conversation_id == own
    assert posts[reply].in_reply_to_user_id == acme.did and posts[reply].reference_types == {"replied_to"}
    assert posts[quote].reference_types == {"quoted"} and posts[quote].conversation_id == quote


def test_a_slow_server_times_out_as_unavailable(api: FakeBluesky, clock: FakeClock) -> None:
    source = make(api, clock, MemorySessions(), timeout=0.3)
    source.account()
    api.http.delays[LIST] = 1.0
    with pytest.raises(Unavailable, match="timed out"):
        source.mentions(None, clock() - timedelta(hours=1))


def test_deleted_asks_in_batches_of_25(api: FakeBluesky, clock: FakeClock) -> None:
    source = make(api, clock, MemorySessions())
    ids = [mention(api, f"@acme {i}") for i in range(60)]
    for gone in ids[::7]:
        api.delete(gone)
    assert source.deleted(ids) == set(ids[::7])
    assert api.calls["app.bsky.feed.getPosts"] == 3


def test_a_refused_first_login_is_tried_again_later_not_at_every_read(api: FakeBluesky, clock: FakeClock) -> None:
    api.user("acme.bsky.social").password = "not-yet"
    source = make(api, clock, MemorySessions())
    with pytest.raises(AuthFailed, match="login refused"):
        source.account()
    with pytest.raises(AuthFailed, match="next login attempt"):
        source.account()
    assert api.calls[CREATE] == 1
    api.user("acme.bsky.social").password = APP_PASSWORD
    clock.advance(minutes=5)
    assert source.account().username == "acme.bsky.social"
    assert api.calls[CREATE] == 2


def test_an_unknown_handle_is_unknown_account_and_errors_keep_handles(api: FakeBluesky, clock: FakeClock) -> None:
    sessions = MemorySessions()
    make(api, clock, sessions).account()
    with pytest.raises(UnknownAccount, match="nobody.bsky.social"):
        make(api, clock, sessions).lookup("nobody.bsky.social")  # resumed: the stored handle is no secret
    assert make(api, clock, sessions).lookup("@bob.bsky.social").name == "Bob"


def test_own_posts_are_read_once_from_the_cursor_without_reposts(api: FakeBluesky, clock: FakeClock) -> None:
    source = make(api, clock, MemorySessions())
    acme, bob = api.user("acme.bsky.social"), api.user("bob.bsky.social")
    question = mention(api)
    first = source.posts(source.account(), None, clock() - timedelta(hours=1))
    assert first.posts == [] and first.rate is not None and first.rate.limit == api.limit
    clock.advance(seconds=1)
    answer = api.post(acme, "here you go", reply_to=question)
    clock.advance(seconds=1)
    api.repost(acme, api.post(bob, "something worth sharing"))
    read = source.posts(source.account(), first.cursor, clock() - timedelta(hours=1))
    assert [p.id for p in read.posts] == [answer]
    assert read.posts[0].replied_to_id == question and read.posts[0].in_reply_to_user_id == bob.did
    assert source.posts(source.account(), read.cursor, clock() - timedelta(hours=1)).posts == []


def test_a_revoked_refresh_token_is_tried_once_then_one_login_at_the_reset_of_its_429(api: FakeBluesky, clock: FakeClock) -> None:
    sessions = MemorySessions()
    make(api, clock, sessions).account()  # a session is stored
    api.expire_refresh_tokens()  # and revoked by the server
    clock.advance(hours=3)  # meanwhile the access token expired: the restart has to refresh
    reset = clock() + timedelta(seconds=20)
    api.logins_spent_until("acme.bsky.social", reset)
    calls = (api.calls[REFRESH], api.calls[CREATE])
    loop = Loop(make(api, clock, sessions), api, clock, interval=timedelta(seconds=5))
    outcomes = loop.run(reset - timedelta(seconds=1))
    assert (api.calls[REFRESH] - calls[0], api.calls[CREATE] - calls[1]) == (1, 1)  # the refused token once, one login
    assert {outcome for _, outcome in outcomes} == {"RateLimited"}
    outcomes = loop.run(reset + timedelta(minutes=10))
    assert outcomes[0] == (reset, "ok")  # at the reset, not 5 minutes later
    assert {outcome for _, outcome in outcomes} == {"ok"}
    assert (api.calls[REFRESH] - calls[0], api.calls[CREATE] - calls[1]) == (1, 2)
    assert [at for at, _ in api.logins][-2:] == [reset - timedelta(seconds=20), reset]


def test_a_429_on_login_is_waited_out_until_its_reset_not_longer_not_shorter(api: FakeBluesky, clock: FakeClock) -> None:
    reset = clock() + timedelta(seconds=20)
    api.logins_spent_until("acme.bsky.social", reset)
    source = make(api, clock, MemorySessions())
    with pytest.raises(RateLimited) as limited:
        source.account()
    assert limited.value.until == reset
    clock.advance(seconds=19)
    with pytest.raises(RateLimited) as again:  # not before the reset: no request
        source.account()
    assert again.value.until == reset
    assert api.calls[CREATE] == 1
    clock.advance(seconds=1)
    assert source.account().username == "acme.bsky.social"
    assert api.calls[CREATE] == 2


def test_a_dropped_session_and_the_logins_made_outlive_a_restart(api: FakeBluesky, clock: FakeClock) -> None:
    sessions = MemorySessions()
    make(api, clock, sessions).account()
    api.expire_refresh_tokens()
    clock.advance(hours=3)
    reset = clock() + timedelta(seconds=20)
    api.logins_spent_until("acme.bsky.social", reset)
    with pytest.raises(RateLimited):
        make(api, clock, sessions).account()
    calls = (api.calls[REFRESH], api.calls[CREATE])
    with pytest.raises(RateLimited) as limited:  # restarted: the dead token is not tried again, the 429 still holds
        make(api, clock, sessions).account()
    assert limited.value.until == reset
    assert (api.calls[REFRESH], api.calls[CREATE]) == calls
    clock.advance(seconds=20)
    make(api, clock, sessions).account()
    assert (api.calls[REFRESH], api.calls[CREATE]) == (calls[0], calls[1] + 1)


def _always_429(api: FakeBluesky) -> None:
    api.login_reply = lambda: Reply(
        429, {"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"},
        {"ratelimit-limit": "30", "ratelimit-remaining": "0", "ratelimit-reset": str(int(api.now().timestamp()) + 1)},
    )


def _password_refused(api: FakeBluesky) -> None:
    api.user("acme.bsky.social").password = "revoked-app-password"


def _sessions_die_at_once(api: FakeBluesky) -> None:
    api.http.after = lambda request: api.revoke_all_tokens() if "createSession" in request.path else None


def _unavailable(api: FakeBluesky) -> None:
    api.login_reply = lambda: Reply(503, {"error": "InternalServerError", "message": "Service Unavailable"})


@pytest.mark.parametrize(
    "server", [_always_429, _password_refused, _sessions_die_at_once, _unavailable],
    ids=["429 with a reset a second ahead", "app password refused", "every session dead at once", "5xx"],
)
def test_logins_stay_within_createsessions_limits_whatever_the_server_answers(
    api: FakeBluesky, clock: FakeClock, server: Callable[[FakeBluesky], None]
) -> None:
    sessions = MemorySessions()
    make(api, clock, sessions).account()
    api.expire_refresh_tokens()
    clock.advance(hours=3)  # the access token expired too: the next read needs a login
    server(api)
    start = clock()
    for _ in range(3):  # restarts too: the count of logins is kept with the session
        Loop(make(api, clock, sessions), api, clock, interval=timedelta(seconds=5)).run(clock() + timedelta(hours=16))
    logins = [at for at, _ in api.logins if at >= start]
    assert logins, "the server was asked"
    assert most_in_any(logins, timedelta(minutes=5)) <= 30  # documented per account
    assert most_in_any(logins, timedelta(days=1)) <= 100  # what the entryway bsky.social was seen to allow


SECRET_CUT = 200  # where describe() cuts what the server said


@pytest.mark.parametrize("offset", range(-1, len(APP_PASSWORD) + 2))
def test_an_app_password_echoed_across_the_cut_never_leaks_in_part(
    api: FakeBluesky, clock: FakeClock, caplog: pytest.LogCaptureFixture, offset: int
) -> None:
    """The cut falls `offset` characters into the password the server echoes (before it, inside it, after it)."""
    lead = "AuthenticationRequired: "  # describe() shows "<error>: <message>"
    message = "x" * (SECRET_CUT - len(lead) - offset) + APP_PASSWORD + " was refused"
    api.http.fail("createSession", Reply(401, {"error": "AuthenticationRequired", "message": message}))
    with caplog.at_level(logging.DEBUG), pytest.raises(AuthFailed) as raised:
        make(api, clock, MemorySessions()).account()
    for text in (str(raised.value), raised.value.message, caplog.text):
        assert APP_PASSWORD[:6] not in text


def test_a_token_echoed_across_the_cut_never_leaks_in_part(api: FakeBluesky, clock: FakeClock, caplog: pytest.LogCaptureFixture) -> None:
    source = make(api, clock, MemorySessions())
    source.account()
    token = api.issued[-2]  # the access token the adapter sends
    lead = "InvalidToken: "
    for offset in range(-1, len(token) + 2):  # the cut at every place in the token
        message = "x" * max(0, SECRET_CUT - len(lead) - offset) + token + " is not valid"
        api.http.fail(LIST, Reply(401, {"error": "InvalidToken", "message": message}))
        with caplog.at_level(logging.DEBUG), pytest.raises(AuthFailed) as raised:
            source.mentions(None, clock() - timedelta(hours=1))
        for text in (str(raised.value), caplog.text):
            assert token[:6] not in text, offset


def test_a_429_on_refresh_waits_for_its_reset_and_keeps_the_session(api: FakeBluesky, clock: FakeClock) -> None:
    source = make(api, clock, MemorySessions())
    source.account()
    clock.advance(hours=3)  # the access token expired: the next read refreshes
    reset = clock() + timedelta(seconds=20)
    limited = {"ratelimit-limit": "30", "ratelimit-remaining": "0", "ratelimit-reset": str(int(reset.timestamp()))}
    api.http.fail(REFRESH, Reply(429, {"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"}, limited))
    with pytest.raises(RateLimited) as raised:
        source.mentions(None, clock() - timedelta(hours=1))
    assert raised.value.until == reset
    clock.advance(seconds=20)
    source.mentions(None, clock() - timedelta(hours=1))
    assert (api.calls[CREATE], api.calls[REFRESH]) == (1, 1)  # the refresh token was not refused: no login


def test_a_session_stored_as_a_bare_session_string_is_resumed(api: FakeBluesky, clock: FakeClock) -> None:
    sessions = MemorySessions()
    make(api, clock, sessions).account()
    key = "bluesky:acme.bsky.social"
    sessions.values[key] = json.loads(sessions.values[key])["session"]  # as stored before the log of logins was kept
    make(api, clock, sessions).account()
    assert api.calls[CREATE] == 1
