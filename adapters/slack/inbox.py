"""The durable command inbox: what a person typed is stored, then Slack gets its acknowledgement, then
the coach runs it and the answer is delivered.

A slash command (or a DM to the app) costs the request one lean INSERT into ``slack_inbox`` (SQLAlchemy
Core, no ORM objects) and an empty acknowledgement; the person's reply follows a few milliseconds later
through the command's ``response_url`` (a DM through ``chat.postMessage``). Because the row is committed
before the acknowledgement leaves, nothing a person typed is lost when the process is killed after it.

The :class:`Inbox` worker is an asyncio task started and stopped with the aiohttp app. An INSERT wakes
it at once; it also sweeps every ``sweep_every`` seconds (and at start) for rows a crashed process left
behind. It claims rows the way :func:`coaching.outbox.claim_due` claims nudges: one UPDATE that moves
``due_at`` to the end of a lease and stamps the row with the worker's id (``FOR UPDATE SKIP LOCKED``
on PostgreSQL, so replicas claim disjoint rows), and only the holder of a claim writes its result.

Exactly once, even across a crash: the coach's own transaction is the one that moves the row from
``pending`` to ``replying`` (``coach.handle_text(..., also=...)`` runs that UPDATE just before the
command commits), so a row is either still pending with nothing of it stored, or its
command is stored and it only waits for its answer to be delivered. Delivery is retried with backoff
(honouring ``Retry-After``) and gives up after ``max_attempts``; a delivered row is deleted.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import aiohttp
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from adapters.slack import render
from adapters.slack.store import engine_of, slack_inbox
from bot.database import SQLITE_CONNECT_ARGS, sqlite_pragmas
from coaching.commands import Actor
from coaching.messages import Message
from coaching.outbox import Retry
from coaching.ports import Abandon, DeliveryError
from coaching.privacy import FORGOTTEN

log = logging.getLogger(__name__)

COMMAND = "command"  # the answer goes to the command's response_url (ephemeral)
MESSAGE = "message"  # a DM to the app: the answer goes back to that DM channel

SORRY = Message("Sorry, that went wrong on our side. Nothing was changed; please try again.", kind="error")


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class InboxConfig(Retry):
    """How the inbox worker paces itself; retries back off like the nudge outbox's (shorter delays). Tests
    shrink the lease and the delays."""

    lease: timedelta = timedelta(seconds=30)  # a claimed row whose worker died is claimable after this
    sweep_every: float = 5.0  # seconds between sweeps for rows nobody woke us for (crashes, retries)
    batch: int = 100  # rows per claim
    concurrency: int = 8  # people handled at once; one person's commands always run in order
    max_attempts: int = 6
    keep_failed: timedelta = timedelta(days=7)  # an answer that could not be delivered, kept to look into
    first_delay: timedelta = timedelta(seconds=2)
    max_delay: timedelta = timedelta(minutes=2)
    http_timeout: float = 10.0
    quiet_gap: float = 0.01  # while commands arrive closer than this, acknowledging them comes first...
    max_defer: float = 2.0  # ...but no answer waits longer than this for a gap
    now: Callable[[], datetime] = field(default=_utcnow)


class CoachPort(Protocol):
    async def handle_text(
        self, actor: Actor, text: str, *, also: Callable[[AsyncSession], Awaitable[None]] | None = None
    ) -> Message: ...


@dataclass(frozen=True)
class Entry:
    id: int
    kind: str
    team: str
    user: str
    user_name: str | None
    channel: str | None
    text: str
    response_url: str | None
    status: str
    attempts: int
    reply: str | None


# ---------------------------------------------------------------------------- exactly once


@dataclass
class _Arm:
    """One ``coach.handle_text`` call: which row it settles, and whether the claim was found lost."""

    row: int
    worker: str
    lost: bool = False


class _ClaimLost(Abandon):
    pass


# ---------------------------------------------------------------------------- storing rows on the request path


class _RowWriter(Protocol):
    async def insert(self, rows: list[dict[str, Any]]) -> list[int]:
        """Commit the rows in one transaction; their ids, in order. Raises if nothing was stored."""
        ...

    async def close(self) -> None: ...


class _Rows:
    """Any database (PostgreSQL in production): one INSERT .. RETURNING for the batch on a connection
    kept for the writer (no pool checkout, ping or reset per round). A connection that fails before
    the commit (a stale one, say) is dropped and the round tried once more on a fresh one; a failed
    commit is not retried (it may have happened)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._insert = slack_inbox.insert().returning(slack_inbox.c.id, sort_by_parameter_order=True)
        self._connection: AsyncConnection | None = None

    async def insert(self, rows: list[dict[str, Any]]) -> list[int]:
        for last_try in (False, True):
            try:
                if self._connection is None:
                    self._connection = await self._engine.connect()
                transaction = await self._connection.begin()
                # (SQLite in memory gets one INSERT per row here: it cannot return a batch's ids in order)
                ids = [row_id for (row_id,) in await self._connection.execute(self._insert, rows)]
            except Exception:
                await self.close()
                if last_try:
                    raise
                continue
            try:
                await transaction.commit()
            except Exception:
                await self.close()
                raise
            return ids
        raise AssertionError("unreachable")  # pragma: no cover

    async def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                # invalidate: closes the DBAPI connection even when the engine was disposed meanwhile
                await connection.invalidate()
                await connection.close()
            except Exception:  # noqa: BLE001 - it is being thrown away
                log.debug("slack: closing the inbox writer's connection failed", exc_info=True)


