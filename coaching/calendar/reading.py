"""Reading calendars: from the bytes of an iCalendar feed (a secret iCal address, an .ics file), the
meetings inside a window of time.

The libraries do the calendar work: ``icalendar`` parses (VTIMEZONE blocks and Outlook's Windows zone
names included), ``x-wr-timezone`` gives Google's UTC times their calendar zone, and
``recurring-ical-events`` expands series with their EXDATEs and moved instances (RECURRENCE-ID). What
is ours: which events are meetings at all (no all-day events, nothing free, private, declined or
cancelled), a stable key per meeting, and keeping the cost of a read to what the window holds.

:func:`read_calendar` is CPU work and synchronous on purpose: callers on the event loop run it in a
thread (``asyncio.to_thread``).

Known limit of icalendar 7: a VTIMEZONE whose TZID is not an IANA name (Outlook's "W. Europe Standard
Time", "(UTC+01:00) Amsterdam, Berlin…") is cached process-wide under that TZID, and the first feed
that defines it wins for every later feed that uses the same TZID. Outlook's definitions of a given
name are identical, so real feeds read right; a feed that defines a well-known Windows name falsely
could shift other feeds' times using that name in the same process.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from enum import StrEnum
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import recurring_ical_events
import x_wr_timezone
from icalendar.prop import vDDDTypes, vRecur
from icalendar.timezone import tzp

MAX_FEED_BYTES = 5 * 1024 * 1024  # a feed or .ics file larger than this is refused before it is read
MAX_INSTANCES = 20_000  # meetings a window may hold; more is not a person's calendar
MAX_PER_DAY = 48  # a series that repeats more often than every half hour is not a meeting series
_DESCRIPTION_CHARS = 4_000  # enough to find a meeting link, not a whole pasted contract
_LINK_PROPERTIES = (
    "URL",
    "CONFERENCE",  # RFC 7986
    "X-GOOGLE-CONFERENCE",
    "X-MICROSOFT-SKYPETEAMSMEETINGURL",
    "X-MICROSOFT-ONLINEMEETINGCONFLINK",
    "X-MICROSOFT-ONLINEMEETINGEXTERNALLINK",
)
_ROOM_TYPES = frozenset({"ROOM", "RESOURCE"})
_NOT_PEOPLE = ("calendar.google.com",)  # Google's room, resource and group calendars (…@resource.calendar.google.com)
_CANCELLED_TITLES = ("canceled:", "cancelled:")  # Outlook keeps a cancelled meeting, free, under this prefix


class CalendarError(ValueError):
    """The bytes are not a calendar DealCoach can read. The message is plain words for the rep; the
    library's own error (never shown, it may quote the feed) is the ``__cause__``."""


class Skipped(StrEnum):
    """Why an event inside the window is not a meeting DealCoach follows."""

    ALL_DAY = "all-day"
    FREE = "free"  # TRANSP:TRANSPARENT, Outlook's BUSYSTATUS FREE
    PRIVATE = "private"  # CLASS:PRIVATE or CONFIDENTIAL
    DECLINED = "declined"  # the rep's own ATTENDEE line says PARTSTAT=DECLINED
    TOO_FREQUENT = "too frequent"  # a series repeating more than MAX_PER_DAY times a day


@dataclass(frozen=True)
class Window:
    """How much of a calendar is read around now: the last ``before`` and the next ``after``."""

    before: timedelta = timedelta(days=2)
    after: timedelta = timedelta(days=21)

    def around(self, now: datetime) -> tuple[datetime, datetime]:
        return now - self.before, now + self.after


@dataclass(frozen=True)
class Person:
    email: str  # lower case
    name: str = ""  # the CN parameter, "" when the feed gives none (or only repeats the address)

    @property
    def domain(self) -> str:
        return self.email.rpartition("@")[2]


