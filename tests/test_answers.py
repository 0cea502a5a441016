"""A coach that feels like a colleague: the outcome asked one question at a time, a counterpart directory with
"did you mean …?", and answers that don't mislead (lists, nudges off, greetings, typos, time zones, prep)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from coaching.models import Counterpart, Negotiation, Nudge
from tests.conftest import make_actor

ANNA = make_actor("anna")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


async def say(coach, text: str, actor=ANNA):
    reply = await coach.handle_text(actor, text)
    assert not reply.is_error, (text, reply.plain_text())
    return reply


def lines(reply) -> list[str]:
    return [line for section in reply.sections for line in section.lines]


def section(reply, heading: str) -> list[str]:
    return next(list(s.lines) for s in reply.sections if s.heading == heading)


# -- the outcome, one question at a time ------------------------------------------------------------------------


async def test_done_walks_the_rep_through_the_outcome_and_a_hard_win_brings_the_repair_plan(coach, sessions) -> None:
    await say(coach, "log Initech yesterday 4pm")
    first = await say(coach, "done 1 tough call")
    assert first.text == "#1 with Initech: how did it end?"
    assert [b.value for b in first.buttons] == [
        "outcome 1 result agreed",
        "outcome 1 result partial",
        "outcome 1 result no-deal",
        "outcome 1 result postponed",
        "skip",
    ]
    answers = {  # typed the way people answer, no `outcome` syntax
        "agreed": "did you open with personal connection",
        "yes": "how did Initech feel about it, from 1 (upset) to 5 (happy)?",
        "2": "was it a hard win",
        "Yes!": "how many concessions did you give?",
        "3": "and how many did you get in return?",
        "0": "anything personal you noticed",
    }
    care = None
    for typed, next_question in answers.items():
        reply = await say(coach, typed)
        assert next_question in reply.text, (typed, reply.text)
        care = care or next((s for s in reply.sections if s.heading == "Relationship care"), None)
    assert care is not None and "A hard win can be a future loss" in care.lines[0]  # after "sentiment 2"
    done = await say(coach, "her daughter starts university in Lyon")
    assert done.text == (
        "Recorded the outcome of #1 with Initech: agreed · opened with personal connection · sentiment 2/5 · "
        "a hard win · gave 3 · got 0."
    )
    async with sessions() as session:
        negotiation = await session.scalar(select(Negotiation))
        repairs = (await session.scalars(select(Nudge.kind).where(Nudge.kind.like("repair%")))).all()
    assert (negotiation.notes, negotiation.observations) == ("tough call", "her daughter starts university in Lyon")
    assert sorted(repairs) == ["repair_checkin", "repair_note"]  # the repair plan, without `outcome hard-win yes`


async def test_skip_ends_the_questions_and_keeps_what_was_answered(coach, sessions) -> None:
    await say(coach, "log Initech yesterday 4pm")
    await say(coach, "done 1")
    await say(coach, "partial")
    confused = await say(coach, "maybe")  # no answer to "did you open with personal connection?"
    assert confused.text.startswith("I didn't get that. Answer Yes, No")
    skipped = await say(coach, "skip")
    assert skipped.text == "Recorded the outcome of #1 with Initech: partial."
    stray = await coach.handle_text(ANNA, "yes")  # nothing is asked any more
    assert stray.is_error and stray.text.startswith("I haven't asked you anything just now")
    async with sessions() as session:
        negotiation = await session.scalar(select(Negotiation))
    assert (negotiation.status, negotiation.outcome, negotiation.opened_with_connection) == ("done", "partial", None)


async def test_a_command_ends_the_questions_and_a_button_works_after_they_lapsed(coach, clock) -> None:
    await say(coach, "log Initech yesterday 4pm")
    await say(coach, "done 1")
    assert (await say(coach, "list")).text.startswith("Your negotiations")  # a command: the question is over
    assert (await coach.handle_text(ANNA, "agreed")).is_error  # no longer read as an answer
    clock.advance(hours=5)
    clicked = await say(coach, "outcome 1 result agreed")  # the old button: a full command
    assert (
        clicked.text
        == "#1 with Initech: did you open with personal connection — the first minutes on them, not the deal?"
    )
    # the one-line structured outcome still records everything at once, no questions
    whole = await say(coach, "outcome 1 connection yes sentiment 4 hard-win no gave 1 got 1 noticed new CFO")
    assert whole.text.startswith("Updated the outcome of #1 with Initech")


async def test_done_on_a_call_that_has_not_started_asks_first(coach, sessions) -> None:
    await say(coach, "log Acme friday 3pm")
    asked = await say(coach, "done 1 went well")
    assert asked.text == "#1 with Acme is still ahead: Fri 27 Nov 15:00. Has it happened already?"
    assert [b.value for b in asked.buttons] == ["done 1 anyway went well"]
    async with sessions() as session:
        assert (await session.scalar(select(Negotiation.status))) == "scheduled"  # nothing recorded yet
    held = await say(coach, "yes")
    assert held.text == "#1 with Acme: how did it end?"
    assert "Recorded as held just now (it was logged for Fri 27 Nov 15:00)." in lines(held)
    listing = await say(coach, "list")
    assert [s.heading for s in listing.sections] == ["Recent"]
    assert (await coach.handle_text(ANNA, "no")).text.startswith("I haven't asked you anything")  # changes nothing


# -- the counterpart directory ------------------------------------------------------------------------------


async def test_a_near_miss_name_asks_did_you_mean_in_every_command_that_takes_a_counterpart(coach, sessions) -> None:
    await say(coach, "log Initech friday 3pm")
    for text in (
        "counterpart Initec long-term on",
        "log initec monday 10am",
        "coffee Initec",
        "call Initec: said hello",
        "note Initec: sent a card",
        "snooze Initec 10",
        "links Initec yes yes no no",
        "counterpart Initec",
        "counterpart Initec rename Initech Corp",
        "counterpart Initec merge Initech",
    ):
        reply = await say(coach, text)
        assert reply.text == "Did you mean Initech?", text
    async with sessions() as session:
        assert (await session.scalars(select(Counterpart.name))).all() == ["Initech"]  # no second one

    await say(coach, "counterpart Initec long-term on")
    on = await say(coach, "yes")  # a typed yes picks the suggestion
    assert on.text.startswith("Initech is a long-term relationship")
    await say(coach, "log initec monday 10am")
    new = await say(coach, "no")  # no: the name as typed is a new counterpart
    assert new.text.startswith("Logged #2: initec")
    quoted = await say(coach, 'coffee "Initek"')  # a quoted name is taken as it is
    assert quoted.text.startswith("Coffee chat with Initek recorded")


async def test_counterparts_show_rename_merge_and_due(coach, clock) -> None:
    clock.set(utc(2026, 10, 1, 9, 0))
    await say(coach, "log Initech 2026-09-20 10:00")
    await say(coach, "outcome 1 result agreed sentiment 4 gave 2 got 0")
    await say(coach, "commit 1 theirs send the NDA by 2026-10-09")
    await say(coach, "note Initech: Jo runs marathons")
    await say(coach, "links Initech yes yes yes no")
    await say(coach, "counterpart Initech long-term on")
    await say(coach, 'log "Initech GmbH" 2026-09-01 10:00')
    listing = await say(coach, "counterparts")
    assert lines(listing)[:2] == [
        "Initech — last contact today · long-term · open commitments: 0 ours, 1 theirs",
        "Initech GmbH — last contact 30 days ago",
    ]
    shown = await say(coach, "counterpart initech")
    assert shown.text == "Initech — long-term, last contact today."
    assert section(shown, "Negotiations") == ["#1 Sun 20 Sep 10:00 — agreed — sentiment 4/5"]
    assert (
        section(shown, "Concession ledger")[0] == "Concessions with Initech: 2 given, 0 received over 1 negotiation(s)."
    )
    assert section(shown, "Open commitments") == ["#1 Initech: send the NDA — due Fri 09 Oct"]
    assert section(shown, "What you know about them") == ["Jo runs marathons"]
    assert "Leverage score: 3/4" in " ".join(section(shown, "Lever of links (sales)"))
    merged = await say(coach, 'counterpart "Initech GmbH" merge Initech')
    assert merged.text == (
        "Merged Initech GmbH into Initech: 1 negotiation(s), 0 commitment(s), 0 touchpoint(s) moved. "
        "Initech GmbH is gone from your counterparts."
    )
    renamed = await say(coach, "counterpart Initech rename Initech AG")
    assert renamed.text.startswith("Renamed Initech to Initech AG")
    assert "#2 Initech AG" in (await say(coach, "list")).plain_text()
    respelled = await say(coach, 'counterpart "Initech AG" rename InitecH AG')  # the same name, spelled anew
    assert respelled.text.startswith("Renamed Initech AG to InitecH AG")
    await say(coach, "counterpart InitecH AG rename Initech AG")
    clock.set(utc(2026, 10, 25, 9, 0))  # 24 days without contact: due; past 30 it is overdue
    due = await say(coach, "due")
    assert due.text == "1 relationship(s) due for a personal touch."
    assert "Initech AG — last contact 24 days ago" in lines(due)
    clock.set(utc(2026, 11, 5, 9, 0))
    assert (await say(coach, "due")).text == "1 relationship(s) due for a personal touch, 1 overdue."
    nobody = await say(coach, "due", make_actor("bob"))
    assert nobody.text == "Nobody is due for a personal touch."


# -- honest, friendly answers -------------------------------------------------------------------------------


async def test_list_shows_a_bounded_page_and_says_where_the_rest_is(coach) -> None:
    for day in range(1, 27):
        await say(coach, f"log Acme 2026-12-{day:02d} 10:00")
    upcoming = section(await say(coach, "list"), "Upcoming")
    assert len(upcoming) == 26 and upcoming[-1].startswith("… and more: `counterpart <name>`")
    assert upcoming[0].startswith("#1 Acme") and upcoming[24].startswith("#25 Acme")
    await say(coach, "cancel 26")
    assert not any("and more" in line for line in section(await say(coach, "list"), "Upcoming"))


async def test_list_has_upcoming_awaiting_outcome_and_recent(coach) -> None:
    await say(coach, "log Acme tomorrow 3pm")
    await say(coach, "log Globex yesterday 10am")
    await say(coach, "log Initech 2026-11-20 10:00")
    await say(coach, "outcome 3 result agreed")
    listing = await say(coach, "list")
    assert [s.heading for s in listing.sections] == ["Upcoming", "Awaiting outcome", "Recent"]
    assert section(listing, "Upcoming") == ["#1 Acme — Thu 26 Nov 15:00, 60 min, video"]
    assert section(listing, "Awaiting outcome") == [
        "#2 Globex — Tue 24 Nov 10:00, 60 min, video — how did it go? `done 2`"
    ]
    assert section(listing, "Recent") == ["#3 Initech — Fri 20 Nov 10:00, 60 min, video — agreed, no follow-up yet"]


async def test_with_nudges_off_confirmations_say_no_reminder_comes_and_how_to_turn_them_on(coach) -> None:
    await say(coach, "settings nudges off")
    ahead = await say(coach, "log Acme tomorrow 3pm")
    held = await say(coach, "log Globex yesterday 10am")
    promised = await say(coach, "commit 1 ours send the deck by friday")
    kept_warm = await say(coach, "counterpart Acme long-term on")
    snoozed = await say(coach, "later commitment 1 tomorrow")
    for reply in (ahead, held, promised, kept_warm):
        text = reply.plain_text()
        assert "`settings nudges on`" in text, text
        assert "Pre-call reminder:" not in text and "on its way" not in text and "I'll remind you" not in text
    assert "it won't come" in snoozed.text
    await say(coach, "settings nudges on")
    assert "Pre-call reminder:" in (await say(coach, "log Acme friday 3pm")).plain_text()


async def test_greetings_thanks_and_unknown_words_get_a_friendly_answer(coach) -> None:
    hello = await say(coach, "hi")
    assert hello.text.startswith("Hi Anna! I'm DealCoach") and "log Acme tomorrow 3pm" in lines(hello)[0]
    assert (await say(coach, "Thanks!")).text.startswith("You're welcome")
    typo = await say(coach, "setting nudges off")
    assert typo.text == "I don't know “setting”. Did you mean `settings`?"
    assert [b.value for b in typo.buttons] == ["settings nudges off"]
    assert (await say(coach, "yes")).text == "Updated nudges."
    unknown = await coach.handle_text(ANNA, "dance")
    assert unknown.is_error and unknown.text == "I don't know “dance”. Type `help` to see what I can do."
    assert "Did you mean `help settings`?" in (await coach.handle_text(ANNA, "help setting")).text


async def test_a_time_zone_typed_as_a_city_offers_the_matching_iana_zones(coach, sessions) -> None:
    asked = await say(coach, "settings timezone Berlin")
    assert asked.text == "“Berlin” is not a time zone name. Did you mean Europe/Berlin?"
    assert [b.value for b in asked.buttons] == ["settings timezone Europe/Berlin"]
    assert (await say(coach, "yes")).text == "Updated time zone."
    several = await say(coach, "timezone Buenos Aires")
    assert "America/Argentina/Buenos_Aires" in several.text
    typo = await say(coach, "settings timezone Berln lead 45")
    assert [b.value for b in typo.buttons] == ["settings timezone Europe/Berlin lead 45"]
    nothing = await coach.handle_text(ANNA, "settings timezone Narnia")
    assert nothing.is_error and "IANA name like Europe/Berlin" in nothing.text


async def test_the_prep_brief_shows_the_reps_own_issues_and_what_the_leverage_score_means(coach) -> None:
    await say(coach, "log Acme friday 3pm")
    before = section(await say(coach, "prep 1"), "What's on the table")
    assert before[0].startswith("Agreement issues: price at volume break points")  # the catalogue, to start from
    await say(coach, "issues 1 price, long-term goals")
    await say(coach, "links Acme yes no no no")
    brief = await say(coach, "prep 1")
    table = section(brief, "What's on the table")
    assert table == [
        "On the table (agreement): price at volume break points",
        "On the table (relationship): long-term goals",
        "More on the table? `issues 1 <issue>, …`",
    ]
    leverage = section(brief, "Lever of links (sales)")
    assert leverage[1].startswith("Leverage score: 1/4")
    assert leverage[2].startswith("What it means: few links beyond this deal")
    await say(coach, "links Acme yes yes yes no")
    assert section(await say(coach, "prep 1"), "Lever of links (sales)")[2].startswith("What it means: strong links")
