"""Keyword-only store functions the coach and the scheduler share."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Executable, Row, Table, bindparam, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import lazyload

from coaching.models import Commitment, Counterpart, Negotiation, User, Workspace
from coaching.ports import Address
from coaching.timelang import DATE_ORDERS, DateOrder, default_date_order


async def core(session: AsyncSession) -> AsyncConnection:
    """The transaction's connection, for a Core statement: rows (or a write) without the ORM's result set-up,
    which ``session.execute`` adds to every statement (about 35 µs on SQLite, a third of a small query). What the
    session holds unflushed is flushed first, as ``session.execute`` would (autoflush), so the rows are the same."""
    if session.new or session.dirty or session.deleted:
        await session.flush()
    transaction = session.sync_session.get_transaction()
    held = session.info.get(_CORE)
    if held is not None and held[0] is transaction:  # asking the session again costs a trip through its greenlet
        return held[1]
    connection = await session.connection()
    session.info[_CORE] = (session.sync_session.get_transaction(), connection)
    return connection


_CORE = "coaching.store.core"  # session.info: (the transaction, its connection)


async def rows(session: AsyncSession, statement: Executable, params: Mapping[str, Any]) -> Sequence[Row[Any]]:
    """A Core statement's rows, through :func:`core`."""
    return (await (await core(session)).execute(statement, params)).all()


async def scalar(session: AsyncSession, statement: Executable, params: Mapping[str, Any]) -> Any:
    """A Core statement's first column of its first row, through :func:`core`."""
    return await (await core(session)).scalar(statement, params)


async def scalars(session: AsyncSession, statement: Executable, params: Mapping[str, Any]) -> Sequence[Any]:
    """A Core statement's first column, through :func:`core`."""
    return (await (await core(session)).scalars(statement, params)).all()


async def insert_ignore(session: AsyncSession, table: Table, rows: list[dict[str, Any]], *, unique: list[str]) -> None:
    """INSERT ... ON CONFLICT DO NOTHING on the unique columns: the way to enqueue exactly once."""
    if not rows:
        return
    dialect = session.bind.dialect.name if session.bind else "sqlite"
    statement = _insert_ignore(dialect, table, tuple(unique))
    keys = rows[0].keys()
    connection = await core(session)
    if all(row.keys() == keys for row in rows):  # the statement as compiled once; the rows as its parameters
        await connection.execute(statement, rows)
    else:
        await connection.execute(statement.values(rows))


@functools.cache
def _insert_ignore(dialect: str, table: Table, unique: tuple[str, ...]) -> Any:
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return insert(table).on_conflict_do_nothing(index_elements=list(unique))


def zone(name: str | None) -> ZoneInfo | None:
    """The IANA zone called ``name``, or None if there is no such zone."""
    if not name or len(name) > 64 or name.startswith(("/", ".")) or ".." in name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def date_order(user: User) -> DateOrder:
    """The person's day/month order of numeric dates: as they set it (``settings dates``), else from their
    platform's locale, else from their time zone's region (``timelang.default_date_order``)."""
    for order in DATE_ORDERS:
        if user.date_order == order:
            return order
    return default_date_order(zone(user.timezone), user.locale)


async def workspace(session: AsyncSession, *, platform: str, external_id: str) -> Workspace:
    values = {"platform": platform, "external_id": external_id}
    found = await session.scalar(select(Workspace).filter_by(**values))
    if found is None:
        await insert_ignore(session, Workspace.__table__, [values], unique=["platform", "external_id"])
        found = await session.scalar(select(Workspace).filter_by(**values))
    assert found is not None
    return found


# Built once, so every command's first query is found in SQLAlchemy's compiled cache. The workspace is only
# what the person is found by: ``lazyload`` overrides the model's joined load, as few commands read it
# (``workspace_of``) and building it for every command cost ~20 µs of the ORM's row processing.
_USER_AT = (
    select(User)
    .join(User.workspace)
    .options(lazyload(User.workspace))
    .where(
        Workspace.platform == bindparam("platform"),
        Workspace.external_id == bindparam("workspace"),
        User.external_id == bindparam("user"),
    )
)


async def user_at(session: AsyncSession, *, address: Address) -> User | None:
    where = {"platform": address.platform, "workspace": address.workspace, "user": address.user}
    return await session.scalar(_USER_AT, where)


async def workspace_of(session: AsyncSession, user: User) -> Workspace:
    """The person's workspace. Read this way, not as ``user.workspace``: a user found by :func:`user_at` has
    it unloaded, and a lazy load cannot run under asyncio (from the identity map once read)."""
    found = await session.get(Workspace, user.workspace_id)
    assert found is not None  # the foreign key cascades: no user outlives their workspace
    return found


