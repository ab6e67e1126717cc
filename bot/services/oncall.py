"""On call: one message per handoff saying who is on call until when (outside business hours it waits for the
opening: nobody is pinged at night), each rotation's Slack user group kept equal to whoever holds it, and the
rotations' iCal feeds kept fresh (FeedService).

- **Nobody known.** A rotation from an iCal feed may name nobody (bot.calendar.schedule.on_call says None): in a gap
  in its rota, which is announced as a handoff to nobody; or before any copy of the feed exists, when nothing is
  announced (the feed's own notice says why). The user group is never set to nobody: it keeps whoever held it last
  until someone takes over. Nor is it given an e-mail from the feed that Slack does not know.
- **The feeds.** Each is fetched in a lane of its own when bot.calendar.feed says it is due, and the people a good copy
  names are looked up in Slack (`look_up`). A feed is broken once BROKEN_AFTER fetches in a row failed, or at the
  first failure when there is no copy to keep: health then names it (`problems`, stored by PartsHealth), and one
  notice in the channel says so, once per outage (across a restart too); one more says when it is fetched again.
  A feed is named by its host only: its address holds a private token and appears nowhere.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from bot.calendar import schedule as sched
from bot.clock import Clock
from bot.errors import ServiceError
from bot.messages import FeedNote, Handoff

if TYPE_CHECKING:
    from bot.calendar.feed import Feed, FeedHealth
    from bot.lanes import Lane
    from bot.ports import Sink
    from bot.rules import AlertPolicy
    from bot.store.repository import Store

log = logging.getLogger(__name__)

RETRY_AFTER = 30.0  # seconds before a user group that Slack refused is tried again
BROKEN_AFTER = 2  # failed fetches in a row that make a feed broken (the second a minute after the first)


class OnCallService:
    def __init__(self, sink: Sink, store: Store, clock: Clock, config: AlertPolicy) -> None:
        self.sink = sink
        self.store = store
        self.clock = clock
        self.config = config
        self._announced: str | None = None  # the last handoff queued (a notice key)
        self._groups: dict[str, str] = {}  # user group → the member it was last set to
        self._kept: dict[str, str | None] = {}  # user group → the holder it was not set to (nobody, an unknown e-mail)
        self._groups_retry_at: float | None = None  # monotonic

    def run_once(self) -> None:
        if self.config.schedule is None:
            return
        self._queue_handoff()
        self._sync_usergroups()

    def _queue_handoff(self) -> None:
        """Once per handoff; a handoff missed while down is said once, not replayed."""
        now, schedule = self.clock.now(), self.config.schedule
        rotation = schedule.oncall
        if rotation is None or unknown(rotation):
            return
        tz = schedule.tz
        since, holder = sched.last_handoff(rotation, tz, now), sched.on_call(rotation, tz, now)
        # Someone who has always held it (a rotation of one) is announced once, and again only if the file names another.
        key = f"handoff:{since.astimezone(UTC).isoformat()}" if since else f"handoff:always:{holder}"
        hours = schedule.hours
        if key == self._announced or (hours is not None and not sched.is_open(hours, tz, now)):
            return
        until = sched.next_handoff(rotation, tz, now)
        backup = sched.on_call(schedule.backup, tz, now) if schedule.backup is not None else None
        with self.store.unit() as repo:
            waiting, _, oldest = repo.open_summary()
            if repo.add_notice(key, Handoff(holder, until, backup, waiting, oldest, str(tz)), now):
                log.info("handoff: %s on call until %s", holder or "nobody", until)
        self._announced = key

    def _sync_usergroups(self) -> None:
        """Keep each rotation's user group equal to who holds it (idempotent: redone once after a restart)."""
        now, mono, schedule = self.clock.now(), self.clock.monotonic(), self.config.schedule
        if self._groups_retry_at is not None and mono < self._groups_retry_at:
            return
        for rotation in (schedule.oncall, schedule.backup):
            if rotation is None or rotation.usergroup is None:
                continue
            group, holder = rotation.usergroup, sched.on_call(rotation, schedule.tz, now)
            if holder is None or "@" in holder:  # nobody known, or an e-mail Slack has no user for
                if self._kept.get(group, "") != holder:
                    log.info("user group %s stays as it is: %s", group,
                             "nobody is known to be on call" if holder is None else f"{holder} is not a Slack user")
                self._kept[group] = holder
                continue
            self._kept.pop(group, None)
            if self._groups.get(group) == holder:
                continue
            try:
                self.sink.hand_over(group, [holder])
            except ServiceError as exc:
                log.warning("could not set user group %s to %s: %s", group, holder, exc.message)
                self._groups_retry_at = mono + RETRY_AFTER
                return
            self._groups[group] = holder
            log.info("user group %s is now %s", group, holder)