class _SqliteRows:
    """The SQLite file (the embedded default): the rows go through one plain ``sqlite3`` connection on
    a thread of its own. A round (INSERT of the batch, its last rowid, COMMIT) is one hop to that
    thread where aiosqlite takes about ten (a cursor, each statement, each fetch, the commit), and the
    INSERT is compiled once and sent as driver SQL with SQLAlchemy's own bind processors, so a row is
    stored exactly as the ORM stores it. bench/slack_ack measured the difference (closing note, issue 3)."""

    @staticmethod
    def fits(engine: AsyncEngine) -> bool:
        """A second connection sees the same data only for a file (an in-memory database is private)."""
        database = engine.url.database
        return engine.dialect.name == "sqlite" and bool(database) and database != ":memory:"

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = sa.create_engine(
            engine.url.set(drivername="sqlite"), connect_args=SQLITE_CONNECT_ARGS, poolclass=sa.NullPool
        )
        sa.event.listen(self._engine, "connect", sqlite_pragmas)
        self._thread: ThreadPoolExecutor | None = None  # started with the first round, ended by close()
        self._connection: sa.Connection | None = None  # used on the writer's thread only
        self._statement: tuple[str, list[tuple[str, Callable[[Any], Any] | None]]] | None = None

    async def insert(self, rows: list[dict[str, Any]]) -> list[int]:
        if self._thread is None:
            self._thread = ThreadPoolExecutor(1, thread_name_prefix="slack-inbox-writer")
        return await asyncio.get_running_loop().run_in_executor(self._thread, self._insert, rows)

    def _insert(self, rows: list[dict[str, Any]]) -> list[int]:  # on the writer's thread
        for last_try in (False, True):
            try:
                if self._connection is None:
                    self._connection = self._engine.connect()
                transaction = self._connection.begin()
                sql, columns = self._compiled(rows[0])
                self._connection.exec_driver_sql(
                    sql, [tuple(bind(row[c]) if bind else row[c] for c, bind in columns) for row in rows]
                )
                last = self._connection.exec_driver_sql("SELECT last_insert_rowid()").scalar_one()
            except Exception:
                self._close()
                if last_try:
                    raise
                continue
            try:
                transaction.commit()
            except Exception:
                self._close()
                raise
            # under SQLite's write lock one transaction's rowids are consecutive
            return list(range(int(last) - len(rows) + 1, int(last) + 1))
        raise AssertionError("unreachable")  # pragma: no cover

    def _compiled(self, row: dict[str, Any]) -> tuple[str, list[tuple[str, Callable[[Any], Any] | None]]]:
        if self._statement is None:
            dialect = self._engine.dialect
            compiled = slack_inbox.insert().compile(dialect=dialect, column_keys=list(row))
            names = compiled.positiontup or []
            self._statement = str(compiled), [(c, slack_inbox.c[c].type.bind_processor(dialect)) for c in names]
        return self._statement

    def _close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                connection.invalidate()
                connection.close()
            except Exception:  # noqa: BLE001 - it is being thrown away
                log.debug("slack: closing the inbox writer's connection failed", exc_info=True)

    async def close(self) -> None:
        thread, self._thread = self._thread, None
        if thread is not None:
            await asyncio.get_running_loop().run_in_executor(thread, self._close)
            thread.shutdown(wait=False)  # its only job is done; nothing more is queued


