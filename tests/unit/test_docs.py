"""The README and .env.example are the front door: every setting is in .env.example and in the settings page, with
the default the code uses; the README and the docs/ pages it links link only to what exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.calendar import schedule_file
from bot.cli import _parser
from bot.config.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DOCS = sorted((ROOT / "docs").glob("*.md"))
SETTINGS = [name.upper() for name in Settings.model_fields]


@pytest.mark.parametrize("name", SETTINGS)
def test_every_setting_is_in_env_example(name: str) -> None:
    assert re.search(rf"^#? ?{name}=", (ROOT / ".env.example").read_text(), re.MULTILINE), name


@pytest.mark.parametrize("name", SETTINGS)
def test_every_setting_is_on_the_settings_page(name: str) -> None:
    assert re.search(rf"^\| (`\w+`, )*`{name}`[, ]", (ROOT / "docs" / "settings.md").read_text(), re.MULTILINE), name


def test_env_example_defaults_match_the_code() -> None:
    text = (ROOT / ".env.example").read_text()
    for name, field in Settings.model_fields.items():
        match = re.search(rf"^# {name.upper()}=(.*)$", text, re.MULTILINE)
        if match is None or field.is_required() or field.default is None:
            continue
        default = field.default
        shown = match.group(1)
        if hasattr(default, "total_seconds"):
            from bot.config.values import parse_duration

            assert parse_duration(shown) == default, name
        elif isinstance(default, tuple):
            assert shown == ",".join(default), name
        elif isinstance(default, bool):
            assert shown == str(default).lower(), name
        else:
            assert shown == str(default), name


def test_every_command_is_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    commands = _parser()._subparsers._group_actions[0].choices  # noqa: SLF001
    for command in commands:
        assert f"replywatch {command}" in readme, command
    assert "make run" in readme and "make test" in readme


def test_the_slack_app_manifest_matches_what_replywatch_uses() -> None:
    import yaml

    manifest = yaml.safe_load((ROOT / "slack-app-manifest.yml").read_text())
    readme = (ROOT / "README.md").read_text()
    assert manifest["settings"]["socket_mode_enabled"] is True
    assert manifest["settings"]["interactivity"]["is_enabled"] is True
    assert [c["command"] for c in manifest["features"]["slash_commands"]] == ["/replywatch"]
    scopes = manifest["oauth_config"]["scopes"]["bot"]
    assert {"chat:write", "commands", "channels:history"} <= set(scopes)
    for scope in scopes:
        assert f"`{scope}`" in readme, f"{scope} is explained in the README"
    assert "slack-app-manifest.yml" in readme


def test_the_example_on_call_file_is_valid_and_every_key_is_documented() -> None:

    example = schedule_file.load(ROOT / "replywatch.toml.example")
    assert example.oncall is not None and example.backup is not None and example.hours is not None
    readme = (ROOT / "docs" / "oncall.md").read_text()
    for key in ("timezone", "members", "handoff", "start", "usergroup", "overrides", "member", "from", "until",
                "holidays", "[oncall]", "[backup]", "[hours]", "[[oncall.overrides]]"):
        assert f"`{key}`" in readme, key


def _anchor(heading: str) -> str:
    """GitHub's anchor for a Markdown heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.DOTALL)
    return {_anchor(m[1]) for m in re.finditer(r"^#+ (.+)$", text, re.MULTILINE)}


@pytest.mark.parametrize("page", [ROOT / "README.md", *DOCS], ids=lambda p: p.name)
def test_every_link_between_the_pages_leads_somewhere(page: Path) -> None:
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.DOTALL)
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target):
            continue
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        assert linked.exists(), f"{page.name} links to {target}: no such file"
        if anchor:
            assert anchor in _anchors(linked), f"{page.name} links to {target}: no such heading"


def test_the_readme_is_the_front_door() -> None:
    readme = (ROOT / "README.md").read_text()
    top = readme[: readme.index("## Contents")]
    assert "make run" in top and "make test" in top  # the two commands come first
    for page in DOCS:
        if page.suffix == ".md":
            assert f"(docs/{page.name})" in readme, f"docs/{page.name} is not in the README's contents"


def test_the_architecture_page_names_only_what_exists() -> None:
    page = (ROOT / "docs" / "ARCHITECTURE.md").read_text()
    named = set(re.findall(r"`?((?:bot|tests|migrations)/[\w/.]*)", page))
    assert len(named) > 20
    missing = sorted(path for path in named if not (ROOT / path.rstrip(".")).exists())
    assert missing == [], f"docs/ARCHITECTURE.md names what does not exist: {missing}"
    dotted = set(re.findall(r"`(bot(?:\.\w+)+)", page))
    for name in dotted:
        module, _, attr = name.rpartition(".")
        path = ROOT / module.replace(".", "/")
        assert path.with_suffix(".py").exists() or (path / "__init__.py").exists() or (ROOT / name.replace(".", "/")).exists(), name
