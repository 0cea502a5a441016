"""Which request or nudge the running code works for, so every log line can say so.

A platform adapter wraps the handling of one incoming request in :func:`request`; the outbox wraps
the sending of one nudge in :func:`nudge`. Tasks started inside inherit the id (asyncio copies the
context). ``bot.logs`` adds the ids to each record (``LOG_FORMAT=json``: ``request_id``, ``nudge_id``).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

REQUEST_ID: ContextVar[str | None] = ContextVar("dealcoach_request_id", default=None)
NUDGE_ID: ContextVar[str | None] = ContextVar("dealcoach_nudge_id", default=None)


def new_id() -> str:
    return secrets.token_hex(6)


@contextmanager
def request(request_id: str | None = None) -> Iterator[str]:
    """Log lines inside carry ``request_id`` (a fresh one unless given)."""
    value = request_id or new_id()
    token = REQUEST_ID.set(value)
    try:
        yield value
    finally:
        REQUEST_ID.reset(token)


@contextmanager
def nudge(nudge_id: int | str) -> Iterator[str]:
    """Log lines inside carry ``nudge_id`` (the outbox row's id)."""
    value = str(nudge_id)
    token = NUDGE_ID.set(value)
    try:
        yield value
    finally:
        NUDGE_ID.reset(token)