@dataclass(frozen=True)
class Meeting:
    """One meeting (one instance of a series) as the feed says it is now.

    ``key`` is stable across reads: the UID for a single event, UID + "#" + the instance's original start
    (its RECURRENCE-ID, in UTC) for an instance of a series — so a moved instance keeps its key and a
    re-read never duplicates. ``uid`` names the series ("never this series")."""

    key: str
    uid: str
    title: str
    start: datetime  # aware, UTC
    end: datetime  # aware, UTC
    organizer: Person | None = None
    attendees: tuple[Person, ...] = ()  # people only: rooms and resources are in ``rooms``
    rooms: tuple[str, ...] = ()
    location: str = ""
    description: str = field(default="", repr=False)
    links: tuple[str, ...] = ()  # meeting links the feed gives outside the description
    recurring: bool = False

    @property
    def people(self) -> tuple[Person, ...]:
        """Organizer and attendees, each address once."""
        seen: dict[str, Person] = {}
        for person in ((self.organizer,) if self.organizer else ()) + self.attendees:
            known = seen.get(person.email)
            if known is None or (not known.name and person.name):
                seen[person.email] = person
        return tuple(seen.values())


@dataclass(frozen=True)
class CalendarRead:
    """What one read of a feed found inside its window."""

    meetings: tuple[Meeting, ...]  # in start order
    cancelled: frozenset[str]  # keys of meetings the feed cancelled (STATUS:CANCELLED, EXDATE, METHOD:CANCEL)
    skipped: Mapping[Skipped, int]
    window: tuple[datetime, datetime]
    name: str = ""  # X-WR-CALNAME

    def by_key(self) -> dict[str, Meeting]:
        return {meeting.key: meeting for meeting in self.meetings}


def read_calendar(
    data: bytes,
    *,
    now: datetime,
    zone: tzinfo | str,
    me: Iterable[str] = (),
    window: Window = Window(),  # noqa: B008 - frozen, so one shared default is safe
) -> CalendarRead:
    """The meetings of the iCalendar ``data`` inside ``window`` around ``now``.

    ``zone`` is the rep's time zone: floating times (no zone, no X-WR-TIMEZONE) are read in it. ``me`` are
    the rep's own addresses, so that invitations they declined are left out. Raises :class:`CalendarError`
    when ``data`` is not a calendar."""
    if len(data) > MAX_FEED_BYTES:
        raise CalendarError(f"The calendar is larger than {MAX_FEED_BYTES // (1024 * 1024)} MB.")
    rep_zone = ZoneInfo(zone) if isinstance(zone, str) else zone
    own = frozenset(address.strip().lower() for address in me)
    start, stop = window.around(now.astimezone(UTC))
    try:
        calendars = icalendar.Calendar.from_ical(data, multiple=True)
    except Exception as exc:  # icalendar raises ValueError, but garbage can reach others (KeyError, IndexError…)
        raise CalendarError("This is not a calendar I can read (an iCalendar .ics feed).") from exc
    if not calendars:
        raise CalendarError("This is not a calendar I can read (an iCalendar .ics feed).")

    meetings: list[Meeting] = []
    cancelled: set[str] = set()
    skipped: Counter[Skipped] = Counter()
    name = ""
    for calendar in calendars:
        name = name or str(calendar.get("X-WR-CALNAME", ""))
        _read_one(calendar, rep_zone, own, start, stop, meetings, cancelled, skipped)
    meetings.sort(key=lambda meeting: (meeting.start, meeting.key))
    return CalendarRead(
        meetings=tuple(meetings),
        cancelled=frozenset(cancelled - {meeting.key for meeting in meetings}),
        skipped=MappingProxyType(dict(skipped)),
        window=(start, stop),
        name=name,
    )


