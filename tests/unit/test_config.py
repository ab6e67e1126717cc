from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest

from bot.config.environment import load_settings
from bot.config.load import Use, load_config
from bot.config.settings import ConfigError
from bot.config.values import parse_duration

BASE = {
    "X_ACCOUNT": "acme",
    "X_BEARER_TOKEN": "bearer-secret-123",
    "SLACK_BOT_TOKEN": "xoxb-secret-456",
    "SLACK_CHANNEL": "C0ALERTS",
}


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path) -> pytest.MonkeyPatch:  # noqa: ANN001

    for key in list(os.environ):
        if key.startswith(("X_", "SLACK_")) or key in {
            "ALERT_AFTER", "POLL_INTERVAL", "DATABASE_URL", "HTTP_TIMEOUT", "LOG_LEVEL", "LOG_FORMAT", "ALLOW_QUEUE_IN", "SINK",
            "METRICS_ADDR",
        }:
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    for key, value in BASE.items():
        monkeypatch.setenv(key, value)
    return monkeypatch


@pytest.mark.parametrize(
    ("text", "expected"),
    [("45s", timedelta(seconds=45)), ("15m", timedelta(minutes=15)), ("2h", timedelta(hours=2)),
     ("1d", timedelta(days=1)), ("90", timedelta(seconds=90)), (" 3S ", timedelta(seconds=3)), ("1.5h", timedelta(minutes=90))],
)
def test_durations(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "abc", "5 minutes", "-3s", "1w", "m5"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_defaults(clean_env: pytest.MonkeyPatch) -> None:
    s = load_settings()
    assert s.alert_after == timedelta(minutes=30)
    assert s.poll_interval == timedelta(seconds=60)
    assert s.http_timeout == timedelta(seconds=10)
    assert s.database_url == "sqlite:///data/replywatch.db"
    assert s.x_api_base_url == "https://api.twitter.com"
    assert s.slack_api_base_url == "https://slack.com/api/"
    assert (s.log_level, s.log_format) == ("INFO", "text")
    assert not s.user_context
    assert s.metrics_addr == "127.0.0.1", "/metrics from this host only, unless told"


@pytest.mark.parametrize(("value", "expected"), [("0.0.0.0", "0.0.0.0"), (" ::1 ", "::1"), ("::", "::"), ("10.0.0.7", "10.0.0.7")])
def test_metrics_addr_takes_an_ipv4_or_ipv6_address(clean_env: pytest.MonkeyPatch, value: str, expected: str) -> None:
    clean_env.setenv("METRICS_ADDR", value)
    assert load_settings().metrics_addr == expected


def test_dotenv_in_working_folder_is_read(clean_env: pytest.MonkeyPatch, tmp_path) -> None:  # noqa: ANN001
    clean_env.delenv("X_ACCOUNT")
    (tmp_path / ".env").write_text("X_ACCOUNT=@AcmeSupport\nALERT_AFTER=2h\n")
    s = load_settings()
    assert s.x_account == "AcmeSupport" and s.alert_after == timedelta(hours=2)


def test_the_environment_wins_over_dotenv_and_names_match_in_any_case(clean_env: pytest.MonkeyPatch, tmp_path) -> None:  # noqa: ANN001
    clean_env.delenv("SLACK_CHANNEL")
    clean_env.setenv("alert_after", "2h")
    (tmp_path / ".env").write_text(
        "ALERT_AFTER=5h\nslack_channel=#alerts\nTimezone=Europe/Berlin\nLOG_LEVEL=debug\nLOG_LEVEL\nUNKNOWN_SETTING=1\n"
        'export POLL_INTERVAL="5s"\nX_ACCOUNT=\n'
    )
    s = load_settings()
    assert s.alert_after == timedelta(hours=2), "the environment before .env, whatever the case of the name"
    assert (s.slack_channel, s.timezone) == ("#alerts", "Europe/Berlin"), "names in .env in any case"
    assert s.log_level == "INFO", "a name given without a value, last, is not set"
    assert s.poll_interval == timedelta(seconds=5) and s.x_account == "acme"
    (tmp_path / ".env").write_text("X_ACCOUNT=\nSLACK_CHANNEL=#alerts\n")
    clean_env.delenv("X_ACCOUNT")
    assert load_settings().x_account is None, "a name given an empty value is not set, as if .env left it out"


def test_a_misspelt_setting_is_named_with_the_one_it_resembles_and_every_wrong_one_at_once(
    clean_env: pytest.MonkeyPatch, tmp_path  # noqa: ANN001
) -> None:
    (tmp_path / ".env").write_text("ALERT_AFTR=5m\nPOLL_INTERVAL=soon\nMAX_REMINDERS=many\nBLUESKY_APP_PASSWORD=abcd-efgh\n")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    message = str(caught.value)
    assert "ALERT_AFTR is not a replywatch setting; did you mean ALERT_AFTER?" in message, "a typo is never silently ignored"
    assert "POLL_INTERVAL must be" in message and "MAX_REMINDERS must be a whole number" in message, "all at once"
    assert "\n" not in message and "BLUESKY" not in message, "one line; a variable the accounts file names is no typo"


def test_wrong_settings_and_a_wrong_accounts_and_on_call_file_are_named_together(
    clean_env: pytest.MonkeyPatch, tmp_path  # noqa: ANN001
) -> None:
    """`run` and `check` name every problem at once, whichever part of the config it is in: one fix, one run."""
    (tmp_path / "replywatch.toml").write_text(
        '[oncall]\nhandoff = "someday"\n\n[[accounts]]\nnetwork = "bluesky"\nhandle = "acme"\napp_password_env = "B"\n'
    )
    clean_env.setenv("ALERT_AFTER", "soon")
    with pytest.raises(ConfigError) as caught:
        load_config(Use.CHECK)
    problems = str(caught.value).split("; ")
    assert problems[0].startswith("ALERT_AFTER must be a duration"), "the settings first"
    assert 'replywatch.toml, account "acme": handle: a Bluesky handle' in problems[1], "then the accounts"
    assert problems[2].startswith("replywatch.toml: oncall"), "then the on-call file"
    assert len(problems) == 3 and "\n" not in str(caught.value)


def test_the_config_is_read_once_and_a_file_edited_later_changes_nothing(clean_env: pytest.MonkeyPatch, tmp_path) -> None:  # noqa: ANN001
    from bot.app.configure import alert_policy
    from bot.report.build import judging

    (tmp_path / "replywatch.toml").write_text('timezone = "Europe/Berlin"\n[hours]\nmon = "09:00-17:00"\n')
    config = load_config()
    (tmp_path / "replywatch.toml").write_text('timezone = "Asia/Tokyo"\n')
    assert str(config.tz) == str(alert_policy(config).tz) == str(judging(config).tz) == "Europe/Berlin"


def test_the_example_files_placeholders_change_nothing_and_a_bare_token_prefix_is_named(
    clean_env: pytest.MonkeyPatch, tmp_path  # noqa: ANN001
) -> None:
    for name in ("SLACK_BOT_TOKEN", "SLACK_CHANNEL", "X_ACCOUNT", "X_BEARER_TOKEN"):
        clean_env.delenv(name, raising=False)
    (tmp_path / ".env").write_text((Path(__file__).parents[2] / ".env.example").read_text())
    settings = load_settings()
    assert settings.sink == "console" and settings.x_account is None and settings.x_bearer_token is None
    (tmp_path / ".env").write_text("SLACK_BOT_TOKEN=xoxb-\n")
    with pytest.raises(ConfigError, match="SLACK_BOT_TOKEN must be a whole Slack bot token: `xoxb-` alone is .env.example's placeholder"):
        load_settings()


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("X_ACCOUNT", None, "X_ACCOUNT is required but not set"),
        ("SLACK_CHANNEL", None, "SLACK_CHANNEL is required but not set"),
        ("SINK", "email", "SINK must be one of 'slack' or 'console'"),
        ("ALERT_AFTER", "soon", "ALERT_AFTER must be a duration such as 45s, 15m, 2h, 1d or plain seconds"),
        ("POLL_INTERVAL", "0", "POLL_INTERVAL must be a duration above zero"),
        ("HTTP_TIMEOUT", "x", "HTTP_TIMEOUT must be a duration"),
        ("X_ACCOUNT", "not a handle!", "X_ACCOUNT must be an X handle without @"),
        ("SLACK_CHANNEL", "alerts", "SLACK_CHANNEL must be a channel ID such as C0123ABCD or a #channel-name"),
        ("SLACK_BOT_TOKEN", "xoxp-user-token-secret", "SLACK_BOT_TOKEN must be a Slack bot token starting with xoxb-"),
        ("X_API_BASE_URL", "api.twitter.com", "X_API_BASE_URL must be an http:// or https:// URL"),
        ("LOG_LEVEL", "loud", "LOG_LEVEL must be one of 'DEBUG', 'INFO', 'WARNING' or 'ERROR'"),
        ("LOG_FORMAT", "xml", "LOG_FORMAT must be one of 'text' or 'json'"),
        ("X_BEARER_TOKEN", None, "X credentials are required: set X_BEARER_TOKEN, or X_API_KEY"),
        ("X_API_KEY", "key-only-secret", "missing X_API_SECRET, X_ACCESS_TOKEN, X_ACCESS_TOKEN_SECRET"),
        ("ALLOW_QUEUE_IN", "C0TEAM,#general", "ALLOW_QUEUE_IN must be comma-separated channel IDs (C…, G…, D…) and optionally external"),
        ("EXPIRE_AFTER", "20m", "EXPIRE_AFTER must be longer than ALERT_AFTER (a mention must be able to fall due), or 0 for never"),
        ("MAX_REMINDERS", "-1", "MAX_REMINDERS must be a whole number of at least 0 (0: the escalation only)"),
        ("MAX_REMINDERS", "lots", "MAX_REMINDERS must be a whole number"),
        ("METRICS_ADDR", "localhost", "METRICS_ADDR must be an IP address to serve /metrics on, such as 127.0.0.1"),
        ("METRICS_ADDR", "0.0.0.0:9108", "METRICS_ADDR must be an IP address"),
        ("REPORT_EVERY", "monthly",
         "REPORT_EVERY must be weekly DAY HH:MM (e.g. weekly mon 09:00), daily HH:MM, a crontab such as 0 9 * * mon, or off"),
        ("REPORT_EVERY", "0 9 * * 8", "REPORT_EVERY must be weekly DAY HH:MM (e.g. weekly mon 09:00), daily HH:MM, a crontab such as "
         "0 9 * * mon, or off (the crontab: a weekday (0-7 or sun-sat), not '8')"),
    ],
)
def test_bad_settings_name_the_variable(clean_env: pytest.MonkeyPatch, name: str, value: str | None, message: str) -> None:
    """As `run` reads them: the settings, then the accounts they watch."""
    if value is None:
        clean_env.delenv(name)
    else:
        clean_env.setenv(name, value)
    with pytest.raises(ConfigError) as info:
        load_config()
    text = str(info.value)
    assert message in text
    assert "\n" not in text
    for secret in ("bearer-secret-123", "xoxb-secret-456", "xoxp-user-token-secret", "key-only-secret"):
        assert secret not in text


