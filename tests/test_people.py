"""Who sees what: two reps (Anna, Bob) and a lead (Lena) in one workspace.

A person's data is theirs: for every command that takes a name or an id, a colleague's command neither shows
nor changes it — names included (no answer carries Anna's spelling, or differs because Anna uses a name). A lead
sees a rep only once the rep accepted, and then their history too."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from coaching.models import Commitment, Counterpart, Handoff, Negotiation, Nudge, TeamMember, Touchpoint, User
from coaching.parser import PARSERS
from tests.conftest import make_actor

ANNA, BOB, LENA = make_actor("anna"), make_actor("bob"), make_actor("lena")
SECRET_NAME = "Zephyr Secret Holdings"  # Anna's spelling; the others type it in lower case
SECRETS = (SECRET_NAME, "sailing", "send pricing", "nda from legal")  # what Anna typed


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


async def say(coach, actor, text: str):
    reply = await coach.handle_text(actor, text)
    assert not reply.is_error, (text, reply.plain_text())
    return reply


async def annas_world(coach, clock, dispatcher) -> None:
    """Anna deals with Zephyr Secret Holdings: a held negotiation with a hard win, commitments both ways, a note,
    lever-of-links answers, long-term and snoozed; she accepted Lena's invitation. Bob has used DealCoach too."""
    clock.set(utc(2026, 11, 24, 9, 0))
    await say(coach, BOB, "help")
    await say(coach, LENA, "team add anna")
    await say(coach, ANNA, "team accept lena")
    await say(coach, ANNA, f'log "{SECRET_NAME}" yesterday 10am')
    await say(coach, ANNA, "outcome 1 result agreed sentiment 2 hard-win yes gave 3 got 0")
    await say(coach, ANNA, "commit 1 ours send pricing by friday")
    await say(coach, ANNA, "commit 1 theirs nda from legal by friday")
    await say(coach, ANNA, f'note "{SECRET_NAME}": loves sailing')
    await say(coach, ANNA, f'links "{SECRET_NAME}" yes no yes no')
    await say(coach, ANNA, f'counterpart "{SECRET_NAME}" long-term on')
    await say(coach, ANNA, f'snooze "{SECRET_NAME}" 7')
    await say(coach, ANNA, f'log "{SECRET_NAME}" friday 3pm')
    await dispatcher.tick()


async def annas_rows(sessions) -> list[tuple]:
    """Everything stored about Anna's deals, as comparable tuples."""
    async with sessions() as session:
        anna = await session.scalar(select(User).where(User.external_id == "anna"))
        rows: list[tuple] = []
        for model, owner in (
            (Counterpart, Counterpart.owner_id),
            (Negotiation, Negotiation.owner_id),
            (Commitment, Commitment.owner_id),
            (Touchpoint, Touchpoint.user_id),
            (Nudge, Nudge.user_id),
        ):
            query = select(model).where(owner == anna.id).order_by(model.id)
            if model is Nudge:  # her deals' nudges; a lead may remove her from his team, and she is told
                query = query.where(Nudge.kind.not_in(("team_news", "team_invite")))
            for row in await session.scalars(query):
                values = {c.name: getattr(row, c.name) for c in model.__table__.columns}
                if model is Nudge:  # the outbox's own bookkeeping moves with every tick
                    values = {k: values[k] for k in ("key", "kind", "due_at", "status")}
                rows.append((model.__name__, tuple(sorted(values.items(), key=lambda kv: kv[0]))))
        return rows


def shown(reply) -> str:
    return reply.plain_text() + " ".join(button.value for button in reply.buttons)


