"""What the X adapter works out from X's JSON alone: which mentions name the account only in the reply chain."""

from __future__ import annotations

import re

import pytest

from bot.model import Account
from bot.sources.x.translate import posts

ACME = Account("1", "acme")


def raw(text: str, *, start: int = 0, to_user: str | None = None, entities: bool = True) -> dict:
    mentions = [{"username": m.group(1), "start": m.start()} for m in re.finditer(r"@(\w+)", text)]
    body = {"id": "100", "author_id": "2", "created_at": "2026-11-25T12:00:00.000Z", "text": text,
            "display_text_range": [start, len(text)], "in_reply_to_user_id": to_user}
    return body | ({"entities": {"mentions": mentions}} if entities else {})


@pytest.mark.parametrize(
    ("case", "post", "implicit"),
    [
        ("a plain mention", raw("@acme where is my order?"), False),
        ("only in the reply chain of someone else's thread", raw("@carol @acme agreed", start=13, to_user="4"), True),
        ("in the reply chain, but replying to the account's own post", raw("@acme thanks!", start=6, to_user="1"), False),
        ("in the reply chain and again in the body", raw("@carol @acme agreed, @acme please fix", start=13, to_user="4"), False),
        ("an explicit mention in a reply to someone else", raw("@carol ask @acme", start=7, to_user="4"), False),
        ("no entities from X: assumed explicit", raw("@acme hi", start=6, entities=False), False),
        ("the handle in another case", raw("@carol @ACME agreed", start=13, to_user="4"), True),
    ],
)
def test_implicit_mentions(case: str, post: dict, implicit: bool) -> None:
    (found,) = posts({"data": [post]}, ACME)
    assert found.implicit is implicit, case
