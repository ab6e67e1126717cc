"""Notices (the threaded nudges and the notes on collection), the Slack channels' health and the other parts'."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select, update

from bot.messages import Message, load, payload
from bot.model import Notice
from bot.store.common import PENDING, REFUSED, SENDING, Part
from bot.store.tables import NoticeRow, PartRow, RulesSeenRow, SlackChannelRow


class Notices(Part):
    def add_notice(
        self, key: str, note: Message, now: datetime, thread_ts: str | None = None, channel: str | None = None
    ) -> bool:
        """Queue a note once, for `channel` (None: the default one): False if one with this key exists already."""
        return self._insert_once(
            NoticeRow, "key", key=key, kind=note.kind, payload=payload(note), state=PENDING, created_at=now,
            thread_ts=thread_ts, channel=channel,
        )

    def last_note(self, prefix: str) -> Message | None:
        """The newest note whose key starts with `prefix`."""
        row = self.session.execute(
            select(NoticeRow.kind, NoticeRow.payload).where(NoticeRow.key.startswith(prefix)).order_by(NoticeRow.id.desc()).limit(1)
        ).first()
        return load(row.kind, row.payload) if row else None

    def notices_unsent(self, now: datetime) -> list[Notice]:
        """Notices to post now: new, in doubt, or refused before and due for another try."""
        rows = self.session.scalars(
            select(NoticeRow)
            .where(NoticeRow.state.in_([PENDING, SENDING, REFUSED]), (NoticeRow.state != REFUSED) | (NoticeRow.retry_at <= now))
            .order_by(NoticeRow.id)
        )
        return [
            Notice(key=r.key, note=load(r.kind, r.payload), state=r.state, created_at=r.created_at, thread_ts=r.thread_ts,
                   refusals=r.refusals or 0, channel=r.channel)
            for r in rows
        ]

    def has_notice(self, key: str) -> bool:
        return self.session.scalar(select(NoticeRow.id).where(NoticeRow.key == key)) is not None

    def set_note(self, key: str, note: Message) -> None:
        """Keep what a note has learnt on its way (a report's uploaded chart)."""
        self.session.execute(update(NoticeRow).where(NoticeRow.key == key).values(payload=payload(note)))

    def first_seen(self, name: str, value: str, now: datetime) -> datetime:
        """Since when the setting `name` has had `value` (now, if it had another or none)."""
        row = self.session.get(RulesSeenRow, name)
        held, _, since = row.value.rpartition("@") if row is not None else ("", "", "")
        if row is not None and held == value:
            return datetime.fromisoformat(since)
        self.session.merge(RulesSeenRow(name=name, value=f"{value}@{now.isoformat()}"))
        return now

    def notice_note(self, key: str) -> Message | None:
        row = self.session.execute(select(NoticeRow.kind, NoticeRow.payload).where(NoticeRow.key == key)).first()
        return load(row.kind, row.payload) if row else None

    def notice_state(self, key: str, state: str, channel: str | None = None, ts: str | None = None, now: datetime | None = None) -> None:
        values: dict = {"state": state}
        if ts is not None:
            values.update(channel=channel, ts=ts, sent_at=now)
        self.session.execute(update(NoticeRow).where(NoticeRow.key == key).values(**values))

    def channel_failed(self, channel: str, error: str, now: datetime) -> bool:
        """Note that the channel cannot take messages; True if it worked until now."""
        row = self.session.get(SlackChannelRow, channel)
        if row is None:
            row = SlackChannelRow(channel=channel, failures=0)
            self.session.add(row)
        first = row.failing_since is None
        row.failing_since = row.failing_since or now
        row.failures = (row.failures or 0) + 1
        row.last_error = error
        return first

    def channel_works(self, channel: str) -> bool:
        """Note that the channel takes messages; True if it was failing."""
        row = self.session.get(SlackChannelRow, channel)
        if row is None or row.failing_since is None:
            return False
        row.failing_since, row.failures, row.last_error = None, 0, None
        return True

    def failing_channels(self) -> list[tuple[str, datetime, str]]:
        """(channel, failing since, last error) for every channel that cannot take messages."""
        rows = self.session.scalars(select(SlackChannelRow).where(SlackChannelRow.failing_since.is_not(None)))
        return [(r.channel, r.failing_since, r.last_error or "") for r in rows]

    def parts_failing(self, failing: dict[str, str], now: datetime) -> None:
        """The parts that do not work now (name: why), in place of those stored: the others work again."""
        self.session.execute(delete(PartRow).where(PartRow.name.not_in(sorted(failing))))
        for name, why in failing.items():
            row = self.session.get(PartRow, name)
            if row is None:
                self.session.add(PartRow(name=name, failing_since=now, last_error=why))
            else:
                row.last_error = why

    def failing_parts(self) -> list[tuple[str, datetime, str]]:
        """(part, failing since, why) for every part that does not work."""
        rows = self.session.scalars(select(PartRow).order_by(PartRow.name))
        return [(r.name, r.failing_since, r.last_error or "") for r in rows]
