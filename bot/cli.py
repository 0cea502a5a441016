"""``dealcoach``: serve, chat in the terminal, upgrade the database."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from pathlib import Path

from bot.config import ConfigError, Settings


def _local_zone() -> str:
    """The machine's IANA zone (TZ, or /etc/localtime's target), for the console's profile."""
    if os.environ.get("TZ", "").strip(":"):
        return os.environ["TZ"].strip(":")
    try:
        target = str(Path("/etc/localtime").resolve())
    except OSError:
        return "UTC"
    return target.split("zoneinfo/", 1)[1] if "zoneinfo/" in target else "UTC"


async def _chat(settings: Settings, user: str, tz: str | None) -> None:
    from adapters.console import PLATFORM, WORKSPACE, ConsoleSender, chat
    from bot.app import build_runtime
    from coaching.commands import Actor
    from coaching.ports import Address
    from coaching.store import zone

    if tz and zone(tz) is None:
        raise ConfigError(f"--tz {tz!r} is not an IANA time zone (e.g. Europe/Berlin)")
    runtime = await build_runtime(settings)
    runtime.senders[PLATFORM] = ConsoleSender()
    runtime.start_scheduler()
    actor = Actor(Address(PLATFORM, WORKSPACE, user), display_name=user, timezone=tz or _local_zone())
    try:
        await runtime.dispatcher.tick()
        await chat(runtime.coach, actor, tick=runtime.dispatcher.tick)
    finally:
        await runtime.close()


async def _serve(settings: Settings) -> None:
    from aiohttp import web

    from bot.app import build_runtime
    from bot.web import build_web_app

    runtime = await build_runtime(settings)
    app = build_web_app(runtime)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host="0.0.0.0", port=settings.port)
    await site.start()
    logging.getLogger("dealcoach").info("DealCoach listening on http://0.0.0.0:%s", settings.port)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


async def _upgrade(settings: Settings) -> None:
    from bot.database import make_engine, upgrade

    engine = make_engine(settings.database_url)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="dealcoach", description="DealCoach: coaching for online negotiators.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="run the web server (Slack, Teams, /healthz, /metrics) and the scheduler")
    chat = sub.add_parser("chat", help="talk to the coach in this terminal")
    chat.add_argument("--user", default=os.environ.get("USER") or "me", help="who you are (default: $USER)")
    chat.add_argument("--tz", default=None, help="your IANA time zone, e.g. Europe/Berlin (default: this machine's)")
    db = sub.add_parser("db", help="database maintenance")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    db_sub.add_parser("upgrade", help="bring the schema up to date (serve and chat do this on start too)")
    args = parser.parse_args(argv)

    try:
        settings = Settings.from_env(os.environ)
    except ConfigError as problem:
        print(f"dealcoach: {problem}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=settings.log_level
        if args.command != "chat"
        else max(logging.WARNING, logging.getLevelName(settings.log_level)),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    try:
        if args.command == "serve":
            asyncio.run(_serve(settings))
        elif args.command == "chat":
            asyncio.run(_chat(settings, args.user, args.tz))
        else:
            asyncio.run(_upgrade(settings))
            print("Database is up to date.")
    except ConfigError as problem:
        print(f"dealcoach: {problem}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
