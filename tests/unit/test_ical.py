"""An on-call rotation from an iCal feed: who an event names, a weekly recurrence with EXDATE exceptions and moved
instances across both of Berlin's daylight-saving changes, the file's overrides over the feed, and the fetch: a
deadline, a size cap, the last good copy kept (in memory and in the cache a restart reads) and the one line that says
what is wrong, with no token in it. The feed is served by a local HTTP stand-in; `now` is injected (only the two
deadline tests wait, a second each, on the real clock)."""

from __future__ import annotations

import gzip
import logging
import socket
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import icalendar
import pytest

from bot.calendar import feed, ical, oncall_view, schedule_file
from bot.calendar import schedule as sched
from bot.standins.http import Reply, Request, StandIn

BERLIN = ZoneInfo("Europe/Berlin")
JANE, OMAR, PRIYA = "jane@example.com", "omar@example.com", "priya@example.com"
TOKEN = "s3cr3t-t0ken-9f8e7d"
NOW = datetime(2026, 4, 1, 10, 0, tzinfo=UTC)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=BERLIN)


# Jane and Omar take turns weekly, Monday 09:00 Berlin time, from Monday 16 March 2026 (the clocks go forward on Sunday
# 29 March and back on Sunday 25 October). Omar stays a day longer in the week of 6 April and Jane starts on Tuesday 14
# April instead (two moved instances); Omar's week of 20 April is cancelled (EXDATE) and Priya covers it, named the
# PagerDuty way, in the summary; Jane's week of 11 May is cancelled with nobody covering it. Jane's events list the
# rota calendar as organizer and attendee, as Google Calendar does; Omar is a bare ATTENDEE. Easter Monday is an
# all-day event that names nobody.
JANE_EVENT = ("ORGANIZER;CN=Rota:mailto:rota@example.com\nATTENDEE;CN=Rota:mailto:rota@example.com\n"
              "ATTENDEE;CN=Jane;PARTSTAT=ACCEPTED:mailto:Jane@Example.com")
FEED = f"""BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//replywatch tests//EN
BEGIN:VEVENT
UID:jane-weeks
DTSTART;TZID=Europe/Berlin:20260316T090000
DTEND;TZID=Europe/Berlin:20260323T090000
RRULE:FREQ=WEEKLY;INTERVAL=2
EXDATE;TZID=Europe/Berlin:20260511T090000
SUMMARY:On call
{JANE_EVENT}
END:VEVENT
BEGIN:VEVENT
UID:jane-weeks
RECURRENCE-ID;TZID=Europe/Berlin:20260413T090000
DTSTART;TZID=Europe/Berlin:20260414T090000
DTEND;TZID=Europe/Berlin:20260420T090000
SUMMARY:On call (from Tuesday)
{JANE_EVENT}
END:VEVENT
BEGIN:VEVENT
UID:omar-weeks
DTSTART;TZID=Europe/Berlin:20260323T090000
DTEND;TZID=Europe/Berlin:20260330T090000
RRULE:FREQ=WEEKLY;INTERVAL=2
EXDATE;TZID=Europe/Berlin:20260420T090000
SUMMARY:On call
ATTENDEE:omar@example.com
END:VEVENT
BEGIN:VEVENT
UID:omar-weeks
RECURRENCE-ID;TZID=Europe/Berlin:20260406T090000
DTSTART;TZID=Europe/Berlin:20260406T090000
DTEND;TZID=Europe/Berlin:20260414T090000
SUMMARY:On call (until Tuesday)
ATTENDEE:omar@example.com
END:VEVENT
BEGIN:VEVENT
UID:priya-covers
DTSTART;TZID=Europe/Berlin:20260420T090000
DTEND;TZID=Europe/Berlin:20260427T090000
SUMMARY:On call: priya@example.com
END:VEVENT
BEGIN:VEVENT
UID:easter
DTSTART;VALUE=DATE:20260406
DTEND;VALUE=DATE:20260407
SUMMARY:Easter Monday
END:VEVENT
END:VCALENDAR
""".replace("\n", "\r\n")
ROTA = ical.parse(FEED, BERLIN, NOW)


