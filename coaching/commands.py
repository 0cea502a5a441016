"""Commands: what a person asked the coach to do, in platform-neutral form.

Adapters build these from slash commands, messages, button clicks and forms (or the shared text
parser, ``coaching.parser``); the coach handles them. Times are exact, aware datetimes; due dates are
calendar days in the user's time zone. A command whose moment was read from words carries ``notes``: how it was
read (a corrected typo, a bare hour read as 15:00, a weekday moved to next week), for the confirmation. A command
that names a counterpart carries ``exact``: the name was typed in quotes, so it is taken as it is, never read as
a near miss of another name ("did you mean …?").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from coaching.ports import Address


@dataclass(frozen=True)
class Actor:
    """Who sent a command: their address plus what the platform told us about them."""

    address: Address
    display_name: str | None = None
    timezone: str | None = None  # IANA name from the platform's profile, if it gave one
    locale: str | None = None  # the platform's locale ("en-US", "de-DE"), if it gave one: day/month order
    admin: bool = False  # the platform says they manage this workspace (Slack: is_admin or is_owner)
    email: str | None = None  # the platform profile's email, if it gave one: its domain is one of the rep's own


@dataclass(frozen=True)
class Command:
    actor: Actor


@dataclass(frozen=True)
class Help(Command):
    topic: str | None = None


@dataclass(frozen=True)
class LogNegotiation(Command):
    counterpart: str
    when: datetime
    duration_minutes: int | None = None
    channel: str | None = None  # video | phone | email | in-person
    title: str | None = None
    repeat: bool | None = None  # frame: will we deal with them again?
    long_term_value: str | None = None  # frame: what could a long-term partnership bring?
    notes: tuple[str, ...] = field(default=(), compare=False)
    exact: bool = field(default=False, compare=False)


@dataclass(frozen=True)
class ListNegotiations(Command):
    pass


@dataclass(frozen=True)
class Prep(Command):
    negotiation: int


OUTCOMES = ("agreed", "partial", "no-deal", "postponed")  # what a negotiation can end in
ROLES = ("sales", "procurement")  # which lever-of-links questions a rep answers


@dataclass(frozen=True)
class RecordOutcome(Command):
    """``done <id> [notes]`` and the outcome form."""

    negotiation: int
    notes: str | None = None
    outcome: str | None = None  # one of OUTCOMES
    opened_with_connection: bool | None = None
    sentiment: int | None = None  # counterpart sentiment, 1..5
    hard_win: bool | None = None
    concessions_given: int | None = None
    concessions_received: int | None = None
    observations: str | None = None  # personal observations about the counterpart
    settled: tuple[str, ...] | None = None  # issues on the table that were settled
    walk: bool = False  # ``done``: ask the outcome questions one at a time
    anyway: bool = False  # it was logged for later, but it happened already (``done <id> anyway``)


# The outcome questions ``done`` asks, in order: the negotiation's field each one fills.
OUTCOME_STEPS = (
    "outcome",
    "opened_with_connection",
    "sentiment",
    "hard_win",
    "concessions_given",
    "concessions_received",
    "observations",
)


@dataclass(frozen=True)
class FollowUpSent(Command):
    negotiation: int
    note: str | None = None


@dataclass(frozen=True)
class Reschedule(Command):
    negotiation: int
    when: datetime
    notes: tuple[str, ...] = field(default=(), compare=False)


@dataclass(frozen=True)
class CancelNegotiation(Command):
    negotiation: int


@dataclass(frozen=True)
class Frame(Command):
    negotiation: int
    repeat: bool


@dataclass(frozen=True)
class AddCommitment(Command):
    negotiation: int
    side: str  # ours | theirs
    text: str
    due: date | None = None  # the due day in the person's zone
    due_at: datetime | None = None  # the due moment, when a time was given ("by tomorrow 5pm")
    notes: tuple[str, ...] = field(default=(), compare=False)
    due_words: str | None = None  # a form's typed due ("friday 5pm"), read by the coach in the person's zone


@dataclass(frozen=True)
class ListCommitments(Command):
    pass


@dataclass(frozen=True)
class ResolveCommitment(Command):
    commitment: int
    kept: bool


@dataclass(frozen=True)
class RecordCoffee(Command):
    counterpart: str
    when: datetime | None = None
    notes: tuple[str, ...] = field(default=(), compare=False)
    exact: bool = field(default=False, compare=False)


@dataclass(frozen=True)
class ChangeSettings(Command):
    """``settings`` with no options shows them; each given option changes one."""

    timezone: str | None = None
    lead_minutes: int | None = None
    quiet: str | None = None  # "HH:MM-HH:MM" or "off"
    nudges: bool | None = None
    role: str | None = None  # sales | procurement
    dates: str | None = None  # day/month order of numeric dates: dmy | mdy | ymd
    domains: tuple[str, ...] | None = None  # the rep's own email domains (colleagues); () clears them
    keywords: tuple[str, ...] | None = None  # title words of negotiations in a calendar; () means the defaults


@dataclass(frozen=True)
class MarkCounterpart(Command):
    """``counterpart <name> long-term on|off``: a relationship to keep warm."""

    counterpart: str
    long_term: bool
    exact: bool = field(default=False, compare=False)


@dataclass(frozen=True)
class ListCounterparts(Command):
    """``counterparts``: my directory."""


@dataclass(frozen=True)
class ShowCounterpart(Command):
    """``counterpart <name>``: what I know about them."""

    counterpart: str
    exact: bool = field(default=False, compare=False)


@dataclass(frozen=True)
class RenameCounterpart(Command):
    """``counterpart <old> rename <new>``."""

    counterpart: str
    new_name: str
    exact: bool = field(default=False, compare=False)


@dataclass(frozen=True)
class MergeCounterparts(Command):
    """``counterpart <a> merge <b>``: a's history moves to b, and a is gone."""

    counterpart: str
    into: str
    exact: bool = field(default=False, compare=False)
    into_exact: bool = field(default=False, compare=False)


