"""On call and business hours against the stand-ins: a fake clock driven through a week, then the real process
with hours that are closed right now."""

from __future__ import annotations

import json
import re
import sqlite3
import tomllib
from contextlib import closing
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.app.verify import resolve_people
from bot.calendar import schedule as sched
from bot.calendar import schedule_file
from bot.config.load import Config
from bot.config.settings import Settings
from tests.conftest import make_loop
from tests.integration.test_cli import cli

BERLIN = ZoneInfo("Europe/Berlin")
MIN = timedelta(minutes=1)
JANE, OMAR, PRIYA, LEAD = "U01JANE", "U02OMAR", "U03PRIYA", "U04LEAD"
PING = re.compile(r"<@U\w+>|<!subteam\^\w+>|<!here>|<!channel>")
WHO_UNTIL = re.compile(r"<@U\w+> is on call[^.]*")

WEEK = {
    "timezone": "Europe/Berlin",
    "oncall": {"members": [JANE, OMAR, "priya@example.com"], "handoff": "daily 09:00", "start": "2026-11-23",
               "usergroup": "S0ONCALL"},
    "backup": {"members": [LEAD], "handoff": "weekly mon 09:00", "start": "2026-11-23"},
    "hours": {d: "09:00-18:00" for d in ("mon", "tue", "wed", "thu", "fri")},
}


def berlin(moment: datetime) -> datetime:
    return moment.astimezone(BERLIN)


@pytest.mark.slow
def test_a_week_on_call(fake_x, fake_slack, sqlite_store) -> None:  # noqa: ANN001
    fake_slack.emails = {"priya@example.com": PRIYA}
    loop = make_loop(fake_x, fake_slack, sqlite_store, interval=5 * MIN, escalate_after=MIN * 60, remind_every=None,
                     escalate_to=("U0NOBODY",), digest_threshold=5)
    schedule = resolve_people(Config(Settings(), schedule=schedule_file.parse(WEEK)), loop.sweep.sink.person).schedule
    assert schedule is not None
    assert schedule.oncall.members == (JANE, OMAR, PRIYA), "the e-mail was looked up in Slack"
    loop.configure(schedule=schedule, display_tz=BERLIN)
    fans = [loop.x.add_user(f"fan{i}") for i in range(30)]
    daily: dict[str, int] = {}
    overnight: list[int] = []
    # Wednesday 2026-11-25 10:00 Berlin → the next Wednesday, 10 minutes a tick.
    for step in range(7 * 24 * 6):
        now = berlin(loop.clock.now())
        if now.hour == 11 and now.minute == 0:
            daily[now.strftime("%a")] = loop.post(fans[len(daily)], f"@acme question on {now:%A}")
        if now.strftime("%a %H:%M") == "Thu 23:00":
            overnight += [loop.post(fans[20 + i], f"@acme late night {i}") for i in range(3)]
        if now.strftime("%a %H:%M") == "Sat 12:00":
            overnight.append(loop.post(fans[25], "@acme weekend question"))
        if now.strftime("%a %H:%M") == "Thu 17:00":  # snoozed until the evening: it may only wake at the opening
            with loop.store.unit() as repo:
                repo.snooze(loop.key(daily["Thu"]), OMAR, now.replace(hour=20))
        if now.hour == 11 and now.minute == 50 and now.strftime("%a") != "Thu":
            loop.post(loop.acme, "@fan answered", reply_to=daily[now.strftime("%a")])  # Thursday's is left stuck
        loop.tick(timedelta(minutes=10) if step else timedelta(0))

    # Alerts name whoever is on call that day (daily from Monday 11-23: Mon Jane, Tue Omar, Wed Priya, Thu Jane …).
    expected = {"Wed": PRIYA, "Thu": JANE, "Fri": OMAR, "Mon": OMAR, "Tue": PRIYA}
    for day, who in expected.items():
        [alert] = loop.slack.alerts_for(daily[day])
        first = alert.edits[0]["blocks"] if alert.edits else alert.blocks  # as posted, before the answer's edit
        assert f"on call: <@{who}>" in first[1]["elements"][0]["text"], day
    assert "Sat" not in daily or not loop.slack.alerts_for(daily["Sat"])

    # The stuck one escalates to the backup on call, not ESCALATE_TO.
    [thursday] = loop.slack.alerts_for(daily["Thu"])
    escalation, woke = loop.slack.thread(thursday.ts)
    assert f"<@{LEAD}>" in escalation.text and "U0NOBODY" not in escalation.text
    assert woke.text.startswith(f":alarm_clock: Snooze over: <@{OMAR}>")
    assert berlin(datetime.fromtimestamp(woke.received_at, UTC)).strftime("%a %H") == "Fri 09", "at the opening, not at 20:00"
    answered_threads = [loop.slack.thread(loop.slack.alerts_for(daily[d])[0].ts) for d in ("Wed", "Fri", "Mon", "Tue")]
    assert answered_threads == [[], [], [], []]

    # A handoff message on each open day, and the user group follows every handoff, weekends included.
    handoffs = [m for m in loop.slack.notices() if m.text.startswith(":busts_in_silhouette: Handoff")]
    days = [berlin(datetime.fromtimestamp(m.received_at, UTC)).strftime("%a %H:%M") for m in handoffs]
    assert days == ["Wed 10:00", "Thu 09:00", "Fri 09:00", "Mon 09:00", "Tue 09:00", "Wed 09:00"]
    assert f"<@{JANE}> is on call until 2026-11-27 09:00 CET. Backup: <@{LEAD}>." in handoffs[1].text
    group = [(berlin(datetime.fromtimestamp(t, UTC)).strftime("%a %H:%M"), users) for g, users, t in loop.slack.usergroup_updates]
    assert group == [("Wed 10:00", [PRIYA]), ("Thu 09:00", [JANE]), ("Fri 09:00", [OMAR]), ("Sat 09:00", [PRIYA]),
                     ("Sun 09:00", [JANE]), ("Mon 09:00", [OMAR]), ("Tue 09:00", [PRIYA]), ("Wed 09:00", [JANE])]

    # Nobody is pinged outside hours.
    for message in loop.slack.messages:
        sent = berlin(datetime.fromtimestamp(message.received_at, UTC))
        if PING.search(message.text + json.dumps(message.blocks)):
            assert sched.is_open(schedule.hours, BERLIN, sent), (sent, message.text)

    # What came in overnight arrives at opening + ALERT_AFTER as one morning digest; the weekend one on Monday.
    [friday] = loop.slack.digests()
    assert berlin(datetime.fromtimestamp(friday.received_at, UTC)).strftime("%a %H:%M") == "Fri 09:30"
    assert all(f"/status/{i}" in json.dumps(friday.blocks) for i in overnight[:3])
    [weekend] = loop.slack.alerts_for(overnight[3])
    assert berlin(datetime.fromtimestamp(weekend.received_at, UTC)).strftime("%a %H:%M") == "Mon 09:30"