def feed_rotation(overrides: Sequence[dict] = (), url: str = "https://calendar.example.com/rota.ics") -> sched.Schedule:
    return schedule_file.parse({"timezone": "Europe/Berlin", "oncall": {"ical_url": url, "overrides": list(overrides)}}, "test.toml")


def with_copy(schedule: sched.Schedule) -> sched.Rotation:
    assert schedule.oncall is not None and schedule.oncall.ical is not None
    schedule.oncall.ical.copy = ROTA
    return schedule.oncall


# --- who the feed says is on call ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("case", "moment", "expected"),
    [
        ("Jane's first week: the attendee, not the organizer, lower-cased", local("2026-03-16 09:00"), JANE),
        ("a minute before the feed's first event: nobody", local("2026-03-16 08:59"), None),
        ("a weekly handoff before the change: 09:00 CET is 08:00 UTC", utc("2026-03-23 07:59"), JANE),
        ("and Omar from 08:00 UTC", utc("2026-03-23 08:00"), OMAR),
        ("spring forward: Monday 06:59 UTC is 08:59 CEST, still Omar", utc("2026-03-30 06:59"), OMAR),
        ("spring forward: 09:00 CEST is 07:00 UTC, Jane", utc("2026-03-30 07:00"), JANE),
        ("a moved instance: Omar stays on Monday 13 April", local("2026-04-13 12:00"), OMAR),
        ("a moved instance: Jane from Tuesday 09:00", local("2026-04-14 09:00"), JANE),
        ("a minute before it, still Omar", local("2026-04-14 08:59"), OMAR),
        ("an all-day event that names nobody is no shift", local("2026-04-06 12:00"), OMAR),
        ("EXDATE: Omar's week off, Priya named in the summary covers it", local("2026-04-22 12:00"), PRIYA),
        ("EXDATE with nobody covering: a gap", local("2026-05-12 12:00"), None),
        ("fall back: Monday 07:59 UTC is 08:59 CET, still Omar", utc("2026-10-26 07:59"), OMAR),
        ("fall back: 09:00 CET is 08:00 UTC, Jane", utc("2026-10-26 08:00"), JANE),
        ("the Sunday the clocks go back, in the hour that happens twice", utc("2026-10-25 00:30"), OMAR),
    ],
)
def test_who_the_feed_says_is_on_call(case: str, moment: datetime, expected: str | None) -> None:
    rotation = with_copy(feed_rotation())
    assert sched.on_call(rotation, BERLIN, moment) == expected, case


def test_handoffs_of_a_feed_are_the_moments_the_holder_changes() -> None:
    rotation = with_copy(feed_rotation())
    found = sched.handoffs(rotation, BERLIN, local("2026-03-20 00:00"), local("2026-05-20 00:00"))
    assert [(m.astimezone(UTC), who) for m, who in found] == [
        (utc("2026-03-23 08:00"), OMAR),  # CET
        (utc("2026-03-30 07:00"), JANE),  # CEST from here
        (utc("2026-04-06 07:00"), OMAR),
        (utc("2026-04-14 07:00"), JANE),  # the moved instances: Tuesday, not Monday
        (utc("2026-04-20 07:00"), PRIYA),  # the excluded week, covered
        (utc("2026-04-27 07:00"), JANE),
        (utc("2026-05-04 07:00"), OMAR),
        (utc("2026-05-11 07:00"), None),  # the excluded week nobody covers
        (utc("2026-05-18 07:00"), OMAR),
    ]
    assert {m.astimezone(BERLIN).strftime("%H:%M") for m, _ in found} == {"09:00"}
    assert sched.last_handoff(rotation, BERLIN, local("2026-04-13 12:00")) == local("2026-04-06 09:00")
    assert sched.next_handoff(rotation, BERLIN, local("2026-04-13 12:00")) == local("2026-04-14 09:00")
    autumn = sched.handoffs(rotation, BERLIN, utc("2026-10-18 00:00"), utc("2026-11-03 00:00"))
    assert [(m.astimezone(UTC), who) for m, who in autumn] == [
        (utc("2026-10-19 07:00"), OMAR), (utc("2026-10-26 08:00"), JANE), (utc("2026-11-02 08:00"), OMAR)]


