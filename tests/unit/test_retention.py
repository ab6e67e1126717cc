"""Retention's pure parts: what of a reason or a note is kept, what of a stored note is erased, RETENTION_DAYS as a
setting, and how `status` words it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.config.environment import load_settings
from bot.config.settings import ConfigError
from bot.messages import ReportNote, Text, load, payload
from bot.model import AccountKey, Network
from bot.report.compute import Rows, compute
from bot.report.model import Received
from bot.services.retention import erased_note, impersonal
from bot.status import Retention
from tests.conftest import judging

T0 = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("stored", "kept"),
    [
        ("muted author @bob", "muted author"),  # a rule naming a stranger
        ("posted by responder @helper", "posted by responder"),
        ("no reply needed: spam", "no reply needed: spam"),  # a Slack close, no note
        ("no reply needed: other — Bob is our landlord", "no reply needed: other"),  # the note typed with it
        ("no reply needed: other — ask @bob", "no reply needed: other"),
        ("answered by post 1234567890", "answered by post 1234567890"),  # the account's own post
        ("expired: no reply within 7d; no longer waited for", "expired: no reply within 7d; no longer waited for"),
        ("ignored keyword giveaway", "ignored keyword giveaway"),  # our own setting
        ("deleted by its author", "deleted by its author"),
        ("until 2026-11-02T12:00:00+00:00", "until 2026-11-02T12:00:00+00:00"),  # a snooze's detail
        ("", ""),
    ],
)
def test_what_of_a_reason_names_nobody(stored: str, kept: str) -> None:
    assert impersonal(stored) == kept


def test_a_report_note_loses_the_strangers_of_its_longest_waits_and_keeps_its_numbers() -> None:
    received = [Received("x", "acme", "answered", T0, T0 + timedelta(minutes=40), "bob", "https://x.com/bob/status/1", "acme", True,
                         False)]
    report = compute(Rows(received), T0 - timedelta(days=1), T0 + timedelta(hours=1), T0 + timedelta(hours=1),
                     judging(ZoneInfo("UTC"), timedelta(minutes=30)), [AccountKey(Network.X, "acme")])
    note = ReportNote(T0, T0, json.dumps(report.to_json()), 1800.0, chart="F0CHART")
    erased = load("report", erased_note("report", payload(note)))
    assert isinstance(erased, ReportNote) and (erased.start, erased.chart, erased.alert_after) == (T0, "F0CHART", 1800.0)
    data, before = json.loads(erased.report), report.to_json()
    for account in (*before["accounts"], before["total"]):
        for wait in account["longest_waits"]:
            wait["author"] = wait["url"] = ""
    assert data == before and data["total"]["longest_waits"][0]["waited"] == 2400.0
    assert "bob" not in erased.report


def test_an_old_text_note_loses_its_text_and_one_that_cannot_be_read_is_left() -> None:
    assert load("text", erased_note("text", payload(Text("@bob is waiting: https://x.com/bob/status/1")))) == Text("")
    assert erased_note("report", "{not json") == "{not json"


@pytest.mark.parametrize("value", ["-1", "0", "thirty", "1.5", "7d"])
def test_a_wrong_retention_days_is_named(value: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RETENTION_DAYS", value)
    with pytest.raises(ConfigError) as caught:
        load_settings(x_account="acme")
    assert str(caught.value) == "RETENTION_DAYS must be a whole number of days of at least 1, such as 30 (or empty to keep everything)"


@pytest.mark.parametrize(("value", "days"), [(None, None), ("", None), ("  ", None), ("30", 30), (" 365 ", 365)])
def test_retention_is_off_unless_set(value: str | None, days: int | None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RETENTION_DAYS", raising=False)
    if value is not None:
        monkeypatch.setenv("RETENTION_DAYS", value)
    assert load_settings(x_account="acme").retention_days == days


BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("retention", "line", "overdue"),
    [
        (Retention(None, BERLIN, NOW), "retention: off (RETENTION_DAYS not set): nothing is erased", False),
        (Retention(30, BERLIN, NOW),
         "retention: closed mentions erased 30 day(s) after closing, nightly at 03:00 Europe/Berlin; last erased never; "
         "oldest closed mention kept: none", False),
        (Retention(30, BERLIN, NOW, NOW - timedelta(hours=6), 1234, NOW - timedelta(days=30, hours=20)),
         "retention: closed mentions erased 30 day(s) after closing, nightly at 03:00 Europe/Berlin; last erased Wed 2026-12-02 "
         "03:00 CET (1,234 mention(s)); oldest closed mention kept: closed 30d 20h ago", False),  # kept until tonight's purge
        (Retention(30, BERLIN, NOW, None, 0, NOW - timedelta(days=31, hours=2)),
         "retention: closed mentions erased 30 day(s) after closing, nightly at 03:00 Europe/Berlin; last erased never; "
         "oldest closed mention kept: closed 31d 2h ago; OVERDUE: is `replywatch run` running?", True),
    ],
)
def test_status_says_what_retention_did(retention: Retention, line: str, overdue: bool) -> None:
    assert retention.line() == line
    assert retention.data()["overdue"] is overdue