# Daily: Wednesday 11-25 Priya, Thursday Jane, Friday Omar, Saturday Priya. The lead covers Thursday 14:00 to Friday
# 12:00, across Friday's 09:00 handoff from Jane to Omar, which changes nobody while the override holds.
COVERED = f"""timezone = "Europe/Berlin"
[oncall]
members = ["{JANE}", "{OMAR}", "{PRIYA}"]
handoff = "daily 09:00"
start = "2026-11-23"
[[oncall.overrides]]
member = "{LEAD}"
from = "2026-11-26 14:00"
until = "2026-11-27 12:00"
"""


def handoff_messages(loop) -> list[tuple[str, str]]:  # noqa: ANN001
    """(when, who until when) for each handoff message sent, Berlin time."""
    found = [m for m in loop.slack.notices() if m.text.startswith(":busts_in_silhouette: Handoff")]
    return [(berlin(datetime.fromtimestamp(m.received_at, UTC)).strftime("%a %H:%M"), WHO_UNTIL.search(m.text).group()) for m in found]


def test_an_override_covering_a_handoff_is_one_handoff(fake_x, fake_slack, sqlite_store) -> None:  # noqa: ANN001
    loop = make_loop(fake_x, fake_slack, sqlite_store, schedule=schedule_file.parse(tomllib.loads(COVERED)), display_tz=BERLIN)
    for step in range(3 * 24 * 2):  # Wednesday 10:00 Berlin to Saturday 09:30, half an hour a tick
        loop.tick(timedelta(minutes=30) if step else timedelta(0))
    assert handoff_messages(loop) == [
        ("Wed 10:00", f"<@{PRIYA}> is on call until 2026-11-26 09:00 CET"),
        ("Thu 09:00", f"<@{JANE}> is on call until 2026-11-26 14:00 CET"),
        ("Thu 14:00", f"<@{LEAD}> is on call until 2026-11-27 12:00 CET"),  # the override's end, not Friday 09:00
        ("Fri 12:00", f"<@{OMAR}> is on call until 2026-11-28 09:00 CET"),  # nothing at Friday 09:00
        ("Sat 09:00", f"<@{PRIYA}> is on call until 2026-11-29 09:00 CET"),
    ]


