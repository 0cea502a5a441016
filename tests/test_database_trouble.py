"""Database trouble is never the person's problem: a transient error (here a lock nobody releases in
time) is told apart from a real failure, and whoever cannot retry says plainly that nothing was saved."""

from __future__ import annotations

from sqlalchemy import func, select

from bot.database import make_sessions
from coaching.engine import Coach
from coaching.metrics import REGISTRY
from coaching.models import Negotiation
from coaching.transient import was_not_saved
from tests.trouble import impatient_engine, locked


async def test_a_command_that_meets_a_locked_database_says_it_was_not_saved(database_url, clock, anna):
    engine = impatient_engine(database_url)
    coach = Coach(make_sessions(engine), clock)
    transient = ("dealcoach_transient_db_errors_total", {"where": "console command"})
    before = REGISTRY.get_sample_value(*transient) or 0
    try:
        async with locked(database_url, "users"):
            reply = await coach.handle_text(anna, "log Acme tomorrow 3pm")
        assert was_not_saved(reply) and reply.is_error
        assert "not saved" in reply.text and "Nothing was changed" not in reply.text
        assert REGISTRY.get_sample_value(*transient) == before + 1
        async with engine.connect() as connection:
            assert await connection.scalar(select(func.count()).select_from(Negotiation)) == 0
        again = await coach.handle_text(anna, "log Acme tomorrow 3pm")  # the lock is gone: no restart needed
        assert "Acme" in again.text and not again.is_error
    finally:
        await engine.dispose()
