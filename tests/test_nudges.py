"""Every nudge rule, with a fake clock and the real tick: when each comes, what it says, and when not."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from coaching.models import Nudge
from tests.conftest import make_actor
from tests.fakes import FakeClock, RecordingSender


async def at(clock: FakeClock, dispatcher, moment: datetime) -> None:
    clock.set(moment)
    await dispatcher.tick()


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


async def test_precall_then_followup_then_one_reminder(coach, dispatcher, clock, sender, anna) -> None:
    # Wed 25 Nov 10:00 UTC. Tomorrow 3pm Berlin = Thu 14:00 UTC; reminder 30 min before.
    reply = await coach.handle_text(anna, "log Acme tomorrow 3pm")
    assert "Pre-call reminder: Thu 26 Nov 14:30" in reply.plain_text()
    await at(clock, dispatcher, utc(2026, 11, 26, 13, 29))
    assert sender.sent == []
    await at(clock, dispatcher, utc(2026, 11, 26, 13, 30))
    assert sender.kinds() == ["precall"]
    address, precall = sender.sent[0]
    assert (address.platform, address.user) == ("console", "anna")
    text = precall.plain_text()
    assert "first 5–10 minutes" in text and "Camera on" in text
    await dispatcher.tick()  # sent once, not again
    assert sender.kinds() == ["precall"]
    # Ends 15:00 UTC; follow-up 15 minutes later.
    await at(clock, dispatcher, utc(2026, 11, 26, 15, 14))
    assert sender.kinds() == ["precall"]
    await at(clock, dispatcher, utc(2026, 11, 26, 15, 15))
    assert sender.kinds() == ["precall", "followup"]
    followup = sender.sent[-1][1]
    assert {b.value.strip() for b in followup.buttons} == {
        "done 1",  # the outcome questions, one at a time
        "outcome 1",  # the outcome form (console: the structured line to complete)
        "commit 1 ours",
        "followup 1",
        "later negotiation 1 60",
    }
    # No follow-up recorded: one reminder 24 h later, and only one.
    await at(clock, dispatcher, utc(2026, 11, 27, 15, 15))
    await at(clock, dispatcher, utc(2026, 11, 29, 15, 15))
    assert sender.kinds() == ["precall", "followup", "followup_reminder"]


async def test_precall_reminder_shows_commitments_both_ways_and_notes(coach, dispatcher, clock, sender, anna):
    await coach.handle_text(anna, "log Acme yesterday 10am")
    await coach.handle_text(anna, "commit 1 ours send the price list by 2026-12-10")
    await coach.handle_text(anna, "commit 1 theirs share usage figures")
    await coach.handle_text(anna, "followup 1 their daughter starts university in Lyon")
    await coach.handle_text(anna, "log Acme tomorrow 3pm via phone")
    sender.clear()
    await at(clock, dispatcher, utc(2026, 11, 26, 13, 30))
    text = sender.sent[-1][1].plain_text()
    assert "we: send the price list" in text
    assert "Acme: share usage figures" in text
    assert "daughter starts university in Lyon" in text
    assert "voice carries" in text  # phone tip


async def test_logged_inside_the_lead_window_reminds_at_once(coach, dispatcher, clock, sender, anna) -> None:
    reply = await coach.handle_text(anna, "log Acme in 20 minutes")
    assert "(now, it starts soon)" in reply.plain_text()
    await dispatcher.tick()
    assert sender.kinds() == ["precall"]
    assert sender.sent[0][1].text.startswith("In 20 min: #1 with Acme")


async def test_past_negotiation_gets_its_followup_at_once_even_in_quiet_hours(
    coach, dispatcher, clock, sender, anna
) -> None:
    clock.set(utc(2026, 11, 25, 21, 0))  # 22:00 in Berlin: quiet hours
    reply = await coach.handle_text(anna, "log Initech yesterday 4pm")
    assert "follow-up prompt is on its way" in reply.plain_text()
    await dispatcher.tick()
    assert sender.kinds() == ["followup"]
    assert sender.sent[0][1].text == "How did #1 with Initech go?"


async def test_quiet_hours_hold_nudges_but_not_precall(coach, dispatcher, clock, sender, anna) -> None:
    # 18:30–19:30 Berlin: the follow-up (19:45) falls in quiet hours and waits for 08:00.
    await coach.handle_text(anna, "log Acme tomorrow 18:30")
    await at(clock, dispatcher, utc(2026, 11, 26, 17, 0))
    await at(clock, dispatcher, utc(2026, 11, 26, 18, 45))
    assert sender.kinds() == ["precall"]
    await at(clock, dispatcher, utc(2026, 11, 27, 6, 59))  # 07:59 Berlin
    assert sender.kinds() == ["precall"]
    await at(clock, dispatcher, utc(2026, 11, 27, 7, 0))
    assert sender.kinds() == ["precall", "followup"]
    # A pre-call reminder at 06:30 local comes even though it is quiet.
    await coach.handle_text(anna, "log Globex monday 7am")
    await at(clock, dispatcher, utc(2026, 11, 30, 5, 30))
    assert sender.kinds()[-1] == "precall"


async def test_quiet_hours_changed_after_enqueue_still_hold(coach, dispatcher, clock, sender, anna) -> None:
    await coach.handle_text(anna, "log Acme tomorrow 10am")  # follow-up at 11:15 Berlin
    await coach.handle_text(anna, "settings quiet 11:00-12:00")
    await at(clock, dispatcher, utc(2026, 11, 26, 10, 20))
    assert "followup" not in sender.kinds()
    await at(clock, dispatcher, utc(2026, 11, 26, 11, 0))
    assert sender.kinds()[-1] == "followup"


async def test_back_to_back_warning_at_log_time(coach, anna) -> None:
    await coach.handle_text(anna, "log Acme tomorrow 2pm")
    close = await coach.handle_text(anna, "log Globex tomorrow 3:10pm")
    assert "Back-to-back: this starts 10 min after your negotiation with Acme (#1) ends" in close.plain_text()
    overlap = await coach.handle_text(anna, "log Initech tomorrow 2:30pm for 30 minutes")
    assert "overlaps your negotiation with Acme (#1)" in overlap.plain_text()
    roomy = await coach.handle_text(anna, "log Umbrella tomorrow 5pm")
    assert "Heads-up" not in roomy.plain_text()


async def test_coffee_chat_suggestion(coach, anna) -> None:
    soon = await coach.handle_text(anna, "log Acme tomorrow 3pm")
    assert "coffee chat" not in soon.plain_text()  # less than 2 days away
    later = await coach.handle_text(anna, "log Acme next friday 3pm")
    assert "Propose a short coffee chat" in later.plain_text()
    assert any(b.value == 'coffee "Acme"' for b in later.buttons)
    await coach.handle_text(anna, 'coffee "Acme"')
    again = await coach.handle_text(anna, "log Acme 2026-12-10 10:00")
    assert "coffee chat" not in again.plain_text()


async def test_commitment_reminders_at_nine_local_across_dst(coach, dispatcher, clock, sender, anna) -> None:
    clock.set(utc(2026, 10, 20, 10, 0))
    await coach.handle_text(anna, "log Acme yesterday 10am")
    await dispatcher.tick()
    await coach.handle_text(anna, "followup 1")
    # Due Sunday 25 Oct, the night summer time ends in Berlin.
    reply = await coach.handle_text(anna, "commit 1 theirs send the signed NDA by 2026-10-25")
    assert "the day before, on the day, once if it is overdue" in reply.plain_text()
    sender.clear()
    await at(clock, dispatcher, utc(2026, 10, 24, 6, 59))
    assert sender.sent == []
    await at(clock, dispatcher, utc(2026, 10, 24, 7, 0))  # Sat 09:00 CEST
    await at(clock, dispatcher, utc(2026, 10, 25, 7, 59))
    await at(clock, dispatcher, utc(2026, 10, 25, 8, 0))  # Sun 09:00 CET
    await at(clock, dispatcher, utc(2026, 10, 26, 8, 0))  # Mon 09:00 CET
    await at(clock, dispatcher, utc(2026, 10, 30, 8, 0))
    assert sender.kinds() == ["commitment_before", "commitment_due", "commitment_overdue"]
    texts = [m.text for _, m in sender.sent]
    assert texts[1].startswith("Due today: Acme promised to send the signed NDA")
    assert "Check in politely" in texts[2]


async def test_commitment_kept_stops_its_reminders(coach, dispatcher, clock, sender, anna) -> None:
    await coach.handle_text(anna, "log Acme yesterday 10am")
    await coach.handle_text(anna, "followup 1")
    await coach.handle_text(anna, "commit 1 ours send the price list by friday")
    assert (await coach.handle_text(anna, "kept 1")).text.startswith("Commitment #1 marked kept")
    assert (await coach.handle_text(anna, "kept 1")).text == "Commitment #1 is already marked kept."
    sender.clear()
    await at(clock, dispatcher, utc(2026, 12, 5, 12, 0))
    assert [k for k in sender.kinds() if k.startswith("commitment")] == []
    assert (await coach.handle_text(anna, "commitments")).text.startswith("No open commitments")


async def test_reschedule_moves_nudges_and_cancel_stops_them(coach, dispatcher, clock, sender, sessions, anna):
    await coach.handle_text(anna, "log Acme tomorrow 3pm")
    moved = await coach.handle_text(anna, "reschedule 1 friday 11am")
    assert "Moved #1 with Acme to Fri 27 Nov 11:00" in moved.text
    await at(clock, dispatcher, utc(2026, 11, 26, 16, 0))  # the old slot passes quietly
    assert sender.sent == []
    await at(clock, dispatcher, utc(2026, 11, 27, 9, 30))  # Fri 10:30 Berlin
    assert sender.kinds() == ["precall"]
    await coach.handle_text(anna, "cancel 1")
    await at(clock, dispatcher, utc(2026, 11, 29, 12, 0))
    assert sender.kinds() == ["precall"]
    async with sessions() as session:
        pending = (await session.scalars(select(Nudge).where(Nudge.status == "pending"))).all()
    assert pending == []  # no orphans


async def test_done_and_followup_settle_the_negotiation_nudges(coach, dispatcher, clock, sender, anna) -> None:
    await coach.handle_text(anna, "log Acme tomorrow 3pm")
    await at(clock, dispatcher, utc(2026, 11, 26, 13, 30))
    await at(clock, dispatcher, utc(2026, 11, 26, 15, 0))  # call just ended
    done = await coach.handle_text(anna, "done 1 agreed on a pilot; they worry about support")
    assert done.text == "#1 with Acme: how did it end?"  # the first outcome question
    assert (await coach.handle_text(anna, "skip")).text == "Recorded the outcome of #1 with Acme."
    await at(clock, dispatcher, utc(2026, 11, 26, 16, 0))
    assert sender.kinds() == ["precall"]  # no "how did it go?" after the outcome is in
    await coach.handle_text(anna, "followup 1 thanked them for the plant tour")
    await at(clock, dispatcher, utc(2026, 11, 28, 16, 0))
    assert sender.kinds() == ["precall"]  # and no follow-up reminder once it is sent
    listing = await coach.handle_text(anna, "list")
    assert "#1 Acme — Thu 26 Nov 15:00, 60 min, video — held" in listing.plain_text()


async def test_nudges_off_means_no_nudges(coach, dispatcher, clock, sender, anna) -> None:
    await coach.handle_text(anna, "settings nudges off")
    await coach.handle_text(anna, "log Acme in 10 minutes")
    await at(clock, dispatcher, utc(2026, 11, 27, 12, 0))
    assert sender.sent == []


async def test_lead_time_setting_replans_pending_precall(coach, dispatcher, clock, sender, anna) -> None:
    await coach.handle_text(anna, "log Acme tomorrow 3pm")
    await coach.handle_text(anna, "settings lead 60")
    await at(clock, dispatcher, utc(2026, 11, 26, 13, 0))  # 14:00 Berlin, an hour before
    assert sender.kinds() == ["precall"]
    await at(clock, dispatcher, utc(2026, 11, 26, 13, 30))
    assert sender.kinds() == ["precall"]


async def test_each_user_is_nudged_at_their_own_local_time(coach, dispatcher, clock) -> None:
    sender = dispatcher.senders["console"]
    assert isinstance(sender, RecordingSender)
    berlin, new_york = make_actor("anna", "Europe/Berlin"), make_actor("bob", "America/New_York")
    await coach.handle_text(berlin, "log Acme tomorrow 9am")
    await coach.handle_text(new_york, "log Acme tomorrow 9am")
    await at(clock, dispatcher, utc(2026, 11, 26, 7, 30))  # 08:30 Berlin
    assert [a.user for a, _ in sender.sent] == ["anna"]
    await at(clock, dispatcher, utc(2026, 11, 26, 13, 30))  # 08:30 New York
    assert [a.user for a, m in sender.sent if m.kind == "precall"] == ["anna", "bob"]


async def test_platform_time_zone_is_used_until_the_user_sets_one(coach, anna) -> None:
    await coach.handle_text(anna, "list")
    assert "Europe/Berlin (from your profile)" in (await coach.handle_text(anna, "settings")).plain_text()
    await coach.handle_text(anna, "settings timezone Asia/Tokyo")
    moved = make_actor("anna", "America/Chicago")  # the platform reports another zone later
    assert "Time zone: Asia/Tokyo" in (await coach.handle_text(moved, "settings")).plain_text()


async def test_prep_brief_has_frame_issues_leverage_history(coach, anna) -> None:
    await coach.handle_text(anna, "settings role procurement")
    await coach.handle_text(anna, "log Acme yesterday 10am")
    await coach.handle_text(anna, "done 1 tough on price")
    await coach.handle_text(anna, "log Acme tomorrow 3pm")
    await coach.handle_text(anna, "frame 2 repeat")
    brief = (await coach.handle_text(anna, "prep 2")).plain_text()
    assert "negotiate collaboratively" in brief
    assert "price at volume break points" in brief and "continued trust and respect" in brief
    assert "Does the supplier advertise us as a customer?" in brief
    assert "#1 Tue 24 Nov 10:00 — tough on price" in brief


async def test_a_nudge_is_enqueued_once_per_key(coach, sessions, clock, anna) -> None:
    await coach.handle_text(anna, "log Acme tomorrow 3pm")
    await coach.handle_text(anna, "settings lead 30")  # re-plans the same nudges
    await coach.handle_text(anna, "settings lead 30")
    async with sessions() as session:
        kinds = sorted((await session.scalars(select(Nudge.kind))).all())
    assert kinds == ["followup", "followup_reminder", "precall"]


async def test_a_late_precall_reminder_is_dropped_not_sent(coach, dispatcher, clock, sender, sessions, anna):
    """If the process was down past the call's start, a "starts in 30 min" message would be wrong."""
    await coach.handle_text(anna, "log Acme tomorrow 3pm")
    await at(clock, dispatcher, utc(2026, 11, 26, 14, 30))
    assert sender.sent == []
    async with sessions() as session:
        precall = await session.scalar(select(Nudge).where(Nudge.kind == "precall"))
    assert precall is not None and precall.status == "skipped"


