"""The weekly digest for team leads.

A digest is a fixed handful of aggregate queries grouped by rep — members, negotiations, commitments,
touchpoints, counterparts due for contact, overdue commitments by counterpart — run for the week and
the week before; the chart adds two team-wide queries for all the weeks it shows. Never a query per rep.

Who counts for a week: the reps who are on the team now (they agreed to share their history, so a rep who
joined today shows in last week's digest), and a rep who left, for the weeks before they left. The same rule
for every week, so the week before in one digest is exactly what that week's own digest shows.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, dataclass, field, fields
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from coaching.messages import Attachment, Message, Section
from coaching.models import Commitment, Counterpart, Negotiation, Team, TeamInvitation, TeamMember, Touchpoint, User
from coaching.timelang import say_day

CHART_WEEKS = 8


@dataclass(frozen=True, order=True)
class Week:
    """An ISO week, read in the lead's time zone: Monday 00:00 to the next Monday 00:00."""

    year: int
    number: int

    @classmethod
    def parse(cls, label: str) -> Week:
        """``2026-W48`` (also ``2026w48``, ``W48 2026``)."""
        cleaned = label.strip().upper().replace(" ", "")
        if cleaned.startswith("W") and len(cleaned) > 4:  # W482026
            cleaned = cleaned[-4:] + "-" + cleaned[:-4]
        year, _, number = cleaned.replace("-", "").partition("W")
        if not (year.isdigit() and number.isdigit() and len(year) == 4):
            raise ValueError(f"“{label}” is not an ISO week like 2026-W48")
        try:
            date.fromisocalendar(int(year), int(number), 1)
        except ValueError:
            raise ValueError(f"{year} has no week {number}") from None
        return cls(int(year), int(number))

    @classmethod
    def asked(cls, label: str, *, now: datetime, tz: ZoneInfo) -> Week:
        """A week someone asked the digest of (``digest 2026-W48``, ``dealcoach digest --week``): a real ISO
        week that has started and is at most ten years back. Raises ValueError saying why not — which also
        keeps weeks the calendar can't hold (``9999-W52``) from the digest's date arithmetic."""
        week = cls.parse(label)
        this = cls.containing(now, tz)
        if week > this:
            raise ValueError(f"{week.label} hasn't started yet")
        if week.year < this.year - 10:
            raise ValueError(f"{week.label} is more than ten years back")
        return week

    @classmethod
    def containing(cls, moment: datetime, tz: ZoneInfo) -> Week:
        year, number, _ = moment.astimezone(tz).isocalendar()
        return cls(year, number)

    @property
    def label(self) -> str:
        return f"{self.year}-W{self.number:02d}"

    @property
    def monday(self) -> date:
        return date.fromisocalendar(self.year, self.number, 1)

    def shift(self, weeks: int) -> Week:
        year, number, _ = (self.monday + timedelta(weeks=weeks)).isocalendar()
        return Week(year, number)

    def bounds(self, tz: ZoneInfo) -> tuple[datetime, datetime]:
        start = datetime.combine(self.monday, time(0), tzinfo=tz)
        end = datetime.combine(self.monday + timedelta(days=7), time(0), tzinfo=tz)
        return start, end


@dataclass
class Figures:
    held: int = 0
    connection_yes: int = 0
    connection_known: int = 0
    followups_on_time: int = 0
    hard_wins: int = 0
    back_to_backs: int = 0
    made_ours: int = 0
    made_theirs: int = 0
    kept_ours: int = 0
    kept_theirs: int = 0
    overdue_ours: int = 0
    overdue_theirs: int = 0
    touchpoints: int = 0
    counterparts_due: int = 0

    def __add__(self, other: Figures) -> Figures:
        return Figures(**{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)})

    @property
    def connection_rate(self) -> float | None:
        return self.connection_yes / self.connection_known if self.connection_known else None

    @property
    def followup_rate(self) -> float | None:
        return self.followups_on_time / self.held if self.held else None

    @property
    def active(self) -> bool:
        return any(getattr(self, f.name) for f in fields(self) if f.name != "counterparts_due")


@dataclass
class RepWeek:
    user_id: int
    name: str
    figures: Figures
    previous: Figures