def test_a_feed_held_by_one_person_for_good_has_no_handoff_within_the_horizon() -> None:
    body = FEED.split("BEGIN:VEVENT")[0] + (
        "BEGIN:VEVENT\r\nUID:always\r\nDTSTART:20260101T000000Z\r\nDTEND:20260102T000000Z\r\nRRULE:FREQ=DAILY\r\n"
        "ATTENDEE:mailto:jane@example.com\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
    schedule = feed_rotation()
    assert schedule.oncall is not None and schedule.oncall.ical is not None
    schedule.oncall.ical.copy = ical.parse(body, BERLIN, NOW)
    assert sched.on_call(schedule.oncall, BERLIN, NOW) == JANE
    assert sched.next_handoff(schedule.oncall, BERLIN, NOW) is None
    assert sched.last_handoff(schedule.oncall, BERLIN, NOW) == utc("2026-01-01 00:00")


def test_the_files_overrides_win_over_the_feed() -> None:
    rotation = with_copy(feed_rotation([
        {"member": "U04LEAD", "from": "2026-04-01 12:00", "until": "2026-04-03 12:00"},  # in Jane's week
        {"member": OMAR, "from": "2026-04-05 12:00", "until": "2026-04-06 12:00"},  # Omar early, across the feed's handoff to him
    ]))
    assert sched.on_call(rotation, BERLIN, local("2026-04-02 09:00")) == "U04LEAD"
    assert sched.on_call(rotation, BERLIN, local("2026-04-03 12:00")) == JANE
    found = sched.handoffs(rotation, BERLIN, local("2026-03-31 00:00"), local("2026-04-15 00:00"))
    assert found == [
        (local("2026-04-01 12:00"), "U04LEAD"),
        (local("2026-04-03 12:00"), JANE),
        (local("2026-04-05 12:00"), OMAR),  # the feed's Monday handoff and the override's end change nobody
        (local("2026-04-14 09:00"), JANE),
    ]
    assert sched.next_handoff(rotation, BERLIN, local("2026-04-05 13:00")) == local("2026-04-14 09:00")


def test_before_any_copy_nobody_is_known_but_the_overrides_hold() -> None:
    schedule = feed_rotation([{"member": "U04LEAD", "from": "2026-04-01 12:00", "until": "2026-04-03 12:00"}])
    rotation = schedule.oncall
    assert rotation is not None
    assert sched.on_call(rotation, BERLIN, local("2026-04-01 11:00")) is None
    assert sched.on_call(rotation, BERLIN, local("2026-04-02 11:00")) == "U04LEAD"
    assert sched.handoffs(rotation, BERLIN, local("2026-03-31 00:00"), local("2026-04-15 00:00")) == [
        (local("2026-04-01 12:00"), "U04LEAD"), (local("2026-04-03 12:00"), None)]


def test_the_oncall_view_says_who_the_feed_names_and_when_nobody_is_known(capsys: pytest.CaptureFixture[str]) -> None:
    schedule = feed_rotation()
    problem = "the [oncall] ical_url feed on calendar.example.com was not found (HTTP 404); …"
    oncall_view.write(schedule, local("2026-04-01 10:00"), [problem])
    out = capsys.readouterr().out
    assert "feed: the [oncall] ical_url feed on calendar.example.com was not found" in out
    assert "on call:  nobody known (its iCal feed has not been fetched)" in out
    with_copy(schedule)
    oncall_view.write(schedule, local("2026-04-01 10:00"))
    out = capsys.readouterr().out
    assert "on call:  jane@example.com until Mon 2026-04-06 09:00 CEST (iCal feed)" in out
    assert "  Tue 2026-04-14 09:00 CEST  jane@example.com" in out


def event(*lines: str) -> icalendar.Event:
    text = "BEGIN:VEVENT\r\nUID:x\r\nDTSTART:20260401T090000Z\r\n" + "".join(f"{line}\r\n" for line in lines) + "END:VEVENT\r\n"
    return icalendar.Event.from_ical(text)


@pytest.mark.parametrize(
    ("case", "lines", "expected"),
    [
        ("an attendee", ["ATTENDEE;CN=Jane:mailto:jane@example.com"], JANE),
        ("a bare attendee, as some exports write it", ["ATTENDEE:jane@example.com"], JANE),
        ("the organizer listed among the attendees is left out", ["ORGANIZER:mailto:rota@example.com",
         "ATTENDEE:mailto:rota@example.com", "ATTENDEE:mailto:jane@example.com"], JANE),
        ("an attendee who declined is left out", ["ATTENDEE;PARTSTAT=DECLINED:mailto:omar@example.com",
                                                  "ATTENDEE:mailto:jane@example.com"], JANE),
        ("of two attendees, the first listed", ["ATTENDEE:mailto:jane@example.com", "ATTENDEE:mailto:omar@example.com"], JANE),
        ("an attendee before an e-mail in the summary", ["SUMMARY:On call: omar@example.com", "ATTENDEE:mailto:jane@example.com"], JANE),
        ("PagerDuty's summary", ["SUMMARY:On call: Jane@Example.com"], JANE),
        ("the summary before the organizer", ["SUMMARY:On call: jane@example.com", "ORGANIZER:mailto:omar@example.com"], JANE),
        ("the organizer alone", ["SUMMARY:On call", "ORGANIZER;CN=Jane:mailto:jane@example.com"], JANE),
        ("the organizer as the only attendee", ["ORGANIZER:mailto:jane@example.com", "ATTENDEE:mailto:jane@example.com"], JANE),
        ("a name is no e-mail", ["SUMMARY:On call - Jane Doe", "ATTENDEE;CN=Jane Doe:urn:uuid:1234"], None),
    ],
)
def test_who_an_event_names(case: str, lines: list[str], expected: str | None) -> None:
    assert ical.named(event(*lines)) == expected, case


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("<!DOCTYPE html><html><body>Sign in</body></html>", "is not an iCal feed"),
        ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n", "has no events"),
        ("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:x\r\nDTSTART:20260401T090000Z\r\nSUMMARY:Offsite\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
         "names nobody"),
    ],
)
def test_a_text_that_is_no_rota_is_refused(body: str, message: str) -> None:
    with pytest.raises(ical.FeedError, match=message):
        ical.parse(body, BERLIN, NOW)


