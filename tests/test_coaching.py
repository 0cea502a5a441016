"""Coaching depth: frames and roles change the advice, the concession ledger warns, hard wins get a repair
plan, long-term relationships are batched into one weekly stay-in-touch message, issues carry over."""

from __future__ import annotations

from datetime import UTC, datetime

from coaching import commands as c
from coaching import playbook as book
from coaching.engine import Coach
from coaching.messages import Message
from tests.conftest import make_actor


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


async def say(coach: Coach, actor, text: str) -> Message:
    reply = await coach.handle_text(actor, text)
    assert not reply.is_error, (text, reply.plain_text())
    return reply


async def at(clock, dispatcher, moment: datetime) -> None:
    clock.set(moment)
    await dispatcher.tick()


async def test_frame_and_role_change_the_brief_and_the_reminder(coach, dispatcher, clock, sender) -> None:
    buyer, seller = make_actor("pia"), make_actor("sam")
    await say(coach, buyer, "settings role procurement")
    await say(coach, buyer, "log Acme tomorrow 3pm")
    await say(coach, buyer, "frame 1 repeat")
    await say(coach, seller, "log Acme tomorrow 3pm")
    await say(coach, seller, "frame 1 one-off")
    buyer_brief = (await say(coach, buyer, "prep 1")).plain_text()
    seller_brief = (await say(coach, seller, "prep 1")).plain_text()
    assert "negotiate collaboratively" in buyer_brief and "walk-away point" not in buyer_brief
    assert "walk-away point" in seller_brief and "most negotiations are not truly one-off" in seller_brief
    assert "Does the supplier advertise us as a customer?" in buyer_brief
    assert "Does the customer need our know-how?" in seller_brief
    assert "advertise us" not in seller_brief
    await at(clock, dispatcher, utc(2026, 11, 26, 13, 30))
    reminders = {address.user: message.plain_text() for address, message in sender.sent}
    assert "give for take" in reminders["pia"] and "anchor" in reminders["sam"]


async def test_the_ledger_warns_before_the_next_call_when_we_keep_conceding(coach, dispatcher, clock, sender) -> None:
    anna = make_actor("anna")
    for number, day in ((1, 16), (2, 18), (3, 20)):
        await say(coach, anna, f"log Globex 2026-11-{day} 10:00")
        await say(coach, anna, f"outcome {number} gave 1 got 0")
    await say(coach, anna, "log Globex tomorrow 3pm")
    await at(clock, dispatcher, utc(2026, 11, 26, 13, 30))
    reminder = next(m for _, m in sender.sent if m.kind == "precall").plain_text()
    assert "You've given 3 concessions in a row to Globex and received none" in reminder
    assert "Concessions with Globex: 3 given, 0 received over 3 negotiation(s)." in reminder
    # Once they give something back, the warning goes.
    await say(coach, anna, "outcome 4 gave 0 got 2")
    brief = (await say(coach, anna, "prep 4")).plain_text()
    assert "in a row" not in brief and "3 given, 2 received over 4" in brief


async def test_a_hard_win_brings_the_repair_plan_and_a_handoff(coach, dispatcher, clock, sender) -> None:
    anna, owner = make_actor("anna"), make_actor("olaf")
    await say(coach, owner, "help")
    await say(coach, anna, "log Initech yesterday 4pm")
    await dispatcher.tick()
    sender.clear()
    reply = await coach.handle(c.RecordOutcome(anna, negotiation=1, hard_win=True, sentiment=2, outcome="agreed"))
    text = reply.plain_text()
    assert book.HARD_WIN in text and "handoff 1 @owner" in text
    handed = await say(coach, anna, "handoff 1 @olaf they pushed back hard on the 5% uplift")
    assert handed.text == "I'll send Olaf a hand-off note about Initech (#1)."
    await dispatcher.tick()
    (address, note), *_ = sender.sent
    assert address.user == "olaf" and note.kind == "handoff"
    assert "it was a hard win, their sentiment was 2/5" in note.plain_text()
    assert "pushed back hard on the 5% uplift" in note.plain_text()
    await at(clock, dispatcher, utc(2026, 11, 26, 10, 0))  # a day later: the personal note
    assert "repair_note" in sender.kinds()
    await at(clock, dispatcher, utc(2026, 12, 9, 10, 0))  # two weeks later: the check-in
    assert sender.kinds()[-1] == "repair_checkin"
    assert (await coach.handle_text(anna, "handoff 1 @anna")).is_error


