"""The terminal console: the third adapter. You type commands, see replies, and see your own nudges when due.

Several terminals may share one database (``dealcoach chat --user anna`` next to ``--user bob``): each shows only
the nudges of its own person and leaves the others' for their own terminal. Files that come with a message (the
digest's chart, an export) are written into a folder of their own (``DEALCOACH_CHART_DIR``, else a new temporary
folder), and the path is printed.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path
from typing import TextIO

from coaching.commands import Actor
from coaching.engine import Coach
from coaching.messages import Message
from coaching.ports import Address, DeliveryError

PLATFORM = "console"
WORKSPACE = "local"


def render(message: Message) -> str:
    """Console text: headings in caps, buttons shown as the command to type."""
    out = [("⚠ " if message.is_error else "") + message.text]
    for section in message.sections:
        if section.heading:
            out.append(f"\n{section.heading.upper()}")
        out.extend(f"  {line}" for line in section.lines)
        out.extend(f"  {label}: {value}" for label, value in section.facts)
    if message.buttons:
        out.append("  → " + "  ·  ".join(f"{b.label}: `{b.value.strip()}`" for b in message.buttons))
    return "\n".join(out).replace("`", "")


def files_folder(configured: str | None = None) -> Path:
    """Where this terminal writes the files that come with messages: ``configured`` (created if need be), else a
    temporary folder of its own — never the folder you happen to run it in."""
    if configured:
        folder = Path(configured).expanduser()
        folder.mkdir(parents=True, exist_ok=True)
        return folder
    return Path(tempfile.mkdtemp(prefix="dealcoach-"))


def save_attachments(message: Message, folder: Path) -> str:
    """Files that come with a message (the digest's chart) go into ``folder``; the lines that say where."""
    saved = []
    for attachment in message.attachments:
        path = folder / Path(attachment.filename).name  # a file name, never a path out of the folder
        path.write_bytes(attachment.data)
        saved.append(f"  📎 {attachment.title or attachment.filename}: saved to {path}")
    return "\n".join(saved)


class ConsoleSender:
    """Prints the nudges of the person at this terminal (``user``); another person's nudge is left for their
    own terminal: it stays in the outbox, due again at once, without using up an attempt."""

    def __init__(self, user: str, folder: Path, out: TextIO = sys.stdout) -> None:
        self.user = user
        self.folder = folder
        self.out = out

    async def send(self, address: Address, message: Message) -> None:
        if address.user != self.user:
            raise DeliveryError(f"for {address.user}'s terminal", waiting=True, retry_after=0.001)
        files = save_attachments(message, self.folder)
        self.out.write(f"\n🔔 {render(message)}\n" + (files + "\n" if files else "") + "\n")
        self.out.flush()


async def chat(
    coach: Coach,
    actor: Actor,
    *,
    tick,
    folder: Path,
    stdin: TextIO = sys.stdin,
    out: TextIO = sys.stdout,
) -> None:
    """Read commands line by line until EOF or ``quit``; after each reply, deliver whatever is due."""
    interactive = stdin.isatty()
    out.write(f"DealCoach — chatting as {actor.address.user}. Type `help`, or `quit` to leave.\n")
    await coach.upsert_user(actor)
    while True:
        if interactive:
            out.write("> ")
            out.flush()
        line = await asyncio.to_thread(stdin.readline)
        if not line:
            break
        text = line.strip()
        if not text:
            continue
        if text.lower() in ("quit", "exit", "bye"):
            break
        if not interactive:
            out.write(f"> {text}\n")
        reply = await coach.handle_text(actor, text)
        files = save_attachments(reply, folder)
        out.write(render(reply) + "\n" + (files + "\n" if files else ""))
        out.flush()
        await tick()  # whatever the command made due (a follow-up for a past call) shows at once
