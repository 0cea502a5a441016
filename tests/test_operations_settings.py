"""The operations settings (leases, shutdown, send concurrency, server limits) from the environment, and
the service built with them."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.app import build_runtime
from bot.config import ConfigError, Operations, Settings


def test_the_environment_sets_how_the_service_runs() -> None:
    settings = Settings.from_env(
        {
            "DEALCOACH_LEASE_SECONDS": "45",
            "DEALCOACH_SHUTDOWN_SECONDS": "5",
            "DEALCOACH_SEND_CONCURRENCY": "4",
            "DEALCOACH_MAX_CONNECTIONS": "200",
            "DEALCOACH_READ_TIMEOUT_SECONDS": "2.5",
        }
    )
    assert settings.operations == Operations(
        lease_seconds=45, shutdown_seconds=5, send_concurrency=4, max_connections=200, read_timeout=2.5
    )
    assert Settings.from_env({}).operations == Operations(120, 8, 10, 1000, 10)  # the README's defaults


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("DEALCOACH_LEASE_SECONDS", "0", "at least 1"),
        ("DEALCOACH_SHUTDOWN_SECONDS", "soon", "a number"),
        ("DEALCOACH_SEND_CONCURRENCY", "2.5", "whole number"),
        ("DEALCOACH_MAX_CONNECTIONS", "0", "at least 1"),
        ("DEALCOACH_READ_TIMEOUT_SECONDS", "-1", "at least"),
    ],
)
def test_a_bad_operations_setting_names_the_variable(name: str, value: str, says: str) -> None:
    with pytest.raises(ConfigError) as raised:
        Settings.from_env({name: value})
    assert name in str(raised.value) and says in str(raised.value)


async def test_the_service_sends_with_the_configured_lease_and_concurrency(database_url) -> None:
    env = {"DATABASE_URL": database_url, "DEALCOACH_LEASE_SECONDS": "45", "DEALCOACH_SEND_CONCURRENCY": "3"}
    runtime = await build_runtime(Settings.from_env(env))
    try:
        assert runtime.dispatcher.lease == timedelta(seconds=45) and runtime.dispatcher.concurrency == 3
        assert runtime.shutdown.seconds == 8
    finally:
        await runtime.close()
