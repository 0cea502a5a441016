"""The outbox: sent once, retried with backoff (honouring Retry-After), failed after a limit,
reclaimed after a lease when a worker dies, and shared safely by concurrent tickers."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, text

from coaching.models import Counterpart, Negotiation, Nudge, User, Workspace
from coaching.outbox import Dispatcher, Retry, claim_due
from tests.fakes import FakeClock, RecordingSender


async def nudge_row(sessions, kind: str = "followup") -> Nudge:
    async with sessions() as session:
        row = await session.scalar(select(Nudge).where(Nudge.kind == kind))
        assert row is not None
        return row


async def test_failed_send_is_retried_with_backoff_then_sent(coach, dispatcher, clock, sender, sessions, anna):
    await coach.handle_text(anna, "log Initech yesterday 4pm")
    sender.fail(2)
    report = await dispatcher.tick()
    assert (report.retried, report.sent) == (1, 0)
    row = await nudge_row(sessions)
    assert (row.status, row.attempts, row.last_error) == ("pending", 1, "boom")
    assert row.due_at == clock.now() + timedelta(seconds=30)
    clock.advance(seconds=29)
    assert (await dispatcher.tick()).claimed == 0  # not before its retry time
    clock.advance(seconds=1)
    assert (await dispatcher.tick()).retried == 1
    row = await nudge_row(sessions)
    assert row.due_at == clock.now() + timedelta(seconds=60)  # doubled
    clock.advance(seconds=60)
    assert (await dispatcher.tick()).sent == 1
    assert sender.kinds() == ["followup"]
    row = await nudge_row(sessions)
    assert (row.status, row.attempts) == ("sent", 3)


async def test_retry_after_from_the_platform_is_honoured(coach, dispatcher, clock, sender, sessions, anna):
    await coach.handle_text(anna, "log Initech yesterday 4pm")
    sender.fail(1, retry_after=120)
    await dispatcher.tick()
    row = await nudge_row(sessions)
    assert row.due_at == clock.now() + timedelta(seconds=120)
    clock.advance(seconds=119)
    assert (await dispatcher.tick()).claimed == 0
    clock.advance(seconds=1)
    assert (await dispatcher.tick()).sent == 1


async def test_gives_up_after_the_limit_and_counts_it(coach, sessions, clock, anna):
    sender = RecordingSender()
    dispatcher = Dispatcher(sessions, coach, {"console": sender}, clock, retry=Retry(max_attempts=3))
    await coach.handle_text(anna, "log Initech yesterday 4pm")
    sender.fail(10)
    for _ in range(5):
        await dispatcher.tick()
        clock.advance(hours=2)
    row = await nudge_row(sessions)
    assert (row.status, row.attempts) == ("failed", 3)
    assert dispatcher.totals["failed"] == 1 and dispatcher.totals["retried"] == 2
    assert sender.sent == []


async def test_permanent_failure_is_not_retried(coach, dispatcher, sender, sessions, anna):
    await coach.handle_text(anna, "log Initech yesterday 4pm")
    sender.fail(1, permanent=True)
    assert (await dispatcher.tick()).failed == 1
    assert (await nudge_row(sessions)).status == "failed"


async def test_a_platform_without_sender_is_retried_not_lost(coach, sessions, clock, anna):
    dispatcher = Dispatcher(sessions, coach, {}, clock)
    await coach.handle_text(anna, "log Initech yesterday 4pm")
    assert (await dispatcher.tick()).retried == 1
    assert (await nudge_row(sessions)).status == "pending"


async def test_a_claim_whose_worker_died_is_reclaimed_after_the_lease(coach, sessions, clock, sender, anna):
    await coach.handle_text(anna, "log Initech yesterday 4pm")
    async with sessions() as session, session.begin():  # worker A claims, then dies
        claimed = await claim_due(session, now=clock.now(), worker="A", lease=timedelta(minutes=2), limit=10)
    assert len(claimed) == 1
    b = Dispatcher(sessions, coach, {"console": sender}, clock, worker="B", lease=timedelta(minutes=2))
    assert (await b.tick()).claimed == 0  # still leased to A
    clock.advance(minutes=2)
    assert (await b.tick()).sent == 1
    assert sender.kinds() == ["followup"]
    row = await nudge_row(sessions)
    assert (row.status, row.claimed_by, row.attempts) == ("sent", "B", 2)


class StuckSender(RecordingSender):
    """A send that hangs until the test lets it go (a worker stalled past its lease)."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = asyncio.Event()
        self.release = asyncio.Event()

    async def send(self, address, message) -> None:
        self.entered.set()
        await self.release.wait()
        await super().send(address, message)


