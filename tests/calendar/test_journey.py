"""Calendar import through the coach: a rep subscribes to a (loopback) Google feed, the negotiations show in
``list`` at the right local times, reminders come before imported meetings and move with them, and the rep
stays in charge (ignore, series, off, forget-me). The poll: leases shared by replicas, a refused feed told once
and paused, a broken feed keeping what was imported, later finds in one daily batch."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from adapters.calendar.feed import FeedFetcher
from coaching.commands import Actor
from coaching.engine import Coach
from coaching.models import CalendarFeed, CalendarImport, IgnoredSeries, Negotiation
from coaching.outbox import Dispatcher
from coaching.ports import Address
from coaching.room import CalendarSetup
from coaching.sealing import Cipher
from tests.calendar.conftest import JANE, NOW, feed
from tests.calendar.feedserver import FeedServer, loopback_only
from tests.fakes import FakeClock, RecordingSender

PATH = "/calendar/ical/jane%40acme.com/private-9f8e7d6c5b4a/basic.ics"
SECRET = "private-9f8e7d6c5b4a"
jane = Actor(Address("console", "local", "jane"), display_name="Jane", timezone="Europe/Berlin", email=JANE)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW)


@pytest.fixture
async def fetcher() -> AsyncIterator[FeedFetcher]:
    async with FeedFetcher(allow_private=True, connect_guard=loopback_only) as fetcher:
        yield fetcher


def calendar_setup(fetcher: FeedFetcher | None, **changes: object) -> CalendarSetup:
    return CalendarSetup(feeds=fetcher, cipher=Cipher("test secret key"), allow_private=True, **changes)  # type: ignore[arg-type]


@pytest.fixture
def coach(sessions: async_sessionmaker[AsyncSession], clock: FakeClock, fetcher: FeedFetcher) -> Coach:
    return Coach(sessions, clock, calendar=calendar_setup(fetcher))


@pytest.fixture
async def subscribed(coach: Coach, provider: FeedServer) -> str:
    provider.publish(PATH, feed("google.ics"))
    reply = await coach.handle_text(jane, f"calendar {provider.url(PATH)}")
    assert not reply.is_error, reply.plain_text()
    return reply.plain_text()


async def say(coach: Coach, text: str, actor: Actor = jane) -> str:
    return (await coach.handle_text(actor, text)).plain_text()


async def count(sessions: async_sessionmaker[AsyncSession], model: type) -> int:
    async with sessions() as session:
        return await session.scalar(select(func.count()).select_from(model)) or 0


def fetches(provider: FeedServer, path: str = PATH) -> int:
    return sum(1 for requested, _ in provider.requests if requested == path)


async def test_subscribe_lists_the_external_meetings_at_their_local_times(coach: Coach, subscribed: str) -> None:
    assert subscribed.startswith("I found 8 negotiations in your calendar for the next 3 weeks:")
    for line in (
        "#1 Globex — Tue 16 Jun 10:00, 60 min, video",  # 08:00Z, Berlin in summer
        "Umbrella — Thu 18 Jun 11:00, 30 min, video",  # a weekly series in its own zone
        "Initech — Thu 18 Jun 16:00, 60 min, video · “Weekly check-in (moved)”",  # a moved instance
        "Wayne Enterprises — Mon 22 Jun 17:00, 30 min, phone",
    ):
        assert line in subscribed
    for never in ("stand-up", "1:1", "Pricing review (internal)", "landlord", "offsite", "Focus time", "round 2"):
        assert never not in subscribed  # colleagues only, private, all-day, free, outside the window
    assert SECRET not in subscribed and "http://127.0.0.1/…" in subscribed
    listed = await say(coach, "list")
    assert "#1 Globex — Tue 16 Jun 10:00, 60 min, video" in listed
    assert listed.count("Umbrella") == 3 and "Initech — Wed 01 Jul 14:00" in listed


async def test_every_meeting_found_has_its_two_buttons_as_text_commands(coach: Coach, provider: FeedServer) -> None:
    provider.publish(PATH, feed("google.ics"))
    reply = await coach.handle_text(jane, f"calendar {provider.url(PATH)}")
    values = [(b.label, b.value) for b in reply.buttons]
    assert values[:2] == [("Not a negotiation", "calendar ignore 1"), ("Never this series", "calendar ignore 1 series")]
    assert len(values) == 16


async def test_a_precall_reminder_arrives_before_an_imported_meeting(
    coach: Coach, subscribed: str, dispatcher: Dispatcher, sender: RecordingSender, clock: FakeClock
) -> None:
    clock.set(NOW + timedelta(hours=25, minutes=29))  # Tue 09:29 Berlin: a minute before the reminder
    await dispatcher.tick()
    assert "precall" not in sender.kinds()
    clock.advance(minutes=1)
    await dispatcher.tick()
    reminders = [m for _, m in sender.sent if m.kind == "precall"]
    assert [m.text for m in reminders] == ["In 30 min: #1 with Globex (Tue 16 Jun 10:00, video)."]


async def test_an_edited_feed_moves_and_cancels_and_the_reminder_moves(
    coach: Coach,
    subscribed: str,
    provider: FeedServer,
    dispatcher: Dispatcher,
    sender: RecordingSender,
    clock: FakeClock,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    provider.publish(PATH, feed("google-edited.ics"), version=1)
    clock.advance(minutes=5)
    synced = await say(coach, "calendar sync")
    assert synced.startswith("Synced: 1 new, 3 moved, 2 cancelled."), synced
    assert "Moved #1 Globex to Tue 16 Jun 15:00; its reminders moved too." in synced
    assert "Cancelled #5 Wayne Enterprises" in synced  # gone from the feed, no outcome
    assert "Globex — Mon 29 Jun 12:00" in synced and "Globex contract signing" in synced  # new
    listed = await say(coach, "list")
    assert "#1 Globex — Tue 16 Jun 15:00" in listed and "Wayne" not in listed
    assert "Initech — Fri 19 Jun 09:00" in listed and "Initech — Wed 01 Jul" not in listed  # moved; cancelled
    clock.set(NOW + timedelta(hours=25, minutes=30))  # the old reminder's moment: nothing
    await dispatcher.tick()
    assert "In 30 min: #1 with Globex" not in " ".join(m.text for _, m in sender.sent)
    clock.set(NOW + timedelta(hours=30, minutes=30))  # 14:30 Berlin
    await dispatcher.tick()
    assert "In 30 min: #1 with Globex (Tue 16 Jun 15:00, video)." in [m.text for _, m in sender.sent]
    assert await count(sessions, Negotiation) == 9


async def test_a_resync_never_duplicates(
    coach: Coach, subscribed: str, provider: FeedServer, sessions: async_sessionmaker[AsyncSession]
) -> None:
    restamped = feed("google.ics").replace(b"DTSTAMP:20260615T055501Z", b"DTSTAMP:20260615T061501Z")
    provider.publish(PATH, restamped, version=7)  # a new ETag, the same meetings
    assert await say(coach, "calendar sync") == "Synced: nothing changed."
    assert await say(coach, "calendar sync") == "Synced: nothing changed in your calendar."  # 304
    assert await count(sessions, Negotiation) == 8
    assert await count(sessions, CalendarImport) == 8


async def test_a_hand_logged_negotiation_is_linked_not_doubled(
    coach: Coach, provider: FeedServer, sessions: async_sessionmaker[AsyncSession]
) -> None:
    logged = await say(coach, "log Globex 2026-06-16 10:20")
    assert logged.startswith("Logged #1: Globex")
    provider.publish(PATH, feed("google.ics"))
    found = await say(coach, f"calendar {provider.url(PATH)}")
    assert "#1 Globex — Tue 16 Jun 10:20, 60 min, video · “Globex — pricing call” (you had logged it: linked)" in found
    listed = await say(coach, "list")
    assert listed.count("Globex") == 1
    assert await count(sessions, Negotiation) == 8


async def test_not_a_negotiation_and_never_this_series_stay_ignored(
    coach: Coach, subscribed: str, provider: FeedServer, sessions: async_sessionmaker[AsyncSession]
) -> None:
    assert (await say(coach, "calendar ignore 1")).startswith("OK: #1 with Globex is not a negotiation.")
    umbrella = [line for line in subscribed.splitlines() if "Umbrella" in line][0]
    number = umbrella.split()[0].lstrip("#")
    series = await say(coach, f"calendar ignore {number} series")
    assert series.startswith("OK: never “Umbrella renewal check-in”"), series
    assert "Removed 3 meetings of it." in series
    provider.publish(PATH, feed("google-edited.ics"), version=1)  # Umbrella's exception moved, Globex moved
    await say(coach, "calendar sync")
    listed = await say(coach, "list")
    assert "Umbrella" not in listed and "Tue 16 Jun" not in listed
    assert "Globex — Mon 29 Jun" in listed  # another meeting with Globex is still one
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(IgnoredSeries)) == 1


async def test_ignore_refuses_a_negotiation_the_calendar_did_not_bring(coach: Coach, subscribed: str) -> None:
    await say(coach, "log Hooli 2026-06-20 10:00")
    answer = await coach.handle_text(jane, "calendar ignore 9")
    assert answer.is_error and "didn't come from your calendar" in answer.text


async def test_off_keeps_only_what_the_rep_worked_on(
    coach: Coach, subscribed: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await say(coach, "commit 2 ours send the menu by friday")
    off = await say(coach, "calendar off")
    assert off.startswith("Calendar disconnected") and "Removed 7 imported negotiations" in off
    assert "Kept 1 with an outcome, commitments or notes." in off
    listed = await say(coach, "list")
    assert "#2 Sam Smith" in listed and "Globex" not in listed
    assert (await say(coach, "calendar")).startswith("No calendar connected.")
    assert await count(sessions, CalendarFeed) == 0


async def test_a_second_subscribe_replaces_the_first(
    coach: Coach, subscribed: str, provider: FeedServer, sessions: async_sessionmaker[AsyncSession]
) -> None:
    other = "/calendar/ical/jane%40acme.com/private-000/basic.ics"
    provider.publish(other, feed("google-edited.ics"))
    replaced = await say(coach, f"calendar {provider.url(other)}")
    assert "Replaced your calendar with http://127.0.0.1/…" in replaced
    assert await count(sessions, CalendarFeed) == 1
    assert "Wayne" not in await say(coach, "list")


async def test_forget_me_deletes_the_feed_and_the_imports(
    coach: Coach, subscribed: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await say(coach, "forget-me confirm")
    for model in (CalendarFeed, CalendarImport, Negotiation):
        assert await count(sessions, model) == 0


async def test_uninstall_deletes_the_feed_and_the_imports(
    coach: Coach, subscribed: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await coach.forget_workspace("console", "local")
    for model in (CalendarFeed, CalendarImport):
        assert await count(sessions, model) == 0


async def test_the_export_has_the_imports_and_never_the_address(
    coach: Coach, subscribed: str, provider: FeedServer, dispatcher: Dispatcher, sender: RecordingSender
) -> None:
    await say(coach, "export")
    await dispatcher.tick()
    data = next(m for _, m in sender.sent if m.kind == "export").attachments[0].data.decode()
    assert "Globex — pricing call" in data and '"imports"' in data
    assert SECRET not in data and str(provider.port) not in data


async def test_the_address_is_stored_sealed(subscribed: str, sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session:
        row = await session.scalar(select(CalendarFeed))
    assert row is not None and row.sealed_url.startswith("fernet:") and SECRET not in row.sealed_url
    assert row.host == "http://127.0.0.1/…"


async def test_in_a_shared_chat_the_address_is_refused_and_not_repeated(
    coach: Coach, provider: FeedServer, sessions: async_sessionmaker[AsyncSession]
) -> None:
    provider.publish(PATH, feed("google.ics"))
    reply = await coach.handle_text(jane, f"calendar {provider.url(PATH)}", shared=True)
    assert reply.personal is False and reply.is_error
    assert SECRET not in reply.plain_text() and "127.0.0.1" not in reply.plain_text()
    assert "Reset" in reply.plain_text()
    assert provider.requests == [] and await count(sessions, CalendarFeed) == 0


async def test_a_loopback_address_is_refused_without_the_allow_setting(
    sessions: async_sessionmaker[AsyncSession], clock: FakeClock, provider: FeedServer
) -> None:
    async with FeedFetcher(connect_guard=loopback_only) as strict:
        coach = Coach(sessions, clock, calendar=CalendarSetup(feeds=strict, cipher=Cipher("k")))
        provider.publish(PATH, feed("google.ics"))
        reply = await coach.handle_text(jane, f"calendar {provider.url(PATH)}")
    assert reply.is_error
    assert reply.text == "I won't fetch that calendar: it points at a private or local network address."
    assert "DEALCOACH_CALENDAR_ALLOW_PRIVATE=1" in reply.plain_text()
    assert provider.requests == [] and await count(sessions, CalendarFeed) == 0


async def test_an_install_without_a_key_stores_no_address(
    sessions: async_sessionmaker[AsyncSession], clock: FakeClock, fetcher: FeedFetcher, provider: FeedServer
) -> None:
    coach = Coach(sessions, clock, calendar=CalendarSetup(feeds=fetcher, cipher=Cipher(lambda: None)))
    reply = await coach.handle_text(jane, f"calendar {provider.url(PATH)}")
    assert reply.is_error and "no DEALCOACH_SECRET_KEY" in reply.text
    assert provider.requests == [] and await count(sessions, CalendarFeed) == 0


async def test_a_bad_address_is_a_clear_error(coach: Coach, provider: FeedServer) -> None:
    for text, said in (
        ("calendar ftp://example.com/cal.ics", "starts with https://, http:// or webcal://"),
        ("calendar https://", "has no server name"),
        (f"calendar {provider.url('/unknown.ics')}", "refuses this address or no longer knows it"),
    ):
        reply = await coach.handle_text(jane, text)
        assert reply.is_error and said in reply.text, reply.text
    assert (await say(coach, "calendar")).startswith("No calendar connected.")


# -- the poll --------------------------------------------------------------------------------------


async def test_two_replicas_never_fetch_one_feed_at_once(
    sessions: async_sessionmaker[AsyncSession], clock: FakeClock, provider: FeedServer
) -> None:
    async with (
        FeedFetcher(allow_private=True, connect_guard=loopback_only) as one,
        FeedFetcher(allow_private=True, connect_guard=loopback_only) as two,
    ):
        first, second = (Coach(sessions, clock, calendar=calendar_setup(f)) for f in (one, two))
        paths = [f"/calendar/rep{i}/basic.ics" for i in range(12)]
        for i, path in enumerate(paths):
            provider.publish(path, feed("google.ics"))
            rep = Actor(Address("console", "local", f"rep{i}"), timezone="Europe/Berlin", email=f"rep{i}@acme.com")
            assert not (await first.handle_text(rep, f"calendar {provider.url(path)}")).is_error
        clock.advance(minutes=15)  # every feed is due once in an interval
        reports = await asyncio.gather(first.sync_calendars(worker="a"), second.sync_calendars(worker="b"))
    assert sum(report.claimed for report in reports) == 12
    assert all(fetches(provider, path) == 2 for path in paths)  # the subscribe's fetch, and one poll
    async with sessions() as session:
        assert await session.scalar(select(func.count()).where(CalendarFeed.claimed_by.is_not(None))) == 0


async def test_feeds_spread_over_the_interval(
    coach: Coach, provider: FeedServer, sessions: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    for i in range(20):
        provider.publish(f"/c/{i}.ics", feed("google.ics"))
        rep = Actor(Address("console", "local", f"rep{i}"), timezone="Europe/Berlin", email=f"rep{i}@acme.com")
        await coach.handle_text(rep, f"calendar {provider.url(f'/c/{i}.ics')}")
    async with sessions() as session:
        due = sorted((await session.scalars(select(CalendarFeed.due_at))).all())
    assert NOW < due[0] and due[-1] <= NOW + timedelta(minutes=15)
    minutes = {int((moment - NOW).total_seconds() // 60) for moment in due}
    assert len(minutes) >= 10  # not all at once


async def test_a_refused_feed_is_told_once_and_paused_until_sync(
    coach: Coach,
    subscribed: str,
    provider: FeedServer,
    clock: FakeClock,
    dispatcher: Dispatcher,
    sender: RecordingSender,
) -> None:
    provider.statuses[PATH] = 404  # the secret address was reset
    clock.advance(minutes=15)
    assert (await coach.sync_calendars(worker="w")).paused == 1
    await dispatcher.tick()
    told = [m for _, m in sender.sent if m.kind == "calendar_trouble"]
    assert [m.text for m in told] == ["I can't read your calendar any more, so I've paused it."]
    assert "no longer knows it" in told[0].plain_text() and SECRET not in told[0].plain_text()
    for _ in range(3):  # paused: not fetched, not told again
        clock.advance(minutes=15)
        assert (await coach.sync_calendars(worker="w")).claimed == 0
        await dispatcher.tick()
    assert fetches(provider) == 2 and len([m for _, m in sender.sent if m.kind == "calendar_trouble"]) == 1
    status = await say(coach, "calendar")
    assert "paused until you type calendar sync" in status.replace("`", "")
    assert "#1 Globex" in await say(coach, "list")  # what was imported stays
    del provider.statuses[PATH]
    assert (await say(coach, "calendar sync")).startswith("Synced")
    assert "Last error: none" in await say(coach, "calendar")


async def test_a_feed_that_no_longer_reads_keeps_what_was_imported(
    coach: Coach, subscribed: str, provider: FeedServer, clock: FakeClock
) -> None:
    provider.publish(PATH, b"<html>Service temporarily unavailable</html>", version=2)
    clock.advance(minutes=15)
    assert (await coach.sync_calendars(worker="w")).failed == 1
    status = await say(coach, "calendar")
    assert "What I imported before stays." in status
    assert "#1 Globex — Tue 16 Jun 10:00" in await say(coach, "list")


async def test_later_finds_come_in_one_daily_batch(
    coach: Coach,
    subscribed: str,
    provider: FeedServer,
    clock: FakeClock,
    dispatcher: Dispatcher,
    sender: RecordingSender,
) -> None:
    provider.publish(PATH, feed("google-edited.ics"), version=1)  # one new meeting (Globex signing)
    clock.advance(minutes=15)
    assert (await coach.sync_calendars(worker="w")).changed == 1
    await dispatcher.tick()
    assert "calendar_news" not in sender.kinds()  # not one ping per meeting
    clock.set(NOW + timedelta(days=1, hours=1))  # Tue 09:00 Berlin
    await dispatcher.tick()
    news = [m for _, m in sender.sent if m.kind == "calendar_news"]
    assert len(news) == 1 and news[0].text == "Your calendar has 1 new negotiation:"
    assert "Globex — Mon 29 Jun 12:00" in news[0].plain_text()
    assert [b.value for b in news[0].buttons] == ["calendar ignore 9", "calendar ignore 9 series"]


async def test_a_learned_domain_names_the_counterpart(coach: Coach, provider: FeedServer) -> None:
    learned = await say(coach, "counterpart Globex Corporation domain globex.com")
    assert learned.startswith("Noted: meetings with people at globex.com are with Globex Corporation.")
    provider.publish(PATH, feed("google.ics"))
    found = await say(coach, f"calendar {provider.url(PATH)}")
    assert "#1 Globex Corporation — Tue 16 Jun 10:00" in found


async def test_own_domains_and_keywords_are_settings(coach: Coach, provider: FeedServer) -> None:
    changed = await say(coach, "settings domains acme.com, umbrella-corp.com keywords pricing, procurement")
    assert "Own domains: acme.com (from your profile); acme.com, umbrella-corp.com" in changed
    assert "Calendar keywords: pricing, procurement" in changed
    provider.publish(PATH, feed("google.ics"))
    found = await say(coach, f"calendar {provider.url(PATH)}")
    assert "Umbrella" not in found and "Globex" in found  # umbrella-corp.com people are colleagues now
    bad = await coach.handle_text(jane, "settings domains not a domain!")
    assert bad.is_error and "is not an email domain" in bad.text


# -- a file ----------------------------------------------------------------------------------------


async def test_an_ics_file_is_read_once_like_a_feed(coach: Coach, sessions: async_sessionmaker[AsyncSession]) -> None:
    reply = await coach.import_calendar(jane, feed("outlook.ics"), filename="Calendar.ics")
    assert not reply.is_error and reply.text.startswith("I found ")
    assert reply.buttons and reply.buttons[0].value == "calendar ignore 1"
    again = await coach.import_calendar(jane, feed("outlook.ics"), filename="Calendar.ics")
    assert again.text.startswith("I found no negotiations")  # known already: nothing doubled
    assert await count(sessions, CalendarFeed) == 0


@pytest.mark.parametrize(
    ("data", "said"),
    [
        (b"", "That file is empty"),
        (b"PK\x03\x04 not a calendar", "I couldn't read that file as a calendar"),
        (b"BEGIN:VCALENDAR\r\n" + b"X" * (5 * 1024 * 1024), "larger than 5 MB"),
    ],
)
async def test_a_bad_file_is_a_clear_error_and_stores_nothing(
    coach: Coach, sessions: async_sessionmaker[AsyncSession], data: bytes, said: str
) -> None:
    reply = await coach.import_calendar(jane, data, filename="x.ics")
    assert reply.is_error and said in reply.text
    assert await count(sessions, Negotiation) == 0 and await count(sessions, CalendarImport) == 0


def one_calendar(*events: tuple[str, str, str]) -> bytes:
    """(uid, UTC start as 20260615T060000Z, title) each, an hour long, with Jane and someone at globex.com."""
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//test//EN"]
    for uid, start, title in events:
        lines += [
            "BEGIN:VEVENT",
            f"UID:{uid}",
            f"DTSTART:{start}",
            f"DTEND:{start[:9]}{int(start[9:11]) + 1:02d}{start[11:]}",
            "DTSTAMP:20260601T000000Z",
            f"SUMMARY:{title}",
            f"ORGANIZER:mailto:{JANE}",
            "ATTENDEE;PARTSTAT=ACCEPTED:mailto:bob@globex.com",
            "END:VEVENT",
        ]
    return ("\r\n".join([*lines, "END:VCALENDAR"]) + "\r\n").encode()


async def test_a_meeting_under_way_and_an_absurd_uid_are_left_out(coach: Coach) -> None:
    data = one_calendar(
        ("started@x", "20260615T055000Z", "Globex call under way"),
        ("u" * 700, "20260616T090000Z", "Globex call with a giant UID"),
        ("fine@x", "20260616T120000Z", "Globex pricing"),
    )
    reply = await coach.import_calendar(jane, data, filename="x.ics")
    assert reply.text.startswith("I found 1 negotiation in your file x.ics"), reply.plain_text()
    assert "Globex — Tue 16 Jun 14:00" in reply.plain_text()


async def test_a_pasted_address_is_never_repeated_back(coach: Coach) -> None:
    """Pasted alone, or after a misspelt ``calender``, the secret address is not echoed, nor stored."""
    secret = "https://calendar.google.com/calendar/ical/jane%40acme.com/private-5f3a9c77/basic.ics"
    for line in (secret, f"calender {secret}", "www.example.com/private-5f3a9c77.ics"):
        reply = await coach.handle_text(jane, line)
        assert "5f3a9c77" not in reply.plain_text() and "calendar" in reply.plain_text(), reply.plain_text()
    assert "No calendar connected" in (await coach.handle_text(jane, "calendar")).plain_text()
