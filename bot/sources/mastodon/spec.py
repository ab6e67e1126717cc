"""Mastodon as the rest of replywatch sees it (bot.sources.spec): a user name on its instance, which every account
names (the same name on two instances is two accounts), an access token, and its adapter."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from bot.sources.spec import Credential, Instance, Spec

if TYPE_CHECKING:
    from bot.config.accounts import Watched
    from bot.config.settings import Settings
    from bot.ports import Source
    from bot.store.repository import StoredSessions


def _build(settings: Settings, watched: Watched, _sessions: StoredSessions) -> Source:
    from bot.sources.mastodon.client import MastodonSource

    return MastodonSource(
        instance=watched.instance or "", handle=watched.handle, access_token=watched.secrets.get("access_token", ""),
        timeout=settings.http_timeout.total_seconds(),
    )


SPEC = Spec(
    name="mastodon",
    label="Mastodon",
    handle=re.compile(r"[A-Za-z0-9_]{1,30}"),
    handle_hint="the account's name on its instance, without @ or the instance (acme for @acme@mastodon.social)",
    example="acme",
    credentials=(Credential("access_token_env", required=True),),
    auth="access token",
    build=_build,
    sdk="mastodon",  # Mastodon.py
    instance=Instance(required="the instance's address, such as https://mastodon.social", keyed=True,
                      example="https://mastodon.social"),
)
