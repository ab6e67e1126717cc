"""deploy/systemd/replywatch.service: the lines a bare-host install relies on, the commands it runs exist, and
systemd's own `systemd-analyze` finds nothing wrong in it and rates it hardened (where systemd-analyze is installed)."""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from bot import cli

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "deploy" / "systemd" / "replywatch.service"
BINARY = "/opt/replywatch/bin/replywatch"
MAX_EXPOSURE = 20  # `systemd-analyze security`'s exposure, in tenths: 2.0 of 10 ("OK"); the unit scores 1.5


def _parse(text: str) -> dict[str, list[tuple[str, str]]]:
    """Sections of (key, value) in order: a key may repeat (SystemCallFilter=), which configparser would fold."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] | None = None
    for line in re.sub(r"\\\n", " ", text).splitlines():
        line = line.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], [])
            continue
        assert current is not None and "=" in line, f"not a unit file line: {line!r}"
        key, value = line.split("=", 1)
        current.append((key.strip(), value.strip()))
    return sections


SECTIONS = _parse(UNIT.read_text(encoding="utf-8"))


def _get(section: str, key: str) -> str:
    values = [v for k, v in SECTIONS[section] if k == key]
    assert len(values) == 1, f"[{section}] {key}= set {len(values)} times"
    return values[0]


def _has(section: str, key: str) -> bool:
    return any(k == key for k, _ in SECTIONS[section])


def test_it_runs_as_replywatch_with_its_settings_and_state_directory() -> None:
    assert _get("Service", "Type") == "simple", "replywatch does not speak sd_notify"
    assert _get("Service", "User") == "replywatch"
    assert _get("Service", "EnvironmentFile") == "/etc/replywatch/env"
    assert _get("Service", "StateDirectory") == "replywatch"
    assert _get("Service", "WorkingDirectory") == "/var/lib/replywatch", "DATABASE_URL's default is relative to it"
    assert _get("Install", "WantedBy") == "multi-user.target"
    assert "network-online.target" in _get("Unit", "After") and "network-online.target" in _get("Unit", "Wants")


@pytest.mark.parametrize(("key", "command"), [("ExecStartPre", "db upgrade"), ("ExecStart", "run")])
def test_it_runs_commands_replywatch_has(key: str, command: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert _get("Service", key) == f"{BINARY} {command}"
    with pytest.raises(SystemExit) as exited:
        cli.main([*command.split(), "--help"])
    assert exited.value.code == 0, f"`replywatch {command}` is not a command"
    assert "usage: replywatch" in capsys.readouterr().out


def test_every_failure_is_restarted_because_exit_2_is_not_only_bad_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A database not up yet at boot exits 2 like a wrong setting does: RestartPreventExitStatus=2 would leave the
    service dead until someone looks. If the CLI ever gives bad settings a code of their own, prevent that one."""
    assert _get("Service", "Restart") == "on-failure"
    assert not _has("Service", "RestartPreventExitStatus")
    monkeypatch.chdir(tmp_path)  # no .env of this checkout
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://replywatch:x@127.0.0.1:1/replywatch")  # nothing listens
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        assert cli.main(["db", "upgrade"]) == 2
    finally:  # the CLI set up logging for a process of its own
        root.handlers[:] = handlers
        root.setLevel(level)
    assert "DATABASE_URL: cannot use the database" in capsys.readouterr().err


def test_it_is_hardened() -> None:
    for key, value in {
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "PrivateDevices": "yes",
        "CapabilityBoundingSet": "",
        "UMask": "0077",
    }.items():
        assert _get("Service", key) == value, f"{key}={value}"
    # ProtectSystem=strict leaves StateDirectory= the one writable place: the working folder must be it
    assert _get("Service", "WorkingDirectory") == "/var/lib/" + _get("Service", "StateDirectory")


def test_the_header_says_how_to_install() -> None:
    header = UNIT.read_text(encoding="utf-8").split("[Unit]")[0]
    for step in ("useradd --system", "python3 -m venv /opt/replywatch", "install -m 0600", "systemctl enable --now replywatch"):
        assert step in header, f"the install steps no longer say {step!r}"


@pytest.fixture
def analyzable(tmp_path: Path) -> Path:
    """The unit, with its command pointing at an executable that exists here (verify checks that it does)."""
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed (Debian: apt-get install systemd)")
    stand_in = tmp_path / "replywatch"
    stand_in.write_text("#!/bin/sh\nexit 0\n")
    stand_in.chmod(0o755)
    unit = tmp_path / "replywatch.service"
    unit.write_text(UNIT.read_text(encoding="utf-8").replace(BINARY, str(stand_in)), encoding="utf-8")
    return unit


def test_systemd_analyze_verify_finds_nothing(analyzable: Path) -> None:
    done = subprocess.run(["systemd-analyze", "verify", "--man=no", str(analyzable)], capture_output=True, text=True, timeout=60)
    said = [line for line in (done.stdout + done.stderr).splitlines() if analyzable.name in line]
    assert done.returncode == 0 and not said, done.stdout + done.stderr


def test_systemd_analyze_rates_it_hardened(analyzable: Path) -> None:
    version = subprocess.run(["systemd-analyze", "--version"], capture_output=True, text=True, timeout=60).stdout
    if int(re.search(r"systemd (\d+)", version)[1]) < 250:
        pytest.skip("systemd-analyze security --offline needs systemd 250 or newer")
    done = subprocess.run(
        ["systemd-analyze", "security", "--offline=true", f"--threshold={MAX_EXPOSURE}", "--no-pager", str(analyzable)],
        capture_output=True, text=True, timeout=60,
    )
    overall = re.search(r"Overall exposure level.*", done.stdout)
    assert done.returncode == 0, overall[0] if overall else done.stdout + done.stderr