@dataclass
class WeekPoint:
    week: str
    held: int
    followup_rate: float | None
    kept: int
    overdue: int
    connection_rate: float | None = None
    partial: bool = False  # the running week (so far)


@dataclass
class Digest:
    lead: str
    week: Week
    starts: datetime
    ends: datetime
    partial: bool  # the week is still running
    reps: list[RepWeek]
    totals: Figures
    previous: Figures
    highlights: list[str]
    history: list[WeekPoint] = field(default_factory=list)
    invited: list[str] = field(default_factory=list)  # reps invited who haven't answered yet


# -- queries -----------------------------------------------------------------------------------------


def _count(condition: object) -> object:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)  # type: ignore[arg-type]


def _counts_for(start: datetime):  # type: ignore[no-untyped-def]
    """A membership counts for the week starting at ``start``: current, or left after the week began."""
    return or_(TeamMember.left_at.is_(None), TeamMember.left_at > start)


async def members_during(session: AsyncSession, team: Team, start: datetime) -> list[User]:
    """The reps who count for the week starting at ``start``: members now (their history is shared from the
    moment they accepted, past weeks included), and those who left after that week began."""
    rows = await session.scalars(
        select(User)
        .join(TeamMember, TeamMember.user_id == User.id)
        .where(TeamMember.team_id == team.id, _counts_for(start))
        .order_by(func.lower(func.coalesce(User.display_name, User.external_id)))
    )
    return list(rows)


async def invited(session: AsyncSession, team: Team) -> list[str]:
    """Reps invited to the team who haven't answered yet (they count once they accept)."""
    rows = await session.scalars(
        select(func.coalesce(User.display_name, User.external_id))
        .join(TeamInvitation, TeamInvitation.user_id == User.id)
        .where(TeamInvitation.team_id == team.id)
        .order_by(TeamInvitation.invited_at)
    )
    return list(rows)


async def figures_by_rep(
    session: AsyncSession,
    rep_ids: list[int],
    start: datetime,
    cutoff: datetime,
    tz: ZoneInfo,
    contact_gap: timedelta | None,
) -> dict[int, Figures]:
    """Four aggregate queries, grouped by rep, for the window [start, cutoff); a fifth counts the
    counterparts due for contact unless ``contact_gap`` is None (the week before: nobody reads it)."""
    result = {rep: Figures() for rep in rep_ids}
    if not rep_ids:
        return result
    held = and_(
        Negotiation.owner_id.in_(rep_ids),
        Negotiation.status != "cancelled",
        Negotiation.starts_at >= start,
        Negotiation.starts_at < cutoff,
    )
    negotiations = await session.execute(
        select(
            Negotiation.owner_id,
            func.count(),
            _count(Negotiation.opened_with_connection.is_(True)),
            _count(Negotiation.opened_with_connection.is_not(None)),
            _count(Negotiation.followup_on_time.is_(True)),
            _count(Negotiation.hard_win.is_(True)),
            _count(Negotiation.back_to_back.is_(True)),
        )
        .where(held)
        .group_by(Negotiation.owner_id)
    )
    for owner, *values in negotiations:
        figures = result[owner]
        (
            figures.held,
            figures.connection_yes,
            figures.connection_known,
            figures.followups_on_time,
            figures.hard_wins,
            figures.back_to_backs,
        ) = (int(v) for v in values)

    made = and_(Commitment.created_at >= start, Commitment.created_at < cutoff)
    kept = and_(Commitment.status == "kept", Commitment.resolved_at >= start, Commitment.resolved_at < cutoff)
    overdue = _overdue(cutoff, tz)
    commitments = await session.execute(
        select(Commitment.owner_id, Commitment.side, _count(made), _count(kept), _count(overdue))
        .where(Commitment.owner_id.in_(rep_ids), or_(made, kept, overdue))
        .group_by(Commitment.owner_id, Commitment.side)
    )
    for owner, side, n_made, n_kept, n_overdue in commitments:
        figures = result[owner]
        setattr(figures, f"made_{side}", int(n_made))
        setattr(figures, f"kept_{side}", int(n_kept))
        setattr(figures, f"overdue_{side}", int(n_overdue))

    touchpoints = await session.execute(
        select(Touchpoint.user_id, func.count())
        .where(Touchpoint.user_id.in_(rep_ids), Touchpoint.at >= start, Touchpoint.at < cutoff)
        .group_by(Touchpoint.user_id)
    )
    for user_id, count in touchpoints:
        result[user_id].touchpoints = int(count)

    if contact_gap is not None:
        for user_id, count in await session.execute(counterparts_due_query(rep_ids, cutoff, contact_gap)):
            result[user_id].counterparts_due = int(count)
    return result


