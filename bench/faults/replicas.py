"""Replicas on one PostgreSQL database: they start together, share the nudges, and survive a SIGKILL.

1. ``--replicas`` processes of ``dealcoach serve`` started at once on an empty database: do they all serve?
2. Throughput: ``--reminders`` due at once, sent to the fake Slack by one replica, then by ``--replicas``.
3. A SIGKILL: the same reminders across ``--replicas``, the busiest one killed when a quarter went out:
   expected, delivered, lost, duplicates (at most the sends in flight at the kill: the send concurrency),
   and how long the rest took (the killed replica's claim waits for DEALCOACH_LEASE_SECONDS).

    python bench/faults/replicas.py --database-url postgresql+asyncpg://postgres@127.0.0.1:5433/drill
    python bench/faults/replicas.py ... --code /tmp/baseline     # the same drill on another checkout

It empties the database's ``public`` schema first: give it a database of its own.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness  # noqa: E402


async def startup(url: str, count: int, workdir: Path, code: Path) -> dict[str, Any]:
    async with (
        harness.fresh(url, migrated=False) as slack,
        harness.replicas(count, url, slack, workdir, code=code) as started,
    ):
        results = await asyncio.gather(*(r.ready(60, path=_ready_path(code)) for r in started), return_exceptions=True)
        serving = [r for r in results if isinstance(r, float)]
        return {
            "replicas started at once": count,
            "replicas serving": len(serving),
            "slowest start (s)": round(max(serving), 2) if serving else None,
            "failed": [str(r)[:200] for r in results if not isinstance(r, float)],
        }


def _ready_path(code: Path) -> str:
    """``/readyz`` where the checkout has it (older ones only had ``/healthz``)."""
    return "/readyz" if "readyz" in (code / "bot" / "web.py").read_text() else "/healthz"


async def throughput(
    url: str, count: int, reminders: int, workdir: Path, code: Path, env: dict[str, str], kind: str
) -> dict[str, Any]:
    async with (
        harness.fresh(url) as slack,
        harness.replicas(count, url, slack, workdir, code=code, **env) as started,
    ):
        await asyncio.gather(*(r.ready(60, path=_ready_path(code)) for r in started))
        cpu = sum(r.cpu_seconds() for r in started)
        expected = await harness.seed_reminders(url, reminders, kind=kind)
        seeded = time.monotonic()
        done = await slack.wait(lambda: len(slack.deliveries) >= reminders, 120)
        cpu = sum(r.cpu_seconds() for r in started) - cpu
        users = await harness.delivered_users(slack)
        first, last = slack.deliveries[0].at, slack.deliveries[-1].at
        return {
            "replicas": count,
            "delivered": len(users),
            "all delivered": done and set(users) == expected,
            "duplicates": sum(n - 1 for n in users.values() if n > 1),
            "nudges/s (first to last send)": round(len(slack.deliveries) / max(last - first, 1e-6)),
            "seconds from due to last send": round(last - seeded, 2),
            "replica CPU ms per nudge": round(cpu * 1000 / reminders, 2),
        }


async def sigkill(
    url: str, count: int, reminders: int, lease: float, workdir: Path, code: Path, env: dict[str, str], kind: str
) -> dict[str, Any]:
    env = {"DEALCOACH_LEASE_SECONDS": str(lease), **env}
    async with (
        harness.fresh(url) as slack,
        harness.replicas(count, url, slack, workdir, code=code, **env) as started,
    ):
        await asyncio.gather(*(r.ready(60, path=_ready_path(code)) for r in started))
        expected = await harness.seed_reminders(url, reminders, kind=kind)
        await slack.wait(lambda: len(slack.deliveries) >= reminders // 4, 120)
        sent = Counter(d.token for d in slack.deliveries)  # the busiest replica is surely mid-batch
        victim = max(started, key=lambda r: sent[r.token])
        victim.kill()
        killed_at = time.monotonic()
        by_victim = sum(d.token == victim.token for d in slack.deliveries)
        await slack.wait(lambda: set(d.key.split("|", 1)[0] for d in slack.deliveries) >= expected, lease + 120)
        users = await harness.delivered_users(slack)
        last = max(d.at for d in slack.deliveries)
        return {
            "replicas": count,
            "expected": reminders,
            "delivered": len(set(users) & expected),
            "lost": len(expected - set(users)),
            "duplicates": sum(n - 1 for n in users.values() if n > 1),
            "sent by the killed replica before the kill": by_victim,
            "drain after the kill (s)": round(last - killed_at, 2),
            "lease (s)": lease,
        }


async def main(args: argparse.Namespace) -> dict[str, Any]:
    code = Path(args.code).resolve()
    env = {"DEALCOACH_SEND_CONCURRENCY": str(args.concurrency)} if args.concurrency else {}
    with tempfile.TemporaryDirectory() as folder:
        workdir = Path(folder)
        figures: dict[str, Any] = {"code": str(code)}
        if "startup" in args.only:
            figures["startup"] = await startup(args.database_url, args.replicas, workdir, code)
        if "throughput" in args.only:
            one = await throughput(args.database_url, 1, args.reminders, workdir, code, env, args.kind)
            many = await throughput(args.database_url, args.replicas, args.reminders, workdir, code, env, args.kind)
            figures["throughput, 1 replica"] = one
            figures[f"throughput, {args.replicas} replicas"] = many
            figures["speed-up"] = round(many["nudges/s (first to last send)"] / one["nudges/s (first to last send)"], 2)
        if "sigkill" in args.only:
            figures["sigkill"] = await sigkill(
                args.database_url, args.replicas, args.reminders, args.lease, workdir, code, env, args.kind
            )
        return figures


if __name__ == "__main__":
    parser = harness.arguments(__doc__, postgres=True)
    parser.add_argument("--replicas", type=int, default=3)
    parser.add_argument("--reminders", type=int, default=4000)
    parser.add_argument("--lease", type=float, default=15.0, help="DEALCOACH_LEASE_SECONDS for the SIGKILL run")
    parser.add_argument("--concurrency", type=int, default=0, help="DEALCOACH_SEND_CONCURRENCY (default: the app's)")
    parser.add_argument("--kind", default="precall", choices=("precall", "followup"), help="which reminders")
    parser.add_argument("--only", nargs="*", default=["startup", "throughput", "sigkill"])
    arguments = parser.parse_args()
    harness.out(asyncio.run(main(arguments)), arguments.json)