async def test_snooze_a_precall_and_a_commitment_reminder(coach, dispatcher, clock, sender, anna) -> None:
    await coach.handle_text(anna, "log Acme tomorrow 3pm")
    await at(clock, dispatcher, utc(2026, 11, 26, 13, 30))
    precall = sender.sent[-1][1]
    assert [b.value for b in precall.buttons] == ["ok", "later negotiation 1 10", "prep 1"]
    assert (await coach.handle_text(anna, "ok")).text == "👍 Got it."
    later = await coach.handle_text(anna, "later negotiation 1 10")
    assert later.text == "⏰ I'll remind you about #1 with Acme again Thu 26 Nov 14:40, in 10 min."
    await at(clock, dispatcher, utc(2026, 11, 26, 13, 39))
    assert sender.kinds() == ["precall"]
    await at(clock, dispatcher, utc(2026, 11, 26, 13, 40))
    assert sender.kinds() == ["precall", "precall"]
    await coach.handle_text(anna, "commit 1 ours send the deck by 2026-11-27")
    await at(clock, dispatcher, utc(2026, 11, 27, 8, 0))  # due day, 09:00 Berlin
    assert "commitment_due" in sender.kinds()
    snoozed = await coach.handle_text(anna, "later commitment 1 tomorrow")
    assert snoozed.text == "⏰ I'll remind you about commitment #1 again Sat 28 Nov 09:00."
    await at(clock, dispatcher, utc(2026, 11, 28, 8, 0))
    commitment_kinds = [k for k in sender.kinds() if k.startswith("commitment")]
    assert commitment_kinds == ["commitment_due", "commitment_overdue"]  # the snooze stands in for the regular one
    assert (await coach.handle_text(anna, "later commitment 9 tomorrow")).is_error
    assert (await coach.handle_text(anna, "later negotiation 1 forever")).is_error


