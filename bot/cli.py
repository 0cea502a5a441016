"""``dealcoach``: serve, chat in the terminal, upgrade the database, print a digest, package the Teams app."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

from bot import logs
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


async def _chat(settings: Settings, user: str, tz: str | None, email: str | None = None) -> None:
    from adapters.console import PLATFORM, WORKSPACE, ConsoleSender, chat, files_folder
    from bot.app import build_runtime
    from coaching.commands import Actor
    from coaching.ports import Address
    from coaching.store import zone

    if tz and zone(tz) is None:
        raise ConfigError(f"--tz {tz!r} is not an IANA time zone (e.g. Europe/Berlin)")
    folder = files_folder(settings.chart_dir)
    runtime = await build_runtime(settings)
    runtime.senders[PLATFORM] = ConsoleSender(user, folder)
    runtime.start_scheduler()
    name = None if user == "me" else user  # the fallback login is no name to greet ("Hi me!")
    actor = Actor(Address(PLATFORM, WORKSPACE, user), display_name=name, timezone=tz or _local_zone(), email=email)
    try:
        await runtime.dispatcher.tick()
        await chat(runtime.coach, actor, tick=runtime.dispatcher.tick, folder=folder)
    finally:
        await runtime.close()


async def _calendar_import(settings: Settings, args: argparse.Namespace) -> str:
    """``dealcoach calendar import FILE.ics --user NAME``: the file read once, as a console user sent it."""
    from adapters.console import PLATFORM, WORKSPACE, render
    from bot.app import build_runtime
    from coaching.calendar.reading import MAX_FEED_BYTES
    from coaching.commands import Actor
    from coaching.ports import Address
    from coaching.store import zone

    if args.tz and zone(args.tz) is None:
        raise ConfigError(f"--tz {args.tz!r} is not an IANA time zone (e.g. Europe/Berlin)")
    path = Path(args.file)
    try:
        if path.stat().st_size > MAX_FEED_BYTES:
            raise ConfigError(f"{path} is larger than {MAX_FEED_BYTES // (1024 * 1024)} MB; nothing was imported")
        data = path.read_bytes()
    except OSError as problem:
        raise ConfigError(f"cannot read {path}: {problem.strerror or problem}") from None
    runtime = await build_runtime(settings)
    actor = Actor(
        Address(PLATFORM, WORKSPACE, args.user),
        display_name=args.user,
        timezone=args.tz or _local_zone(),
        email=args.email,
    )
    try:
        reply = await runtime.coach.import_calendar(actor, data, filename=path.name)
    finally:
        await runtime.close()
    if reply.is_error:
        raise ConfigError(render(reply).removeprefix("⚠ "))
    return render(reply)


async def _serve(settings: Settings) -> None:
    from bot.serve import serve

    await serve(settings)


async def _digest(settings: Settings, args: argparse.Namespace) -> str:
    from sqlalchemy import select

    from bot.database import make_engine, make_sessions, upgrade
    from coaching import leads
    from coaching.chart import render_chart
    from coaching.digest import Week, build_digest, digest_csv, digest_json, digest_message
    from coaching.models import User, Workspace
    from coaching.nudges import user_zone
    from coaching.ports import SystemClock

    engine = make_engine(settings.database_url)
    try:
        await upgrade(engine)
        async with make_sessions(engine)() as session:
            query = (
                select(User)
                .join(Workspace)
                .where(Workspace.external_id == args.workspace, User.external_id == args.lead)
            )
            if args.platform:
                query = query.where(Workspace.platform == args.platform)
            found = (await session.scalars(query)).all()
            if not found:
                raise ConfigError(f"no user {args.lead!r} in workspace {args.workspace!r}")
            if len(found) > 1:
                raise ConfigError("that workspace id exists on several platforms: add --platform slack|teams|console")
            lead = found[0]
            team = await leads.team_led_by(session, lead)
            if team is None:
                raise ConfigError(f"{args.lead!r} does not lead a team")
            now, tz = SystemClock().now(), user_zone(lead)
            try:
                week = Week.asked(args.week, now=now, tz=tz) if args.week else Week.containing(now, tz).shift(-1)
            except ValueError as problem:
                raise ConfigError(str(problem)) from None
            gap = settings.coaching.timing.contact_gap
            digest = await build_digest(session, team, week, now=now, tz=tz, contact_gap=gap)
    finally:
        await engine.dispose()
    if args.chart:
        chart = render_chart(digest.history, f"{digest.lead}'s team, last {len(digest.history)} weeks")
        if chart is None:
            raise ConfigError("could not draw the chart")
        Path(args.chart).write_bytes(chart)
    if args.format == "json":
        return digest_json(digest)
    if args.format == "csv":
        return digest_csv(digest)
    return digest_message(digest, tz).plain_text().replace("`", "")


async def _upgrade(settings: Settings) -> None:
    from bot.database import make_engine, upgrade

    engine = make_engine(settings.database_url)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()


def _teams_package(args: argparse.Namespace) -> str:
    from bot.teams_package import PackageError, draw_icons, package

    written: list[Path] = []
    try:
        if args.icons:
            written += draw_icons(args.dir)
        if args.app_id:
            written.append(package(args.app_id, args.out, args.dir))
    except PackageError as problem:
        raise ConfigError(str(problem)) from None
    return "\n".join(f"wrote {path}" for path in written)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="dealcoach", description="DealCoach: coaching for online negotiators.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="run the web server (Slack, Teams, /healthz, /metrics) and the scheduler")
    chat = sub.add_parser("chat", help="talk to the coach in this terminal")
    chat.add_argument("--user", default=os.environ.get("USER") or "me", help="who you are (default: $USER)")
    chat.add_argument("--tz", default=None, help="your IANA time zone, e.g. Europe/Berlin (default: this machine's)")
    chat.add_argument("--email", default=None, help="your email address: its domain is your colleagues' (calendar)")
    calendar = sub.add_parser("calendar", help="calendar import")
    calendar_sub = calendar.add_subparsers(dest="calendar_command", required=True)
    ics = calendar_sub.add_parser("import", help="read an .ics file once: its external meetings become negotiations")
    ics.add_argument("file", metavar="FILE.ics")
    ics.add_argument("--user", default=os.environ.get("USER") or "me", help="whose calendar (the console user)")
    ics.add_argument("--tz", default=None, help="their IANA time zone (default: this machine's)")
    ics.add_argument("--email", default=None, help="their email address: its domain is their colleagues'")
    db = sub.add_parser("db", help="database maintenance")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    db_sub.add_parser("upgrade", help="bring the schema up to date (serve and chat do this on start too)")
    digest = sub.add_parser("digest", help="print a team lead's weekly digest")
    digest.add_argument("--workspace", required=True, help="the Slack team id, Teams tenant id, or 'local'")
    digest.add_argument("--lead", required=True, help="the lead's platform user id (console: their name)")
    digest.add_argument("--platform", choices=("slack", "teams", "console"), default=None)
    digest.add_argument("--week", default=None, help="ISO week such as 2026-W48 (default: last week)")
    digest.add_argument("--format", choices=("text", "json", "csv"), default="text")
    digest.add_argument("--chart", default=None, metavar="FILE.png", help="also write the 8-week chart here")
    teams = sub.add_parser("teams-package", help="write the Teams app package (zip) to upload, or redraw its icons")
    teams.add_argument("--app-id", help="the bot's Microsoft App ID; writes the zip to upload to Teams")
    teams.add_argument("--icons", action="store_true", help="redraw color.png and outline.png")
    teams.add_argument(
        "--dir", type=Path, default=Path("deploy/teams"), help="manifest and icons (default: %(default)s)"
    )
    teams.add_argument("--out", type=Path, default=Path("dist/dealcoach-teams.zip"), help="(default: %(default)s)")
    args = parser.parse_args(argv)
    if args.command == "teams-package":  # needs no settings: it only writes files
        if not (args.app_id or args.icons):
            teams.error("give --app-id (to write the zip) and/or --icons (to redraw them)")
        try:
            print(_teams_package(args))
        except ConfigError as problem:
            print(f"dealcoach: {problem}", file=sys.stderr)
            return 2
        return 0

    try:
        settings = Settings.from_env(os.environ)
    except ConfigError as problem:
        print(f"dealcoach: {problem}", file=sys.stderr)
        return 2
    quiet = args.command in ("chat", "digest", "calendar")  # their output is for people, not logs
    logs.configure(settings, quiet=quiet)
    try:
        if args.command == "serve":
            asyncio.run(_serve(settings))
        elif args.command == "chat":
            asyncio.run(_chat(settings, args.user, args.tz, args.email))
        elif args.command == "calendar":
            print(asyncio.run(_calendar_import(settings, args)))
        elif args.command == "digest":
            output = asyncio.run(_digest(settings, args))
            sys.stdout.write(output if output.endswith("\n") else output + "\n")
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