def counterparts_due_query(rep_ids: list[int], cutoff: datetime, contact_gap: timedelta):  # type: ignore[no-untyped-def]
    """Per rep: long-term counterparts they deal with and have not been in contact with for the gap."""
    threshold = cutoff - contact_gap
    pairs = (
        select(
            Negotiation.owner_id.label("user_id"),
            Negotiation.counterpart_id.label("counterpart_id"),
            func.max(Negotiation.starts_at).label("last_negotiation"),
        )
        .join(Counterpart, Counterpart.id == Negotiation.counterpart_id)
        .where(
            Negotiation.owner_id.in_(rep_ids),
            Counterpart.long_term.is_(True),
            Negotiation.status != "cancelled",
            Negotiation.starts_at < cutoff,
        )
        .group_by(Negotiation.owner_id, Negotiation.counterpart_id)
        .subquery()
    )
    touches = (
        select(Touchpoint.user_id, Touchpoint.counterpart_id, func.max(Touchpoint.at).label("last_touch"))
        .where(Touchpoint.user_id.in_(rep_ids), Touchpoint.at < cutoff)
        .group_by(Touchpoint.user_id, Touchpoint.counterpart_id)
        .subquery()
    )
    return (
        select(pairs.c.user_id, func.count())
        .select_from(pairs)
        .outerjoin(
            touches,
            and_(touches.c.user_id == pairs.c.user_id, touches.c.counterpart_id == pairs.c.counterpart_id),
        )
        .where(
            pairs.c.last_negotiation < threshold,
            or_(touches.c.last_touch.is_(None), touches.c.last_touch < threshold),
        )
        .group_by(pairs.c.user_id)
    )


async def overdue_by_counterpart(
    session: AsyncSession, rep_ids: list[int], cutoff: datetime, tz: ZoneInfo
) -> list[tuple[str, str, int]]:
    """(counterpart, side, count) of commitments overdue at the cutoff, most first."""
    if not rep_ids:
        return []
    # Each rep has a counterpart of their own: the team's overdue commitments to "Globex" are counted across
    # their copies by name (the first spelling shown).
    overdue = func.count().label("overdue")
    rows = await session.execute(
        select(func.min(Counterpart.name), Commitment.side, overdue)
        .join(Counterpart, Counterpart.id == Commitment.counterpart_id)
        .where(Commitment.owner_id.in_(rep_ids), _overdue(cutoff, tz))
        .group_by(Counterpart.name_key, Commitment.side)
        .order_by(overdue.desc(), func.min(Counterpart.name))
        .limit(5)
    )
    return [(name, side, int(count)) for name, side, count in rows]


async def one_sided_concessions(
    session: AsyncSession, rep_ids: list[int], start: datetime, cutoff: datetime
) -> list[tuple[int, str, int]]:
    """(rep, counterpart, given) where a rep gave 3+ concessions and received none in the window."""
    if not rep_ids:
        return []
    given = func.coalesce(func.sum(Negotiation.concessions_given), 0)
    received = func.coalesce(func.sum(Negotiation.concessions_received), 0)
    rows = await session.execute(
        select(Negotiation.owner_id, Counterpart.name, given)
        .join(Counterpart, Counterpart.id == Negotiation.counterpart_id)
        .where(
            Negotiation.owner_id.in_(rep_ids),
            Negotiation.status == "done",
            Negotiation.starts_at >= start,
            Negotiation.starts_at < cutoff,
        )
        .group_by(Negotiation.owner_id, Counterpart.name)
        .having(given >= 3, received == 0)
        .order_by(given.desc(), Counterpart.name)
    )
    return [(owner, name, int(total)) for owner, name, total in rows]


def _overdue(cutoff: datetime, tz: ZoneInfo):  # type: ignore[no-untyped-def]
    """Due before the cutoff's local day and not resolved by the cutoff."""
    return and_(
        Commitment.due_on < cutoff.astimezone(tz).date(),
        Commitment.created_at < cutoff,
        or_(Commitment.status == "open", Commitment.resolved_at >= cutoff),
    )