async def ensure_user(
    session: AsyncSession,
    *,
    address: Address,
    display_name: str | None = None,
    timezone: str | None = None,
    locale: str | None = None,
    email: str | None = None,
    new: Mapping[str, Any] | None = None,
) -> User:
    """The user at ``address``, created on first contact (with the install's defaults, ``new``);
    platform facts (name, time zone, locale) kept current."""
    user = await user_at(session, address=address)
    if user is None:
        ws = await workspace(session, platform=address.platform, external_id=address.workspace)
        row = {**(new or {}), "workspace_id": ws.id, "external_id": address.user, "timezone": "UTC"}
        await insert_ignore(session, User.__table__, [row], unique=["workspace_id", "external_id"])
        user = await user_at(session, address=address)
        assert user is not None
    if display_name and user.display_name != display_name:
        user.display_name = display_name[:200]
    if timezone and not user.timezone_set_by_user and zone(timezone) and user.timezone != timezone:
        user.timezone = timezone
    locale = valid_locale(locale)
    if locale and user.locale != locale:
        user.locale = locale
    email = valid_email(email)
    if email and user.email != email:
        user.email = email
    return user


_EMAIL = re.compile(r"[^@\s<>\"]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z0-9-]{2,63}")


def valid_email(text: str | None) -> str | None:
    """An email address as a platform profile gives it, lower case; None for anything else."""
    return text.strip().lower() if isinstance(text, str) and _EMAIL.fullmatch(text.strip()) else None


_LOCALE = re.compile(r"[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8}){0,3}")


def valid_locale(text: str | None) -> str | None:
    """A BCP 47-ish locale tag as platforms send it ("en-US", "de_DE", "ja"), or None for anything else."""
    return text if isinstance(text, str) and len(text) <= 35 and _LOCALE.fullmatch(text) else None


def name_key(name: str) -> str:
    """How counterpart names compare: case and spacing ignored (``ACME  corp`` is ``acme corp``)."""
    return " ".join(name.casefold().split())


_COUNTERPART = select(Counterpart).where(
    Counterpart.owner_id == bindparam("owner"), Counterpart.name_key == bindparam("key")
)


async def find_counterpart(session: AsyncSession, *, owner_id: int, name: str) -> Counterpart | None:
    """The person's own counterpart of that name (case and spacing ignored), if they have one."""
    return await session.scalar(_COUNTERPART, {"owner": owner_id, "key": name_key(name)})


async def counterpart(session: AsyncSession, *, owner_id: int, name: str) -> Counterpart:
    """The person's own counterpart of that name, created on first mention."""
    found = await find_counterpart(session, owner_id=owner_id, name=name)
    if found is None:
        row = {"owner_id": owner_id, "name": " ".join(name.split())[:200], "name_key": name_key(name)[:200]}
        await insert_ignore(session, Counterpart.__table__, [row], unique=["owner_id", "name_key"])
        found = await find_counterpart(session, owner_id=owner_id, name=name)
    assert found is not None
    return found


def touch(counterpart: Counterpart, at: datetime) -> None:
    """A contact with the counterpart at ``at``: their last touchpoint moves forward, never back."""
    if counterpart.last_touchpoint_at is None or counterpart.last_touchpoint_at < at:
        counterpart.last_touchpoint_at = at


_HIGHEST = {
    model: select(func.max(model.number)).where(model.owner_id == bindparam("owner"))
    for model in (Negotiation, Commitment)
}


async def next_number(session: AsyncSession, model: type[Negotiation] | type[Commitment], *, owner_id: int) -> int:
    """The owner's next own number (#1, #2, …), so nobody sees anyone else's counts."""
    highest = await scalar(session, _HIGHEST[model], {"owner": owner_id})
    return (highest or 0) + 1


# An open commitment as lists and briefs show it (``texts.commitment_line``): Core rows, named like the
# model's columns, with the name of its negotiation's counterpart. Statements built once.
_OWED = (
    select(
        Commitment.number,
        Commitment.side,
        Commitment.text,
        Commitment.due_on,
        Commitment.due_at,
        Counterpart.name.label("counterpart"),
    )
    .join(Negotiation, Negotiation.id == Commitment.negotiation_id)
    .join(Counterpart, Counterpart.id == Negotiation.counterpart_id)
    .where(Commitment.owner_id == bindparam("owner"), Commitment.status == "open")
)
_OWED_ALL = _OWED.order_by(Commitment.due_on.is_(None), Commitment.due_on, Commitment.due_at, Commitment.number).limit(
    bindparam("limit")
)
_OWED_WITH = _OWED.where(Commitment.counterpart_id == bindparam("counterpart")).order_by(
    Commitment.due_on.is_(None), Commitment.due_on, Commitment.number
)


async def open_commitments(
    session: AsyncSession, *, owner_id: int, counterpart_id: int | None = None, limit: int = 100
) -> Sequence[Row[Any]]:
    """The person's open commitments, the soonest due first: at most ``limit``; or all of those with one
    counterpart (a brief shows them all)."""
    if counterpart_id is None:
        return await rows(session, _OWED_ALL, {"owner": owner_id, "limit": limit})
    return await rows(session, _OWED_WITH, {"owner": owner_id, "counterpart": counterpart_id})
