"""One command language for every adapter: the words in PRODUCT.md, parsed into commands.

Slack's slash command text, a Teams message and a console line all come through ``parse_command``.
Times are read here, by the time language (``coaching.timelang``), in the user's time zone and day/month
order (``Context``), so commands carry exact moments. A moment that is not sure becomes a
:class:`~coaching.commands.ConfirmMoment`: the question, and the command to run on "yes" (as words too).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from zoneinfo import ZoneInfo

from rapidfuzz import fuzz, process

from coaching import commands as c
from coaching import timelang as tl
from coaching.digest import Week


@dataclass(frozen=True)
class Context:
    """What reading a user's words needs: their clock, time zone and day/month order."""

    now: datetime
    tz: ZoneInfo
    dates: str | None = None  # dmy | mdy | ymd as the person set it; None: from their zone

    @property
    def date_order(self) -> tl.DateOrder:
        for order in tl.DATE_ORDERS:
            if self.dates == order:
                return order
        return tl.default_date_order(self.tz)


@dataclass(frozen=True)
class Usage:
    usage: str
    summary: str


# What works today, in the order ``help`` shows it.
USAGE: dict[str, Usage] = {
    "log": Usage(
        "log <counterpart> <when> [for <duration>] [via video|phone|email|in-person]",
        "log a negotiation, e.g. `log Acme tomorrow 3pm for 45 minutes via phone`",
    ),
    "list": Usage("list", "your negotiations: upcoming, awaiting an outcome, recent"),
    "prep": Usage("prep <negotiation id>", "a prep brief: frame, issues, leverage, history, commitments"),
    "frame": Usage("frame <negotiation id> repeat|one-off", "will you deal with them again?"),
    "done": Usage(
        "done <negotiation id> [notes]", "the call is over: I ask how it went, one question at a time (`skip` stops)"
    ),
    "followup": Usage("followup <negotiation id> [note]", "you sent the personal follow-up"),
    "reschedule": Usage("reschedule <negotiation id> <when>", "move a negotiation; its reminders move too"),
    "cancel": Usage("cancel <negotiation id>", "call a negotiation off; its reminders stop"),
    "commit": Usage(
        "commit <negotiation id> ours|theirs <what> [by <when>]",
        "record a commitment, e.g. `commit 3 theirs send the signed NDA by friday`",
    ),
    "outcome": Usage(
        "outcome <negotiation id> [result agreed|partial|no-deal|postponed] [connection yes|no] [sentiment 1-5] "
        "[hard-win yes|no] [gave <n>] [got <n>] [settled <issue>, …] [noticed <what you noticed>]",
        "record how it went in one line, e.g. `outcome 3 connection yes sentiment 4 gave 1 got 2 settled price`",
    ),
    "issues": Usage(
        "issues <negotiation id> <agreement or relationship issue>, …",
        "what is on the table, e.g. `issues 3 price, service agreements, long-term goals`",
    ),
    "handoff": Usage("handoff <negotiation id> <@user> [note]", "send the account owner a heads-up note"),
    "commitments": Usage("commitments", "open commitments, ours and theirs"),
    "kept": Usage("kept <commitment id>", "a commitment was kept"),
    "missed": Usage("missed <commitment id>", "a commitment was missed"),
    "coffee": Usage("coffee <counterpart> [<when>]", "record an informal coffee chat (default: now)"),
    "settings": Usage(
        "settings [timezone <IANA tz>] [lead <minutes>] [quiet <HH:MM-HH:MM>|off] [nudges on|off] "
        "[role sales|procurement] [dates dmy|mdy|ymd] [domains <domain>, …|off] [keywords <word>, …|default]",
        "show or change your settings (domains: your colleagues' email domains; keywords: calendar titles of "
        "negotiations)",
    ),
    "call": Usage("call <counterpart> [: note]", "you called them (a touchpoint)"),
    "note": Usage("note <counterpart>[: what you noticed or sent]", "you sent a personal note (and what to remember)"),
    "snooze": Usage("snooze <counterpart> [<days>]", "leave them off the stay-in-touch list for a while [14]"),
    "links": Usage(
        "links <counterpart> yes|no yes|no yes|no yes|no", "answer the lever-of-links questions (`prep` lists them)"
    ),
    "counterparts": Usage("counterparts", "your counterparts: last contact, long-term, due, open commitments"),
    "counterpart": Usage(
        "counterpart <name> | counterpart <name> long-term on|off | counterpart <old> rename <new> | "
        "counterpart <a> merge <b> | counterpart <name> domain <domain>",
        "one counterpart's history, ledger, commitments and notes; mark it long-term; rename it; fold a into b; "
        "meetings with people at a domain are with them",
    ),
    "calendar": Usage(
        "calendar <secret iCal address> | calendar | calendar sync | calendar off | "
        "calendar ignore <negotiation id> [series]",
        "follow your calendar: its external meetings become negotiations (in a direct message only: the address "
        "is a secret); status; sync now; stop; not a negotiation (this one, or never this series)",
    ),
    "due": Usage("due", "long-term counterparts you are due to contact"),
    "team": Usage(
        "team add <@user> | team remove <@user> | team list | team | team accept <lead> | team decline <lead> | "
        "team leave",
        "team leads invite reps (the rep accepts); reps see their lead and invitations, accept, decline or leave",
    ),
    "digest": Usage("digest [last week | this week | 2026-W48]", "team leads: the weekly digest (default: last week)"),
    "later": Usage(
        "later negotiation|commitment|note|check-in <id> [<minutes>|tomorrow|week|<when>]",
        "remind me again later (snooze) [10 minutes]",
    ),
    "ok": Usage("ok", "got it"),
    "skip": Usage("skip", "stop the questions I'm asking (what you answered is kept)"),
    "export": Usage("export", "everything DealCoach stores about you, as a file"),
    "forget-me": Usage("forget-me [confirm]", "delete everything DealCoach stores about you"),
    "help": Usage("help [command]", "this list, or one command in detail"),
}
ALIASES = {
    "forgetme": "forget-me",
    "forget": "forget-me",
    "move": "reschedule",
    "follow-up": "followup",
    "?": "help",
    "ls": "list",
    "commitment": "commitments",
    "directory": "counterparts",
    "overdue": "due",
}
# Small talk: answered kindly, with a hint (not commands, so not in ``help``).
GREETINGS = frozenset({"hi", "hello", "hey", "hallo", "hiya", "yo", "morning", "moin", "servus", "good morning"})
THANKS = frozenset({"thanks", "thank you", "thx", "ty", "cheers", "thanks a lot", "great thanks", "danke"})
# A setting typed on its own (``timezone Berlin``, ``nudges off``) means ``settings …``.
SETTING_WORDS = frozenset({"timezone", "tz", "nudges", "quiet"})
CHANNELS = ("video", "phone", "email", "in-person")
_CHANNEL_ALIASES = {
    "in person": "in-person",
    "inperson": "in-person",
    "call": "phone",
    "mail": "email",
}
_SMART_QUOTES = str.maketrans({"“": '"', "”": '"', "„": '"', "‘": "'", "’": "'"})
_RANGE = re.compile(r"\s*(?:-|–|—|\bto\b|\buntil\b|\btill\b)\s*")