# --- the fetch ------------------------------------------------------------------------------------------------------


@pytest.fixture
def server() -> Iterator[tuple[StandIn, dict[str, Reply]]]:
    serving = {"reply": Reply(raw=FEED.encode())}
    standin = StandIn(lambda _request: serving["reply"])
    yield standin, serving
    standin.close()


def secret_url(standin: StandIn) -> str:
    return f"{standin.url}/private/{TOKEN}/rota.ics?key={TOKEN}"


def build(url: str, cache_dir: Path, **options: float) -> tuple[feed.Feed, sched.Schedule]:
    schedule = feed_rotation(url=url)
    (one,) = feed.feeds(schedule, cache_dir, **options)  # type: ignore[arg-type]
    return one, schedule


def holder(schedule: sched.Schedule, moment: datetime = NOW) -> str | None:
    assert schedule.oncall is not None
    return sched.on_call(schedule.oncall, schedule.tz, moment)


def test_a_good_fetch_is_read_and_cached(server, tmp_path: Path) -> None:  # noqa: ANN001
    standin, _ = server
    one, schedule = build(secret_url(standin), tmp_path)
    assert holder(schedule) is None and not one.health().ok
    assert one.refresh(NOW) is None
    assert holder(schedule) == JANE
    health = one.health()
    assert health.ok and health.copy_fetched_at == NOW and health.notice_key is None
    assert health.next_attempt == NOW + feed.REFRESH_EVERY and not one.due(NOW + timedelta(minutes=14))
    cache = tmp_path / "oncall.ics"
    assert cache.stat().st_mode & 0o777 == 0o600
    assert TOKEN not in cache.read_text() and "BEGIN:VCALENDAR" in cache.read_text()
    assert standin.calls("/private/")


LARGE = FEED.replace("SUMMARY:Easter Monday", "SUMMARY:Easter Monday\r\nDESCRIPTION:" + "x" * 70 * 1000)