async def test_a_personal_note_after_the_hard_win_cancels_the_note_reminder(coach, dispatcher, clock, sender) -> None:
    anna = make_actor("anna")
    await say(coach, anna, "log Initech yesterday 4pm")
    await say(coach, anna, "outcome 1 hard-win yes")
    await say(coach, anna, "followup 1 sent flowers for the opening")
    await at(clock, dispatcher, utc(2026, 11, 26, 11, 0))
    assert "repair_note" not in sender.kinds()


async def test_the_repair_nudges_can_be_snoozed(coach, dispatcher, clock, sender) -> None:
    anna = make_actor("anna")
    await say(coach, anna, "log Initech yesterday 4pm")
    await say(coach, anna, "outcome 1 hard-win yes")
    assert (await coach.handle_text(anna, "later negotiation 1 tomorrow")).is_error  # nothing sent yet to snooze
    await at(clock, dispatcher, utc(2026, 11, 26, 11, 0))
    [note] = [m for _, m in sender.sent if m.kind == "repair_note"]
    [snooze] = [b for b in note.buttons if b.label == "Remind me tomorrow"]
    reply = await say(coach, anna, snooze.value)
    assert "again Fri 27 Nov 09:00" in reply.text  # Berlin
    sender.clear()
    await at(clock, dispatcher, utc(2026, 11, 27, 8, 0))
    assert sender.kinds() == ["repair_note"]  # the same note, once more

    await at(clock, dispatcher, utc(2026, 12, 9, 10, 0))
    [checkin] = [m for _, m in sender.sent if m.kind == "repair_checkin"]
    sender.clear()
    await say(coach, anna, snooze.value)  # the old note card, clicked after the check-in came
    await at(clock, dispatcher, utc(2026, 12, 10, 8, 0))
    assert sender.kinds() == ["repair_note"]  # that note again, not the newer check-in

    await say(coach, anna, "followup 1 sent a handwritten card")  # the note went out: no more note reminders
    [later] = [b for b in checkin.buttons if b.label == "Remind me in a week"]
    sender.clear()
    await say(coach, anna, later.value)
    await say(coach, anna, snooze.value)
    await at(clock, dispatcher, utc(2026, 12, 16, 10, 0))
    assert sender.kinds() == []
    await at(clock, dispatcher, utc(2026, 12, 17, 10, 5))
    assert sender.kinds() == ["repair_checkin"]
    await say(coach, anna, "log Globex 2026-12-20 10:00")
    assert (await coach.handle_text(anna, "later note 2 tomorrow")).is_error  # not held yet: nothing to repair


async def test_ten_long_term_counterparts_due_make_one_batched_message(coach, dispatcher, clock, sender) -> None:
    anna = make_actor("anna")
    clock.set(utc(2026, 10, 1, 9, 0))
    for i in range(10):
        await say(coach, anna, f"log Partner{i} 2026-08-{10 + i} 10:00")
        await say(coach, anna, f"counterpart Partner{i} long-term on")
    await say(coach, anna, "note Partner3: congratulated Jo on the new plant")  # recent touch: not due
    await say(coach, anna, "snooze Partner4 60")
    await dispatcher.tick()
    sender.clear()
    await at(clock, dispatcher, utc(2026, 10, 5, 8, 0))  # Monday 10:00 in Berlin
    batches = [m for _, m in sender.sent if m.kind == "stay_in_touch"]
    assert len(batches) == 1, sender.kinds()
    text = batches[0].plain_text()
    assert "8 relationship(s) due for a personal touch" in text
    assert "Partner3" not in text and "Partner4" not in text and "Partner0" in text
    assert 'call "Partner0"' in [b.value for b in batches[0].buttons]
    # Next Monday: still one message, one fewer after a call.
    await say(coach, anna, 'call "Partner0"')
    await at(clock, dispatcher, utc(2026, 10, 12, 8, 0))
    batches = [m for _, m in sender.sent if m.kind == "stay_in_touch"]
    assert len(batches) == 2 and "7 relationship(s)" in batches[1].text


