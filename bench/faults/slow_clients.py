"""Slow and too many clients: ``--connections`` sockets open at once against a replica whose file-descriptor
limit is ``--nofile``, each sending its request headers a byte at a time, plus one that sends its headers
and then stalls in the body.

Printed: the stalled body's answer (408), how many the server closed by itself (header timeout:
DEALCOACH_READ_TIMEOUT_SECONDS), how many were turned away with a 503 (the connection cap:
DEALCOACH_MAX_CONNECTIONS, lowered to what the limit allows), whether a normal request gets through right
after, and how many "Too many open files" / "refusing" lines the replica logged.

    python bench/faults/slow_clients.py [--connections 1000] [--nofile 256] [--timeout 2]
"""

from __future__ import annotations

import asyncio
import contextlib
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness  # noqa: E402


async def slow_client(port: int, seconds: float) -> str:
    """Headers a byte every 100 ms; 'closed' when the server hung up first, '503' when it refused."""
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return "refused"
    request = b"POST /slack/events HTTP/1.1\r\nHost: drill\r\nContent-Type: application/json\r\n"
    outcome = "still open"
    try:
        deadline = time.monotonic() + seconds
        for byte in request:
            if time.monotonic() > deadline:
                break
            writer.write(bytes([byte]))
            with contextlib.suppress(TimeoutError):
                data = await asyncio.wait_for(reader.read(200), 0.1)
                if data.startswith(b"HTTP/1.1 503"):
                    outcome = "503"
                    break
                if not data:
                    outcome = "closed"
                    break
    except (ConnectionError, OSError):
        outcome = "closed"
    finally:
        writer.close()
    return outcome


async def stalled_body(port: int) -> str:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b'POST /slack/events HTTP/1.1\r\nHost: drill\r\nContent-Length: 100\r\n\r\n{"half": ')
    try:
        line = await asyncio.wait_for(reader.readline(), 15)
        return line.decode().strip()
    except TimeoutError:
        return "no answer within 15 s"
    finally:
        writer.close()


async def drill(connections: int, nofile: int, timeout: float, workdir: Path, code: Path) -> dict[str, Any]:
    url = f"sqlite+aiosqlite:///{workdir}/drill.db"
    async with harness.fresh(url) as slack:
        replica = await harness.start_replica(
            "slow", url, slack, workdir, code=code, DEALCOACH_READ_TIMEOUT_SECONDS=str(timeout), LOG_LEVEL="INFO",
            limits=(resource.RLIMIT_NOFILE, nofile),
        )  # fmt: skip
        try:
            await replica.ready()
            body = await stalled_body(replica.port)
            clients = [asyncio.create_task(slow_client(replica.port, timeout * 3)) for _ in range(connections)]
            outcomes = await asyncio.gather(*clients)
            healthy = 0
            async with aiohttp.ClientSession() as http:
                with contextlib.suppress(aiohttp.ClientError, OSError):
                    async with http.get(replica.url + "/healthz") as response:
                        healthy = response.status
        finally:
            replica.terminate()
            await replica.exit_code(30)
        log = replica.log.read_text(errors="replace")
    return {
        "connections": connections,
        "file descriptors allowed": nofile,
        "closed by the server (header timeout)": outcomes.count("closed"),
        "turned away with 503 (connection cap)": outcomes.count("503"),
        "refused by the kernel": outcomes.count("refused"),
        "still open after 3x the timeout": outcomes.count("still open"),
        "a normal request right after": healthy,
        "stalled body answered": body,
        "'Too many open files' lines logged": log.count("Too many open files"),
        "'refusing more' lines logged": log.count("refusing more"),
    }


async def main(args: Any) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        return await drill(args.connections, args.nofile, args.timeout, Path(folder), Path(args.code).resolve())


if __name__ == "__main__":
    parser = harness.arguments(__doc__, postgres=False)
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--nofile", type=int, default=256, help="the replica's file-descriptor limit")
    parser.add_argument("--timeout", type=float, default=2.0, help="DEALCOACH_READ_TIMEOUT_SECONDS")
    arguments = parser.parse_args()
    harness.out(asyncio.run(main(arguments)), arguments.json)
