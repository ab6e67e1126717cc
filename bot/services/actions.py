"""Actions: what people do to alerts from Slack — claim, snooze, close as "no reply needed", reply (the form, then
bot.services.replying posts it), and ask for the queue with `/replywatch`.

`handle` takes a typed Request (bot.slack.interactions reads it from what Slack sent) and returns an Outcome:
whether it was refused, the queue to show, the form's fields to fix, and the slower work to do once the sink has
acknowledged it (Slack wants that within 3 seconds). Every action is recorded (who, what, when) and bumps the
alert's revision; the sweep then edits the message in place, so the sweep stays the only writer of alert messages.

Who may ask is decided once, at the top of `handle`, by `refusal` (a pure function of the request, the `Access`
and what the store knows of the mention named): the payload must come from the app and the workspace (or its
Enterprise organization) that `auth.test` named, from a person of that workspace; a button or the close form
must be about a mention whose alert replywatch posted in the channel it came from; `/replywatch` answers only in
the alert channel and the channels of ALLOW_QUEUE_IN, and to people of another organization (a Slack Connect
channel) only when ALLOW_QUEUE_IN says `external`. A refusal is told to the asker only (ephemeral) and logged
once; what the asker reads is the sink's to say.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, tzinfo
from typing import TYPE_CHECKING

from bot import rules
from bot.clock import Clock
from bot.errors import ServiceError
from bot.model import CLOSE_REASONS, Mention, Status
from bot.services.requests import Access, Kind, Outcome, Queue, Refusal, Request, refusal, shown

if TYPE_CHECKING:
    from bot.ports import Sink
    from bot.services.replying import ReplyService
    from bot.store.repository import Store

log = logging.getLogger(__name__)

NOTE_LIMIT = 300


class ActionService:
    def __init__(
        self, store: Store, sink: Sink, clock: Clock, channel: str, tz: tzinfo = UTC, access: Access | None = None,
    ) -> None:
        self.store = store
        self.sink = sink
        self.clock = clock
        self.tz = tz
        self.access = access or Access(alert_channels=frozenset({channel}))
        self.on_change: Callable[[], None] | None = None  # told after a click changed a mention (wakes the sweep)
        self.replies: ReplyService | None = None  # what posts replies written in Slack (None: none are)

    def handle(self, request: Request) -> Outcome:
        """Decide one request: refused, answered at once, or work to do once it is acknowledged."""
        why = refusal(request, self.access, self._item(request))
        if why is not None:
            return self._refuse(request, why)
        if request.kind is Kind.QUEUE:
            return self._queue()
        if request.kind is Kind.CLICK:
            return self._click(request)
        if request.kind is Kind.REPLY_FORM:
            return self._reply_submitted(request)
        return self._close_submitted(request)

    def _item(self, request: Request) -> tuple[Status | None, str | None]:
        """The status of the mention a request names, and where its alert is (read-only: this is on the
        acknowledgement's path)."""
        if request.mention is None:
            return None, None
        with self.store.read() as repo:
            mention = repo.mention(request.mention)
            alert = repo.alert(request.mention) if mention is not None else None
        # The row names its channel from the moment the alert is claimed: a click can come before its ts is recorded.
        return (mention.status if mention else None), (alert.channel if alert is not None else None)

    def _refuse(self, request: Request, why: Refusal) -> Outcome:
        log.warning(
            "refused a %s from %s (team %s, app %s) in %s%s: %s",
            request.kind.value, shown(request.user), shown(request.user_team or request.team), shown(request.app),
            shown(request.channel), f" for mention {request.mention}" if request.mention is not None else "", why.value,
        )
        return Outcome(refused=why)

    # --- /replywatch ----------------------------------------------------------------------------------

    def _queue(self) -> Outcome:
        with self.store.read() as repo:  # answered in the acknowledgement: must not wait for a writer
            total = repo.open_count()
            rows = tuple(m for m, _ in repo.open_mentions(limit=self.sink.queue_rows))
        return Outcome(queue=Queue(rows, total, self.clock.now()))

    # --- buttons --------------------------------------------------------------------------------------

    def _click(self, request: Request) -> Outcome:
        mention_id, user, channel = request.mention or 0, request.user, request.channel  # a click names one
        if request.action == "claim":
            return Outcome(later=lambda: self._act(mention_id, user, channel, "claim", ""))
        if request.action == "snooze":
            return Outcome(later=lambda: self._act(mention_id, user, channel, "snooze", request.choice))
        if request.action == "reply":
            return Outcome(later=lambda: self._open_reply(mention_id, user, channel, request.trigger))
        return Outcome(later=lambda: self._ask_reason(mention_id, user, channel, request.trigger))

    def _act(self, mention_id: int, user: str, channel: str, action: str, choice: str) -> None:
        now = self.clock.now()
        until = rules.snooze_until(choice, now, self.tz) if action == "snooze" else None
        if action == "snooze" and until is None:
            return
        with self.store.unit() as repo:
            mention = repo.mention(mention_id)
            done = mention is not None and mention.status is Status.OPEN
            if done:
                if until is None:
                    repo.claim(mention_id, user, now)
                else:
                    repo.snooze(mention_id, user, until)
                repo.record_action(mention_id, user, action, f"until {until.isoformat()}" if until else "", now)
        if done:
            log.info("mention %d: %s by %s", mention_id, action, user)
            self._changed()
        else:
            self._already_closed(channel, user, mention)  # after the transaction: no Slack call holds the database

    def _ask_reason(self, mention_id: int, user: str, channel: str, trigger: str) -> None:
        with self.store.unit() as repo:
            mention = repo.mention(mention_id)
        if mention is None or mention.status is not Status.OPEN:
            self._already_closed(channel, user, mention)
            return
        try:
            self.sink.ask_reason(trigger, mention, channel)
        except ServiceError as exc:
            log.warning("could not ask why mention %d needs no reply: %s", mention_id, exc.message)

    # --- replies ------------------------------------------------------------------------------------------

    def _open_reply(self, mention_id: int, user: str, channel: str, trigger: str) -> None:
        with self.store.read() as repo:
            mention = repo.mention(mention_id)
        if mention is None or mention.status is not Status.OPEN:
            self._already_closed(channel, user, mention)
            return
        if (why := self._may_not_reply(mention, user)) is not None:
            self._tell(channel, user, why)
            return
        assert self.replies is not None  # _may_not_reply says so otherwise
        try:
            self.sink.ask_reply(trigger, self.replies.form(mention), channel)
        except ServiceError as exc:
            log.warning("could not open the reply form for mention %d: %s", mention_id, exc.message)

    def _reply_submitted(self, request: Request) -> Outcome:
        """Checked in place (Slack shows what is wrong in the form); posted once acknowledged."""
        with self.store.read() as repo:
            mention = repo.mention(request.mention or 0)
        if mention is None or self.replies is None:
            return Outcome(fix={"text": "replywatch no longer knows this mention; nothing was sent."})
        if fix := self.replies.problems(mention, request.note, request.limit):
            return Outcome(fix=fix)
        user, channel, text = request.user, request.channel, request.note

        def send() -> None:
            if (why := self._may_not_reply(mention, user)) is not None:
                self._tell(channel, user, why)
                return
            assert self.replies is not None
            self.replies.send(mention, user, channel, text)
            with self.store.unit() as repo:
                repo.record_action(mention.id, user, "reply", "", self.clock.now())

        return Outcome(later=send)

    def _may_not_reply(self, mention: Mention, user: str) -> str | None:
        """Why `user` may not answer `mention` from Slack (replies are off for its account, or they are not in its
        reply group), or None."""
        if self.replies is None or not self.replies.enabled(mention.where):
            return f"Replies from Slack are off for {mention.where}; answer it on {mention.network.label}."
        group = self.replies.group(mention.where)
        if group is not None:
            try:
                allowed = user in self.sink.members(group)
            except ServiceError as exc:
                log.warning("could not read the members of %s: %s", shown(group), exc.message)
                return "replywatch could not check who may reply from Slack; nothing was sent. Try again in a moment."
            if not allowed:
                return f"Only the members of the reply group of {mention.where} may reply from Slack; nothing was sent."
        return None

    def _close_submitted(self, request: Request) -> Outcome:
        reason, note = request.choice, " ".join(request.note.split())[:NOTE_LIMIT]
        if reason not in CLOSE_REASONS:
            return Outcome(fix={"reason": "Pick a reason."})
        if reason == "other" and not note:
            return Outcome(fix={"note": "Say why in a few words."})
        mention_id, user, channel = request.mention or 0, request.user, request.channel  # so does the form
        text = f"no reply needed: {CLOSE_REASONS[reason]}" + (f" — {note}" if note else "")
        return Outcome(later=lambda: self._close(mention_id, user, channel, text))

    def _close(self, mention_id: int, user: str, channel: str, reason: str) -> None:
        now = self.clock.now()
        with self.store.unit() as repo:
            closed = repo.close(mention_id, reason, user, now)
            if closed:
                repo.record_action(mention_id, user, "close", reason, now)
            mention = repo.mention(mention_id)
        if closed:
            log.info("mention %d closed by %s", mention_id, user)
            self._changed()
        else:
            self._already_closed(channel, user, mention)

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change()

    def _already_closed(self, channel: str, user: str, mention: Mention | None) -> None:
        self._tell(channel, user, f"That mention is already closed ({mention.reason if mention else 'not tracked by replywatch'}).")

    def _tell(self, channel: str, user: str, text: str) -> None:
        try:
            self.sink.tell(channel, user, text)
        except ServiceError as exc:
            log.warning("could not tell %s: %s", user, exc.message)
