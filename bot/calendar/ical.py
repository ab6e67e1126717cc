"""An iCal feed read as an on-call rota: who holds it at a moment, and the moments that can change, as pure functions
of the feed's text and a moment (fetching it is bot.calendar.feed's job; the file's overrides, bot.calendar.schedule's).

**Who an event names** (the first rule that finds an e-mail wins; e-mails are lower-cased):

1. an ATTENDEE's e-mail (`mailto:jane@example.com`, or bare as some exports write it), leaving out anyone who declined
   (PARTSTAT=DECLINED) and the ORGANIZER when someone else attends (Google Calendar lists the organizer among the
   attendees); of several, the first listed;
2. an e-mail in the SUMMARY, as a PagerDuty-style export writes it ("On call: jane@example.com");
3. the ORGANIZER's e-mail (a shift someone put in their own calendar).

An event that names nobody this way (a holiday marker, "Team offsite"), a CANCELLED one and one without length covers
nobody. A feed in which no event names anyone is no rota (FeedError): it is refused, not read as "nobody on call".

**Who holds the rota at a moment**: whom the event covering it names (start ≤ moment < end). Where events overlap,
the one that began last holds it (a swap laid over a longer shift); of two that began together, the shorter. Where
no event covers the moment, nobody does (None): a gap in the rota, or past the end of what the feed exports.

**Times.** Recurrences are expanded by recurring-ical-events: RRULE and RDATE, EXDATE exceptions, RECURRENCE-ID
instances moved or changed (a swap on one week). A time with a TZID stays at its wall-clock time there across a
daylight-saving change (a weekly Monday 09:00 Europe/Berlin shift is 08:00 UTC in winter, 07:00 UTC in summer); a
floating time (no zone) and an all-day event (midnight to midnight) are read in the on-call file's time zone.

**How far.** A feed may repeat forever, and one person may hold it for good: a search for the next (or last) change
of holder looks at most HORIZON ahead (or back) and then says there is none.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import icalendar
import recurring_ical_events

log = logging.getLogger(__name__)

HORIZON = timedelta(days=400)  # how far a search for a change of holder looks, either way
_CHUNK = timedelta(days=28)  # the rota is expanded in spans of this length, each once, when first asked about
_MARGIN = timedelta(days=1)  # asked of a span's neighbours too: floating times are matched loosely at the edges
_EPOCH = datetime(2000, 1, 3, tzinfo=UTC)  # spans are counted from here
_MAX_CHUNKS = 128  # spans kept in memory (ten years: both ways of a search to the HORIZON fit, with room)
_CHECKED = timedelta(days=62)  # expanded at once on parsing, either side of `now`: a broken recurrence is found then
_EMAIL = re.compile(r"[^@\s<>:;,()\"']+@[^@\s<>:;,()\"']+\.[A-Za-z]{2,}")

Shift = tuple[datetime, datetime, str]  # (start, end, holder's e-mail), start and end in UTC


class FeedError(ValueError):
    """The text is not a usable rota; the message says why in a few words, to follow "the … feed"."""


class Rota:
    """One copy of a feed, parsed. Immutable to its readers; expanded lazily, span by span, and safe to share between
    threads. Build it with `parse`."""

    def __init__(self, calendar: icalendar.Calendar, tz: ZoneInfo) -> None:
        self.tz = tz
        self._query = recurring_ical_events.of(calendar)
        self._chunks: dict[int, tuple[Shift, ...]] = {}
        self._lock = threading.Lock()

    def holder(self, moment: datetime) -> str | None:
        """Whom the event covering `moment` names; None when no event covers it."""
        at = moment.astimezone(UTC)
        covering = [s for s in self._chunk(_index(at)) if s[0] <= at < s[1]]
        if not covering:
            return None
        return min(covering, key=lambda s: (-s[0].timestamp(), s[1], s[2]))[2]  # the latest start, then the shortest

    def edges(self, moment: datetime, forward: bool) -> Iterator[datetime]:
        """Every start and end of an event, each moment once, nearest first: after `moment` going forward, at or before
        it going back, no further than HORIZON. The holder can change only at these."""
        at = moment.astimezone(UTC)
        first = _index(at)
        for step in range(HORIZON // _CHUNK + 2):
            i = first + step if forward else first - step
            begin, end = _span(i)
            found = {m for s in self._chunk(i) for m in s[:2] if begin <= m < end}
            for m in sorted(found, reverse=not forward):
                if (m > at) if forward else (m <= at):
                    if abs(m - at) > HORIZON:
                        return
                    yield m.astimezone(self.tz)

    def people(self, start: datetime, end: datetime) -> list[str]:
        """The e-mails the rota names from `start` to `end` (to look up in Slack ahead of their shifts)."""
        a, b = start.astimezone(UTC), end.astimezone(UTC)
        named = {s[2] for i in range(_index(a), _index(b) + 1) for s in self._chunk(i) if s[0] < b and a < s[1]}
        return sorted(named)

    def _chunk(self, i: int, strict: bool = False) -> tuple[Shift, ...]:
        """The shifts overlapping span i (and a margin), expanded once. A span that cannot be expanded holds none (and
        says so in the log), unless `strict`: then the error is raised."""
        found = self._chunks.get(i)
        if found is not None:
            return found
        with self._lock:
            found = self._chunks.get(i)
            if found is None:
                begin, end = _span(i)
                try:
                    found = tuple(sorted(set(self._expand(begin - _MARGIN, end + _MARGIN))))
                except Exception as exc:  # noqa: BLE001 - `parse` tried the spans near its `now`; this one is far off
                    if strict:
                        raise
                    log.warning("an iCal rota's events from %s cannot be expanded (%s): nobody is named then",
                                begin.date(), type(exc).__name__)
                    found = ()
                if len(self._chunks) >= _MAX_CHUNKS:
                    self._chunks.clear()
                self._chunks[i] = found
        return found

    def _expand(self, begin: datetime, end: datetime) -> Iterator[Shift]:
        for event in self._query.between(begin, end):
            if str(event.get("STATUS", "")).upper() == "CANCELLED":
                continue
            who = named(event)
            if who is None or "DTSTART" not in event:
                continue
            start = _utc(event["DTSTART"].dt, self.tz)
            stop = _utc(event["DTEND"].dt, self.tz) if "DTEND" in event else start
            if stop > start:
                yield start, stop, who


def parse(body: bytes | str, tz: ZoneInfo, now: datetime) -> Rota:
    """The feed's text as a Rota; FeedError when it is no iCal text, or names nobody, or its recurrences cannot be
    expanded (tried around `now`, so a broken one is refused here, not met later by whoever asks who is on call)."""
    text = body if isinstance(body, bytes) else body.encode("utf-8")
    if b"BEGIN:VCALENDAR" not in text[:4096].upper():
        raise FeedError("is not an iCal feed (no BEGIN:VCALENDAR)")
    try:
        calendar = icalendar.Calendar.from_ical(text)
    except Exception:  # noqa: BLE001 - the parser's errors are many and unclassified; the text is what is wrong
        raise FeedError("is not valid iCal text") from None
    events = calendar.walk("VEVENT")
    if not events:
        raise FeedError("has no events")
    if not any(named(e) for e in events):
        raise FeedError("names nobody: no event has an attendee, an organizer or an e-mail in its summary")
    rota = Rota(calendar, tz)
    try:
        for i in range(_index(now.astimezone(UTC) - _CHECKED), _index(now.astimezone(UTC) + _CHECKED) + 1):
            rota._chunk(i, strict=True)  # noqa: SLF001 - the module's own class
    except Exception as exc:  # noqa: BLE001 - recurring-ical-events raises what its parsing of a rule raises
        raise FeedError(f"has a recurrence that cannot be expanded ({type(exc).__name__})") from None
    return rota


def named(event: icalendar.cal.Component) -> str | None:
    """Whom an event names as on call: the rule of this module's docstring."""
    organizer = _address(event.get("ORGANIZER"))
    attendees = event.get("ATTENDEE", [])
    attending = []
    for attendee in attendees if isinstance(attendees, list) else [attendees]:
        address = _address(attendee)
        declined = str(getattr(attendee, "params", {}).get("PARTSTAT", "")).upper() == "DECLINED"
        if address and not declined:
            attending.append(address)
    others = [a for a in attending if a != organizer]
    if others or attending:
        return (others or attending)[0]
    found = _EMAIL.search(str(event.get("SUMMARY", "")))
    return found.group(0).lower() if found else organizer


def _address(value: object) -> str | None:
    """The e-mail of an ATTENDEE or ORGANIZER value (`mailto:` or bare); None when it holds none."""
    if value is None:
        return None
    text = str(value).strip()
    if text.lower().startswith("mailto:"):
        text = text[len("mailto:"):]
    return text.lower() if _EMAIL.fullmatch(text) else None


def _utc(value: date | datetime, tz: ZoneInfo) -> datetime:
    """An event's time in UTC: a floating time and a date (its midnight) are local to `tz`."""
    if not isinstance(value, datetime):
        value = datetime.combine(value, time(0))
    if value.tzinfo is None:
        value = value.replace(tzinfo=tz)
    return value.astimezone(UTC)


def _index(moment: datetime) -> int:
    return (moment - _EPOCH) // _CHUNK


def _span(i: int) -> tuple[datetime, datetime]:
    begin = _EPOCH + i * _CHUNK
    return begin, begin + _CHUNK
