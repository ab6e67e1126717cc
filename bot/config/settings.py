"""Settings: one typed object, validated loudly at start.

A wrong value never reaches the rest of the program: loading (bot.config.load) raises `ConfigError` with one line
that names the variable and what it expects, and the CLI prints that line and exits 2. Secret values are `SecretStr`
and never appear in an error message.
"""

from __future__ import annotations

import ipaddress
import re
from datetime import timedelta
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, SecretStr, field_validator, model_validator

from bot.config.values import DURATION_HINT, Cadenced, CommaList, Count, Days, Duration, Port, Price, SinkName, split
from bot.model import SLACK_GROUP_ID, SLACK_USER_ID

DEFAULT_CONFIG = "replywatch.toml"
CONSOLE_CHANNEL = "#replywatch"  # what the console calls the alert channel when SLACK_CHANNEL is not set


class ConfigError(Exception):
    """A setting is missing or malformed; the message is one line naming the variable."""


_HANDLE = re.compile(r"[A-Za-z0-9_]{1,15}")
_CHANNEL_ID = re.compile(r"[CGD][A-Z0-9]{2,}")

SECRET_FIELDS = (
    "x_bearer_token",
    "x_api_key",
    "x_api_secret",
    "x_access_token",
    "x_access_token_secret",
    "slack_bot_token",
    "slack_app_token",
)
_USER_CONTEXT = ("x_api_key", "x_api_secret", "x_access_token", "x_access_token_secret")