# Every command that takes a counterpart's name ({name}) or one of one's own ids ({id}), as a colleague might try
# it on Anna's. "{name}" is typed as colleagues would (lower case); the same probe with a name nobody uses must get
# the same answer (nothing tells whether Anna uses it).
PROBES: dict[str, tuple[str, ...]] = {
    "log": ("log {name} in 3 days 3pm",),
    "coffee": ("coffee {name}",),
    "call": ("call {name}: asked about the merger",),
    "note": ("note {name}: sent flowers",),
    "snooze": ("snooze {name} 30",),
    "links": ("links {name} no no no no",),
    "counterpart": (
        "counterpart {name}",
        "counterpart {name} long-term off",
        "counterpart {name} rename Mine Inc",
        "counterpart {name} merge Mine Inc",
        "counterpart {name} domain mine.example",
    ),
    "calendar": ("calendar ignore {id}", "calendar ignore {id} series"),
    "prep": ("prep {id}",),
    "frame": ("frame {id} one-off",),
    "done": ("done {id} it went badly",),
    "outcome": ("outcome {id} result no-deal",),
    "followup": ("followup {id} thanks",),
    "reschedule": ("reschedule {id} tomorrow 9am",),
    "cancel": ("cancel {id}",),
    "commit": ("commit {id} ours something",),
    "issues": ("issues {id} price",),
    "handoff": ("handoff {id} @bob",),
    "kept": ("kept {id}",),
    "missed": ("missed {id}",),
    "later": ("later negotiation {id} 30", "later commitment {id} 30", "later note {id} 30", "later check-in {id} 30"),
    "team": ("team remove {person}", "team accept {person}", "team decline {person}"),
}
NO_NAME_OR_ID = {"help", "list", "commitments", "counterparts", "due", "ok", "skip", "export", "forget-me", "settings"}
NO_NAME_OR_ID |= {"digest"}  # a lead's own team: see the digest tests below


def test_every_command_that_takes_a_name_or_an_id_is_probed() -> None:
    assert set(PROBES) | NO_NAME_OR_ID == set(PARSERS)


CASES = [(word, probe) for word, probes in PROBES.items() for probe in probes]


@pytest.mark.parametrize("who", ["bob", "lena"])
@pytest.mark.parametrize(("word", "probe"), CASES, ids=[probe for _, probe in CASES])
async def test_a_colleague_neither_sees_nor_changes_annas_data(
    coach, clock, dispatcher, sessions, who, word, probe
) -> None:
    await annas_world(coach, clock, dispatcher)
    colleague = {"bob": BOB, "lena": LENA}[who]
    before = await annas_rows(sessions)

    used = probe.format(name=SECRET_NAME.lower(), id=1, person="anna")
    unused = probe.format(name="quasar quiet partners", id=99, person="nobody")
    answer = await coach.handle_text(colleague, used)
    await dispatcher.tick()

    assert await annas_rows(sessions) == before  # nothing of Anna's changed
    for secret in SECRETS:
        assert secret not in shown(answer), (used, answer.plain_text())
    if answer.is_error:  # the same answer as for a name (or number) nobody uses
        other = await coach.handle_text(colleague, unused)
        assert other.is_error
        assert other.text.replace("quasar quiet partners", "NAME").replace("99", "N").replace("nobody", "P") == (
            answer.text.replace(SECRET_NAME.lower(), "NAME").replace("1", "N").replace("anna", "P")
        )


async def test_a_colleague_typing_annas_name_gets_their_own_counterpart_in_their_own_spelling(
    coach, clock, dispatcher, sessions
) -> None:
    await annas_world(coach, clock, dispatcher)
    logged = await say(coach, BOB, "log zephyr secret holdings friday 10am")
    assert "Logged #1: zephyr secret holdings" in logged.text
    off = await say(coach, BOB, "counterpart zephyr secret holdings long-term off")  # the probe
    assert off.text == "zephyr secret holdings is no longer marked long-term."
    async with sessions() as session:
        flags = dict((await session.execute(select(Counterpart.name, Counterpart.long_term))).all())
    assert flags == {SECRET_NAME: True, "zephyr secret holdings": False}  # Anna's reminders are still on
    listed = await say(coach, BOB, "counterparts")
    assert SECRET_NAME not in listed.plain_text() and "zephyr secret holdings" in listed.plain_text()
    # Bob's near misses come from Bob's own names only
    asked = await say(coach, BOB, "snooze Zephyr Secret Holding")
    assert asked.text == "Did you mean zephyr secret holdings?"
    bare = await coach.handle_text(LENA, "snooze Zephyr Secret Holding")  # Lena has none: no hint of Anna's
    assert (
        bare.is_error
        and bare.text == "You have no counterpart called “Zephyr Secret Holding”. `counterparts` lists yours."
    )


