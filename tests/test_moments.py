"""Issue 10, end to end through the coach: every stored moment is said back with its year when not this one and
with how it was read; a person's day/month order; commitments due at a time; snoozes that say when they will
really come (quiet hours, the daily budget) and warn when they land after the call; a question answered once."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from coaching.models import Commitment, Negotiation, Nudge, User
from coaching.timelang import localize
from tests.conftest import make_actor
from tests.fakes import FakeClock

BERLIN = ZoneInfo("Europe/Berlin")


def berlin(text: str) -> datetime:
    return localize(datetime.fromisoformat(text), BERLIN).astimezone(UTC)


EVENING = berlin("2026-12-01 20:38")  # the Tuesday evening


async def at(clock: FakeClock, dispatcher, moment: datetime) -> None:
    clock.set(moment)
    await dispatcher.tick()


async def _count(sessions, model) -> int:
    async with sessions() as session:
        return await session.scalar(select(func.count()).select_from(model))


async def _pending(sessions) -> list[tuple[str, datetime]]:
    async with sessions() as session:
        rows = await session.scalars(select(Nudge).where(Nudge.status == "pending").order_by(Nudge.due_at))
        return [(row.kind, row.due_at) for row in rows]


# -- the echo --------------------------------------------------------------------------------------------------


async def test_a_moment_in_another_year_says_its_year_everywhere(coach, dispatcher, clock, sender, anna) -> None:
    clock.set(EVENING)
    logged = await coach.handle_text(anna, "log Yearling 2028-01-15 10:00")
    assert logged.text == "Logged #1: Yearling, Sat 15 Jan 2028 10:00 (60 min, video)."
    assert "Pre-call reminder: Sat 15 Jan 2028 09:30." in logged.plain_text()
    assert "#1 Yearling — Sat 15 Jan 2028 10:00" in (await coach.handle_text(anna, "list")).plain_text()
    assert (await coach.handle_text(anna, "prep 1")).text.startswith("Prep brief #1: Yearling, Sat 15 Jan 2028 10:00")
    committed = await coach.handle_text(anna, "commit 1 theirs sign the NDA by 2028-01-10")
    assert committed.text.endswith("sign the NDA by Mon 10 Jan 2028.")
    this_year = await coach.handle_text(anna, "log Acme friday 3pm")
    assert "Fri 04 Dec 15:00" in this_year.text and "2026" not in this_year.text
    # a nudge written in 2028 says moments of 2028 without the year
    await at(clock, dispatcher, berlin("2028-01-15 09:30"))
    [precall] = [message for _, message in sender.sent if message.kind == "precall"]
    assert "(Sat 15 Jan 10:00, video)" in precall.text


async def test_every_confirmation_says_how_the_moment_was_read(coach, clock, anna) -> None:
    clock.set(EVENING)
    logged = await coach.handle_text(anna, "log Orvane tomorow 3pm")
    assert logged.text.startswith("Logged #1: Orvane, Wed 02 Dec 15:00")
    assert "How I read it: “tomorow” read as “tomorrow”." in logged.plain_text()
    bare = await coach.handle_text(anna, "log Contoso friday 3")
    assert "How I read it: “3” read as 15:00." in bare.plain_text()
    moved = await coach.handle_text(anna, "reschedule 1 firday 10am")
    assert moved.text.startswith("Moved #1 with Orvane to Fri 04 Dec 10:00")
    assert "“firday” read as “friday”" in moved.plain_text()
    committed = await coach.handle_text(anna, "commit 1 ours send the deck by tuesdy")
    assert committed.text.endswith("by Tue 08 Dec.") and "“tuesdy” read as “tuesday”" in committed.plain_text()
    coffee = await coach.handle_text(anna, "coffee Orvane tomorow 8")
    assert coffee.text.startswith("Coffee chat with Orvane planned for Wed 02 Dec 08:00")
    assert "“8” read as 08:00" in coffee.plain_text()
    later = await coach.handle_text(anna, "later commitment 1 mondy 10am")
    assert later.text.startswith("⏰ I'll remind you about commitment #1 again Mon 07 Dec 10:00")
    assert "“mondy” read as “monday”" in later.plain_text()


async def test_in_20_minutes_says_the_clock_time_too(coach, clock, anna) -> None:
    clock.set(EVENING)
    logged = await coach.handle_text(anna, "log Initech in 20 minutes")
    assert logged.text == "Logged #1: Initech, Tue 01 Dec 20:58, in 20 min (60 min, video)."


# -- day/month order -------------------------------------------------------------------------------------------


async def test_settings_dates_changes_how_slashed_dates_read(coach, clock, anna) -> None:
    clock.set(EVENING)
    facts = dict((await coach.handle_text(anna, "settings")).sections[0].facts)
    assert facts["Dates"] == (
        "dmy, day first: 6/12 is 6 December (from your time zone); dotted dates (6.12.) are always day first"
    )
    assert (await coach.handle_text(anna, "log Acme 6/12 10am")).text.startswith("Logged #1: Acme, Sun 06 Dec 10:00")
    changed = await coach.handle_text(anna, "settings dates mdy")
    assert changed.text == "Updated dates."
    assert dict(changed.sections[0].facts)["Dates"] == (
        "mdy, month first: 6/12 is 12 June; dotted dates (6.12.) are always day first"
    )
    # the person's order now: 12/6 is 6 December, and the month is spelled out in the confirmation
    assert (await coach.handle_text(anna, "log Globex 12/6 10am")).text.startswith("Logged #2: Globex, Sun 06 Dec")
    assert (await coach.handle_text(anna, "log Hooli 6.12. 10am")).text.startswith("Logged #3: Hooli, Sun 06 Dec")
    assert (await coach.handle_text(anna, "settings dates month-last")).is_error


@pytest.mark.parametrize(
    ("zone", "locale", "read_as"),
    [
        ("Europe/London", "en-US", "Sun 06 Dec 10:00"),  # the platform's locale beats the zone
        ("America/New_York", "en-GB", "Fri 12 Jun 10:00"),
        ("America/New_York", None, "Sun 06 Dec 10:00"),  # no locale: the zone's region
        ("Europe/Berlin", None, "Fri 12 Jun 10:00"),  # (12 June: the nearest one, this year's)
    ],
)
async def test_the_platform_locale_sets_the_default_order(coach, clock, zone, locale, read_as) -> None:
    clock.set(EVENING)
    person = replace(make_actor("sam", zone), locale=locale)
    logged = await coach.handle_text(person, "log Acme 12/6 10am")
    assert logged.text.startswith(f"Logged #1: Acme, {read_as}"), logged.text
    async with coach.sessions() as session:
        assert await session.scalar(select(User.locale)) == locale


# -- commitments due at a time ---------------------------------------------------------------------------------


async def test_a_commitment_due_at_a_time_is_reminded_an_hour_before(
    coach, dispatcher, clock, sender, sessions, anna
) -> None:
    clock.set(EVENING)
    await coach.handle_text(anna, "log Acme yesterday 10am")
    committed = await coach.handle_text(anna, "commit 1 ours send the deck by tomorrow 5pm")
    assert committed.text == "Commitment #1 (ours): You → send the deck by Wed 02 Dec 17:00."
    assert "I'll remind you at Wed 02 Dec 16:00, once at Wed 02 Dec 18:00 if it is overdue." in committed.plain_text()
    async with sessions() as session:
        stored = await session.scalar(select(Commitment))
    assert stored.due_at == berlin("2026-12-02 17:00") and stored.due_on.isoformat() == "2026-12-02"
    assert "#1 we: send the deck — due Wed 02 Dec 17:00" in (await coach.handle_text(anna, "commitments")).plain_text()
    assert "due Wed 02 Dec 17:00" in (await coach.handle_text(anna, "prep 1")).plain_text()
    sender.clear()
    await at(clock, dispatcher, berlin("2026-12-02 15:59"))
    assert not [k for k in sender.kinds() if k.startswith("commitment")]
    await at(clock, dispatcher, berlin("2026-12-02 16:00"))
    [due] = [m for _, m in sender.sent if m.kind == "commitment_due"]
    assert due.text.startswith("Due today at 17:00: you promised Acme to send the deck.")
    await at(clock, dispatcher, berlin("2026-12-02 18:00"))
    assert [k for k in sender.kinds() if k.startswith("commitment")] == ["commitment_due", "commitment_overdue"]
    listed = await coach.handle_text(anna, "commitments")
    assert "⚠ OVERDUE" in listed.plain_text() and "1 overdue" in listed.text


async def test_a_commitment_due_on_a_day_keeps_the_nine_oclock_reminders(coach, sessions, clock, anna) -> None:
    clock.set(EVENING)
    await coach.handle_text(anna, "log Acme yesterday 10am")
    committed = await coach.handle_text(anna, "commit 1 ours send the deck by friday")
    assert committed.text.endswith("by Fri 04 Dec.")
    assert "I'll remind you the day before, on the day, once if it is overdue." in committed.plain_text()
    kinds = [(kind, due) for kind, due in await _pending(sessions) if kind.startswith("commitment")]
    assert kinds == [
        ("commitment_before", berlin("2026-12-03 09:00")),
        ("commitment_due", berlin("2026-12-04 09:00")),
        ("commitment_overdue", berlin("2026-12-05 09:00")),
    ]


async def test_a_commitment_snooze_past_its_due_time_brings_the_overdue_one(
    coach, dispatcher, clock, sender, anna
) -> None:
    clock.set(EVENING)
    await coach.handle_text(anna, "log Acme yesterday 10am")
    await coach.handle_text(anna, "commit 1 theirs send the NDA by tomorrow 2pm")
    await coach.handle_text(anna, "later commitment 1 tomorrow 3pm")  # after the due time, the same day
    sender.clear()
    await at(clock, dispatcher, berlin("2026-12-02 15:00"))
    [overdue] = [m for _, m in sender.sent if m.kind.startswith("commitment")]
    assert overdue.kind == "commitment_overdue"  # the snoozed one stands in for the one due at 13:00, too
    assert overdue.text.startswith("Overdue since Wed 02 Dec 14:00: Acme promised to send the NDA.")


# -- snoozes: when the nudge really comes ----------------------------------------------------------------------


async def test_a_snooze_into_quiet_hours_says_when_it_really_comes(coach, dispatcher, clock, sender, anna) -> None:
    clock.set(berlin("2026-11-30 15:00"))
    await coach.handle_text(anna, "log Hooli 2026-11-30 10:00")
    await coach.handle_text(anna, "outcome 1 hard-win yes")
    await at(clock, dispatcher, berlin("2026-12-01 15:00"))  # the repair note it planned
    clock.set(EVENING)
    snoozed = await coach.handle_text(anna, "later note 1")
    assert snoozed.text == (
        "⏰ I'll remind you about #1 with Hooli again Wed 02 Dec 08:00: you asked for Tue 01 Dec 20:48, in your "
        "quiet hours."
    )
    sender.clear()
    await at(clock, dispatcher, berlin("2026-12-02 07:59"))
    assert "repair_note" not in sender.kinds()
    await at(clock, dispatcher, berlin("2026-12-02 08:00"))
    assert sender.kinds() == ["repair_note"]


async def test_a_snooze_after_the_days_budget_says_the_next_morning(coach, dispatcher, clock, sender, anna) -> None:
    clock.set(berlin("2026-12-01 08:00"))
    await coach.handle_text(anna, "log Acme yesterday 10am")
    for what in ("send the deck", "send the NDA", "call back"):  # three reminders at 09:00: the day's budget
        await coach.handle_text(anna, f"commit 1 ours {what} by tomorrow")
    await at(clock, dispatcher, berlin("2026-12-01 09:00"))
    assert sender.kinds().count("commitment_before") == 3
    clock.set(berlin("2026-12-01 10:05"))
    snoozed = await coach.handle_text(anna, "later negotiation 1 60")
    assert snoozed.text == (
        "⏰ I'll remind you about #1 with Acme again Wed 02 Dec 08:00: you asked for Tue 01 Dec 11:05, but that "
        "day's nudges are used up."
    )
    sender.clear()
    await at(clock, dispatcher, berlin("2026-12-01 11:05"))
    assert sender.kinds() == []  # what the snooze said: not now...
    await at(clock, dispatcher, berlin("2026-12-02 08:00"))
    assert "followup" in sender.kinds()  # ...but the next morning


async def test_a_negotiation_snooze_past_the_call_warns_and_offers_before_it(coach, clock, sessions, anna) -> None:
    clock.set(EVENING)
    await coach.handle_text(anna, "log Initech 21:00")
    snoozed = await coach.handle_text(anna, "later negotiation 1 tomorrow")
    assert snoozed.text == "⏰ I'll remind you about #1 with Initech again Wed 02 Dec 09:00."
    assert "⚠ That is after the call: #1 with Initech starts Tue 01 Dec 21:00." in snoozed.plain_text()
    [before] = snoozed.buttons
    assert (before.label, before.value) == ("Before the call, 20:55", "later negotiation 1 2026-12-01T20:55+01:00")
    moved = await coach.handle_text(anna, before.value)
    assert moved.text == "⏰ I'll remind you about #1 with Initech again Tue 01 Dec 20:55, in 17 min."
    assert not moved.buttons
    later = [(kind, due) for kind, due in await _pending(sessions) if due in (berlin("2026-12-02 09:00"),)]
    assert later == []  # the snooze after the call was replaced by the one before it
    assert ("precall", berlin("2026-12-01 20:55")) in await _pending(sessions)


# -- the question: Yes or Edit, answered once ------------------------------------------------------------------


async def test_a_question_is_answered_once_whichever_way(coach, clock, sessions, anna) -> None:
    clock.set(EVENING)
    asked = await coach.handle_text(anna, "log Tyrell tmorow 3pm")
    assert asked.kind == "question" and await _count(sessions, Negotiation) == 0
    yes, edit = asked.buttons
    assert (yes.action_id, edit.action_id) == ("moment.confirm", "form.edit")
    assert edit.value == "log Tyrell tmorow 3pm"
    first = await coach.handle_text(anna, yes.value)
    second = await coach.handle_text(anna, yes.value)  # a double click, or a message delivered twice
    assert first.text.startswith("Logged #1: Tyrell") and second.text.startswith("That is stored already")
    assert await _count(sessions, Negotiation) == 1
    again = await coach.handle_text(anna, "list")  # any command ends it: the same words are a command again
    assert not again.is_error
    # the Edit: the corrected line is read as typed words are
    await coach.handle_text(anna, "log Acme Sun 3pm")
    corrected = await coach.handle_text(anna, "log Acme sunday 4pm")
    assert corrected.text.startswith("Logged #2: Acme, Sun 06 Dec 16:00")


# -- range: nothing from a form reaches the scheduler out of range ---------------------------------------------


async def test_a_far_moment_from_a_form_is_an_error_about_its_field(coach, clock, anna) -> None:
    from datetime import date

    from coaching import commands as c

    clock.set(EVENING)
    far = datetime(9999, 12, 31, 23, 0, tzinfo=UTC)
    logged = await coach.handle(c.LogNegotiation(anna, counterpart="Acme", when=far))
    assert logged.is_error and logged.extra == {"field": "when"} and "ten years" in logged.text
    await coach.handle_text(anna, "log Acme yesterday 10am")
    committed = await coach.handle(c.AddCommitment(anna, negotiation=1, side="ours", text="x", due=date(9999, 12, 31)))
    assert committed.is_error and committed.extra == {"field": "due"}
    typed = await coach.handle(c.AddCommitment(anna, negotiation=1, side="ours", text="x", due_words="tomorrow 5pm"))
    assert typed.text == "Commitment #1 (ours): You → x by Wed 02 Dec 17:00."
    unreadable = await coach.handle(c.AddCommitment(anna, negotiation=1, side="ours", text="x", due_words="soon"))
    assert unreadable.is_error and unreadable.text == "I couldn't read “soon” as a due date."
    unsure = await coach.handle(c.AddCommitment(anna, negotiation=1, side="ours", text="x", due_words="tmorow"))
    assert unsure.text == "I read “tmorow” as Wed 02 Dec 09:00: to be sure, type 2026-12-02."


async def test_digest_weeks_out_of_range_get_a_specific_error(coach, clock, anna) -> None:
    clock.set(EVENING)
    await coach.handle_text(anna, "team add @ben")
    for text, expected in (
        ("digest 9999-W52", "9999-W52 hasn't started yet."),
        ("digest 2026-W60", "2026 has no week 60."),
        ("digest 2026-W53", "2026-W53 hasn't started yet."),
        ("digest 2027-W53", "2027 has no week 53."),
        ("digest 1990-W01", "1990-W01 is more than ten years back."),
        ("digest 2027-W01", "2027-W01 hasn't started yet."),
    ):
        reply = await coach.handle_text(anna, text)
        assert reply.is_error and reply.text == expected, (text, reply.text)
    assert not (await coach.handle_text(anna, "digest 2026-W48")).is_error


async def test_the_cli_digest_reads_the_week_like_the_command(database_url, monkeypatch, capsys) -> None:
    import asyncio

    from bot.cli import main
    from bot.database import make_engine, make_sessions
    from coaching.engine import Coach

    engine = make_engine(database_url)
    coach = Coach(make_sessions(engine), FakeClock(EVENING))
    await coach.handle_text(make_actor("anna"), "team add @ben")
    await engine.dispose()
    monkeypatch.setenv("DATABASE_URL", database_url)
    for week, expected in (("9999-W52", "9999-W52 hasn't started yet"), ("2026-W60", "2026 has no week 60")):
        code = await asyncio.to_thread(main, ["digest", "--workspace", "local", "--lead", "anna", "--week", week])
        assert code == 2
        assert capsys.readouterr().err == f"dealcoach: {expected}\n"


async def test_a_week_of_two_years_says_the_second_year(coach, clock, anna) -> None:
    clock.set(datetime(2027, 1, 4, 9, 0, tzinfo=UTC))
    await coach.handle_text(anna, "team add @ben")
    reply = await coach.handle_text(anna, "digest 2026-W53")
    assert "Mon 28 Dec – Sun 03 Jan 2027" in reply.text, reply.text


async def test_the_export_has_a_commitments_due_time(coach, clock, anna) -> None:
    import json

    clock.set(EVENING)
    await coach.handle_text(anna, "log Acme yesterday 10am")
    await coach.handle_text(anna, "commit 1 ours send the deck by tomorrow 5pm")
    await coach.handle_text(anna, "commit 1 ours call back by friday")
    await coach.handle_text(anna, "settings dates mdy")
    export = await coach.export_file(anna.address)
    data = json.loads(export.data)
    timed, daily = data["commitments"]
    assert (timed["due_on"], timed["due_at"]) == ("2026-12-02", "2026-12-02T16:00:00+00:00")
    assert (daily["due_on"], daily["due_at"]) == ("2026-12-04", None)
    assert data["user"]["date_order"] == "mdy"