@pytest.mark.parametrize(
    ("case", "reply", "reason"),
    [
        ("a server error", Reply(503, raw=b"busy"), "is failing at the server (HTTP 503)"),
        ("a reset private address", Reply(403, raw=b"no"), "was refused (HTTP 403): its private address may have been reset"),
        ("gone", Reply(404, raw=b""), "was not found (HTTP 404)"),
        ("a login page instead of the feed", Reply(raw=b"<!DOCTYPE html><html>Sign in</html>"), "is not an iCal feed"),
        ("a calendar that names nobody", Reply(raw=FEED.replace("jane@example.com", "Jane").replace("Jane@Example.com", "Jane")
                                                    .replace("omar@example.com", "Omar").replace("priya@example.com", "Priya")
                                                    .replace("rota@example.com", "Rota").encode()), "names nobody"),
        ("too large, said up front", Reply(raw=LARGE.encode()), "is larger than 50 KB"),
        ("too large once decompressed, found while reading", Reply(raw=gzip.compress(LARGE.encode()), headers={"content-encoding": "gzip"}),
         "is larger than 50 KB"),
    ],
)
def test_a_failed_fetch_keeps_the_last_good_copy_and_says_why(
    server, tmp_path: Path, caplog: pytest.LogCaptureFixture, case: str, reply: Reply, reason: str  # noqa: ANN001
) -> None:
    caplog.set_level(logging.DEBUG)
    standin, serving = server
    one, schedule = build(secret_url(standin), tmp_path, max_bytes=50 * 1024)
    assert one.refresh(NOW) is None
    serving["reply"] = reply
    later = NOW + timedelta(hours=1)
    problem = one.refresh(later)
    assert problem is not None, case
    name = f"the [oncall] ical_url feed on 127.0.0.1 {reason}"
    assert problem.startswith(name), (case, problem)
    assert problem.endswith("; keeping the copy fetched 2026-04-01 12:00 CEST"), (case, problem)
    assert "\n" not in problem and TOKEN not in problem and "/private" not in problem, case
    assert holder(schedule, later) == JANE, f"{case}: the last good copy still says who is on call"
    health = one.health()
    assert (health.problem, health.failures, health.failing_since, health.ok) == (problem, 1, later, False)
    assert health.next_attempt == later + feed.RETRY_FIRST
    key = health.notice_key
    assert key is not None and one.refresh(later + timedelta(minutes=1)) is not None
    assert one.health().notice_key == key, "one notice per outage"
    assert one.health().next_attempt == later + timedelta(minutes=3), "back off: 1, then 2 minutes"
    assert TOKEN not in caplog.text, f"{case}: the token is in the log"
    assert caplog.text.count(reason) == 1, f"{case}: logged once when it breaks, not at every attempt"
    serving["reply"] = Reply(raw=FEED.encode())
    assert one.refresh(later + timedelta(minutes=5)) is None and one.health().notice_key is None