async def test_forget_me_removes_the_counterpart_names_a_rep_typed(coach, clock, dispatcher, sessions) -> None:
    await annas_world(coach, clock, dispatcher)
    await say(coach, BOB, "log zephyr secret holdings friday 10am")
    assert (await coach.handle_text(LENA, "handoff 1 @anna heads-up")).is_error  # Lena has no #1
    await say(coach, ANNA, "forget-me confirm")
    async with sessions() as session:
        names = (await session.scalars(select(Counterpart.name))).all()
        members = (await session.scalars(select(TeamMember.id))).all()
        handoffs = (await session.scalars(select(Handoff.id))).all()
    assert names == ["zephyr secret holdings"]  # Bob's own; Anna's spelling is gone
    assert members == [] and handoffs == []
    digest = await say(coach, LENA, "digest this week")
    assert "Anna" not in digest.plain_text() and SECRET_NAME not in digest.plain_text()


async def test_a_hand_off_shares_exactly_the_note_sent_with_its_recipient(coach, clock, dispatcher, sender) -> None:
    await annas_world(coach, clock, dispatcher)
    await say(coach, ANNA, "outcome 1 noticed her CFO is leaving in March")  # Anna's own observation
    sender.clear()
    sent = await say(coach, ANNA, "handoff 1 @bob they felt squeezed on price")
    assert "not your own notes" in sent.plain_text()
    await dispatcher.tick()
    [(address, note)] = [(a, m) for a, m in sender.sent if m.kind == "handoff"]
    assert address.user == "bob"
    text = note.plain_text()
    assert "they felt squeezed on price" in text and SECRET_NAME in text  # the note, about whom
    for private in ("CFO", "sailing", "send pricing", "nda from legal"):
        assert private not in text, private


# -- leads by consent ----------------------------------------------------------------------------------------


async def test_the_lead_sees_a_rep_only_after_the_rep_accepted_and_then_last_week_too(coach, clock, sender, dispatcher):
    clock.set(utc(2026, 11, 17, 9, 0))  # W47
    await say(coach, BOB, "log Acme 2026-11-17 10:00")  # before Bob is on anyone's team
    await say(coach, BOB, "outcome 1 connection yes")
    clock.set(utc(2026, 11, 25, 9, 0))  # W48
    invited = await say(coach, LENA, "team add bob")
    assert invited.text == "Invited Bob to your team."
    waiting = await say(coach, LENA, "digest")  # last week: Bob has not said yes
    assert "Per rep" not in [s.heading for s in waiting.sections]  # no figures of Bob's
    assert {label: value for s in waiting.sections for label, value in s.facts}["Negotiations held"] == "0 (±0)"
    assert any("Invited, not joined yet: Bob" in line for s in waiting.sections for line in s.lines)
    listing = await say(coach, LENA, "team list")
    assert "Bob — invited Wed 25 Nov, hasn't answered yet" in listing.plain_text()
    await dispatcher.tick()
    [(address, invitation)] = [(a, m) for a, m in sender.sent if m.kind == "team_invite"]
    assert address.user == "bob" and [b.value for b in invitation.buttons] == ["team accept lena", "team decline lena"]

    await say(coach, BOB, "team accept lena")
    digest = await say(coach, LENA, "digest")  # the same week, now with Bob's history
    facts = {label: value for s in digest.sections for label, value in s.facts}
    assert facts["Negotiations held"] == "1 (+1)" and facts["Personal connection"].startswith("100%")
    assert any(line.startswith("Bob — 1 held") for s in digest.sections for line in s.lines)
    assert "Your lead: Lena" in (await say(coach, BOB, "team")).plain_text()
    await dispatcher.tick()
    assert any(m.kind == "team_news" and "Bob accepted" in m.text for _, m in sender.sent)


