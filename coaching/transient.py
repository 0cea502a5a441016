"""Database trouble that passes: told apart from real failures, so nobody is told a lie about it.

A transient error is one where the same work, tried again in a moment, can succeed: the connection was
lost or reset, the server is (re)starting, the pool had no connection to spare, PostgreSQL chose this
transaction as a serialization or deadlock victim, SQLite's file was locked. Whoever can retry (the
Slack command inbox) retries; whoever cannot tells the person plainly that nothing was saved.
"""

from __future__ import annotations

import logging
import sqlite3
from types import TracebackType

from sqlalchemy import exc

from coaching.messages import Message
from coaching.metrics import TRANSIENT_DB_ERRORS

log = logging.getLogger(__name__)

NOT_SAVED = "database:not-saved"  # the ``ref`` of the answer below: an adapter that can retry looks for it

# PostgreSQL SQLSTATEs: connection exceptions (class 08), serialization failure, deadlock, admin/crash
# shutdown, "cannot connect now" (starting up or shutting down), too many connections, lock timeout.
_TRANSIENT_STATES = frozenset({"40001", "40P01", "57P01", "57P02", "57P03", "53300", "55P03"})
_SQLITE_BUSY = ("database is locked", "database table is locked", "database is busy")
_DATABASE_CODE = ("sqlalchemy.", "asyncpg", "aiosqlite", "sqlite3")


def is_transient(error: BaseException) -> bool:
    """True when ``error`` (or what caused it) is database trouble that may pass by itself."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if _transient_one(current):
            return True
        current = current.__cause__ or current.__context__
    return False


def _transient_one(error: BaseException) -> bool:
    if isinstance(error, exc.DBAPIError) and error.connection_invalidated:
        return True  # SQLAlchemy's dialect recognised a disconnect
    if isinstance(error, exc.TimeoutError | exc.DisconnectionError):
        return True  # no connection from the pool in time / a stale one
    state = getattr(error, "sqlstate", None) or getattr(error, "pgcode", None)
    if isinstance(state, str) and (state.startswith("08") or state in _TRANSIENT_STATES):
        return True
    if isinstance(error, sqlite3.OperationalError | exc.OperationalError):
        return any(words in str(error) for words in _SQLITE_BUSY)
    # refused, reset, timed out: only when the database stack raised it (a connect attempt, a socket read)
    return isinstance(error, OSError | TimeoutError) and _raised_in_database_code(error.__traceback__)


def _raised_in_database_code(traceback: TracebackType | None) -> bool:
    while traceback is not None:
        if traceback.tb_frame.f_globals.get("__name__", "").startswith(_DATABASE_CODE):
            return True
        traceback = traceback.tb_next
    return False


def noted(error: BaseException, where: str) -> None:
    """Count and log one transient error (a warning with its one-line cause, no stack trace)."""
    TRANSIENT_DB_ERRORS.labels(where).inc()
    log.warning("%s: transient database error, will not apply now: %s", where, _summary(error))


def not_saved(error: BaseException, where: str) -> Message:
    """What a person is told when the database could not take their command: that it was not saved."""
    noted(error, where)
    return Message(NOT_SAVED_TEXT, kind="error", ref=NOT_SAVED)


NOT_SAVED_TEXT = "That was *not saved*: DealCoach cannot reach its database right now. Please try again in a minute."


def was_not_saved(message: Message) -> bool:
    return message.ref == NOT_SAVED


def _summary(error: BaseException) -> str:
    text = str(getattr(error, "orig", None) or error).splitlines()
    return f"{type(error).__name__}: {text[0][:200] if text else ''}"
