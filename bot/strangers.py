"""Text from strangers (posts, names, links from a network), as every sink shows it: what never reaches a screen,
which links may be shown as links, and how much of a post or a name a card shows. Each sink escapes for its own
medium (bot.slack.text for mrkdwn; the console prints rich Text, which needs none); this is what they share.

Control characters and every bidirectional control are dropped: they would let a post reach a terminal as an escape
sequence, or reorder the text around it. A link from a network is shown as a link only when it is plainly https and
nothing in it could end a link early or disguise it (`safe_url`)."""

from __future__ import annotations

import re

NAME_LIMIT = 100  # an author's name or handle on a card
POST_LIMIT = 3000  # a post's text on an alert (in Slack, all one section holds)
EXCERPT = 90  # a post's text on a digest's line
_BIDI = r"\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"  # Arabic letter mark, LRM/RLM, embeddings, overrides, isolates
CONTROL = re.compile(rf"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200d{_BIDI}]")
_URL = re.compile(rf"https://[^\s<>|\x00-\x1f\x7f-\x9f\u200b-\u200d{_BIDI}]{{1,490}}")  # nothing to end a <url|label> early or reorder it


def safe_url(url: str) -> str:
    """A link from a network as it may be shown as a link: https, and nothing that could end it early or disguise it;
    anything else is left out ("")."""
    return url if _URL.fullmatch(url) else ""