def _read_one(
    calendar: icalendar.Calendar,
    zone: tzinfo,
    me: frozenset[str],
    start: datetime,
    stop: datetime,
    meetings: list[Meeting],
    cancelled: set[str],
    skipped: Counter[Skipped],
) -> None:
    calendar = _in_zones(calendar, zone)
    series: set[str] = set()
    expected = 0
    for event in calendar.walk("VEVENT"):
        if "UID" not in event:  # against RFC 5545, but some generators do it; without one, no stable key
            event["UID"] = "nouid-" + hashlib.sha1(event.to_ical(), usedforsecurity=False).hexdigest()[:20]
        uid = str(event["UID"])
        if "RRULE" in event or "RDATE" in event or "RECURRENCE-ID" in event:
            series.add(uid)
        if "RRULE" in event:
            per_day = _per_day(event["RRULE"])
            if per_day > MAX_PER_DAY:
                event.pop("RRULE")
                skipped[Skipped.TOO_FREQUENT] += 1
            else:
                _skip_ahead(event, start)
                expected += int(per_day * ((stop - start).days + 1)) + 1
        else:
            expected += 1
        if expected > MAX_INSTANCES:
            raise CalendarError(f"This calendar holds more than {MAX_INSTANCES:,} events in three weeks.")
        cancelled.update(_removed_instances(event, uid, start, stop))
    method_cancel = str(calendar.get("METHOD", "")).upper() == "CANCEL"  # an Outlook cancellation (.ics file)
    try:
        components = recurring_ical_events.of(calendar, skip_bad_series=True).between(start, stop)
    except Exception as exc:  # a series the library cannot expand and does not count as "bad"
        raise CalendarError("This calendar has an event I cannot read.") from exc
    for component in components:
        _sort(component, series, me, method_cancel, meetings, cancelled, skipped)


def _sort(
    component: icalendar.Event,
    series: set[str],
    me: frozenset[str],
    method_cancel: bool,
    meetings: list[Meeting],
    cancelled: set[str],
    skipped: Counter[Skipped],
) -> None:
    """File one expanded instance under meetings, cancelled or skipped."""
    uid = str(component["UID"])
    key = _key(uid, component.get("RECURRENCE-ID"), uid in series)
    title = str(component.get("SUMMARY", "")).strip()
    if (
        method_cancel
        or str(component.get("STATUS", "")).upper() == "CANCELLED"
        or title.lower().startswith(_CANCELLED_TITLES)
    ):
        cancelled.add(key)
        return
    begin = component["DTSTART"].dt
    if not isinstance(begin, datetime) or _flag(component, "X-MICROSOFT-CDO-ALLDAYEVENT") == "TRUE":
        skipped[Skipped.ALL_DAY] += 1
        return
    if _flag(component, "TRANSP") == "TRANSPARENT" or _flag(component, "X-MICROSOFT-CDO-BUSYSTATUS") == "FREE":
        skipped[Skipped.FREE] += 1
        return
    if _flag(component, "CLASS") in ("PRIVATE", "CONFIDENTIAL"):
        skipped[Skipped.PRIVATE] += 1
        return
    attendees, rooms, declined = _attendees(component, me)
    if declined:
        skipped[Skipped.DECLINED] += 1
        return
    meetings.append(
        Meeting(
            key=key,
            uid=uid,
            title=title,
            start=_utc(begin),
            end=_end(component, begin),
            organizer=_person(component.get("ORGANIZER")),
            attendees=attendees,
            rooms=rooms,
            location=str(component.get("LOCATION", "")).strip(),
            description=str(component.get("DESCRIPTION", ""))[:_DESCRIPTION_CHARS],
            links=tuple(_links(component)),
            recurring=uid in series,
        )
    )


def _key(uid: str, recurrence_id: Any, in_series: bool) -> str:
    if not in_series or recurrence_id is None:
        return uid
    moment = recurrence_id.dt
    if isinstance(moment, datetime):
        return f"{uid}#{_utc(moment):%Y%m%dT%H%M%SZ}"
    return f"{uid}#{moment:%Y%m%d}"


