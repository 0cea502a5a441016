"""What changed in a calendar since DealCoach last read it, by meeting key: the differences the sync
turns into new, rescheduled and cancelled negotiations."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from coaching.calendar.reading import CalendarRead, Meeting


class Known(Protocol):
    """A meeting imported before, as the caller stored it (a row, or a :class:`Meeting` of an earlier read)."""

    @property
    def key(self) -> str: ...
    @property
    def start(self) -> datetime: ...
    @property
    def end(self) -> datetime: ...


@dataclass(frozen=True)
class Changes:
    new: tuple[Meeting, ...] = ()  # keys not known before
    moved: tuple[Meeting, ...] = ()  # known keys whose start or end changed
    cancelled: tuple[str, ...] = ()  # known keys the feed now says are cancelled
    gone: tuple[str, ...] = ()  # known keys inside the window that the feed no longer has at all
    unchanged: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.new or self.moved or self.cancelled or self.gone)


def compare(known: Iterable[Known], read: CalendarRead) -> Changes:
    """``read`` against what was ``known``. A known meeting outside the new read's window (it has aged
    out of the last two days, or lies beyond the next three weeks) is neither gone nor cancelled: the
    read says nothing about it."""
    first, last = read.window
    before = {meeting.key: meeting for meeting in known}
    new: list[Meeting] = []
    moved: list[Meeting] = []
    unchanged: list[str] = []
    for meeting in read.meetings:
        old = before.get(meeting.key)
        if old is None:
            new.append(meeting)
        elif (old.start, old.end) != (meeting.start, meeting.end):
            moved.append(meeting)
        else:
            unchanged.append(meeting.key)
    live = {meeting.key for meeting in read.meetings}
    cancelled = tuple(sorted(key for key in before if key in read.cancelled))
    gone = tuple(
        sorted(
            key
            for key, old in before.items()
            if key not in live and key not in read.cancelled and old.end >= first and old.start <= last
        )
    )
    return Changes(tuple(new), tuple(moved), cancelled, gone, tuple(unchanged))
