"""The watched accounts: `[[accounts]]` in the configuration file (REPLYWATCH_CONFIG), or, when it lists none, the
one X account of X_ACCOUNT with the X_* credentials (how every deployment before several accounts was set up).

The file names the environment variables that hold each account's credentials; the values stay in the
environment. Every per-account setting left out takes the environment's (ALERT_AFTER, RESPONDERS …); the channel
takes SLACK_CHANNEL. A wrong entry is an AccountsError naming the file read, the account by its handle (or its
place, counted from 1, when it has none) and the key: `replywatch.toml, account "acme": instance: …`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from bot.config.settings import ConfigError, Settings
from bot.config.values import parse_duration
from bot.model import AccountKey, Network
from bot.rules import keyword_pattern
from bot.sources import SPECS, names

# Besides these, a network's own keys: its credentials (`credentials` of its spec, bot/sources/<network>/spec.py).
OPTIONAL = {
    "channel", "alert_after", "alert_after_vip", "responders", "muted_authors", "ignore_keywords", "vip_min_followers",
    "reply_from_slack", "reply_group", "warn_before",
}
_GROUP = re.compile(r"S[A-Z0-9]{2,}")
_CHANNEL = re.compile(r"#[a-z0-9][a-z0-9._-]{0,79}|[CG][A-Z0-9]{2,}")


class AccountsError(ConfigError):
    """An `[[accounts]]` entry is wrong; the message names the key and what it expects."""


class NoAccounts(AccountsError):
    """No account to watch is configured at all: neither X_ACCOUNT nor `[[accounts]]` (a copied .env.example)."""


@dataclass(frozen=True)
class Watched:
    """One watched account, as configured: where it lives, how to reach it, and what differs from the defaults."""

    network: Network
    handle: str
    instance: str | None = None  # where it lives (Mastodon's instance; Bluesky's PDS): its spec's Instance
    secrets: Mapping[str, str] = field(default_factory=dict)  # what the adapter is given (app_password …) → value
    variables: tuple[str, ...] = ()  # the environment variables that hold them
    channel: str | None = None
    alert_after: timedelta | None = None
    alert_after_vip: timedelta | None = None
    warn_before: timedelta | None = None
    responders: tuple[str, ...] | None = None
    muted_authors: tuple[str, ...] | None = None
    ignore_keywords: tuple[str, ...] | None = None
    vip_min_followers: int | None = None
    reply_from_slack: bool = False  # its alerts carry a Reply button: answered from Slack, as the account
    reply_group: str | None = None  # only this Slack user group may use it (besides who may use the buttons)
    source: str = ""  # where it was configured: the file and the account (`setting` names its keys), or X_ACCOUNT

    @property
    def key(self) -> AccountKey:
        """How the store keys it: the handle, lower-cased; on Mastodon with its instance (acme@mastodon.social), as
        the same name on two instances is two accounts (the spec's Instance says which networks)."""
        return AccountKey(self.network, SPECS[self.network].instance.key(self.handle.lower(), self.instance))


def load(settings: Settings | None, tables: Mapping[str, Any], named: str, environ: Mapping[str, str] | None) -> list[Watched]:
    """The watched accounts: the file's `[[accounts]]` (`tables`, the file `named` so), or X_ACCOUNT's, with their
    credentials from `environ` (None: without them, for commands that only read the database). Without `settings`
    (they were wrong), only the file's entries are checked."""
    entries = tables.get("accounts")
    if entries is None:
        found = _from_settings(settings) if settings is not None else []
        if not found:
            variables = " or ".join(s.settings.account for s in SPECS.values() if s.settings is not None)
            raise NoAccounts(f"{variables} is required but not set (or list the accounts in REPLYWATCH_CONFIG's [[accounts]])")
    elif not isinstance(entries, list) or not entries or not all(isinstance(e, dict) for e in entries):
        raise AccountsError(f"{named}: accounts: one or more [[accounts]] tables")
    else:
        found, problems = [], []
        for i, entry in enumerate(entries):
            try:
                found.append(parse(entry, _account(named, i, entry), environ))
            except AccountsError as exc:
                problems.append(str(exc))
        if problems:  # every account's problem at once, as for the settings
            raise AccountsError("; ".join(problems))
    seen: set[AccountKey] = set()
    problems = []
    for watched in found:
        if watched.key in seen:
            problems.append(f"{watched.source}: {watched.key} is listed twice")
        seen.add(watched.key)
        spec = SPECS[watched.network]
        needs_settings = spec.settings is not None and spec.from_settings(watched)
        if environ is not None and settings is not None and needs_settings and not spec.settings.given(settings):
            problems.append(spec.settings.required)
    if problems:
        raise AccountsError("; ".join(dict.fromkeys(problems)))
    return found


def named_secrets(tables: Mapping[str, Any], environ: Mapping[str, str]) -> list[str]:
    """The values of every environment variable the file names as a credential, for the log redactor: read however
    wrong the rest of the file is, so that no error about it can show one."""
    entries = tables.get("accounts") if isinstance(tables.get("accounts"), list) else []
    return [
        environ[name] for entry in entries if isinstance(entry, dict)
        for key, name in entry.items() if key.endswith("_env") and isinstance(name, str) and environ.get(name)
    ]


def _from_settings(settings: Settings) -> list[Watched]:
    """With no `[[accounts]]`: the account a setting names (X_ACCOUNT), from before several accounts."""
    return [
        Watched(Network(spec.name), handle, source=spec.settings.account)
        for spec in SPECS.values() if spec.settings is not None and (handle := spec.settings.handle(settings))
    ]


def _account(path: object, i: int, entry: dict[str, Any]) -> str:
    """How the `i`th [[accounts]] table of the file is named to a person: by its handle, else its place from 1."""
    handle = entry.get("handle")
    return f'{path}, account "{handle}"' if isinstance(handle, str) and handle else f"{path}, [[accounts]] number {i + 1}"


def setting(source: str, key: str) -> str:
    """A key of the account configured at `source`, as a person finds it: `replywatch.toml, account "acme": instance`."""
    return f"{source}: {key}"


def parse(entry: dict[str, Any], where: str, environ: Mapping[str, str] | None) -> Watched:
    """One `[[accounts]]` table; `where` names it."""
    def fail(key: str, expects: str) -> AccountsError:
        return AccountsError(f"{setting(where, key)}: {expects}")

    try:
        network = Network(str(entry.get("network", "")).lower())
    except ValueError:
        raise fail("network", f"one of {names()}") from None
    spec = SPECS[network]
    handle = str(entry.get("handle", "")).strip().removeprefix("@")
    if not spec.handle.fullmatch(handle):
        raise fail("handle", spec.handle_hint)
    known = {"network", "handle", "instance", *OPTIONAL, *(c.key for c in spec.credentials)}
    if unknown := sorted(set(entry) - known):
        raise fail(", ".join(unknown), f"not {'a setting' if len(unknown) == 1 else 'settings'} of a {network.label} account "
                   f"(known: {', '.join(sorted(known))})")
    instance = entry.get("instance")
    if spec.instance.required and instance is None:
        raise fail("instance", spec.instance.required)
    if instance is not None and not (isinstance(instance, str) and re.fullmatch(r"https?://[^\s/]+(/\S*)?", instance)):
        raise fail("instance", f"an address such as {spec.instance.example or 'https://example.org'}")
    secrets, variables = {}, []
    for credential in spec.credentials:
        name = credential.key
        variable = entry.get(name)
        if variable is None:
            if credential.required:
                raise fail(name, "the name of the environment variable that holds it, such as BLUESKY_APP_PASSWORD")
            continue
        if not isinstance(variable, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", variable):
            raise fail(name, "the name of an environment variable")
        variables.append(variable)
        if environ is None:
            continue
        if not environ.get(variable):
            raise fail(name, f"{variable} is not set in the environment")
        secrets[credential.secret] = environ[variable]
    return Watched(
        network, handle, instance.rstrip("/") if instance else spec.instance.default, secrets,
        tuple(variables),
        channel=_channel(entry, fail),
        alert_after=_duration(entry, "alert_after", fail),
        alert_after_vip=_duration(entry, "alert_after_vip", fail),
        warn_before=_duration(entry, "warn_before", fail, zero=True),
        responders=_list(entry, "responders", fail, spec.handle),
        muted_authors=_list(entry, "muted_authors", fail),
        ignore_keywords=_keywords(entry, fail),
        vip_min_followers=_whole(entry, "vip_min_followers", fail),
        reply_from_slack=_flag(entry, "reply_from_slack", fail),
        reply_group=_group(entry, fail),
        source=where,
    )


def _channel(entry: dict, fail) -> str | None:  # noqa: ANN001
    value = entry.get("channel")
    if value is not None and not (isinstance(value, str) and _CHANNEL.fullmatch(value.strip())):
        raise fail("channel", "a channel ID such as C0123ABCD or a #channel-name")
    return value.strip() if value else None


def _duration(entry: dict, key: str, fail, zero: bool = False) -> timedelta | None:  # noqa: ANN001
    """A duration above 0 (or, with `zero`, of 0 too: off)."""
    if key not in entry:
        return None
    try:
        value = parse_duration(entry[key])
    except ValueError:
        raise fail(key, "a duration such as 45s, 15m, 2h or 1d") from None
    if value < timedelta(0) or (value == timedelta(0) and not zero):
        raise fail(key, "a duration of 0 or more" if zero else "a duration above 0")
    return value


def _list(entry: dict, key: str, fail, pattern: re.Pattern[str] | None = None) -> tuple[str, ...] | None:  # noqa: ANN001
    if key not in entry:
        return None
    value = entry[key]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise fail(key, "a list of strings, such as [\"a\", \"b\"]")
    items = tuple(v.strip().removeprefix("@") for v in value)
    bad = [v for v in items if pattern is not None and not pattern.fullmatch(v)]
    if bad:
        raise fail(key, f"handles on the account's network; {bad[0][:40]!r} is not one")
    return items


def _keywords(entry: dict, fail) -> tuple[str, ...] | None:  # noqa: ANN001
    words = _list(entry, "ignore_keywords", fail)
    for word in words or ():
        try:
            keyword_pattern(word)
        except re.error as exc:
            raise fail("ignore_keywords", f"words or /regular expressions/; {word[:60]!r} is not valid: {exc}") from None
    return words


def _flag(entry: dict, key: str, fail) -> bool:  # noqa: ANN001
    value = entry.get(key, False)
    if not isinstance(value, bool):
        raise fail(key, "true or false")
    return value


def _group(entry: dict, fail) -> str | None:  # noqa: ANN001
    value = entry.get("reply_group")
    if value is not None and not (isinstance(value, str) and _GROUP.fullmatch(value.strip())):
        raise fail("reply_group", "a Slack user group ID such as S0123ABCD")
    if value is not None and not entry.get("reply_from_slack"):
        raise fail("reply_group", "only with reply_from_slack = true")
    return value.strip() if value else None


def _whole(entry: dict, key: str, fail) -> int | None:  # noqa: ANN001
    value = entry.get(key)
    if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
        raise fail(key, "a whole number such as 100000")
    return value