async def test_a_stalled_worker_cannot_overwrite_the_row_another_worker_took_over(coach, sessions, clock, anna):
    await coach.handle_text(anna, "log Initech yesterday 4pm")
    stuck, fast = StuckSender(), RecordingSender()
    a = Dispatcher(sessions, coach, {"console": stuck}, clock, worker="A", lease=timedelta(minutes=2))
    b = Dispatcher(sessions, coach, {"console": fast}, clock, worker="B", lease=timedelta(minutes=2))
    stalled = asyncio.create_task(a.tick())
    await asyncio.wait_for(stuck.entered.wait(), timeout=10)
    clock.advance(minutes=3)  # A's lease runs out; B takes the row over
    assert (await b.tick()).sent == 1
    stuck.release.set()
    await asyncio.wait_for(stalled, timeout=10)
    row = await nudge_row(sessions)
    assert (row.status, row.claimed_by, row.attempts) == ("sent", "B", 2)


async def seed_due_nudges(sessions, count: int, now: datetime) -> None:
    async with sessions() as session, session.begin():
        workspace = Workspace(platform="console", external_id="load")
        session.add(workspace)
        await session.flush()
        user = User(workspace_id=workspace.id, external_id="rep", timezone="UTC", quiet_start=None, quiet_end=None)
        session.add(user)
        await session.flush()
        counterpart = Counterpart(owner_id=user.id, name="Acme", name_key="acme")
        session.add(counterpart)
        await session.flush()
        negotiations = [
            Negotiation(
                owner_id=user.id,
                number=i + 1,
                counterpart_id=counterpart.id,
                starts_at=now - timedelta(hours=2),
                duration_minutes=30,
                channel="video",
                status="scheduled",
            )
            for i in range(count)
        ]
        session.add_all(negotiations)
        await session.flush()
        session.add_all(
            Nudge(
                key=f"followup:{n.id}",
                user_id=user.id,
                kind="followup",
                negotiation_id=n.id,
                due_at=now,
                exempt_quiet=True,
            )
            for n in negotiations
        )


async def test_two_concurrent_tickers_send_each_nudge_exactly_once(coach, sessions):
    clock = FakeClock(datetime(2026, 11, 25, 12, 0, tzinfo=UTC))
    await seed_due_nudges(sessions, 1000, clock.now())
    sender = RecordingSender()
    one = Dispatcher(sessions, coach, {"console": sender}, clock, worker="one", batch=50)
    two = Dispatcher(sessions, coach, {"console": sender}, clock, worker="two", batch=50)
    reports = await asyncio.gather(one.tick(), two.tick())
    refs = Counter(message.ref for _, message in sender.sent)
    assert len(refs) == 1000 and set(refs.values()) == {1}
    assert sum(r.sent for r in reports) == 1000
    assert min(r.sent for r in reports) > 0  # both really worked, side by side
    async with sessions() as session:
        statuses = Counter((await session.scalars(select(Nudge.status))).all())
    assert statuses == {"sent": 1000}


