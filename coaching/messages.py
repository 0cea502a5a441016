"""Neutral messages: what the coach says, before any platform renders it.

Every button carries the text command it stands for (``value``), so a click comes back through the
same parser as typed words, and the console can show the command to type instead of a button.
Buttons whose ``action_id`` starts with ``form.`` open a form on platforms that have forms
(Slack modals, Teams card inputs); the console falls back to the text command.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Button:
    label: str
    action_id: str  # stable id, e.g. "commitment.kept" or "form.outcome"
    value: str  # the equivalent text command, e.g. "kept 3"
    style: str | None = None  # "primary" | "danger" | None


@dataclass(frozen=True)
class Section:
    heading: str | None = None
    lines: tuple[str, ...] = ()
    facts: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Attachment:
    """A file that goes with a message, e.g. the digest's chart (PNG)."""

    filename: str
    content_type: str
    data: bytes = field(repr=False)
    title: str = ""


@dataclass(frozen=True)
class Message:
    """A reply or a nudge. ``text`` is the one-line summary (notification text, fallback)."""

    text: str
    sections: tuple[Section, ...] = ()
    buttons: tuple[Button, ...] = ()
    kind: str = "reply"  # "reply", "error", or the nudge kind ("precall", "followup", ...)
    ref: str | None = None  # what the message is about, e.g. "negotiation:4" (for updates)
    attachments: tuple[Attachment, ...] = ()
    extra: dict[str, str] = field(default_factory=dict, compare=False)
    # Shows the person's own data, so a shared chat gets it privately. Each room says so for what it returns
    # (False: help, a greeting, a team invitation's confirmation); None means the room did not say, and the
    # coach then reads it as personal (``coaching.engine``), so adapters only ever see True or False.
    personal: bool | None = None

    @property
    def is_error(self) -> bool:
        return self.kind == "error"

    def plain_text(self) -> str:
        """The whole message as plain text (console, logs of tests, fallbacks)."""
        out: list[str] = [self.text]
        for section in self.sections:
            if section.heading:
                out.append("")
                out.append(section.heading)
            out.extend(section.lines)
            out.extend(f"  {label}: {value}" for label, value in section.facts)
        if self.buttons:
            out.append("")
            out.append("   ".join(f"[{b.label}: {b.value}]" for b in self.buttons))
        return "\n".join(out)


FIELD = "field"  # ``Message.extra`` key of an error: the command's field it is about ("when", "due")


def error(message: str, usage: str | None = None, field: str | None = None) -> Message:
    """A clear answer to something the coach can't do as asked (with the command's usage, if it helps; and the
    field it is about, so a form can show it next to that field)."""
    sections = (Section(lines=(f"Usage: `{usage}`",)),) if usage else ()
    return Message(text=message, sections=sections, kind="error", extra={FIELD: field} if field else {})
