"""What platforms tell the coach about people, and deleting them: no command, one short transaction each.
``Coach`` inherits these doors (``upsert_user``, ``conversation_ref``, ``export_file``, ``forget_user``,
``forget_workspace``); the engine keeps the command's transaction runner and the dispatch."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from coaching import commands as c
from coaching import privacy, store
from coaching.messages import Attachment
from coaching.models import User, Workspace
from coaching.ports import Address


class Accounts:
    sessions: async_sessionmaker[AsyncSession]
    _new_user: dict[str, Any]  # the columns a new person starts with (CoachDefaults.new_user)

    async def _ensure_user(self, session: AsyncSession, actor: c.Actor) -> User:
        return await store.ensure_user(
            session,
            address=actor.address,
            display_name=actor.display_name,
            timezone=actor.timezone,
            locale=actor.locale,
            email=actor.email,
            new=self._new_user,
        )

    async def upsert_user(
        self, actor: c.Actor, *, channel: str | None = None, conversation_ref: dict[str, Any] | None = None
    ) -> None:
        """Record what a platform told us about a person: name, time zone, DM channel, Teams reference."""
        async with self.sessions() as session, session.begin():
            user = await self._ensure_user(session, actor)
            if channel and user.dm_channel != channel:
                user.dm_channel = channel
            if conversation_ref is not None and user.conversation_ref != conversation_ref:
                user.conversation_ref = conversation_ref

    async def export_file(self, address: Address) -> Attachment | None:
        """The person's data export as a file, built now (for platforms that fetch it in a second step,
        such as a Teams file-upload consent); None if DealCoach stores nothing about them."""
        async with self.sessions() as session:
            user = await store.user_at(session, address=address)
            if user is None:
                return None
            message = await privacy.export_message(session, user)
        return message.attachments[0] if message.attachments else None

    async def conversation_ref(self, address: Address) -> dict[str, Any] | None:
        async with self.sessions() as session:
            user = await store.user_at(session, address=address)
            return user.conversation_ref if user else None

    async def forget_user(self, address: Address) -> None:
        """Delete everything stored about one person (their nudges go with them)."""
        async with self.sessions() as session, session.begin():
            user = await store.user_at(session, address=address)
            if user is not None:
                await session.execute(delete(User).where(User.id == user.id))

    async def forget_workspace(self, platform: str, workspace: str) -> None:
        """Delete a workspace or tenant and all its data (the app was uninstalled)."""
        async with self.sessions() as session, session.begin():
            await session.execute(
                delete(Workspace).where(Workspace.platform == platform, Workspace.external_id == workspace)
            )
