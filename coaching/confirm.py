"""Asking before storing a moment the coach is not sure of: the reply to a ``ConfirmMoment``.

Nothing is stored. The Yes button carries the command's unambiguous words (``ConfirmMoment.text``), so a click
comes back through the parser like any other and runs exactly the proposed command; in the console the same
words show next to the button, to type. (A typed ``yes`` needs the question remembered per person: not yet.)
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from coaching import commands as c
from coaching.messages import Button, Message, Section
from coaching.models import User


async def ask_moment(session: AsyncSession, user: User, command: c.ConfirmMoment) -> Message:
    return Message(
        text=command.question,
        sections=(Section(lines=("Nothing is stored yet: press Yes, or send the line again as you meant it.",)),),
        buttons=(Button("Yes", "moment.confirm", command.text, "primary"),),
    )
