"""Calendar import from the command line, as issue 11's Done-when walks it: ``dealcoach chat`` following a
loopback feed (with DEALCOACH_CALENDAR_ALLOW_PRIVATE=1; refused without it), and ``dealcoach calendar import``."""

from __future__ import annotations

import asyncio
import os
import stat
import sys
from datetime import UTC, datetime, time
from pathlib import Path

from tests.calendar.feedserver import FeedServer
from tests.calendar.weekfeed import BERLIN, days_ahead, week_feed

DEALCOACH = [sys.executable, "-m", "bot.cli"]
PATH = "/calendar/ical/anna%40acme.com/private-5f3a9c2b/basic.ics"


def env_for(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "Microsoft", "MICROSOFT_", "DEALCOACH_"))}
    env["DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    env.update(extra)
    return env


class Chat:
    """``dealcoach chat`` as a process: type a line, read what it answers (up to the next prompt echo)."""

    def __init__(self, process: asyncio.subprocess.Process):
        self.process = process
        self.out = ""

    @classmethod
    async def start(cls, tmp_path: Path, **env: str) -> Chat:
        process = await asyncio.create_subprocess_exec(
            *DEALCOACH,
            "chat",
            "--user",
            "anna",
            "--tz",
            "Europe/Berlin",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env_for(tmp_path, **env),
            cwd=tmp_path,
        )
        return cls(process)

    async def say(self, line: str, until: str) -> str:
        """Type ``line``; the output from its echo until ``until`` shows."""
        assert self.process.stdin is not None and self.process.stdout is not None
        start = len(self.out)
        self.process.stdin.write(line.encode() + b"\n")
        await self.process.stdin.drain()
        async with asyncio.timeout(30):
            while until not in self.out[start:]:
                chunk = await self.process.stdout.read(4096)
                assert chunk, f"chat ended early:\n{self.out}"
                self.out += chunk.decode()
        return self.out[start:]

    async def close(self) -> str:
        assert self.process.stdin is not None
        self.process.stdin.write(b"quit\n")
        await self.process.stdin.drain()
        out, err = await asyncio.wait_for(self.process.communicate(), 30)
        assert self.process.returncode == 0, err.decode()
        assert b"Traceback" not in err
        self.out += out.decode()
        return err.decode()


def local(day: object, hour: int) -> str:
    return f"{datetime.combine(day, time(hour), tzinfo=BERLIN):%a %d %b} {hour:02d}:00"  # type: ignore[call-overload]


async def test_done_when_in_dealcoach_chat(tmp_path: Path, provider: FeedServer) -> None:
    now = datetime.now(UTC)
    first, second = days_ahead(now)
    provider.publish(PATH, week_feed(now))
    url = provider.url(PATH)
    chat = await Chat.start(tmp_path, DEALCOACH_CALENDAR_ALLOW_PRIVATE="1")
    found = await chat.say(f"calendar {url}", until="calendar ignore 2 series")
    assert "I found 2 negotiations in your calendar for the next 3 weeks:" in found
    assert f"#1 Globex — {local(first, 10)}, 60 min, video" in found
    assert f"#2 Initech — {local(second, 14)}, 45 min, phone" in found
    assert "Team sync" not in found and "stand-up" not in found  # among colleagues
    assert "private-5f3a9c2b" not in found.split(url, 1)[1]  # only the typed line has the secret
    listed = await chat.say("list", until="Initech")
    assert f"#1 Globex — {local(first, 10)}" in listed and f"#2 Initech — {local(second, 14)}" in listed

    provider.publish(PATH, week_feed(now, edited=True), version=1)  # Globex moved to 15:00, Initech cancelled
    synced = await chat.say("calendar sync", until="no more reminders")
    assert "Synced: 1 moved, 1 cancelled." in synced
    assert f"Moved #1 Globex to {local(first, 15)}; its reminders moved too." in synced
    assert "Cancelled #2 Initech" in synced
    listed = await chat.say("list", until="Globex")
    assert f"#1 Globex — {local(first, 15)}" in listed and "Initech" not in listed
    status = await chat.say("calendar", until="Last error")
    assert "Calendar: http://127.0.0.1/…" in status and "Last error: none" in status
    err = await chat.close()
    assert "private-5f3a9c2b" not in err  # nor in the log

    key = tmp_path / "cli.db.secret-key"
    assert key.exists() and stat.S_IMODE(key.stat().st_mode) == 0o600
    assert "generated a key for secrets at rest" in err


async def test_without_the_allow_setting_the_loopback_feed_is_refused(tmp_path: Path, provider: FeedServer) -> None:
    provider.publish(PATH, week_feed(datetime.now(UTC)))
    chat = await Chat.start(tmp_path)
    refused = await chat.say(f"calendar {provider.url(PATH)}", until="ALLOW_PRIVATE")
    assert "⚠ I won't fetch that calendar: it points at a private or local network address." in refused
    assert "Nothing was stored." in refused
    assert "No calendar connected." in await chat.say("calendar", until="connected")
    await chat.close()
    assert provider.requests == []


async def run(tmp_path: Path, *args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        *DEALCOACH,
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env_for(tmp_path),
        cwd=tmp_path,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    return process.returncode or 0, out.decode(), err.decode()


async def test_calendar_import_reads_a_file_once(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    first, _ = days_ahead(now)
    ics = tmp_path / "week.ics"
    ics.write_bytes(week_feed(now))
    code, out, err = await run(tmp_path, "calendar", "import", str(ics), "--user", "anna", "--tz", "Europe/Berlin")
    assert code == 0, err
    assert out.startswith("I found 2 negotiations in your file week.ics for the next 3 weeks:")
    assert f"#1 Globex — {local(first, 10)}" in out and "calendar ignore 1" in out
    code, out, _ = await run(tmp_path, "calendar", "import", str(ics), "--user", "anna", "--tz", "Europe/Berlin")
    assert code == 0 and out.startswith("I found no negotiations")  # nothing doubled

    (tmp_path / "notes.ics").write_text("these are my notes, not a calendar")
    code, out, err = await run(tmp_path, "calendar", "import", str(tmp_path / "notes.ics"), "--user", "anna")
    assert code == 2 and "couldn't read that file as a calendar" in err and "Traceback" not in err
    code, _, err = await run(tmp_path, "calendar", "import", str(tmp_path / "missing.ics"), "--user", "anna")
    assert code == 2 and "cannot read" in err and "Traceback" not in err
