"""What a rep knows and keeps about a counterpart, shared by the rooms that show or change it: long-term care,
the concession ledger, the lever of links and the issues on the table.

The commands about them (``counterpart``, ``links``, ``issues``) live in ``coaching.relationships``; the
negotiation room shows the same knowledge in its outcome replies, prep briefs and pre-call reminders.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from coaching import nudges as n
from coaching import playbook as book
from coaching.models import Counterpart, Negotiation, NegotiationIssue, Relationship, User

CONCEDING_STREAK = 3


async def start_long_term(session: AsyncSession, user: User, counterpart: Counterpart, now: datetime) -> None:
    """A relationship to keep warm: the counterpart is long-term, and this rep's weekly list starts."""
    counterpart.long_term = True
    await n.schedule_stay_in_touch(session, user, now)


# -- concession ledger -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ledger:
    given: int
    received: int
    negotiations: int
    streak_given: int  # concessions given since we last received one

    @property
    def one_sided(self) -> bool:
        return self.streak_given >= CONCEDING_STREAK


async def ledger(session: AsyncSession, user: User, counterpart_id: int) -> Ledger | None:
    rows = (
        await session.execute(
            select(Negotiation.concessions_given, Negotiation.concessions_received)
            .where(
                Negotiation.owner_id == user.id,
                Negotiation.counterpart_id == counterpart_id,
                Negotiation.status == "done",
                (Negotiation.concessions_given.is_not(None)) | (Negotiation.concessions_received.is_not(None)),
            )
            .order_by(Negotiation.starts_at.desc())
        )
    ).all()
    if not rows:
        return None
    streak, streak_open = 0, True
    for given, received in rows:
        if streak_open and (received or 0) > 0:
            streak_open = False
        if streak_open:
            streak += given or 0
    return Ledger(
        given=sum(g or 0 for g, _ in rows),
        received=sum(r or 0 for _, r in rows),
        negotiations=len(rows),
        streak_given=streak,
    )


def ledger_lines(entry: Ledger | None, counterpart: str) -> tuple[str, ...]:
    if entry is None:
        return ()
    line = (
        f"Concessions with {counterpart}: {entry.given} given, {entry.received} received "
        f"over {entry.negotiations} negotiation(s)."
    )
    if entry.one_sided:
        return (line, book.CONCEDING.format(given=entry.streak_given, counterpart=counterpart))
    return (line,)


# -- lever of links ----------------------------------------------------------------------------------


def leverage_lines(role: str, answers: list[bool] | None) -> tuple[str, ...]:
    questions = book.LEVERAGE_QUESTIONS[role]
    if not answers:
        return (
            book.LEVER_OF_LINKS,
            *questions,
            "Answer with `links <counterpart> yes|no …` (in this order) to get a score.",
        )
    strongest = [q.rstrip("?") for q, yes in zip(questions, answers, strict=False) if yes]
    score = f"Leverage score: {sum(answers)}/{len(questions)}"
    if strongest:
        return (book.LEVER_OF_LINKS, f"{score}. Strongest links: " + "; ".join(strongest) + ".")
    return (book.LEVER_OF_LINKS, f"{score}: few links beyond this deal — build some.")


async def links_for(session: AsyncSession, user: User, counterpart_id: int) -> list[bool] | None:
    link = await session.scalar(
        select(Relationship).where(Relationship.user_id == user.id, Relationship.counterpart_id == counterpart_id)
    )
    return (link.links or {}).get(user.role) if link else None


# -- issues on the table -----------------------------------------------------------------------------


def classify(issue: str) -> tuple[str, str]:
    """(kind, name): a known agreement or relationship issue by keyword, else an agreement issue as typed."""
    lowered = issue.lower()
    for name, words in book.ISSUE_KEYWORDS.items():
        if any(word in lowered for word in words):
            kind = "relationship" if name in book.RELATIONSHIP_ISSUES else "agreement"
            return kind, name
    return "agreement", issue.strip()[:200]


async def settle_issues(session: AsyncSession, negotiation: Negotiation, settled: tuple[str, ...]) -> None:
    names = {classify(raw)[1] for raw in settled}
    issues = await session.scalars(select(NegotiationIssue).where(NegotiationIssue.negotiation_id == negotiation.id))
    for issue in issues:
        if issue.name in names:
            issue.settled = True


async def issue_lines(session: AsyncSession, user: User, negotiation: Negotiation) -> tuple[str, ...]:
    """This negotiation's issues, and open ones carried over from earlier rounds with the same counterpart."""
    rows = (
        await session.execute(
            select(NegotiationIssue.name, NegotiationIssue.kind, NegotiationIssue.negotiation_id)
            .join(Negotiation, Negotiation.id == NegotiationIssue.negotiation_id)
            .where(
                Negotiation.owner_id == user.id,
                Negotiation.counterpart_id == negotiation.counterpart_id,
                NegotiationIssue.settled.is_(False),
                (Negotiation.id == negotiation.id) | (Negotiation.starts_at < negotiation.starts_at),
            )
        )
    ).all()
    here = sorted({(kind, name) for name, kind, nid in rows if nid == negotiation.id})
    carried = sorted({(kind, name) for name, kind, nid in rows if nid != negotiation.id} - set(here))
    lines = [f"On the table ({kind}): {name}" for kind, name in here]
    lines += [f"Still open from last time ({kind}): {name}" for kind, name in carried]
    return tuple(lines)