def test_a_rotation_of_one_is_announced_once(fake_x, fake_slack, sqlite_store) -> None:  # noqa: ANN001
    alone = schedule_file.parse({
        "timezone": "Europe/Berlin", "oncall": {"members": [LEAD], "handoff": "daily 09:00", "start": "2026-11-23"},
    })
    loop = make_loop(fake_x, fake_slack, sqlite_store, schedule=alone, display_tz=BERLIN)
    for step in range(3 * 24):  # Wednesday 10:00 Berlin to Saturday 09:00, an hour a tick: three daily shift changes
        loop.tick(timedelta(hours=1) if step else timedelta(0))
    assert handoff_messages(loop) == [("Wed 10:00", f"<@{LEAD}> is on call with no handoff ahead")]


def test_oncall_inside_an_override_gives_its_end_as_until(env, tmp_path) -> None:  # noqa: ANN001
    (tmp_path / "replywatch.toml").write_text(COVERED)
    for moment in ("2026-11-27 08:00", "2026-11-27 10:00"):  # either side of the handoff the override hides
        result = cli(env, "oncall", "--at", moment)
        assert result.returncode == 0, result.stderr
        assert f"on call:  {LEAD} until Fri 2026-11-27 12:00 CET (override)\n" in result.stdout, result.stdout
        handoffs = result.stdout.split("on call handoffs in the next 14 days:\n")[1].splitlines()[:2]
        assert handoffs == [f"  Fri 2026-11-27 12:00 CET  {OMAR}", f"  Sat 2026-11-28 09:00 CET  {PRIYA}"], result.stdout


def test_closed_hours_mean_no_alert_and_status_shows_the_next_opening(env, fake_x, fake_slack, tmp_path) -> None:  # noqa: ANN001
    from tests.e2e.test_process import Bot

    today = datetime.now(BERLIN).date()
    config = tmp_path / "replywatch.toml"
    holidays = ", ".join(f'"{today + timedelta(days=i)}"' for i in range(2))
    config.write_text('timezone = "Europe/Berlin"\n[hours]\n' + "".join(f'{d} = "09:00-18:00"\n' for d in sched.WEEKDAYS)
                      + f"holidays = [{holidays}]\n")
    opening = datetime.combine(today + timedelta(days=2), datetime.min.time().replace(hour=9), tzinfo=BERLIN)
    env = {**env, "ALERT_AFTER": "1s", "POLL_INTERVAL": "1s", "REPLYWATCH_CONFIG": str(config)}
    bob = fake_x.add_user("bob")
    bot = Bot(env, tmp_path / "bot.log")
    bot.start()
    try:
        from bot.standins.http import wait_for

        assert wait_for(lambda: fake_x.http.calls("/mentions"), timeout=20)
        mention = fake_x.post(bob, "@acme anyone there?")
        posted = fake_x.tweets[mention].created_at
        db = tmp_path / "replywatch.db"

        def judged() -> bool:
            """The sweep has alerted it, or worked out when it is really due and stored that instead of the post's time."""
            with closing(sqlite3.connect(db, timeout=5)) as conn:
                row = conn.execute("SELECT due_at FROM mentions WHERE post_id = ?", (str(mention),)).fetchone()
            return bool(fake_slack.alerts_for(mention)) or (row is not None and row[0] is not None
                                                            and datetime.fromisoformat(row[0]).replace(tzinfo=UTC) > posted)

        assert wait_for(judged, timeout=20), bot.log_path.read_text()[-3000:]
        assert fake_slack.alerts_for(mention) == [], "closed now: no alert"
    finally:
        bot.stop(15)
    result = cli(env, "status")
    assert result.returncode == 0, result.stderr
    assert f"due {opening:%a %Y-%m-%d} 09:00" in result.stdout, result.stdout
    data = json.loads(cli(env, "status", "--json").stdout)
    assert data["open"][0]["due_at"] == (opening + timedelta(seconds=1)).isoformat(), "ALERT_AFTER=1s of open time"


