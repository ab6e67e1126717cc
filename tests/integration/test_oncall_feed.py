"""An on-call rotation read from an iCal feed, wired as `replywatch run` wires it (bot.app.wire.build_app) against the
stand-ins: the feed served on 127.0.0.1, its e-mails looked up in the Slack stand-in, a fake clock driven through
the handoffs (a gap among them) and through an outage of the feed, across a restart; then `oncall` and `check` as a
user runs them. The feed's address holds a token that no log line, notice, health line or output may show."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.app.wire import App, build_app
from bot.calendar import feed
from bot.calendar import schedule as sched
from bot.clock import FakeClock
from bot.config.load import load_config
from bot.messages import FeedNote, Handoff
from bot.notes import Ping, Said, Stranger, sentence
from bot.services.health import verdict_of
from bot.standins.http import Reply, StandIn
from bot.standins.x_api import FakeX
from tests.conftest import START
from tests.integration.test_cli import cli
from tests.standins.slack_api import FakeSlack

BERLIN = ZoneInfo("Europe/Berlin")
MIN = timedelta(minutes=1)
TOKEN = "pr1vate-t0ken-5e6f7a"
JANE, OMAR, PRIYA = "U01JANE", "U02OMAR", "U03PRIYA"
EMAILS = {"jane@example.com": JANE, "omar@example.com": OMAR, "priya@example.com": PRIYA}

# START is Wednesday 2026-11-25 10:00 Berlin. Jane holds the rota until Thursday 09:00 (an attendee), Omar until
# Friday 09:00 (named PagerDuty's way, in the summary), nobody until Friday 12:00 (a gap), then Priya for a week.
ROTA = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//replywatch tests//EN
BEGIN:VEVENT
UID:jane
DTSTART;TZID=Europe/Berlin:20261123T090000
DTEND;TZID=Europe/Berlin:20261126T090000
SUMMARY:On call
ATTENDEE;CN=Jane:mailto:jane@example.com
END:VEVENT
BEGIN:VEVENT
UID:omar
DTSTART;TZID=Europe/Berlin:20261126T090000
DTEND;TZID=Europe/Berlin:20261127T090000
SUMMARY:On call: omar@example.com
END:VEVENT
BEGIN:VEVENT
UID:priya
DTSTART;TZID=Europe/Berlin:20261127T120000
DTEND;TZID=Europe/Berlin:20261204T090000
SUMMARY:On call
ATTENDEE:mailto:priya@example.com
END:VEVENT
END:VCALENDAR
""".replace("\n", "\r\n")

# Jane every day, from long ago and forever: whoever asks "now" on the real clock finds her.
ALWAYS_JANE = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//replywatch tests//EN
BEGIN:VEVENT
UID:jane-daily
DTSTART:20200101T000000Z
DTEND:20200102T000000Z
RRULE:FREQ=DAILY
SUMMARY:On call: jane@example.com
END:VEVENT
END:VCALENDAR
""".replace("\n", "\r\n")

GOOD, DOWN = Reply(raw=ROTA.encode()), Reply(503, raw=b"maintenance")


@pytest.fixture
def rota() -> Iterator[tuple[StandIn, dict[str, Reply]]]:
    serving = {"reply": GOOD}
    server = StandIn(lambda _request: serving["reply"])
    yield server, serving
    server.close()


def on_call_file(tmp_path: Path, server: StandIn) -> None:
    """The working folder's replywatch.toml: the on-call rotation from the feed, with a user group."""
    (tmp_path / "replywatch.toml").write_text(
        f'timezone = "Europe/Berlin"\n[oncall]\nical_url = "{server.url}/private/{TOKEN}/rota.ics?key={TOKEN}"\n'
        'usergroup = "S0ONCALL"\n'
    )