def test_without_a_slack_bot_token_alerts_go_to_the_console(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.delenv("SLACK_BOT_TOKEN")
    clean_env.delenv("SLACK_CHANNEL")
    s = load_settings()
    assert (s.sink, s.slack_channel) == ("console", "#replywatch")
    clean_env.setenv("SLACK_CHANNEL", "#social")
    assert load_settings().slack_channel == "#social", "the label the console titles its messages with"


def test_sink_is_slack_when_a_token_is_set_unless_told_otherwise(clean_env: pytest.MonkeyPatch) -> None:
    assert load_settings().sink == "slack"
    clean_env.setenv("SINK", " Console ")
    assert load_settings().sink == "console", "the token stays set and unused"
    clean_env.setenv("SINK", "")
    assert load_settings().sink == "slack", "empty is unset"


@pytest.mark.parametrize("missing", ["SLACK_BOT_TOKEN", "SLACK_CHANNEL"])
def test_sink_slack_needs_the_token_and_the_channel(clean_env: pytest.MonkeyPatch, missing: str) -> None:
    clean_env.setenv("SINK", "slack")
    clean_env.delenv(missing)
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert str(info.value).startswith(f"{missing} is required but not set (SINK=slack")
    assert "xoxb-secret-456" not in str(info.value)


def test_sink_slack_names_both_missing_at_once(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("SINK", "slack")
    clean_env.delenv("SLACK_BOT_TOKEN")
    clean_env.delenv("SLACK_CHANNEL")
    with pytest.raises(ConfigError, match="^SLACK_BOT_TOKEN and SLACK_CHANNEL are required but not set"):
        load_settings()


def test_user_context_is_preferred_when_complete(clean_env: pytest.MonkeyPatch) -> None:
    for name in ("X_API_KEY", "X_API_SECRET", "X_ACCESS_TOKEN", "X_ACCESS_TOKEN_SECRET"):
        clean_env.setenv(name, f"{name.lower()}-value")
    s = load_settings()
    assert s.user_context
    assert "x_access_token_secret-value" in s.secrets()


def test_database_password_counts_as_a_secret(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("DATABASE_URL", "postgresql+psycopg://bot:pa55word@db:5432/replywatch")
    assert "pa55word" in load_settings().secrets()


def test_the_queue_is_shown_in_the_alert_channel_only_unless_allow_queue_in_says_more(clean_env: pytest.MonkeyPatch) -> None:
    default = load_settings()
    assert (default.queue_channels, default.queue_for_external) == (frozenset(), False)
    clean_env.setenv("ALLOW_QUEUE_IN", " C0TEAM, D0JANE ,External")
    s = load_settings()
    assert (s.queue_channels, s.queue_for_external) == (frozenset({"C0TEAM", "D0JANE"}), True)