def quiet_hours(text: str) -> tuple[str, str] | None:
    """Quiet hours as people type them — ``19:00-08:00``, ``19:00 – 08:00``, ``7pm-8am``, ``19-8``,
    ``7pm to 8am`` — → ``("19:00", "08:00")``; ``off`` → None. Raises ValueError for anything else.
    One reading for ``settings quiet``, Slack's settings form and the install default."""
    compact = " ".join(text.strip().lower().split())
    if compact == "off":
        return None
    ends = [tl.clock_time(part) for part in _RANGE.split(compact)]
    if len(ends) != 2 or ends[0] is None or ends[1] is None:
        raise ValueError(f"not quiet hours: {text!r}")
    return f"{ends[0]:%H:%M}", f"{ends[1]:%H:%M}"


class CommandError(ValueError):
    """Input we cannot act on. ``usage`` is the line to show with the message."""

    def __init__(self, message: str, usage: str | None = None, *, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.usage = usage
        self.field = field  # the command's field it is about ("when", "due"), for a form to show it there


Parser = Callable[[c.Actor, str, str, Context], c.Command]


def _number(word: str | None, what: str, usage: str) -> int:
    if not word:
        raise CommandError(f"Which {what}? Give its number.", usage)
    match = re.fullmatch(r"#?(\d{1,9})", word.strip())
    if not match:
        raise CommandError(f"“{word}” is not a {what} number.", usage)
    return int(match.group(1))


_SHLEX_WHITESPACE = re.compile(r"[ \t\r\n]+")  # what shlex splits on (str.split would also split at U+00A0 etc.)


def _split(text: str, usage: str | None = None) -> list[str]:
    if not any(c in text for c in "'\"\\"):  # nothing for shlex to read: its pure-Python lexer costs ~5 µs a word
        return [word for word in _SHLEX_WHITESPACE.split(text) if word]
    try:
        return shlex.split(text, posix=True)
    except ValueError:
        raise CommandError("A quote is not closed.", usage) from None


def _sentence(message: str) -> str:
    message = message[:1].upper() + message[1:]
    return message if message.endswith((".", "?", "!")) else message + "."


def _read(text: str, ctx: Context, usage: str, *, future: bool = False) -> tl.Moment | tl.Ask:
    """``text`` as a moment, or the specific reason it is not one (a CommandError)."""
    reading = tl.read_when(text, now=ctx.now, tz=ctx.tz, dates=ctx.date_order, future=future)
    if isinstance(reading, tl.Problem):
        raise CommandError(_sentence(reading.message), usage)
    return reading


def _subject_and_when(rest: str, words: list[str], ctx: Context, usage: str) -> tuple[str, tl.Reading]:
    quoted = rest.lstrip().startswith(('"', "'"))
    split = tl.read_subject_when(words, now=ctx.now, tz=ctx.tz, dates=ctx.date_order, quoted_subject=quoted)
    reading = split.reading
    if isinstance(reading, tl.Problem) and reading.kind != "none":
        raise CommandError(_sentence(reading.message), usage)
    if isinstance(reading, tl.Problem) and not split.subject:
        raise CommandError("Who is it with? e.g. “Acme tomorrow 3pm” (quote a name that looks like a date).", usage)
    return split.subject, reading


def quoted(name: str) -> str:
    """``name`` in quotes, as the parsers read it back exactly (no "did you mean …?", no time read into it)."""
    if '"' not in name and "\\" not in name:
        return f'"{name}"'
    return shlex.quote(name)


def _is_quoted(rest: str) -> bool:
    return rest.lstrip()[:1] in ("'", '"')


def moment_words(moment: datetime, tz: ZoneInfo) -> str:
    """A moment as words that read back to exactly it, with no question: ISO with the offset
    (``2026-12-04T11:00+01:00``), for buttons."""
    return moment.astimezone(tz).isoformat(timespec="minutes")


def _iso(moment: datetime, ctx: Context) -> str:
    return moment_words(moment, ctx.tz)


def command_text(command: c.Command, ctx: Context) -> str:
    """Words that read back to exactly ``command`` with no question: a quoted name and an ISO moment with its
    offset (what a Yes button runs). For the commands that carry a moment read from words."""
    if isinstance(command, c.LogNegotiation):
        text = f"log {quoted(command.counterpart)} {_iso(command.when, ctx)}"
        if command.duration_minutes:
            text += f" for {command.duration_minutes} minutes"
        return text + (f" via {command.channel}" if command.channel else "")
    if isinstance(command, c.Reschedule):
        return f"reschedule {command.negotiation} {_iso(command.when, ctx)}"
    if isinstance(command, c.AddCommitment):
        due = _iso(command.due_at, ctx) if command.due_at else (command.due.isoformat() if command.due else "")
        return f"commit {command.negotiation} {command.side} {command.text}" + (f" by {due}" if due else "")
    if isinstance(command, c.RecordCoffee):
        return f"coffee {quoted(command.counterpart)}" + (f" {_iso(command.when, ctx)}" if command.when else "")
    if isinstance(command, c.RemindLater) and command.at is not None:
        return f"later {command.about} {command.number} {_iso(command.at, ctx)}"
    raise ValueError(f"no words for {type(command).__name__}")


def _asked(
    reading: tl.Moment | tl.Ask, build: Callable[[tl.Moment], c.Command], ctx: Context, subject: str | None = None
) -> c.Command:
    """The command for a sure moment; for one that is not sure, the question with that command to confirm."""
    if isinstance(reading, tl.Moment):
        return build(reading)
    command = build(reading.proposed)
    return c.ConfirmMoment(
        command.actor,
        question=reading.question(subject),
        proposed=reading.proposed.at,
        command=command,
        text=command_text(command, ctx),
    )


def notes_of(moment: tl.Moment) -> tuple[str, ...]:
    """How a moment was read, as a command carries it (``notes``) for the confirmation."""
    return tuple(note.text for note in moment.notes)


def _log(actor: c.Actor, rest: str, usage: str, ctx: Context) -> c.Command:
    words = _split(rest, usage)
    if not words:
        raise CommandError("Who is the negotiation with, and when?", usage)
    channel = duration = None
    lowered = [w.lower() for w in words]
    # Options come last, in either order: "... for 90 minutes via phone".
    if "via" in lowered[1:]:
        at = len(lowered) - 1 - lowered[::-1].index("via")
        tail = lowered[at + 1 :]
        cut = tail.index("for") if "for" in tail else len(tail)
        value = " ".join(tail[:cut])
        value = _CHANNEL_ALIASES.get(value, value)
        if value not in CHANNELS:
            raise CommandError(f"“{value or '?'}” is not a channel: use video, phone, email or in-person.", usage)
        channel = value
        words = words[:at] + words[at + 1 + cut :]
        lowered = [w.lower() for w in words]
    if "for" in lowered[1:]:
        at = len(lowered) - 1 - lowered[::-1].index("for")
        try:
            duration = tl.parse_duration(" ".join(words[at + 1 :]))
        except tl.DurationError as error:
            raise CommandError(_sentence(str(error)), usage) from None
        words = words[:at]
    if len(words) == 1:
        raise CommandError(f"When is the negotiation with {words[0]}? e.g. `log {words[0]} tomorrow 3pm`", usage)
    subject, reading = _subject_and_when(rest, words, ctx, usage)
    if isinstance(reading, tl.Problem):
        raise CommandError(f"When is the negotiation with {subject}? e.g. `log {subject} tomorrow 3pm`", usage)
    if len(subject) > 200:
        raise CommandError("That counterpart name is too long (200 characters at most).", usage)

    def build(moment: tl.Moment) -> c.Command:
        return c.LogNegotiation(
            actor,
            counterpart=subject,
            when=moment.at,
            duration_minutes=duration,
            channel=channel,
            notes=notes_of(moment),
            exact=_is_quoted(rest),
        )

    return _asked(reading, build, ctx, subject)


_BY = re.compile(r"\s+by\s+", flags=re.IGNORECASE)


def _commit(actor: c.Actor, rest: str, usage: str, ctx: Context) -> c.Command:
    parts = rest.split(None, 2)
    number = _number(parts[0] if parts else None, "negotiation", usage)
    if len(parts) < 2 or parts[1].lower() not in ("ours", "theirs", "our", "their", "we", "they"):
        raise CommandError("Say whose commitment it is: ours or theirs.", usage)
    side = "ours" if parts[1].lower() in ("ours", "our", "we") else "theirs"
    what = parts[2].strip() if len(parts) > 2 else ""
    reading: tl.Reading | None = None
    last_by = list(_BY.finditer(what))[-1:]  # "send the proposal by email by friday": the last "by" is the due
    for match in last_by:
        tail = what[match.end() :]
        reading = tl.read_when(tail, now=ctx.now, tz=ctx.tz, dates=ctx.date_order)
        if isinstance(reading, tl.Problem) and (reading.kind == "invalid" or any(ch.isdigit() for ch in tail)):
            detail = reading.message.partition(": ")[2] if reading.kind == "invalid" else ""
            raise CommandError(f"I couldn't read “{tail}” as a due date" + (f": {detail}." if detail else "."), usage)
        if isinstance(reading, tl.Problem):
            reading = None  # "send the proposal by email": here "by" is part of what was promised
        else:
            what = what[: match.start()].strip()
    if not what:
        raise CommandError("What was promised?", usage)
    if len(what) > 1000:
        raise CommandError("That is too long for one commitment (1,000 characters at most).", usage)
    if reading is None:
        return c.AddCommitment(actor, negotiation=number, side=side, text=what)

    def build(moment: tl.Moment) -> c.Command:
        return c.AddCommitment(
            actor,
            negotiation=number,
            side=side,
            text=what,
            due=moment.at.astimezone(ctx.tz).date(),
            due_at=moment.at if moment.timed else None,
            notes=notes_of(moment),
        )

    assert not isinstance(reading, tl.Problem)
    return _asked(reading, build, ctx)


def read_due(text: str, ctx: Context) -> tl.Moment:
    """A due date typed into a form field (``friday``, ``tomorrow 5pm``, ``2026-12-11``), read as ``by`` reads
    it; a form cannot ask a question, so a reading that is not sure is an error saying how to be sure."""
    reading = tl.read_when(text, now=ctx.now, tz=ctx.tz, dates=ctx.date_order)
    if isinstance(reading, tl.Problem):
        detail = reading.message.partition(": ")[2] if reading.kind == "invalid" else ""
        message = f"I couldn't read “{text}” as a due date" + (f": {detail}." if detail else ".")
        raise CommandError(message, field="due")
    if isinstance(reading, tl.Ask):
        day = reading.proposed.at.astimezone(ctx.tz).date().isoformat()
        raise CommandError(f"I read “{text}” as {reading.proposed.echo}: to be sure, type {day}.", field="due")
    return reading


_SETTINGS = ("timezone", "tz", "lead", "quiet", "nudges", "role", "dates", "domains", "keywords")
# values that may be typed with spaces: "7pm - 8am", "New York", "acme.com, acme.de", "pricing, renewal"
_SPACED = ("quiet", "timezone", "tz", "domains", "keywords")
MAX_LISTED = 30  # domains or keywords a person may set
_DATE_ORDER_WORDS = {"day-first": "dmy", "month-first": "mdy", "year-first": "ymd"}


def _settings(actor: c.Actor, rest: str, usage: str, ctx: Context) -> c.Command:
    words = _split(rest, usage)
    changes: dict[str, object] = {}
    i = 0
    while i < len(words):
        key = words[i].lower()
        i += 1
        if key not in _SETTINGS:
            raise CommandError(f"There is no setting “{words[i - 1]}”.", usage)
        end = i
        # quiet hours may be typed with spaces ("7pm - 8am"); every other value is one word
        while end < len(words) and words[end].lower() not in _SETTINGS and (key in _SPACED or end == i):
            end += 1
        value = " ".join(words[i:end])
        i = end
        if not value:
            raise CommandError(f"`settings {key}` needs a value.", usage)
        lowered = value.lower()
        if key in ("timezone", "tz"):
            changes["timezone"] = value
        elif key == "lead":
            if not re.fullmatch(r"\d{1,4}", value) or int(value) > 1440:
                raise CommandError("The lead time is whole minutes from 0 to 1440.", usage)
            changes["lead_minutes"] = int(value)
        elif key == "quiet":
            try:
                hours = quiet_hours(lowered)
            except ValueError:
                raise CommandError("Quiet hours look like `19:00-08:00` or `7pm-8am` (or `off`).", usage) from None
            changes["quiet"] = "-".join(hours) if hours else "off"
        elif key == "nudges":
            if lowered not in ("on", "off"):
                raise CommandError("Use `settings nudges on` or `settings nudges off`.", usage)
            changes["nudges"] = lowered == "on"
        elif key == "domains":
            changes["domains"] = _domains(value, usage)
        elif key == "keywords":
            changes["keywords"] = _keywords(value, usage)
        elif key == "role":
            if lowered not in ("sales", "procurement"):
                raise CommandError("Your role is sales or procurement.", usage)
            changes["role"] = lowered
        else:
            order = _DATE_ORDER_WORDS.get(lowered, lowered)
            if order not in tl.DATE_ORDERS:
                raise CommandError(
                    "Dates are `dmy` (12/11 is 12 November), `mdy` (12/11 is 11 December) or `ymd`.", usage
                )
            changes["dates"] = order
    return c.ChangeSettings(actor, **changes)  # type: ignore[arg-type]


def _listed(value: str) -> list[str]:
    """``a, b c`` → [a, b c] when commas are used, else one item per word."""
    parts = value.split(",") if "," in value else value.split()
    return [" ".join(part.split()) for part in parts if part.strip()]


def _domains(value: str, usage: str) -> tuple[str, ...]:
    if value.lower() in ("off", "none", "clear"):
        return ()
    domains = []
    for item in _listed(value.replace(",", " ")):
        domain = domain_name(item)
        if domain is None:
            raise CommandError(f"“{item}” is not an email domain, e.g. `acme.com`.", usage)
        domains.append(domain)
    if len(domains) > MAX_LISTED:
        raise CommandError(f"At most {MAX_LISTED} domains.", usage)
    return tuple(dict.fromkeys(domains))


def _keywords(value: str, usage: str) -> tuple[str, ...]:
    if value.lower() in ("default", "defaults", "reset", "off"):
        return ()
    words = _listed(value)
    if len(words) > MAX_LISTED or any(len(word) > 40 for word in words):
        raise CommandError(f"At most {MAX_LISTED} keywords, each up to 40 characters.", usage)
    return tuple(dict.fromkeys(words))


def _calendar(actor: c.Actor, rest: str, usage: str, _ctx: Context) -> c.Command:
    """The address is not checked here: a parse error would be shown where it was typed, and in a shared
    chat the coach refuses the command before reading it (``coaching.calendars``)."""
    words = rest.split()
    first = words[0].lower() if words else ""
    if not words or (first == "status" and len(words) == 1):
        return c.CalendarStatus(actor)
    if first in ("sync", "refresh") and len(words) == 1:
        return c.CalendarSync(actor)
    if first in ("off", "stop", "unsubscribe", "disconnect") and len(words) == 1:
        return c.CalendarOff(actor)
    if first in ("ignore", "skip"):
        if len(words) > 3 or (len(words) == 3 and words[2].lower() != "series"):
            raise CommandError("Use `calendar ignore <negotiation id>` or `calendar ignore <id> series`.", usage)
        number = _number(words[1] if len(words) > 1 else None, "negotiation", usage)
        return c.CalendarIgnore(actor, negotiation=number, series=len(words) == 3)
    return c.CalendarSubscribe(actor, url=rest.strip())


def _with_number(what: str, build: Callable[[c.Actor, int, str, Context], c.Command]) -> Parser:
    def parse(actor: c.Actor, rest: str, usage: str, ctx: Context) -> c.Command:
        head, _, tail = rest.strip().partition(" ")
        return build(actor, _number(head, what, usage), tail.strip(), ctx)

    return parse


def _no_args(build: Callable[[c.Actor], c.Command]) -> Parser:
    return lambda actor, _rest, _usage, _ctx: build(actor)


def _frame(actor: c.Actor, number: int, tail: str, _ctx: Context) -> c.Command:
    answer = tail.lower().replace("_", "-")
    if answer in ("repeat", "again", "yes", "long-term", "relationship"):
        return c.Frame(actor, negotiation=number, repeat=True)
    if answer in ("one-off", "oneoff", "once", "no"):
        return c.Frame(actor, negotiation=number, repeat=False)
    raise CommandError("Will you deal with them again? Answer `repeat` or `one-off`.", USAGE["frame"].usage)


def _reschedule(actor: c.Actor, number: int, tail: str, ctx: Context) -> c.Command:
    usage = USAGE["reschedule"].usage
    if not tail:
        raise CommandError("To when? e.g. `tomorrow 4pm`", usage)

    def build(moment: tl.Moment) -> c.Command:
        return c.Reschedule(actor, negotiation=number, when=moment.at, notes=notes_of(moment))

    return _asked(_read(tail, ctx, usage), build, ctx)


def _coffee(actor: c.Actor, rest: str, usage: str, ctx: Context) -> c.Command:
    words = _split(rest, usage)
    if not words:
        raise CommandError("Who did you have coffee with?", usage)
    exact = _is_quoted(rest)
    if len(words) == 1:
        return c.RecordCoffee(actor, counterpart=words[0], exact=exact)
    subject, reading = _subject_and_when(rest, words, ctx, usage)
    if isinstance(reading, tl.Problem):  # all name, no time: now
        return c.RecordCoffee(actor, counterpart=" ".join(words), exact=exact)
    if isinstance(reading, tl.Moment) and subject == " ".join(words[:-1]) and words[-1][:1].isupper():
        # "coffee Acme Sun": with the time optional, a capitalised last word may be the name's
        reading = tl.Ask(reading, f"“{words[-1]}” could be part of the name.", "split")

    def build(moment: tl.Moment) -> c.Command:
        return c.RecordCoffee(actor, counterpart=subject, when=moment.at, notes=notes_of(moment), exact=exact)

    return _asked(reading, build, ctx, subject)


_MENTION = re.compile(r"<@([A-Za-z0-9._:-]+)(?:\|[^>]*)?>")


def _member(text: str, usage: str) -> str:
    """A person: a Slack/Teams mention ``<@U123>`` (``<@U123|anna>``), ``@name`` or a plain console name."""
    text = text.strip()
    match = _MENTION.fullmatch(text)
    if match:
        return match.group(1)
    if not text or " " in text.strip("@"):
        raise CommandError("Name one person, e.g. `team add @anna`.", usage)
    return text.lstrip("@")


def _lead(text: str) -> str | None:
    """The lead a rep answers: a mention's user id, or a name as typed (``@lena``, ``Lena Meyer``); None if
    nobody is named (the only invitation is meant)."""
    text = " ".join(text.split())
    match = _MENTION.fullmatch(text)
    if match:
        return match.group(1)
    return text.lstrip("@").strip("\"'") or None


def _team(actor: c.Actor, rest: str, usage: str, ctx: Context) -> c.Command:
    action, _, who = rest.strip().partition(" ")
    action = action.lower()
    if action in ("list", "ls", ""):
        return c.TeamList(actor)
    if action in ("add", "invite"):
        return c.TeamAdd(actor, member=_member(who, usage))
    if action in ("remove", "rm", "delete"):
        return c.TeamRemove(actor, member=_member(who, usage))
    if action in ("accept", "join"):
        return c.TeamAccept(actor, lead=_lead(who))
    if action in ("decline", "reject"):
        return c.TeamDecline(actor, lead=_lead(who))
    if action == "leave":
        if who.strip():
            raise CommandError("`team leave` takes no name: it takes you off your lead's team.", usage)
        return c.TeamLeave(actor)
    raise CommandError(f"`team {action}` is not something I can do.", usage)


def _digest(actor: c.Actor, rest: str, usage: str, ctx: Context) -> c.Command:
    spec = " ".join(rest.lower().split())
    if spec in ("", "last", "last week", "previous week"):
        return c.ShowDigest(actor, week="last")
    if spec in ("this", "this week", "current week", "now"):
        return c.ShowDigest(actor, week="this")
    if re.fullmatch(r"\d{4}-?w\d{1,2}|w\d{1,2} \d{4}", spec):
        try:
            week = Week.asked(spec, now=ctx.now, tz=ctx.tz)
        except ValueError as problem:
            raise CommandError(_sentence(str(problem)), usage) from None
        return c.ShowDigest(actor, week=week.label)
    raise CommandError(f"“{rest}” is not a week: try `digest`, `digest this week` or `digest 2026-W48`.", usage)


def _name_and_rest(text: str, usage: str) -> tuple[str, bool, str]:
    """``"Acme Corp" rename Acme`` → ("Acme Corp", True, "rename Acme"); an unquoted name runs to the end."""
    text = text.strip()
    if _is_quoted(text):
        quote = text[0]
        end = text.find(quote, 1)
        if end < 0:
            raise CommandError("A quote is not closed.", usage)
        return " ".join(text[1:end].split()), True, text[end + 1 :].strip()
    return " ".join(text.split()), False, ""


_COUNTERPART_ACTION = re.compile(
    r"(?P<name>.+?)\s+(?:(?P<longterm>long-?term)\s+(?P<flag>on|off|yes|no)|(?P<verb>rename|merge)\s+(?P<other>.+)"
    r"|domain\s+(?P<domain>\S+))",
    flags=re.IGNORECASE | re.DOTALL,
)
_DOMAIN = re.compile(r"(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,62}")


def domain_name(text: str) -> str | None:
    """An email domain as people type it (``Globex.com``, ``@globex.com``, ``bob@globex.com``) → ``globex.com``;
    None for anything that is not one."""
    name = text.strip().strip(",;").rpartition("@")[2].strip(".").lower()
    return name if _DOMAIN.fullmatch(name) else None


def _counterpart(actor: c.Actor, rest: str, usage: str, ctx: Context) -> c.Command:
    rest = rest.strip()
    if not rest:
        raise CommandError("Which counterpart? `counterparts` lists yours.", usage)
    name, exact, tail = _name_and_rest(rest, usage)
    if not exact:
        match = _COUNTERPART_ACTION.fullmatch(rest)
        name, tail = (" ".join(match.group("name").split()), rest[match.end("name") :].strip()) if match else (name, "")
    match = _COUNTERPART_ACTION.fullmatch(f"x {tail}") if tail else None
    if tail and match is None:
        raise CommandError(f"I can't read “{tail}” here.", usage)
    if not name:
        raise CommandError("Which counterpart? `counterparts` lists yours.", usage)
    if match is None:
        return c.ShowCounterpart(actor, counterpart=name, exact=exact)
    if match.group("domain"):
        domain = domain_name(match.group("domain"))
        if domain is None:
            raise CommandError(f"“{match.group('domain')}” is not an email domain, e.g. `globex.com`.", usage)
        return c.CounterpartDomain(actor, counterpart=name, domain=domain, exact=exact)
    if match.group("longterm"):
        long_term = match.group("flag").lower() in ("on", "yes")
        return c.MarkCounterpart(actor, counterpart=name, long_term=long_term, exact=exact)
    other, other_exact, left = _name_and_rest(match.group("other"), usage)
    if left or not other:
        raise CommandError(f"Quote names with spaces around the {match.group('verb').lower()}.", usage)
    if len(other) > 200:
        raise CommandError("That counterpart name is too long (200 characters at most).", usage)
    if match.group("verb").lower() == "rename":
        return c.RenameCounterpart(actor, counterpart=name, new_name=other, exact=exact)
    return c.MergeCounterparts(actor, counterpart=name, into=other, exact=exact, into_exact=other_exact)


_YES = {"yes": True, "y": True, "true": True, "on": True, "no": False, "n": False, "false": False, "off": False}


_OUTCOME_HINTS = {  # a known word with a value it doesn't take: say what it takes
    "result": "The result is agreed, partial, no-deal or postponed.",
    "connection": "Did you open with personal connection? `connection yes` or `connection no`.",
    "hard-win": "Was it a hard win? `hard-win yes` or `hard-win no`.",
    "hardwin": "Was it a hard win? `hard-win yes` or `hard-win no`.",
    "sentiment": "Their sentiment is a number from 1 (upset) to 5 (happy).",
    "gave": "Concessions are counted: `gave 2`, from 0 to 100.",
    "got": "Concessions are counted: `got 1`, from 0 to 100.",
}


def _anyway(tail: str) -> tuple[bool, str]:
    """``anyway`` first: it was logged for later but happened already."""
    head, _, rest = tail.strip().partition(" ")
    return (True, rest.strip()) if head.lower() == "anyway" else (False, tail.strip())


def _done(actor: c.Actor, number: int, tail: str, _ctx: Context) -> c.Command:
    anyway, notes = _anyway(tail)
    return c.RecordOutcome(actor, negotiation=number, notes=notes or None, walk=True, anyway=anyway)


def _outcome(actor: c.Actor, number: int, tail: str, _ctx: Context) -> c.Command:
    usage = USAGE["outcome"].usage
    fields: dict[str, object] = {}
    fields["anyway"], tail = _anyway(tail)
    noticed = re.search(r"\bnoticed\s+(?P<text>.+)$", tail, flags=re.IGNORECASE | re.DOTALL)
    if noticed:
        fields["observations"] = noticed.group("text").strip()[:4000]
        tail = tail[: noticed.start()]
    settled = re.search(r"\bsettled\s+(?P<list>.+)$", tail, flags=re.IGNORECASE)
    if settled:
        fields["settled"] = tuple(x.strip() for x in settled.group("list").split(",") if x.strip())
        tail = tail[: settled.start()]
    words = tail.lower().split()
    if len(words) % 2:
        raise CommandError(f"`{words[-1]}` needs a value.", usage)
    for key, value in zip(words[::2], words[1::2], strict=True):
        if key == "result" and value in c.OUTCOMES:
            fields["outcome"] = value
        elif key == "connection" and value in _YES:
            fields["opened_with_connection"] = _YES[value]
        elif key in ("hard-win", "hardwin") and value in _YES:
            fields["hard_win"] = _YES[value]
        elif key == "sentiment" and value in ("1", "2", "3", "4", "5"):
            fields["sentiment"] = int(value)
        elif key in ("gave", "got") and value.isdigit() and int(value) <= 100:
            fields["concessions_given" if key == "gave" else "concessions_received"] = int(value)
        else:
            raise CommandError(_OUTCOME_HINTS.get(key, f"I can't read “{key} {value}” here."), usage)
    if len(fields) == 1:  # only ``anyway``
        raise CommandError("What happened? e.g. `outcome 3 connection yes sentiment 4`", usage)
    return c.RecordOutcome(actor, negotiation=number, **fields)  # type: ignore[arg-type]


def _issues(actor: c.Actor, number: int, tail: str, _ctx: Context) -> c.Command:
    issues = tuple(x.strip() for x in re.split(r"[,;]", tail) if x.strip())
    if not issues:
        raise CommandError("Which issues? e.g. `issues 3 price, long-term goals`", USAGE["issues"].usage)
    return c.TableIssues(actor, negotiation=number, issues=issues[:20])


def _handoff(actor: c.Actor, number: int, tail: str, _ctx: Context) -> c.Command:
    usage = USAGE["handoff"].usage
    who, _, note = tail.partition(" ")
    return c.Handoff(actor, negotiation=number, member=_member(who, usage), note=note.strip() or None)


def _subject_and_note(rest: str, usage: str) -> tuple[str, str | None]:
    """``Acme Corp: loved the plant tour`` or ``"Acme Corp" loved the plant tour`` or just ``Acme``."""
    rest = rest.translate(_SMART_QUOTES).strip()
    if not rest:
        raise CommandError("Who was it with?", usage)
    if rest[0] in "\"'":
        quote = rest[0]
        end = rest.find(quote, 1)
        if end < 0:
            raise CommandError("A quote is not closed.", usage)
        # the name is what the quotes hold ("Acme Corp": …), never the colon after them
        return " ".join(rest[1:end].split()), rest[end + 1 :].strip(" :") or None
    name, colon, note = rest.partition(":")
    if colon:
        return name.strip(), note.strip() or None
    return rest, None


def _touch(kind: str) -> Parser:
    def parse(actor: c.Actor, rest: str, usage: str, _ctx: Context) -> c.Command:
        name, note = _subject_and_note(rest, usage)  # the note's text is optional: "I sent them a note"
        return c.RecordTouchpoint(actor, counterpart=name, kind=kind, note=note, exact=_is_quoted(rest))

    return parse


def _snooze(actor: c.Actor, rest: str, usage: str, _ctx: Context) -> c.Command:
    words = _split(rest, usage)
    days = 14
    if len(words) > 1 and words[-1].isdigit():
        days = int(words.pop())
        if not 1 <= days <= 365:
            raise CommandError("Snooze for 1 to 365 days.", usage)
    if not words:
        raise CommandError("Which counterpart?", usage)
    return c.SnoozeCounterpart(actor, counterpart=" ".join(words), days=days, exact=_is_quoted(rest))


def _links(actor: c.Actor, rest: str, usage: str, _ctx: Context) -> c.Command:
    words = _split(rest, usage)
    answers: list[bool] = []
    while words and words[-1].lower() in _YES:
        answers.insert(0, _YES[words.pop().lower()])
    if not words or not answers:
        raise CommandError("Name the counterpart, then yes or no for each question.", usage)
    return c.AnswerLinks(actor, counterpart=" ".join(words), answers=tuple(answers), exact=_is_quoted(rest))


_SNOOZE = re.compile(r"(?P<m>\d{1,4}) ?(?:m|min|mins|minutes?)?|(?P<h>\d{1,2}) ?(?:h|hrs?|hours?)")


def _later(actor: c.Actor, rest: str, usage: str, ctx: Context) -> c.Command:
    words = rest.split()
    about = words[0].lower() if words else ""
    if len(words) < 2 or about not in ("negotiation", "commitment", "note", "check-in"):
        raise CommandError("Snooze what? e.g. `later commitment 2 tomorrow`", usage)
    number = _number(words[1], "commitment" if about == "commitment" else "negotiation", usage)
    when = " ".join(words[2:]).lower() or "10"
    if when == "tomorrow":  # the buttons' words: tomorrow at the install's reminder hour
        return c.RemindLater(actor, about=about, number=number, minutes=None)
    if when in ("week", "a week", "1 week"):
        return c.RemindLater(actor, about=about, number=number, minutes=7 * 24 * 60)
    match = _SNOOZE.fullmatch(when)
    if match:  # a bare number is minutes ("later note 2 30")
        minutes = int(match["m"]) if match["m"] else int(match["h"]) * 60
        if not 1 <= minutes <= 1440:
            raise CommandError("Snooze for 1 minute to 24 hours, until tomorrow, for a week, or to a time.", usage)
        return c.RemindLater(actor, about=about, number=number, minutes=minutes)
    reading = tl.read_when(words[2:], now=ctx.now, tz=ctx.tz, dates=ctx.date_order, future=True)
    if isinstance(reading, tl.Problem):
        if reading.kind == "unreadable":
            raise CommandError(
                f"“{' '.join(words[2:])}” is not a delay: use minutes (`30`), `tomorrow`, `week` or a time "
                "(`friday 10am`).",
                usage,
            )
        raise CommandError(_sentence(reading.message), usage)

    def build(moment: tl.Moment) -> c.Command:
        return c.RemindLater(actor, about=about, number=number, minutes=None, at=moment.at, notes=notes_of(moment))

    return _asked(reading, build, ctx)


def _forget(actor: c.Actor, rest: str, usage: str) -> c.Command:
    if rest.strip().lower() not in ("", "confirm"):
        raise CommandError("Type `forget-me` to see what it does, then `forget-me confirm`.", usage)
    return c.ForgetMe(actor, confirmed=rest.strip().lower() == "confirm")


PARSERS: dict[str, Parser] = {
    "help": lambda actor, rest, _usage, _ctx: c.Help(actor, topic=rest.strip().lower() or None),
    "log": _log,
    "list": _no_args(lambda actor: c.ListNegotiations(actor)),
    "prep": _with_number("negotiation", lambda a, n, _t, _c: c.Prep(a, negotiation=n)),
    "frame": _with_number("negotiation", _frame),
    "done": _with_number("negotiation", _done),
    "followup": _with_number("negotiation", lambda a, n, t, _c: c.FollowUpSent(a, negotiation=n, note=t or None)),
    "reschedule": _with_number("negotiation", _reschedule),
    "cancel": _with_number("negotiation", lambda a, n, _t, _c: c.CancelNegotiation(a, negotiation=n)),
    "commit": _commit,
    "outcome": _with_number("negotiation", _outcome),
    "issues": _with_number("negotiation", _issues),
    "handoff": _with_number("negotiation", _handoff),
    "commitments": _no_args(lambda actor: c.ListCommitments(actor)),
    "kept": _with_number("commitment", lambda a, n, _t, _c: c.ResolveCommitment(a, commitment=n, kept=True)),
    "missed": _with_number("commitment", lambda a, n, _t, _c: c.ResolveCommitment(a, commitment=n, kept=False)),
    "coffee": _coffee,
    "settings": _settings,
    "call": _touch("call"),
    "note": _touch("note"),
    "snooze": _snooze,
    "links": _links,
    "counterparts": _no_args(lambda actor: c.ListCounterparts(actor)),
    "counterpart": _counterpart,
    "due": _no_args(lambda actor: c.ListDue(actor)),
    "later": _later,
    "ok": _no_args(lambda actor: c.Acknowledge(actor)),
    "skip": _no_args(lambda actor: c.Acknowledge(actor)),
    "export": _no_args(lambda actor: c.ExportMyData(actor)),
    "forget-me": lambda actor, rest, usage, _ctx: _forget(actor, rest, usage),
    "team": _team,
    "digest": _digest,
    "calendar": _calendar,
}
assert PARSERS.keys() == USAGE.keys()


def parse_command(actor: c.Actor, text: str, ctx: Context) -> c.Command:
    """Turn what a person typed into a command, or raise :class:`CommandError`.

    Times are read in ``ctx.tz`` relative to ``ctx.now``.
    """
    text = text.translate(_SMART_QUOTES).strip()
    if text.startswith("/"):  # "/negotiation log ..." typed into Teams or the console
        text = text.split(None, 1)[1] if " " in text else ""
    if not text:
        return c.Help(actor)
    if len(text) > 4000:
        raise CommandError("That message is too long for me (4,000 characters at most).")
    said = " ".join(text.lower().split()).strip(" .!?,:;")
    if said in GREETINGS or said in THANKS:
        return c.Greet(actor, thanks=said in THANKS)
    name, _, rest = text.partition(" ")
    name = ALIASES.get(name.lower(), name.lower())
    if name in SETTING_WORDS:  # "timezone Berlin", "nudges off"
        name, rest = "settings", text
    parser = PARSERS.get(name)
    if parser is None:
        word = text.split()[0]
        return c.UnknownWord(actor, word=word[:40], suggestions=command_words_like(word), rest=rest.strip())
    command = parser(actor, rest.strip(), USAGE[name].usage, ctx)
    if isinstance(command, c.ConfirmMoment):  # the line as typed, for the question's Edit button
        command = replace(command, typed=text)
    return command


def command_words_like(word: str) -> tuple[str, ...]:
    """Command words ``word`` is probably a typo of (``setting`` → settings, ``comit`` → commit)."""
    found = process.extract(word.lower(), list(PARSERS), scorer=fuzz.ratio, limit=2, score_cutoff=75)
    return tuple(choice for choice, _, _ in found)
