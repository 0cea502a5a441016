"""The command line as a newcomer uses it: `dealcoach db upgrade`, `dealcoach chat`, `dealcoach serve`."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from bot.config import Settings

DEALCOACH = [sys.executable, "-m", "bot.cli"]


def env_for(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "Microsoft", "MICROSOFT_"))}
    env["DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    env.update(extra)
    return env


def run_chat(tmp_path: Path, lines: list[str], *args: str) -> str:
    result = subprocess.run(
        [*DEALCOACH, "chat", "--user", "anna", "--tz", "Europe/Berlin", *args],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        env=env_for(tmp_path),
        timeout=60,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result.stdout


def test_chat_the_quick_start_conversation(tmp_path: Path) -> None:
    out = run_chat(
        tmp_path,
        [
            "log Acme tomorrow 3pm",
            "log Initech yesterday 4pm",
            "commit 2 theirs send the signed NDA by friday",
            "commitments",
            "log Acme on the 45th of Smarch",
            "list",
        ],
    )
    assert "Logged #1: Acme" in out and "Pre-call reminder:" in out
    assert "Logged #2: Initech" in out
    assert "🔔 How did #2 with Initech go?" in out  # the follow-up prompt, right away
    assert "Commitment #1 (theirs): Initech → send the signed NDA by" in out
    assert "#1 Initech: send the signed NDA — due" in out
    assert "⚠ I couldn't read “on the 45th of Smarch”: there is no 45 March." in out
    assert out.count("#1 Acme") == 1 and "Smarch" not in out.split("> list")[1]


def test_chat_keeps_data_between_sessions(tmp_path: Path) -> None:
    run_chat(tmp_path, ["log Acme tomorrow 3pm"])
    out = run_chat(tmp_path, ["list"])
    assert "#1 Acme" in out


def test_chat_greets_by_name_and_never_as_the_fallback_login(tmp_path: Path) -> None:
    assert "Hi anna!" in run_chat(tmp_path, ["hi"])
    env = {k: v for k, v in env_for(tmp_path).items() if k not in ("USER", "LOGNAME")}
    result = subprocess.run(
        [*DEALCOACH, "chat", "--tz", "Europe/Berlin"], input="hi\n", capture_output=True, text=True, env=env, timeout=60
    )
    assert "chatting as me" in result.stdout and "Hi!" in result.stdout and "Hi me" not in result.stdout


def test_bad_configuration_is_a_clear_error(tmp_path: Path) -> None:
    result = subprocess.run(
        [*DEALCOACH, "db", "upgrade"],
        capture_output=True,
        text=True,
        env=env_for(tmp_path, DEALCOACH_TICK_SECONDS="often"),
        timeout=30,
    )
    assert result.returncode == 2
    assert "DEALCOACH_TICK_SECONDS must be a number" in result.stderr
    assert "Traceback" not in result.stderr


def test_db_upgrade(tmp_path: Path) -> None:
    result = subprocess.run(
        [*DEALCOACH, "db", "upgrade"], capture_output=True, text=True, env=env_for(tmp_path), timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "up to date" in result.stdout
    assert (tmp_path / "cli.db").exists()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve_until_healthy(tmp_path: Path, **env: str) -> str:
    """Start ``dealcoach serve``, wait for /healthz to answer, stop it; what it logged."""
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [*DEALCOACH, "serve"], stdout=out, stderr=subprocess.STDOUT, env=env_for(tmp_path, PORT=str(port), **env)
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
                        assert response.status == 200
                        break
                except OSError:
                    if time.monotonic() > deadline or process.poll() is not None:
                        pytest.fail("dealcoach serve did not come up:\n" + log.read_text())
                    time.sleep(0.2)
        finally:
            process.terminate()
            process.wait(timeout=10)
    return log.read_text()


def test_serve_answers_healthz_and_never_logs_secrets(tmp_path: Path) -> None:
    secret = "xoxb-very-secret-token"
    assert secret not in serve_until_healthy(tmp_path, DEALCOACH_SECRET_KEY=secret, LOG_LEVEL="DEBUG")


def test_serve_logs_one_json_object_per_line(tmp_path: Path) -> None:
    output = serve_until_healthy(tmp_path, LOG_FORMAT="json")
    lines = [json.loads(line) for line in output.splitlines()]  # every line is one object
    assert any(line["message"].startswith("DealCoach listening") for line in lines)
    assert all({"time", "level", "logger", "message"} <= set(line) for line in lines)


def test_settings_repr_masks_secrets() -> None:
    settings = Settings.from_env({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s3cret", "PORT": "8080"})
    assert "xoxb-1" not in repr(settings) and "s3cret" not in repr(settings)
    assert settings.port == 8080 and settings.slack_enabled


def test_the_console_writes_charts_into_a_folder_of_its_own_and_says_where(tmp_path: Path) -> None:
    charts = tmp_path / "charts"
    lines = ["team add bob", "digest this week"]
    result = subprocess.run(
        [*DEALCOACH, "chat", "--user", "lena", "--tz", "Europe/Berlin"],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        env=env_for(tmp_path, DEALCOACH_CHART_DIR=str(charts)),
        timeout=60,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    [chart] = list(charts.glob("digest-*.png"))
    assert f"saved to {chart}" in result.stdout
    assert list(tmp_path.glob("*.png")) == []  # never into the folder it runs in
    default = subprocess.run(
        [*DEALCOACH, "chat", "--user", "lena", "--tz", "Europe/Berlin"],
        input="digest this week\n",
        capture_output=True,
        text=True,
        env=env_for(tmp_path),
        timeout=60,
        cwd=tmp_path,
    )
    saved = Path(default.stdout.split("saved to ", 1)[1].split()[0])
    assert saved.exists() and saved.parent.name.startswith("dealcoach-") and saved.parent != tmp_path
    assert list(tmp_path.glob("*.png")) == []


async def test_two_terminals_on_one_database_each_show_only_their_own_nudges(sessions, clock, tmp_path: Path) -> None:
    import io

    from sqlalchemy import select

    from adapters.console import ConsoleSender, chat
    from coaching.engine import Coach
    from coaching.models import Nudge
    from coaching.outbox import Dispatcher
    from tests.conftest import make_actor

    coach = Coach(sessions, clock)
    anna, bob = make_actor("anna"), make_actor("bob")
    terminals = {}
    for who in (anna, bob):
        out = io.StringIO()
        sender = ConsoleSender(who.address.user, tmp_path, out=out)
        dispatcher = Dispatcher(sessions, coach, {"console": sender}, clock, worker=who.address.user)
        terminals[who.address.user] = (out, dispatcher)
    await coach.handle_text(bob, "log Globex yesterday 4pm")  # Bob's follow-up prompt is due at once

    out, dispatcher = terminals["anna"]
    await chat(coach, anna, tick=dispatcher.tick, folder=tmp_path, stdin=io.StringIO("list\n"), out=out)
    assert "Globex" not in out.getvalue()  # Anna's terminal ticked first, and left Bob's nudge alone
    async with sessions() as session:
        followup = await session.scalar(select(Nudge).where(Nudge.kind == "followup"))
    assert (followup.status, followup.attempts, followup.claimed_by) == ("pending", 0, None)

    out, dispatcher = terminals["bob"]
    clock.advance(seconds=1)  # Bob's terminal ticks a moment later
    await dispatcher.tick()
    assert "🔔 How did #1 with Globex go?" in out.getvalue()
