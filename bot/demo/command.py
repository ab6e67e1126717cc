"""`replywatch demo`: the whole product for a minute, on this machine, with no credentials and no network.

Built-in stand-ins of X, Bluesky and Mastodon (bot/standins) answer the real adapters over local HTTP; `build_app`
builds what `run` builds (the rules, a SQLite store, the outbox, the sweep) with the console sink, so the alerts,
edits, digests, escalations and the report print as Slack would show them. The jobs `run` schedules and the hour's
traffic (bot.demo.script) take turns on one clock (bot.demo.play), `3600 / seconds` times faster than the machine's,
so what is printed is in story order. The hour played is the one that has just gone by: what is stored reads as
history to `replywatch report` and `status`. At the end a summary says what became of every mention and what the
reads cost. The database and the report's chart live in a temporary folder, removed at the end, unless `--keep`
names where the database goes (its chart goes beside it)."""

from __future__ import annotations

import logging
import shlex
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from rich.console import Console
from rich.rule import Rule
from rich.text import Text

from bot.clock import FakeClock
from bot.config.accounts import Watched
from bot.config.load import Config
from bot.config.settings import ConfigError, Settings
from bot.demo.hosts import LOOPBACK, made_up_hosts
from bot.demo.play import Event, Player
from bot.demo.script import APP_PASSWORD, HOUR, World
from bot.model import Network
from bot.report.cadence import Cadence
from bot.standins.mastodon_api import DOMAIN as MASTODON_INSTANCE

if TYPE_CHECKING:
    from bot.app.wire import App

HOUR_LENGTH = timedelta(hours=1)
DRAIN = timedelta(minutes=3)  # after the hour: the report falls due and is posted


def add_parser(sub: Any) -> None:
    demo = sub.add_parser("demo", help="an hour of made-up traffic on built-in stand-ins of X, Bluesky and Mastodon, in a minute")
    demo.add_argument("--seconds", type=float, default=60,
                      help="how long the hour takes (default 60; a machine too slow for it takes longer, in the same order)")
    demo.add_argument("--keep", metavar="PATH", type=Path,
                      help="keep the database, a new SQLite file at PATH, and the report's chart beside it (PATH's name "
                           "with -chart), to try `replywatch report` and `replywatch status` on; without it nothing is left")
    demo.set_defaults(func=lambda _config, args: run(args.seconds, keep=args.keep), needs_settings=False)


def chart_folder(database: Path) -> Path:
    """Where the report's chart of a kept database goes: beside it, named after it (demo.db: demo-chart/)."""
    return database.with_name(f"{database.stem}-chart")


def config_for(world: World, start: datetime, database: Path) -> Config:
    """What `run` would be given: the console sink, the store at `database`, the rules the script is written for, the
    accounts as a person configures them (the Mastodon one by its instance's name: bot.demo.hosts), and no rotation
    and no business hours: always open."""
    report_at = (start + HOUR_LENGTH).time().replace(second=0, microsecond=0)
    settings = Settings(
        sink="console", slack_channel="#social-care", database_url=f"sqlite:///{database}",
        x_bearer_token=world.x.bearer, x_api_base_url=world.x.url,  # type: ignore[arg-type]
        alert_after="15m", alert_after_vip="5m", vip_min_followers=100_000, escalate_after="35m", remind_every=0,
        digest_threshold=3, ignore_keywords=("thanks", "thank you"), poll_interval="60s", http_timeout="5s",
        report_every=Cadence(None, report_at), log_level="ERROR",
    )
    instance = f"http://{MASTODON_INSTANCE}:{urlsplit(world.mastodon.url).port}"
    watched = [
        Watched(Network.X, "acme", responders=("acme_support",), source="demo"),
        Watched(Network.BLUESKY, "acme.bsky.social", instance=world.bluesky.url, secrets={"app_password": APP_PASSWORD}, source="demo"),
        Watched(Network.MASTODON, "acme", instance=instance, secrets={"access_token": world.mastodon.token}, source="demo",
                reply_from_slack=True),
    ]
    return Config(settings, tuple(watched), secrets=tuple(settings.secrets()))


def run(seconds: float, console: Console | None = None, keep: Path | None = None, world: World | None = None) -> int:
    """Play the hour in `seconds`; 0 when every mention ended as the script says and nothing was sent twice. `world`:
    stand-ins a test made, to hold what they served against what the summary says (closed at the end all the same)."""
    if not seconds > 0:
        raise ConfigError(f"--seconds must be more than 0; got {seconds:g}")
    if keep is not None:
        keep = keep.expanduser().absolute()
        if keep.exists():
            raise ConfigError(f"--keep {keep}: something is there already; the demo starts from a new database, "
                              "so give a path where nothing is")
    console = console or Console(highlight=False, emoji=False, markup=False)
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
    world = world or World()
    try:
        with tempfile.TemporaryDirectory(prefix="replywatch-demo-") as folder, made_up_hosts({MASTODON_INSTANCE: LOOPBACK}):
            return _run(world, seconds, console, Path(folder), keep)
    finally:
        world.close()


