"""What a rep knows and keeps about a counterpart, shared by the rooms that show or change it: finding one
by name (asking "did you mean …?" for a near miss), long-term care, the concession ledger, the lever of links
and the issues on the table.

A counterpart is one person's own (``Counterpart.owner_id``): every lookup here reads only the asking rep's
directory, so no answer ever carries a colleague's spelling or tells whether a colleague uses a name. The
commands about counterparts live in ``coaching.directory`` and ``coaching.relationships``; the negotiation room
shows the same knowledge in its outcome replies, prep briefs and pre-call reminders.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from rapidfuzz import fuzz, process, utils
from rapidfuzz.distance import Levenshtein
from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from coaching import nudges as n
from coaching import playbook as book
from coaching import questions, store
from coaching.messages import Button, Message, Section
from coaching.models import Counterpart, Negotiation, NegotiationIssue, User
from coaching.parser import CommandError
from coaching.room import Turn

CONCEDING_STREAK = 3
SIMILAR = 85  # rapidfuzz WRatio: "Initec" → Initech (92), "Nebula" → Nebula Confidential (90), not IBM → Initech
MAX_SUGGESTIONS = 3
_NUMBER = re.compile(r"\d+")


# -- finding a counterpart by name -------------------------------------------------------------------


def similar(name: str, names: Iterable[str]) -> list[str]:
    """Near misses of ``name`` among ``names`` (one person's own), best first. WRatio takes a typo and a name
    typed in part (``Nebula`` for Nebula Confidential); one edit in a short name (``Acne``) counts too. Names
    that differ in their numbers are different (``Store 12`` is no typo of Store 13)."""
    choices = list(dict.fromkeys(names))
    found = process.extract(name, choices, scorer=fuzz.WRatio, processor=utils.default_process, limit=None)
    key = store.name_key(name)
    best = [choice for choice, score, _ in found if score >= SIMILAR]
    best += [
        choice
        for choice in choices
        if choice not in best and len(key) >= 4 and Levenshtein.distance(key, store.name_key(choice)) <= 1
    ]
    numbers = _NUMBER.findall(key)
    return [
        choice
        for choice in best
        if store.name_key(choice) != key and not (numbers and _NUMBER.findall(store.name_key(choice)) != numbers)
    ][:MAX_SUGGESTIONS]


async def own_names(session: AsyncSession, user: User) -> list[str]:
    return list(await session.scalars(select(Counterpart.name).where(Counterpart.owner_id == user.id)))


Words = Callable[[str], str]  # the command again, with another counterpart name (quoted: read exactly)


async def resolve(
    turn: Turn, name: str, *, words: Words, exact: bool = False, creates: bool = False
) -> Counterpart | Message:
    """The rep's own counterpart called ``name``; for a near miss, the question "Did you mean Initech?"
    (asked through :mod:`coaching.questions`, so a typed ``yes`` runs ``words(suggestion)``). A name typed in
    quotes (``exact``) is taken as it is. ``creates``: a new name is a new counterpart (``log``, ``call``, …);
    otherwise an unknown one is an error."""
    session, user = turn.session, turn.user
    name = " ".join(name.split())
    if not name:
        raise CommandError("Which counterpart?")
    if len(name) > 200:
        raise CommandError("That counterpart name is too long (200 characters at most).")
    found = await store.find_counterpart(session, owner_id=user.id, name=name)
    if found is not None:
        return found
    near = [] if exact else similar(name, await own_names(session, user))
    if near:
        return _did_you_mean(user, name, near, now=turn.now, words=words, creates=creates)
    if creates:
        return await store.counterpart(session, owner_id=user.id, name=name)
    raise CommandError(f"You have no counterpart called “{name}”. `counterparts` lists yours.")


def _did_you_mean(user: User, typed: str, near: list[str], *, now: datetime, words: Words, creates: bool) -> Message:
    questions.suggest(user, now=now, yes=words(near[0]), no=words(typed) if creates else None)
    shown = " or ".join(near)
    lines = [f"You have no counterpart called “{typed}”."]
    buttons = [
        Button(f"Yes: {name}", "counterpart.pick", words(name), "primary" if i == 0 else None)
        for i, name in enumerate(near)
    ]
    if creates:
        lines.append(f"Say yes for {near[0]}, or no to add “{typed}” as a new one.")
        buttons.append(Button(f"No, new: {typed}", "counterpart.new", words(typed)))
    else:
        lines.append(f"Say yes for {near[0]}." if len(near) == 1 else f"Say yes for {near[0]}, or pick one.")
    return Message(text=f"Did you mean {shown}?", sections=(Section(lines=tuple(lines)),), buttons=tuple(buttons))


async def start_long_term(session: AsyncSession, user: User, counterpart: Counterpart, now: datetime) -> None:
    """A relationship to keep warm: the counterpart is long-term, and this rep's weekly list starts."""
    mark_long_term(counterpart)
    await n.schedule_stay_in_touch(session, user, now)


def mark_long_term(counterpart: Counterpart) -> None:
    """The counterpart is long-term (its weekly list is the caller's to start: :func:`start_long_term`)."""
    if not counterpart.long_term:  # set only when it changes: a no-op set still makes the session flush it
        counterpart.long_term = True


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


_CONCESSIONS = (
    select(Negotiation.concessions_given, Negotiation.concessions_received)
    .where(
        Negotiation.owner_id == bindparam("owner"),
        Negotiation.counterpart_id == bindparam("counterpart"),
        Negotiation.status == "done",
        (Negotiation.concessions_given.is_not(None)) | (Negotiation.concessions_received.is_not(None)),
    )
    .order_by(Negotiation.starts_at.desc())
)


async def ledger(session: AsyncSession, user: User, counterpart_id: int) -> Ledger | None:
    rows = await store.rows(session, _CONCESSIONS, {"owner": user.id, "counterpart": counterpart_id})
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
    ratio = sum(answers) / len(questions)
    meaning = book.LEVERAGE_MEANING["strong" if ratio >= 0.75 else "some" if ratio >= 0.5 else "low"]
    if strongest:
        return (book.LEVER_OF_LINKS, f"{score}. Strongest links: " + "; ".join(strongest) + ".", meaning)
    return (book.LEVER_OF_LINKS, f"{score}: no links beyond this deal yet.", meaning)


def links_for(user: User, counterpart: Counterpart) -> list[bool] | None:
    """The rep's lever-of-links answers about ``counterpart``, for their current role."""
    return (counterpart.links or {}).get(user.role)


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


_ISSUES = (
    select(NegotiationIssue.name, NegotiationIssue.kind, NegotiationIssue.negotiation_id)
    .join(Negotiation, Negotiation.id == NegotiationIssue.negotiation_id)
    .where(
        Negotiation.owner_id == bindparam("owner"),
        Negotiation.counterpart_id == bindparam("counterpart"),
        NegotiationIssue.settled.is_(False),
        (Negotiation.id == bindparam("id")) | (Negotiation.starts_at < bindparam("starts")),
    )
)


async def issue_lines(session: AsyncSession, user: User, negotiation: Negotiation) -> tuple[str, ...]:
    """This negotiation's issues, and open ones carried over from earlier rounds with the same counterpart."""
    where = {
        "owner": user.id,
        "counterpart": negotiation.counterpart_id,
        "id": negotiation.id,
        "starts": negotiation.starts_at,
    }
    rows = await store.rows(session, _ISSUES, where)
    here = sorted({(kind, name) for name, kind, nid in rows if nid == negotiation.id})
    carried = sorted({(kind, name) for name, kind, nid in rows if nid != negotiation.id} - set(here))
    lines = [f"On the table ({kind}): {name}" for kind, name in here]
    lines += [f"Still open from last time ({kind}): {name}" for kind, name in carried]
    return tuple(lines)
