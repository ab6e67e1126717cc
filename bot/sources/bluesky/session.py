"""The Bluesky session kept between runs, and when the adapter may send createSession: what is stored under the
account's key is the SDK's session string together with the log of the logins sent in the last 24 hours.

createSession is scarce: 30 per 5 min and 300 per day per account (a person using the same account shares them), and
the entryway bsky.social has been seen to allow only about 100 a day. `next_login` decides from the log alone, so no
answer of the server can make the adapter exceed them:
- after a 429, not before its ratelimit-reset: the server's own time, neither sooner nor later;
- otherwise not before LOGIN_SPACING after the last login, doubled for every other login in the last 24 hours (at
  most MAX_LOGIN_SPACING): a password refused again and again is tried less and less often;
- and never more than LOGIN_CAPS (10 in any 5 minutes, 50 in any 24 hours), whatever 429s or failures say.
A login is logged before it is sent, so one whose answer never came (the process died) still counts; it sets no
spacing of its own (nothing is known against the credentials).

A refresh token the server refused is dead: the session is dropped from the record (the log stays), so neither this
run nor the next sends it again, and one login follows.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal

Outcome = Literal["sent", "ok", "refused", "limited", "failed"]  # "sent": no answer recorded

LOGIN_SPACING = timedelta(minutes=5)
MAX_LOGIN_SPACING = timedelta(hours=1)
LOGIN_CAPS = ((timedelta(minutes=5), 10), (timedelta(days=1), 50))  # a third, a half of what the server allows
KEPT_FOR = max(span for span, _ in LOGIN_CAPS)


@dataclass(frozen=True)
class Login:
    at: datetime
    outcome: Outcome = "sent"
    reset: datetime | None = None  # a 429's ratelimit-reset


@dataclass(frozen=True)
class Wait:
    """No login before `until`; `why` says which rule; `refused`: the last login was refused (a credential problem)."""

    until: datetime
    why: str
    refused: bool


@dataclass(frozen=True)
class Kept:
    """What is stored under the account's key: the SDK's session string (None: no usable session) and the logins."""

    session: str | None = None
    logins: tuple[Login, ...] = ()

    @classmethod
    def decode(cls, value: str | None) -> Kept:
        """The stored record; a bare session string (as stored before the log was kept) is read as one."""
        if not value:
            return cls()
        if not value.startswith("{"):
            return cls(session=value)
        try:
            data = json.loads(value)
            logins = tuple(
                Login(datetime.fromisoformat(at), outcome, datetime.fromisoformat(reset) if reset else None)
                for at, outcome, reset in data.get("logins", [])
            )
            session = data.get("session")
            return cls(session=session if isinstance(session, str) else None, logins=logins)
        except (ValueError, TypeError, AttributeError):
            return cls()  # unreadable: no session, and no log to go by (the caps start afresh)

    def encode(self) -> str:
        logins = [[x.at.isoformat(), x.outcome, x.reset.isoformat() if x.reset else None] for x in self.logins]
        return json.dumps({"session": self.session, "logins": logins})

    def with_session(self, session: str | None) -> Kept:
        return replace(self, session=session)

    def with_login(self, login: Login) -> Kept:
        """The record with `login` added, the log cut to the last KEPT_FOR."""
        return replace(self, logins=(*(x for x in self.logins if x.at > login.at - KEPT_FOR), login))

    def answered(self, outcome: Outcome, reset: datetime | None = None) -> Kept:
        """The record with the answer to its latest login."""
        if not self.logins:
            return self
        return replace(self, logins=(*self.logins[:-1], replace(self.logins[-1], outcome=outcome, reset=reset)))


def next_login(logins: Sequence[Login], now: datetime) -> Wait | None:
    """When the next createSession may be sent: None if now, else the wait and its reason."""
    recent = sorted((x for x in logins if x.at > now - KEPT_FOR), key=lambda x: x.at)
    if not recent:
        return None
    last = recent[-1]
    waits: list[Wait] = []
    if last.outcome == "limited" and last.reset is not None:
        waits.append(Wait(last.reset, "createSession answered 429", refused=False))
    elif last.outcome != "sent":
        spacing = min(MAX_LOGIN_SPACING, LOGIN_SPACING * 2 ** (len(recent) - 1))
        why = "the last login was refused" if last.outcome == "refused" else f"{len(recent)} login(s) in 24 hours"
        waits.append(Wait(last.at + spacing, why, refused=last.outcome == "refused"))
    for span, cap in LOGIN_CAPS:
        if len(recent) >= cap:  # the cap-th latest login has to leave the window first
            waits.append(Wait(recent[-cap].at + span, f"{cap} logins within {_span(span)}, the most allowed", refused=False))
    wait = max(waits, key=lambda w: w.until, default=None)
    return wait if wait is not None and wait.until > now else None


def _span(span: timedelta) -> str:
    return f"{span // timedelta(hours=1)} hours" if span >= timedelta(hours=1) else f"{span // timedelta(minutes=1)} minutes"
