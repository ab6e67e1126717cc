"""What the rest of replywatch knows of a network, kept in the network's folder: a Spec (bot/sources/<name>/spec.py),
listed once in the registry (bot/sources/__init__.py). The accounts file, start-up, `check`, the report and the
composition root read it; none of them names a network.

A spec is data and imports no SDK and nothing of bot.model (which reads the registry for a network's label):
`build` imports the network's adapter, and with it its SDK, only when an account's adapter is built, so commands
that only read the database load none."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from bot.config.accounts import Watched
    from bot.config.settings import Settings
    from bot.ports import Source
    from bot.store.repository import StoredSessions


@dataclass(frozen=True)
class Credential:
    """A key of an `[[accounts]]` table that names the environment variable holding a credential (`key`, such as
    app_password_env); the adapter is given the value as `secret` (app_password)."""

    key: str
    required: bool

    @property
    def secret(self) -> str:
        return self.key.removesuffix("_env")


@dataclass(frozen=True)
class Instance:
    """The `instance` key: where an account of the network lives."""

    required: str = ""  # what it expects, when an account must name one ("" : it may leave it out)
    default: str | None = None  # the address taken when it is left out
    keyed: bool = False  # the store keys an account with its instance's host: one name on two instances is two accounts
    example: str = ""  # an address, for the error when the one given is none

    def key(self, handle: str, instance: str | None) -> str:
        """How the store keys an account (`handle` lower-cased already): acme, or acme@mastodon.social."""
        return f"{handle}@{(urlsplit(instance).hostname or '').lower()}" if self.keyed and instance else handle


@dataclass(frozen=True)
class FromSettings:
    """Credentials kept in the settings rather than named by the file, for an account whose entry names none; and,
    when the file lists no account, the one account a setting names (from before several accounts)."""

    account: str  # the setting that names that account (X_ACCOUNT); also its `source`
    handle: Callable[[Settings], str | None]  # its value
    names: Mapping[str, str]  # how that account's keys are named to whoever fixes them: handle → X_ACCOUNT …
    variables: Callable[[Settings], list[str]]  # the settings its credentials are read from
    given: Callable[[Settings], bool]  # whether they are set
    required: str  # the error when they are not
    auth: Callable[[Settings], str]  # how `check` says the account signs in with them


@dataclass(frozen=True)
class Spec:
    """One network as the rest of replywatch sees it."""

    name: str  # its Network's value: `network` in the accounts file, `x:acme` on the command line
    label: str  # how a person names it: "@acme on Bluesky"
    handle: re.Pattern[str]  # a handle, without @
    handle_hint: str  # what a handle looks like, for the error when one does not
    example: str  # a handle, for help texts
    credentials: tuple[Credential, ...]  # the file's keys for the adapter's credentials
    auth: str  # how `check` says the account signs in: "app password"
    build: Callable[[Settings, Watched, StoredSessions], Source]  # its adapter (importing the SDK)
    sdk: str  # the SDK's module (and its prefix: atproto for atproto_client …): only `build` loads it
    instance: Instance = Instance()
    settings: FromSettings | None = None
    billed: bool = False  # each post a read returns is paid for (X_PRICE_PER_READ, X_MONTHLY_READ_BUDGET)

    def from_settings(self, watched: Watched) -> bool:
        """Whether the account's credentials are the settings' (its entry names none)."""
        return self.settings is not None and not watched.secrets

    def auth_word(self, settings: Settings, watched: Watched) -> str:
        return self.settings.auth(settings) if self.settings is not None and self.from_settings(watched) else self.auth

    def credential_names(self, settings: Settings, watched: Watched) -> list[str]:
        """The environment variables that hold the account's credentials, for the error when they are refused."""
        if watched.variables:
            return list(watched.variables)
        return self.settings.variables(settings) if self.settings is not None else [c.key for c in self.credentials]
