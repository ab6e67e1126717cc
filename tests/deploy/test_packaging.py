"""What the image installs: requirements.lock pins every dependency pyproject.toml asks for, with hashes, and the
Dockerfile installs from it alone."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]


def _locked() -> dict[str, tuple[str, list[str]]]:
    """name -> (version, hashes), read from requirements.lock's `name==version ; marker \\ --hash=…` entries."""
    text = (ROOT / "requirements.lock").read_text()
    pins: dict[str, tuple[str, list[str]]] = {}
    for entry in re.split(r"\n(?=\S)", text):
        head = re.match(r"([A-Za-z0-9_.-]+)==([^\s;\\]+)", entry)
        if head:
            pins[canonicalize_name(head[1])] = (head[2], re.findall(r"--hash=sha256:([0-9a-f]{64})", entry))
    return pins


def _wanted() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return [Requirement(r) for r in project["dependencies"] + project["optional-dependencies"]["postgres"]]


def test_every_dependency_is_pinned_in_the_lock_within_its_range() -> None:
    pins = _locked()
    for want in _wanted():
        name = canonicalize_name(want.name)
        assert name in pins, f"{want.name} is in pyproject.toml but not in requirements.lock: run `make lock`"
        version = pins[name][0]
        assert want.specifier.contains(version, prereleases=True), (
            f"requirements.lock pins {want.name}=={version}, outside pyproject.toml's {want.specifier}: run `make lock`"
        )


def test_every_pin_carries_a_hash() -> None:
    pins = _locked()
    assert len(pins) >= 30  # the dependencies and theirs
    assert [name for name, (_, hashes) in pins.items() if not hashes] == []


def test_the_image_installs_from_the_lock_only() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    installs = re.findall(r"pip install [^\n]*", dockerfile)
    assert any("--require-hashes" in line and "-r requirements.lock" in line for line in installs)
    # the project itself goes in without pulling anything past the lock
    assert all("--require-hashes" in line or "--no-deps" in line for line in installs), installs


def test_the_license_is_shipped_and_declared() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == "MIT"
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")
