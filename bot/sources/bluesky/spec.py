"""Bluesky as the rest of replywatch sees it (bot.sources.spec): domain handles, an app password, the PDS
(bsky.social unless the account names its own) and its adapter, which keeps its session in the database."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from bot.sources.spec import Credential, Instance, Spec

if TYPE_CHECKING:
    from bot.config.accounts import Watched
    from bot.config.settings import Settings
    from bot.ports import Source
    from bot.store.repository import StoredSessions

DEFAULT_PDS = "https://bsky.social"


def _build(settings: Settings, watched: Watched, sessions: StoredSessions) -> Source:
    from bot.sources.bluesky.client import BlueskySource

    return BlueskySource(
        base_url=watched.instance or "", handle=watched.handle, app_password=watched.secrets.get("app_password", ""),
        timeout=settings.http_timeout.total_seconds(), sessions=sessions,
    )


SPEC = Spec(
    name="bluesky",
    label="Bluesky",
    handle=re.compile(r"(?=.{3,253}$)([A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z][A-Za-z0-9-]*"),
    handle_hint="a Bluesky handle such as acme.bsky.social",
    example="acme.bsky.social",
    credentials=(Credential("app_password_env", required=True),),
    auth="app password",
    build=_build,
    sdk="atproto",  # atproto_client, atproto_core …
    instance=Instance(default=DEFAULT_PDS, example=DEFAULT_PDS),
)
