"""How long the weekly digest takes on a big PostgreSQL database.

    python bench/digest.py --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/test

Phase 1 (the baseline) stores one team: 50 reps with 10k negotiations and 25k commitments. Phase 2
grows the same database to 1,000 reps in 20 teams, 200k negotiations and 500k commitments. Each phase
prints the time of one team's digest (queries only, and with the chart) and of all leads' digests.
The run DROPS AND RECREATES the database's public schema: never point it at real data.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import DateTime, Integer, bindparam, select, text  # noqa: E402

from bot.config import normalize_database_url  # noqa: E402
from bot.database import make_engine, make_sessions, upgrade  # noqa: E402
from coaching.chart import render_chart  # noqa: E402
from coaching.digest import Week, build_digest  # noqa: E402
from coaching.models import Team  # noqa: E402
from coaching.nudges import Timing  # noqa: E402

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)  # a Monday: the digest of W48 is due
WEEK = Week(2026, 48)
GAP = Timing().contact_gap
REPS_PER_TEAM = 50
SPAN_HOURS = 12 * 7 * 24  # negotiations spread over the last 12 weeks

# Everything is generated in SQL with arithmetic on the series number, so the data is the same every run.
FILL = [
    """INSERT INTO users (id, workspace_id, external_id, display_name, timezone, timezone_set_by_user, role,
           lead_minutes, quiet_start, quiet_end, nudges_enabled, created_at)
       SELECT g, 1, 'U' || g, 'Rep ' || g, CASE WHEN g % 3 = 0 THEN 'America/New_York' ELSE 'Europe/Berlin' END,
              false, 'sales', 30, '19:00', '08:00', true, :now
       FROM generate_series(:first_rep, :last_rep) AS g""",
    """INSERT INTO users (id, workspace_id, external_id, display_name, timezone, timezone_set_by_user, role,
           lead_minutes, quiet_start, quiet_end, nudges_enabled, created_at)
       SELECT 100000 + t, 1, 'LEAD' || t, 'Lead ' || t, 'Europe/Berlin', false, 'sales', 30, '19:00', '08:00',
              true, :now
       FROM generate_series(:first_team, :last_team) AS t""",
    """INSERT INTO teams (id, workspace_id, lead_id, created_at)
       SELECT t, 1, 100000 + t, :now FROM generate_series(:first_team, :last_team) AS t""",
    """INSERT INTO team_members (team_id, user_id, joined_at)
       SELECT (g - 1) / 50 + 1, g, :now - interval '365 days' FROM generate_series(:first_rep, :last_rep) AS g""",
    """INSERT INTO negotiations (id, owner_id, number, counterpart_id, starts_at, duration_minutes, channel, status,
           back_to_back, opened_with_connection, hard_win, followup_on_time, sentiment, created_at)
       SELECT g, (g - 1) % :reps + 1, g, g % 500 + 1, :now - make_interval(hours => (g * 37) % 2016), 60, 'video',
              CASE WHEN g % 10 = 0 THEN 'scheduled' ELSE 'done' END, g % 17 = 0,
              CASE WHEN g % 4 = 0 THEN NULL ELSE g % 5 < 3 END, g % 23 = 0, g % 5 < 4, g % 5 + 1, :now
       FROM generate_series(:first_negotiation, :last_negotiation) AS g""",
    """INSERT INTO commitments (owner_id, number, negotiation_id, counterpart_id, side, text, due_on, status,
           resolved_at, created_at)
       SELECT n.owner_id, g, n.id, n.counterpart_id, CASE WHEN g % 2 = 0 THEN 'ours' ELSE 'theirs' END,
              'commitment ' || g,
              (n.starts_at + interval '3 days')::date,
              CASE g % 3 WHEN 0 THEN 'open' WHEN 1 THEN 'kept' ELSE 'missed' END,
              CASE WHEN g % 3 = 0 THEN NULL ELSE n.starts_at + interval '2 days' END, n.starts_at
       FROM generate_series(:first_commitment, :last_commitment) AS g
       JOIN negotiations n ON n.id = (g - 1) % :negotiations_so_far + 1""",
    """INSERT INTO touchpoints (user_id, counterpart_id, kind, at, created_at)
       SELECT (g - 1) % :reps + 1, g % 500 + 1, 'coffee', :now - make_interval(hours => (g * 53) % 2016), :now
       FROM generate_series(:first_touchpoint, :last_touchpoint) AS g""",
]


async def fill(engine, teams: tuple[int, int], negotiations: tuple[int, int], commitments: tuple[int, int]) -> float:
    started = time.perf_counter()
    reps = teams[1] * REPS_PER_TEAM
    params = {
        "now": NOW,
        "reps": reps,
        "first_rep": (teams[0] - 1) * REPS_PER_TEAM + 1,
        "last_rep": reps,
        "first_team": teams[0],
        "last_team": teams[1],
        "first_negotiation": negotiations[0],
        "last_negotiation": negotiations[1],
        "negotiations_so_far": negotiations[1],
        "first_commitment": commitments[0],
        "last_commitment": commitments[1],
        "first_touchpoint": negotiations[0],
        "last_touchpoint": negotiations[1] // 4,
    }
    async with engine.begin() as connection:
        for statement in FILL:
            # asyncpg needs the parameter types spelled out (generate_series is overloaded)
            typed = text(statement).bindparams(
                *(
                    bindparam(name, type_=DateTime(timezone=True) if name == "now" else Integer())
                    for name in params
                    if f":{name}" in statement
                )
            )
            await connection.execute(typed, {k: v for k, v in params.items() if f":{k}" in statement})
    async with engine.connect() as connection:
        await connection.execution_options(isolation_level="AUTOCOMMIT")
        await connection.execute(text("VACUUM ANALYZE"))
    return time.perf_counter() - started


async def time_digests(sessions, *, runs: int = 5) -> tuple[float, float, float, int]:
    """Median seconds: one team's digest (queries), the same with its chart, and all leads' digests."""
    async with sessions() as session:
        teams = (await session.scalars(select(Team).order_by(Team.id))).all()
        one, with_chart, everyone = [], [], []
        for _ in range(runs):
            started = time.perf_counter()
            digest = await build_digest(session, teams[0], WEEK, now=NOW, tz=_zone(teams[0]), contact_gap=GAP)
            one.append(time.perf_counter() - started)
            render_chart(digest.history, "bench")
            with_chart.append(time.perf_counter() - started)
        for _ in range(max(1, runs // 2)):
            started = time.perf_counter()
            for team in teams:
                await build_digest(session, team, WEEK, now=NOW, tz=_zone(team), contact_gap=GAP)
            everyone.append(time.perf_counter() - started)
    return statistics.median(one), statistics.median(with_chart), statistics.median(everyone), len(teams)


def _zone(team: Team):  # type: ignore[no-untyped-def]
    from coaching.nudges import user_zone

    return user_zone(team.lead)


async def main(url: str) -> None:
    engine = make_engine(url)
    if engine.dialect.name != "postgresql":
        raise SystemExit("bench/digest.py needs PostgreSQL (--database-url postgresql+asyncpg://...)")
    async with engine.begin() as connection:
        await connection.execute(text("DROP SCHEMA public CASCADE"))
        await connection.execute(text("CREATE SCHEMA public"))
    await upgrade(engine)
    async with engine.begin() as connection:
        await connection.execute(
            text("INSERT INTO workspaces (id, platform, external_id, created_at) VALUES (1, 'slack', 'T1', :now)"),
            {"now": NOW},
        )
        # Counterparts are each rep's own; the digest's queries only join them by id, so 500 of one owner do.
        await connection.execute(
            text(
                "INSERT INTO users (id, workspace_id, external_id, timezone, timezone_set_by_user, role, lead_minutes,"
                " nudges_enabled, created_at) VALUES (999999, 1, 'OWNER', 'UTC', false, 'sales', 30, true, :now)"
            ),
            {"now": NOW},
        )
        await connection.execute(
            text(
                "INSERT INTO counterparts (owner_id, name, name_key, long_term, created_at) "
                "SELECT 999999, 'Counterpart ' || g, 'counterpart ' || g, g % 4 = 0, :now "
                "FROM generate_series(1, 500) g"
            ),
            {"now": NOW},
        )
    sessions = make_sessions(engine)
    print(f"PostgreSQL digest of {WEEK.label}; median of 5 runs (all leads: median of 2)")
    seconds = await fill(engine, (1, 1), (1, 10_000), (1, 25_000))
    base_one, base_chart, base_all, teams = await time_digests(sessions)
    print(f"  baseline   50 reps,  1 team,   10k negotiations,  25k commitments (filled in {seconds:.1f} s)")
    print(f"    one team: {base_one * 1000:7.1f} ms  (with chart {base_chart * 1000:7.1f} ms)   all {teams} leads: "
          f"{base_all * 1000:8.1f} ms")  # fmt: skip
    seconds = await fill(engine, (2, 20), (10_001, 200_000), (25_001, 500_000))
    one, with_chart, everyone, teams = await time_digests(sessions)
    print(f"  full     1000 reps, 20 teams, 200k negotiations, 500k commitments (filled in {seconds:.1f} s)")
    print(
        f"    one team: {one * 1000:7.1f} ms  (with chart {with_chart * 1000:7.1f} ms)   all {teams} leads: "
        f"{everyone * 1000:8.1f} ms"
    )
    print(f"  one team's digest on the full data / baseline: {one / base_one:.2f}x (target: one team <= 200 ms)")
    await engine.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", required=True, help="a PostgreSQL database used only for benchmarks")
    asyncio.run(main(normalize_database_url(parser.parse_args().database_url)))
