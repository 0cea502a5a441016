"""Wiring: one place that builds the database, the coach, the dispatcher and the platform senders."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.database import make_engine, make_sessions, upgrade
from coaching.engine import Coach
from coaching.outbox import Dispatcher
from coaching.ports import Clock, Sender, SystemClock

log = logging.getLogger(__name__)


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
        scheduler.start()
        self.scheduler = scheduler
        log.info("scheduler ticking every %ss", self.settings.tick_seconds)

    async def close(self) -> None:
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        await self.engine.dispose()


async def build_runtime(settings: Settings, *, clock: Clock | None = None, migrate: bool = True) -> Runtime:
    """Open the database (upgrading its schema), and build the coach and the dispatcher.

    Platform senders are added by whoever mounts the adapters (``bot.web``, the console)."""
    engine = make_engine(settings.database_url)
    if migrate:
        await upgrade(engine)
    sessions = make_sessions(engine)
    clock = clock or SystemClock()
    coach = Coach(sessions, clock, settings.coaching, admins=settings.admins)
    senders: dict[str, Sender] = {}
    dispatcher = Dispatcher(sessions, coach, senders, clock)
    return Runtime(settings, engine, sessions, clock, coach, dispatcher, senders)