async def build_digest(
    session: AsyncSession,
    team: Team,
    week: Week,
    *,
    now: datetime,
    tz: ZoneInfo,
    contact_gap: timedelta,
) -> Digest:
    start, end = week.bounds(tz)
    cutoff = min(end, now)
    previous_start, previous_end = week.shift(-1).bounds(tz)
    reps = await members_during(session, team, start)
    rep_ids = [rep.id for rep in reps]
    # the week before with its own reps (those who left during it count there), as its own digest shows it
    before_ids = [rep.id for rep in await members_during(session, team, previous_start)]
    current = await figures_by_rep(session, rep_ids, start, cutoff, tz, contact_gap)
    before = await figures_by_rep(session, before_ids, previous_start, min(previous_end, now), tz, None)
    lines = [RepWeek(rep.id, rep.display_name or rep.external_id, current[rep.id], before[rep.id]) for rep in reps]
    totals = sum((line.figures for line in lines), Figures())
    previous = sum(before.values(), Figures())
    overdue = await overdue_by_counterpart(session, rep_ids, cutoff, tz)
    names = {line.user_id: line.name for line in lines}
    conceding = [
        (names[owner], counterpart, given)
        for owner, counterpart, given in await one_sided_concessions(
            session, rep_ids, week.shift(-(CHART_WEEKS - 1)).bounds(tz)[0], cutoff
        )
    ]
    digest = Digest(
        lead=team.lead.display_name or team.lead.external_id,
        week=week,
        starts=start,
        ends=end,
        partial=now < end,
        reps=lines,
        totals=totals,
        previous=previous,
        highlights=highlights(lines, totals, previous, overdue, conceding),
    )
    weeks = [week.shift(-back) for back in range(CHART_WEEKS - 1, -1, -1)]
    digest.history = await history(session, team, weeks, now=now, tz=tz)
    digest.invited = await invited(session, team)
    return digest


async def history(
    session: AsyncSession, team: Team, weeks: list[Week], *, now: datetime, tz: ZoneInfo
) -> list[WeekPoint]:
    """Team totals for the chart, all weeks at once: one query over negotiations, one over commitments, each
    counting a rep for the weeks they count for (:func:`members_during`), so a point is that week's digest."""
    windows = [(shown, *shown.bounds(tz)) for shown in weeks]
    windows = [(shown, start, min(end, now)) for shown, start, end in windows]
    first, last = windows[0][1], windows[-1][2]
    members = select(TeamMember.user_id, TeamMember.left_at).where(TeamMember.team_id == team.id).subquery()

    def counted(start: datetime):  # type: ignore[no-untyped-def]
        """As :func:`members_during`: the rep is on the team now, or left after this week began."""
        return or_(members.c.left_at.is_(None), members.c.left_at > start)

    in_week = [
        and_(Negotiation.starts_at >= start, Negotiation.starts_at < cutoff, counted(start))
        for _, start, cutoff in windows
    ]
    negotiations = (
        await session.execute(
            select(
                *(_count(cond) for cond in in_week),
                *(_count(and_(cond, Negotiation.followup_on_time.is_(True))) for cond in in_week),
                *(_count(and_(cond, Negotiation.opened_with_connection.is_(True))) for cond in in_week),
                *(_count(and_(cond, Negotiation.opened_with_connection.is_not(None))) for cond in in_week),
            )
            .join(members, members.c.user_id == Negotiation.owner_id)
            .where(
                Negotiation.status != "cancelled",
                Negotiation.starts_at >= first,
                Negotiation.starts_at < last,
            )
        )
    ).one()
    kept = [
        and_(
            Commitment.status == "kept",
            Commitment.resolved_at >= start,
            Commitment.resolved_at < cutoff,
            counted(start),
        )
        for _, start, cutoff in windows
    ]
    overdue = [and_(_overdue(cutoff, tz), counted(start)) for _, start, cutoff in windows]
    commitments = (
        await session.execute(
            select(*(_count(cond) for cond in kept), *(_count(cond) for cond in overdue))
            .join(members, members.c.user_id == Commitment.owner_id)
            .where(
                Commitment.created_at < last,
                # implied by every condition below, and lets the index skip what was settled before the chart
                or_(Commitment.status == "open", Commitment.resolved_at >= first),
                or_(*kept, *overdue),
            )
        )
    ).one()
    count = len(windows)
    points = []
    for i, (shown, _, cutoff) in enumerate(windows):
        held, on_time = int(negotiations[i]), int(negotiations[count + i])
        opened, known = int(negotiations[2 * count + i]), int(negotiations[3 * count + i])
        points.append(
            WeekPoint(
                shown.label,
                held,
                on_time / held if held else None,
                int(commitments[i]),
                int(commitments[count + i]),
                opened / known if known else None,
                partial=cutoff < shown.bounds(tz)[1],
            )
        )
    return points


