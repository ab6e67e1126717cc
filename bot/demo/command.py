"""`replywatch demo`: the whole product for a minute, on this machine, with no credentials and no network.

Built-in stand-ins of X, Bluesky and Mastodon (bot/standins) answer the real adapters over local HTTP; `build_app`
builds what `run` builds (the rules, a temporary SQLite store, the outbox, the sweep) with the console sink, so the
alerts, edits, digests, escalations and the report print as Slack would show them; the jobs `run` schedules run on
a clock that goes `3600 / seconds` times faster than the machine's. The hour's traffic (bot.demo.script) is played
into the stand-ins as it goes; at the end a summary says what became of every mention and what the reads cost."""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.rule import Rule
from rich.text import Text

from bot.accounts import Watched
from bot.clock import ScaledClock
from bot.config import Settings
from bot.demo.script import APP_PASSWORD, HOUR, World
from bot.model import Network
from bot.report.cadence import Cadence

HOUR_LENGTH = timedelta(hours=1)
FASTEST_JOB = 0.05  # real seconds: no job runs more often than this, however fast the clock
DRAIN = timedelta(minutes=3)  # after the hour: the report falls due and is posted


def add_parser(sub: Any) -> None:
    demo = sub.add_parser("demo", help="an hour of made-up traffic on built-in stand-ins of X, Bluesky and Mastodon, in a minute")
    demo.add_argument("--seconds", type=float, default=60, help="how long the hour takes (default 60)")
    demo.set_defaults(func=lambda _settings, args: run(args.seconds), needs_settings=False)


def settings_for(world: World, folder: Path, start: datetime) -> tuple[Settings, list[Watched]]:
    """What `run` would be given: the console sink, the store in `folder`, the rules the script is written for."""
    report_at = (start + HOUR_LENGTH).time().replace(second=0, microsecond=0)
    (folder / "replywatch.toml").write_text("# the demo has no rotation and no business hours: always open\n")
    settings = Settings(
        sink="console", slack_channel="#social-care", database_url=f"sqlite:///{folder}/demo.db",
        x_bearer_token=world.x.bearer, x_api_base_url=world.x.url,  # type: ignore[arg-type]
        alert_after="15m", alert_after_vip="5m", vip_min_followers=100_000, escalate_after="35m", remind_every=0,
        digest_threshold=3, ignore_keywords=("thanks", "thank you"), poll_interval="60s", http_timeout="5s",
        report_every=Cadence(None, report_at), log_level="ERROR", replywatch_config=str(folder / "replywatch.toml"),
    )
    watched = [
        Watched(Network.X, "acme", responders=("acme_support",), source="demo"),
        Watched(Network.BLUESKY, "acme.bsky.social", instance=world.bluesky.url, secrets={"app_password": APP_PASSWORD}, source="demo"),
        Watched(Network.MASTODON, "acme", instance=world.mastodon.url, secrets={"access_token": world.mastodon.token}, source="demo"),
    ]
    return settings, watched


def run(seconds: float, console: Console | None = None) -> int:
    """Play the hour in `seconds`; 0 when every mention ended as the script says and nothing was sent twice."""
    from bot.app import IDLE_SWEEP_EVERY, build_app, poll_job
    from bot.console.sink import ConsoleSink
    from bot.demo.summary import render, summarize
    from bot.report.cost import Prices
    from bot.scheduler import build_scheduler

    console = console or Console(highlight=False, emoji=False, markup=False)
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
    speed = HOUR_LENGTH.total_seconds() / seconds
    start = datetime.now(UTC).replace(second=0, microsecond=0)
    clock = ScaledClock(start, speed)
    world = World()
    for stand_in in (world.x, world.bluesky, world.mastodon):
        stand_in.now = clock.now
    with tempfile.TemporaryDirectory(prefix="replywatch-demo-") as folder:
        settings, watched = settings_for(world, Path(folder), start)
        console.print(Rule("replywatch demo"))
        console.print(Text(f"An hour of traffic to @acme on X, Bluesky and Mastodon, in {seconds:g} seconds. Alerts go to "
                           f"{settings.slack_channel} after 15 minutes (5 for a VIP); what Slack would show is printed here."))
        files = Path(tempfile.mkdtemp(prefix="replywatch-demo-chart-"))  # outlives the demo: the report names it
        sink = ConsoleSink(console, files=files)
        app = build_app(settings, clock, watched, sink=sink)
        jobs = [(name, job, max(FASTEST_JOB, every.total_seconds() / speed)) for name, job, every in app.jobs()]
        idle = timedelta(seconds=max(FASTEST_JOB, IDLE_SWEEP_EVERY.total_seconds() / speed))
        scheduler = build_scheduler(
            [(n, j, timedelta(seconds=s)) for n, j, s in jobs], then={poll_job(p.where): "sweep" for p in app.polls},
            idle={"sweep": idle},
        )
        scheduler.start()
        try:
            _play(world, clock, console)
            _wait_until(clock, start + HOUR_LENGTH + DRAIN, lambda: any(t.startswith("notice:report:") for t in sink.printed))
        finally:
            scheduler.shutdown(wait=True, timeout=5)
            world.close()
        with app.store.read() as repo:
            received = list(repo.received(start - timedelta(hours=1), clock.now() + timedelta(hours=1)))
            reads = repo.reads(start.date() - timedelta(days=1))
        summary = summarize(received, sink.printed, reads, Prices.of(settings))
        console.print(Rule("summary"))
        console.print(render(summary))
        console.print(Text(f"The report's chart is in {files}; `replywatch run` with SINK=console works the same on your "
                           "own accounts (README: Try it without Slack)."))
        app.store.dispose()
    return 0 if summary.ok else 1


def _play(world: World, clock: ScaledClock, console: Console) -> None:
    """Each event of the script at its minute of the hour, as the clock reaches it."""
    for event in HOUR:
        _wait_until(clock, clock.start + timedelta(minutes=event.minute))
        console.print(Text(f"{event.minute:>4.0f}' {event.what}", "dim"))
        event.act(world)


def _wait_until(clock: ScaledClock, moment: datetime, done: Callable[[], bool] = lambda: False) -> None:
    """Sleep until the clock reaches `moment`, or sooner when `done()` says so."""
    while clock.now() < moment and not done():
        time.sleep(min(0.05, max(0.0, (moment - clock.now()).total_seconds() / clock.speed)))
