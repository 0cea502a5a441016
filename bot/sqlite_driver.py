"""aiosqlite, with a statement that can run at once run at once, on the event loop.

aiosqlite runs every sqlite3 call on a thread of its own. A trip there and back (a queue, a wake-up, the GIL
handed over twice, the loop woken through its pipe) costs about 0.1 ms of CPU, ten times the statement itself
(``SELECT 1``: 0.13 ms through aiosqlite, 0.01 ms in sqlite3), and a command runs eight or so statements: the
trips were over half of what a command cost on SQLite (``bench/coach.py``: ``log`` 5.4 → 2.2 ms, ``list``
1.5 → 0.9 ms, the same run). So a statement first runs right here, where it cannot wait:

- for a lock: the connection's busy timeout is 0 here, so a statement that finds the database locked (another
  connection is writing) fails at once, before it changed anything, and runs again on aiosqlite's thread with
  the full timeout (``timeout=``, the URL's or ``bot.database``'s 30 s) — the loop never sleeps on a lock;
- for long: a read (``SELECT``) may take about a million of SQLite's steps here; one that needs more (a digest
  over a year of nudges, an export) is stopped — a read changes nothing, and stopping one does not end the
  transaction — and runs on the thread, as every statement did before. A write is not stopped (SQLite would
  roll its whole transaction back); the coach's writes are a few rows each.

A commit runs here too: in WAL mode with ``synchronous=NORMAL`` it writes pages and syncs nothing — except when
it checkpoints the WAL, so SQLite's own checkpoint after a commit is off on these connections and every
fiftieth commit of a connection goes to the thread and checkpoints there (as SQLite would, ``PASSIVE``).
Rollbacks stay on the thread; a commit or rollback with no transaction open (pysqlite opens one only before a
write) does nothing and does not cross at all.
On the thread a statement is one crossing: the cursor is opened, executed, read to the end and closed in one
call, and its description, row count and last row id come back with the rows. Statements run in the order they
were asked, with the same errors.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import aiosqlite

Row = tuple[Any, ...]
Statement = Callable[[sqlite3.Connection], tuple[Any, int, "int | None", list[Row]]]

SQLITE_BUSY = 5  # and its extended codes (BUSY_RECOVERY, BUSY_SNAPSHOT, …): the low byte
SQLITE_INTERRUPT = 9
STEPS_PER_CHECK = 1000  # SQLite's virtual-machine steps between two calls of the progress handler
READ_CHECKS = 1000  # a read may take this many of them (~1M steps, a few ms) on the event loop
CHECKPOINT_EVERY = 50  # a connection's commits between two WAL checkpoints, which it runs on the thread


class _TooLong(Exception):
    """A read stopped on the event loop after its budget of steps: it runs again on the thread."""


class Connection(aiosqlite.Connection):
    lock_wait_ms = 5000  # the busy timeout on the thread: sqlite3's ``timeout`` (set by :func:`connect`)
    commits = 0

    async def run(self, statement: Statement, *, read: bool) -> Any:
        """``statement`` at once if it can run at once (see the module's docstring), else on the thread."""
        connection = self._conn
        try:
            return _at_once(connection, statement, read=read)
        except _TooLong:
            pass
        except sqlite3.OperationalError as problem:
            if (getattr(problem, "sqlite_errorcode", 0) & 0xFF) != SQLITE_BUSY:
                raise
        return await self._execute(_waiting(statement, self.lock_wait_ms), connection)

    def cursor(self) -> Cursor:  # type: ignore[override]  # SQLAlchemy enters it with ``async with``
        return Cursor(self)

    async def commit(self) -> None:
        if self._connection is not None and not self._connection.in_transaction:
            return  # nothing to commit: sqlite3 would return at once, on the other thread
        self.commits += 1
        if self.commits % CHECKPOINT_EVERY:
            try:
                return self._conn.commit()  # WAL with synchronous=NORMAL: the pages are written, not synced
            except sqlite3.OperationalError as problem:
                if (getattr(problem, "sqlite_errorcode", 0) & 0xFF) != SQLITE_BUSY:
                    raise
        await self._execute(_waiting(_commit_and_checkpoint, self.lock_wait_ms), self._conn)

    async def rollback(self) -> None:
        if self._connection is not None and not self._connection.in_transaction:
            return
        await self._execute(_waiting(sqlite3.Connection.rollback, self.lock_wait_ms), self._conn)


def connect(database: str, **kwargs: Any) -> Connection:
    """As ``aiosqlite.connect`` (SQLAlchemy's aiosqlite dialect calls it with the URL's arguments)."""

    def connector() -> sqlite3.Connection:
        opened = sqlite3.connect(database, **kwargs)
        opened.execute("PRAGMA busy_timeout = 0")  # on the event loop a lock is never waited for
        opened.execute("PRAGMA wal_autocheckpoint = 0")  # nor a checkpoint's fsync: see Connection.commit
        return opened

    connection = Connection(connector, 64)
    connection.lock_wait_ms = int(float(kwargs.get("timeout", 5.0)) * 1000)
    connection._thread.daemon = True  # as SQLAlchemy's dialect does for aiosqlite's own
    return connection


class Cursor:
    """What SQLAlchemy's adapter uses of an aiosqlite cursor; the rows are read when the statement runs."""

    arraysize = 1

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._rows: list[Row] = []
        self.description: Any = None
        self.rowcount = -1
        self.lastrowid: int | None = None

    async def __aenter__(self) -> Cursor:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def execute(self, sql: str, parameters: Sequence[Any] | dict[str, Any] | None = None) -> Cursor:
        run = _run(parameters if parameters is not None else (), many=False, sql=sql)
        self.description, self.rowcount, self.lastrowid, self._rows = await self._connection.run(run, read=_read(sql))
        return self

    async def executemany(self, sql: str, parameters: Iterable[Any]) -> Cursor:
        run = _run(list(parameters), many=True, sql=sql)  # a list: it may have to run twice
        self.description, self.rowcount, self.lastrowid, self._rows = await self._connection.run(run, read=False)
        return self

    async def fetchone(self) -> Row | None:
        return self._rows.pop(0) if self._rows else None

    async def fetchmany(self, size: int | None = None) -> list[Row]:
        size = size or self.arraysize
        taken, self._rows = self._rows[:size], self._rows[size:]
        return taken

    async def fetchall(self) -> list[Row]:
        taken, self._rows = self._rows, []
        return taken

    async def close(self) -> None:
        self._rows = []

    async def setinputsizes(self, *sizes: Any) -> None:
        return None


def _read(sql: str) -> bool:
    return sql.lstrip()[:6].upper() == "SELECT"


def _at_once(connection: sqlite3.Connection, statement: Statement, *, read: bool) -> Any:
    if not read:
        return statement(connection)
    checks = 0

    def over_budget() -> bool:
        nonlocal checks
        checks += 1
        return checks > READ_CHECKS

    in_transaction = connection.in_transaction
    connection.set_progress_handler(over_budget, STEPS_PER_CHECK)
    try:
        return statement(connection)
    except sqlite3.OperationalError as problem:
        if checks <= READ_CHECKS or (getattr(problem, "sqlite_errorcode", 0) & 0xFF) != SQLITE_INTERRUPT:
            raise
        if in_transaction and not connection.in_transaction:  # SQLite keeps it for a read; never go on without
            raise sqlite3.OperationalError("the transaction ended when a long read was moved off the loop") from None
        raise _TooLong from None
    finally:
        connection.set_progress_handler(None, STEPS_PER_CHECK)


def _waiting(statement: Callable[[sqlite3.Connection], Any], lock_wait_ms: int) -> Callable[[sqlite3.Connection], Any]:
    """``statement`` as it runs on the thread: it may wait for a lock there, as long as sqlite3's timeout says."""

    def run(connection: sqlite3.Connection) -> Any:
        connection.execute(f"PRAGMA busy_timeout = {int(lock_wait_ms)}")
        try:
            return statement(connection)
        finally:
            connection.execute("PRAGMA busy_timeout = 0")

    return run


def _commit_and_checkpoint(connection: sqlite3.Connection) -> None:
    connection.commit()
    connection.execute("PRAGMA wal_checkpoint(PASSIVE)")  # what SQLite's own auto-checkpoint does, here


def _run(parameters: Any, *, many: bool, sql: str) -> Statement:
    def run(connection: sqlite3.Connection) -> tuple[Any, int, int | None, list[Row]]:
        cursor = connection.cursor()
        try:
            if many:
                cursor.executemany(sql, parameters)
            else:
                cursor.execute(sql, parameters)
            rows = cursor.fetchall() if cursor.description else []
            return cursor.description, cursor.rowcount, cursor.lastrowid, rows
        finally:
            cursor.close()

    return run
