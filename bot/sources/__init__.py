"""The networks replywatch reads, one folder each, each implementing bot.ports.Source; and the registry: each
network's spec (bot.sources.spec), one line each. A network is its folder, its line here and its member of
bot.model.Network (tests/unit/test_architecture.py holds that nothing else names it). Importing this loads no SDK."""

from __future__ import annotations

from bot.sources.bluesky.spec import SPEC as _BLUESKY
from bot.sources.mastodon.spec import SPEC as _MASTODON
from bot.sources.spec import Spec
from bot.sources.x.spec import SPEC as _X

# Keyed by name, which is the network's Network value (a str): SPECS[Network.X]. In the order people see them listed.
SPECS: dict[str, Spec] = {s.name: s for s in (_X, _BLUESKY, _MASTODON)}


def names(last: str = ",") -> str:
    """The networks as typed in the accounts file: "x, bluesky, mastodon", or with `last="or"` "x, bluesky or
    mastodon"."""
    return _listed(list(SPECS), last)


def labels(last: str = "and") -> str:
    """The networks as a person names them: "X, Bluesky and Mastodon"."""
    return _listed([s.label for s in SPECS.values()], last)


def _listed(words: list[str], last: str) -> str:
    if last == "," or len(words) < 2:
        return ", ".join(words)
    return f"{', '.join(words[:-1])} {last} {words[-1]}"