def _run(world: World, seconds: float, console: Console, folder: Path, keep: Path | None) -> int:
    from bot.app.wire import IDLE_SWEEP_EVERY, build_app, poll_job
    from bot.console.sink import ConsoleSink
    from bot.demo.summary import render, summarize
    from bot.report.cost import Prices

    start = (datetime.now(UTC) - HOUR_LENGTH - DRAIN).replace(second=0, microsecond=0)  # the hour just gone by
    clock = FakeClock(start)
    for stand_in in (world.x, world.bluesky, world.mastodon):
        stand_in.now = clock.now
    if keep is not None:
        keep.parent.mkdir(parents=True, exist_ok=True)
    database, charts = (keep, chart_folder(keep)) if keep is not None else (folder / "demo.db", folder / "chart")
    config = config_for(world, start, database)
    settings = config.settings
    console.print(Rule("replywatch demo"))
    console.print(Text(f"An hour of traffic to @acme on X, Bluesky and Mastodon, in {seconds:g} seconds. Alerts go to "
                       f"{settings.slack_channel} after 15 minutes (5 for a VIP); what Slack would show is printed here."))
    sink = ConsoleSink(console, files=charts)
    app = build_app(config, clock, sink=sink)
    world.reply_from_slack = lambda network, post, text: _reply_from_slack(app, network, post, text)
    try:
        player = Player(clock, app.jobs(), HOUR_LENGTH.total_seconds() / seconds,
                        then={poll_job(p.where): "sweep" for p in app.polls}, idle={"sweep": IDLE_SWEEP_EVERY})

        def reported() -> bool:  # the hour ends with its report
            return any(tag.startswith("notice:report:") for tag in sink.printed)

        player.play(_events(world, console), start + HOUR_LENGTH + DRAIN, reported)
        with app.store.read() as repo:
            received = list(repo.received(start - timedelta(hours=1), clock.now() + timedelta(hours=1)))
            reads = repo.reads(start.date() - timedelta(days=1))
    finally:
        app.store.dispose()
    summary = summarize(received, sink.printed, reads, Prices.of(settings))
    console.print(Rule("summary"))
    console.print(render(summary))
    for line in closing(database if keep is not None else None, sorted(charts.glob("*.png"))):
        console.print(Text(line), soft_wrap=line.startswith("  "))  # a command whole, to copy
    return 0 if summary.ok else 1


def _reply_from_slack(app: App, network: str, post: object, text: str) -> None:
    """What the Reply button's form does once sent: the reply is recorded, and the replies job posts it."""
    assert app.replies is not None
    where = next(w.watched.key for w in app.watching if w.watched.network.value == network)
    with app.store.read() as repo:
        mention = repo.mention(repo.mention_keys(where, [str(post)])[str(post)])
    assert mention is not None
    app.replies.send(mention, "U0JANE", app.sweep.config.rules(where).channel, text)


def _events(world: World, console: Console) -> list[Event]:
    """Each event of the script at its minute, told as it happens."""

    def told(event: Any) -> Event:
        def act() -> None:
            console.print(Text(f"{event.minute:>4.0f}' {event.what}", "dim"))
            event.act(world)

        return Event(timedelta(minutes=event.minute), act)

    return [told(event) for event in HOUR]


def closing(kept: Path | None, charts: list[Path]) -> list[str]:
    """The last lines: where the database and the chart are, and the commands that read them; or that nothing is left."""
    tail = "`replywatch run` with SINK=console works the same on your own accounts (README: Try it without Slack)."
    if kept is None:
        return [
            "The demo's database and the report's chart were temporary and are removed. To try `replywatch report` and "
            "`replywatch status` on this hour, run it again with --keep PATH (e.g. `replywatch demo --keep demo.db`).",
            tail,
        ]
    url = "DATABASE_URL=" + shlex.quote(f"sqlite:///{kept}")
    where = f"The database is kept in {kept}" + (f", the report's chart in {charts[0]}" if charts else "") + "."
    return [
        f"{where} To read this hour as `run` would have stored it:",
        f"  {url} replywatch report",
        f"  {url} replywatch status",
        tail,
    ]
