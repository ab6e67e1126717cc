"""Alerts and digests on their way to Slack and after: claimed, sent, refused, parked, edited; and what the sweep has to do."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, delete, select, update

from bot.model import Alert, Digest, Mention, Parked, Status
from bot.store import common
from bot.store.common import ALERTS, IDS, MENTIONS, PARKED, PENDING, REFUSED, RESOLVED, SENDING, SENT, Part, chunks, retry_due
from bot.store.tables import AlertRow, DigestRow, MentionRow, NoticeRow


@dataclass(frozen=True)
class SweepWork:
    """Which kinds of work the sweep has (Repository.sweep_work)."""

    alerts_in_doubt: bool = False
    alert_retries: bool = False
    digests_in_doubt: bool = False
    digest_retries: bool = False
    notices: bool = False
    due: bool = False
    edits: bool = False

    @property
    def posts(self) -> bool:
        return any((self.alerts_in_doubt, self.alert_retries, self.digests_in_doubt, self.digest_retries, self.notices, self.due))


class Delivery(Part):
    def sweep_work(self, now: datetime, as_of: datetime | None, seen_before: datetime | None) -> SweepWork:
        """What the sweep has to do, in one cheap statement: a tick with nothing to do reads no row, and one with
        work reads only the kinds there are."""
        alerts, digests, notices, mentions = (t.__table__ for t in (AlertRow, DigestRow, NoticeRow, MentionRow))
        kinds = {
            "alerts_in_doubt": select(alerts.c.id).where(alerts.c.state == SENDING, alerts.c.digest_id.is_(None)),
            "alert_retries": select(alerts.c.id).where(retry_due(alerts.c, now), alerts.c.digest_id.is_(None)),
            "digests_in_doubt": select(digests.c.id).where(digests.c.state == SENDING),
            "digest_retries": select(digests.c.id).where(retry_due(digests.c, now)),
            "notices": select(notices.c.id).where(
                notices.c.state.in_([PENDING, SENDING, REFUSED]), (notices.c.state != REFUSED) | (notices.c.retry_at <= now)
            ),
            # ordered by the indexed time, so the plan is the index's whatever the planner believes about the table
            "edits": select(alerts.c.id).where(alerts.c.state == SENT, alerts.c.edit_at.is_not(None)).order_by(alerts.c.edit_at),
        }
        if as_of is not None and seen_before is not None:
            due = select(mentions.c.id).where(mentions.c.status == Status.OPEN, mentions.c.due_at <= as_of)
            kinds["due"] = due.order_by(mentions.c.due_at)
        found = self.session.execute(select(*(q.limit(1).scalar_subquery().is_not(None) for q in kinds.values()))).one()
        return SweepWork(**{kind: bool(f) for kind, f in zip(kinds, found, strict=True)})

    def _insert_once(self, table: type[AlertRow | NoticeRow], unique: str, **values: object) -> bool:
        """Insert a row unless one with the same `unique` column exists; True if this call inserted it."""
        stmt = self._insert(table).values(**values).on_conflict_do_nothing(index_elements=[unique]).returning(table.id)
        return self.session.execute(stmt).first() is not None

    def start_alert(self, mention_id: int, channel: str, now: datetime) -> bool:
        """Claim the right to post the alert for a mention. False if one exists already."""
        if not self._insert_once(AlertRow, "mention_id", mention_id=mention_id, channel=channel, state=SENDING, created_at=now):
            return False
        self.session.execute(update(MentionRow).where(MentionRow.id == mention_id).values(due_at=None))
        return True

    def _due_again(self, alerts: object) -> None:
        """The open mentions of these alert rows (about to be forgotten) wait for an alert again."""
        self.session.execute(
            update(MentionRow)
            .where(MentionRow.id.in_(select(AlertRow.mention_id).where(alerts)), MentionRow.status == Status.OPEN)
            .values(due_at=MentionRow.created_at)
        )

    def alert_sent(self, mention_id: int, channel: str, ts: str, now: datetime, follow_up_at: datetime | None = None) -> None:
        """Posted: its follow-ups are judged from `follow_up_at` on (from now, if not given)."""
        self.session.execute(
            update(AlertRow)
            .where(AlertRow.mention_id == mention_id)
            .values(
                channel=channel, ts=ts, state=SENT, sent_at=now, updated_at=now, refusals=0, retry_at=None,
                follow_up_at=follow_up_at or now,
            )
        )

    def drop_alert(self, mention_id: int) -> None:
        """Forget an alert Slack certainly did not post, so the next sweep tries again."""
        doomed = (AlertRow.mention_id == mention_id) & (AlertRow.state == SENDING)
        self._due_again(doomed)
        self.session.execute(delete(AlertRow).where(doomed))

    def alert(self, mention_id: int) -> Alert | None:
        """The alert about a mention, if it has one (its own message, or its line in a digest)."""
        row = self.session.scalar(select(AlertRow).where(AlertRow.mention_id == mention_id))
        return common.alert_of(row) if row is not None else None

    def alerts_in_doubt(self) -> list[Alert]:
        """Alerts whose post may or may not have reached Slack (the process stopped or the call failed)."""
        rows = self.session.scalars(select(AlertRow).where(AlertRow.state == SENDING, AlertRow.digest_id.is_(None)))
        return [common.alert_of(r) for r in rows]

    def alerts_to_retry(self, now: datetime) -> list[Alert]:
        """Alerts Slack refused, due for another try."""
        rows = self.session.scalars(select(AlertRow).where(retry_due(AlertRow, now), AlertRow.digest_id.is_(None)))
        return [common.alert_of(r) for r in rows]

    def digests_to_retry(self, now: datetime) -> list[Digest]:
        return [common.digest_of(r) for r in self.session.scalars(select(DigestRow).where(retry_due(DigestRow, now)))]

    def refused(self, kind: str, key: str, refusals: int, retry_at: datetime | None, parked: str | None) -> None:
        """Slack said no to a post (`kind` alert, digest or notice) or to an alert's edit (`edit`): try again at
        `retry_at`, or never (`parked`, with the reason). A digest parked parks its mentions' alerts with it."""
        values: dict = {"refusals": refusals, "retry_at": retry_at, "parked": parked}
        if kind == "edit":
            self.session.execute(update(AlertRow).where(AlertRow.mention_id == int(key)).values(**values))
            return
        values["state"] = PARKED if parked else REFUSED
        if kind == "alert":
            self.session.execute(update(AlertRow).where(AlertRow.mention_id == int(key)).values(**values))
        elif kind == "digest":
            self.session.execute(update(DigestRow).where(DigestRow.id == int(key)).values(**values))
            if parked:
                self.session.execute(update(AlertRow).where(AlertRow.digest_id == int(key)).values(state=PARKED, parked=parked))
        else:
            self.session.execute(update(NoticeRow).where(NoticeRow.key == key).values(**values))

    def sending(self, kind: str, key: int) -> None:
        """A refused alert or digest is being posted again: in doubt until Slack confirms it, like a new one."""
        table = AlertRow if kind == "alert" else DigestRow
        where = AlertRow.mention_id == key if kind == "alert" else DigestRow.id == key
        self.session.execute(update(table).where(where, table.state == REFUSED).values(state=SENDING))

    def parked(self) -> list[Parked]:
        """Everything Slack refused for good, for `status`."""
        alerts = self.session.execute(
            select(AlertRow.state, AlertRow.parked, MentionRow.post_id, MentionRow.url)
            .join(MentionRow, MentionRow.id == AlertRow.mention_id)
            .where(AlertRow.parked.is_not(None), AlertRow.digest_id.is_(None))
        )
        found = [
            Parked("alert" if a.state == PARKED else "edit", f"alert for the mention {a.url or a.post_id}", a.parked or "")
            for a in alerts
        ]
        digests = self.session.scalars(select(DigestRow).where(DigestRow.parked.is_not(None)))
        found += [Parked("digest", f"digest {d.id}", d.parked or "") for d in digests]
        notices = self.session.scalars(select(NoticeRow).where(NoticeRow.parked.is_not(None)))
        found += [Parked("notice", n.key, n.parked or "") for n in notices]
        return found

    def alerts_to_refresh(
        self, now: datetime, digest_id: int | None = None, limit: int = 100, skip_channels: Collection[str] = ()
    ) -> list[tuple[Alert, Mention]]:
        """Sent alerts whose message shows less than it should (the mention closed, or someone acted on it in
        Slack), closed ones first, unless an edit was refused and waits for its retry, or was refused for good;
        with `digest_id`, those of that digest; none in `skip_channels`."""
        stmt = (
            select(ALERTS)
            .join(MENTIONS, ALERTS.c.mention_id == MENTIONS.c.id)
            .where(
                ALERTS.c.edit_at.is_not(None),
                ALERTS.c.state == SENT,
                ALERTS.c.parked.is_(None),
                ALERTS.c.retry_at.is_(None) | (ALERTS.c.retry_at <= now),
            )
            .order_by(case((MENTIONS.c.status == Status.OPEN, 1), else_=0), ALERTS.c.edit_at, ALERTS.c.id)
            .limit(limit)
        )
        if digest_id is not None:
            stmt = stmt.where(ALERTS.c.digest_id == digest_id)
        if skip_channels:
            stmt = stmt.where(ALERTS.c.channel.not_in(sorted(skip_channels)))
        return self._with_mentions([common.alert_of(r) for r in self.session.execute(stmt)])

    def alert_rendered(self, mention_id: int, revision: int, resolved: bool, now: datetime) -> None:
        """The message now shows `revision` (up to date unless something changed meanwhile); a closed mention's
        alert is done with."""
        values: dict = {
            "rendered": revision, "updated_at": now, "refusals": 0, "retry_at": None,
            "edit_at": case((AlertRow.revision > revision, AlertRow.edit_at), else_=None),
        }
        if resolved:
            values.update(state=RESOLVED, follow_up_at=None)
        self.session.execute(update(AlertRow).where(AlertRow.mention_id == mention_id).values(**values))

    def start_digest(self, mention_ids: list[int], channel: str, now: datetime) -> tuple[int, list[int]] | None:
        """One digest for these mentions, each claimed for it as its alert: (its id, the mentions claimed). None if
        none was left to claim."""
        digest = DigestRow(channel=channel, state=SENDING, created_at=now)
        self.session.add(digest)
        self.session.flush()
        rows = [
            {"mention_id": m, "channel": channel, "state": SENDING, "created_at": now, "digest_id": digest.id,
             "revision": 0, "rendered": 0, "refusals": 0, "reminders": 0}
            for m in dict.fromkeys(mention_ids)
        ]
        claimed = self.bulk.insert_new(AlertRow.__table__, rows, "mention_id")
        if not claimed:
            self.session.delete(digest)
            return None
        for chunk in chunks(claimed, IDS):
            self.session.execute(update(MentionRow).where(self.bulk.among(MentionRow.id, chunk)).values(due_at=None))
        return digest.id, claimed

    def digest_sent(self, digest_id: int, channel: str, ts: str, now: datetime, follow_up_at: datetime | None = None) -> None:
        """Posted: its mentions' follow-ups are judged from `follow_up_at` on (from now, if not given)."""
        self.session.execute(
            update(DigestRow).where(DigestRow.id == digest_id).values(channel=channel, ts=ts, state=SENT, sent_at=now)
        )
        self.session.execute(
            update(AlertRow)
            .where(AlertRow.digest_id == digest_id)
            .values(channel=channel, ts=ts, state=SENT, sent_at=now, updated_at=now, follow_up_at=follow_up_at or now)
        )

    def drop_digest(self, digest_id: int) -> None:
        """Forget a digest Slack certainly did not post; its mentions become due again."""
        doomed = (AlertRow.digest_id == digest_id) & (AlertRow.state == SENDING)
        self._due_again(doomed)
        self.session.execute(delete(AlertRow).where(doomed))
        self.session.execute(delete(DigestRow).where(DigestRow.id == digest_id, DigestRow.state == SENDING))

    def digest(self, digest_id: int) -> tuple[Digest, list[Mention]] | None:
        """The digest and its mentions, oldest first."""
        row = self.session.get(DigestRow, digest_id)
        if row is None:
            return None
        members = self.session.execute(
            select(MENTIONS)
            .join(ALERTS, ALERTS.c.mention_id == MENTIONS.c.id)
            .where(ALERTS.c.digest_id == digest_id)
            .order_by(MENTIONS.c.created_at, MENTIONS.c.id)
        )
        return common.digest_of(row), [common.mention_of(m) for m in members]

    def digests_in_doubt(self) -> list[Digest]:
        return [common.digest_of(r) for r in self.session.scalars(select(DigestRow).where(DigestRow.state == SENDING))]