# -- words -------------------------------------------------------------------------------------------


def _pct(rate: float | None) -> str:
    return "—" if rate is None else f"{round(rate * 100)}%"


def _delta(now: int, before: int) -> str:
    change = now - before
    return "±0" if change == 0 else f"{change:+d}".replace("-", "−")


def _rate_delta(now: float | None, before: float | None) -> str:
    if now is None or before is None:
        return ""
    change = round((now - before) * 100)
    return " (±0 pts)" if change == 0 else f" ({change:+d} pts)".replace("-", "−")


def highlights(
    lines: list[RepWeek],
    totals: Figures,
    previous: Figures,
    overdue: list[tuple[str, str, int]],
    conceding: list[tuple[str, str, int]] | None = None,
) -> list[str]:
    """Two or three things a lead would act on, most important first."""
    found: list[tuple[int, str]] = []
    for rep, counterpart, given in (conceding or [])[:1]:
        text = f"{rep} keeps conceding to {counterpart}: {given} given, none received in {CHART_WEEKS} weeks."
        found.append((1, text))
    now_rate, before_rate = totals.followup_rate, previous.followup_rate
    if now_rate is not None and before_rate is not None and abs(now_rate - before_rate) >= 0.2:
        verb = "fell" if now_rate < before_rate else "rose"
        found.append((0, f"Follow-ups within 24 h {verb} from {_pct(before_rate)} to {_pct(now_rate)}."))
    for name, side, count in overdue:
        if count >= 2:
            whose = "to" if side == "ours" else "from"
            found.append((1, f"{count} commitments {whose} {name} are overdue."))
            break
    connection = totals.connection_rate
    if connection is not None and connection < 0.5 and totals.connection_known >= 2:
        found.append(
            (2, f"Only {totals.connection_yes} of {totals.connection_known} calls opened with personal connection.")
        )
    if totals.hard_wins:
        found.append((3, f"{totals.hard_wins} hard win(s): check in on those relationships."))
    busiest = max(lines, key=lambda line: line.figures.back_to_backs, default=None)
    if busiest and busiest.figures.back_to_backs >= 2:
        found.append((4, f"{busiest.name} had {busiest.figures.back_to_backs} back-to-back negotiations."))
    quiet = [line.name for line in lines if not line.figures.active]
    if quiet:
        found.append((5, f"No activity logged by {', '.join(quiet)}."))
    if totals.counterparts_due:
        found.append((6, f"{totals.counterparts_due} long-term counterpart(s) are overdue for a personal touch."))
    return [text for _, text in sorted(found)[:3]]


def rep_line(line: RepWeek) -> str:
    f, p = line.figures, line.previous
    if not f.active:
        return f"{line.name} — no activity" + (
            f"; {f.counterparts_due} counterpart(s) due" if f.counterparts_due else ""
        )
    parts = [
        f"{f.held} held ({_delta(f.held, p.held)})",
        f"connection {_pct(f.connection_rate)}",
        f"follow-ups ≤24 h {f.followups_on_time}/{f.held}",
        f"ours {f.made_ours} made · {f.kept_ours} kept · {f.overdue_ours} overdue",
        f"theirs {f.made_theirs} made · {f.kept_theirs} kept · {f.overdue_theirs} overdue",
        f"touchpoints {f.touchpoints}",
    ]
    if f.counterparts_due:
        parts.append(f"{f.counterparts_due} due for contact")
    if f.hard_wins:
        parts.append(f"hard wins {f.hard_wins}")
    if f.back_to_backs:
        parts.append(f"back-to-backs {f.back_to_backs}")
    return f"{line.name} — " + ", ".join(parts)


