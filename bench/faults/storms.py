"""Slack misbehaves: a storm of 429s (with ``Retry-After``), then of 5xx, then refused connections.

``--reminders`` nudges fall due and ``--commands`` slash commands arrive just as the fake Slack starts
answering 429 (``Retry-After: --retry-after``) for ``--storm`` seconds, then 503 for as long, then drops
every connection for as long, then recovers. Printed: every nudge and every answer delivered exactly
once, and the shortest time between a 429 and the next attempt for the same rep (never less than
``Retry-After``).

    python bench/faults/storms.py [--database-url postgresql+asyncpg://...] [--reminders 300] [--storm 3]

Retries back off (30 s first, for nudges; 2 s for answers), so the drain takes a minute or two. Without
``--database-url`` it runs on a temporary SQLite file. It empties the database it is given.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness  # noqa: E402


async def drill(
    url: str, reminders: int, count: int, storm: float, retry_after: int, modes: list[str], workdir: Path, code: Path
) -> dict[str, Any]:
    async with harness.fresh(url, retry_after=retry_after) as slack:
        return await _storms(slack, url, reminders, count, storm, modes, workdir, code)


async def _storms(
    slack: harness.FakeSlack,
    url: str,
    reminders: int,
    count: int,
    storm: float,
    modes: list[str],
    workdir: Path,
    code: Path,
) -> dict[str, Any]:
    retry_after = slack.retry_after
    commands = harness.Commands(slack, prefix="Storm")
    attempts: dict[str, list[tuple[float, str]]] = {}  # per rep: (when, how Slack answered) of each message
    original = slack._answer

    def answer(path: str, headers: dict[str, str], body: bytes) -> tuple[str, str, dict[str, Any]]:
        if path.endswith("chat.postMessage"):
            channel = harness.json.loads(body or b"{}").get("channel")
            attempts.setdefault(channel, []).append((time.monotonic(), slack.mode))
        return original(path, headers, body)

    slack._answer = answer  # type: ignore[method-assign]
    async with aiohttp.ClientSession() as http, harness.replicas(1, url, slack, workdir, code=code) as (replica,):
        await replica.ready()
        await commands.send(http, replica.url)  # a replica that has been serving (Bolt knows its bot)
        await commands.wait_answered(10)
        slack.mode = "429"
        expected = await harness.seed_reminders(url, reminders, kind="followup")
        await asyncio.gather(*(commands.send(http, replica.url) for _ in range(count)))
        for mode in modes:
            slack.mode = mode
            await asyncio.sleep(storm)
        slack.mode = "ok"
        recovered = time.monotonic()
        done = await slack.wait(
            lambda: (
                set(d.key.split("|", 1)[0] for d in slack.deliveries) >= expected
                and all(commands.answers(c) for c in commands.sent if c.acked)
            ),
            240,
        )
        drained = time.monotonic() - recovered
    users = await harness.delivered_users(slack)
    waits = [  # from each 429 to the next attempt for the same rep
        later[0] - earlier[0]
        for tries in attempts.values()
        for earlier, later in zip(tries, tries[1:], strict=False)
        if earlier[1] == "429"
    ]
    return {
        "all delivered after the storms": done,
        "seconds to drain after Slack recovered": round(drained, 1),
        "nudges expected": reminders,
        "nudges delivered once": sum(1 for u in expected if users.get(u) == 1),
        "nudges delivered twice or more": sum(1 for u in expected if users.get(u, 0) > 1),
        "nudges never delivered": sum(1 for u in expected if u not in users),
        "429s answered": sum(1 for tries in attempts.values() for _, mode in tries if mode == "429"),
        "Retry-After (s)": retry_after,
        "shortest wait after a 429 (s)": round(min(waits), 2) if waits else None,
        "connections dropped by Slack": slack.refused_requests,
        **{k: v for k, v in (await commands.tally(url)).items() if "answer" in k or k.startswith("acknowledged")},
    }


async def main(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        url = args.database_url or f"sqlite+aiosqlite:///{folder}/drill.db"
        code = Path(args.code).resolve()
        return await drill(
            url, args.reminders, args.commands, args.storm, args.retry_after, args.storms, Path(folder), code
        )


if __name__ == "__main__":
    parser = harness.arguments(__doc__, postgres=False)
    parser.add_argument("--reminders", type=int, default=300)
    parser.add_argument("--commands", type=int, default=50)
    parser.add_argument("--storm", type=float, default=3.0, help="seconds of each storm")
    parser.add_argument("--retry-after", type=int, default=45, help="the 429s' Retry-After (longer than the backoff)")
    parser.add_argument("--storms", nargs="*", default=["429", "5xx", "refuse"], choices=("429", "5xx", "refuse"))
    arguments = parser.parse_args()
    harness.out(asyncio.run(main(arguments)), arguments.json)
