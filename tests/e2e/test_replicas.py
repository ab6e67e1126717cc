"""Three `replywatch run` processes on one PostgreSQL, the leader SIGKILLed twice while Slack is slow: one reads X,
one talks to Slack, and nothing is lost or said twice. The scenario is benchmarks/replicas.py's, shortened."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.replicas import Scenario, Settings
from bot.standins.x_api import FakeX
from tests.standins.slack_api import FakeSlack

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.slow]
RETRY = 2.0  # a standby tries for the lead every 2 s


def test_three_replicas_with_the_leader_killed_twice(
    env: dict[str, str], fake_x: FakeX, fake_slack: FakeSlack, postgres_url: str, tmp_path: Path
) -> None:
    settings = Settings(
        seconds=11, kill_every=4.5, mention_every=2, answer_every=0, slack_latency=0.8, http_timeout=2, escalate_after=4, drain=20,
    )
    scenario = Scenario(fake_x, fake_slack, env, postgres_url, tmp_path, settings)
    figures = scenario.run()
    logs = "\n".join(r.log() for r in scenario.replicas)
    context = f"{figures}\n{logs[-4000:]}"

    assert sorted(fake_slack.alerted()) == sorted(scenario.mentions), "every mention alerted exactly once: " + context
    assert figures.duplicate_follow_ups == 0, "no escalation twice: " + context
    assert figures.mentions_reads_per_second <= 1.2, "one process reads X's mentions, once a second: " + context
    assert figures.timeline_posts_read_per_post_published == 1.0, "each post read once"
    assert figures.kills == 2 and figures.mentions_published >= 5, context
    assert figures.drained and figures.follow_ups == figures.mentions_published, "every mention escalated: " + context
    assert all(took < RETRY + 1.5 for took in figures.takeovers), f"a new leader within seconds of each kill: {figures.takeovers}"
    assert figures.longest_without_leader < RETRY + 1.5
    # Each kill hands the lead on: to a standby ("took over"), or to the killed replica restarting before a standby's
    # next try (it then leads from its own start): the first leader and two more either way.
    assert logs.count("leading @acme now") >= 3 and "standing by: another replica leads @acme" in logs, context
    assert "Traceback" not in logs