def _removed_instances(event: icalendar.Event, uid: str, start: datetime, stop: datetime) -> Iterator[str]:
    """Keys of a series' instances deleted by EXDATE inside the window: cancelled, not merely absent."""
    if "RRULE" not in event and "RDATE" not in event:
        return
    values = event.get("EXDATE", [])
    for exdate in values if isinstance(values, list) else [values]:
        for item in getattr(exdate, "dts", ()):
            moment = item.dt
            if isinstance(moment, datetime) and moment.tzinfo is not None and start <= moment <= stop:
                yield f"{uid}#{_utc(moment):%Y%m%dT%H%M%SZ}"


def _in_zones(calendar: icalendar.Calendar, zone: tzinfo) -> icalendar.Calendar:
    """Every time of the calendar in a zone. With X-WR-TIMEZONE (Google), UTC and floating times are in
    the calendar's zone — the Windows names Outlook puts there too; without it, floating times are in the
    rep's zone. recurring-ical-events would apply X-WR-TIMEZONE again inside ``of()``; it is removed here
    so it is done once, and before :func:`_skip_ahead`, which must see the series in its own zone."""
    declared = calendar.pop("X-WR-TIMEZONE", None)
    calendar_zone = tzp.timezone(str(declared)) if declared is not None else None
    if calendar_zone is not None:
        return x_wr_timezone.to_standard(calendar, timezone=calendar_zone)
    return _FloatingIn(zone).walk(calendar)


class _FloatingIn(x_wr_timezone.CalendarWalker):
    """x-wr-timezone's walker, placing floating times (and only those) in one zone."""

    def __init__(self, zone: tzinfo):
        self.zone = zone

    def walk_value_datetime(self, dt: datetime) -> datetime:
        return dt.replace(tzinfo=self.zone) if dt.tzinfo is None else dt


_STEP = {
    "SECONDLY": timedelta(seconds=1),
    "MINUTELY": timedelta(minutes=1),
    "HOURLY": timedelta(hours=1),
    "DAILY": timedelta(days=1),
    "WEEKLY": timedelta(weeks=1),
}
_PER_DAY = {"SECONDLY": 86_400.0, "MINUTELY": 1_440.0, "HOURLY": 24.0, "DAILY": 1.0, "WEEKLY": 1 / 7}
_PER_DAY |= {"MONTHLY": 1 / 28, "YEARLY": 1 / 365}


def _per_day(rule: Any) -> float:
    """How many instances a day a rule can make at most (BY… parts multiply it). Several RRULE lines
    count as the sum of their rules."""
    if isinstance(rule, list):
        return sum(_per_day(one) for one in rule)
    if not isinstance(rule, vRecur):
        return 0.0
    freq = str(_first(rule, "FREQ")).upper()
    interval = max(int(_first(rule, "INTERVAL") or 1), 1)
    rate = _PER_DAY.get(freq, 1.0) / interval
    for part, expands in (("BYHOUR", "DAILY"), ("BYMINUTE", "HOURLY"), ("BYSECOND", "MINUTELY")):
        if part in rule and _PER_DAY.get(freq, 0) <= _PER_DAY[expands]:
            rate *= len(rule[part])
    if freq in ("WEEKLY", "MONTHLY", "YEARLY") and "BYDAY" in rule:
        rate *= len(rule["BYDAY"])
    return rate


