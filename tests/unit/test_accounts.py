"""`[[accounts]]` in the configuration file: what a team writes, and the one line it gets when it is wrong."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from bot.config.load import Use, load_config
from bot.config.settings import ConfigError, Settings
from bot.model import AccountKey, Network

ENV = {"BSKY_PASSWORD": "app-pass-secret-1", "MASTO_TOKEN": "masto-secret-2"}
THREE = """
[[accounts]]
network = "x"
handle = "@AcmeSupport"
responders = ["acme_help"]

[[accounts]]
network = "bluesky"
handle = "acme.bsky.social"
app_password_env = "BSKY_PASSWORD"
channel = "#social"
alert_after = "20m"

[[accounts]]
network = "mastodon"
handle = "acme"
instance = "https://mastodon.social/"
access_token_env = "MASTO_TOKEN"
channel = "C0SOCIAL"
muted_authors = ["spammer@bad.example"]
ignore_keywords = ["giveaway", "/win.*prize/"]
vip_min_followers = 5000
"""


def settings(tmp_path: Path, text: str | None, **env: str) -> Settings:
    values = {"x_account": "acme", "x_bearer_token": "x-bearer-secret", "slack_bot_token": "xoxb-1", "slack_channel": "#alerts"}
    if text is not None:
        (tmp_path / "replywatch.toml").write_text(text)
        values["replywatch_config"] = str(tmp_path / "replywatch.toml")
    return Settings(**{**values, **env})  # type: ignore[arg-type]


def test_without_accounts_the_x_account_of_the_settings_is_watched(tmp_path: Path) -> None:
    [only] = load_config(settings=settings(tmp_path, None), environ=ENV).accounts
    assert (only.key, only.source, only.channel, only.secrets) == (AccountKey(Network.X, "acme"), "X_ACCOUNT", None, {})


def test_three_accounts_on_three_networks(tmp_path: Path) -> None:
    config = load_config(settings=settings(tmp_path, THREE), environ=ENV)
    x, bluesky, mastodon = config.accounts
    assert [w.key for w in (x, bluesky, mastodon)] == [
        AccountKey(Network.X, "acmesupport"), AccountKey(Network.BLUESKY, "acme.bsky.social"),
        AccountKey(Network.MASTODON, "acme@mastodon.social"),
    ]
    assert (x.responders, x.channel, x.alert_after) == (("acme_help",), None, None), "the rest from the settings"
    assert (bluesky.instance, bluesky.secrets, bluesky.channel, bluesky.alert_after) == (
        "https://bsky.social", {"app_password": "app-pass-secret-1"}, "#social", timedelta(minutes=20)
    )
    assert (mastodon.instance, mastodon.secrets, mastodon.variables) == (
        "https://mastodon.social", {"access_token": "masto-secret-2"}, ("MASTO_TOKEN",)
    )
    assert (mastodon.muted_authors, mastodon.ignore_keywords, mastodon.vip_min_followers) == (
        ("spammer@bad.example",), ("giveaway", "/win.*prize/"), 5000
    )
    assert {"app-pass-secret-1", "masto-secret-2"} <= set(config.secrets), "the log redactor knows the file's credentials"
    reading = load_config(Use.READ, environ={}, settings=settings(tmp_path, THREE))
    assert reading.keys == [w.key for w in (x, bluesky, mastodon)], "without the secrets"


BLUESKY = '[[accounts]]\nnetwork = "bluesky"\nhandle = "acme.bsky.social"\napp_password_env = "BSKY_PASSWORD"\n'
MASTODON = '[[accounts]]\nnetwork = "mastodon"\nhandle = "acme"\ninstance = "https://m.example"\naccess_token_env = "MASTO_TOKEN"\n'


@pytest.mark.parametrize(
    ("case", "text", "env", "message"),
    [
        ("no X_ACCOUNT and no accounts", None, {"x_account": None}, "X_ACCOUNT is required but not set"),
        ("an unknown network", '[[accounts]]\nnetwork = "myspace"\nhandle = "a"\n', {},
         'account "a": network: one of x, bluesky, mastodon'),
        ("an account without a handle", '[[accounts]]\nnetwork = "x"\n', {}, "replywatch.toml, [[accounts]] number 1: handle:"),
        ("an X handle with a dot", '[[accounts]]\nnetwork = "x"\nhandle = "a.b"\n', {}, 'account "a.b": handle: an X handle'),
        ("a Bluesky handle that is no domain", '[[accounts]]\nnetwork = "bluesky"\nhandle = "acme"\napp_password_env = "B"\n', {},
         'account "acme": handle: a Bluesky handle such as acme.bsky.social'),
        ("Mastodon without its instance", '[[accounts]]\nnetwork = "mastodon"\nhandle = "acme"\naccess_token_env = "MASTO_TOKEN"\n', {},
         'replywatch.toml, account "acme": instance: the instance\'s address'),
        ("Bluesky without its password", '[[accounts]]\nnetwork = "bluesky"\nhandle = "acme.bsky.social"\n', {},
         'account "acme.bsky.social": app_password_env: the name of the environment variable'),
        ("a password variable that is not set", BLUESKY.replace("BSKY_PASSWORD", "NOT_SET"), {},
         'account "acme.bsky.social": app_password_env: NOT_SET is not set in the environment'),
        ("a setting of another network", BLUESKY + 'access_token_env = "MASTO_TOKEN"\n', {},
         'account "acme.bsky.social": access_token_env: not a setting of a Bluesky account'),
        ("the same account twice", BLUESKY + "\n" + BLUESKY.replace("acme.bsky", "ACME.bsky"), {},
         'account "ACME.bsky.social": @acme.bsky.social on Bluesky is listed twice'),
        ("the same Mastodon account twice", (MASTODON + "\n" + MASTODON.replace("https://m.example", "https://M.example/")), {},
         'account "acme": @acme@m.example on Mastodon is listed twice'),
        ("a channel without #", BLUESKY + 'channel = "social"\n', {},
         'account "acme.bsky.social": channel: a channel ID such as C0123ABCD or a #channel-name'),
        ("a wait that is no duration", BLUESKY + 'alert_after = "soon"\n', {},
         'account "acme.bsky.social": alert_after: a duration such as 45s'),
        ("a keyword that is no expression", BLUESKY + 'ignore_keywords = ["/(/"]\n', {},
         'account "acme.bsky.social": ignore_keywords: words or /regular'),
        ("a responder on another network's form", BLUESKY + 'responders = ["help"]\n', {},
         'account "acme.bsky.social": responders: handles on the account\'s network; \'help\' is not one'),
        ("X accounts without X credentials", '[[accounts]]\nnetwork = "x"\nhandle = "acme"\n', {"x_bearer_token": None},
         "X credentials are required"),
        ("no accounts in the table", "accounts = []\n", {}, "replywatch.toml: accounts: one or more [[accounts]] tables"),
    ],
)
def test_a_wrong_account_names_its_key(tmp_path: Path, case: str, text: str | None, env: dict, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(settings=settings(tmp_path, text, **env), environ=ENV)
    assert message in str(info.value), case
    assert not any(secret in str(info.value) for secret in ENV.values())


def test_the_same_name_on_two_mastodon_instances_is_two_accounts(tmp_path: Path) -> None:
    two = MASTODON + "\n" + MASTODON.replace("https://m.example", "https://other.example")
    keys = [w.key.handle for w in load_config(settings=settings(tmp_path, two), environ=ENV).accounts]
    assert keys == ["acme@m.example", "acme@other.example"]


def test_every_wrong_account_is_named_in_one_run(tmp_path: Path) -> None:
    text = (
        '[[accounts]]\nnetwork = "x"\nhandle = "bad handle!"\n\n'
        '[[accounts]]\nnetwork = "mastodon"\nhandle = "acme"\n\n'
        '[[accounts]]\nnetwork = "bluesky"\nhandle = "acme.bsky.social"\napp_password_env = "UNSET_VAR"\ncolour = 1\nsize = 2\n'
    )
    with pytest.raises(ConfigError) as info:
        load_config(settings=settings(tmp_path, text), environ=ENV)
    problems = str(info.value).split("; ")
    assert [p.split(": ")[0] for p in problems] == [
        f'{tmp_path / "replywatch.toml"}, account "bad handle!"',
        f'{tmp_path / "replywatch.toml"}, account "acme"',
        f'{tmp_path / "replywatch.toml"}, account "acme.bsky.social"',
    ]
    assert problems[2].split(": ")[1] == "colour, size"  # every unknown key of an account, not the first
