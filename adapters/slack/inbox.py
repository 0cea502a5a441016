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
(honouring ``Retry-After``) and gives up after ``max_attempts``; delivered rows are deleted together once
the worker has nothing else to do (during a burst, every ``batch`` rows or ``max_defer`` seconds).

Database trouble is not the person's problem: a command whose transaction hit a transient error
(:mod:`coaching.transient`) stays in the inbox, claimed by this worker, and is run again with backoff
until it is applied (once: the row's status says whether it was). A command that could not even be
stored gets an answer that says so, never a 500. A slash command Slack delivered twice (the same
``trigger_id``, or the same signed body) is stored, applied and answered once: its key goes into
``slack_seen`` in the transaction that stores the row.

Fair to everyone: the worker takes one row per person in turn (round-robin over the people with rows
waiting), up to ``concurrency`` people at a time, and one person's rows always run in order; so a
burst from one person delays someone else's answer by about one command, not by the burst. A person's answer
is sent while their next row runs (the POST mostly waits for Slack), and only after the answer before it.

Stopping (:meth:`Inbox.stop`) finishes the rows already taken within a grace period, then releases
whatever this worker still holds so another replica takes it at once.
"""

from __future__ import annotations

import asyncio
import contextvars
import hashlib
import json
import logging
import sqlite3
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import aiohttp
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from adapters.secret_words import about_calendar, redacted
from adapters.slack import render
from adapters.slack.store import Seen, engine_of, slack_inbox, slack_seen
from bot.database import SQLITE_CONNECT_ARGS, sqlite_pragmas
from bot.sqlite_driver import CHECKPOINT_EVERY
from coaching import store, transient
from coaching.commands import Actor
from coaching.messages import Message
from coaching.metrics import COMMAND_SECONDS, FAILURES, RETRIES, SLACK_COMMANDS
from coaching.outbox import Retry
from coaching.ports import Abandon, DeliveryError, Personal
from coaching.privacy import FORGOTTEN

log = logging.getLogger(__name__)

COMMAND = "command"  # the answer goes to the command's response_url (ephemeral)
MESSAGE = "message"  # a DM to the app: the answer goes back to that DM channel
MENTION = "mention"  # the app @mentioned in a channel: the answer is ephemeral there (chat.postEphemeral)

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
    max_defer: float = 1.0  # ...but no answer waits longer than this for a gap
    transient_first_delay: timedelta = timedelta(milliseconds=250)  # database trouble: run it again soon...
    transient_max_delay: timedelta = timedelta(seconds=5)  # ...and keep trying, at least this often
    now: Callable[[], datetime] = field(default=_utcnow)

    def transient_delay(self, tries: int) -> timedelta:
        """Doubling per try up to the ceiling (the exponent is capped: an outage can mean thousands of tries)."""
        return min(self.transient_first_delay * (2 ** min(max(tries - 1, 0), 16)), self.transient_max_delay)


class CoachPort(Protocol):
    async def handle_text(
        self,
        actor: Actor,
        text: str,
        *,
        also: Callable[[AsyncSession], Awaitable[None]] | None = None,
        shared: bool = False,
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
    created_at: datetime


Person = tuple[str, str]  # (team, user): whose rows run in order, and whose turn it is


# ---------------------------------------------------------------------------- one request's context


@dataclass
class Delivery:
    """What the request being handled tells the inbox, and what the inbox tells it back: set up by
    :meth:`Inbox.request` around one ``POST /slack/events``."""

    key: str | None = None  # a slash command's dedupe key (see :func:`command_key`)
    answer: dict[str, Any] | None = None  # the acknowledgement's body, when the command was not stored


_DELIVERY: contextvars.ContextVar[Delivery | None] = contextvars.ContextVar("slack_inbox_delivery", default=None)


def command_key(team: str, trigger_id: str | None, timestamp: str | None, body: bytes | str) -> str:
    """One slash command, however often Slack (or a proxy) delivers it: its ``trigger_id``, unique per
    invocation; without one, the signed request itself (timestamp and body)."""
    if trigger_id:
        return Seen.key(f"command:{team}:{trigger_id}")
    raw = body.encode() if isinstance(body, str) else body
    return Seen.key(f"command:{team}:{timestamp}:{hashlib.sha256(raw).hexdigest()}")


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
    async def insert(self, rows: list[dict[str, Any]], keys: list[str | None]) -> list[int | None]:
        """Commit the rows in one transaction, with the dedupe keys of those that have one; their ids, in
        order, None for a row whose key was stored before (a repeat: not stored). Raises if nothing was
        stored."""
        ...

    async def close(self) -> None: ...


def _fresh(keys: list[str | None], stored: set[str]) -> list[bool]:
    """Which rows to store: no key, or the first row of a key this transaction stored."""
    taken: set[str] = set()
    out = []
    for key in keys:
        fresh = key is None or (key in stored and key not in taken)
        if key is not None:
            taken.add(key)
        out.append(fresh)
    return out


# The dedupe keys of a round, stored once each: the rows go as parameters (SQLAlchemy's "insertmanyvalues"
# writes one multi-row INSERT ... RETURNING), so the statement is compiled once; with the rows written into it
# (.values([...])) it could not be cached and was compiled anew for every round of acknowledgements.
_SEEN = {
    dialect: insert(slack_seen).on_conflict_do_nothing().returning(slack_seen.c.key)
    for dialect, insert in (("postgresql", postgresql.insert), ("sqlite", sqlite.insert))
}


def _seen_rows(keys: list[str | None], now: datetime) -> list[dict[str, Any]]:
    return [{"key": key, "seen_at": now} for key in dict.fromkeys(k for k in keys if k)]


class _Rows:
    """Any database (PostgreSQL in production): one INSERT .. RETURNING for the batch on a connection
    kept for the writer (no pool checkout, ping or reset per round). A connection that fails before
    the commit (a stale one, say) is dropped and the round tried once more on a fresh one; a failed
    commit is not retried (it may have happened)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._insert = slack_inbox.insert().returning(slack_inbox.c.id, sort_by_parameter_order=True)
        self._connection: AsyncConnection | None = None

    async def insert(self, rows: list[dict[str, Any]], keys: list[str | None]) -> list[int | None]:
        for last_try in (False, True):
            try:
                if self._connection is None:
                    self._connection = await self._engine.connect()
                transaction = await self._connection.begin()
                fresh = [True] * len(rows)
                if any(keys):
                    seen = _SEEN["postgresql" if self._engine.dialect.name == "postgresql" else "sqlite"]
                    stored = await self._connection.execute(seen, _seen_rows(keys, rows[0]["created_at"]))
                    fresh = _fresh(keys, set(stored.scalars()))
                new = [row for row, keep in zip(rows, fresh, strict=True) if keep]
                # (SQLite in memory gets one INSERT per row here: it cannot return a batch's ids in order)
                ids = iter([row_id for (row_id,) in await self._connection.execute(self._insert, new)] if new else [])
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
            return [next(ids) if keep else None for keep in fresh]
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
    """The SQLite file (the embedded default): the rows go through one plain ``sqlite3`` connection of their own.
    A round (INSERT of the batch, its last rowid, COMMIT) runs right on the event loop when it can, as
    ``bot.sqlite_driver`` runs the coach's statements: the connection never waits for a lock there (its busy
    timeout is 0), so a round that finds the database locked (or fails in any way before its commit) is rolled
    back and run on a thread of its own, where it waits as long as ``SQLITE_CONNECT_ARGS`` says and a bad connection
    is replaced once. A thread round was ~0.1 ms of hops and, worse, the
    GIL handed back and forth with the loop while the burst's answers were being worked out. The first round
    (opening the file) and every ``CHECKPOINT_EVERY``-th (a WAL checkpoint, which syncs) go to the thread too.
    The INSERT is compiled once and sent as driver SQL with SQLAlchemy's own bind processors, so a row is
    stored exactly as the ORM stores it."""

    @staticmethod
    def fits(engine: AsyncEngine) -> bool:
        """A second connection sees the same data only for a file (an in-memory database is private)."""
        database = engine.url.database
        return engine.dialect.name == "sqlite" and bool(database) and database != ":memory:"

    def __init__(self, engine: AsyncEngine) -> None:
        # used by one round at a time, on the loop or on the thread: never by two threads at once
        connect_args = {**SQLITE_CONNECT_ARGS, "check_same_thread": False}
        self._engine = sa.create_engine(
            engine.url.set(drivername="sqlite"), connect_args=connect_args, poolclass=sa.NullPool
        )
        sa.event.listen(self._engine, "connect", sqlite_pragmas)
        sa.event.listen(self._engine, "connect", _no_waiting)
        self._lock_wait_ms = int(float(SQLITE_CONNECT_ARGS["timeout"]) * 1000)
        self._thread: ThreadPoolExecutor | None = None  # started with the first round, ended by close()
        self._connection: sa.Connection | None = None
        self._statement: tuple[str, list[tuple[str, Callable[[Any], Any] | None]]] | None = None
        self._rounds = 0

    async def insert(self, rows: list[dict[str, Any]], keys: list[str | None]) -> list[int | None]:
        self._rounds += 1
        if self._connection is not None and self._rounds % CHECKPOINT_EVERY:
            try:
                return self._round(rows, keys)
            except _NotAtOnce:
                pass  # nothing was stored: the thread waits for the lock, or retries on a fresh connection
        if self._thread is None:
            self._thread = ThreadPoolExecutor(1, thread_name_prefix="slack-inbox-writer")
        return await asyncio.get_running_loop().run_in_executor(self._thread, self._waiting_round, rows, keys)

    def _round(self, rows: list[dict[str, Any]], keys: list[str | None]) -> list[int | None]:
        """One round at once, on the loop; :class:`_NotAtOnce` when it failed before its commit (nothing stored: the
        database locked by another connection, or a connection gone bad), for the thread round to wait or retry."""
        connection = self._connection
        assert connection is not None
        try:
            transaction = connection.begin()
            fresh, new, last = self._stored(connection, rows, keys)
        except Exception:
            try:
                connection.rollback()
            except Exception:  # noqa: BLE001 - a broken connection: the thread round opens a fresh one
                self._close()
            raise _NotAtOnce from None
        try:
            transaction.commit()
        except Exception:
            self._close()
            raise
        return _ids(fresh, new, last)

    def _waiting_round(self, rows: list[dict[str, Any]], keys: list[str | None]) -> list[int | None]:  # thread
        """A round on the thread: it may wait for the lock; a connection that fails before the commit (a stale one,
        say) is dropped and the round tried once more on a fresh one; a failed commit is not retried (it may have
        happened). The WAL is checkpointed after it (the connection's own checkpoints are off)."""
        for last_try in (False, True):
            try:
                if self._connection is None:
                    self._connection = self._engine.connect()
                connection = self._connection
                raw = connection.connection.driver_connection  # PRAGMAs outside SQLAlchemy's transaction
                raw.execute(f"PRAGMA busy_timeout = {self._lock_wait_ms}")
                transaction = connection.begin()
                fresh, new, last = self._stored(connection, rows, keys)
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
            try:  # the rows are stored: what follows must not say otherwise
                raw.execute("PRAGMA wal_checkpoint(PASSIVE)")
                raw.execute("PRAGMA busy_timeout = 0")
            except sqlite3.Error:
                self._close()  # the next round opens a fresh one
            return _ids(fresh, new, last)
        raise AssertionError("unreachable")  # pragma: no cover

    def _stored(
        self, connection: sa.Connection, rows: list[dict[str, Any]], keys: list[str | None]
    ) -> tuple[list[bool], list[dict[str, Any]], int]:
        """The round's statements, in its transaction: which rows were fresh, those rows, the last rowid."""
        fresh = [True] * len(rows)
        if any(keys):
            stored = connection.execute(_SEEN["sqlite"], _seen_rows(keys, rows[0]["created_at"]))
            fresh = _fresh(keys, set(stored.scalars()))
        new = [row for row, keep in zip(rows, fresh, strict=True) if keep]
        last = 0
        if new:
            sql, columns = self._compiled(new[0])
            connection.exec_driver_sql(
                sql, [tuple(bind(row[c]) if bind else row[c] for c, bind in columns) for row in new]
            )
            last = int(connection.exec_driver_sql("SELECT last_insert_rowid()").scalar_one())
        return fresh, new, last

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
        else:
            self._close()


class _NotAtOnce(Exception):
    """A round on the event loop failed before its commit (nothing was stored): it runs on the thread instead."""


def _no_waiting(dbapi_connection: Any, _record: Any = None) -> None:
    """The inbox writer's connection: no waiting for a lock on the loop, no checkpoint after any commit."""
    dbapi_connection.execute("PRAGMA busy_timeout = 0")
    dbapi_connection.execute("PRAGMA wal_autocheckpoint = 0")


def _ids(fresh: list[bool], new: list[dict[str, Any]], last: int) -> list[int | None]:
    """Each row's id, None for a repeat: under SQLite's write lock one transaction's rowids are consecutive."""
    ids = iter(range(last - len(new) + 1, last + 1))
    return [next(ids) if keep else None for keep in fresh]


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
        post_ephemeral: Callable[[str, str, str, Mapping[str, Any]], Awaitable[Any]] | None = None,
    ) -> None:
        """``actor(entry)``: who typed it (time zone from the profile cache or ``users.info``);
        ``post_message(team, channel, payload)``: ``chat.postMessage`` with the workspace's token,
        raising :class:`~coaching.ports.DeliveryError` on failure; ``post_ephemeral(team, channel, user,
        payload)``: ``chat.postEphemeral`` likewise, for mentions (without it, a mention is answered by DM)."""
        self._engine = engine_of(sessions)
        self._coach = coach
        self._actor = actor
        self._post_message = post_message
        self._post_ephemeral = post_ephemeral
        self.config = config or InboxConfig()
        self.worker = worker or f"slack-{uuid.uuid4().hex[:12]}"
        self._wake = asyncio.Event()
        self._arrived = asyncio.Event()  # a row was handed over in memory (wakes a pass that is under way)
        self._quiet = asyncio.Event()  # set while the worker has nothing left to do right now
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._http: aiohttp.ClientSession | None = None
        self._writes: list[tuple[dict[str, Any], str | None, asyncio.Future[int | None]]] = []
        self._writer: asyncio.Task[None] | None = None
        self._rows: _RowWriter = _SqliteRows(self._engine) if _SqliteRows.fits(self._engine) else _Rows(self._engine)
        self._queues: dict[Person, deque[tuple[float, Entry]]] = {}  # rows this worker holds, per person
        self._turns: deque[Person] = deque()  # people with rows waiting and none running, in turn
        self._running: set[Person] = set()
        self._delivering: dict[Person, asyncio.Task[Any]] = {}  # a person's answer on its way while their next row runs
        self._retries: dict[int, tuple[datetime, int]] = {}  # row id -> (when, tries): database trouble
        self._done: list[int] = []  # delivered rows, deleted in groups
        self._done_since = 0.0  # when the oldest of them was delivered (loop time)
        self._background: set[asyncio.Task[Any]] = set()
        self._last_put = 0.0
        self._purged_at: datetime | None = None
        self.delivered = 0  # counters for tests (/metrics has the process's)
        self.retried = 0
        self.failed = 0

    # -- the request path

    @staticmethod
    @contextmanager
    def request(key: str | None = None) -> Iterator[Delivery]:
        """Around one Slack request: the slash command's dedupe key goes in, and if the command could not
        be stored, ``answer`` comes out (the acknowledgement's body saying so)."""
        delivery = Delivery(key=key)
        token = _DELIVERY.set(delivery)
        try:
            yield delivery
        finally:
            _DELIVERY.reset(token)

    @staticmethod
    def set_key(key: str) -> None:
        """Give the request being handled its dedupe key (a Bolt middleware does, once the body is parsed)."""
        delivery = _DELIVERY.get()
        if delivery is not None:
            delivery.key = key

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
    ) -> bool:
        """Store one command; returns once its row is committed (and so before the acknowledgement).

        Rows that arrive together are committed together (group commit: one transaction for all the
        requests waiting at that moment). While the worker runs, a row is stored already claimed by
        it and handed over in memory, so the worker needs no query to find it; if the process dies,
        the claim's lease runs out and any worker picks the row up from the database.

        Returns False for a repeat of a command stored before (nothing more to do), and when it could not
        be stored: then the person is told so (in the acknowledgement of the request, else by message).
        """
        now = self.config.now()
        local = self.running
        delivery = _DELIVERY.get()
        key = delivery.key if delivery is not None and kind == COMMAND else None
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
        stored: asyncio.Future[int | None] = loop.create_future()
        self._writes.append((row, key, stored))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write(), name="slack-inbox-writer")
        try:
            row_id = await stored
        except Exception as error:  # noqa: BLE001 - whatever the driver raised, nothing was stored
            self._not_stored(row, delivery, error)
            return False
        self._last_put = loop.time()
        if row_id is None:
            log.info("slack: ignored a repeated slash command")
            return False
        if local and self.running:
            entry = Entry(row_id, kind, team, user, user_name, channel, text, response_url, "pending", 1, None, now)
            self._enqueue(loop.time(), entry)
            self._arrived.set()
            self.wake()
        return True

    def _not_stored(self, row: dict[str, Any], delivery: Delivery | None, error: BaseException) -> None:
        """Tell the person their command was not saved: in the acknowledgement when it is a slash
        command, else as a message (a DM to the app)."""
        if transient.is_transient(error):
            message = transient.not_saved(error, "slack inbox")
        else:
            # the first line only: a driver's error goes on to quote the statement's parameters (what was typed)
            first = (str(error).splitlines() or [""])[0][:200]
            log.error("slack: could not store a command: %s: %s", type(error).__name__, first)
            message = Message(transient.NOT_SAVED_TEXT, kind="error", ref=transient.NOT_SAVED)
        if row["kind"] == COMMAND and delivery is not None:
            delivery.answer = render.ephemeral_response(message)
            return
        entry = Entry(0, row["kind"], row["team"], row["user"], None, row["channel"], row["text"],
                      row["response_url"], "failed", 0, None, row["created_at"])  # fmt: skip
        self._spawn(self._send(entry, self._render(entry, message)), "not-saved answer")

    def _spawn(self, coro: Awaitable[Any], what: str) -> None:
        async def run() -> None:
            try:
                await coro
            except Exception as error:  # noqa: BLE001 - a courtesy message; nothing depends on it
                log.warning("slack: %s failed: %s", what, error)

        task = asyncio.create_task(run(), name=f"slack-inbox:{what}")
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _write(self) -> None:
        """Commit every row waiting to be stored, in one transaction per round, until none wait; a
        round that fails fails its requests (each person is told, nothing half-stored)."""
        await asyncio.sleep(0)  # requests read in this same turn of the loop join the first round
        while self._writes:
            batch, self._writes = self._writes, []
            try:
                ids = await self._rows.insert([row for row, _, _ in batch], [key for _, key, _ in batch])
            except Exception as error:  # noqa: BLE001 - whatever the driver raised, nothing was stored
                for _, _, stored in batch:
                    if not stored.done():
                        stored.set_exception(error)
                continue
            for (_, _, stored), row_id in zip(batch, ids, strict=True):
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

    async def backlog(self) -> tuple[int, datetime | None]:
        """Commands stored and not answered yet (any worker's), and when the oldest was typed."""
        async with self._engine.connect() as connection:
            row = (
                await connection.execute(
                    sa.select(sa.func.count(), sa.func.min(slack_inbox.c.created_at)).where(
                        slack_inbox.c.status.in_(("pending", "replying"))
                    )
                )
            ).one()
        return int(row[0]), row[1]

    # -- lifecycle (tied to the aiohttp app by adapters.slack.setup)

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def start(self) -> None:
        if self.running:
            return
        self._closing = False
        self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.config.http_timeout))
        self.wake()  # the first pass is the start-up sweep
        self._task = asyncio.create_task(self._run(), name=f"slack-inbox:{self.worker}")
        self._task.add_done_callback(self._ended)
        log.info("slack: inbox worker %s started", self.worker)

    def _ended(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("slack: inbox worker %s stopped by an error", self.worker, exc_info=task.exception())
        elif not self._closing:
            log.error("slack: inbox worker %s stopped (cancelled: %s)", self.worker, task.cancelled())

    async def stop(self, grace: float = 0.0) -> None:
        """Stop the worker: the rows it already took get ``grace`` seconds to be answered (no new ones
        are claimed meanwhile); whatever it still holds then is released at once, not left to its lease."""
        task = self._task
        self._closing = True
        if task is not None and grace > 0:
            self.wake()
            try:
                await asyncio.wait_for(asyncio.shield(task), grace)
            except TimeoutError:
                log.warning("slack: inbox worker %s did not finish within %ss; releasing its rows", self.worker, grace)
            except Exception:  # noqa: BLE001 - logged by the worker; the rows are released below
                pass
        self._task = None
        if task is not None:
            task.cancel()
            try:
                await task
            except (asyncio.CancelledError, Exception):  # noqa: BLE001 - stopping anyway
                pass
            self._queues.clear()
            self._turns.clear()
            self._retries.clear()
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
        if self._background:
            await asyncio.gather(*list(self._background), return_exceptions=True)
        await self._rows.close()
        if self._http is not None:
            await self._http.close()
            self._http = None

    async def _run(self) -> None:
        pause, troubled = self.config.sweep_every, 0
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=pause)
            except TimeoutError:
                pass
            self._wake.clear()
            self._quiet.clear()
            pause = self.config.sweep_every
            try:
                await self.work()
                troubled = 0
            except asyncio.CancelledError as problem:
                if _cancelled_from_outside():  # stop()
                    raise
                # asyncpg can surface CancelledError from a connection the server dropped mid-shutdown:
                # that must not end the worker (rows stored from then on would wait for a restart)
                transient.noted(problem, "slack inbox")
                troubled += 1
                pause = min(self.config.transient_delay(troubled).total_seconds(), self.config.sweep_every)
            except Exception as problem:
                if transient.is_transient(problem):  # the database is away; the rows wait in it, and here
                    transient.noted(problem, "slack inbox")
                    troubled += 1
                    pause = min(self.config.transient_delay(troubled).total_seconds(), self.config.sweep_every)
                else:
                    log.exception("slack: inbox pass failed; trying again in %ss", self.config.sweep_every)
            if self._closing and not self._queues and not self._running:
                return  # stop() is waiting for this
            if not self._wake.is_set() and not self._queues and not self._retries:
                self._quiet.set()

    def wake(self) -> None:
        """Look for due rows now (``put`` does this; so can a test that moved the clock)."""
        self._quiet.clear()
        self._wake.set()

    async def wait_quiet(self, timeout: float = 5.0) -> None:
        """Until the worker has handled everything due (tests)."""
        await asyncio.wait_for(self._quiet.wait(), timeout)

    def _wake_at(self, due: datetime) -> None:
        delay = (due - self.config.now()).total_seconds()
        if delay < self.config.sweep_every:
            asyncio.get_running_loop().call_later(max(delay, 0.0), self._wake.set)

    # -- the worker

    def _enqueue(self, queued_at: float, entry: Entry) -> None:
        person = (entry.team, entry.user)
        queue = self._queues.get(person)
        if queue is None:
            queue = self._queues[person] = deque()
            if person not in self._running:
                self._turns.append(person)
        queue.append((queued_at, entry))

    async def work(self) -> int:
        """Handle the rows this worker holds, one per person in turn, claiming what is due in the
        database (rows of crashed processes, retries) whenever it runs dry, until nothing is left;
        returns the rows handled."""
        handled = 0
        loop = asyncio.get_running_loop()
        await self._purge_failed()
        lanes: dict[asyncio.Task[None], Person] = {}
        try:
            while True:
                if not self._closing:
                    for entry in await self._take_back_due_retries():
                        self._enqueue(loop.time(), entry)
                if not self._queues and not lanes:
                    if self._closing:
                        break
                    claimed = await self._claim()
                    if not claimed:
                        break
                    for entry in claimed:
                        self._enqueue(loop.time(), entry)
                while self._turns and len(lanes) < self.config.concurrency:
                    person = self._turns.popleft()
                    queued_at, entry = self._queues[person].popleft()
                    self._running.add(person)
                    lanes[asyncio.create_task(self._one(queued_at, entry))] = person
                self._arrived.clear()
                arrived = asyncio.ensure_future(self._arrived.wait())
                finished, _ = await asyncio.wait([*lanes, arrived], return_when=asyncio.FIRST_COMPLETED)
                arrived.cancel()
                for lane in finished:
                    person = lanes.pop(lane, None)  # type: ignore[arg-type]
                    if person is None:
                        continue  # the arrival of a new row: start it if a lane is free
                    handled += 1
                    self._running.discard(person)
                    if self._queues.get(person):
                        self._turns.append(person)  # the back of the line: everyone else goes first
                    else:
                        self._queues.pop(person, None)
                try:
                    if self._flush_is_due(lanes, loop.time()):
                        await self._flush_done()
                except Exception as problem:  # the rows stay in _done for the next flush
                    if not transient.is_transient(problem):
                        raise
                    transient.noted(problem, "slack inbox")
        except asyncio.CancelledError:
            if _cancelled_from_outside():
                for lane in [*lanes, *self._delivering.values()]:  # stopping: what a lane had not committed
                    lane.cancel()  # stays in the database, an answer not sent stays on its row
            raise
        finally:
            if lanes:  # a pass that fails lets the rows under way finish (each handles its own trouble)
                await asyncio.gather(*lanes, return_exceptions=True)
            if self._delivering:
                await asyncio.gather(*self._delivering.values(), return_exceptions=True)
            self._running.clear()
            for person in [p for p, queue in self._queues.items() if not queue]:
                del self._queues[person]
            self._turns = deque(self._queues)  # a pass cut short: everyone waiting gets a turn again
        await self._flush_done()
        return handled

    async def _one(self, queued_at: float, entry: Entry) -> None:
        """One row of a person's: its answer is worked out here, and sent while their next row runs (a POST
        mostly waits for Slack); the answer before it has gone out first, so their answers keep their order."""
        await self._yield_to_acks(queued_at)  # before each row: a coach call is a few ms of CPU
        person = (entry.team, entry.user)
        payload = await self._guarded(entry, self._payload(entry))
        before = self._delivering.get(person)
        if before is not None:
            await asyncio.wait([before])
        if payload is None:
            return
        delivery = asyncio.create_task(self._guarded(entry, self._deliver(entry, payload)))
        self._delivering[person] = delivery

        def delivered(task: asyncio.Task[Any]) -> None:
            if self._delivering.get(person) is task:
                del self._delivering[person]

        delivery.add_done_callback(delivered)

    async def _guarded(self, entry: Entry, step: Awaitable[Any]) -> Any:
        """A step of a row, whose trouble stays with that row: database trouble runs it again later, anything
        else is logged (the row's lease runs out); None then."""
        try:
            return await step
        except asyncio.CancelledError:
            if _cancelled_from_outside():
                raise
            self._retry(entry)  # a database call cancelled under us (see _run): run it again
        except Exception as problem:  # one broken row must not stop the others; its lease runs out
            if transient.is_transient(problem):
                transient.noted(problem, "slack inbox")
                self._retry(entry)
            else:
                log.exception("slack: inbox row %s failed", entry.id)
        return None

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
        """Claim due rows, taking the people in turn: everyone's first row, then everyone's second..."""
        now = self.config.now()
        due = sa.and_(slack_inbox.c.status.in_(("pending", "replying")), slack_inbox.c.due_at <= now)
        turn = (
            sa.func.row_number()
            .over(partition_by=(slack_inbox.c.team, slack_inbox.c.user), order_by=slack_inbox.c.id)
            .label("turn")
        )
        ranked = sa.select(slack_inbox.c.id, turn).where(due).subquery()
        fair = sa.select(ranked.c.id).order_by(ranked.c.turn, ranked.c.id).limit(self.config.batch)
        # the rows themselves are locked in a query of their own (no FOR UPDATE beside a window function)
        locked = sa.select(slack_inbox.c.id).where(slack_inbox.c.id.in_(fair), due).with_for_update(skip_locked=True)
        columns = [slack_inbox.c[name] for name in Entry.__dataclass_fields__]
        async with self._engine.begin() as connection:
            rows = await connection.execute(
                slack_inbox.update()
                .where(slack_inbox.c.id.in_(locked.scalar_subquery()), due)
                .values(due_at=now + self.config.lease, claimed_by=self.worker, attempts=slack_inbox.c.attempts + 1)
                .returning(*columns)
            )
            entries = [Entry(**row._mapping) for row in rows]
        return sorted(entries, key=lambda e: e.id)

    def _retry(self, entry: Entry) -> None:
        """Database trouble on this row: keep holding it and run it again after a short backoff."""
        _, tries = self._retries.get(entry.id, (None, 0))
        due = self.config.now() + self.config.transient_delay(tries + 1)
        self._retries[entry.id] = (due, tries + 1)
        RETRIES.labels("command").inc()
        self._wake_at(due)

    async def _take_back_due_retries(self) -> list[Entry]:
        """The rows held back by database trouble whose time has come, as they are now in the database
        (one may have been applied after all: its status says so), renewing this worker's claim."""
        now = self.config.now()
        due = [row_id for row_id, (when, _) in self._retries.items() if when <= now]
        if not due:
            return []
        columns = [slack_inbox.c[name] for name in Entry.__dataclass_fields__]
        try:
            async with self._engine.begin() as connection:
                rows = await connection.execute(
                    slack_inbox.update()
                    .where(
                        slack_inbox.c.id.in_(due),
                        slack_inbox.c.claimed_by == self.worker,
                        slack_inbox.c.status.in_(("pending", "replying")),
                    )
                    .values(due_at=now + self.config.lease)
                    .returning(*columns)
                )
                entries = [Entry(**row._mapping) for row in rows]
        except Exception as problem:
            if not transient.is_transient(problem):
                raise
            transient.noted(problem, "slack inbox")
            for row_id in due:
                _, tries = self._retries[row_id]
                when = now + self.config.transient_delay(tries + 1)
                self._retries[row_id] = (when, tries + 1)
                self._wake_at(when)
            return []
        for row_id in due:  # taken over by another worker, or forgotten: not ours to run any more
            self._retries.pop(row_id, None)
        return sorted(entries, key=lambda e: e.id)

    async def _handle(self, entry: Entry) -> None:
        payload = await self._payload(entry)
        if payload is not None:
            await self._deliver(entry, payload)

    async def _payload(self, entry: Entry) -> Mapping[str, Any] | None:
        """The answer to deliver for a row; None when another worker holds it now, or it waits for the database."""
        if entry.status == "pending":
            return await self._apply(entry)
        if entry.reply is not None:
            return json.loads(entry.reply)
        # the command was run, but the process died before its answer went out
        return self._render(entry, Message(f"Done: `{entry.text}`."))

    def _render(self, entry: Entry, message: Message) -> dict[str, Any]:
        if entry.kind == COMMAND and entry.response_url:
            return render.ephemeral_response(message)
        return render.message_payload(message)

    async def _apply(self, entry: Entry) -> dict[str, Any] | None:
        """Run the command through the coach; its transaction marks the row ``replying``. None when
        there is nothing to deliver now: the row is someone else's, or it is to run again (database
        trouble: nothing of it was stored, and the person is told nothing yet)."""
        try:
            actor = await self._actor(entry)
        except Exception as problem:
            if transient.is_transient(problem):  # storing the person's profile hit database trouble
                transient.noted(problem, "slack inbox")
                self._retry(entry)
                return None
            log.exception("slack: inbox row %s: could not tell who typed it", entry.id)
            actor = None
        arm = _Arm(entry.id, self.worker)

        async def mark_replying(session: AsyncSession) -> None:
            """In the coach's own transaction: the command and the row's progress commit together (and the
            row keeps no secret the words held: a calendar address stays only as scheme and host)."""
            kept = redacted(entry.text)
            statement, values = (_REPLYING, {}) if kept == entry.text else (_REPLYING_REDACTED, {"kept": kept})
            connection = await store.core(session)
            moved = await connection.execute(statement, {"row": arm.row, "worker": arm.worker, **values})
            if moved.rowcount != 1:  # type: ignore[attr-defined]
                arm.lost = True
                raise _ClaimLost(f"slack inbox row {arm.row} is no longer held by {arm.worker}")

        message = SORRY
        if actor is not None:
            try:
                message = await self._ask(actor, entry, mark_replying)
            except _ClaimLost:
                return None  # another worker holds the row now; nothing of this run was stored
            except Exception as problem:
                if transient.is_transient(problem):
                    transient.noted(problem, "slack inbox")
                    self._retry(entry)
                    return None
                log.exception("slack: coach failed on inbox row %s", entry.id)
                message = SORRY
        if arm.lost:
            return None
        if transient.was_not_saved(message):  # nothing was stored: run it again, say nothing yet
            self._retry(entry)
            return None
        self._retries.pop(entry.id, None)
        if message.kind == FORGOTTEN:
            await self.forget_person(entry.team, entry.user, but=entry.id)
        return self._render(entry, message)

    async def _ask(self, actor: Actor, entry: Entry, also: Callable[[AsyncSession], Awaitable[None]]) -> Message:
        """The coach's answer. Words that may hold a secret, typed in a channel, are asked as in a shared chat
        first, so the coach refuses what must not be typed there (``calendar <url>``); an answer that is
        merely personal comes anyway, as the slash command's answer is only the sender's to see."""
        if in_view_of_others(entry) and about_calendar(entry.text):
            try:
                return await self._coach.handle_text(actor, entry.text, also=also, shared=True)
            except Personal:
                pass  # rolled back, nothing stored: ask again as usual
        return await self._coach.handle_text(actor, entry.text, also=also)

    async def _send(self, entry: Entry, payload: Mapping[str, Any]) -> None:
        if entry.kind == COMMAND and entry.response_url:
            await self._respond(entry.response_url, payload)
        elif entry.kind == MENTION:  # only the person who mentioned the app sees the answer
            if self._post_ephemeral is not None and entry.channel:
                await self._post_ephemeral(entry.team, entry.channel, entry.user, payload)
            else:
                await self._post_message(entry.team, entry.user, payload)
        else:
            await self._post_message(entry.team, entry.channel or entry.user, payload)

    async def _deliver(self, entry: Entry, payload: Mapping[str, Any]) -> None:
        try:
            await self._send(entry, payload)
        except DeliveryError as problem:
            await self._failed(entry, payload, str(problem), problem.retry_after, permanent=problem.permanent)
            return
        except Exception as problem:  # noqa: BLE001 - any other failure is retried the same way
            await self._failed(entry, payload, repr(problem)[:500], None, permanent=False)
            return
        self._retries.pop(entry.id, None)
        if not self._done:
            self._done_since = asyncio.get_running_loop().time()
        self._done.append(entry.id)
        self.delivered += 1
        SLACK_COMMANDS.labels("delivered").inc()
        COMMAND_SECONDS.labels("slack").observe(max((self.config.now() - entry.created_at).total_seconds(), 0.0))

    def _flush_is_due(self, lanes: Mapping[asyncio.Task[None], Person], now: float) -> bool:
        """Delivered rows are deleted once nothing else waits, or in groups while a burst is worked off: a
        DELETE is a transaction of its own, as dear as the answer's POST (a killed process re-sends at most
        this group's rows, as "Done", once their lease runs out)."""
        if not self._done:
            return False
        idle = not lanes and not self._turns and not self._delivering
        return idle or len(self._done) >= self.config.batch or now - self._done_since >= self.config.max_defer

    async def _flush_done(self) -> None:
        """Delete the delivered rows in one statement (only those this worker holds); kept for the next
        flush if the database does not answer."""
        if not self._done:
            return
        done, self._done = self._done, []
        try:
            async with self._engine.begin() as connection:
                await connection.execute(
                    slack_inbox.delete().where(slack_inbox.c.id.in_(done), slack_inbox.c.claimed_by == self.worker)
                )
        except Exception:
            self._done[:0] = done
            raise

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
            SLACK_COMMANDS.labels("failed").inc()
            FAILURES.labels("command").inc()
        else:
            due = self.config.now() + self.config.delay(entry.attempts, retry_after)
            log.warning("slack: inbox row %s attempt %s failed (%s); retrying", entry.id, entry.attempts, reason)
            values.update(due_at=due, claimed_by=None)
            self.retried += 1
            SLACK_COMMANDS.labels("retried").inc()
            RETRIES.labels("command").inc()
            self._wake_at(due)
        self._retries.pop(entry.id, None)
        async with self._engine.begin() as connection:
            await connection.execute(slack_inbox.update().where(mine).values(**values))


# A row moves from pending to replying in the coach's transaction (built once: SQLAlchemy's compiled cache hits);
# when the words held a secret, the row keeps them as redacted() leaves them.
_HELD = sa.and_(
    slack_inbox.c.id == sa.bindparam("row"),
    slack_inbox.c.claimed_by == sa.bindparam("worker"),
    slack_inbox.c.status == "pending",
)
_REPLYING = slack_inbox.update().where(_HELD).values(status="replying")
_REPLYING_REDACTED = slack_inbox.update().where(_HELD).values(status="replying", text=sa.bindparam("kept"))


def in_view_of_others(entry: Entry) -> bool:
    """Typed where others may read it: a mention in a channel, or a slash command anywhere but a direct message
    (Slack's ``D…`` ids)."""
    return entry.kind == MENTION or (entry.kind == COMMAND and not (entry.channel or "").startswith("D"))


def _cancelled_from_outside() -> bool:
    """Whether the running task itself is being cancelled (not just a CancelledError from below it)."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


__all__ = ["COMMAND", "MENTION", "MESSAGE", "Delivery", "Entry", "Inbox", "InboxConfig", "command_key"]
