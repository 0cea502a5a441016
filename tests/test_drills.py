"""Short versions of the fault drills in bench/faults/: the same scripts, with small numbers, run as real
processes against real ``dealcoach serve`` replicas and a fake Slack on loopback. The full ones (and their
figures) are in README's "Fault drills"; ``-m 'not drill'`` leaves these out."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import is_postgres

pytestmark = pytest.mark.drill
DRILLS = Path(__file__).resolve().parents[1] / "bench" / "faults"
postgres_only = pytest.mark.skipif(not is_postgres(), reason="replicas and database outages need PostgreSQL")


async def drill(script: str, *args: str, timeout: float = 120) -> dict[str, Any]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(DRILLS / script), *args, "--json",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env={**os.environ, "PYTHONPATH": ""},
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), timeout)
    assert process.returncode == 0, err.decode()[-2000:]
    return json.loads(out.decode().strip().splitlines()[-1])


def database_args(url: str) -> list[str]:
    return ["--database-url", url]


async def test_sigterm_under_load_exits_0_in_time_and_leaves_no_claim(empty_database_url) -> None:
    figures = await drill(
        "sigterm.py", *database_args(empty_database_url), "--rate", "30", "--reminders", "200", "--before", "1"
    )
    assert figures["ms from SIGTERM to /readyz 503"] < 1000
    assert figures["exit code"] == 0 and figures["seconds from SIGTERM to exit"] <= 8
    assert figures["claims left at exit"] == {"outbox": 0, "inbox": 0}
    assert figures["commands accepted after SIGTERM"] > 0  # the listener stayed open for a moment
    assert figures["5xx"] == 0
    assert figures["acknowledged and not applied (lost)"] == 0 and figures["applied twice or more"] == 0
    assert figures["acknowledged and answered once"] == figures["acknowledged (stored)"]
    assert figures["nudges sent once"] == 200


async def test_429_and_refused_connections_from_slack_lose_and_repeat_nothing(empty_database_url) -> None:
    figures = await drill(
        "storms.py", *database_args(empty_database_url),
        "--reminders", "20", "--commands", "5", "--storm", "0.5", "--retry-after", "1", "--storms", "429", "refuse",
    )  # fmt: skip
    assert figures["all delivered after the storms"]
    assert figures["nudges delivered once"] == 20 and figures["nudges delivered twice or more"] == 0
    assert figures["429s answered"] > 0 and figures["shortest wait after a 429 (s)"] >= 1
    assert figures["acknowledged and answered once"] == figures["acknowledged (stored)"] == 6


@postgres_only
async def test_replicas_start_together_and_a_sigkill_loses_nothing(empty_database_url) -> None:
    figures = await drill(
        "replicas.py", *database_args(empty_database_url),
        "--only", "startup", "sigkill", "--replicas", "3", "--reminders", "600", "--lease", "3", "--kind", "followup",
    )  # fmt: skip
    assert figures["startup"]["replicas serving"] == 3, figures["startup"]
    killed = figures["sigkill"]
    assert killed["lost"] == 0 and killed["delivered"] == 600
    assert killed["duplicates"] <= 10  # at most the sends in flight at the kill (DEALCOACH_SEND_CONCURRENCY)


@postgres_only
async def test_connection_resets_and_a_database_outage_are_nobodys_problem(empty_database_url) -> None:
    figures = await drill(
        "database.py", *database_args(empty_database_url),
        "--commands", "15", "--reset-for", "1", "--rate", "5", "--stop-for", "2",
    )  # fmt: skip
    resets, outage = figures["connection resets"], figures["database away"]
    assert resets["connections terminated"] > 0
    assert resets["acknowledged and applied once"] == resets["acknowledged and answered once"] == 15
    assert outage["5xx"] == 0 and outage["answered 'not saved' in the ack"] > 0
    assert outage["'not saved' but applied anyway"] == 0 and outage["applied twice or more"] == 0
    assert outage["acknowledged and not applied (lost)"] == 0
    assert outage["acknowledged and answered once"] == outage["acknowledged (stored)"]
    assert outage["acknowledged, yet answered 'not saved'/'went wrong'"] == 0
    assert outage["replica still the same process (no restart)"]


async def test_slow_and_too_many_clients_are_closed_capped_and_logged_once() -> None:
    figures = await drill("slow_clients.py", "--connections", "200", "--nofile", "128", "--timeout", "0.5")
    assert figures["still open after 3x the timeout"] == 0  # each closed after the header timeout, or refused
    assert figures["closed by the server (header timeout)"] + figures["turned away with 503 (connection cap)"] == 200
    assert figures["a normal request right after"] == 200
    assert figures["stalled body answered"] == "HTTP/1.1 408 Request Timeout"
    assert figures["'Too many open files' lines logged"] <= 1 and figures["'refusing more' lines logged"] <= 1


@postgres_only
async def test_one_persons_burst_does_not_hold_up_someone_elses_answer(empty_database_url) -> None:
    figures = await drill(
        "fairness.py", *database_args(empty_database_url),
        "--burst", "300", "--others", "3", "--after", "0.2", "--spread", "0.3",
    )  # fmt: skip
    assert figures["A acknowledged"] == 300 and figures["5xx or refused"] == 0
    assert figures["others answered"] == 6  # idle and during the burst
    # first in, first out would answer each of the others after most of A's burst
    assert figures["A's answers sent before each other's answer"]["max"] < 300 // 3