# ---------------------------------------------------------------------------- the inbox


class Inbox:
    """Stores commands on the request path (:meth:`put`) and works them off after the ack."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        coach: CoachPort,
        *,
        actor: Callable[[Entry], Awaitable[Actor]],
        post_message: Callable[[str, str, Mapping[str, Any]], Awaitable[Any]],
        config: InboxConfig | None = None,
        worker: str | None = None,
    ) -> None:
        """``actor(entry)``: who typed it (time zone from the profile cache or ``users.info``);
        ``post_message(team, channel, payload)``: ``chat.postMessage`` with the workspace's token,
        raising :class:`~coaching.ports.DeliveryError` on failure."""
        self._engine = engine_of(sessions)
        self._coach = coach
        self._actor = actor
        self._post_message = post_message
        self.config = config or InboxConfig()
        self.worker = worker or f"slack-{uuid.uuid4().hex[:12]}"
        self._wake = asyncio.Event()
        self._quiet = asyncio.Event()  # set while the worker has nothing left to do right now
        self._task: asyncio.Task[None] | None = None
        self._http: aiohttp.ClientSession | None = None
        self._limit = asyncio.Semaphore(self.config.concurrency)
        self._writes: list[tuple[dict[str, Any], asyncio.Future[int]]] = []
        self._writer: asyncio.Task[None] | None = None
        self._rows: _RowWriter = _SqliteRows(self._engine) if _SqliteRows.fits(self._engine) else _Rows(self._engine)
        self._local: deque[tuple[float, Entry]] = deque()  # (when queued, row) claimed by this worker
        self._done: list[int] = []  # delivered rows, deleted after each chunk
        self._last_put = 0.0
        self._purged_at: datetime | None = None
        self.delivered = 0  # counters for tests and metrics
        self.retried = 0
        self.failed = 0

    # -- the request path

    async def put(
        self,
        *,
        kind: str,
        team: str,
        user: str,
        text: str,
        user_name: str | None = None,
        channel: str | None = None,
        response_url: str | None = None,
    ) -> None:
        """Store one command; returns once its row is committed (and so before the acknowledgement).

        Rows that arrive together are committed together (group commit: one transaction for all the
        requests waiting at that moment). While the worker runs, a row is stored already claimed by
        it and handed over in memory, so the worker needs no query to find it; if the process dies,
        the claim's lease runs out and any worker picks the row up from the database.
        """
        now = self.config.now()
        local = self.running
        row = {
            "kind": kind,
            "team": team,
            "user": user,
            "user_name": user_name,
            "channel": channel,
            "text": text,
            "response_url": response_url,
            "status": "pending",
            "attempts": 1 if local else 0,
            "due_at": now + self.config.lease if local else now,
            "claimed_by": self.worker if local else None,
            "reply": None,
            "last_error": None,
            "created_at": now,
        }
        loop = asyncio.get_running_loop()
        stored: asyncio.Future[int] = loop.create_future()
        self._writes.append((row, stored))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write(), name="slack-inbox-writer")
        row_id = await stored
        self._last_put = loop.time()
        if local and self.running:
            entry = Entry(row_id, kind, team, user, user_name, channel, text, response_url, "pending", 1, None)
            self._local.append((loop.time(), entry))
            self.wake()

    async def _write(self) -> None:
        """Commit every row waiting to be stored, in one transaction per round, until none wait; a
        round that fails fails its requests (Slack shows the person an error, nothing half-stored)."""
        await asyncio.sleep(0)  # requests read in this same turn of the loop join the first round
        while self._writes:
            batch, self._writes = self._writes, []
            try:
                ids = await self._rows.insert([row for row, _ in batch])
            except Exception as error:  # noqa: BLE001 - whatever the driver raised, nothing was stored
                log.error("slack: could not store %s command(s) in the inbox: %s", len(batch), error)
                for _, stored in batch:
                    if not stored.done():
                        stored.set_exception(error)
                continue
            for (_, stored), row_id in zip(batch, ids, strict=True):
                if not stored.done():
                    stored.set_result(row_id)

    async def forget_team(self, team: str) -> None:
        """The app was removed from a workspace: its unanswered commands go too."""
        async with self._engine.begin() as connection:
            await connection.execute(slack_inbox.delete().where(slack_inbox.c.team == team))

    async def forget_person(self, team: str, user: str, *, but: int | None = None) -> None:
        """Someone confirmed forget-me: what they typed before goes too (answers waiting for a retry,
        undeliverable ones, commands not run yet). ``but``: the forget-me row itself (typed: its answer
        is still on its way, and rows after it were typed later and run as usual); without it (the
        button), everything of theirs stored until now goes."""
        mine = sa.and_(slack_inbox.c.team == team, slack_inbox.c.user == user)
        if but is not None:
            mine = sa.and_(mine, slack_inbox.c.status != "pending", slack_inbox.c.id != but)
        else:
            mine = sa.and_(mine, slack_inbox.c.created_at <= self.config.now())
        async with self._engine.begin() as connection:
            await connection.execute(slack_inbox.delete().where(mine))

    # -- lifecycle (tied to the aiohttp app by adapters.slack.setup)

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def start(self) -> None:
        if self.running:
            return
        self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.config.http_timeout))
        self.wake()  # the first pass is the start-up sweep
        self._task = asyncio.create_task(self._run(), name=f"slack-inbox:{self.worker}")
        log.info("slack: inbox worker %s started", self.worker)

    async def stop(self) -> None:
        """Stop the worker; rows it still held are released at once, not left to their lease."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
            self._local.clear()
            if self._writer is not None:  # rows being stored right now are claimed by us: release them too
                await asyncio.gather(self._writer, return_exceptions=True)
            try:
                await self._flush_done()
                async with self._engine.begin() as connection:
                    await connection.execute(
                        slack_inbox.update()
                        .where(slack_inbox.c.claimed_by == self.worker, slack_inbox.c.status != "failed")
                        .values(claimed_by=None, due_at=self.config.now())
                    )
            except Exception:  # noqa: BLE001 - the lease runs out anyway
                log.warning("slack: could not release the inbox rows of %s", self.worker, exc_info=True)
        if self._writer is not None:
            await asyncio.gather(self._writer, return_exceptions=True)
        await self._rows.close()
        if self._http is not None:
            await self._http.close()
            self._http = None

    async def _run(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self.config.sweep_every)
            except TimeoutError:
                pass
            self._wake.clear()
            self._quiet.clear()
            try:
                await self.work()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("slack: inbox pass failed; trying again in %ss", self.config.sweep_every)
            if not self._wake.is_set() and not self._local:
                self._quiet.set()

    def wake(self) -> None:
        """Look for due rows now (``put`` does this; so can a test that moved the clock)."""
        self._quiet.clear()
        self._wake.set()

    async def wait_quiet(self, timeout: float = 5.0) -> None:
        """Until the worker has handled everything due (tests; a graceful shutdown could use it)."""
        await asyncio.wait_for(self._quiet.wait(), timeout)

    def _wake_at(self, due: datetime) -> None:
        delay = (due - self.config.now()).total_seconds()
        if delay < self.config.sweep_every:
            asyncio.get_running_loop().call_later(max(delay, 0.0), self._wake.set)

    # -- the worker

    async def work(self) -> int:
        """Handle what this process stored, then claim what is due in the database (rows of crashed
        processes, retries), until nothing is left; returns the rows handled."""
        handled = 0
        loop = asyncio.get_running_loop()
        await self._purge_failed()
        while True:
            if not self._local:
                claimed = await self._claim()
                if not claimed:
                    return handled
                self._local.extend((loop.time(), entry) for entry in claimed)
            while self._local:
                await self._yield_to_acks(self._local[0][0])
                chunk = [self._local.popleft() for _ in range(min(self.config.concurrency, len(self._local)))]
                handled += len(chunk)
                by_person: dict[tuple[str, str], list[tuple[float, Entry]]] = {}
                for queued_at, entry in chunk:
                    by_person.setdefault((entry.team, entry.user), []).append((queued_at, entry))
                await asyncio.gather(*(self._in_order(group) for group in by_person.values()))
                await self._flush_done()

    async def _purge_failed(self) -> None:
        """Answers that could not be delivered are kept ``keep_failed`` to look into, then deleted
        (checked at most hourly: they hold what people typed)."""
        now = self.config.now()
        if self._purged_at is not None and now - self._purged_at < timedelta(hours=1):
            return
        self._purged_at = now
        async with self._engine.begin() as connection:
            await connection.execute(
                slack_inbox.delete().where(
                    slack_inbox.c.status == "failed", slack_inbox.c.created_at < now - self.config.keep_failed
                )
            )

    async def _yield_to_acks(self, queued_at: float) -> None:
        """Acknowledgements first: Slack wants one within 3 s, an answer may come later (a
        response_url stays valid for 30 minutes). While commands keep arriving, the worker waits for
        a gap of ``quiet_gap`` seconds, but never holds the oldest row back more than ``max_defer``."""
        loop = asyncio.get_running_loop()
        gap, limit = self.config.quiet_gap, queued_at + self.config.max_defer
        while (now := loop.time()) - self._last_put < gap and now < limit:
            await asyncio.sleep(min(self._last_put + gap, limit) - now)

    async def _claim(self) -> list[Entry]:
        now = self.config.now()
        due = (
            sa.select(slack_inbox.c.id)
            .where(slack_inbox.c.status.in_(("pending", "replying")), slack_inbox.c.due_at <= now)
            .order_by(slack_inbox.c.due_at, slack_inbox.c.id)
            .limit(self.config.batch)
            .with_for_update(skip_locked=True)
        )
        columns = [slack_inbox.c[name] for name in Entry.__dataclass_fields__]
        async with self._engine.begin() as connection:
            rows = await connection.execute(
                slack_inbox.update()
                .where(slack_inbox.c.id.in_(due.scalar_subquery()))
                .values(due_at=now + self.config.lease, claimed_by=self.worker, attempts=slack_inbox.c.attempts + 1)
                .returning(*columns)
            )
            entries = [Entry(**row._mapping) for row in rows]
        return sorted(entries, key=lambda e: e.id)

    async def _in_order(self, group: list[tuple[float, Entry]]) -> None:
        async with self._limit:
            for queued_at, entry in group:
                await self._yield_to_acks(queued_at)  # before each row: a coach call is a few ms of CPU
                try:
                    await self._handle(entry)
                except Exception:  # one broken row must not stop the others; its lease runs out
                    log.exception("slack: inbox row %s failed", entry.id)

    async def _handle(self, entry: Entry) -> None:
        if entry.status == "pending":
            payload = await self._apply(entry)
            if payload is None:
                return  # another worker holds the row now
        elif entry.reply is not None:
            payload = json.loads(entry.reply)
        else:  # the command was run, but the process died before its answer went out
            payload = self._render(entry, Message(f"Done: `{entry.text}`."))
        await self._deliver(entry, payload)

    def _render(self, entry: Entry, message: Message) -> dict[str, Any]:
        if entry.kind == COMMAND and entry.response_url:
            return render.ephemeral_response(message)
        return render.message_payload(message)

    async def _apply(self, entry: Entry) -> dict[str, Any] | None:
        """Run the command through the coach; its transaction marks the row ``replying``."""
        try:
            actor = await self._actor(entry)
        except Exception:
            log.exception("slack: inbox row %s: could not tell who typed it", entry.id)
            actor = None
        arm = _Arm(entry.id, self.worker)

        async def mark_replying(session: AsyncSession) -> None:
            """In the coach's own transaction: the command and the row's progress commit together."""
            moved = await session.execute(
                slack_inbox.update()
                .where(
                    slack_inbox.c.id == arm.row,
                    slack_inbox.c.claimed_by == arm.worker,
                    slack_inbox.c.status == "pending",
                )
                .values(status="replying")
            )
            if moved.rowcount != 1:  # type: ignore[attr-defined]
                arm.lost = True
                raise _ClaimLost(f"slack inbox row {arm.row} is no longer held by {arm.worker}")

        message = SORRY
        if actor is not None:
            try:
                message = await self._coach.handle_text(actor, entry.text, also=mark_replying)
            except _ClaimLost:
                return None  # another worker holds the row now; nothing of this run was stored
            except Exception:
                log.exception("slack: coach failed on inbox row %s", entry.id)
                message = SORRY
        if arm.lost:
            return None
        if message.kind == FORGOTTEN:
            await self.forget_person(entry.team, entry.user, but=entry.id)
        return self._render(entry, message)

    async def _deliver(self, entry: Entry, payload: Mapping[str, Any]) -> None:
        try:
            if entry.kind == COMMAND and entry.response_url:
                await self._respond(entry.response_url, payload)
            else:
                channel = entry.channel or entry.user
                await self._post_message(entry.team, channel, payload)
        except DeliveryError as problem:
            await self._failed(entry, payload, str(problem), problem.retry_after, permanent=problem.permanent)
            return
        except Exception as problem:  # noqa: BLE001 - any other failure is retried the same way
            await self._failed(entry, payload, repr(problem)[:500], None, permanent=False)
            return
        self._done.append(entry.id)
        self.delivered += 1

    async def _flush_done(self) -> None:
        """Delete the delivered rows of a chunk in one statement (only those this worker holds)."""
        if not self._done:
            return
        done, self._done = self._done, []
        async with self._engine.begin() as connection:
            await connection.execute(
                slack_inbox.delete().where(slack_inbox.c.id.in_(done), slack_inbox.c.claimed_by == self.worker)
            )

    async def _respond(self, url: str, payload: Mapping[str, Any]) -> None:
        """POST the answer to the command's response_url, as Slack documents (JSON, ``ok`` back)."""
        if self._http is None:
            raise DeliveryError("slack: the inbox worker is not running")
        try:
            async with self._http.post(url, json=payload) as response:
                body = (await response.text())[:200]
                status = response.status
                retry_after = response.headers.get("Retry-After")
        except (aiohttp.ClientError, TimeoutError) as error:
            raise DeliveryError(f"response_url: {type(error).__name__}: {error}") from error
        if status == 200:
            return
        # 404 used_url / expired_url (30 min, 5 uses) and other 4xx will not get better; 429 and 5xx may
        permanent = 400 <= status < 500 and status != 429
        seconds = float(retry_after) if retry_after and retry_after.isdigit() else None
        raise DeliveryError(f"response_url: HTTP {status} {body}", retry_after=seconds, permanent=permanent)

    async def _failed(
        self, entry: Entry, payload: Mapping[str, Any], reason: str, retry_after: float | None, *, permanent: bool
    ) -> None:
        """Keep the answer on the row (the command is not run again) and retry later, or give up."""
        mine = sa.and_(slack_inbox.c.id == entry.id, slack_inbox.c.claimed_by == self.worker)
        values: dict[str, Any] = {"status": "replying", "reply": json.dumps(payload), "last_error": reason}
        if permanent or entry.attempts >= self.config.max_attempts:
            log.error("slack: giving up on inbox row %s after %s attempts: %s", entry.id, entry.attempts, reason)
            values.update(status="failed", claimed_by=None)
            self.failed += 1
        else:
            due = self.config.now() + self.config.delay(entry.attempts, retry_after)
            log.warning("slack: inbox row %s attempt %s failed (%s); retrying", entry.id, entry.attempts, reason)
            values.update(due_at=due, claimed_by=None)
            self.retried += 1
            self._wake_at(due)
        async with self._engine.begin() as connection:
            await connection.execute(slack_inbox.update().where(mine).values(**values))


__all__ = ["COMMAND", "MESSAGE", "Entry", "Inbox", "InboxConfig"]