def test_the_token_never_reaches_the_log_even_at_debug(server, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:  # noqa: ANN001
    caplog.set_level(logging.DEBUG)
    standin, _ = server
    one, _ = build(secret_url(standin), tmp_path)
    assert one.refresh(NOW) is None
    assert "GET /[ical_url path hidden]" in caplog.text, "urllib3 logs the request line at DEBUG, blanked"
    assert TOKEN not in caplog.text


def test_before_any_good_copy_the_problem_says_nobody_is_known(server, tmp_path: Path) -> None:  # noqa: ANN001
    standin, serving = server
    serving["reply"] = Reply(500, raw=b"")
    one, schedule = build(secret_url(standin), tmp_path)
    problem = one.refresh(NOW)
    assert problem == ("the [oncall] ical_url feed on 127.0.0.1 is failing at the server (HTTP 500); "
                       "nobody is known to be on call until it is fetched")
    assert holder(schedule) is None
    assert one.health().line == problem and one.health().copy_fetched_at is None


@pytest.mark.parametrize(
    ("case", "setup"),
    [
        pytest.param("a server that never answers", lambda standin, serving: standin.delays.update({"/private": 30.0}),
                     id="never-answers"),
        pytest.param("a server that trickles its answer, never idle long enough for a read timeout",
                     lambda standin, serving: serving.update(reply=Reply(raw=FEED.encode(), drip=0.01)), id="trickles"),
    ],
)
def test_a_fetch_gives_up_at_its_deadline(server, tmp_path: Path, case: str, setup) -> None:  # noqa: ANN001
    standin, serving = server
    one, schedule = build(secret_url(standin), tmp_path, timeout=1.0)
    setup(standin, serving)
    started = time.monotonic()
    problem = one.refresh(NOW)
    elapsed = time.monotonic() - started
    assert 0.9 <= elapsed < 2.0, f"{case}: gave up after {elapsed:.2f} s"
    assert problem is not None and "did not answer within 1 s; nobody is known to be on call" in problem, case
    assert holder(schedule) is None


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_restart_without_network_reads_the_cache(server, tmp_path: Path) -> None:  # noqa: ANN001
    standin, _ = server
    url = secret_url(standin)
    first, _ = build(url, tmp_path)
    assert first.refresh(NOW) is None
    standin.close()  # the network is gone; replywatch restarts, reading the same file

    again, schedule = build(url, tmp_path)
    assert holder(schedule) is None, "nothing is read on building"
    assert again.restore(NOW + timedelta(hours=2)) is True
    assert holder(schedule) == JANE and again.health().copy_fetched_at == NOW
    problem = again.refresh(NOW + timedelta(hours=2))
    assert problem is not None and problem.startswith("the [oncall] ical_url feed on 127.0.0.1 could not be reached")
    assert problem.endswith("keeping the copy fetched 2026-04-01 12:00 CEST")
    assert holder(schedule) == JANE

    lazily, schedule = build(url, tmp_path)  # no restore called: the first refresh reads the cache itself
    assert lazily.refresh(NOW + timedelta(hours=3)) is not None and holder(schedule) == JANE


def test_the_cache_of_another_address_is_not_used(server, tmp_path: Path) -> None:  # noqa: ANN001
    standin, _ = server
    first, _ = build(secret_url(standin), tmp_path)
    assert first.refresh(NOW) is None
    other, schedule = build(f"http://127.0.0.1:{closed_port()}/another/rota.ics", tmp_path)
    assert other.restore(NOW) is False
    problem = other.refresh(NOW)
    assert problem is not None and problem.endswith("nobody is known to be on call until it is fetched")
    assert holder(schedule) is None


def test_an_unwritable_cache_does_not_fail_the_fetch(server, tmp_path: Path) -> None:  # noqa: ANN001
    standin, _ = server
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    one, schedule = build(secret_url(standin), blocker)
    assert one.refresh(NOW) is None and holder(schedule) == JANE


def test_e_mails_looked_up_in_slack_are_answered_as_user_ids(server, tmp_path: Path) -> None:  # noqa: ANN001
    standin, _ = server
    one, schedule = build(secret_url(standin), tmp_path)
    assert one.people(NOW, NOW + timedelta(days=14)) == []
    assert one.refresh(NOW) is None
    assert one.people(NOW, NOW + timedelta(days=14)) == [JANE, OMAR]
    one.resolve({JANE: "U01JANE"})
    assert holder(schedule) == "U01JANE" and holder(schedule, local("2026-04-08 12:00")) == OMAR
    assert schedule.oncall is not None
    assert sched.handoffs(schedule.oncall, BERLIN, NOW, local("2026-04-15 00:00")) == [
        (local("2026-04-06 09:00"), OMAR), (local("2026-04-14 09:00"), "U01JANE")]


def test_redirects_are_followed_within_the_one_deadline(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    moved = f"/moved/{TOKEN}-2/rota.ics"

    def handle(request: Request) -> Reply:
        if request.path.startswith("/private/"):
            return Reply(302, raw=b"", headers={"location": moved})
        if request.path == moved:
            return Reply(raw=FEED.encode())
        return Reply(302, raw=b"", headers={"location": "/loop"})

    standin = StandIn(handle)
    try:
        one, schedule = build(secret_url(standin), tmp_path)
        assert one.refresh(NOW) is None and holder(schedule) == JANE
        looping, _ = build(f"{standin.url}/elsewhere/{TOKEN}.ics", tmp_path / "loop")
        assert looping.refresh(NOW) == ("the [oncall] ical_url feed on 127.0.0.1 redirected more than 5 times; "
                                        "nobody is known to be on call until it is fetched")
    finally:
        standin.close()
    assert TOKEN not in caplog.text


def test_the_feed_is_named_by_its_host_only() -> None:
    assert feed.describe("backup", f"https://user:pw@calendar.example.com:8443/ical/{TOKEN}/basic.ics?k={TOKEN}") == (
        "the [backup] ical_url feed on calendar.example.com")
