"""No typed input reaches "Sorry, something went wrong" (hypothesis, through ``Coach.handle_text``): arbitrary
text and time words in every command that reads a moment or a week, on clocks from 2025 to 2028 in three zones,
against one database that keeps what earlier examples stored (negotiations, commitments, a team, questions)."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.conftest import make_actor
from tests.test_timelang_properties import TEMPLATES, phrases

PEOPLE = [make_actor("anna", "Europe/Berlin"), make_actor("nick", "America/New_York"), make_actor("kei", "Asia/Tokyo")]
MORE_TEMPLATES = (
    *TEMPLATES,
    "log Acme {} for 45 minutes via phone",
    "later negotiation 1 {}",
    "later check-in 1 {}",
    "commit 2 theirs sign it by {}",
    "reschedule 2 {}",
    "coffee {}",
    "settings timezone {}",
    "{} yes",
)
weeks = st.sampled_from(["9999-W52", "2026-W60", "2026-W48", "0001-W01", "2026W53", "W48 2026", "this week"])
clocks = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.just(UTC))
SETUP = ("log Acme yesterday 10am", "log Globex tomorrow 3pm", "commit 1 ours send it by friday", "team add @ben")
_seeded: set[int] = set()  # the coach (and its database) is one for all the examples: seed it once


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@example(PEOPLE[0], "digest {}", "9999-W52", datetime(2026, 12, 1, 19, 38, tzinfo=UTC), False)
@example(PEOPLE[1], "digest {}", "2026-W60", datetime(2026, 12, 1, 19, 38, tzinfo=UTC), False)
@example(PEOPLE[2], "log Acme {}", "in 99999999 days", datetime(2026, 12, 1, 19, 38, tzinfo=UTC), False)
@example(PEOPLE[0], "log Xandor {}", "tomorrow 25:00", datetime(2026, 12, 1, 19, 38, tzinfo=UTC), False)
@example(PEOPLE[0], "later negotiation 1 {}", "9999-12-31", datetime(2026, 12, 1, 19, 38, tzinfo=UTC), True)
@example(PEOPLE[1], "log Tyrell {}", "3 days from 11am", datetime(2026, 12, 1, 19, 38, tzinfo=UTC), True)
@example(PEOPLE[2], "log Acme {}", "Sun 3pm", datetime(2026, 12, 31, 14, 59, tzinfo=UTC), True)
@example(PEOPLE[0], "commit 1 ours send it by {}", "\x00", datetime(2025, 1, 1, tzinfo=UTC), False)
@example(PEOPLE[1], "log Acme {}", "\ud800", datetime(2025, 1, 1, tzinfo=UTC), False)
@given(
    st.sampled_from(PEOPLE),
    st.sampled_from(MORE_TEMPLATES),
    st.one_of(weeks, phrases, st.text(max_size=40)),
    clocks,
    st.booleans(),
)
async def test_no_typed_text_gets_something_went_wrong(coach, clock, person, template, words, now, answer) -> None:
    clock.set(now)
    if id(coach) not in _seeded:
        _seeded.add(id(coach))
        for line in SETUP:
            for someone in PEOPLE:
                await coach.handle_text(someone, line)
    reply = await coach.handle_text(person, template.format(words))
    assert "went wrong" not in reply.plain_text(), (template.format(words), reply.plain_text())
    if answer and reply.buttons:  # what a click on its first button (a question's Yes, a snooze) does
        clicked = await coach.handle_text(person, reply.buttons[0].value)
        assert "went wrong" not in clicked.plain_text(), (reply.buttons[0].value, clicked.plain_text())


async def test_a_character_no_database_keeps_is_refused_and_nothing_is_stored(coach) -> None:
    """PostgreSQL refuses NUL in text and no driver encodes a lone surrogate: both are refused on every database."""
    anna = make_actor("anna", "Europe/Berlin")
    await coach.handle_text(anna, "log Acme tomorrow 3pm")
    for line in ("commit 1 ours send it by \x00friday", "log Glo\x00bex tomorrow 4pm", "note 1 \ud83d broken"):
        reply = await coach.handle_text(anna, line)
        assert "can't keep" in reply.plain_text(), reply.plain_text()
    assert "Globex" not in (await coach.handle_text(anna, "list")).plain_text()
    assert "friday" not in (await coach.handle_text(anna, "commitments")).plain_text()