def _skip_ahead(event: icalendar.Event, window_start: datetime) -> None:
    """Move a long-running series' DTSTART to shortly before the window.

    recurring-ical-events (through dateutil) walks a rule from its DTSTART on every read: a daily stand-up
    since 2015 costs ~8x a new one, a minutely rule from 1900 never ends. A DTSTART moved forward by
    whole multiples of the rule's step keeps every later instance exactly (wall-clock arithmetic, as the
    rule's own), so the keys stay the same. Rules with COUNT must be counted from the start and are left
    alone; MONTHLY and YEARLY rules have few instances per year and are left alone too."""
    rule = event.get("RRULE")
    if not isinstance(rule, vRecur) or "COUNT" in rule:
        return
    step = _STEP.get(str(_first(rule, "FREQ")).upper())
    begin = event.get("DTSTART")
    if step is None or begin is None or (isinstance(begin.dt, datetime) and begin.dt.tzinfo is None):
        return
    step *= max(int(_first(rule, "INTERVAL") or 1), 1)
    first = begin.dt
    if not isinstance(first, datetime):  # an all-day series: whole days only
        if step % timedelta(days=1):
            return
        first = datetime(first.year, first.month, first.day, tzinfo=UTC)
    # wall-clock times, as the rule counts; two steps and the meeting's length of margin before the window
    behind = window_start.astimezone(first.tzinfo).replace(tzinfo=None) - first.replace(tzinfo=None)
    steps = (behind - _length(event, begin.dt)) // step - 2
    if steps <= 0:
        return
    shift = step * steps
    for name in ("DTSTART", "DTEND"):
        value = event.get(name)
        if value is None:
            continue
        moment = value.dt
        if isinstance(moment, datetime):
            moment = (moment.replace(tzinfo=None) + shift).replace(tzinfo=moment.tzinfo)
        elif isinstance(moment, date):
            moment = moment + shift
        else:
            continue
        event[name] = vDDDTypes(moment)


def _length(event: icalendar.Event, begin: date) -> timedelta:
    end = event.get("DTEND")
    if end is not None and type(end.dt) is type(begin):
        return max(end.dt - begin, timedelta(0))
    duration = event.get("DURATION")
    if duration is not None and isinstance(duration.dt, timedelta):
        return max(duration.dt, timedelta(0))
    return timedelta(0)


def _end(component: icalendar.Event, begin: datetime) -> datetime:
    end = component.get("DTEND")
    if end is not None and isinstance(end.dt, datetime):
        return max(_utc(end.dt), _utc(begin))
    return _utc(begin) + _length(component, begin)


def _attendees(component: icalendar.Event, me: frozenset[str]) -> tuple[tuple[Person, ...], tuple[str, ...], bool]:
    people: list[Person] = []
    rooms: list[str] = []
    declined = False
    values = component.get("ATTENDEE", [])
    for value in values if isinstance(values, list) else [values]:
        params = getattr(value, "params", {})
        person = _person(value)
        if str(params.get("CUTYPE", "")).upper() in _ROOM_TYPES or person is None and params.get("CN"):
            rooms.append(str(params.get("CN", "")) or (person.email if person else ""))
            continue
        if person is None:
            continue
        if person.email in me and str(params.get("PARTSTAT", "")).upper() == "DECLINED":
            declined = True
        people.append(person)
    return tuple(people), tuple(room for room in rooms if room), declined


def _person(value: Any) -> Person | None:
    """A person from an ORGANIZER/ATTENDEE value; None for anything that is not a person's address."""
    if value is None:
        return None
    address = str(value).strip()
    if address.lower().startswith("mailto:"):
        address = address[len("mailto:") :]
    address = address.strip().lower()
    if "@" not in address or address.endswith(_NOT_PEOPLE):
        return None
    name = str(getattr(value, "params", {}).get("CN", "")).strip().strip('"')
    return Person(email=address, name="" if name.lower() == address else name)


def _links(component: icalendar.Event) -> Iterator[str]:
    for name in _LINK_PROPERTIES:
        values = component.get(name, [])
        for value in values if isinstance(values, list) else [values]:
            if str(value).strip():
                yield str(value).strip()


def _flag(component: icalendar.Event, name: str) -> str:
    return str(component.get(name, "")).strip().upper()


def _first(rule: vRecur, part: str) -> Any:
    values = rule.get(part)
    return values[0] if values else None


def _utc(moment: datetime | date) -> datetime:
    if not isinstance(moment, datetime):
        return datetime(moment.year, moment.month, moment.day, tzinfo=UTC)
    return moment.astimezone(UTC)
