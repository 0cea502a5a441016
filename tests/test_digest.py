"""Teams and the weekly digest: hand-computed numbers over two weeks, week-over-week change, highlights,
the Monday 09:00 delivery (exactly once per lead per week), permissions, time-zone edges and the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from coaching import commands as c
from coaching.digest import Week
from coaching.engine import Coach
from coaching.models import Nudge
from coaching.outbox import Dispatcher
from tests.conftest import make_actor
from tests.fakes import FakeClock

PNG = b"\x89PNG\r\n\x1a\n"
LENA = make_actor("lena", "Europe/Berlin")
ANNA = make_actor("anna", "Europe/Berlin")
BOB = make_actor("bob", "America/New_York")
CARA = make_actor("cara", "Europe/Berlin")
DAN = make_actor("dan", "Europe/Berlin")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


async def say(coach: Coach, actor, text: str) -> str:
    reply = await coach.handle_text(actor, text)
    assert not reply.is_error, (text, reply.plain_text())
    return reply.plain_text()


async def join(coach: Coach, lead, rep) -> None:
    """``team add`` is an invitation: the rep accepts it."""
    await say(coach, lead, f"team add {rep.address.user}")
    await say(coach, rep, f"team accept {lead.address.user}")


async def outcome(coach: Coach, actor, number: int, **fields) -> None:
    reply = await coach.handle(c.RecordOutcome(actor, negotiation=number, **fields))
    assert not reply.is_error, reply.plain_text()


async def two_weeks(coach: Coach, clock: FakeClock, dispatcher: Dispatcher) -> None:
    """Lena leads Anna, Bob, Cara and Dan; weeks 2026-W47 (16–22 Nov) and W48 (23–29 Nov)."""
    clock.set(utc(2026, 11, 16, 8, 0))
    for rep in (ANNA, BOB, CARA, DAN):
        await coach.handle_text(rep, "help")  # the reps have used the bot: their time zones are known
        await join(coach, LENA, rep)
    # W47 — Anna: held Tue 09:00, opened with connection, follow-up on time; two commitments.
    clock.set(utc(2026, 11, 17, 9, 0))
    await say(coach, ANNA, "log Acme 2026-11-17 09:00")
    await outcome(coach, ANNA, 1, opened_with_connection=True, sentiment=4)
    await say(coach, ANNA, "followup 1 asked about her marathon")
    await say(coach, ANNA, "commit 1 ours send pricing by 2026-11-19")  # never kept: overdue from the 19th
    await say(coach, ANNA, "commit 1 theirs send usage data by 2026-11-20")
    # W47 — Bob (New York): held Wed 09:00 NY, no personal opening, a hard win, follow-up only on Friday.
    clock.set(utc(2026, 11, 18, 15, 0))
    await say(coach, BOB, "log Globex 2026-11-18 09:00")
    await outcome(coach, BOB, 1, opened_with_connection=False, hard_win=True, sentiment=2)
    clock.set(utc(2026, 11, 20, 16, 0))
    await say(coach, ANNA, "kept 2")
    await say(coach, BOB, "followup 1")
    await dispatcher.tick()
    # W48 — Anna: two calls back to back on Monday, outcomes in, no follow-ups.
    clock.set(utc(2026, 11, 23, 15, 30))
    await say(coach, ANNA, "log Acme 2026-11-23 14:00 for 60 minutes")
    await say(coach, ANNA, "log Initech 2026-11-23 15:05 for 20 minutes")
    await outcome(coach, ANNA, 2, opened_with_connection=True)
    await outcome(coach, ANNA, 3, opened_with_connection=True)
    # W48 — Bob: a call Tuesday 10:00 NY, two promises from Globex that slip, follow-up late on Thursday.
    clock.set(utc(2026, 11, 24, 16, 0))
    await say(coach, BOB, "log Globex 2026-11-24 10:00")
    await outcome(coach, BOB, 2, opened_with_connection=True)
    await say(coach, BOB, "commit 2 theirs sign the NDA by 2026-11-25")
    await say(coach, BOB, "commit 2 theirs send the forecast by 2026-11-26")
    clock.set(utc(2026, 11, 25, 12, 0))
    await say(coach, CARA, "coffee Acme")
    clock.set(utc(2026, 11, 26, 16, 0))
    await say(coach, BOB, "followup 2")
    await dispatcher.tick()


def facts(message) -> dict[str, str]:
    return {label: value for section in message.sections for label, value in section.facts}


def lines(message, heading: str) -> list[str]:
    return next(list(s.lines) for s in message.sections if s.heading == heading)


async def test_monday_digest_has_the_hand_computed_numbers(coach, clock, dispatcher, sender) -> None:
    await two_weeks(coach, clock, dispatcher)
    sender.clear()
    clock.set(utc(2026, 11, 30, 7, 59))  # Monday 08:59 in Berlin
    await dispatcher.tick()
    assert "digest" not in sender.kinds()
    clock.set(utc(2026, 11, 30, 8, 0))
    await dispatcher.tick()
    (address, digest), *_ = [(a, m) for a, m in sender.sent if m.kind == "digest"]
    assert address.user == "lena"
    assert digest.text == "Weekly digest 2026-W48, Mon 23 Nov – Sun 29 Nov — Lena's team"
    team = facts(digest)
    assert team["Negotiations held"] == "3 (+1)"
    assert team["Personal connection"] == "100% (+50 pts)"
    assert team["Follow-ups within 24 h"] == "0% (−50 pts)"
    assert team["Commitments, ours"] == "0 made · 0 kept · 1 overdue (±0 overdue)"
    assert team["Commitments, theirs"] == "2 made · 0 kept · 2 overdue (+2 overdue)"
    assert team["Touchpoints"] == "2 (±0)"
    assert team["Hard wins"] == "0 (−1)"
    assert team["Back-to-backs"] == "1 (+1)"
    assert lines(digest, "Highlights") == [
        "Follow-ups within 24 h fell from 50% to 0%.",
        "2 commitments from Globex are overdue.",
        "No activity logged by Dan.",
    ]
    reps = lines(digest, "Per rep")
    assert [line.split(" — ")[0] for line in reps] == ["Anna", "Bob", "Cara", "Dan"]  # nobody dropped
    assert reps[0].startswith(
        "Anna — 2 held (+1), connection 100%, follow-ups ≤24 h 0/2, ours 0 made · 0 kept · 1 overdue"
    )
    assert "back-to-backs 1" in reps[0]
    assert reps[1].startswith("Bob — 1 held (±0), connection 100%, follow-ups ≤24 h 0/1")
    assert "theirs 2 made · 0 kept · 2 overdue" in reps[1]
    assert reps[2].startswith("Cara — 0 held (±0)") and "touchpoints 1" in reps[2]
    assert reps[3] == "Dan — no activity"
    (chart,) = digest.attachments
    assert chart.content_type == "image/png" and chart.data.startswith(PNG)


async def test_the_previous_week_and_on_demand_give_the_same_numbers(coach, clock, dispatcher, sender) -> None:
    await two_weeks(coach, clock, dispatcher)
    clock.set(utc(2026, 11, 30, 8, 0))
    await dispatcher.tick()
    scheduled = next(m for _, m in sender.sent if m.kind == "digest" and "W48" in m.text)
    on_demand = await coach.handle_text(LENA, "digest")
    assert on_demand.text == scheduled.text
    assert facts(on_demand) == facts(scheduled)
    assert lines(on_demand, "Per rep") == lines(scheduled, "Per rep")
    w47 = await coach.handle_text(LENA, "digest 2026-W47")
    team = facts(w47)
    assert team["Negotiations held"] == "2 (+2)"
    assert team["Personal connection"] == "50%"
    assert team["Follow-ups within 24 h"] == "50%"
    assert team["Commitments, ours"] == "1 made · 0 kept · 1 overdue (+1 overdue)"
    assert team["Commitments, theirs"] == "1 made · 1 kept · 0 overdue (±0 overdue)"
    assert team["Hard wins"] == "1 (+1)"
    assert "1 hard win(s): check in on those relationships." in lines(w47, "Highlights")
    # The W47 digest went out on Monday 23 Nov too — exactly once.
    assert [m.text[:22] for _, m in sender.sent if m.kind == "digest"] == [
        "Weekly digest 2026-W47",
        "Weekly digest 2026-W48",
    ]


async def test_one_digest_per_lead_per_week_across_restarts(coach, clock, dispatcher, sender, sessions) -> None:
    await join(coach, LENA, ANNA)
    for restart in range(3):  # a new process each time, on the same database
        fresh = Coach(sessions, clock)
        again = Dispatcher(sessions, fresh, {"console": sender}, clock, worker=f"restart-{restart}")
        await fresh.handle_text(LENA, "team add anna")
        clock.set(utc(2026, 11, 30, 8, 0 + restart))
        await again.tick()
    assert [kind for kind in sender.kinds() if kind != "team_news"] == ["digest"]
    async with sessions() as session:
        keys = (await session.scalars(select(Nudge.key).where(Nudge.kind == "digest").order_by(Nudge.key))).all()
    lead_id = keys[0].split(":")[1]
    assert keys == [f"digest:{lead_id}:2026-W48", f"digest:{lead_id}:2026-W49"]  # the next one is lined up


async def test_a_rep_who_left_counts_only_for_their_weeks(coach, clock, dispatcher) -> None:
    await two_weeks(coach, clock, dispatcher)
    clock.set(utc(2026, 11, 27, 9, 0))
    assert (await coach.handle_text(LENA, "team remove cara")).text.startswith("Removed Cara")
    clock.set(utc(2026, 12, 7, 9, 0))
    w48 = await coach.handle_text(LENA, "digest 2026-W48")
    assert any(line.startswith("Cara") for line in lines(w48, "Per rep"))
    w49 = await coach.handle_text(LENA, "digest")
    assert w49.text.startswith("Weekly digest 2026-W49")
    assert not any(line.startswith("Cara") for line in lines(w49, "Per rep"))
    assert "Cara" not in (await coach.handle_text(LENA, "team list")).plain_text()


async def test_an_empty_week(coach, clock) -> None:
    clock.set(utc(2026, 11, 16, 8, 0))
    await join(coach, LENA, ANNA)
    clock.set(utc(2026, 12, 1, 8, 0))
    digest = await coach.handle_text(LENA, "digest 2026-W48")
    assert facts(digest)["Negotiations held"] == "0 (±0)"
    assert facts(digest)["Follow-ups within 24 h"] == "—"
    assert lines(digest, "Per rep") == ["Anna — no activity"]
    assert lines(digest, "Highlights") == ["No activity logged by Anna."]


async def test_leads_see_only_their_own_team(coach, clock, dispatcher) -> None:
    await two_weeks(coach, clock, dispatcher)
    otto, eve = make_actor("otto"), make_actor("eve")
    await join(coach, otto, eve)
    await say(coach, eve, "log Umbrella 2026-11-24 10:00")
    clock.set(utc(2026, 12, 1, 9, 0))
    digest = await coach.handle_text(otto, "digest")
    assert [line.split(" — ")[0] for line in lines(digest, "Per rep")] == ["Eve"]
    assert facts(digest)["Negotiations held"] == "1 (+1)"
    # Anna is on Lena's team: Otto's add is an invitation, and Anna decides (she is not moved)
    taken = await coach.handle_text(otto, "team add anna")
    assert taken.text == "Invited Anna to your team."
    assert "Anna is on another lead's team at the moment; moving is their call." in taken.plain_text()
    assert [line.split(" — ")[0] for line in lines(await coach.handle_text(otto, "digest"), "Per rep")] == ["Eve"]
    assert "Your lead" in (await coach.handle_text(ANNA, "team")).plain_text()
    assert (await coach.handle_text(otto, "team remove anna")).text == "Withdrew your invitation to Anna."
    assert (await coach.handle_text(otto, "team remove anna")).is_error
    rep = await coach.handle_text(ANNA, "digest")
    assert rep.is_error and "for team leads" in rep.text
    assert "Your lead: Lena" in (await coach.handle_text(ANNA, "team list")).plain_text()
    workspace_b = make_actor("lena", "Europe/Berlin", workspace="other")
    assert (await coach.handle_text(workspace_b, "digest")).is_error  # same name, other workspace: no team


async def test_week_edges_follow_the_leads_time_zone_and_dst(coach, clock) -> None:
    # Berlin leaves summer time on Sun 25 Oct 2026. W43 runs Mon 19 Oct 00:00 CEST – Mon 26 Oct 00:00 CET.
    berlin = ZoneInfo("Europe/Berlin")
    start, end = Week(2026, 43).bounds(berlin)
    assert (start.astimezone(UTC), end.astimezone(UTC)) == (utc(2026, 10, 18, 22, 0), utc(2026, 10, 25, 23, 0))
    clock.set(utc(2026, 10, 19, 8, 0))
    ny_lead = make_actor("nora", "America/New_York")
    await join(coach, LENA, ANNA)
    await join(coach, ny_lead, BOB)
    clock.set(utc(2026, 10, 26, 12, 0))
    await say(coach, ANNA, "log Acme 2026-10-25 23:30")  # Sunday night, after the change: still W43
    await say(coach, ANNA, "log Initech 2026-10-26 00:30")  # Monday: W44
    await say(coach, BOB, "log Globex 2026-10-25 18:30")  # Sunday 18:30 New York = Monday 00:30 Berlin
    w43 = await coach.handle_text(LENA, "digest 2026-W43")
    w44 = await coach.handle_text(LENA, "digest this week")
    assert facts(w43)["Negotiations held"] == "1 (+1)"
    assert facts(w44)["Negotiations held"] == "1 (±0)"
    assert facts(await coach.handle_text(ny_lead, "digest 2026-W43"))["Negotiations held"] == "1 (+1)"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [("digest 2026-W60", "has no week 60"), ("digest someday", "is not a week"), ("digest 2027-W10", "hasn't started")],
)
async def test_digest_bad_weeks(coach, text: str, fragment: str) -> None:
    await join(coach, LENA, ANNA)
    reply = await coach.handle_text(LENA, text)
    assert reply.is_error and fragment in reply.text


async def test_team_commands_accept_mentions_and_report_bad_ones(coach) -> None:
    slack_lead = make_actor("U0LEAD")
    assert (await coach.handle_text(slack_lead, "team add <@U0ANNA|anna>")).text.startswith("Invited U0ANNA")
    assert (await coach.handle_text(slack_lead, "team add @U0BOB")).text.startswith("Invited U0BOB")
    assert (await coach.handle_text(slack_lead, "team add")).is_error
    assert (await coach.handle_text(slack_lead, "team fire <@U0BOB>")).is_error
    listing = (await coach.handle_text(slack_lead, "team list")).plain_text()
    assert "U0ANNA" in listing and "U0BOB" in listing


async def test_digest_cli_matches_the_chat_digest(coach, clock, dispatcher, database_url, tmp_path: Path) -> None:
    await two_weeks(coach, clock, dispatcher)
    clock.set(utc(2026, 11, 30, 9, 0))
    # The CLI reads the real clock, so compare a week that is over whenever this runs.
    in_chat = await coach.handle_text(LENA, "digest 2026-W47")
    env = {"DATABASE_URL": database_url, "PATH": "/usr/bin:/bin"}
    chart = tmp_path / "out.png"
    command = [
        sys.executable,
        "-m",
        "bot.cli",
        "digest",
        "--workspace",
        "local",
        "--lead",
        "lena",
        "--week",
        "2026-W47",
    ]
    text = subprocess.run([*command, "--chart", str(chart)], capture_output=True, text=True, env=env, timeout=120)
    assert text.returncode == 0, text.stderr
    for label, value in facts(in_chat).items():
        assert f"{label}: {value}" in text.stdout
    assert chart.read_bytes().startswith(PNG)
    as_json = subprocess.run([*command, "--format", "json"], capture_output=True, text=True, env=env, timeout=120)
    data = json.loads(as_json.stdout)
    team = next(row for row in data["rows"] if row["rep"] == "TEAM")
    assert (team["held"], team["followups_on_time"], team["hard_wins"]) == (2, 1, 1)
    assert len(data["history"]) == 8
    as_csv = subprocess.run([*command, "--format", "csv"], capture_output=True, text=True, env=env, timeout=120)
    assert as_csv.stdout.splitlines()[0].startswith("week,rep,held,")
    assert len(as_csv.stdout.splitlines()) == 6  # header, four reps, team
    missing = subprocess.run(
        [sys.executable, "-m", "bot.cli", "digest", "--workspace", "local", "--lead", "nobody"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert missing.returncode == 2 and "no user 'nobody'" in missing.stderr


def change(value: str) -> str:
    """``3 (+1)`` → ``+1``; ``100% (+50 pts)`` → ``+50``."""
    return value.rsplit("(", 1)[1].split(")")[0].replace(" pts", "").replace(" overdue", "")


def number(value: str) -> float | None:
    head = value.split(" (")[0].split(" ·")[0]
    return None if head.startswith("—") else float(head.rstrip("%").split()[0])


async def test_every_figure_of_the_week_before_is_what_that_weeks_digest_shows(coach, clock, dispatcher) -> None:
    await two_weeks(coach, clock, dispatcher)
    # Dan called Globex in W47 and left before W48: he counts in W47, and so in W48's "week before";
    # Eve joins only now, with a W47 negotiation of her own: she counts for both weeks
    clock.set(utc(2026, 11, 19, 9, 0))
    await say(coach, DAN, "call Globex")
    clock.set(utc(2026, 11, 21, 9, 0))
    await say(coach, LENA, "team remove dan")
    eve = make_actor("eve")
    clock.set(utc(2026, 11, 18, 9, 0))
    await say(coach, eve, "log Umbrella 2026-11-18 11:00")
    await outcome(coach, eve, 1, opened_with_connection=False)
    clock.set(utc(2026, 12, 1, 9, 0))
    await join(coach, LENA, eve)
    w48 = facts(await coach.handle_text(LENA, "digest 2026-W48"))
    w47 = facts(await coach.handle_text(LENA, "digest 2026-W47"))
    assert w47["Negotiations held"].startswith("3 ")  # Anna, Bob — and Eve, who joined after that week
    assert w47["Touchpoints"].startswith("3 ")  # Anna's and Bob's follow-ups, Dan's call
    for label in ("Negotiations held", "Touchpoints", "Hard wins", "Back-to-backs"):
        delta = number(w48[label]) - number(w47[label])
        assert change(w48[label]) == ("±0" if delta == 0 else f"{delta:+.0f}".replace("-", "−")), label
    for label in ("Personal connection", "Follow-ups within 24 h"):
        if number(w48[label]) is not None and number(w47[label]) is not None:
            delta = number(w48[label]) - number(w47[label])
            assert change(w48[label]) == ("±0" if delta == 0 else f"{delta:+.0f}".replace("-", "−")), label
    # the chart's points are those digests' figures, and the running week is marked
    this_week = await coach.handle_text(LENA, "digest this week")
    assert this_week.text.endswith("(so far) — Lena's team")


async def test_the_chart_history_has_held_connection_and_the_running_week(coach, clock, dispatcher, sessions) -> None:
    from coaching.digest import build_digest
    from coaching.leads import team_led_by
    from coaching.models import User

    await two_weeks(coach, clock, dispatcher)
    clock.set(utc(2026, 11, 26, 9, 0))  # Thursday of W48: the running week
    async with sessions() as session:
        lena = await session.scalar(select(User).where(User.external_id == "lena"))
        team = await team_led_by(session, lena)
        digest = await build_digest(
            session, team, Week(2026, 48), now=clock.now(), tz=ZoneInfo("Europe/Berlin"), contact_gap=timedelta(30)
        )
    *_, w47, w48 = digest.history
    assert (w47.week, w47.held, w47.connection_rate, w47.partial) == ("2026-W47", 2, 0.5, False)
    assert (w48.week, w48.held, w48.connection_rate, w48.partial) == ("2026-W48", 3, 1.0, True)
    assert all(point.held == 0 and point.connection_rate is None for point in digest.history[:-2])


async def test_empty_states_say_what_is_missing(coach, clock) -> None:
    nobody = make_actor("nora")
    await say(coach, nobody, "team add zed")
    await say(coach, nobody, "team remove zed")  # the invitation withdrawn: a team with nobody
    empty = await coach.handle_text(nobody, "digest")
    assert "Nobody is on your team yet: invite your reps with `team add @name`." in empty.plain_text()
    await say(coach, nobody, "team add zed")
    waiting = await coach.handle_text(nobody, "digest")
    assert "Invited, not joined yet: zed. They count from the moment they accept" in waiting.plain_text()
