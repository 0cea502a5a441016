"""The install's calendar settings reach the coach, and the key for secret addresses comes from
DEALCOACH_SECRET_KEY or, for SQLite, a key file beside the database made on first use."""

from __future__ import annotations

import logging
import stat
from datetime import timedelta
from pathlib import Path

import pytest

from bot import keys
from bot.app import build_runtime
from bot.config import ConfigError, Settings
from coaching.commands import Actor
from coaching.ports import Address
from tests.calendar.conftest import NOW, feed
from tests.calendar.feedserver import FeedServer
from tests.fakes import FakeClock

PATH = "/calendar/ical/private-abc/basic.ics"


def test_the_calendar_settings_are_read_from_the_environment() -> None:
    settings = Settings.from_env(
        {
            "DEALCOACH_CALENDAR_MINUTES": "5",
            "DEALCOACH_CALENDAR_ALLOW_PRIVATE": "1",
            "DEALCOACH_INTERNAL_DOMAINS": "Acme.com, @acme.de;acme.co.uk",
        }
    )
    assert settings.calendar_minutes == 5 and settings.calendar_allow_private is True
    assert settings.internal_domains == ("acme.com", "acme.de", "acme.co.uk")
    assert Settings.from_env({}).calendar_minutes == 15 and not Settings.from_env({}).calendar_allow_private


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("DEALCOACH_CALENDAR_MINUTES", "0", "DEALCOACH_CALENDAR_MINUTES must be at least 1"),
        ("DEALCOACH_CALENDAR_ALLOW_PRIVATE", "maybe", "DEALCOACH_CALENDAR_ALLOW_PRIVATE must be 1 or 0"),
        ("DEALCOACH_INTERNAL_DOMAINS", "acme.com, not a domain", "DEALCOACH_INTERNAL_DOMAINS must be"),
    ],
)
def test_a_bad_calendar_setting_names_itself(name: str, value: str, says: str) -> None:
    with pytest.raises(ConfigError, match=says):
        Settings.from_env({name: value})


async def test_the_service_reads_calendars_with_the_installs_settings(database_url: str, provider: FeedServer) -> None:
    provider.publish(PATH, feed("google.ics"))
    env = {
        "DATABASE_URL": database_url,
        "DEALCOACH_SECRET_KEY": "a long random secret",
        "DEALCOACH_CALENDAR_ALLOW_PRIVATE": "1",
        "DEALCOACH_INTERNAL_DOMAINS": "acme.com",
        "DEALCOACH_CALENDAR_MINUTES": "5",
    }
    clock = FakeClock(NOW)
    runtime = await build_runtime(Settings.from_env(env), clock=clock, migrate=False)
    no_email = Actor(Address("console", "local", "jane"), display_name="Jane", timezone="Europe/Berlin")
    try:
        found = await runtime.coach.handle_text(no_email, f"calendar {provider.url(PATH)}")
        assert found.text.startswith("I found 8 negotiations"), found.plain_text()  # acme.com: the install's
        assert "I read it every 5 minutes" in found.plain_text()
        clock.advance(timedelta(minutes=5))
        await runtime.poll_calendars()
        assert len(provider.requests) == 2  # subscribed, then polled once
    finally:
        await runtime.close()
    strict = await build_runtime(Settings.from_env({**env, "DEALCOACH_CALENDAR_ALLOW_PRIVATE": "0"}), migrate=False)
    try:
        refused = await strict.coach.handle_text(no_email, f"calendar {provider.url(PATH)}")
        assert refused.is_error and "private or local network address" in refused.text
    finally:
        await strict.close()


def test_sqlite_gets_a_key_file_beside_the_database_on_first_use(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings.from_env({"DATABASE_URL": f"sqlite:///{tmp_path / 'dealcoach.db'}"})
    load = keys.secret_key(settings)
    path = tmp_path / "dealcoach.db.secret-key"
    assert not path.exists()  # nothing sealed yet, no file
    with caplog.at_level(logging.INFO, logger="bot.keys"):
        key = load()
        assert load() == key and keys.secret_key(settings)() == key  # another process reads the same key
    assert key and path.read_text().strip() == key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    said = [record.getMessage() for record in caplog.records]
    assert len(said) == 1 and str(path) in said[0] and key not in said[0]
    assert list(tmp_path.iterdir()) == [path]


def test_postgresql_without_a_key_says_so_at_start(caplog: pytest.LogCaptureFixture) -> None:
    settings = Settings.from_env({"DATABASE_URL": "postgresql://dealcoach@db.example/dealcoach"})
    assert keys.secret_key(settings)() is None
    with caplog.at_level(logging.WARNING, logger="bot.keys"):
        keys.warn_if_missing(settings)
    assert "DEALCOACH_SECRET_KEY is not set: calendar feeds can't be stored" in caplog.text
    configured = Settings.from_env({"DATABASE_URL": "postgresql://x@db/x", "DEALCOACH_SECRET_KEY": "k"})
    assert keys.secret_key(configured)() == "k"
