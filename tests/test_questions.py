"""A question the coach asked (coaching.questions): the next thing typed is offered to it first, it lapses, and
any command ends it — through the coach's public seam."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from coaching.models import Negotiation
from tests.conftest import make_actor


async def _negotiations(sessions) -> list[str]:
    async with sessions() as session:
        rows = await session.scalars(select(Negotiation).order_by(Negotiation.number))
        return [f"#{n.number} {n.counterpart.name} {n.starts_at.isoformat()}" for n in rows]


async def _count(sessions) -> int:
    async with sessions() as session:
        return await session.scalar(select(func.count()).select_from(Negotiation))


async def test_a_typed_yes_runs_what_was_proposed(coach, sessions) -> None:
    anna = make_actor("anna", "Europe/Berlin")
    asked = await coach.handle_text(anna, "log Acme Sun 3pm")
    assert "is that right?" in asked.text and await _count(sessions) == 0
    logged = await coach.handle_text(anna, "Yes!")
    assert logged.text.startswith("Logged #1: Acme, Sun 29 Nov 15:00")
    [stored] = await _negotiations(sessions)
    assert stored.startswith("#1 Acme")
    # the question is answered: a second yes is not a confirmation of anything
    again = await coach.handle_text(anna, "yes")
    assert again.is_error and await _count(sessions) == 1


async def test_no_stores_nothing(coach, sessions) -> None:
    anna = make_actor("anna", "Europe/Berlin")
    await coach.handle_text(anna, "log Acme Sun 3pm")
    reply = await coach.handle_text(anna, "no")
    assert reply.text.startswith("OK, nothing stored") and await _count(sessions) == 0


async def test_a_question_lapses(coach, clock, sessions) -> None:
    anna = make_actor("anna", "Europe/Berlin")
    await coach.handle_text(anna, "log Acme Sun 3pm")
    clock.advance(timedelta(minutes=31))
    late = await coach.handle_text(anna, "yes")
    assert late.is_error and await _count(sessions) == 0


async def test_any_command_ends_the_question(coach, sessions) -> None:
    anna = make_actor("anna", "Europe/Berlin")
    await coach.handle_text(anna, "log Acme Sun 3pm")
    listed = await coach.handle_text(anna, "list")
    assert not listed.is_error
    after = await coach.handle_text(anna, "yes")
    assert after.is_error and await _count(sessions) == 0


async def test_a_question_is_each_persons_own(coach, sessions) -> None:
    anna, ben = make_actor("anna", "Europe/Berlin"), make_actor("ben", "Europe/Berlin")
    await coach.handle_text(anna, "log Acme Sun 3pm")
    bens = await coach.handle_text(ben, "yes")
    assert bens.is_error and await _count(sessions) == 0
    annas = await coach.handle_text(anna, "yes")
    assert annas.text.startswith("Logged #1: Acme")
