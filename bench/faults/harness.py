"""What every fault drill needs: a fake Slack on loopback, ``dealcoach serve`` replicas as real processes,
signed slash commands, reminders seeded straight into the database, and a way to cut the database off.

Everything runs on 127.0.0.1. The fake Slack is a bare asyncio HTTP/1.1 server (cheap, so the replicas get
the CPU): it answers the Web API (``chat.postMessage``, ``auth.test``, ``users.info``) and the commands'
``response_url``, records every delivery by its content, and can be told to answer 429, 5xx, or to refuse
connections. Each replica gets its own bot token, so the fake Slack knows which replica sent what.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import hmac
import json
import os
import resource
import signal
import socket
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp

ROOT = Path(__file__).resolve().parents[2]
SECRET = "drill-signing-secret"
TEAM = "T0DRILL"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def arguments(doc: str | None, *, postgres: bool) -> argparse.ArgumentParser:
    """A drill's command line: its database, the checkout its replicas run, and ``--json``."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    if postgres:
        parser.add_argument("--database-url", required=True, help="a PostgreSQL database the drill may empty")
    else:
        parser.add_argument("--database-url", default=None, help="default: a temporary SQLite file")
    parser.add_argument("--code", default=str(ROOT), help="the checkout the replicas run (to measure a baseline)")
    parser.add_argument("--json", action="store_true", help="one JSON object (the test suite reads it)")
    return parser


def out(figures: dict[str, Any], as_json: bool) -> None:
    """Print a drill's figures: one JSON object (for the test suite), or ``name  value`` lines (a section
    per nested dict)."""
    if as_json:
        print(json.dumps(figures))
        return
    flat = {name: value for name, value in figures.items() if not isinstance(value, dict)}
    width = max((len(name) for name in flat), default=0)
    for name, value in flat.items():
        print(f"  {name:<{width}}  {value}")
    for name, value in figures.items():
        if isinstance(value, dict):
            print(f"{name}:")
            out(value, False)


@contextlib.asynccontextmanager
async def fresh(url: str, *, migrated: bool = True, **slack: Any) -> AsyncIterator[FakeSlack]:
    """An emptied database (migrated unless told otherwise) and a fake Slack for one drill."""
    await reset_database(url)
    if migrated:
        await migrate(url)
    fake = FakeSlack(**slack)
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()


# ---------------------------------------------------------------------------- the fake Slack


@dataclass
class Delivery:
    at: float  # time.monotonic()
    token: str
    key: str  # what was delivered: the channel and the message's text


@dataclass
class FakeSlack:
    """``chat.postMessage`` and ``response_url`` on loopback; ``mode`` is "ok", "429", "5xx" or "refuse"."""

    port: int = 0
    mode: str = "ok"
    retry_after: int = 1
    deliveries: list[Delivery] = field(default_factory=list)
    answers: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # response_url hook -> bodies
    answered_at: dict[str, float] = field(default_factory=dict)  # response_url hook -> first answer's monotonic()
    refused_requests: int = 0
    ignore_users_info: bool = False
    _server: asyncio.AbstractServer | None = None
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    def hook(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/hook/{name}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port, limit=2**20, backlog=1024)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()

    def counts(self) -> Counter[str]:
        return Counter(d.key for d in self.deliveries)

    async def wait(self, done: Any, timeout: float) -> bool:
        """Until ``done()`` holds (woken by each delivery) or ``timeout`` seconds pass."""
        deadline = time.monotonic() + timeout
        while not done():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(left, 0.5))
        return True

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                status, extra, payload = self._answer(path, headers, body)
                data = json.dumps(payload).encode()
                head = f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {len(data)}\r\n"
                writer.write(f"{head}{extra}\r\n".encode() + data)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()

    def _answer(self, path: str, headers: dict[str, str], body: bytes) -> tuple[str, str, dict[str, Any]]:
        if self.mode == "refuse":  # as good as refused: the connection is dropped without an answer
            self.refused_requests += 1
            raise ConnectionResetError
        if self.mode == "429":
            return (
                "429 Too Many Requests",
                f"Retry-After: {self.retry_after}\r\n",
                {"ok": False, "error": "ratelimited"},
            )
        if self.mode == "5xx":
            return "503 Service Unavailable", "", {"ok": False, "error": "service_unavailable"}
        if path.startswith("/hook/"):
            hook = path.removeprefix("/hook/")
            self.answers.setdefault(hook, []).append(json.loads(body or b"{}"))
            self.answered_at.setdefault(hook, time.monotonic())
            self._changed.set()
            return "200 OK", "", {"ok": True}
        method = path.removeprefix("/api/")
        token = headers.get("authorization", "").removeprefix("Bearer ")
        if method == "chat.postMessage":
            args = json.loads(body or b"{}")
            self.deliveries.append(Delivery(time.monotonic(), token, f"{args.get('channel')}|{args.get('text')}"))
            self._changed.set()
            return "200 OK", "", {"ok": True, "channel": args.get("channel"), "ts": f"{time.time():.6f}"}
        if method == "auth.test":
            return "200 OK", "", {"ok": True, "team_id": TEAM, "user_id": "UBOT", "bot_id": "BBOT"}
        if method == "users.info":
            return "200 OK", "", {"ok": True, "user": {"id": "U", "tz": "Europe/Berlin", "name": "drill"}}
        return "200 OK", "", {"ok": True}


