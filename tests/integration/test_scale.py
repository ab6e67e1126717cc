"""Work in proportion to what is due: a big open queue costs a tick nothing, open work ends (EXPIRE_AFTER,
MAX_REMINDERS), and replies are matched at scale without mixing anyone up."""

from __future__ import annotations

from datetime import timedelta

from bot.model import AccountKey, Network, Post, Status, Verdict
from bot.store import common
from tests.conftest import START, make_loop

SEC, MIN, HOUR, DAY = timedelta(seconds=1), timedelta(minutes=1), timedelta(hours=1), timedelta(days=1)
OPEN = Verdict(Status.OPEN, "waiting for a reply")


def _backlog(loop, n: int, age: timedelta) -> list[int]:  # noqa: ANN001
    """`n` open mentions posted `age` ago, stored as a poll stores them (not on X: not looked up there)."""
    loop.sweep.deletions.sources = {}
    ids = [10**18 + i for i in range(n)]
    posts = [Post(id=str(i), author_id=str(1000 + i), text="@acme hi", created_at=START - age, author_handle=f"fan{i}",
                  url=f"https://x.com/fan{i}/status/{i}") for i in ids]
    with loop.store.unit() as repo:
        repo.add_mentions(AccountKey(Network.X, "acme"), [(p, OPEN) for p in posts], START - age)
    return ids


def _rows_loaded(monkeypatch) -> list[object]:  # noqa: ANN001
    """Mention and alert rows the code reads into Python from now on: every one becomes a Mention or an Alert."""
    loaded: list[object] = []
    for name in ("mention_of", "alert_of"):
        convert = getattr(common, name)
        monkeypatch.setattr(common, name, lambda row, convert=convert: loaded.append(row) or convert(row))
    return loaded


def test_a_tick_reads_only_what_is_due_however_many_mentions_are_open(fake_x, fake_slack, sqlite_store, monkeypatch) -> None:  # noqa: ANN001
    loop = make_loop(fake_x, fake_slack, sqlite_store, escalate_after=2 * HOUR, remind_every=HOUR, digest_threshold=5)
    loop.tick()
    backlog = _backlog(loop, 3000, HOUR)
    loaded = _rows_loaded(monkeypatch)
    for _ in range(4):
        loop.tick(SEC)
    assert len(loop.slack.posts()) == 3, "3,000 due at once: three digests of at most 1,000"
    assert len(loaded) <= 3000, "each due mention read once, and its digest rendered from what was read"
    with loop.store.read() as repo:
        assert repo.open_summary()[:2] == (3000, 3000)

    loaded.clear()
    for _ in range(5):
        loop.tick(SEC)
        loop.tick(MIN)  # X read again each time
    assert loaded == [], "nothing due: no mention or alert read, though 3,000 are open and alerted (a new alert's " \
        "follow-ups are not due before ESCALATE_AFTER: none is judged before)"

    loop.post(loop.x.add_user("bob"), "@acme new one")
    loop.tick(SEC)
    loop.tick(30 * MIN)
    loop.tick(MIN)
    assert len(loop.slack.alerted()) == 1
    assert len(loaded) < 20, "a new mention and its alert: a handful of rows, not the queue"

    loaded.clear()
    loop.tick(HOUR)  # the backlog's escalations fall due (2 h after posting): one per digest thread
    loop.tick(SEC)
    loop.tick(SEC)  # one message a second
    assert sum(len(loop.slack.thread(d.ts)) for d in loop.slack.posts()[:3]) == 3
    assert len(loaded) <= 4 * len(backlog) + 3 * 10, "each due alert judged about once; ten named in each of the three notes"


def test_reminders_stop_after_max_reminders(fake_x, fake_slack, sqlite_store) -> None:  # noqa: ANN001
    loop = make_loop(
        fake_x, fake_slack, sqlite_store, alert_after=MIN, escalate_after=HOUR, escalate_to=("U0LEAD",),
        remind_every=HOUR, max_reminders=2,
    )
    stuck = loop.post(loop.x.add_user("bob"), "@acme hello?")
    for _ in range(12 * 6):
        loop.tick(10 * MIN)
    [alert] = loop.slack.alerts_for(stuck)
    kinds = [m.text.split(":", 2)[1] for m in loop.slack.thread(alert.ts)]
    assert kinds == ["rotating_light", "bell", "bell"], "one escalation, then MAX_REMINDERS=2 reminders, then quiet"


