"""The command language: phrases people type, in their time zone, and the errors for bad input."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from coaching import commands as c
from coaching.models import Commitment, Negotiation, Nudge
from coaching.parser import CommandError, Context, parse_command, quiet_hours
from tests.conftest import make_actor

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)  # Wednesday, 11:00 in Berlin
BERLIN = ZoneInfo("Europe/Berlin")
ACTOR = make_actor()


def parse(text: str, tz: ZoneInfo = BERLIN, now: datetime = NOW) -> c.Command:
    return parse_command(ACTOR, text, Context(now=now, tz=tz))


def berlin(*args: int) -> datetime:
    return datetime(*args, tzinfo=BERLIN).astimezone(UTC)


@pytest.mark.parametrize(
    ("text", "counterpart", "starts"),
    [
        ("log Acme 2026-12-01 14:00", "Acme", berlin(2026, 12, 1, 14, 0)),
        ("log Acme tomorrow 3pm", "Acme", berlin(2026, 11, 26, 15, 0)),
        ("log Acme in 20 minutes", "Acme", datetime(2026, 11, 25, 10, 20, tzinfo=UTC)),
        ("log Initech yesterday 16:30", "Initech", berlin(2026, 11, 24, 16, 30)),
        ("log Acme next tuesday 10am", "Acme", berlin(2026, 12, 1, 10, 0)),
        ("log Acme friday", "Acme", berlin(2026, 11, 27, 9, 0)),  # a bare day starts at 09:00
        ("log Acme Corp International tomorrow 3pm", "Acme Corp International", berlin(2026, 11, 26, 15, 0)),
        ('log "Tomorrow Labs" friday 2pm', "Tomorrow Labs", berlin(2026, 11, 27, 14, 0)),
        ("log “Smart Quotes GmbH” tomorrow 9:30", "Smart Quotes GmbH", berlin(2026, 11, 26, 9, 30)),
        ("/negotiation log Acme tomorrow 3pm", "Acme", berlin(2026, 11, 26, 15, 0)),
        ("LOG Acme on friday at 3pm", "Acme", berlin(2026, 11, 27, 15, 0)),
        ("log 3M tomorrow 9am", "3M", berlin(2026, 11, 26, 9, 0)),  # digits: a name, not "3 months"
        ("log May tomorrow 3pm", "May", berlin(2026, 11, 26, 15, 0)),
    ],
)
def test_log_reads_counterpart_and_time_in_the_users_zone(text: str, counterpart: str, starts: datetime) -> None:
    command = parse(text)
    assert isinstance(command, c.LogNegotiation)
    assert command.counterpart == counterpart
    assert command.when == starts


def test_the_same_words_mean_different_moments_in_different_zones() -> None:
    berlin_cmd = parse("log Acme tomorrow 3pm", BERLIN)
    ny_cmd = parse("log Acme tomorrow 3pm", ZoneInfo("America/New_York"))
    assert isinstance(berlin_cmd, c.LogNegotiation) and isinstance(ny_cmd, c.LogNegotiation)
    assert (ny_cmd.when - berlin_cmd.when).total_seconds() == 6 * 3600


def test_log_options_duration_and_channel_in_either_order() -> None:
    one = parse("log Acme tomorrow 3pm for 90 minutes via phone")
    two = parse("log Acme tomorrow 3pm via in-person for 1h30")
    assert isinstance(one, c.LogNegotiation) and isinstance(two, c.LogNegotiation)
    assert (one.duration_minutes, one.channel) == (90, "phone")
    assert (two.duration_minutes, two.channel) == (90, "in-person")
    assert one.when == two.when == berlin(2026, 11, 26, 15, 0)


def test_times_across_a_dst_change() -> None:
    # Sat 24 Oct 2026 in Berlin, summer time (+2); "tomorrow 3pm" is after the change (+1).
    now = datetime(2026, 10, 24, 10, 0, tzinfo=UTC)
    command = parse("log Acme tomorrow 3pm", now=now)
    assert isinstance(command, c.LogNegotiation)
    assert command.when == datetime(2026, 10, 25, 14, 0, tzinfo=UTC)
    # "in 20 minutes" counts real minutes even across the 03:00 → 02:00 change.
    night = datetime(2026, 10, 25, 0, 50, tzinfo=UTC)  # 02:50 CEST
    later = parse("log Acme in 20 minutes", now=night)
    assert isinstance(later, c.LogNegotiation) and later.when == datetime(2026, 10, 25, 1, 10, tzinfo=UTC)
    # A wall-clock time skipped by spring-forward moves past the gap.
    spring = parse("log Acme 2027-03-28 02:30", now=datetime(2027, 3, 20, tzinfo=UTC))
    assert isinstance(spring, c.LogNegotiation) and spring.when == datetime(2027, 3, 28, 1, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "side", "what", "due"),
    [
        ("commit 3 theirs send the signed NDA by friday", "theirs", "send the signed NDA", date(2026, 11, 27)),
        ("commit #3 ours price list by 2026-12-04", "ours", "price list", date(2026, 12, 4)),
        ("commit 3 ours send the proposal by email", "ours", "send the proposal by email", None),
        ("commit 3 we call back", "ours", "call back", None),
    ],
)
def test_commit(text: str, side: str, what: str, due: date | None) -> None:
    command = parse(text)
    assert isinstance(command, c.AddCommitment)
    assert (command.negotiation, command.side, command.text, command.due) == (3, side, what, due)


def test_other_commands() -> None:
    assert parse("list") == c.ListNegotiations(ACTOR)
    assert parse("prep #4") == c.Prep(ACTOR, negotiation=4)
    assert parse("done 4 went well, they want a pilot") == c.RecordOutcome(
        ACTOR, negotiation=4, notes="went well, they want a pilot", walk=True
    )
    assert parse("done 4 anyway") == c.RecordOutcome(ACTOR, negotiation=4, walk=True, anyway=True)
    assert parse("outcome 4 sentiment 2 noticed back from parental leave") == c.RecordOutcome(
        ACTOR, negotiation=4, sentiment=2, observations="back from parental leave"
    )
    assert parse("counterparts") == c.ListCounterparts(ACTOR)
    assert parse("due") == c.ListDue(ACTOR)
    assert parse('counterpart "Acme Corp" rename Acme') == c.RenameCounterpart(
        ACTOR, counterpart="Acme Corp", new_name="Acme"
    )
    assert parse("counterpart Initec merge Initech") == c.MergeCounterparts(ACTOR, counterpart="Initec", into="Initech")
    assert parse("counterpart Zephyr Secret Holdings") == c.ShowCounterpart(ACTOR, counterpart="Zephyr Secret Holdings")
    assert parse("team accept <@U0LEAD|lena>") == c.TeamAccept(ACTOR, lead="U0LEAD")
    assert parse("team decline Lena Meyer") == c.TeamDecline(ACTOR, lead="Lena Meyer")
    assert parse("team accept") == c.TeamAccept(ACTOR)
    assert parse("team leave") == c.TeamLeave(ACTOR)
    assert parse("timezone New York") == c.ChangeSettings(ACTOR, timezone="New York")
    assert parse("Hi!") == c.Greet(ACTOR) and parse("thank you") == c.Greet(ACTOR, thanks=True)
    assert parse("kept 2") == c.ResolveCommitment(ACTOR, commitment=2, kept=True)
    assert parse("missed 2") == c.ResolveCommitment(ACTOR, commitment=2, kept=False)
    assert parse("frame 4 one-off") == c.Frame(ACTOR, negotiation=4, repeat=False)
    assert parse("coffee Acme Corp") == c.RecordCoffee(ACTOR, counterpart="Acme Corp")
    assert parse("coffee Acme tomorrow 9am") == c.RecordCoffee(
        ACTOR, counterpart="Acme", when=berlin(2026, 11, 26, 9, 0)
    )
    assert parse("settings timezone America/New_York lead 45 quiet 20:00-07:30 nudges off role procurement") == (
        c.ChangeSettings(
            ACTOR, timezone="America/New_York", lead_minutes=45, quiet="20:00-07:30", nudges=False, role="procurement"
        )
    )
    assert parse("") == c.Help(ACTOR)
    assert parse("help log") == c.Help(ACTOR, topic="log")


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("log Acme on the 45th of Smarch", "“on the 45th of Smarch”"),
        ("log Acme 2026-02-30 10:00", "“2026-02-30 10:00”"),
        ("log Acme", "When is the negotiation"),
        ("log", "Who is the negotiation with"),
        ("log Acme tomorrow 3pm via carrier-pigeon", "not a channel"),
        ("log Acme tomorrow 3pm for 3 days", "unit"),
        ('log "Acme tomorrow 3pm', "quote is not closed"),
        ("prep", "Which negotiation"),
        ("prep abc", "not a negotiation number"),
        ("commit 3 maybe something", "ours or theirs"),
        ("commit 3 ours", "What was promised"),
        ("commit 3 theirs NDA by 2026-13-45", "due date"),
        ("kept", "Which commitment"),
        ("frame 3 perhaps", "repeat"),
        ("settings lead forever", "lead time"),
        ("settings quiet 25:00-08:00", "Quiet hours"),
        ("outcome 3 sentiment 9", "from 1 (upset) to 5 (happy)"),
        ("outcome 3 result great", "agreed, partial, no-deal or postponed"),
        ("outcome 3 mood good", "I can't read “mood good”"),
        ("log tomorrow 3pm", "Who is it with?"),  # not a counterpart called "tomorrow"
        ("log next tuesday 10am", "Who is it with?"),
        ("coffee tomorrow 3pm", "Who is it with?"),
        ("settings colour blue", "no setting"),
        ("settings nudges", "needs a value"),
        ("team leave now", "takes no name"),
        ("counterpart", "Which counterpart"),
        ('counterpart "Acme" frobnicate', "I can't read"),
    ],
)
def test_bad_input_gets_a_specific_error(text: str, fragment: str) -> None:
    with pytest.raises(CommandError) as raised:
        parse(text)
    assert fragment in raised.value.message


def test_a_word_that_is_no_command_comes_with_the_ones_it_is_close_to() -> None:
    assert parse("setting timezone Berlin") == c.UnknownWord(
        ACTOR, word="setting", suggestions=("settings",), rest="timezone Berlin"
    )
    assert parse("comit 3 ours send it") == c.UnknownWord(
        ACTOR, word="comit", suggestions=("commit",), rest="3 ours send it"
    )
    assert parse("dance") == c.UnknownWord(ACTOR, word="dance")


async def _counts(sessions) -> tuple[int, int, int]:
    async with sessions() as session:
        return (
            await session.scalar(select(func.count()).select_from(Negotiation)),
            await session.scalar(select(func.count()).select_from(Commitment)),
            await session.scalar(select(func.count()).select_from(Nudge)),
        )


async def test_bad_input_through_the_coach_changes_nothing(coach, sessions, anna) -> None:
    reply = await coach.handle_text(anna, "log Acme tomorrow 3pm")
    assert reply.text.startswith("Logged #1")
    before = await _counts(sessions)
    for text in (
        "log Acme on the 45th of Smarch",
        "commit 9 ours send slides by friday",
        "kept 7",
        "prep 2",
        "done 99",
        "frobnicate",
        "settings timezone Mars/Olympus_Mons",
    ):
        reply = await coach.handle_text(anna, text)
        assert reply.is_error, text
        assert "Traceback" not in reply.plain_text()
    assert await _counts(sessions) == before
    smarch = await coach.handle_text(anna, "log Acme on the 45th of Smarch")
    assert "Usage: `log <counterpart> <when>" in smarch.plain_text()
    unknown = await coach.handle_text(anna, "kept 7")
    assert unknown.text == "You have no commitment #7. Type `commitments` to see yours."


async def test_someone_elses_id_is_not_found(coach) -> None:
    anna, bob = make_actor("anna"), make_actor("bob")
    await coach.handle_text(anna, "log Acme tomorrow 3pm")
    await coach.handle_text(anna, "commit 1 ours send pricing by friday")
    assert (await coach.handle_text(bob, "prep 1")).text.startswith("You have no negotiation #1")
    assert (await coach.handle_text(bob, "kept 1")).is_error
    assert (await coach.handle_text(bob, "commitments")).text.startswith("No open commitments")
    # Bob's own numbering starts at 1 too.
    assert (await coach.handle_text(bob, "log Globex tomorrow 4pm")).text.startswith("Logged #1: Globex")


async def test_help_lists_what_works(coach, anna) -> None:
    reply = await coach.handle_text(anna, "help")
    text = reply.plain_text()
    for word in ("log", "list", "prep", "done", "commit", "commitments", "kept", "missed", "coffee", "settings"):
        assert f"`{word}" in text
    assert (await coach.handle_text(anna, "help commit")).text.startswith("`commit <negotiation id>")


@pytest.mark.parametrize(
    ("text", "expected"),
    [("19:00-08:00", ("19:00", "08:00")), (" 7:00 – 9:30 ", ("07:00", "09:30")), ("OFF", None)],
)
def test_quiet_hours_read_the_same_for_settings_and_install_defaults(text, expected):
    assert quiet_hours(text) == expected


@pytest.mark.parametrize("text", ["25:00-08:00", "19:00", "evenings", "19:00-08:00-09:00"])
def test_quiet_hours_refuse_anything_else(text):
    with pytest.raises(ValueError):
        quiet_hours(text)


# -- one reading of <when> for every command (issue 10) --------------------------------------------------------

TUESDAY_EVENING = datetime(2026, 12, 1, 19, 41, tzinfo=UTC)  # 20:41 in Berlin
ZONES = [ZoneInfo("Europe/Berlin"), ZoneInfo("America/New_York"), ZoneInfo("Asia/Tokyo")]


def local(tz: ZoneInfo, *args: int) -> datetime:
    return datetime(*args, tzinfo=tz).astimezone(UTC)


def evening_in(tz: ZoneInfo) -> datetime:
    """Tuesday 1 December 2026, 20:41 in ``tz``."""
    return local(tz, 2026, 12, 1, 20, 41)


@pytest.mark.parametrize("tz", ZONES, ids=str)
def test_every_command_reads_a_moment_the_same_way(tz: ZoneInfo) -> None:
    now = evening_in(tz)
    friday_nine = local(tz, 2026, 12, 4, 9, 0)
    log = parse("log Contoso friday 9", tz, now)
    moved = parse("reschedule 4 friday 9", tz, now)
    coffee = parse("coffee Contoso friday 9", tz, now)
    snooze = parse("later commitment 2 friday 9", tz, now)
    commit = parse("commit 4 ours send the deck by friday 9", tz, now)
    assert isinstance(log, c.LogNegotiation) and log.when == friday_nine
    assert moved == c.Reschedule(ACTOR, negotiation=4, when=friday_nine)
    assert coffee == c.RecordCoffee(ACTOR, counterpart="Contoso", when=friday_nine)
    assert snooze == c.RemindLater(ACTOR, about="commitment", number=2, minutes=None, at=friday_nine)
    assert commit == c.AddCommitment(
        ACTOR, negotiation=4, side="ours", text="send the deck", due=date(2026, 12, 4), due_at=friday_nine
    )
    assert log.notes == moved.notes == coffee.notes == snooze.notes == ("“9” read as 09:00",)  # type: ignore[union-attr]


@pytest.mark.parametrize("tz", ZONES, ids=str)
def test_a_commitment_keeps_its_due_time(tz: ZoneInfo) -> None:
    now = evening_in(tz)
    timed = parse("commit 3 ours send the deck by tomorrow 5pm", tz, now)
    assert timed == c.AddCommitment(
        ACTOR,
        negotiation=3,
        side="ours",
        text="send the deck",
        due=date(2026, 12, 2),
        due_at=local(tz, 2026, 12, 2, 17),
    )
    day = parse("commit 3 theirs send the signed NDA by friday", tz, now)
    assert isinstance(day, c.AddCommitment) and (day.due, day.due_at) == (date(2026, 12, 4), None)
    by_email = parse("commit 3 ours send the proposal by email by 6.12.", tz, now)
    assert isinstance(by_email, c.AddCommitment)
    assert (by_email.text, by_email.due) == ("send the proposal by email", date(2026, 12, 6))


@pytest.mark.parametrize("tz", ZONES, ids=str)
def test_snoozes_read_minutes_words_and_moments_but_never_the_past(tz: ZoneInfo) -> None:
    now = evening_in(tz)

    def later(words: str) -> c.Command:
        return parse(f"later negotiation 19 {words}", tz, now)

    assert later("tomorrow") == c.RemindLater(ACTOR, about="negotiation", number=19, minutes=None)
    assert later("30") == c.RemindLater(ACTOR, about="negotiation", number=19, minutes=30)
    assert later("2h") == c.RemindLater(ACTOR, about="negotiation", number=19, minutes=120)
    assert later("week") == c.RemindLater(ACTOR, about="negotiation", number=19, minutes=7 * 24 * 60)
    assert parse("later note 2", tz, now) == c.RemindLater(ACTOR, about="note", number=2, minutes=10)
    at_ten = parse("later commitment 2 friday 10am", tz, now)
    assert at_ten == c.RemindLater(ACTOR, about="commitment", number=2, minutes=None, at=local(tz, 2026, 12, 4, 10))
    assert later("in 3 hours") == c.RemindLater(
        ACTOR, about="negotiation", number=19, minutes=None, at=now.replace(second=0) + timedelta(hours=3)
    )
    # a date without a year is the next one for a snooze (never a past one)
    nov = later("nov 30 9am")
    assert isinstance(nov, c.RemindLater) and nov.at == local(tz, 2027, 11, 30, 9)
    for past, fragment in (("today 9am", "has passed"), ("yesterday", "has passed"), ("forever", "not a delay")):
        with pytest.raises(CommandError) as raised:
            later(past)
        assert fragment in raised.value.message


@pytest.mark.parametrize("tz", ZONES, ids=str)
def test_an_unsure_moment_becomes_a_question_with_words_that_answer_it(tz: ZoneInfo) -> None:
    now = evening_in(tz)
    for text in (
        "log Acme Sun 3pm for 45 minutes via phone",
        "reschedule 2 dec 11 2030",
        "commit 2 ours the deck by friday midnight",
        "coffee Acme Tomorrow",
        "later commitment 2 next week",
        "log Orvane tmorow 3pm",
    ):
        asked = parse(text, tz, now)
        assert isinstance(asked, c.ConfirmMoment), text
        assert asked.question.endswith((".", "?")) and "*" in asked.question
        again = parse(asked.text, tz, now)
        assert again == asked.command, text  # exactly the proposed command, and no second question
    far = parse("reschedule 2 dec 11 2030", tz, now)
    assert isinstance(far, c.ConfirmMoment) and far.question.startswith("That is a long way off — did you mean")
    assert far.proposed == local(tz, 2026, 12, 11, 9)


def test_digest_weeks_out_of_range_are_specific_errors() -> None:
    assert parse("digest 2026-w47", now=TUESDAY_EVENING) == c.ShowDigest(ACTOR, week="2026-W47")
    assert parse("digest W47 2026", now=TUESDAY_EVENING) == c.ShowDigest(ACTOR, week="2026-W47")
    for text, fragment in (
        ("digest 9999-W52", "9999-W52 hasn't started yet."),
        ("digest 2027-W01", "2027-W01 hasn't started yet."),
        ("digest 2025-W53", "2025 has no week 53"),
        ("digest 1990-W01", "more than ten years back"),
        ("digest 2026-W99", "no week 99"),
    ):
        with pytest.raises(CommandError) as raised:
            parse(text, now=TUESDAY_EVENING)
        assert fragment in raised.value.message


def test_settings_dates_and_quiet_hours_as_people_type_them() -> None:
    assert parse("settings dates mdy") == c.ChangeSettings(ACTOR, dates="mdy")
    assert parse("settings dates day-first") == c.ChangeSettings(ACTOR, dates="dmy")
    assert parse("settings quiet 7pm - 8am nudges off") == c.ChangeSettings(ACTOR, quiet="19:00-08:00", nudges=False)
    assert parse("settings quiet 19:00 – 08:00") == c.ChangeSettings(ACTOR, quiet="19:00-08:00")
    assert parse("settings quiet off") == c.ChangeSettings(ACTOR, quiet="off")
    with pytest.raises(CommandError) as raised:
        parse("settings dates european")
    assert "`dmy`" in raised.value.message


@pytest.mark.parametrize(
    ("text", "expected"),
    [("7pm-8am", ("19:00", "08:00")), ("19-8", ("19:00", "08:00")), ("22:30 to 6", ("22:30", "06:00"))],
)
def test_quiet_hours_read_the_forms_people_type(text, expected):
    assert quiet_hours(text) == expected
