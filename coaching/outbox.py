"""The scheduler's tick: claim due nudges, send each through its platform's sender, record the result.

The database is the schedule. A claim moves a row's ``due_at`` to the end of a lease and stamps it
with this worker's id (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so replicas claim disjoint rows;
SQLite serialises writers). Results are only written by the worker that still holds the claim.

Sent once, in practice: at most ``concurrency`` sends run at a time, and a send's slot is only given
back once its row is marked sent (marks of sends that finish together share one UPDATE; on PostgreSQL
on a connection the tick keeps, in autocommit: one round trip per mark).
So a process killed at any instant repeats at most ``concurrency`` nudges, the ones in flight or
awaiting their mark; the rest of its claim is sent by others when the lease runs out. A process that
stops cleanly (:meth:`Dispatcher.close`) finishes its sends and releases the rest of its claim at once.
"""

from __future__ import annotations

import asyncio
import logging
import time as monotonic
import uuid
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Integer, any_, bindparam, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from coaching import nudges as n
from coaching import transient
from coaching.messages import Message, Section
from coaching.metrics import FAILURES, NUDGE_LAG_SECONDS, NUDGES, RETRIES, TICK_SECONDS
from coaching.models import Commitment, Negotiation, Nudge, User
from coaching.nudges import STAY_IN_TOUCH
from coaching.ports import Address, Clock, DeliveryError, Sender
from coaching.room import Coaching, Composed, Defer, Skip

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
    merged: int = 0