async def test_home_lists_upcoming_commitments_and_due_contacts(coach, clock, anna) -> None:
    clock.set(utc(2026, 10, 1, 9, 0))
    await coach.handle_text(anna, "log Acme 2026-08-01 10:00")
    await coach.handle_text(anna, "counterpart Acme long-term on")
    await coach.handle_text(anna, "log Globex tomorrow 3pm")
    home = await coach.home(anna)
    texts = [m.plain_text() for m in home]
    assert "#2 Globex" in texts[0]
    assert texts[1].startswith("No open commitments")
    assert "Acme — last contact 61 days ago ⚠" in texts[2]


async def test_no_more_than_three_coaching_nudges_a_day_the_rest_merged(coach, dispatcher, clock, sender, anna):
    await coach.handle_text(anna, "log Acme yesterday 10am")
    await coach.handle_text(anna, "followup 1")
    for what in ("send the deck", "call legal", "book the room", "share the SLA draft", "confirm volumes"):
        await coach.handle_text(anna, f"commit 1 ours {what} by 2026-11-27")
    sender.clear()
    await at(clock, dispatcher, utc(2026, 11, 26, 8, 0))  # five "due tomorrow" reminders at 09:00 Berlin
    assert sender.kinds() == ["commitment_before", "commitment_before", "batch"]
    batch = sender.sent[-1][1]
    assert batch.text == "3 more things for today" and len(batch.buttons) == 9
    # The day's budget is spent: the next coaching nudge waits for tomorrow morning...
    await coach.handle_text(anna, "log Globex today 12:00")  # ends 13:00, follow-up prompt 13:15
    await at(clock, dispatcher, utc(2026, 11, 26, 10, 45))
    assert sender.kinds()[-1] == "precall"  # ...but pre-call reminders always come
    await at(clock, dispatcher, utc(2026, 11, 26, 12, 15))
    assert sender.kinds()[-1] == "precall"
    await at(clock, dispatcher, utc(2026, 11, 27, 6, 59))  # 07:59 Berlin
    assert "followup" not in sender.kinds()
    await at(clock, dispatcher, utc(2026, 11, 27, 7, 0))  # 08:00 Berlin: a new day
    assert "followup" in sender.kinds()