@dataclass(frozen=True)
class ListDue(Command):
    """``due``: long-term counterparts I am due (or overdue) to contact."""


@dataclass(frozen=True)
class TeamAdd(Command):
    member: str  # the member's platform user id (console: their name)


@dataclass(frozen=True)
class TeamRemove(Command):
    member: str


@dataclass(frozen=True)
class TeamList(Command):
    """``team`` / ``team list``: my team (members and invitations) if I lead one, my lead, invitations to me."""


@dataclass(frozen=True)
class TeamAccept(Command):
    """``team accept [<lead>]``: join the team of a lead who invited me (the only one, when I name nobody)."""

    lead: str | None = None


@dataclass(frozen=True)
class TeamDecline(Command):
    lead: str | None = None


@dataclass(frozen=True)
class TeamLeave(Command):
    """``team leave``: off my lead's team; they no longer see my figures for the weeks from now on."""


@dataclass(frozen=True)
class ShowDigest(Command):
    week: str = "last"  # "last", "this", or an ISO week such as "2026-W48"


@dataclass(frozen=True)
class RecordTouchpoint(Command):
    """``call <counterpart> [note]`` / ``note <counterpart>: <text>``: staying in touch between deals."""

    counterpart: str
    kind: str  # call | note
    note: str | None = None
    exact: bool = field(default=False, compare=False)


@dataclass(frozen=True)
class SnoozeCounterpart(Command):
    counterpart: str
    days: int = 14
    exact: bool = field(default=False, compare=False)


@dataclass(frozen=True)
class AnswerLinks(Command):
    """The lever-of-links questions for the rep's role, answered yes/no in order."""

    counterpart: str
    answers: tuple[bool, ...]
    exact: bool = field(default=False, compare=False)


@dataclass(frozen=True)
class TableIssues(Command):
    negotiation: int
    issues: tuple[str, ...]


@dataclass(frozen=True)
class Handoff(Command):
    negotiation: int
    member: str  # the account owner's platform user id
    note: str | None = None


@dataclass(frozen=True)
class Acknowledge(Command):
    """``ok``: the "Got it" button; nothing to do but say so. (``skip`` too, once its question has lapsed.)"""


@dataclass(frozen=True)
class Greet(Command):
    """``hi``, ``thanks``: small talk, answered in kind with a hint."""

    thanks: bool = False


@dataclass(frozen=True)
class UnknownWord(Command):
    """A first word that is no command. ``suggestions``: command words it is close to ("did you mean …?");
    ``rest``: what followed it, to run with a suggestion."""

    word: str
    suggestions: tuple[str, ...] = ()
    rest: str = ""


@dataclass(frozen=True)
class RemindLater(Command):
    """``later negotiation|commitment|note|check-in <id> [<minutes>|tomorrow|week]``: snooze a nudge."""

    about: str  # negotiation | commitment | note | check-in (the repair nudges of a held negotiation)
    number: int
    minutes: int | None = 10  # None: tomorrow at 09:00 local (or ``at``)
    at: datetime | None = None  # a moment the person named ("friday 10am"); wins over ``minutes``
    notes: tuple[str, ...] = field(default=(), compare=False)


@dataclass(frozen=True)
class ExportMyData(Command):
    """``export``: everything stored about me, sent as a file by direct message."""


@dataclass(frozen=True)
class ForgetMe(Command):
    """``forget-me`` asks; ``forget-me confirm`` deletes everything stored about me."""

    confirmed: bool = False


@dataclass(frozen=True)
class ConfirmMoment(Command):
    """A moment read but not sure (a split that could go two ways, a far-off date, a two-edit typo): ask first.

    Nothing is stored. ``command`` is what would run on "yes"; ``text`` is the same command as words that read
    to exactly it with no question (a quoted name, an ISO moment with its offset), for a Yes button's value.
    """

    question: str
    proposed: datetime
    command: Command
    text: str
    typed: str = field(default="", compare=False)  # the line as the person typed it, to correct (Edit)


# -- calendar import (``coaching.calendars``) -----------------------------------------------------------


@dataclass(frozen=True)
class CalendarSubscribe(Command):
    """``calendar <url>``: follow the calendar at the secret iCal address (replacing any before it).
    ``fetched``: the feed as the coach fetched it just before the command's transaction (never inside it)."""

    url: str = field(repr=False)
    fetched: object | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class CalendarStatus(Command):
    """``calendar``: last sync, what was found, the next sync, the last error."""


@dataclass(frozen=True)
class CalendarSync(Command):
    """``calendar sync``: read the calendar now (a paused one too)."""

    fetched: object | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class CalendarOff(Command):
    """``calendar off``: unsubscribe; imported negotiations nobody touched go with it."""


@dataclass(frozen=True)
class CalendarIgnore(Command):
    """``calendar ignore <negotiation id> [series]``: not a negotiation (this one, or the whole series)."""

    negotiation: int
    series: bool = False


@dataclass(frozen=True)
class CounterpartDomain(Command):
    """``counterpart <name> domain <domain>``: meetings with people at ``domain`` are with this counterpart."""

    counterpart: str
    domain: str
    exact: bool = field(default=False, compare=False)
