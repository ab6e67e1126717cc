"""The demo's hour of community traffic, on the built-in stand-ins of X, Bluesky and Mastodon: who writes what, at
which minute, and what should become of it (`Fate`), so that the closing summary can be held against it.

The accounts: @acme on X (with @acme_support, a teammate whose replies count), @acme.bsky.social on Bluesky and
@acme@masto.test (the Mastodon stand-in's instance) on Mastodon. ALERT_AFTER is 15 minutes, 5 for a VIP; more than
3 due at once go out as one digest; an alert still open 35 minutes after its post is escalated."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from bot.standins.bluesky_api import FakeBluesky
from bot.standins.mastodon_api import FakeMastodon
from bot.standins.x_api import FakeX

APP_PASSWORD = "demo-app-password"  # the Bluesky stand-in's: no real credential exists in the demo


class Fate(StrEnum):
    """What should become of a mention."""

    ANSWERED_IN_TIME = "answered before its alert"
    ANSWERED_LATE = "alerted, then answered"
    OPEN = "alerted, still open at the end"
    IGNORED = "rightly ignored"
    DELETED = "deleted before its alert"


@dataclass
class World:
    """The three stand-ins and the people on them."""

    x: FakeX = field(default_factory=FakeX)
    bluesky: FakeBluesky = field(default_factory=FakeBluesky)
    mastodon: FakeMastodon = field(default_factory=FakeMastodon)
    posts: dict[str, object] = field(default_factory=dict)  # what the script names → the post's id on its network
    # how a team member answers a mention from its alert (the Reply button): given by the demo once the app is built
    reply_from_slack: Callable[[str, object, str], None] | None = None  # (network, the post's id, the reply)

    def __post_init__(self) -> None:
        x, b, m = self.x, self.bluesky, self.mastodon
        x.limit = 100_000
        self.acme, self.support = x.add_user("acme", "Acme Inc"), x.add_user("acme_support", "Acme Support")
        self.b_acme = b.add_user("acme.bsky.social", "Acme", password=APP_PASSWORD)
        self.m_acme = m.add_account("acme", "Acme")
        self.people = {name: x.add_user(name) for name in ("ana_k", "ben_t", "dan_r", "fay_m", "hal_b", *FLOOD)}
        self.people["bigshop"] = x.add_user("bigshop", "Big Shop Ltd", followers=250_000)
        self.people |= {name: b.add_user(name) for name in ("cleo.bsky.social", "ivy.bsky.social")}
        self.people |= {name: m.add_account(name) for name in ("gil", "kim")}

    def close(self) -> None:
        for stand_in in (self.x, self.bluesky, self.mastodon):
            stand_in.close()


@dataclass(frozen=True)
class Event:
    minute: float
    what: str  # shown as the hour goes by
    act: Callable[[World], None]
    network: str = "x"
    fate: Fate | None = None  # a mention's; None: not a mention (a reply, a like, an original post)
    why: str = ""  # why it is ignored, for the summary


FLOOD = ("flo", "gus", "ned", "oli", "pam")


def _x(name: str, text: str, key: str = "", **kwargs: object) -> Callable[[World], None]:
    def act(world: World) -> None:
        extra = {k: world.posts[v] for k, v in kwargs.items()}
        author = world.acme if name == "acme" else world.support if name == "acme_support" else world.people[name]
        post = world.x.post(author, text, **extra)  # type: ignore[arg-type]
        if key:
            world.posts[key] = post

    return act


def _bsky(name: str, text: str, key: str = "", reply_to: str = "") -> Callable[[World], None]:
    def act(world: World) -> None:
        author = world.b_acme if name == "acme" else world.people[name]
        names = () if name == "acme" else (world.b_acme,)
        post = world.bluesky.post(author, text, mentions=names, reply_to=world.posts[reply_to] if reply_to else None)  # type: ignore[arg-type]
        if key:
            world.posts[key] = post

    return act


def _masto(name: str, text: str, key: str = "", reply_to: str = "", visibility: str = "public") -> Callable[[World], None]:
    def act(world: World) -> None:
        author = world.m_acme if name == "acme" else world.people[name]
        post = world.mastodon.post(author, text, reply_to=world.posts[reply_to] if reply_to else None, visibility=visibility)  # type: ignore[arg-type]
        if key:
            world.posts[key] = post

    return act


def _from_slack(network: str, key: str, text: str) -> Callable[[World], None]:
    def act(world: World) -> None:
        assert world.reply_from_slack is not None
        world.reply_from_slack(network, world.posts[key], text)

    return act


def _delete(key: str) -> Callable[[World], None]:
    return lambda world: world.x.delete(world.posts[key])  # type: ignore[arg-type]


def _bsky_fans(world: World) -> None:
    own = world.bluesky.post(world.b_acme, "We ship on Saturdays now")
    ivy = world.people["ivy.bsky.social"]
    world.bluesky.like(ivy, own)  # type: ignore[arg-type]
    world.bluesky.repost(ivy, own)  # type: ignore[arg-type]


HOUR: tuple[Event, ...] = (
    Event(0, "@ana_k asks where her order is", _x("ana_k", "@acme my order #1042 hasn't arrived, can you check?", "ana"),
          fate=Fate.ANSWERED_IN_TIME),
    Event(1, "@acme posts a sale (an original post, no reply needed)", _x("acme", "Spring sale: 20% off everything today", "sale")),
    Event(2, "@ben_t says thanks", _x("ben_t", "@acme thanks for the quick fix yesterday!"), fate=Fate.IGNORED,
          why="a thank-you (IGNORE_KEYWORDS)"),
    Event(3, "@cleo asks on Bluesky whether the API is down",
          _bsky("cleo.bsky.social", "@acme.bsky.social is the API down for anyone else?", "cleo"), "bluesky", Fate.ANSWERED_LATE),
    Event(4, "@bigshop (250k followers, a VIP) asks about an invoice",
          _x("bigshop", "@acme our invoice shows the wrong VAT number, please fix", "vip"), fate=Fate.ANSWERED_LATE),
    Event(5, "@dan_r replies to @ana_k; X puts @acme in front of his reply",
          _x("dan_r", "@ana_k @acme same here, mine is late too", reply_to="ana"), fate=Fate.IGNORED,
          why="only in the reply chain X writes in front"),
    Event(6, "@fay_m retweets the sale", _x("fay_m", "RT @acme: Spring sale: 20% off everything today", retweet="sale"),
          fate=Fate.IGNORED, why="a retweet"),
    Event(7, "@ivy likes and reposts a Bluesky post (no mention)", _bsky_fans, "bluesky"),
    Event(8, "@gil asks on Mastodon how to export his data", _masto("gil", "@acme how do I export my data?", "gil"), "mastodon",
          Fate.OPEN),
    Event(9, "@acme answers @ana_k in time", _x("acme", "@ana_k it left our warehouse this morning", reply_to="ana")),
    Event(12, "@kim writes to Mastodon directly, with her e-mail address",
          _masto("kim", "@acme my account e-mail is kim@example.org, please delete my account", "kim", visibility="direct"),
          "mastodon", Fate.ANSWERED_LATE),
    Event(14, "@acme_support, a teammate, answers @bigshop", _x("acme_support", "@bigshop fixed, a new invoice is on its way",
                                                                reply_to="vip")),
    *(Event(20, f"@{name}: checkout fails (a flood begins)" if i == 0 else f"@{name}: checkout fails",
            _x(name, "@acme checkout fails with error 502", f"flood{i}"), fate=Fate.ANSWERED_LATE if i < 2 else Fate.OPEN)
      for i, name in enumerate(FLOOD)),
    Event(24, "@hal_b asks for a call back", _x("hal_b", "@acme please call me back on 555-0100", "hal"), fate=Fate.DELETED),
    Event(26, "@acme answers @cleo on Bluesky", _bsky("acme", "@cleo.bsky.social no, all green; try again?", reply_to="cleo"),
          "bluesky"),
    Event(28, "@hal_b deletes his post", _delete("hal")),
    Event(32, "@ivy thanks Acme on Bluesky", _bsky("ivy.bsky.social", "@acme.bsky.social thank you for the help!"), "bluesky",
          Fate.IGNORED, "a thank-you (IGNORE_KEYWORDS)"),
    Event(38, "@acme answers two of the flood", lambda w: [_x("acme", f"@{FLOOD[i]} fixed now, sorry!", reply_to=f"flood{i}")(w)
                                                             for i in range(2)]),
    Event(40, "Jane answers @kim from the alert's Reply button: posted as @acme on Mastodon, directly, once",
          _from_slack("mastodon", "kim", "@kim done, your account is deleted"), "mastodon"),
)


def expected(hour: tuple[Event, ...] = HOUR) -> dict[Fate, int]:
    """How many mentions of the hour should end each way."""
    found = dict.fromkeys(Fate, 0)
    for event in hour:
        if event.fate is not None:
            found[event.fate] += 1
    return found