def team_facts(t: Figures, p: Figures) -> tuple[tuple[str, str], ...]:
    return (
        ("Negotiations held", f"{t.held} ({_delta(t.held, p.held)})"),
        ("Personal connection", _pct(t.connection_rate) + _rate_delta(t.connection_rate, p.connection_rate)),
        ("Follow-ups within 24 h", _pct(t.followup_rate) + _rate_delta(t.followup_rate, p.followup_rate)),
        (
            "Commitments, ours",
            f"{t.made_ours} made · {t.kept_ours} kept · {t.overdue_ours} overdue "
            f"({_delta(t.overdue_ours, p.overdue_ours)} overdue)",
        ),
        (
            "Commitments, theirs",
            f"{t.made_theirs} made · {t.kept_theirs} kept · {t.overdue_theirs} overdue "
            f"({_delta(t.overdue_theirs, p.overdue_theirs)} overdue)",
        ),
        ("Touchpoints", f"{t.touchpoints} ({_delta(t.touchpoints, p.touchpoints)})"),
        ("Counterparts due for contact", str(t.counterparts_due)),
        ("Hard wins", f"{t.hard_wins} ({_delta(t.hard_wins, p.hard_wins)})"),
        ("Back-to-backs", f"{t.back_to_backs} ({_delta(t.back_to_backs, p.back_to_backs)})"),
    )


def period(digest: Digest, tz: ZoneInfo) -> str:
    first, last = digest.starts.astimezone(tz), (digest.ends - timedelta(days=1)).astimezone(tz)
    # the week's label has the year; the last day says its own when the week ends in the next one
    text = f"{say_day(first.date(), tz, first)} – {say_day(last.date(), tz, first)}"
    return text + (" (so far)" if digest.partial else "")


def digest_message(digest: Digest, tz: ZoneInfo, chart: bytes | None = None, kind: str = "reply") -> Message:
    sections = []
    if digest.highlights:
        sections.append(Section(heading="Highlights", lines=tuple(digest.highlights)))
    sections.append(
        Section(heading="Team (change vs the week before)", facts=team_facts(digest.totals, digest.previous))
    )
    if digest.reps:
        sections.append(Section(heading="Per rep", lines=tuple(rep_line(line) for line in digest.reps)))
    if digest.invited:
        names = ", ".join(digest.invited)
        sections.append(
            Section(
                heading="Waiting for an answer",
                lines=(
                    f"Invited, not joined yet: {names}. They count from the moment they accept, past weeks included.",
                ),
            )
        )
    elif not digest.reps:
        sections.append(Section(lines=("Nobody is on your team yet: invite your reps with `team add @name`.",)))
    attachments = ()
    if chart:
        attachments = (Attachment(f"digest-{digest.week.label}.png", "image/png", chart, f"Last {CHART_WEEKS} weeks"),)
    return Message(
        text=f"Weekly digest {digest.week.label}, {period(digest, tz)} — {digest.lead}'s team",
        sections=tuple(sections),
        kind=kind,
        ref=f"digest:{digest.week.label}",
        attachments=attachments,
    )


def digest_rows(digest: Digest) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for name, figures, previous in [(line.name, line.figures, line.previous) for line in digest.reps] + [
        ("TEAM", digest.totals, digest.previous)
    ]:
        row: dict[str, object] = {"week": digest.week.label, "rep": name, **asdict(figures)}
        row["connection_rate"] = figures.connection_rate
        row["followup_rate"] = figures.followup_rate
        row["held_previous_week"] = previous.held
        row["followup_rate_previous_week"] = previous.followup_rate
        rows.append(row)
    return rows


def digest_json(digest: Digest) -> str:
    return json.dumps(
        {
            "lead": digest.lead,
            "week": digest.week.label,
            "starts": digest.starts.isoformat(),
            "ends": digest.ends.isoformat(),
            "partial": digest.partial,
            "highlights": digest.highlights,
            "rows": digest_rows(digest),
            "history": [asdict(point) for point in digest.history],
        },
        indent=2,
    )


def digest_csv(digest: Digest) -> str:
    rows = digest_rows(digest)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0].keys()), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()
