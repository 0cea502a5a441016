"""The coach's own cost: CPU and wall time per command, for each command word, on SQLite in-process.

    python bench/coach.py [--rounds 5] [--n 200] [--negotiations 300] [--commitments 60] [--only list prep]
                          [--profile] [--code DIR ...]

A rep ("anna") has ``--negotiations`` negotiations spread over the coming months with 50 counterparts, and
``--commitments`` open commitments; a lead ("lena") has her in their team, for ``digest``. Each command is
typed text through ``Coach.handle_text``, as Slack, Teams and the console send it. For each command word and
each round the seeded database file is copied afresh (what the last round logged is not the next round's
history), ``--warmup`` commands run untimed, then ``--n`` are timed: CPU is ``time.process_time`` (this
process, the aiosqlite thread included), wall is ``time.perf_counter``. The figure is the median of the
rounds, in ms per command.

``digest`` (a dozen queries and a chart, ~300 ms) times ``--n`` / 20 commands a round (at least 5).
``kept``: each timed ``kept`` is preceded by an untimed ``commit`` that gives it an open commitment to mark.

``--profile`` prints a cProfile summary (by own time and by cumulative time) of one round of each word.
``--code DIR`` runs the same bench, in a child process each, against other checkouts (e.g. a baseline
``git worktree add /tmp/base <commit>``) in turns with this one — A B A B for ``--pairs`` — and prints
each side's medians and the ratio, so a baseline is measured in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import os
import pstats
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if "--import-from" not in sys.argv:
    sys.path.insert(0, str(ROOT))

START = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)  # a Wednesday
WORDS = ("list", "commitments", "prep", "log", "note", "commit", "kept", "digest", "help")


class Clock:
    def now(self) -> datetime:
        return START


def firm(i: int) -> str:
    return f"Firm{chr(65 + i // 26)}{chr(65 + i % 26)}"  # one word, so no time is read into it


def text_for(word: str, i: int, negotiations: int) -> str:
    """The ``i``-th command of that word."""
    number = 1 + (i * 7) % negotiations
    return {
        "list": "list",
        "commitments": "commitments",
        "prep": f"prep {number}",
        "log": f"log {firm(i % 50)} in {1 + (i * 7) % 120} days 3pm",  # spread, as the seeded ones are
        "note": f"note {firm(i % 50)}: sent the revised terms",
        "commit": f"commit {number} ours send the revised deck by friday",
        "digest": "digest",
        "help": "help",
    }[word]


def actors() -> tuple[Any, Any]:
    from coaching.commands import Actor
    from coaching.ports import Address

    rep = Actor(Address("console", "bench", "anna"), "Anna", "Europe/Berlin")
    lead = Actor(Address("console", "bench", "lena"), "Lena", "Europe/Berlin")
    return rep, lead


async def open_coach(db: Path) -> tuple[Any, Any]:
    from bot.database import make_engine, make_sessions
    from coaching.engine import Coach

    engine = make_engine(f"sqlite+aiosqlite:///{db}")
    return engine, Coach(make_sessions(engine), Clock())


async def seed(db: Path, negotiations: int, commitments: int) -> None:
    from bot.database import make_engine, upgrade
    from coaching import commands as c

    engine = make_engine(f"sqlite+aiosqlite:///{db}")
    await upgrade(engine)
    await engine.dispose()
    engine, coach = await open_coach(db)
    rep, lead = actors()
    span = timedelta(days=120) / negotiations  # the coming four months
    for i in range(negotiations):
        when = START + timedelta(days=1, hours=i % 7) + span * i
        await coach.handle(c.LogNegotiation(rep, firm(i % 50), when, repeat=i % 3 == 0, exact=True))
    for i in range(commitments):
        number = 1 + (i * 5) % negotiations
        side = "ours" if i % 2 else "theirs"
        await coach.handle(c.AddCommitment(rep, number, side, f"item {i}", due=(START + timedelta(days=3)).date()))
    await coach.handle_text(lead, "team add anna")
    await coach.handle_text(rep, "team accept lena")
    await engine.dispose()


async def one_round(seeded: Path, work: Path, word: str, n: int, warmup: int, negotiations: int, profile: bool) -> dict:
    n = max(5, n // 20) if word == "digest" else n
    shutil.copyfile(seeded, work)
    engine, coach = await open_coach(work)
    rep, lead = actors()
    who = lead if word == "digest" else rep

    async def command(i: int, timed: bool) -> tuple[float, float]:
        if word == "kept":
            made = await coach.handle_text(rep, text_for("commit", i, negotiations))
            text = f"kept {made.ref.split(':')[1]}"
        else:
            text = text_for(word, i, negotiations)
        cpu, wall = time.process_time(), time.perf_counter()
        reply = await coach.handle_text(who, text)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        if "went wrong" in reply.text:
            raise SystemExit(f"{text!r}: {reply.text}")
        return cpu, wall

    for i in range(warmup):
        await command(n + i, False)
    profiler = cProfile.Profile() if profile else None
    cpu = wall = 0.0
    if profiler:
        profiler.enable()
    for i in range(n):
        spent_cpu, spent_wall = await command(i, True)
        cpu, wall = cpu + spent_cpu, wall + spent_wall
    if profiler:
        profiler.disable()
    await engine.dispose()
    return {"cpu": cpu / n * 1000, "wall": wall / n * 1000, "profile": profiler}


def print_profile(word: str, profiler: cProfile.Profile, top: int) -> None:
    for order in ("tottime", "cumulative"):
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).strip_dirs().sort_stats(order).print_stats(top)
        lines = out.getvalue().splitlines()
        start = next((i for i, line in enumerate(lines) if line.lstrip().startswith("ncalls")), 0)
        print(f"\n--- {word}: by {order} ---")
        print("\n".join(lines[start : start + top + 1]))


async def bench(args: argparse.Namespace) -> dict[str, dict[str, float]]:
    words = args.only or WORDS
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        seeded, work = Path(tmp, "seeded.db"), Path(tmp, "work.db")
        await seed(seeded, args.negotiations, args.commitments)
        for word in words:
            rounds = [
                await one_round(seeded, work, word, args.n, args.warmup, args.negotiations, False)
                for _ in range(args.rounds)
            ]
            results[word] = {
                "cpu": statistics.median(r["cpu"] for r in rounds),
                "wall": statistics.median(r["wall"] for r in rounds),
            }
            if not args.json:
                print(
                    f"  {word:12} cpu {results[word]['cpu']:7.2f} ms   wall {results[word]['wall']:7.2f} ms", flush=True
                )
            if args.profile:
                profiled = await one_round(seeded, work, word, args.n, args.warmup, args.negotiations, True)
                print_profile(word, profiled["profile"], args.top)
    return results


def child(code: Path, args: argparse.Namespace) -> dict[str, dict[str, float]]:
    """This bench, run in a new process against the checkout at ``code``."""
    argv = [sys.executable, str(Path(__file__).resolve()), "--json", "--import-from", str(code)]
    argv += ["--rounds", str(args.rounds), "--n", str(args.n), "--warmup", str(args.warmup)]
    argv += ["--negotiations", str(args.negotiations), "--commitments", str(args.commitments)]
    if args.only:
        argv += ["--only", *args.only]
    env = {**os.environ, "PYTHONPATH": str(code)}
    done = subprocess.run(argv, cwd=code, env=env, capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"bench against {code} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.splitlines()[-1])


def compare(args: argparse.Namespace) -> None:
    checkouts = [ROOT, *(Path(d).resolve() for d in args.code)]
    runs: dict[Path, list[dict[str, dict[str, float]]]] = {code: [] for code in checkouts}
    for pair in range(args.pairs):
        for code in checkouts:
            print(f"  pair {pair + 1}/{args.pairs}: {code} …", flush=True)
            runs[code].append(child(code, args))
    words = args.only or WORDS
    medians = {
        code: {w: {k: statistics.median(r[w][k] for r in rows) for k in ("cpu", "wall")} for w in words}
        for code, rows in runs.items()
    }
    names = ["this"] + [Path(d).name for d in args.code]
    print(f"\nms per command, median of {args.pairs} run(s) × {args.rounds} rounds of {args.n}:")
    print(f"  {'':12} " + "".join(f"{name + ' cpu':>14}{name + ' wall':>14}" for name in names) + "   cpu ratio")
    for w in words:
        cells = "".join(f"{medians[code][w]['cpu']:14.2f}{medians[code][w]['wall']:14.2f}" for code in checkouts)
        ratios = " ".join(f"{medians[code][w]['cpu'] / medians[ROOT][w]['cpu']:5.1f}x" for code in checkouts[1:])
        print(f"  {w:12} {cells}   {ratios}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--n", type=int, default=200, help="timed commands per round")
    parser.add_argument("--warmup", type=int, default=20, help="untimed commands before each round")
    parser.add_argument("--negotiations", type=int, default=300)
    parser.add_argument("--commitments", type=int, default=60)
    parser.add_argument("--only", nargs="+", choices=WORDS, help="these command words only")
    parser.add_argument("--profile", action="store_true", help="a cProfile summary of one round of each word")
    parser.add_argument("--top", type=int, default=25, help="rows of the profile summary")
    parser.add_argument("--code", nargs="+", default=[], metavar="DIR", help="also bench these checkouts")
    parser.add_argument("--pairs", type=int, default=2, help="with --code: runs of each checkout, in turns")
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--import-from", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.code:
        compare(args)
        return
    if not args.json:
        print(
            f"Coach bench: {args.negotiations} negotiations, {args.commitments} open commitments, SQLite; "
            f"ms per command, median of {args.rounds} rounds of {args.n}"
        )
    results = asyncio.run(bench(args))
    if args.json:
        print(json.dumps(results))


if __name__ == "__main__":
    main()