class GatedSender(RecordingSender):
    """Accepts sends one gate at a time, and records how many were in flight at once."""

    def __init__(self) -> None:
        super().__init__()
        self.in_flight = 0
        self.most_in_flight = 0
        self.gate = asyncio.Semaphore(0)
        self.waiting = 0

    async def send(self, address, message) -> None:
        self.in_flight += 1
        self.waiting += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await self.gate.acquire()
            await super().send(address, message)
        finally:
            self.in_flight -= 1

    async def until_waiting(self, count: int) -> None:
        while self.waiting < count:
            await asyncio.sleep(0.001)


async def statuses(sessions) -> Counter:
    async with sessions() as session:
        return Counter((await session.execute(select(Nudge.status, Nudge.claimed_by))).all())


async def test_each_nudge_is_marked_sent_as_soon_as_it_was_accepted_and_sends_are_bounded(coach, sessions):
    clock = FakeClock(datetime(2026, 11, 25, 12, 0, tzinfo=UTC))
    await seed_due_nudges(sessions, 30, clock.now())
    sender = GatedSender()
    dispatcher = Dispatcher(sessions, coach, {"console": sender}, clock, worker="w", concurrency=4)
    ticking = asyncio.create_task(dispatcher.tick())
    await sender.until_waiting(4)
    for _ in range(5):  # five accepted, one after another: each is marked while the rest of the batch waits
        sender.gate.release()
    await sender.until_waiting(9)
    for _ in range(100):
        if (await statuses(sessions))[("sent", "w")] == 5:
            break
        await asyncio.sleep(0.01)
    assert (await statuses(sessions))[("sent", "w")] == 5  # a crash now could repeat only the 4 in flight
    for _ in range(25):
        sender.gate.release()
    report = await asyncio.wait_for(ticking, 10)
    assert report.sent == 30 and sender.most_in_flight == 4


async def test_a_clean_stop_releases_the_claim_at_once_but_not_what_is_in_flight(coach, sessions):
    clock = FakeClock(datetime(2026, 11, 25, 12, 0, tzinfo=UTC))
    await seed_due_nudges(sessions, 20, clock.now())
    sender = GatedSender()
    stopping = Dispatcher(sessions, coach, {"console": sender}, clock, worker="old", concurrency=3)
    ticking = asyncio.create_task(stopping.tick())
    await sender.until_waiting(3)
    await stopping.close(grace=0.05)  # the three sends hang: they keep their claim, the other 17 go back
    assert await statuses(sessions) == {("pending", "old"): 3, ("pending", None): 17}
    fresh = RecordingSender()
    other = Dispatcher(sessions, coach, {"console": fresh}, clock, worker="new")
    assert (await other.tick()).sent == 17  # at once, not after the lease
    for _ in range(3):
        sender.gate.release()
    await asyncio.wait_for(ticking, 10)  # the hung sends finish and are still recorded
    assert await statuses(sessions) == {("sent", "old"): 3, ("sent", "new"): 17}
    async with sessions() as session:
        attempts = Counter((await session.scalars(select(Nudge.attempts))).all())
    assert attempts == {1: 20}  # a released claim was not an attempt


async def test_a_tick_gives_back_every_connection_it_took_as_it_was(coach, dispatcher, sessions, anna):
    """The marks use a connection of their own while a tick runs (autocommit, no WAL wait on PostgreSQL):
    other work must not get it with those settings."""
    await coach.handle_text(anna, "log Initech yesterday 4pm")
    assert (await dispatcher.tick()).sent == 1
    engine = sessions.kw["bind"]
    assert engine.pool.checkedout() == 0
    if engine.dialect.name == "postgresql":
        pooled = [await engine.connect() for _ in range(engine.pool.checkedin())]
        try:
            settings = [await c.scalar(text("SHOW synchronous_commit")) for c in pooled]
            levels = [await c.get_isolation_level() for c in pooled]
        finally:
            for connection in pooled:
                await connection.close()
        assert settings and set(settings) == {"on"} and "AUTOCOMMIT" not in levels
