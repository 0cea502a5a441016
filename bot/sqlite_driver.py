"""aiosqlite with one trip to its thread per statement.

aiosqlite runs every sqlite3 call on a thread of its own; SQLAlchemy's adapter makes four calls per statement
(open a cursor, execute, fetch all, close) and one each for the commit and the pool's rollback, so a command of
three SELECTs crossed threads about fourteen times — the largest single cost of a command on SQLite. Here a
statement is one crossing: the cursor is opened, executed, read to the end and closed in one call on the same
thread, and its description, row count and last row id come back with the rows. A commit or rollback with no
transaction open (pysqlite opens one only before a write) does not cross at all, as sqlite3 would do nothing.

Everything still runs on aiosqlite's thread (the event loop never waits for the disk or a lock), in the order it
was asked, with the same errors.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any

import aiosqlite

Row = tuple[Any, ...]


class Connection(aiosqlite.Connection):
    def cursor(self) -> Cursor:  # type: ignore[override]  # SQLAlchemy enters it with ``async with``
        return Cursor(self)

    async def commit(self) -> None:
        if self._connection is not None and not self._connection.in_transaction:
            return  # nothing to commit: sqlite3 would return at once, on the other thread
        await super().commit()

    async def rollback(self) -> None:
        if self._connection is not None and not self._connection.in_transaction:
            return
        await super().rollback()


def connect(database: str, **kwargs: Any) -> Connection:
    """As ``aiosqlite.connect`` (SQLAlchemy's aiosqlite dialect calls it with the URL's arguments)."""

    def connector() -> sqlite3.Connection:
        return sqlite3.connect(database, **kwargs)

    connection = Connection(connector, 64)
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
        run = _run(sql, parameters if parameters is not None else (), many=False)
        self.description, self.rowcount, self.lastrowid, self._rows = await self._on_thread(run)
        return self

    async def executemany(self, sql: str, parameters: Iterable[Any]) -> Cursor:
        run = _run(sql, parameters, many=True)
        self.description, self.rowcount, self.lastrowid, self._rows = await self._on_thread(run)
        return self

    async def _on_thread(self, run: Any) -> Any:
        return await self._connection._execute(run, self._connection._conn)

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


def _run(sql: str, parameters: Any, *, many: bool) -> Any:
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