class Settings(BaseModel):
    """Everything replywatch can be told. The field names, upper-cased, are the environment variables (read by
    `load_settings`)."""

    model_config = ConfigDict(extra="ignore", validate_default=True)

    x_account: str | None = None  # required unless REPLYWATCH_CONFIG lists [[accounts]] (bot.config.accounts)
    x_bearer_token: SecretStr | None = None
    x_api_key: SecretStr | None = None
    x_api_secret: SecretStr | None = None
    x_access_token: SecretStr | None = None
    x_access_token_secret: SecretStr | None = None
    x_api_base_url: str = "https://api.twitter.com"

    sink: SinkName = None  # slack or console; unset: slack when SLACK_BOT_TOKEN is set, else console
    slack_bot_token: SecretStr | None = None  # required with SINK=slack
    slack_channel: str | None = None  # required with SINK=slack
    slack_api_base_url: str = "https://slack.com/api/"
    slack_app_token: SecretStr | None = None
    allow_queue_in: CommaList = ()

    alert_after: Duration = timedelta(minutes=30)
    poll_interval: Duration = timedelta(seconds=60)
    http_timeout: Duration = timedelta(seconds=10)
    timezone: str = "UTC"

    escalate_after: Duration = timedelta(hours=2)
    escalate_to: CommaList = ()
    remind_every: Duration = timedelta(hours=2)
    max_reminders: int = 5
    expire_after: Duration = timedelta(days=7)
    digest_threshold: int = 5
    claim_expires: Duration = timedelta(0)  # off: a claim holds until the mention closes
    warn_before: Duration = timedelta(0)  # off: no quiet warning before the due time

    ignore_implicit: bool = True
    check_deleted: bool = True
    responders: CommaList = ()
    muted_authors: CommaList = ()
    ignore_keywords: CommaList = ()
    vip_authors: CommaList = ()
    vip_min_followers: int | None = None
    alert_after_vip: Duration = timedelta(minutes=10)
    vip_ignores_hours: bool = False

    replywatch_config: str | None = None
    report_every: Cadenced = None  # off by default
    metrics_port: Port = None  # off by default
    metrics_addr: str = "127.0.0.1"  # this host only; the image sets 0.0.0.0 for its port mapping

    x_price_per_read: Price = 0.005  # X's pay-per-use price of a post read
    x_price_per_owned_read: Price = 0.001  # a read of the account's own timelines under user-context auth
    x_price_per_post: Price = 0.015  # X's price of a post created (a reply sent from Slack) ...
    x_price_per_post_with_link: Price = 0.200  # ... and of one with a link in it
    x_monthly_read_budget: Count = None  # posts a month, per X account

    database_url: str = "sqlite:///data/replywatch.db"
    retention_days: Days = None  # off by default: nothing is erased (bot.services.retention)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["text", "json"] = "text"

    @field_validator("x_account", mode="before")
    @classmethod
    def _handle(cls, value: object) -> str | None:
        if value is None:
            return None
        handle = str(value).strip().removeprefix("@")
        if not re.fullmatch(r"[A-Za-z0-9_]{1,15}", handle):
            raise ValueError("an X handle without @: 1 to 15 letters, digits or _")
        return handle

    @field_validator("slack_bot_token")
    @classmethod
    def _bot_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith("xoxb-"):
            raise ValueError("a Slack bot token starting with xoxb-")
        if value is not None and value.get_secret_value() == "xoxb-":
            raise ValueError(
                "a whole Slack bot token: `xoxb-` alone is .env.example's placeholder; fill it in, or leave it out for the console"
            )
        return value

    @field_validator("slack_app_token")
    @classmethod
    def _app_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value():
            return None
        if value is not None and not value.get_secret_value().startswith("xapp-"):
            raise ValueError("a Slack app-level token starting with xapp- (or unset, for alerts without buttons)")
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value.strip())
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("an IANA time zone name such as UTC, Europe/Berlin or America/New_York") from None
        return value.strip()

    @field_validator("escalate_to")
    @classmethod
    def _escalate_to(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for target in value:
            if target not in {"here", "channel"} and not (SLACK_USER_ID.fullmatch(target) or SLACK_GROUP_ID.fullmatch(target)):
                raise ValueError(
                    f"a comma-separated list of Slack user IDs (U…), user-group IDs (S…), here or channel; got {target[:40]!r}"
                )
        return value

    @field_validator("responders", "muted_authors", "vip_authors", mode="before")
    @classmethod
    def _handles(cls, value: object) -> object:
        items = split(value)
        if isinstance(items, tuple):
            items = tuple(h.removeprefix("@") for h in items)
            bad = next((h for h in items if not _HANDLE.fullmatch(h)), None)
            if bad is not None:
                raise ValueError(f"a comma-separated list of X handles; {bad[:40]!r} is not one")
        return items

    @field_validator("ignore_keywords")
    @classmethod
    def _keywords(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        from bot.rules import keyword_pattern

        for word in value:
            try:
                keyword_pattern(word)
            except re.error as exc:
                raise ValueError(f"comma-separated words or /regular expressions/; {word[:60]!r} is not valid: {exc}") from None
        return value

    @field_validator("digest_threshold")
    @classmethod
    def _threshold(cls, value: int) -> int:
        if value < 1:
            raise ValueError("a whole number of at least 1")
        return value

    @field_validator("max_reminders")
    @classmethod
    def _reminders(cls, value: int) -> int:
        if value < 0:
            raise ValueError("a whole number of at least 0 (0: the escalation only)")
        return value

    @field_validator("vip_min_followers", mode="before")
    @classmethod
    def _followers(cls, value: object) -> object:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        try:
            number = int(str(value).strip())
        except ValueError:
            raise ValueError("a whole number of followers, such as 100000 (or empty to turn it off)") from None
        if number < 1:
            raise ValueError("a whole number of followers, such as 100000 (or empty to turn it off)")
        return number

    @field_validator("slack_channel")
    @classmethod
    def _channel(cls, value: str | None) -> str | None:
        value = value.strip() if value is not None else None
        if value is not None and not re.fullmatch(r"[CGD][A-Z0-9]{2,}|#[a-z0-9][a-z0-9_-]{0,79}", value):
            raise ValueError("a channel ID such as C0123ABCD or a #channel-name")
        return value

    @field_validator("allow_queue_in")
    @classmethod
    def _queue_places(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for place in value:
            if place.lower() != "external" and not _CHANNEL_ID.fullmatch(place):
                raise ValueError(f"comma-separated channel IDs (C…, G…, D…) and optionally external; got {place[:40]!r}")
        return tuple("external" if p.lower() == "external" else p for p in value)

    @field_validator("x_api_base_url", "slack_api_base_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not re.fullmatch(r"https?://[^\s/]+(/\S*)?", value.strip()):
            raise ValueError("an http:// or https:// URL")
        return value.strip()

    @field_validator("poll_interval", "http_timeout")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("a duration above zero, such as 45s, 15m, 2h or 1d")
        return value

    @field_validator("alert_after", "alert_after_vip", "escalate_after", "remind_every", "expire_after", "claim_expires", "warn_before")
    @classmethod
    def _not_negative(cls, value: timedelta) -> timedelta:
        if value < timedelta(0):
            raise ValueError(DURATION_HINT)
        return value

    @field_validator("metrics_addr")
    @classmethod
    def _address(cls, value: str) -> str:
        try:
            return str(ipaddress.ip_address(value.strip()))
        except ValueError:
            raise ValueError(
                "an IP address to serve /metrics on, such as 127.0.0.1 (this host only), 0.0.0.0 (every interface) or ::"
            ) from None

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _expiry(self) -> Settings:
        if self.expire_after and self.expire_after <= self.alert_after:
            raise ValueError("EXPIRE_AFTER must be longer than ALERT_AFTER (a mention must be able to fall due), or 0 for never")
        return self

    @model_validator(mode="after")
    def _sink(self) -> Settings:
        if self.sink is None:  # a first run without a Slack app prints its alerts (bot.app.verify says so)
            self.sink = "slack" if self.slack_bot_token is not None else "console"
        if self.sink == "console":
            self.slack_channel = self.slack_channel or CONSOLE_CHANNEL
        elif missing := [name for name, value in (("SLACK_BOT_TOKEN", self.slack_bot_token), ("SLACK_CHANNEL", self.slack_channel))
                         if value is None]:  # both at once, when both are
            raise ValueError(f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} required but not set "
                             "(SINK=slack; SINK=console prints alerts instead)")
        return self

    @model_validator(mode="after")
    def _x_auth(self) -> Settings:
        given = [name for name in _USER_CONTEXT if getattr(self, name) is not None]
        if given and len(given) < len(_USER_CONTEXT):
            missing = ", ".join(n.upper() for n in _USER_CONTEXT if n not in given)
            raise ValueError(f"user-context auth needs all four X_API_* / X_ACCESS_* settings; missing {missing}")
        return self  # whether X credentials are needed at all depends on the accounts watched (bot.config.accounts)

    def config_path(self) -> Path | None:
        """The accounts, on-call and hours file: REPLYWATCH_CONFIG, else ./replywatch.toml when there is one."""
        return config_path(self.replywatch_config)

    @property
    def queue_channels(self) -> frozenset[str]:
        """The channels of ALLOW_QUEUE_IN, where `/replywatch` answers besides the alert channel."""
        return frozenset(p for p in self.allow_queue_in if p != "external")

    @property
    def queue_for_external(self) -> bool:
        """ALLOW_QUEUE_IN has `external`: people of another organization in those channels may see the queue."""
        return "external" in self.allow_queue_in

    @property
    def user_context(self) -> bool:
        """True when the four user-context keys are set (preferred over the bearer token)."""
        return self.x_api_key is not None

    def secrets(self) -> list[str]:
        """Every configured secret value, for the log redactor."""
        values = [getattr(self, name) for name in SECRET_FIELDS]
        found = [v.get_secret_value() for v in values if v is not None and v.get_secret_value()]
        password = _url_password(self.database_url)
        return found + ([password] if password else [])


def config_path(given: str | None) -> Path | None:
    """The file REPLYWATCH_CONFIG names (`given`), else ./replywatch.toml when there is one."""
    if given:
        return Path(given)
    default = Path(DEFAULT_CONFIG)
    return default if default.is_file() else None


def _url_password(url: str) -> str | None:
    match = re.match(r"^[^:/]+(?:\+[^:/]+)?://[^:/@]*:([^@]+)@", url)
    return match.group(1) if match else None
