"""The shipped alert rules, as Prometheus runs them: promtool checks them and runs their own tests
(deploy/prometheus/tests: one replica, and two replicas on one database), every alert is tested firing and not
firing, the scrape job is the one the rules name, and every alert links a section of the runbook that exists."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS = ROOT / "deploy" / "prometheus"
RULES = PROMETHEUS / "replywatch-rules.yml"
RULE_TESTS = sorted((PROMETHEUS / "tests").glob("*.yml"))
RUNBOOK = ROOT / "docs" / "runbook.md"
RUNBOOK_URL = "https://github.com/replywatch/replywatch/blob/main/docs/runbook.md#"
WITHOUT = "promtool is not on PATH: `apt-get install prometheus` installs it (.ci/run takes only promtool from that package)"


def find_promtool() -> str:
    """promtool's path; without it the test is skipped, or fails when REQUIRE_PROMTOOL=1 (CI) says it must run."""
    found = shutil.which("promtool")
    if found is None:
        if os.environ.get("REQUIRE_PROMTOOL") == "1":
            pytest.fail(f"REQUIRE_PROMTOOL=1 but {WITHOUT}")
        pytest.skip(WITHOUT)
    return found


@pytest.fixture(scope="module")
def promtool() -> str:
    return find_promtool()


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=120, check=False, cwd=ROOT)


def _rules() -> list[dict]:
    return [rule for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]]


def test_promtool_accepts_the_rules(promtool: str) -> None:
    done = _run(promtool, "check", "rules", str(RULES))
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(_rules())} rules found" in done.stdout


def test_the_rules_pass_their_own_tests_with_one_replica_and_with_two(promtool: str) -> None:
    assert [p.name for p in RULE_TESTS] == ["one-replica.yml", "two-replicas.yml"]
    done = _run(promtool, "test", "rules", *map(str, RULE_TESTS))
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("SUCCESS") == len(RULE_TESTS)


def test_the_example_configuration_is_valid_and_loads_the_rules(promtool: str) -> None:
    done = _run(promtool, "check", "config", str(PROMETHEUS / "prometheus.yml"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS: 1 rule files found" in done.stdout


@pytest.mark.parametrize("cases", RULE_TESTS, ids=lambda p: p.stem)
def test_every_alert_is_tested_firing_and_not_firing(cases: Path) -> None:
    fired, quiet = set(), set()
    for case in yaml.safe_load(cases.read_text())["tests"]:
        for check in case.get("alert_rule_test", []):
            (fired if check.get("exp_alerts") else quiet).add(check["alertname"])
    alerts = {rule["alert"] for rule in _rules()}
    assert alerts - fired == set(), "never shown firing"
    assert alerts - quiet == set(), "never shown quiet"


def test_the_two_replica_cases_scrape_each_series_from_two_instances() -> None:
    series = [s["series"] for case in yaml.safe_load((PROMETHEUS / "tests" / "two-replicas.yml").read_text())["tests"]
              for s in case["input_series"]]
    assert {m for s in series for m in re.findall(r'instance="(\w+)"', s)} == {"a", "b"}


def test_the_scrape_job_is_the_one_the_rules_ask_for() -> None:
    """The target rules name the job (`up{job="replywatch"}`); the example configuration scrapes under that name."""
    jobs = {job for rule in _rules() for job in re.findall(r'\bup\{job="([^"]+)"\}', rule["expr"])}
    assert jobs == {"replywatch"}
    config = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
    assert [job["job_name"] for job in config["scrape_configs"]] == ["replywatch"]
    assert {rule["alert"] for rule in _rules() if "absent(" in rule["expr"]}, "an alert for no target at all"


def _anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_every_alert_links_its_section_of_the_runbook() -> None:
    sections = {_anchor(m[1]) for m in re.finditer(r"^## (.+)$", RUNBOOK.read_text(), re.MULTILINE)}
    linked = {}
    for rule in _rules():
        url = rule["annotations"]["runbook_url"]
        assert url.startswith(RUNBOOK_URL), rule["alert"]
        linked[rule["alert"]] = url.removeprefix(RUNBOOK_URL)
    assert set(linked.values()) <= sections, "a runbook_url leads to no heading of docs/runbook.md"
    assert sections == set(linked.values()), "a section of the runbook for no alert"
    assert len(set(linked.values())) == len(linked), "two alerts share a section"


@pytest.mark.parametrize("require", ["1", ""])
def test_without_promtool_the_tests_skip_saying_how_to_get_it_unless_ci_requires_it(
    require: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # a PATH on which there is no promtool
    monkeypatch.setenv("REQUIRE_PROMTOOL", require)
    outcome = pytest.fail.Exception if require else pytest.skip.Exception
    with pytest.raises(outcome, match="apt-get install prometheus"):
        find_promtool()