async def test_a_rep_declines_or_leaves_and_the_lead_is_told(coach, clock, sender, dispatcher) -> None:
    await say(coach, LENA, "team add anna")
    declined = await say(coach, ANNA, "team decline")
    assert declined.text == "Declined Lena's invitation; I've let them know."
    assert (await coach.handle_text(ANNA, "team accept lena")).is_error  # nothing left to accept
    await say(coach, LENA, "team add anna")
    await say(coach, ANNA, "team accept Lena")
    left = await say(coach, ANNA, "team leave")
    assert left.text == "You left Lena's team."
    assert (await coach.handle_text(ANNA, "team leave")).is_error
    await dispatcher.tick()
    news = {m.text for a, m in sender.sent if m.kind == "team_news" and a.user == "lena"}
    assert news == {
        "Anna declined your invitation to your team.",
        "Anna accepted your invitation: their figures are in your digest now, past weeks included.",
        "Anna left your team; past weeks still show their work.",
    }


async def test_a_rep_on_another_leads_team_is_not_silently_moved(coach, clock, sender, dispatcher) -> None:
    otto = make_actor("otto")
    await say(coach, LENA, "team add anna")
    await say(coach, ANNA, "team accept")
    asked = await say(coach, otto, "team add anna")
    assert "Anna is on another lead's team at the moment; moving is their call." in asked.plain_text()
    assert "Your lead: Lena" in (await say(coach, ANNA, "team")).plain_text()  # still Lena's
    several = await coach.handle_text(ANNA, "team accept")  # only one invitation open (Otto's): that one
    assert several.text == "You're on Otto's team."
    assert "Your lead: Otto" in (await say(coach, ANNA, "team")).plain_text()
    await dispatcher.tick()
    assert any(a.user == "lena" and "Anna moved to another lead's team" in m.text for a, m in sender.sent)


async def test_a_workspace_admins_add_needs_no_consent_and_the_rep_is_told(sessions, clock, dispatcher, sender):
    from coaching.engine import Coach

    coach = Coach(sessions, clock, admins={"lena"})  # DEALCOACH_ADMINS=lena
    added = await say(coach, LENA, "team add anna")
    assert added.text.startswith("Added anna to your team. As a workspace admin you need no consent")
    assert "Your lead: Lena" in (await say(coach, ANNA, "team")).plain_text()
    await Dispatcher_for(sessions, coach, sender, clock).tick()
    [told] = [m for a, m in sender.sent if a.user == "anna"]
    assert told.kind == "team_news" and told.text.startswith("Lena added you to their team")
    # an admin does not move someone off another lead's team either
    otto = make_actor("otto")
    moved = await say(Coach(sessions, clock, admins={"otto"}), otto, "team add anna")
    assert moved.text == "Invited Anna to your team."


def Dispatcher_for(sessions, coach, sender, clock):  # noqa: N802 - reads like the class it builds
    from coaching.outbox import Dispatcher

    return Dispatcher(sessions, coach, {"console": sender}, clock, worker="admin-test")


async def test_an_invitation_reaches_a_rep_with_nudges_off(coach, sender, dispatcher) -> None:
    await say(coach, ANNA, "settings nudges off")
    await say(coach, LENA, "team add anna")
    await dispatcher.tick()
    assert [m.kind for a, m in sender.sent if a.user == "anna"] == ["team_invite"]