# ---------------------------------------------------------------------------- replicas


@dataclass
class Replica:
    name: str
    port: int
    process: asyncio.subprocess.Process
    log: Path
    started: float

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def token(self) -> str:
        return f"xoxb-drill-{self.name}"

    async def ready(self, timeout: float = 60.0, path: str = "/readyz") -> float:
        """Seconds from start until ``path`` answers 200; raises if the process exits or time runs out."""
        deadline = time.monotonic() + timeout
        async with aiohttp.ClientSession() as http:
            while time.monotonic() < deadline:
                if self.process.returncode is not None:
                    raise RuntimeError(f"replica {self.name} exited {self.process.returncode}: {self.tail()}")
                with contextlib.suppress(aiohttp.ClientError, OSError):
                    async with http.get(self.url + path) as response:
                        if response.status == 200:
                            return time.monotonic() - self.started
                        if response.status == 404:  # a checkout from before /readyz
                            path = "/healthz"
                await asyncio.sleep(0.05)
        raise RuntimeError(f"replica {self.name} not ready after {timeout}s: {self.tail()}")

    def cpu_seconds(self) -> float:
        """CPU time the replica used so far (user + system): a figure the machine's other load barely moves."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        self.process.send_signal(signal.SIGTERM)

    async def exit_code(self, timeout: float = 30.0) -> int:
        return await asyncio.wait_for(self.process.wait(), timeout)

    def tail(self, lines: int = 15) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


async def start_replica(
    name: str,
    database_url: str,
    slack: FakeSlack,
    workdir: Path,
    *,
    code: Path = ROOT,
    limits: tuple[int, int] | None = None,
    **env: str,
) -> Replica:
    """``dealcoach serve`` from the source tree ``code`` (another checkout measures a baseline)."""
    port = free_port()
    log = workdir / f"replica-{name}.log"
    environ = {
        **os.environ,
        "PYTHONPATH": str(code),
        "DATABASE_URL": database_url,
        "PORT": str(port),
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_BOT_TOKEN": f"xoxb-drill-{name}",
        "SLACK_API_URL": slack.api_url,
        "DEALCOACH_TICK_SECONDS": "0.25",
        "LOG_LEVEL": "WARNING",
        **env,
    }
    environ.pop("TEST_DATABASE_URL", None)
    handle = log.open("wb")

    def limited() -> None:  # in the child, before it runs: e.g. (RLIMIT_NOFILE, 256)
        if limits is not None:
            resource.setrlimit(limits[0], (limits[1], limits[1]))

    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", "from bot.cli import main; raise SystemExit(main(['serve']))",
        cwd=str(code), env=environ, stdout=handle, stderr=handle, preexec_fn=limited,
    )  # fmt: skip
    handle.close()
    return Replica(name, port, process, log, time.monotonic())


@contextlib.asynccontextmanager
async def replicas(
    count: int, database_url: str, slack: FakeSlack, workdir: Path, **kwargs: Any
) -> AsyncIterator[list[Replica]]:
    started = await asyncio.gather(
        *(start_replica(str(i), database_url, slack, workdir, **kwargs) for i in range(count))
    )
    try:
        yield list(started)
    finally:
        for replica in started:
            if replica.process.returncode is None:
                replica.kill()
                await replica.process.wait()


# ---------------------------------------------------------------------------- Slack requests


_TRIGGERS = iter(range(1, 10**9))


def signed_command(text: str, *, user: str, response_url: str, team: str = TEAM) -> tuple[bytes, dict[str, str]]:
    fields = {
        "team_id": team,
        "team_domain": "drill",
        "channel_id": "C0DRILL",
        "channel_name": "sales",
        "user_id": user,
        "user_name": user.lower(),
        "command": "/negotiation",
        "text": text,
        "api_app_id": "A0DRILL",
        "response_url": response_url,
        "trigger_id": f"{time.time_ns()}.{next(_TRIGGERS)}.drill",
    }
    body = urlencode(fields)
    stamp = str(int(time.time()))
    digest = hmac.new(SECRET.encode(), f"v0:{stamp}:{body}".encode(), hashlib.sha256).hexdigest()
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": f"v0={digest}",
    }
    return body.encode(), headers


async def post_command(http: aiohttp.ClientSession, url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
    """(HTTP status, body) of one slash command; status 0 when the connection failed."""
    try:
        async with http.post(url + "/slack/events", data=body, headers=headers) as response:
            return response.status, await response.text()
    except (aiohttp.ClientError, OSError, TimeoutError):
        return 0, ""


# ---------------------------------------------------------------------------- the database


def text(sql: str) -> Any:
    from sqlalchemy import text as sql_text

    return sql_text(sql)


def engine_for(url: str) -> Any:
    sys.path.insert(0, str(ROOT))
    from bot.database import make_engine

    return make_engine(url)


async def reset_database(url: str) -> None:
    """An empty database: the drills own theirs (never point them at real data)."""
    from sqlalchemy import text

    engine = engine_for(url)
    try:
        if engine.dialect.name == "postgresql":
            async with engine.begin() as connection:
                await connection.execute(text("DROP SCHEMA public CASCADE"))
                await connection.execute(text("CREATE SCHEMA public"))
        else:
            path = Path(engine.url.database or "")
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
    finally:
        await engine.dispose()


async def migrate(url: str) -> None:
    from bot.database import upgrade

    engine = engine_for(url)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()


async def seed_reminders(url: str, count: int, *, kind: str = "precall", due: datetime | None = None) -> set[str]:
    """``count`` reminders due now, one per rep (Slack paces messages per channel), each for its own
    negotiation; returns what each delivery will look like (the fake Slack's keys), to count duplicates."""
    from sqlalchemy import insert, select

    from coaching.models import Counterpart, Negotiation, Nudge, User, Workspace

    now = datetime.now(UTC)
    due = due or now
    engine = engine_for(url)
    try:
        async with engine.begin() as connection:
            workspace = await connection.scalar(
                select(Workspace.id).where(Workspace.platform == "slack", Workspace.external_id == TEAM)
            )
            if workspace is None:
                workspace = await connection.scalar(
                    insert(Workspace).values(platform="slack", external_id=TEAM).returning(Workspace.id)
                )
            first = await connection.scalar(select(User.id).order_by(User.id.desc()).limit(1)) or 0
            names = [f"U{first + i:07d}" for i in range(1, count + 1)]
            users = list(
                await connection.scalars(
                    insert(User).returning(User.id, sort_by_parameter_order=True),
                    [
                        {
                            "workspace_id": workspace,
                            "external_id": name,
                            "timezone": "UTC",
                            "quiet_start": None,
                            "quiet_end": None,
                        }
                        for name in names
                    ],  # fmt: skip
                )
            )
            counterparts = list(
                await connection.scalars(
                    insert(Counterpart).returning(Counterpart.id, sort_by_parameter_order=True),
                    [
                        {"owner_id": user, "name": f"Client {name}", "name_key": f"client {name.lower()}"}
                        for user, name in zip(users, names, strict=True)
                    ],  # fmt: skip
                )
            )
            starts = now + timedelta(minutes=20) if kind == "precall" else now - timedelta(hours=1)
            negotiations = list(
                await connection.scalars(
                    insert(Negotiation).returning(Negotiation.id, sort_by_parameter_order=True),
                    [
                        {
                            "owner_id": user,
                            "number": 1,
                            "counterpart_id": cp,
                            "starts_at": starts,
                            "duration_minutes": 30,
                            "channel": "video",
                            "status": "scheduled",
                        }
                        for user, cp in zip(users, counterparts, strict=True)
                    ],  # fmt: skip
                )
            )
            await connection.execute(
                insert(Nudge),
                [
                    {
                        "key": f"drill:{kind}:{neg}",
                        "user_id": user,
                        "kind": kind,
                        "negotiation_id": neg,
                        "due_at": due,
                        "status": "pending",
                        "attempts": 0,
                        "exempt_quiet": True,
                    }
                    for user, neg in zip(users, negotiations, strict=True)
                ],  # fmt: skip
            )
    finally:
        await engine.dispose()
    return set(names)


async def delivered_users(slack: FakeSlack) -> Counter[str]:
    """Deliveries per rep (channel), however the text was worded."""
    return Counter(d.key.split("|", 1)[0] for d in slack.deliveries)


async def scalar(url: str, sql: str, **params: Any) -> Any:
    from sqlalchemy import text

    engine = engine_for(url)
    try:
        async with engine.connect() as connection:
            return await connection.scalar(text(sql), params)
    finally:
        await engine.dispose()


async def claims_left(url: str) -> dict[str, int]:
    """Rows still claimed by some worker: after a clean stop there should be none."""
    outbox = "SELECT count(*) FROM nudges WHERE status = 'pending' AND claimed_by IS NOT NULL"
    inbox = "SELECT count(*) FROM slack_inbox WHERE claimed_by IS NOT NULL AND status <> 'failed'"
    return {"outbox": int(await scalar(url, outbox)), "inbox": int(await scalar(url, inbox))}


class Cutter:
    """A TCP relay in front of the database: ``cut()`` resets every connection through it and refuses new
    ones (what a database restart or a network blip does to the replicas), ``restore()`` lets them in."""

    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self.cut_off = False
        self._server: asyncio.AbstractServer | None = None
        self._pipes: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    def cut(self) -> None:
        self.cut_off = True
        for writer in list(self._pipes):
            with contextlib.suppress(Exception):
                writer.transport.abort()
        self._pipes.clear()

    def restore(self) -> None:
        self.cut_off = False

    async def stop(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.cut_off:
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self._pipes.update((writer, up_writer))

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            try:
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                with contextlib.suppress(Exception):
                    sink.transport.abort()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._pipes.difference_update((writer, up_writer))


def via(url: str, port: int) -> str:
    """``url`` with its host and port replaced by the cutter's."""
    from sqlalchemy.engine import make_url

    return make_url(url).set(host="127.0.0.1", port=port).render_as_string(hide_password=False)


def fields_of(model: Any) -> Iterable[str]:  # pragma: no cover - debugging aid
    return [column.name for column in model.__table__.columns]


# ---------------------------------------------------------------------------- commands under load


@dataclass
class Sent:
    """One slash command of a drill: what the acknowledgement said, and the answers at its response_url."""

    index: int
    user: str
    text: str
    hook: str
    status: int = -1  # HTTP status of the ack; 0: the connection failed (refused, reset)
    body: str = ""
    at: float = 0.0

    @property
    def acked(self) -> bool:
        """Stored: an empty 200 (the answer follows at the response_url)."""
        return self.status == 200 and not self.body

    @property
    def told_not_saved(self) -> bool:
        return self.status == 200 and "not saved" in self.body


def _apology(answer: dict[str, Any]) -> bool:
    words = json.dumps(answer)
    return "not saved" in words or "went wrong" in words or "Nothing was changed" in words


class Commands:
    """Signed ``log`` commands, each from a rep of its own with a counterpart of its own, so that the
    database says which were applied (and how often)."""

    def __init__(self, slack: FakeSlack, prefix: str = "Drill") -> None:
        self.slack = slack
        self.prefix = prefix
        self.sent: list[Sent] = []

    async def send(self, http: aiohttp.ClientSession, url: str) -> Sent:
        i = len(self.sent)
        command = Sent(i, f"UCMD{i:06d}", f"log {self.prefix}{i:06d} 2026-12-15 10:00", f"{self.prefix}-{i}")
        self.sent.append(command)
        body, headers = signed_command(command.text, user=command.user, response_url=self.slack.hook(command.hook))
        command.at = time.monotonic()
        command.status, command.body = await post_command(http, url, body, headers)
        return command

    async def at_rate(self, http: aiohttp.ClientSession, url: Any, rate: float, seconds: float) -> None:
        """``rate`` commands a second for ``seconds`` (``url`` may be a callable: where to send now)."""
        tasks = []
        started = time.monotonic()
        for n in range(int(rate * seconds)):
            await asyncio.sleep(max(started + n / rate - time.monotonic(), 0))
            tasks.append(asyncio.create_task(self.send(http, url() if callable(url) else url)))
        await asyncio.gather(*tasks)

    def answers(self, command: Sent) -> list[dict[str, Any]]:
        return self.slack.answers.get(command.hook, [])

    async def applied(self, database_url: str) -> Counter[str]:
        """How many negotiations each command's counterpart has: 1 applied, 0 not, 2 twice."""
        from sqlalchemy import text

        engine = engine_for(database_url)
        try:
            async with engine.connect() as connection:
                rows = await connection.execute(
                    text(
                        "SELECT c.name, count(n.id) FROM counterparts c LEFT JOIN negotiations n"
                        " ON n.counterpart_id = c.id WHERE c.name LIKE :prefix GROUP BY c.name"
                    ),
                    {"prefix": f"{self.prefix}%"},
                )
                return Counter({name: count for name, count in rows})
        finally:
            await engine.dispose()

    async def tally(self, database_url: str) -> dict[str, Any]:
        """The figures every command drill prints."""
        applied = await self.applied(database_url)

        def times(command: Sent) -> int:
            return applied.get(f"{self.prefix}{command.index:06d}", 0)

        acked = [c for c in self.sent if c.acked]
        not_saved = [c for c in self.sent if c.told_not_saved]
        answers = [len(self.answers(c)) for c in acked]
        apologies = [c for c in acked if any(_apology(a) for a in self.answers(c))]
        return {
            "commands sent": len(self.sent),
            "acknowledged (stored)": len(acked),
            "answered 'not saved' in the ack": len(not_saved),
            "5xx": sum(1 for c in self.sent if c.status >= 500),
            "connection refused/reset": sum(1 for c in self.sent if c.status == 0),
            "acknowledged and applied once": sum(1 for c in acked if times(c) == 1),
            "acknowledged and not applied (lost)": sum(1 for c in acked if times(c) == 0),
            "applied twice or more": sum(1 for c in self.sent if times(c) > 1),
            "'not saved' but applied anyway": sum(1 for c in not_saved if times(c) > 0),
            "acknowledged and answered once": sum(1 for n in answers if n == 1),
            "answered twice or more": sum(1 for n in answers if n > 1),
            "acknowledged, yet answered 'not saved'/'went wrong'": len(apologies),
        }

    async def wait_answered(self, timeout: float) -> bool:
        """Until every stored command has at least one answer."""
        return await self.slack.wait(lambda: all(self.answers(c) for c in self.sent if c.acked), timeout)