async def test_issues_on_the_table_settle_or_carry_over(coach) -> None:
    anna = make_actor("anna")
    await say(coach, anna, "log Acme yesterday 10am")
    tabled = await say(coach, anna, "issues 1 pricing, SLA, long-term goals, spare parts")
    assert "price at volume break points (agreement)" in tabled.text
    assert "long-term goals (relationship)" in tabled.text and "spare parts (agreement)" in tabled.text
    await say(coach, anna, "outcome 1 result partial settled price, SLA")
    await say(coach, anna, "log Acme tomorrow 3pm")
    brief = (await say(coach, anna, "prep 2")).plain_text()
    assert "Still open from last time (relationship): long-term goals" in brief
    assert "Still open from last time (agreement): spare parts" in brief
    assert "Still open from last time (agreement): price" not in brief


async def test_lever_of_links_answers_are_kept_and_scored(coach) -> None:
    anna = make_actor("anna")
    await say(coach, anna, "log Acme tomorrow 3pm")
    scored = await say(coach, anna, "links Acme yes no yes no")
    assert scored.text == "Lever of links with Acme: 2/4."
    brief = (await say(coach, anna, "prep 1")).plain_text()
    assert "Leverage score: 2/4. Strongest links: Does the customer buy strategic components" in brief
    assert (await coach.handle_text(anna, "links Acme yes no")).is_error
    assert (await coach.handle_text(anna, "links Nobody yes no yes no")).is_error


async def test_every_principle_reaches_users(coach, dispatcher, clock, sender) -> None:
    """Each of PRODUCT.md's eight principles appears in at least one message of a rep's journey."""
    anna = make_actor("anna")
    seen: list[str] = []
    for text in (
        "log Acme 2026-11-26 14:00",
        "log Globex 2026-11-26 15:05",  # back-to-back
        "log Initech next friday 3pm",  # coffee first
        "frame 1 repeat",
        "frame 2 one-off",
        "prep 1",
        "prep 3",
    ):
        seen.append((await say(coach, anna, text)).plain_text())
    await at(clock, dispatcher, utc(2026, 11, 26, 12, 30))
    await at(clock, dispatcher, utc(2026, 11, 26, 14, 30))
    await say(coach, anna, "outcome 1 gave 1 got 0")
    for day in (27, 28):
        await say(coach, anna, f"log Acme 2026-11-{day} 09:00")
    seen.append((await say(coach, anna, "outcome 4 gave 1 got 0 hard-win yes")).plain_text())
    seen.append((await say(coach, anna, "outcome 5 gave 1 got 0")).plain_text())
    await at(clock, dispatcher, utc(2026, 12, 14, 9, 0))
    seen += [message.plain_text() for _, message in sender.sent]
    everything = "\n".join(seen)
    for principle, copies in book.PRINCIPLES.items():
        fragments = [copy.split("{")[0][:60] for copy in copies]
        assert any(fragment in everything for fragment in fragments), f"principle {principle} never shown"


async def test_new_commands_reject_bad_input(coach) -> None:
    anna = make_actor("anna")
    await say(coach, anna, "log Acme tomorrow 3pm")
    for text in (
        "outcome 1",
        "outcome 1 sentiment 9",
        "outcome 1 connection maybe",
        "issues 1",
        "note",
        "snooze Acme 900",
        "handoff 1",
        "call",
    ):
        reply = await coach.handle_text(anna, text)
        assert reply.is_error, text
        assert "Usage:" in reply.plain_text(), text


