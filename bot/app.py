"""Wiring: one place that builds the database, the coach, the dispatcher and the platform senders."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from datetime import timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from adapters.calendar.feed import FeedFetcher
from bot import keys
from bot.config import Settings
from bot.database import make_engine, make_sessions, upgrade
from coaching.engine import Coach
from coaching.outbox import Dispatcher
from coaching.ports import Clock, Sender, SystemClock
from coaching.room import CalendarSetup
from coaching.sealing import Cipher

log = logging.getLogger(__name__)

CALENDAR_POLL_SECONDS = 30.0  # how often due feeds are looked for; each feed is read every DEALCOACH_CALENDAR_MINUTES


class Shutdown:
    """SIGTERM (or SIGINT) to exit: whether it began, and how much of DEALCOACH_SHUTDOWN_SECONDS is left."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._began: float | None = None

    @property
    def started(self) -> bool:
        return self._began is not None

    def begin(self) -> None:
        if self._began is None:
            self._began = time.monotonic()

    RESERVE = 1.0  # of the grace period, kept for releasing what is left and closing the database

    def remaining(self) -> float:
        """Seconds left to finish in-flight work (the reserve not counted); 0 when no graceful shutdown is
        under way (tests, errors)."""
        if self._began is None:
            return 0.0
        return max(self.seconds - self.RESERVE - (time.monotonic() - self._began), 0.0)


@dataclass
class Runtime:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    clock: Clock
    coach: Coach
    dispatcher: Dispatcher
    senders: dict[str, Sender] = field(default_factory=dict)
    scheduler: AsyncIOScheduler | None = None
    shutdown: Shutdown = field(default_factory=lambda: Shutdown(0.0))
    feeds: FeedFetcher | None = None
    _stopping: asyncio.Task[None] | None = field(default=None, init=False, repr=False)

    def start_scheduler(self) -> None:
        """Tick every DEALCOACH_TICK_SECONDS. APScheduler only ticks; the nudges live in the database."""
        scheduler = AsyncIOScheduler(timezone="UTC")
        scheduler.add_job(
            self.dispatcher.tick,
            "interval",
            seconds=self.settings.tick_seconds,
            id="nudge-tick",
            max_instances=1,
            coalesce=True,
            misfire_grace_time=None,
        )
        scheduler.add_job(
            self.poll_calendars,
            "interval",
            seconds=CALENDAR_POLL_SECONDS,
            id="calendar-poll",
            max_instances=1,
            coalesce=True,
            misfire_grace_time=None,
        )
        scheduler.start()
        self.scheduler = scheduler
        log.info("scheduler ticking every %ss", self.settings.tick_seconds)

    async def poll_calendars(self) -> None:
        """Sync the calendar feeds that are due (each has its own moment in DEALCOACH_CALENDAR_MINUTES)."""
        if self.shutdown.started:
            return
        try:
            await self.coach.sync_calendars(worker=self.dispatcher.worker, stopping=lambda: self.shutdown.started)
        except Exception:  # the next poll tries again; a claimed feed returns when its lease ends
            log.exception("calendar poll failed")

    def begin_shutdown(self) -> None:
        """Stop claiming nudges now; the sends in flight finish within what is left of the grace period."""
        self.shutdown.begin()
        self._stop_sending()

    def _stop_sending(self) -> asyncio.Task[None]:
        if self._stopping is None:
            self._stopping = asyncio.create_task(self._finish_sending())
        return self._stopping

    async def _finish_sending(self) -> None:
        scheduler, self.scheduler = self.scheduler, None
        if scheduler is not None and scheduler.running:
            scheduler.pause()  # no new ticks; shutting it down now would cancel the one under way
        try:
            await self.dispatcher.close(self.shutdown.remaining())
        finally:
            if scheduler is not None and scheduler.running:
                scheduler.shutdown(wait=False)

    async def close(self) -> None:
        """Finish (or release) every nudge this process claimed, then close the database."""
        try:
            await self._stop_sending()
        finally:
            if self.feeds is not None:
                await self.feeds.close()
            await self.engine.dispose()


async def build_runtime(settings: Settings, *, clock: Clock | None = None, migrate: bool = True) -> Runtime:
    """Open the database (upgrading its schema), and build the coach and the dispatcher.

    Platform senders are added by whoever mounts the adapters (``bot.web``, the console)."""
    engine = make_engine(settings.database_url)
    if migrate:
        await upgrade(engine)
    sessions = make_sessions(engine)
    clock = clock or SystemClock()
    feeds = FeedFetcher(allow_private=settings.calendar_allow_private)
    keys.warn_if_missing(settings)
    calendar = CalendarSetup(
        feeds=feeds,
        cipher=Cipher(keys.secret_key(settings)),
        internal_domains=settings.internal_domains,
        interval=timedelta(minutes=settings.calendar_minutes),
        lease=timedelta(seconds=max(settings.operations.lease_seconds, 30.0)),
        allow_private=settings.calendar_allow_private,
    )
    coach = Coach(sessions, clock, settings.coaching, admins=settings.admins, calendar=calendar)
    senders: dict[str, Sender] = {}
    operations = settings.operations
    dispatcher = Dispatcher(
        sessions,
        coach,
        senders,
        clock,
        concurrency=operations.send_concurrency,
        lease=timedelta(seconds=operations.lease_seconds),
    )
    runtime = Runtime(settings, engine, sessions, clock, coach, dispatcher, senders, feeds=feeds)
    runtime.shutdown = Shutdown(operations.shutdown_seconds)
    return runtime
