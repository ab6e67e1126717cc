"""On call: one message per handoff saying who is on call until when (outside business hours it waits for the
opening: nobody is pinged at night), and each rotation's Slack user group kept equal to whoever holds it."""

from __future__ import annotations

import logging
from datetime import UTC
from typing import TYPE_CHECKING

from bot.calendar import schedule as sched
from bot.clock import Clock
from bot.errors import ServiceError
from bot.messages import Handoff

if TYPE_CHECKING:
    from bot.ports import Sink
    from bot.rules import AlertPolicy
    from bot.store.repository import Store

log = logging.getLogger(__name__)

RETRY_AFTER = 30.0  # seconds before a user group that Slack refused is tried again


class OnCallService:
    def __init__(self, sink: Sink, store: Store, clock: Clock, config: AlertPolicy) -> None:
        self.sink = sink
        self.store = store
        self.clock = clock
        self.config = config
        self._announced: str | None = None  # the last handoff queued (a notice key)
        self._groups: dict[str, str] = {}  # user group → the member it was last set to
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
        if rotation is None:
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
                log.info("handoff: %s on call until %s", holder, until)
        self._announced = key

    def _sync_usergroups(self) -> None:
        """Keep each rotation's user group equal to who holds it (idempotent: redone once after a restart)."""
        now, mono, schedule = self.clock.now(), self.clock.monotonic(), self.config.schedule
        if self._groups_retry_at is not None and mono < self._groups_retry_at:
            return
        for rotation in (schedule.oncall, schedule.backup):
            if rotation is None or rotation.usergroup is None:
                continue
            holder = sched.on_call(rotation, schedule.tz, now)
            if self._groups.get(rotation.usergroup) == holder:
                continue
            try:
                self.sink.hand_over(rotation.usergroup, [holder])
            except ServiceError as exc:
                log.warning("could not set user group %s to %s: %s", rotation.usergroup, holder, exc.message)
                self._groups_retry_at = mono + RETRY_AFTER
                return
            self._groups[rotation.usergroup] = holder
            log.info("user group %s is now %s", rotation.usergroup, holder)
