"""The scheduler's tick: claim due nudges, send each through its platform's sender, record the result.

The database is the schedule. A claim moves a row's ``due_at`` to the end of a lease and stamps it
with this worker's id in one UPDATE (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so replicas claim
disjoint rows; SQLite serialises writers). A worker that dies leaves the lease to run out, and the row
is claimed again. Results are only written by the worker that still holds the claim.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from coaching.engine import Coach, Defer, Skip
from coaching.models import Nudge, User
from coaching.ports import Address, Clock, DeliveryError, Sender

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Retry:
    max_attempts: int = 8
    first_delay: timedelta = timedelta(seconds=30)
    max_delay: timedelta = timedelta(hours=1)

    def delay(self, attempts: int, retry_after: float | None) -> timedelta:
        backoff = min(self.first_delay * (2 ** max(attempts - 1, 0)), self.max_delay)
        return max(backoff, timedelta(seconds=retry_after or 0))


@dataclass
class TickReport:
    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    skipped: int = 0
    deferred: int = 0


async def claim_due(session: AsyncSession, *, now: datetime, worker: str, lease: timedelta, limit: int) -> list[int]:
    """Claim up to ``limit`` due rows for ``worker``; returns their ids. Costs what is due, not what is stored."""
    due = (
        select(Nudge.id)
        .where(Nudge.status == "pending", Nudge.due_at <= now)
        .order_by(Nudge.due_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    claimed = await session.scalars(
        update(Nudge)
        .where(Nudge.id.in_(due.scalar_subquery()))
        .values(due_at=now + lease, claimed_by=worker, attempts=Nudge.attempts + 1)
        .returning(Nudge.id)
        .execution_options(synchronize_session=False)
    )
    return list(claimed)


class Dispatcher:
    """One tick = claim a batch of due nudges, compose, send and record each. Safe to run in several
    processes at once against one PostgreSQL database."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        coach: Coach,
        senders: Mapping[str, Sender],
        clock: Clock,
        *,
        worker: str | None = None,
        batch: int = 200,
        concurrency: int = 8,
        lease: timedelta = timedelta(minutes=2),
        retry: Retry | None = None,
    ) -> None:
        self.sessions = sessions
        self.coach = coach
        self.senders = senders
        self.clock = clock
        self.worker = worker or uuid.uuid4().hex[:16]
        self.batch = batch
        self.lease = lease
        self.retry = retry or Retry()
        self._limit = asyncio.Semaphore(concurrency)
        self.totals: Counter[str] = Counter()  # for /metrics

    async def tick(self) -> TickReport:
        """Send what is due now. Loops over batches until nothing due is left."""
        report = TickReport()
        while True:
            async with self.sessions() as session, session.begin():
                ids = await claim_due(
                    session, now=self.clock.now(), worker=self.worker, lease=self.lease, limit=self.batch
                )
            if not ids:
                break
            report.claimed += len(ids)
            outcomes = await asyncio.gather(*(self._deliver(nudge_id) for nudge_id in ids))
            for outcome in outcomes:
                setattr(report, outcome, getattr(report, outcome) + 1)
                self.totals[outcome] += 1
            if len(ids) < self.batch:
                break
        return report

    async def _deliver(self, nudge_id: int) -> str:
        async with self._limit:
            try:
                return await self._deliver_one(nudge_id)
            except Exception as problem:  # never let one nudge stop the tick
                log.exception("nudge %s: unexpected error", nudge_id)
                return await self._failed_attempt(nudge_id, repr(problem)[:500], None, permanent=False)

    async def _deliver_one(self, nudge_id: int) -> str:
        async with self.sessions() as session:
            nudge = await session.get(Nudge, nudge_id)
            if nudge is None or nudge.claimed_by != self.worker or nudge.status != "pending":
                return "skipped"
            user = await session.get(User, nudge.user_id)
            assert user is not None  # nudges are deleted with their user
            composed = await self.coach.compose(session, nudge, user)
            address = Address(
                platform=user.workspace.platform,
                workspace=user.workspace.external_id,
                user=user.external_id,
                channel=user.dm_channel,
            )
            attempts = nudge.attempts
        if isinstance(composed, Skip):
            await self._finish(nudge_id, status="skipped", last_error=composed.reason)
            return "skipped"
        if isinstance(composed, Defer):
            # Not an attempt: hold it until quiet hours end.
            await self._finish(
                nudge_id, status="pending", due_at=composed.until, attempts=attempts - 1, claimed_by=None
            )
            return "deferred"
        sender = self.senders.get(address.platform)
        if sender is None:
            return await self._failed_attempt(nudge_id, f"no sender for {address.platform}", None, permanent=False)
        try:
            await sender.send(address, composed)
        except DeliveryError as problem:
            return await self._failed_attempt(nudge_id, str(problem), problem.retry_after, permanent=problem.permanent)
        await self._finish(nudge_id, status="sent", sent_at=self.clock.now(), last_error=None)
        return "sent"

    async def _failed_attempt(self, nudge_id: int, reason: str, retry_after: float | None, *, permanent: bool) -> str:
        async with self.sessions() as session:
            attempts = await session.scalar(select(Nudge.attempts).where(Nudge.id == nudge_id)) or 0
        if permanent or attempts >= self.retry.max_attempts:
            log.error("nudge %s failed after %s attempts: %s", nudge_id, attempts, reason)
            await self._finish(nudge_id, status="failed", last_error=reason)
            return "failed"
        delay = self.retry.delay(attempts, retry_after)
        log.warning("nudge %s attempt %s failed (%s); retrying in %ss", nudge_id, attempts, reason, delay.seconds)
        await self._finish(
            nudge_id, status="pending", due_at=self.clock.now() + delay, last_error=reason, claimed_by=None
        )
        return "retried"

    async def _finish(self, nudge_id: int, **values: object) -> None:
        """Write a result, but only while this worker still holds the claim."""
        async with self.sessions() as session, session.begin():
            await session.execute(
                update(Nudge)
                .where(Nudge.id == nudge_id, Nudge.claimed_by == self.worker)
                .values(**values)
                .execution_options(synchronize_session=False)
            )