BAD_FILES = [
    ('timezone = "Mars/Olympus"\n', "{path}: timezone must be an IANA time zone name"),
    ('[oncall]\nmembers = []\nhandoff = "daily 09:00"\nstart = "2026-11-23"\n', "oncall.members must be a non-empty list"),
    ('[oncall]\nmembers = ["U01JANE"]\nhandoff = "daily 09:00"\nstart = "2026-11-23"\n'
     '[[oncall.overrides]]\nmember = "U02OMAR"\nfrom = "2026-12-24 09:00"\nuntil = "2026-12-27 09:00"\n'
     '[[oncall.overrides]]\nmember = "U03LEAD"\nfrom = "2026-12-26 09:00"\nuntil = "2026-12-28 09:00"\n',
     "oncall.overrides number 2 overlaps number 1"),
    ('[oncall]\nmembers = ["U01JANE"]\nhandoff = "daily 09:00"\nstart = "2026-11-23"\n'
     '[[oncall.overrides]]\nmember = "U02OMAR"\nfrom = "2026-12-24 09:00"\nuntil = "Dec 27"\n',
     'oncall.overrides number 1: until must be a local time such as "2026-12-24 09:00"'),
    ('[hours]\nmon = "9 to 5"\n', 'hours.mon must be opening and closing time such as "09:00-18:00"'),
    ('[oncall\n', "not valid TOML"),
    ('[oncall]\nmembers = ["nobody@example.com"]\nhandoff = "daily 09:00"\nstart = "2026-11-23"\n',
     "{path}, oncall.members number 1: Slack has no user with the e-mail nobody@example.com"),
]


def test_a_bad_file_stops_the_start_with_one_line_naming_the_key(env, tmp_path) -> None:  # noqa: ANN001
    from tests.integration.test_cli import assert_clean_failure

    path = tmp_path / "replywatch.toml"  # found without REPLYWATCH_CONFIG: the working folder's file
    for text, message in BAD_FILES:
        path.write_text(text)
        for command in ("check", "run"):
            assert_clean_failure(cli(env, command), message.format(path="replywatch.toml"), env)


def test_a_vip_breaks_through_closed_hours_only_when_allowed(fake_x, fake_slack, sqlite_store) -> None:  # noqa: ANN001
    closed_today = schedule_file.parse({"timezone": "Europe/Berlin", "hours": {"mon": "09:00-18:00", "holidays": ["2026-11-25"]}})
    star, bob = fake_x.add_user("star", followers=250_000), fake_x.add_user("bob")
    loop = make_loop(fake_x, fake_slack, sqlite_store, interval=timedelta(seconds=1), signals={"vip_min_followers": 100_000},
                     alert_after_vip=timedelta(seconds=2), schedule=closed_today, vip_ignores_hours=False)
    vip = loop.post(star, "@acme outage?")
    loop.post(bob, "@acme me too")
    for _ in range(5):
        loop.tick(timedelta(seconds=1))
    assert loop.slack.alerted() == [], "closed: nobody is pinged, VIP or not"
    loop.configure(vip_ignores_hours=True)
    loop.tick(timedelta(seconds=1))
    assert loop.slack.alerted() == [vip], "VIP_IGNORES_HOURS=true: the VIP gets through, the other waits for Monday"


def test_check_resolves_e_mails_and_says_who_is_on_call(env, fake_slack, tmp_path) -> None:  # noqa: ANN001
    fake_slack.emails = {"priya@example.com": "U03PRIYA"}
    (tmp_path / "replywatch.toml").write_text(
        '[oncall]\nmembers = ["priya@example.com"]\nhandoff = "daily 09:00"\nstart = "2026-11-23"\n'
    )
    result = cli(env, "check")
    assert result.returncode == 0, result.stderr
    assert "on call: replywatch.toml ok; now U03PRIYA" in result.stdout
