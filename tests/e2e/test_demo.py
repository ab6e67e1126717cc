"""`replywatch demo` as a newcomer runs it: the real process, its built-in stand-ins, the hour played fast; the
summary's counts are what the scripted hour should give, what it printed is what Slack would have shown, in the
order of the story, and it leaves nothing behind unless told to keep the database, which `report` and `status` then
read as the closing lines say."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

import pytest
from rich.console import Console

from bot.config.settings import ConfigError
from bot.demo.command import run
from bot.demo.script import HOUR, Fate, World, expected

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.e2e
TAG = re.compile(r"\b(?:mention|digest|notice):\S")  # the outbox's keys (bot.services.outbox.Outgoing.tag)
LABELS = {"x": "X", "bluesky": "Bluesky", "mastodon": "Mastodon"}
MENTIONS_READ = {"X": "/mentions", "Bluesky": "listNotifications", "Mastodon": "/api/v1/notifications"}  # a stand-in's path
LOGINS = ("createSession", "refreshSession")  # Bluesky's sign-ins: not reads


def _environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("X_", "SLACK_", "DATABASE_", "SINK", "REPLYWATCH_"))}
    return {**env, "PYTHONPATH": str(ROOT), "COLUMNS": "200", **extra}


@pytest.mark.slow
def test_the_demo_plays_the_hour_keeps_its_database_and_report_and_status_read_it(tmp_path: Path) -> None:
    env_folder, temp, kept = tmp_path / "here", tmp_path / "tmp", tmp_path / "kept" / "demo.db"
    env_folder.mkdir()
    temp.mkdir()
    (env_folder / ".env").write_text("SINK=slack\nSLACK_BOT_TOKEN=not-a-token\n")  # this folder's settings are not read
    (env_folder / "replywatch.toml").write_text("[hours]\nmon = 'not hours'\n")
    done = subprocess.run([sys.executable, "-m", "bot", "demo", "--seconds", "5", "--keep", str(kept)],
                          env=_environment(TMPDIR=str(temp)), cwd=env_folder, capture_output=True, text=True, timeout=120)
    out = done.stdout
    assert done.returncode == 0, out[-3000:] + done.stderr[-2000:]

    shown = {fate: int(m.group(1)) for fate in Fate if (m := re.search(rf"│\s+(\d+) │ {re.escape(fate.value)}\s+│", out))}
    assert shown == expected(HOUR), out[-2500:]
    assert sum(shown.values()) == sum(e.fate is not None for e in HOUR) == 15
    assert "0 message(s) sent twice" in out and "1 digest(s)" in out and "4 mention(s) escalated" in out
    assert "Every mention ended as it should" in out

    assert "VIP: 250k followers" in out, "the VIP is alerted as one"
    assert "5 mentions have been waiting for a reply" in out, "the flood goes out as one digest"
    assert "kim@example.org" not in out, "a direct message's text is never shown in a channel"
    assert "hal_b" in out and "555-0100" not in out, "the deleted post is never alerted"
    assert out.count("was answered after") == 2 and "@flo answered" in out, "the answered alerts and digest lines edited"
    assert out.count("was answered from Slack by") == 1, "and @kim's, from the Reply button"
    assert "How we answered" in out and "replywatch-report-" in out, "the report, and its chart saved"
    assert re.search(r"X: 11 mentions stored; \d+ requests \(.*\); \d+ posts returned, \$\d+\.\d{3} at X's prices\.", out)
    assert "to @acme@masto.test on Mastodon" in out and "https://masto.test/@gil/" in out, "handles and links as people see them"
    assert "127.0.0.1" not in out and "localhost" not in out, "nothing shows where the stand-ins really listen"
    assert not TAG.search(out), "no internal key is shown"
    assert "Traceback" not in done.stderr

    assert list(temp.iterdir()) == [], "nothing left in the temporary folder"
    [chart] = (kept.parent / "demo-chart").glob("replywatch-report-*.png")
    assert sorted(p.name for p in kept.parent.iterdir()) == ["demo-chart", "demo.db"], "the database, and its chart beside it"
    assert f"The database is kept in {kept}, the report's chart in {chart}." in " ".join(out.split())
    commands = [line.strip() for line in out.splitlines() if line.startswith("  DATABASE_URL=")]
    assert commands == [f"DATABASE_URL=sqlite:///{kept} replywatch report", f"DATABASE_URL=sqlite:///{kept} replywatch status"]

    elsewhere = tmp_path / "elsewhere"  # a folder of the reader's, without the demo's settings
    elsewhere.mkdir()
    read = {}
    for command in commands:
        if not (Path(sys.executable).parent / "replywatch").exists():  # the venv's script, as `make` installs it
            command = command.replace(" replywatch ", f" {sys.executable} -m bot ")
        ran = subprocess.run(["bash", "-c", command], cwd=elsewhere, capture_output=True, text=True, timeout=60,
                             env=_environment(PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"))
        assert ran.returncode == 0, ran.stdout[-2000:] + ran.stderr[-2000:]
        read[command.split()[-1]] = ran.stdout
    assert re.search(r"@acme@masto\.test on\s+2\s+0\s+0\s+0\s+2\s+1\s+1", read["report"]), read["report"]
    assert re.search(r"total\s+15\s+4\s+1\s+0\s+10\s+6\s+4", read["report"]), "the report reads the hour just played"
    # Mastodon's one answer was written in Slack (the Reply button), as the account
    assert re.search(r"@acme@masto\.test on Mastodon\s+@acme \(the account\)\s+1\s+1\s", read["report"]), read["report"]
    assert "open mentions: 4" in read["status"] and "@acme@masto.test on Mastodon: 1 open" in read["status"], read["status"]
    assert "@gil" in read["status"] and "https://masto.test/@gil/" in read["status"]
    # no account is configured where it is read: status tells of the accounts the database read, all three
    assert "@acme.bsky.social on Bluesky: mentions" in read["status"], read["status"]
    assert "no poll attempt yet" not in read["status"], "the hour's polls are in the database"


@pytest.mark.slow
def test_the_story_prints_in_order_and_the_summary_counts_what_the_stand_ins_served(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Played fast (an hour in 3 seconds): every narration line in the order of the script, each panel after the step
    that makes it and before the next; the summary's figures are the mentions stored and the requests the stand-ins
    answered; the temporary folder is left as it was found."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    console = Console(file=io.StringIO(), width=200, highlight=False, emoji=False, markup=False)
    world = World()
    assert run(3, console, world=world) == 0
    out = console.file.getvalue()  # type: ignore[attr-defined]
    lines = out.splitlines()
    assert list(tmp_path.iterdir()) == [], "nothing left behind without --keep"
    assert "removed" in out and "--keep" in out

    told = [(i, float(m.group(1))) for i, line in enumerate(lines) if (m := re.match(r"\s+(\d+)' ", line))]
    assert [minute for _, minute in told] == [e.minute for e in HOUR], "the narration, in the script's order"

    def narrated(minute: int) -> int:
        return next(i for i, m in told if m == minute)

    def panel(text: str) -> int:
        [at] = [i for i, line in enumerate(lines) if text in line]
        return at

    story = [  # (what a panel says, the step it follows, the step it comes before)
        ("Big Shop Ltd (@bigshop) has been waiting 5m", 9, 12),  # posted at 4', VIP: alerted at 9'
        ("Big Shop Ltd (@bigshop) was answered", 14, 20),
        ("Cleo (@cleo.bsky.social) has been waiting 15m", 14, 20),  # posted at 3'
        ("Gil (@gil) has been waiting 15m", 20, 24),  # posted at 8'
        ("Cleo (@cleo.bsky.social) was answered", 26, 28),
        ("Kim (@kim) has been waiting 15m", 26, 28),  # posted at 12'
        ("5 mentions have been waiting for a reply ", 32, 38),  # the flood, posted at 20'
        ("2 since answered or closed, 3 still waiting", 38, 40),
        ("Kim (@kim) was answered", 40, None),
    ]
    for text, after, before in story:
        assert narrated(after) < panel(text) and (before is None or panel(text) < narrated(before)), text
    escalations = [i for i, line in enumerate(lines) if "Escalation:" in line]
    assert len(escalations) == 2 and narrated(40) < escalations[0], "escalated 35 minutes after 8' and 20'"
    assert max(escalations) < panel("How we answered") < panel("What happened in the hour"), "the report, then the summary"
    assert not TAG.search(out) and "127.0.0.1" not in out

    figures = {m.group(1): (int(m.group(2)), int(m.group(3)), dict((e.rsplit(" ", 1)[0], int(e.rsplit(" ", 1)[1]))
                                                                      for e in m.group(4).split(", ")))
               for m in re.finditer(r"^  (\w+): (\d+) mentions stored; (\d+) requests \(([^)]*)\)", out, re.M)}
    mentions = Counter(LABELS[e.network] for e in HOUR if e.fate is not None)
    served = {"X": world.x.http.requests, "Bluesky": world.bluesky.http.requests, "Mastodon": world.mastodon.http.requests}
    assert figures.keys() == served.keys() == mentions.keys()
    for network, (stored, requests, endpoints) in figures.items():
        assert stored == mentions[network], f"{network}: the mentions of the script, as stored"
        assert requests == sum(endpoints.values()) == len([r for r in served[network] if not r.path.endswith(LOGINS)]), network
        polled = sum(MENTIONS_READ[network] in r.path for r in served[network])
        assert polled > 50 and polled in endpoints.values(), f"{network}: every read of the mentions, counted"


def test_the_demo_refuses_what_it_cannot_do(tmp_path: Path) -> None:
    taken = tmp_path / "demo.db"
    taken.write_text("someone's database")
    with pytest.raises(ConfigError, match="something is there already"):
        run(1, keep=taken)
    assert taken.read_text() == "someone's database"
    with pytest.raises(ConfigError, match="--seconds must be more than 0"):
        run(0)
