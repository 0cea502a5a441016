"""PRODUCT.md's bracketed defaults can be changed for a whole install (environment variables), and the
coach then uses them: new users' lead time and quiet hours, durations, follow-up timing, contact gap."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from bot.config import ConfigError, Settings
from coaching.engine import Coach, CoachDefaults
from coaching.outbox import Dispatcher
from tests.conftest import make_actor


def test_the_environment_sets_the_installs_coaching_defaults() -> None:
    settings = Settings.from_env(
        {
            "DEALCOACH_DURATION_MINUTES": "45",
            "DEALCOACH_CHANNEL": "Phone",
            "DEALCOACH_DAILY_NUDGES": "5",
            "DEALCOACH_LEAD_MINUTES": "20",
            "DEALCOACH_QUIET_HOURS": "20:30-7:00",
            "DEALCOACH_FOLLOWUP_AFTER_MINUTES": "0",
            "DEALCOACH_FOLLOWUP_REMINDER_HOURS": "48",
            "DEALCOACH_COMMITMENT_REMINDER_TIME": "08:15",
            "DEALCOACH_BACK_TO_BACK_MINUTES": "30",
            "DEALCOACH_CONTACT_GAP_DAYS": "14",
        }
    )
    defaults = settings.coaching
    assert (defaults.duration_minutes, defaults.channel, defaults.daily_nudges) == (45, "phone", 5)
    assert (defaults.lead_minutes, defaults.quiet_hours) == (20, ("20:30", "07:00"))
    timing = defaults.timing
    assert timing.followup_after == timedelta(0) and timing.followup_reminder_after == timedelta(hours=48)
    assert timing.commitment_hour == time(8, 15) and timing.back_to_back_gap == timedelta(minutes=30)
    assert timing.contact_gap == timedelta(days=14)
    assert Settings.from_env({"DEALCOACH_QUIET_HOURS": "off"}).coaching.quiet_hours is None
    assert Settings.from_env({}).coaching == CoachDefaults()  # nothing set: PRODUCT.md's brackets


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("DEALCOACH_DURATION_MINUTES", "an hour", "must be a number"),
        ("DEALCOACH_DURATION_MINUTES", "0", "at least 1"),
        ("DEALCOACH_DURATION_MINUTES", "22.5", "whole number"),
        ("DEALCOACH_CHANNEL", "fax", "must be one of video, phone, email, in-person"),
        ("DEALCOACH_QUIET_HOURS", "late", "like 19:00-08:00"),
        ("DEALCOACH_QUIET_HOURS", "19:00-25:00", "like 19:00-08:00"),
        ("DEALCOACH_COMMITMENT_REMINDER_TIME", "9am", "time of day like 09:00"),
        ("DEALCOACH_CONTACT_GAP_DAYS", "-3", "at least 1"),
        ("DEALCOACH_CONTACT_GAP_DAYS", "1e7", "at most 3650"),
        ("DEALCOACH_DURATION_MINUTES", "inf", "must be a number"),
        ("DEALCOACH_LEAD_MINUTES", "nan", "must be a number"),
        ("DEALCOACH_LEAD_MINUTES", "1441", "at most 1440"),
    ],
)
def test_a_bad_default_names_the_variable_and_the_value(name: str, value: str, says: str) -> None:
    with pytest.raises(ConfigError) as raised:
        Settings.from_env({name: value})
    assert name in str(raised.value) and says in str(raised.value)


async def test_the_coach_uses_the_installs_defaults(sessions, clock, sender) -> None:
    defaults = Settings.from_env(
        {
            "DEALCOACH_DURATION_MINUTES": "45",
            "DEALCOACH_CHANNEL": "phone",
            "DEALCOACH_LEAD_MINUTES": "20",
            "DEALCOACH_QUIET_HOURS": "off",
            "DEALCOACH_FOLLOWUP_AFTER_MINUTES": "5",
        }
    ).coaching
    coach = Coach(sessions, clock, defaults)
    dispatcher = Dispatcher(sessions, coach, {"console": sender}, clock)
    anna = make_actor("anna", "UTC")
    logged = await coach.handle_text(anna, "log Acme 2026-12-01 14:00")
    assert "45 min, phone" in logged.plain_text()
    shown = (await coach.handle_text(anna, "settings")).plain_text()
    assert "20 min" in shown and "Quiet hours: off" in shown

    clock.set(datetime(2026, 12, 1, 13, 40, tzinfo=UTC))  # the pre-call reminder: 20 minutes ahead
    await dispatcher.tick()
    assert sender.kinds() == ["precall"]
    clock.set(datetime(2026, 12, 1, 14, 50, tzinfo=UTC))  # end (14:45) + 5 minutes
    await dispatcher.tick()
    assert sender.kinds() == ["precall", "followup"]


async def test_a_shorter_contact_gap_brings_the_coffee_chat_suggestion_sooner(sessions, clock) -> None:
    anna = make_actor("anna", "UTC")
    coach = Coach(sessions, clock, CoachDefaults())
    await coach.handle_text(anna, "coffee Acme 2026-11-05 10:00")  # 20 days before the clock's start
    default = (await coach.handle_text(anna, "log Acme 2026-12-10 14:00")).plain_text()
    assert "coffee chat" not in default  # within 30 days: no suggestion

    short = Coach(sessions, clock, Settings.from_env({"DEALCOACH_CONTACT_GAP_DAYS": "14"}).coaching)
    suggested = (await short.handle_text(anna, "log Acme 2026-12-11 14:00")).plain_text()
    assert "No informal touchpoint with Acme in the last 14 days" in suggested


async def test_the_service_builds_its_coach_with_the_installs_defaults(database_url) -> None:
    from bot.app import build_runtime

    settings = Settings.from_env({"DATABASE_URL": database_url, "DEALCOACH_DURATION_MINUTES": "25"})
    runtime = await build_runtime(settings, migrate=False)
    try:
        reply = await runtime.coach.handle_text(make_actor("bo", "UTC"), "log Initech 2026-12-02 09:00")
        assert "25 min" in reply.plain_text()
    finally:
        await runtime.close()


async def test_the_digest_comes_at_the_installs_digest_time(sessions, clock, sender) -> None:
    coach = Coach(sessions, clock, Settings.from_env({"DEALCOACH_DIGEST_TIME": "08:30"}).coaching)
    dispatcher = Dispatcher(sessions, coach, {"console": sender}, clock)
    lena = make_actor("lena", "Europe/Berlin")
    reply = await coach.handle_text(lena, "team add anna")
    assert "every Monday at 08:30 your time" in reply.plain_text()
    clock.set(datetime(2026, 11, 30, 7, 29, tzinfo=UTC))  # Monday 08:29 in Berlin (after quiet hours)
    await dispatcher.tick()
    assert "digest" not in sender.kinds()
    clock.set(datetime(2026, 11, 30, 7, 30, tzinfo=UTC))
    await dispatcher.tick()
    assert sender.kinds().count("digest") == 1


async def test_the_service_takes_its_admins_from_dealcoach_admins(database_url) -> None:
    from bot.app import build_runtime

    settings = Settings.from_env({"DATABASE_URL": database_url, "DEALCOACH_ADMINS": " aad-lena-1 , lena ,"})
    assert settings.admins == {"aad-lena-1", "lena"}
    runtime = await build_runtime(settings, migrate=False)
    try:
        teams_admin = make_actor("aad-lena-1", "UTC")  # a Teams user's id is their AAD object id
        added = await runtime.coach.handle_text(teams_admin, "team add anna")
        assert added.text.startswith("Added anna to your team. As a workspace admin")
        invited = await runtime.coach.handle_text(make_actor("otto", "UTC"), "team add bob")
        assert invited.text == "Invited bob to your team."
    finally:
        await runtime.close()
