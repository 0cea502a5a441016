"""A person's settings (time zone, pre-call lead, quiet hours, nudges, role, day/month order) and re-planning
their nudges when those change."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from functools import cache
from zoneinfo import available_timezones

from rapidfuzz import fuzz, process
from sqlalchemy import select

from coaching import commands as c
from coaching import nudges as n
from coaching import questions, store
from coaching.calendar.negotiations import DEFAULT_KEYWORDS, FREE_MAIL
from coaching.messages import Button, Message, Section
from coaching.models import Commitment, Negotiation, User
from coaching.parser import USAGE, CommandError, quiet_hours
from coaching.room import Composer, Handler, Turn
from coaching.timelang import DATE_ORDERS

MAX_ZONES = 5


@cache
def _cities() -> dict[str, list[str]]:
    """IANA zones by their place, as people type it (``new york`` → America/New_York); legacy aliases left out."""
    places: dict[str, list[str]] = {}
    for name in sorted(available_timezones()):
        if "/" not in name or name.startswith(("Etc/", "SystemV/", "posix/", "right/")):
            continue
        places.setdefault(name.rsplit("/", 1)[1].replace("_", " ").lower(), []).append(name)
    return places


def zones_like(text: str) -> list[str]:
    """The IANA zones ``text`` probably means: ``Berlin`` → Europe/Berlin, ``new york`` → America/New_York,
    ``europe/berlin`` → Europe/Berlin, ``Berln`` → Europe/Berlin (rapidfuzz)."""
    key = " ".join(text.replace("_", " ").split()).lower()
    exact = [name for name in available_timezones() if name.lower() == key.replace(" ", "_")]
    if exact:
        return exact
    place = key.rsplit("/", 1)[-1]
    cities = _cities()
    if place in cities:
        return cities[place][:MAX_ZONES]
    near = process.extract(place, list(cities), scorer=fuzz.ratio, score_cutoff=80, limit=MAX_ZONES)
    return [zone for city, _, _ in near for zone in cities[city]][:MAX_ZONES]


def _words(command: c.ChangeSettings) -> str:
    """The settings command as words (what a "did you mean" Yes runs)."""
    parts = ["settings"]
    if command.timezone:
        parts.append(f"timezone {command.timezone}")
    if command.lead_minutes is not None:
        parts.append(f"lead {command.lead_minutes}")
    if command.quiet is not None:
        parts.append(f"quiet {command.quiet}")
    if command.nudges is not None:
        parts.append("nudges " + ("on" if command.nudges else "off"))
    for option in ("role", "dates"):
        if getattr(command, option):
            parts.append(f"{option} {getattr(command, option)}")
    if command.domains is not None:
        parts.append("domains " + (", ".join(command.domains) or "off"))
    if command.keywords is not None:
        parts.append("keywords " + (", ".join(command.keywords) or "default"))
    return " ".join(parts)


def _which_zone(turn: Turn, command: c.ChangeSettings) -> Message:
    """A time zone that is no IANA name: offer the ones that match (a typed yes takes the first)."""
    zones = zones_like(command.timezone or "")
    if not zones:
        raise CommandError(
            f"“{command.timezone}” is not a time zone I know. Use an IANA name like Europe/Berlin "
            "(continent/city, as in your computer's settings).",
            USAGE["settings"].usage,
        )
    runs = [_words(replace(command, timezone=zone)) for zone in zones]
    questions.suggest(turn.user, now=turn.now, yes=runs[0])
    shown = " or ".join(zones)
    return Message(
        text=f"“{command.timezone}” is not a time zone name. Did you mean {shown}?",
        sections=(Section(lines=(f"Say yes for {zones[0]}." if len(zones) == 1 else "Pick one.",)),),
        buttons=tuple(Button(zone, "settings.timezone", run) for zone, run in zip(zones, runs, strict=True)),
    )


async def change_settings(turn: Turn, command: c.ChangeSettings) -> Message:
    """``settings`` with no options shows them; each given option changes one."""
    user = turn.user
    changed = []
    if command.timezone is not None:
        if store.zone(command.timezone) is None:
            return _which_zone(turn, command)
        user.timezone, user.timezone_set_by_user = command.timezone, True
        changed.append("time zone")
    if command.lead_minutes is not None:
        user.lead_minutes = command.lead_minutes
        changed.append("lead time")
    if command.quiet is not None:
        user.quiet_start, user.quiet_end = quiet_hours(command.quiet) or (None, None)
        changed.append("quiet hours")
    if command.nudges is not None:
        user.nudges_enabled = command.nudges
        changed.append("nudges")
    if command.role is not None:
        user.role = command.role
        changed.append("role")
    if command.dates is not None:
        if command.dates not in DATE_ORDERS:
            raise CommandError("Dates are `dmy`, `mdy` or `ymd`.", USAGE["settings"].usage)
        user.date_order = command.dates
        changed.append("dates")
    if command.domains is not None:
        user.own_domains = list(command.domains) or None
        changed.append("domains")
    if command.keywords is not None:
        user.keywords = list(command.keywords) or None
        changed.append("keywords")
    if set(changed) - {"dates", "domains", "keywords"}:  # these change no reminder
        await replan(turn)
    quiet = f"{user.quiet_start}–{user.quiet_end}" if user.quiet_start else "off"
    facts = (
        ("Time zone", user.timezone + ("" if user.timezone_set_by_user else " (from your profile)")),
        ("Pre-call lead", f"{user.lead_minutes} min"),
        ("Quiet hours", quiet + " (pre-call reminders still come)"),
        ("Nudges", "on" if user.nudges_enabled else "off"),
        ("Role", user.role),
        ("Dates", _dates(user)),
        ("Own domains", _own_domains(turn)),
        ("Calendar keywords", ", ".join(user.keywords or DEFAULT_KEYWORDS) + ("" if user.keywords else " (default)")),
    )
    text = ("Updated " + ", ".join(changed) + ".") if changed else "Your settings:"
    sections = [Section(facts=facts)]
    if not user.nudges_enabled:
        sections.append(
            Section(lines=("Nudges are off: no reminders, prompts or weekly lists come. `settings nudges on`.",))
        )
    return Message(text=text, sections=tuple(sections))


_ORDER_EXAMPLES = {
    "dmy": "day first: 6/12 is 6 December",
    "mdy": "month first: 6/12 is 12 June",
    "ymd": "year, month, day: 6/12 is 12 June",
}


def _dates(user: User) -> str:
    """How slashed dates are read, and where that comes from."""
    order = store.date_order(user)
    origin = "" if user.date_order else (" (from your language)" if user.locale else " (from your time zone)")
    return f"{order}, {_ORDER_EXAMPLES[order]}{origin}; dotted dates (6.12.) are always day first"


def _own_domains(turn: Turn) -> str:
    """Whose addresses count as colleagues in a calendar: the profile's domain, the install's, the person's own."""
    user = turn.user
    parts = []
    profile = user.email.rpartition("@")[2] if user.email else None
    if profile and profile not in FREE_MAIL:
        parts.append(f"{profile} (from your profile)")
    if turn.calendar.internal_domains:
        parts.append(", ".join(turn.calendar.internal_domains) + " (this install's)")
    if user.own_domains:
        parts.append(", ".join(user.own_domains))
    return "; ".join(parts) or "none yet: `settings domains acme.com`"


async def replan(turn: Turn) -> None:
    """Settings changed: re-plan the pending nudges of everything still ahead (in the new zone and hours)."""
    session, user, now = turn.session, turn.user, turn.now
    await session.flush()
    await n.drop_pending(session, user_id=user.id, kinds=n.NEGOTIATION_KINDS + n.COMMITMENT_KINDS)
    ahead = await session.scalars(
        select(Negotiation).where(Negotiation.owner_id == user.id, Negotiation.status == "scheduled")
    )
    for negotiation in ahead:
        if negotiation.starts_at > now - timedelta(days=2):
            await n.schedule_negotiation(session, negotiation, user, now=now, timing=turn.timing)
    open_commitments = await session.scalars(
        select(Commitment).where(Commitment.owner_id == user.id, Commitment.status == "open")
    )
    for commitment in open_commitments:
        await n.schedule_commitment(session, commitment, user, now=now, timing=turn.timing)


HANDLERS: dict[type[c.Command], Handler] = {c.ChangeSettings: change_settings}
COMPOSERS: dict[str, Composer] = {}
