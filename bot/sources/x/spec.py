"""X as the rest of replywatch sees it (bot.sources.spec): its handles, its credentials (the X_* settings unless an
account names its own bearer token), the one account X_ACCOUNT names when the file lists none, and its adapter."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from bot.sources.spec import Credential, FromSettings, Spec

if TYPE_CHECKING:
    from bot.config.accounts import Watched
    from bot.config.settings import Settings
    from bot.ports import Source
    from bot.store.repository import StoredSessions

USER_KEYS = ("x_api_key", "x_api_secret", "x_access_token", "x_access_token_secret")  # user context: all four


def _build(settings: Settings, watched: Watched, _sessions: StoredSessions) -> Source:
    from bot.sources.x.client import XSource

    timeout, handle, url = settings.http_timeout.total_seconds(), watched.handle, settings.x_api_base_url
    if "bearer_token" in watched.secrets:
        return XSource(base_url=url, timeout=timeout, handle=handle, bearer_token=watched.secrets["bearer_token"])
    if settings.user_context:
        keys = tuple(getattr(settings, n).get_secret_value() for n in USER_KEYS)
        return XSource(base_url=url, timeout=timeout, handle=handle, user_keys=keys)  # type: ignore[arg-type]
    token = settings.x_bearer_token.get_secret_value() if settings.x_bearer_token else None
    return XSource(base_url=url, timeout=timeout, handle=handle, bearer_token=token)


def _variables(settings: Settings) -> list[str]:
    return [n.upper() for n in USER_KEYS] if settings.user_context else ["X_BEARER_TOKEN"]


SPEC = Spec(
    name="x",
    label="X",
    handle=re.compile(r"[A-Za-z0-9_]{1,15}"),
    handle_hint="an X handle without @: 1 to 15 letters, digits or _",
    example="acme",
    credentials=(Credential("bearer_token_env", required=False),),
    auth="app-only bearer token",
    build=_build,
    sdk="tweepy",
    settings=FromSettings(
        account="X_ACCOUNT",
        handle=lambda settings: settings.x_account,
        names={"handle": "X_ACCOUNT", "instance": "X_API_BASE_URL", "responders": "RESPONDERS"},
        variables=_variables,
        given=lambda settings: settings.user_context or settings.x_bearer_token is not None,
        required="X credentials are required: set X_BEARER_TOKEN, or X_API_KEY, X_API_SECRET, X_ACCESS_TOKEN and "
        "X_ACCESS_TOKEN_SECRET",
        auth=lambda settings: "user context" if settings.user_context else "app-only bearer token",
    ),
    billed=True,
)