class Running:
    """`replywatch run`'s app on a fake clock: a tick runs its jobs once, in the order the scheduler would reach them."""

    def __init__(self, app: App, clock: FakeClock) -> None:
        self.app, self.clock = app, clock

    def tick(self, advance: timedelta = timedelta(0)) -> None:
        self.clock.advance(advance)
        for poll in self.app.polls:
            poll.run_once()
        assert self.app.feeds is not None
        self.app.feeds.run_once()
        self.app.on_call.run_once()
        self.app.tick()

    def until(self, local: str) -> None:
        """Tick at this Berlin time ("2026-11-26 09:00"), and a few seconds after: the sweep posts one a second."""
        moment = datetime.fromisoformat(local).replace(tzinfo=BERLIN)
        self.tick(moment - self.clock.now())
        for _ in range(3):
            self.tick(timedelta(seconds=1))

    def verdict(self) -> list[str]:
        with self.app.store.read() as repo:
            return verdict_of(repo, self.app.config.keys, self.clock.now(), timedelta(hours=1), timedelta(seconds=5))


@pytest.fixture
def running(env, fake_x: FakeX, fake_slack: FakeSlack, rota, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # noqa: ANN001, ANN201
    """Starts `replywatch run`'s app (one at a time: `start()` again is a restart on the same database and cache)."""
    server, _ = rota
    on_call_file(tmp_path, server)
    fake_slack.emails = dict(EMAILS)
    for key, value in {**env, "ALERT_AFTER": "60s", "POLL_INTERVAL": "60s"}.items():
        monkeypatch.setenv(key, value)
    clock = FakeClock(START)
    fake_x.now, fake_slack.now = clock.now, lambda: clock.now().timestamp()
    apps: list[App] = []

    def start() -> Running:
        apps.append(build_app(load_config(), clock))
        return Running(apps[-1], clock)

    yield start
    for app in apps:
        app.store.dispose()


def handoffs(slack: FakeSlack) -> list[tuple[str, str]]:
    """(Berlin time, what it says) of each handoff message."""
    found = [m for m in slack.notices() if m.text.startswith(":busts_in_silhouette: Handoff")]
    return [(datetime.fromtimestamp(m.received_at, UTC).astimezone(BERLIN).strftime("%a %H:%M"),
             m.text.removeprefix(":busts_in_silhouette: Handoff: ").split(".")[0]) for m in found]


def feed_notices(slack: FakeSlack) -> list[str]:
    return [m.text for m in slack.notices() if "ical_url feed" in m.text]


def everything_shown(slack: FakeSlack, caplog: pytest.LogCaptureFixture, *more: str) -> str:
    """Every message Slack received (text and blocks), every log line, and `more`."""
    return "\n".join([*posted(slack), caplog.text, *more])


def posted(slack: FakeSlack) -> list[str]:
    """Every message Slack received, text and blocks, as posted and as edited."""
    return [m.text + json.dumps(m.blocks) + json.dumps(m.edits) for m in slack.messages]


def test_who_the_feed_names_is_pinged_handed_over_to_and_in_the_user_group(
    running, fake_x: FakeX, fake_slack: FakeSlack, caplog: pytest.LogCaptureFixture  # noqa: ANN001
) -> None:
    caplog.set_level(logging.DEBUG)
    bot = running()
    bot.tick()  # the first tick fetches the feed; its people are looked up in Slack
    assert bot.app.feeds is not None and bot.app.feeds.feeds[0].source.users == {
        "jane@example.com": JANE, "omar@example.com": OMAR, "priya@example.com": PRIYA,
    }, "the e-mails of the next 14 days, looked up by users.lookupByEmail"
    bob = fake_x.add_user("bob")
    mention = fake_x.post(bob, "@acme is anyone there?", at=bot.clock.now())
    bot.tick(MIN)
    bot.tick(2 * MIN)
    [alert] = fake_slack.alerts_for(mention)
    assert f"on call: <@{JANE}>" in json.dumps(alert.blocks), "the alert names whom the feed names, by Slack ID"

    for moment in ("2026-11-26 09:00", "2026-11-26 12:00", "2026-11-27 09:00", "2026-11-27 10:00", "2026-11-27 12:00"):
        bot.until(moment)
    assert handoffs(fake_slack) == [
        ("Wed 10:00", f"<@{JANE}> is on call until 2026-11-26 09:00 CET"),
        ("Thu 09:00", f"<@{OMAR}> is on call until 2026-11-27 09:00 CET"),
        ("Fri 09:00", "nobody is on call until 2026-11-27 12:00 CET: no event of the on-call feed covers this time"),
        ("Fri 12:00", f"<@{PRIYA}> is on call until 2026-12-04 09:00 CET"),
    ]
    groups = [(datetime.fromtimestamp(t, UTC).astimezone(BERLIN).strftime("%a %H:%M"), users)
              for _, users, t in fake_slack.usergroup_updates]
    assert groups == [("Wed 10:00", [JANE]), ("Thu 09:00", [OMAR]), ("Fri 12:00", [PRIYA])], (
        "the group keeps Omar through the gap: never set to nobody"
    )
    told = [r.getMessage() for r in caplog.records if r.name == "bot.services.oncall"]
    assert "user group S0ONCALL stays as it is: nobody is known to be on call" in told
    assert not [text for text in [*posted(fake_slack), *told] if "None" in text]
    assert feed_notices(fake_slack) == [] and bot.verdict() == [], "a feed that works is not mentioned"
    assert TOKEN not in everything_shown(fake_slack, caplog)


def test_a_feed_that_goes_down_keeps_its_copy_and_is_told_once_and_its_recovery_once(
    running, rota, env, fake_x: FakeX, fake_slack: FakeSlack, tmp_path: Path, caplog: pytest.LogCaptureFixture  # noqa: ANN001
) -> None:
    caplog.set_level(logging.DEBUG)
    _, serving = rota
    bot = running()
    bot.tick()
    assert (tmp_path / "replywatch-ical-cache" / "oncall.ics").exists(), "the last good copy, beside the database"

    serving["reply"] = DOWN
    bot.tick(feed.REFRESH_EVERY)
    assert feed_notices(fake_slack) == [] and bot.verdict() == [], "one failed fetch is a blip: not told"
    bot.tick(feed.RETRY_FIRST)  # the second failure in a row: broken
    line = ("the [oncall] ical_url feed on 127.0.0.1 is failing at the server (HTTP 503); "
            "keeping the copy fetched 2026-11-25 10:00 CET")
    assert feed_notices(fake_slack) == [f":warning: On call: {line}."]
    assert bot.verdict() == [f"on-call feed [oncall]: {line}"], "health names it"
    health = cli(env, "health")
    assert health.returncode == 1 and f"unhealthy: on-call feed [oncall]: {line}" in health.stderr, health.stderr
    status = cli(env, "status")
    assert line in status.stdout, status.stdout

    for wait in (2, 4, 8, 15, 15):  # it keeps failing: backing off to REFRESH_EVERY, and nothing more is said
        bot.tick(wait * MIN)
    assert len(feed_notices(fake_slack)) == 1
    bob = fake_x.add_user("bob")
    mention = fake_x.post(bob, "@acme hello?", at=bot.clock.now())
    bot.tick(MIN)
    bot.tick(2 * MIN)
    [alert] = fake_slack.alerts_for(mention)
    assert f"on call: <@{JANE}>" in json.dumps(alert.blocks), "the last good copy still says who is on call"

    restarted = running()  # still down: the cache says who is on call, and the outage is not told again
    schedule = restarted.app.config.schedule
    assert schedule is not None and schedule.oncall is not None
    assert sched.on_call(schedule.oncall, BERLIN, restarted.clock.now()) == JANE, "read from the cache, looked up at start"
    restarted.tick(feed.REFRESH_EVERY)
    restarted.tick(feed.RETRY_FIRST)
    restarted.tick(2 * MIN)
    assert restarted.verdict() == [f"on-call feed [oncall]: {line}"]
    assert len(feed_notices(fake_slack)) == 1, "one notice per outage, across a restart"
    assert handoffs(fake_slack)[-1][1].startswith(f"<@{JANE}>"), "no handoff to nobody: the cached copy holds"

    serving["reply"] = GOOD
    restarted.tick(15 * MIN)
    restarted.tick(15 * MIN)
    notices = feed_notices(fake_slack)
    assert notices[1:] == [":white_check_mark: On call: the [oncall] ical_url feed on 127.0.0.1 is fetched again "
                           "(failing since 2026-11-25 09:15 UTC); who is on call is read from it."], notices
    assert restarted.verdict() == []
    assert cli(env, "health").stderr.count("on-call feed") == 0
    assert TOKEN not in everything_shown(fake_slack, caplog, health.stdout, health.stderr, status.stdout, status.stderr)
    with restarted.app.store.read() as repo:
        assert TOKEN not in json.dumps([str(p) for p in repo.failing_parts()])


def test_the_note_of_a_gap_and_of_a_feed_name_nobody_and_no_address() -> None:
    at = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
    gap = sentence(Handoff(None, at + timedelta(hours=3), "U04LEAD", 0, None, "Europe/Berlin"), at, [])
    assert gap is not None and not any(isinstance(s, Ping) and s.to in ("None", "") for s in gap)
    assert "nobody is on call until 2026-11-27 12:00 CET" in "".join(s.text for s in gap if isinstance(s, Said))
    unknown = sentence(Handoff("new@example.com", None, None, 0, None, "UTC"), at, [])
    assert unknown is not None and Stranger("new@example.com") in unknown, "an e-mail Slack does not know: shown, not pinged"
    name = feed.describe("oncall", f"https://calendar.example.com/private/{TOKEN}/basic.ics")
    for note in (FeedNote(name, at, f"{name} was not found (HTTP 404); keeping the copy fetched …"), FeedNote(name, at)):
        said = sentence(note, at, [])
        assert said is not None and TOKEN not in repr(said) and "calendar.example.com" in repr(said)


def test_oncall_shows_the_feeds_holder_and_its_problem(env, rota, tmp_path: Path) -> None:  # noqa: ANN001
    server, serving = rota
    on_call_file(tmp_path, server)
    result = cli(env, "oncall", "--at", "2026-11-26 10:00")
    assert result.returncode == 0, result.stderr
    assert "on call:  omar@example.com until Fri 2026-11-27 09:00 CET (iCal feed)\n" in result.stdout, result.stdout
    upcoming = result.stdout.split("on call handoffs in the next 14 days:\n")[1].splitlines()[:3]
    assert upcoming == ["  Fri 2026-11-27 09:00 CET  nobody (no event of its iCal feed covers it)",
                        "  Fri 2026-11-27 12:00 CET  priya@example.com",
                        "  Fri 2026-12-04 09:00 CET  nobody (no event of its iCal feed covers it)"]

    serving["reply"] = DOWN  # the copy the last fetch cached is shown, and what is wrong
    down = cli(env, "oncall", "--at", "2026-11-26 10:00")
    assert down.returncode == 0, down.stderr
    assert "feed: the [oncall] ical_url feed on 127.0.0.1 is failing at the server (HTTP 503); keeping the copy fetched" in down.stdout
    assert "on call:  omar@example.com until" in down.stdout
    for output in (result.stdout, result.stderr, down.stdout, down.stderr):
        assert TOKEN not in output


def test_check_fetches_the_feed_and_says_who_is_on_call(env, rota, fake_slack: FakeSlack, tmp_path: Path) -> None:  # noqa: ANN001
    server, serving = rota
    on_call_file(tmp_path, server)
    fake_slack.emails = dict(EMAILS)
    serving["reply"] = Reply(raw=ALWAYS_JANE.encode())
    result = cli(env, "check")
    assert result.returncode == 0, result.stderr
    assert "on call: the [oncall] ical_url feed on 127.0.0.1 ok, fetched " in result.stdout, result.stdout
    assert f"on call: replywatch.toml ok; now {JANE}\n" in result.stdout
    assert not (tmp_path / "replywatch-ical-cache").exists(), "check writes no cache"

    serving["reply"] = DOWN
    down = cli(env, "check")
    assert down.returncode == 0, "run starts without its feed, and so check passes"
    assert ("on call: the [oncall] ical_url feed on 127.0.0.1 is failing at the server (HTTP 503); nobody is known to "
            "be on call until it is fetched\n") in down.stdout, down.stdout
    assert "on call: replywatch.toml ok; now nobody known\n" in down.stdout and "None" not in down.stdout
    for output in (result.stdout, result.stderr, down.stdout, down.stderr):
        assert TOKEN not in output
