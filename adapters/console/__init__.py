"""The terminal console: the third adapter. You type commands, see replies, and see nudges when due."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import TextIO

from coaching.commands import Actor
from coaching.engine import Coach
from coaching.messages import Message
from coaching.ports import Address

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


def save_attachments(message: Message, folder: Path | None = None) -> str:
    """Files that come with a message (the digest's chart) go next to you, in the current folder."""
    saved = []
    for attachment in message.attachments:
        path = (folder or Path.cwd()) / attachment.filename
        path.write_bytes(attachment.data)
        saved.append(f"  📎 {attachment.title or attachment.filename}: saved to {path}")
    return "\n".join(saved)


class ConsoleSender:
    """Prints nudges for the person at this terminal."""

    def __init__(self, out: TextIO = sys.stdout) -> None:
        self.out = out

    async def send(self, address: Address, message: Message) -> None:
        files = save_attachments(message)
        self.out.write(f"\n🔔 {render(message)}\n" + (files + "\n" if files else "") + "\n")
        self.out.flush()


async def chat(coach: Coach, actor: Actor, *, tick, stdin: TextIO = sys.stdin, out: TextIO = sys.stdout) -> None:
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
        files = save_attachments(reply)
        out.write(render(reply) + "\n" + (files + "\n" if files else ""))
        out.flush()
        await tick()  # whatever the command made due (a follow-up for a past call) shows at once