async def claim_due(
    session: AsyncSession, *, now: datetime, worker: str, lease: timedelta, limit: int
) -> dict[int, datetime]:
    """Claim up to ``limit`` due rows for ``worker``: their ids and the times they were due. Costs what is
    due, not what is stored."""
    for _ in range(3):
        rows = await session.execute(
            select(Nudge.id, Nudge.due_at)
            .where(Nudge.status == "pending", Nudge.due_at <= now)
            .order_by(Nudge.due_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        due = {row_id: due_at for row_id, due_at in rows}
        if not due:
            return {}
        # The UPDATE checks again: on SQLite another process may have claimed the rows since the SELECT
        # (then this transaction holds the write lock, and the next SELECT sees what is left).
        claimed = list(
            await session.scalars(
                update(Nudge)
                .where(Nudge.id.in_(due), Nudge.status == "pending", Nudge.due_at <= now)
                .values(due_at=now + lease, claimed_by=worker, attempts=Nudge.attempts + 1)
                .returning(Nudge.id)
                .execution_options(synchronize_session=False)
            )
        )
        if claimed:
            return {row_id: due[row_id] for row_id in claimed}
    return {}


class Dispatcher:
    """One tick = claim batches of due nudges, compose, send and record each. Safe to run in several
    processes at once against one PostgreSQL database."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        coach: Coaching,
        senders: Mapping[str, Sender],
        clock: Clock,
        *,
        worker: str | None = None,
        batch: int = 200,
        concurrency: int = 10,
        lease: timedelta = timedelta(minutes=2),
        retry: Retry | None = None,
    ) -> None:
        """``concurrency``: sends in flight at once (and so the most a crash can repeat); ``lease``: how
        long a claim lasts when its process dies (DEALCOACH_LEASE_SECONDS)."""
        self.sessions = sessions
        self._engine: AsyncEngine = sessions.kw["bind"]
        self.coach = coach
        self.senders = senders
        self.clock = clock
        self.worker = worker or uuid.uuid4().hex[:16]
        self.batch = batch
        self.concurrency = concurrency
        self.lease = lease
        self.retry = retry or Retry()
        self._slots = asyncio.Semaphore(concurrency)
        self._marks: list[tuple[list[_Result], asyncio.Future[None]]] = []
        self._marking: asyncio.Task[None] | None = None
        self._marker: AsyncConnection | None = None  # PostgreSQL: the marks' connection while ticks run
        self._held: set[int] = set()  # rows being sent or awaiting their mark: never released, whatever happens
        self._ticks = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._closing = False
        self.totals: Counter[str] = Counter()  # this dispatcher's outcomes (tests); /metrics has the process's

    async def tick(self) -> TickReport:
        """Send what is due now, batch by batch, until nothing due is left (or :meth:`close` was called).
        The next batch is claimed and composed while the one before it is being sent."""
        report = TickReport()
        started = monotonic.perf_counter()
        self._ticks += 1
        self._idle.clear()
        ahead: asyncio.Future[tuple[dict[int, datetime], list[_Job]]] | None = asyncio.ensure_future(self._prepare())
        try:
            while ahead is not None:
                claimed, jobs = await ahead
                ahead = None
                if not claimed:
                    break
                report.claimed += len(claimed)
                if len(claimed) == self.batch and not self._closing:
                    ahead = asyncio.ensure_future(self._prepare())
                # the budget counts what went out before: checked now, after the batch before this one
                jobs = await self._within_daily_budget(jobs)
                outcomes = await asyncio.gather(*(self._deliver(job, claimed) for job in jobs))
                for outcome in (o for some in outcomes for o in some):
                    setattr(report, outcome, getattr(report, outcome) + 1)
                    self.totals[outcome] += 1
        except BaseException as problem:
            claimed_ahead = ahead is not None and ahead.done() and not ahead.cancelled() and not ahead.exception()
            if ahead is not None:
                ahead.cancel()
                await asyncio.gather(ahead, return_exceptions=True)
            if report.claimed or claimed_ahead:  # what this tick claimed and did not send: give it back
                await self._release()
            if not isinstance(problem, Exception) or not transient.is_transient(problem):
                raise
            transient.noted(problem, "nudge tick")  # the next tick tries again
        finally:
            self._ticks -= 1
            if not self._ticks:
                if self._marking is not None and not self._marking.done():
                    await asyncio.gather(asyncio.shield(self._marking), return_exceptions=True)
                await self._put_back_marker()
                self._idle.set()
            TICK_SECONDS.observe(monotonic.perf_counter() - started)
        return report

    async def _prepare(self) -> tuple[dict[int, datetime], list[_Job]]:
        """Claim the next batch and compose it."""
        if self._closing:
            return {}, []
        async with self.sessions() as session, session.begin():
            await self._without_waiting_for_disk(session)
            claimed = await claim_due(
                session, now=self.clock.now(), worker=self.worker, lease=self.lease, limit=self.batch
            )
        return claimed, (await self._compose(list(claimed)) if claimed else [])

    async def close(self, grace: float = 0.0) -> None:
        """Stop claiming and sending. Sends in flight get ``grace`` seconds to finish and be marked; then
        every row this worker still holds is released, so another process (or the next start) sends it
        at once instead of after the lease."""
        self._closing = True
        try:
            if not self._idle.is_set():
                await asyncio.wait_for(self._idle.wait(), grace)
        except TimeoutError:
            log.warning("nudges: %s send(s) still in flight after %ss; they keep their claim", len(self._held), grace)
        if self._marking is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._marking), max(grace, 0.5))
            except TimeoutError:
                log.warning("nudges: could not record %s result(s) before stopping", len(self._marks))
        if self._marking is None or self._marking.done():  # else it is still in use; the exit closes it
            await self._put_back_marker()
        await self._release()

    async def _release(self) -> None:
        """Give back what this worker claimed and did not send (a claim is not an attempt)."""
        mine = [Nudge.claimed_by == self.worker, Nudge.status == "pending"]
        if self._held:
            mine.append(Nudge.id.not_in(list(self._held)))
        try:
            async with self.sessions() as session, session.begin():
                released = await session.execute(
                    update(Nudge)
                    .where(*mine)
                    .values(claimed_by=None, due_at=self.clock.now(), attempts=Nudge.attempts - 1)
                    .execution_options(synchronize_session=False)
                )
        except Exception as problem:  # noqa: BLE001 - the lease runs out anyway
            log.warning("nudges: could not release the claims of %s: %s", self.worker, problem)
            return
        if released.rowcount:  # type: ignore[attr-defined]
            log.info("nudges: released %s claimed nudge(s) of %s", released.rowcount, self.worker)  # type: ignore[attr-defined]

    async def _compose(self, ids: list[int]) -> list[_Job]:
        """Load the batch with a few queries and write each message from the latest state."""
        jobs: list[_Job] = []
        async with self.sessions() as session, session.begin():  # composing may enqueue (next week's digest)
            nudges = (await session.scalars(select(Nudge).where(Nudge.id.in_(ids)))).all()
            users = await session.scalars(select(User).where(User.id.in_({x.user_id for x in nudges})))
            by_id = {user.id: user for user in users}
            # Warm the identity map so composing each nudge costs no further query (it holds objects weakly:
            # ``warm`` keeps them there until the batch is composed).
            negotiation_ids = {x.negotiation_id for x in nudges if x.negotiation_id}
            commitment_ids = {x.commitment_id for x in nudges if x.commitment_id}
            warm: list[object] = []
            if negotiation_ids:
                warm += (await session.scalars(select(Negotiation).where(Negotiation.id.in_(negotiation_ids)))).all()
            if commitment_ids:
                warm += (await session.scalars(select(Commitment).where(Commitment.id.in_(commitment_ids)))).all()
            for nudge in nudges:
                if nudge.claimed_by != self.worker or nudge.status != "pending":
                    continue  # reclaimed by another worker meanwhile
                user = by_id[nudge.user_id]
                address = Address(
                    user.workspace.platform, user.workspace.external_id, user.external_id, user.dm_channel
                )
                try:
                    composed: Composed | Exception = await self.coach.compose(session, nudge, user)
                except Exception as problem:  # one broken nudge must not stop the batch
                    log.exception("nudge %s: could not compose", nudge.id)
                    composed = problem
                budgeted = n.budgeted(nudge.kind, nudge.exempt_quiet)
                day = n.budget_day(user, nudge.due_at)
                jobs.append(_Job(nudge.id, nudge.attempts, address, composed, user.id, budgeted, day))
        return jobs

    async def _within_daily_budget(self, jobs: list[_Job]) -> list[_Job]:
        """At most ``daily_nudges`` coaching nudges per rep per local day: past that they merge into one
        message, and once the day's budget is spent they wait for the next morning. Pre-call reminders and
        replies to what the rep just did don't count."""
        budget = self.coach.defaults.daily_nudges
        counted = [job for job in jobs if job.budgeted and isinstance(job.composed, Message)]
        if not counted:
            return jobs
        now = self.clock.now()
        async with self.sessions() as session:
            sent = await n.budgeted_sent(session, {job.user_id for job in counted}, since=now - timedelta(days=1))
        by_user: dict[int, list[_Job]] = {}
        for job in counted:
            by_user.setdefault(job.user_id, []).append(job)
        replaced: dict[int, _Job | None] = {}
        for user_id, mine in by_user.items():
            day = mine[0].day
            allowance = budget - day.spent(at for uid, at in sent if uid == user_id)
            if len(mine) <= allowance:
                continue
            if allowance <= 0:
                for job in mine:
                    replaced[job.nudge_id] = replace(job, composed=Defer(day.morning.astimezone(now.tzinfo)))
                continue
            # Batches of their own (the weekly stay-in-touch list) go first and whole; the rest fold.
            mine.sort(key=lambda job: job.composed.kind not in SELF_BATCHED_KINDS)  # type: ignore[union-attr]
            rest = mine[allowance - 1 :]  # the first allowance - 1 go out as they are
            batch = merge_messages([job.composed for job in rest if isinstance(job.composed, Message)])
            replaced[rest[0].nudge_id] = replace(rest[0], composed=batch, merged=tuple(rest[1:]))
            for job in rest[1:]:
                replaced[job.nudge_id] = None
        out = []
        for job in jobs:
            if job.nudge_id not in replaced:
                out.append(job)
            elif replaced[job.nudge_id] is not None:
                out.append(replaced[job.nudge_id])  # type: ignore[arg-type]
        return out

    async def _deliver(self, job: _Job, due: Mapping[int, datetime]) -> list[str]:
        """Send one job in a slot, and keep the slot until its result is committed."""
        async with self._slots:
            if self._closing:
                return []  # not started: close() releases the row
            held = {job.nudge_id, *(other.nudge_id for other in job.merged)}
            self._held.update(held)
            outcome, values = await self._send(job)
            results = _with_merged(job, (outcome, values))
            await self._mark(results)
            self._held.difference_update(held)  # only now: a row whose mark failed is never released
        if outcome == "sent":
            NUDGE_LAG_SECONDS.labels(job.address.platform).observe(
                max((values["sent_at"] - due[job.nudge_id]).total_seconds(), 0.0)  # type: ignore[operator]
            )
        for result, _ in results:
            NUDGES.labels(result).inc()
            if result in ("retried", "failed"):
                (RETRIES if result == "retried" else FAILURES).labels("nudge").inc()
        return [result for result, _ in results]

    async def _send(self, job: _Job) -> _Result:
        """Deliver one composed nudge; returns the outcome and the row's new values."""
        composed = job.composed
        if isinstance(composed, Skip):
            return "skipped", {"id": job.nudge_id, "status": "skipped", "last_error": composed.reason}
        if isinstance(composed, Defer):  # not an attempt: hold it until quiet hours end
            values = {"status": "pending", "due_at": composed.until, "attempts": job.attempts - 1, "claimed_by": None}
            return "deferred", {"id": job.nudge_id, **values}
        if isinstance(composed, Exception):
            return self._failed(job, repr(composed)[:500], None, permanent=False)
        sender = self.senders.get(job.address.platform)
        if sender is None:
            return self._failed(job, f"no sender for {job.address.platform}", None, permanent=False)
        try:
            await sender.send(job.address, composed)
        except DeliveryError as problem:
            if problem.waiting:  # not an attempt: kept until the person can be reached
                due = self.clock.now() + timedelta(seconds=problem.retry_after or 3600)
                values = {"status": "pending", "due_at": due, "attempts": job.attempts - 1, "claimed_by": None}
                return "deferred", {"id": job.nudge_id, **values, "last_error": str(problem)[:500]}
            return self._failed(job, str(problem), problem.retry_after, permanent=problem.permanent)
        except Exception as problem:
            log.exception("nudge %s: sender raised", job.nudge_id)
            return self._failed(job, repr(problem)[:500], None, permanent=False)
        return "sent", {"id": job.nudge_id, "status": "sent", "sent_at": self.clock.now(), "last_error": None}

    def _failed(
        self, job: _Job, reason: str, retry_after: float | None, *, permanent: bool
    ) -> tuple[str, dict[str, object]]:
        if permanent or job.attempts >= self.retry.max_attempts:
            log.error("nudge %s failed after %s attempts: %s", job.nudge_id, job.attempts, reason)
            return "failed", {"id": job.nudge_id, "status": "failed", "last_error": reason}
        delay = self.retry.delay(job.attempts, retry_after)
        log.warning("nudge %s attempt %s failed (%s); retry in %ss", job.nudge_id, job.attempts, reason, delay.seconds)
        values = {"status": "pending", "due_at": self.clock.now() + delay, "last_error": reason, "claimed_by": None}
        return "retried", {"id": job.nudge_id, **values}

    async def _mark(self, results: list[_Result]) -> None:
        """Commit ``results``; sends that finish while a commit is under way share the next one."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._marks.append((results, done))
        if self._marking is None or self._marking.done():
            self._marking = asyncio.create_task(self._write_marks(), name=f"nudge-marks:{self.worker}")
        await asyncio.shield(done)

    async def _write_marks(self) -> None:
        pause = 0.05
        while self._marks:
            marks, self._marks = self._marks, []
            try:
                await self._record([result for results, _ in marks for result in results])
            except Exception as problem:
                if transient.is_transient(problem):  # keep them (and their slots) until the database is back
                    transient.noted(problem, "nudge results")
                    self._marks[:0] = marks
                    await asyncio.sleep(pause)
                    pause = min(pause * 2, 5.0)
                    continue
                for _, done in marks:
                    done.set_exception(problem)
                continue
            pause = 0.05
            for _, done in marks:
                done.set_result(None)

    async def _without_waiting_for_disk(self, connection: AsyncSession | AsyncConnection) -> None:
        """Claims and marks commit without waiting for PostgreSQL's WAL flush (``synchronous_commit`` off
        for this transaction only): they are visible to every replica at once, and a crash of the database
        itself can only lose the last few hundred milliseconds of them — nudges sent again, never nudges
        lost. Each send's slot waits for its mark, so an fsync per mark would set the pace of sending."""
        if self._engine.dialect.name == "postgresql":
            await connection.execute(text("SET LOCAL synchronous_commit TO OFF"))

    async def _record(self, results: list[_Result]) -> None:
        """Write results (Core statements: this runs once every few sends), but only for rows this worker
        still holds. Each statement stands alone: every row's result is its own, and a result not
        written is a nudge sent again, within the bound of the sends in flight."""
        nudges = Nudge.__table__
        mine = nudges.c.claimed_by == self.worker
        sent = [values["id"] for outcome, values in results if outcome == "sent"]
        statements: list[tuple[Any, dict[str, Any] | None]] = []
        if sent and self._engine.dialect.name == "postgresql":
            statements.append((MARK_SENT, {"ids": sent, "worker": self.worker, "sent_at": self.clock.now()}))
        elif sent:
            statements.append(
                (
                    update(nudges)
                    .where(nudges.c.id.in_(sent), mine)
                    .values(status="sent", sent_at=self.clock.now(), last_error=None),
                    None,
                )
            )
        for outcome, values in results:
            if outcome != "sent":
                changes = {name: value for name, value in values.items() if name != "id"}
                statements.append((update(nudges).where(nudges.c.id == values["id"], mine).values(**changes), None))
        if self._engine.dialect.name != "postgresql":
            async with self._engine.begin() as connection:
                for statement, parameters in statements:
                    await connection.execute(statement, parameters)
            return
        try:
            connection = await self._marks_connection()
            for statement, parameters in statements:
                await connection.execute(statement, parameters)
        except BaseException:
            await self._put_back_marker(broken=True)
            raise

    async def _marks_connection(self) -> AsyncConnection:
        """The connection the marks use while ticks run (PostgreSQL): in autocommit, without waiting for
        the WAL flush (see :meth:`_without_waiting_for_disk`), so a mark is one round trip. A transaction
        from the pool for each cost six: a ping (itself a transaction), BEGIN, SET LOCAL, the UPDATE,
        COMMIT — a quarter of a replica's CPU per nudge at a thousand nudges a second."""
        if self._marker is None:
            connection = await self._engine.connect()
            try:
                await connection.execution_options(isolation_level="AUTOCOMMIT")
                await connection.exec_driver_sql("SET synchronous_commit TO OFF")
            except BaseException:
                await _discard(connection)
                raise
            self._marker = connection
        return self._marker

    async def _put_back_marker(self, *, broken: bool = False) -> None:
        """Return the marks' connection to the pool as it came (a broken one is thrown away)."""
        connection, self._marker = self._marker, None
        if connection is None:
            return
        if not broken:
            try:
                await connection.exec_driver_sql("RESET synchronous_commit")
                await connection.close()
                return
            except Exception:  # noqa: BLE001 - then it is thrown away
                pass
        await _discard(connection)


async def _discard(connection: AsyncConnection) -> None:
    """Close a connection without returning it to the pool (it may be broken, or carry our settings)."""
    try:
        await connection.invalidate()
        await connection.close()
    except Exception:  # noqa: BLE001 - it is being thrown away
        log.debug("nudges: closing the marks' connection failed", exc_info=True)


_Result = tuple[str, dict[str, object]]

_NUDGES = Nudge.__table__
# The mark of most sends (PostgreSQL): one statement whatever the number of rows, so it is compiled once
# (an IN list is rendered anew for each length of it).
MARK_SENT = (
    update(_NUDGES)
    .where(_NUDGES.c.id == any_(bindparam("ids", type_=ARRAY(Integer))), _NUDGES.c.claimed_by == bindparam("worker"))
    .values(status="sent", sent_at=bindparam("sent_at"), last_error=None)
)


@dataclass(frozen=True)
class _Job:
    nudge_id: int
    attempts: int
    address: Address
    composed: Composed | Exception
    user_id: int
    budgeted: bool
    day: n.BudgetDay  # the rep's local day it counts against, and the morning where over-budget nudges wait
    merged: tuple[_Job, ...] = ()  # nudges folded into this job's message


UNBUDGETED_KINDS = n.UNBUDGETED_KINDS  # the daily budget's rule lives in coaching.nudges
SELF_BATCHED_KINDS = (STAY_IN_TOUCH,)


def _with_merged(job: _Job, result: tuple[str, dict[str, object]]) -> list[tuple[str, dict[str, object]]]:
    """The rows folded into a batched message share its fate; sent ones are marked "merged"."""
    outcome, values = result
    out = [result]
    for other in job.merged:
        copied = {**values, "id": other.nudge_id}
        if outcome == "sent":
            copied = {"id": other.nudge_id, "status": "merged", "sent_at": values["sent_at"], "last_error": None}
            out.append(("merged", copied))
        else:
            out.append((outcome, copied))
    return out


def merge_messages(messages: list[Message]) -> Message:
    """Several nudges as one message: each one's headline, and their buttons (within reason)."""
    buttons = tuple(button for message in messages for button in message.buttons)[:15]
    return Message(
        text=f"{len(messages)} more things for today",
        sections=(Section(lines=tuple(f"• {message.text}" for message in messages)),),
        buttons=buttons,
        kind="batch",
    )