async def journey(coach: Coach, dispatcher, clock, sender, rep, role: str) -> list[Message]:
    """log → frame → brief → pre-call → outcome with concessions and a hard win → repair → stay in touch."""
    clock.set(utc(2026, 11, 2, 8, 0))  # Monday
    await say(coach, rep, f"settings role {role}")
    for number, day in ((1, 3), (2, 5)):
        await say(coach, rep, f"log Globex 2026-11-{day:02d} 10:00")
        await at(clock, dispatcher, utc(2026, 11, day, 9, 30))
        await at(clock, dispatcher, utc(2026, 11, day, 11, 0))
        await say(coach, rep, f"outcome {number} gave 2 got 0 connection yes")
    await say(coach, rep, "log Globex 2026-11-09 10:00")
    await say(coach, rep, "frame 3 repeat")  # a relationship: Globex becomes long-term
    await say(coach, rep, f"links Globex {'yes yes no no' if role == 'sales' else 'no yes yes no'}")
    brief = await say(coach, rep, "prep 3")
    await at(clock, dispatcher, utc(2026, 11, 9, 8, 30))  # pre-call, 30 min before 10:00 Berlin
    await at(clock, dispatcher, utc(2026, 11, 9, 10, 0))
    outcome = await coach.handle(
        c.RecordOutcome(rep, negotiation=3, hard_win=True, sentiment=2, concessions_given=1, concessions_received=0)
    )
    await at(clock, dispatcher, utc(2026, 11, 10, 10, 0))  # the repair note
    await at(clock, dispatcher, utc(2026, 11, 23, 10, 0))  # the two-week check-in
    await at(clock, dispatcher, utc(2026, 12, 14, 9, 0))  # a Monday more than 21 days on: stay in touch
    return [brief, outcome, *(message for address, message in sender.sent if address.user == rep.address.user)]


async def test_a_buyer_and_a_seller_journey(coach, dispatcher, clock, sender) -> None:
    for rep, role, question in (
        (make_actor("pia"), "procurement", "Do we offer a gateway to the supplier's strategic goals"),
        (make_actor("sam"), "sales", "Does the customer buy strategic components from us"),
    ):
        sender.clear()
        brief, outcome, *nudges = await journey(coach, dispatcher, clock, sender, rep, role)
        assert "negotiate collaboratively" in brief.plain_text()
        assert f"Strongest links: {question}" in brief.plain_text()
        assert "You've given 4 concessions in a row to Globex" in brief.plain_text()
        kinds = [message.kind for message in nudges]
        precall = next(message for message in nudges if message.kind == "precall").plain_text()
        assert "in a row to Globex" in precall and "first 5–10 minutes" in precall
        assert book.HARD_WIN in outcome.plain_text()
        assert {"repair_note", "repair_checkin", "stay_in_touch"} <= set(kinds), kinds
        assert kinds.count("stay_in_touch") >= 1
        stay = next(message for message in nudges if message.kind == "stay_in_touch")
        assert "Globex — last contact" in stay.plain_text()


async def test_the_leads_digest_names_a_rep_who_keeps_conceding(coach, dispatcher, clock, sender) -> None:
    lead, rep = make_actor("lena"), make_actor("sam")
    clock.set(utc(2026, 11, 2, 8, 0))
    await say(coach, lead, "team add sam")
    await say(coach, rep, "team accept lena")  # only a rep who accepted counts in the lead's digest
    await journey(coach, dispatcher, clock, sender, rep, "sales")
    digest = await say(coach, lead, "digest 2026-W45")
    assert "Sam keeps conceding to Globex: 4 given, none received in 8 weeks." in digest.plain_text()


async def test_the_stay_in_touch_buttons_work_as_clicked(coach) -> None:
    anna = make_actor("anna")
    await say(coach, anna, "log Acme yesterday 10am")
    for value in ('call "Acme"', 'note "Acme":', 'snooze "Acme" 14'):
        assert not (await coach.handle_text(anna, value)).is_error, value