def unknown(rotation: sched.Rotation) -> bool:
    """Whether nothing is known of who holds the rotation: it is read from an iCal feed of which there is no copy yet."""
    return rotation.ical is not None and rotation.ical.copy is None


def feed_broken(health: FeedHealth) -> bool:
    """Whether a feed's trouble is told (in health and the channel): BROKEN_AFTER failed fetches in a row, or one with
    no copy to keep (nobody is known to be on call)."""
    return health.problem is not None and (health.failures >= BROKEN_AFTER or health.copy_fetched_at is None)


class FeedService:
    """The rotations' iCal feeds: each refreshed when due, in its own lane (`lanes`: feed key → lane); after a good
    fetch, `look_up(feeds, now)` turns the e-mails it names into Slack user IDs; a broken feed told once an outage."""

    def __init__(
        self, feeds: Sequence[Feed], store: Store, clock: Clock, lanes: Mapping[str, Lane],
        look_up: Callable[[Sequence[Feed], datetime], None],
    ) -> None:
        self.feeds = list(feeds)
        self.store = store
        self.clock = clock
        self.lanes = lanes
        self.look_up = look_up
        self._told: dict[str, FeedNote | None] = {}  # feed key → the newest notice about it (read once from the store)
        self._fetched: dict[str, bool] = {}  # feed key → whether its last fetch in this process was good

    def run_once(self) -> None:
        now = self.clock.now()
        for f in self.feeds:
            if f.due(now):
                self._refresh(f, now)
            self._tell(f, now)

    def problems(self) -> dict[str, str]:
        """Each broken feed, with its line (host only): the parts health names (bot.services.health.PartsHealth)."""
        return {f"on-call feed [{f.key}]": health.line for f in self.feeds if feed_broken(health := f.health())}

    def _refresh(self, f: Feed, now: datetime) -> None:
        try:
            problem = self.lanes[f.key].call(f.refresh, now)
        except ServiceError as exc:  # its lane still waits for a fetch past its deadline: health names the lane
            log.debug("%s: not fetched now: %s", f.name, exc.message)
            return
        self._fetched[f.key] = problem is None
        if problem is None:
            self.look_up([f], now)

    def _tell(self, f: Feed, now: datetime) -> None:
        """Queue the notice of an outage once it is broken, and of its end once fetched again (if one was told)."""
        prefix = f"ical-feed:{f.key}:"  # the feed's notice_key starts so
        if f.key not in self._told:
            with self.store.read() as repo:
                last = repo.last_note(prefix)
            self._told[f.key] = last if isinstance(last, FeedNote) else None
        told, health = self._told[f.key], f.health()
        outage = told is not None and told.problem is not None  # told, and not yet told its end
        if feed_broken(health) and not outage and health.notice_key is not None and health.failing_since is not None:
            key, note = health.notice_key, FeedNote(f.name, health.failing_since.astimezone(UTC), health.problem)
        elif outage and self._fetched.get(f.key) and told is not None:
            key, note = f"{prefix}{told.since.astimezone(UTC).isoformat()}:recovered", FeedNote(f.name, told.since)
        else:
            return
        with self.store.unit() as repo:
            repo.add_notice(key, note, now)
        self._told[f.key] = note