def test_a_mention_open_past_expire_after_is_closed_its_alert_edited_once_and_never_reminded(
    fake_x, fake_slack, sqlite_store,  # noqa: ANN001
) -> None:
    loop = make_loop(
        fake_x, fake_slack, sqlite_store, alert_after=MIN, escalate_after=HOUR, remind_every=6 * HOUR, max_reminders=50,
        expire_after=DAY,
    )
    stuck = loop.post(loop.x.add_user("bob"), "@acme anyone?")
    for _ in range(23):
        loop.tick(HOUR)
    [alert] = loop.slack.alerts_for(stuck)
    nudges = len(loop.slack.thread(alert.ts))
    assert nudges == 4 and alert.edits == [], "escalation at 1 h, reminders at 7, 13, 19 h; open"
    for _ in range(3 * 24):
        loop.tick(HOUR)
    with loop.store.read() as repo:
        mention = loop.mention(stuck)
        assert repo.open_summary()[0] == 0
    assert mention.status is Status.EXPIRED and mention.reason.startswith("expired: no reply within 1d")
    assert len(alert.edits) == 1 and ":hourglass:" in str(alert.blocks), "edited once, to say it expired"
    assert len(loop.slack.thread(alert.ts)) == nudges, "never reminded again"


def test_expire_after_zero_keeps_mentions_open(fake_x, fake_slack, sqlite_store) -> None:  # noqa: ANN001
    loop = make_loop(fake_x, fake_slack, sqlite_store, expire_after=None, escalate_after=None)
    stuck = loop.post(loop.x.add_user("bob"), "@acme anyone?")
    loop.tick()
    loop.tick(30 * DAY)
    assert loop.mention(stuck).status is Status.OPEN


def test_new_settings_apply_to_mentions_already_waiting(fake_x, fake_slack, sqlite_store) -> None:  # noqa: ANN001
    """The stored due times are worked out again at start: a shorter ALERT_AFTER after a restart counts."""
    loop = make_loop(fake_x, fake_slack, sqlite_store, alert_after=HOUR)
    waiting = loop.post(loop.x.add_user("bob"), "@acme hi")
    loop.tick()
    loop.tick(MIN)
    loop.configure(alert_after=5 * MIN)
    loop.tick(5 * MIN)
    assert loop.slack.alerted() == [waiting]


def test_replies_are_matched_to_the_right_mentions_at_scale(fake_x, fake_slack, sqlite_store) -> None:  # noqa: ANN001
    """600 mentions in one read (400 first posts), each answered (or not) in one of four ways; replies matched through look-up
    tables, not each against each: the same answers as the rules give one by one."""
    loop = make_loop(fake_x, fake_slack, sqlite_store)
    loop.x.limit = 100_000
    fans = [loop.x.add_user(f"fan{i}") for i in range(400)]
    mentions = [loop.post(fan, f"@acme question {i}") for i, fan in enumerate(fans)]
    answered = set()
    for i, (fan, mention) in enumerate(zip(fans, mentions, strict=True)):
        loop.clock.advance(SEC)  # a thread's later posts are later
        if i % 4 == 0:  # replied to directly
            loop.post(loop.acme, f"@{fan.username} yes", reply_to=mention)
            answered.add(mention)
        elif i % 4 == 1:  # the fan's follow-up in the thread is answered: the first mention is answered too
            follow = loop.post(fan, f"and also @acme {i}", reply_to=mention)
            loop.post(loop.acme, f"@{fan.username} both done", reply_to=follow)
            answered |= {mention, follow}
        elif i % 4 == 2:  # someone else in the same thread is answered, not this fan
            other = loop.post(fans[(i + 1) % 400], f"me too @acme {i}", reply_to=mention)
            loop.post(loop.acme, "@someone yes", reply_to=other)
            answered.add(other)
    loop.tick()
    with loop.store.read() as repo:
        done = {int(m.post.id) for m in repo.closed_mentions(5000) if m.status is Status.ANSWERED}
        still = {int(m.post.id) for m, _ in repo.open_mentions()}
    assert done == answered
    assert {m for i, m in enumerate(mentions) if i % 4 in (2, 3)} <= still
