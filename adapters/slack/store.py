"""What the Slack adapter keeps in DealCoach's database, and the stores that use it.

* ``slack_seen``: keys of events and clicks already handled, so Slack's retries
  (``X-Slack-Retry-Num``) and double clicks act once, across replicas.
* ``slack_inbox``: what people typed (slash commands, DMs to the app), stored before Slack gets its
  acknowledgement and worked off after it by :mod:`adapters.slack.inbox`.
* ``slack_installations`` / ``slack_bots`` / ``slack_oauth_states``: slack_sdk's async SQLAlchemy
  installation and state stores, on our metadata (so Alembic migrates them and ``alembic check``
  sees them), with token columns as ``Text`` because tokens are stored encrypted
  (:class:`EncryptedInstallationStore`, key from ``DEALCOACH_SECRET_KEY``).
"""

from __future__ import annotations

import base64
import copy
import hashlib
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from cryptography.fernet import Fernet, InvalidToken
from slack_sdk.oauth.installation_store.models.bot import Bot
from slack_sdk.oauth.installation_store.models.installation import Installation
from slack_sdk.oauth.installation_store.sqlalchemy import AsyncSQLAlchemyInstallationStore
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from coaching.models import Base, UTCDateTime

log = logging.getLogger(__name__)

metadata = Base.metadata

slack_seen = sa.Table(
    "slack_seen",
    metadata,
    sa.Column("key", sa.String(80), primary_key=True),  # "<kind>:<sha256 of the natural key>"
    sa.Column("seen_at", UTCDateTime(), nullable=False, index=True),
)


# The durable command inbox. ``due_at`` works like the outbox's: the time anyone should next act on the
# row (at once when stored, the lease expiry while a worker holds it, the retry time after a failed
# delivery), so one index on (status, due_at) serves every claim. status: pending (the coach has not
# run it) -> replying (the coach ran it, in the same transaction that set this; ``reply`` holds the
# answer to deliver) -> the row is deleted once delivered, or ``failed`` after the last attempt.
slack_inbox = sa.Table(
    "slack_inbox",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(16), nullable=False),  # command (response_url) | message (a DM) | mention
    sa.Column("team", sa.String(32), nullable=False),
    sa.Column("user", sa.String(32), nullable=False),
    sa.Column("user_name", sa.String(200)),
    sa.Column("channel", sa.String(64)),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("response_url", sa.Text),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("due_at", UTCDateTime(), nullable=False),
    sa.Column("claimed_by", sa.String(64)),
    sa.Column("reply", sa.Text),  # the rendered answer (JSON), kept until it is delivered
    sa.Column("last_error", sa.Text),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Index("ix_slack_inbox_status_due", "status", "due_at"),
    sa.Index("ix_slack_inbox_team", "team"),
)


def _token_columns() -> list[sa.Column[Any]]:
    return [
        sa.Column("bot_token", sa.Text),
        sa.Column("bot_id", sa.String(32)),
        sa.Column("bot_user_id", sa.String(32)),
        sa.Column("bot_scopes", sa.String(1000)),
        sa.Column("bot_refresh_token", sa.Text),
        sa.Column("bot_token_expires_at", sa.DateTime),
    ]


# Same columns and names as slack_sdk's SQLAlchemyInstallationStore builds (its queries go by name),
# but tokens are Text: a Fernet token is about twice as long as the plain one.
slack_installations = sa.Table(
    "slack_installations",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("client_id", sa.String(32), nullable=False),
    sa.Column("app_id", sa.String(32), nullable=False),
    sa.Column("enterprise_id", sa.String(32)),
    sa.Column("enterprise_name", sa.String(200)),
    sa.Column("enterprise_url", sa.String(200)),
    sa.Column("team_id", sa.String(32)),
    sa.Column("team_name", sa.String(200)),
    *_token_columns(),
    sa.Column("user_id", sa.String(32), nullable=False),
    sa.Column("user_token", sa.Text),
    sa.Column("user_scopes", sa.String(1000)),
    sa.Column("user_refresh_token", sa.Text),
    sa.Column("user_token_expires_at", sa.DateTime),
    sa.Column("incoming_webhook_url", sa.Text),
    sa.Column("incoming_webhook_channel", sa.String(200)),
    sa.Column("incoming_webhook_channel_id", sa.String(200)),
    sa.Column("incoming_webhook_configuration_url", sa.String(200)),
    sa.Column("is_enterprise_install", sa.Boolean, nullable=False, default=False),
    sa.Column("token_type", sa.String(32)),
    sa.Column("installed_at", sa.DateTime, nullable=False, default=sa.func.now()),
    sa.Index("slack_installations_idx", "client_id", "enterprise_id", "team_id", "user_id", "installed_at"),
)

slack_bots = sa.Table(
    "slack_bots",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("client_id", sa.String(32), nullable=False),
    sa.Column("app_id", sa.String(32), nullable=False),
    sa.Column("enterprise_id", sa.String(32)),
    sa.Column("enterprise_name", sa.String(200)),
    sa.Column("team_id", sa.String(32)),
    sa.Column("team_name", sa.String(200)),
    *_token_columns(),
    sa.Column("is_enterprise_install", sa.Boolean, nullable=False, default=False),
    sa.Column("installed_at", sa.DateTime, nullable=False, default=sa.func.now()),
    sa.Index("slack_bots_idx", "client_id", "enterprise_id", "team_id", "installed_at"),
)

slack_oauth_states = sa.Table(
    "slack_oauth_states",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("state", sa.String(200), nullable=False),
    sa.Column("expire_at", sa.DateTime, nullable=False),
)


def engine_of(sessions: async_sessionmaker[AsyncSession]) -> AsyncEngine:
    """The engine behind DealCoach's session factory (slack_sdk's stores want an engine)."""
    bind = sessions.kw.get("bind")
    if not isinstance(bind, AsyncEngine):
        raise TypeError("the session factory has no AsyncEngine bound")
    return bind


# ---------------------------------------------------------------------------- dedupe


class Seen:
    """Remembers handled events and clicks for ``keep`` (two days: Slack retries within minutes).

    ``first(key)`` is an INSERT into ``slack_seen``: exactly one caller wins, also across replicas.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        keep: timedelta = timedelta(days=2),
        purge_every: float = 3600.0,
    ):
        self._sessions = sessions
        self._now = now
        self._keep = keep
        self._purge_every = purge_every
        self._last_purge = 0.0

    @staticmethod
    def key(natural: str) -> str:
        kind = natural.split(":", 1)[0][:12]
        return f"{kind}:{hashlib.sha256(natural.encode()).hexdigest()}"

    async def first(self, natural: str) -> bool:
        """True the first time ``natural`` is seen; False for a retry or a double click."""
        async with self._sessions() as session:
            first = await self.claim(session, natural)
            await session.commit()
        await self._maybe_purge()
        return first

    async def claim(self, session: AsyncSession, natural: str) -> bool:
        """``first`` inside the caller's transaction (a click's key commits with the command it ran):
        True if this transaction stored the key; a concurrent one waits for the other to finish."""
        row = {"key": self.key(natural), "seen_at": self._now()}
        insert = postgresql.insert if session.bind.dialect.name == "postgresql" else sqlite.insert
        statement = insert(slack_seen).values(**row).on_conflict_do_nothing().returning(slack_seen.c.key)
        return (await session.scalar(statement)) is not None

    async def forget(self, natural: str) -> None:
        """Let a key be handled again (a form that came back with errors)."""
        async with self._sessions() as session:
            await session.execute(slack_seen.delete().where(slack_seen.c.key == self.key(natural)))
            await session.commit()

    async def _maybe_purge(self) -> None:
        if time.monotonic() - self._last_purge < self._purge_every:
            return
        self._last_purge = time.monotonic()
        async with self._sessions() as session:
            await session.execute(slack_seen.delete().where(slack_seen.c.seen_at < self._now() - self._keep))
            await session.commit()


# ---------------------------------------------------------------------------- tokens at rest


class TokenCipher:
    """Fernet (AES-128-CBC + HMAC-SHA256) with a key derived from ``DEALCOACH_SECRET_KEY``.

    Sealed values carry a prefix, so sealing twice is harmless and rows written before encryption
    was configured still read.
    """

    PREFIX = "fernet:"

    def __init__(self, secret: str):
        if not secret:
            raise ValueError("DEALCOACH_SECRET_KEY is required to store Slack tokens")
        key = base64.urlsafe_b64encode(hashlib.sha256(secret.encode()).digest())
        self._fernet = Fernet(key)

    def seal(self, value: str | None) -> str | None:
        if value is None or value.startswith(self.PREFIX):
            return value
        return self.PREFIX + self._fernet.encrypt(value.encode()).decode()

    def open(self, value: str | None) -> str | None:
        if value is None or not value.startswith(self.PREFIX):
            return value
        try:
            return self._fernet.decrypt(value[len(self.PREFIX) :].encode()).decode()
        except InvalidToken:
            log.error("slack: a stored token does not decrypt with DEALCOACH_SECRET_KEY (was the key changed?)")
            return None


_TOKEN_FIELDS = ("bot_token", "bot_refresh_token", "user_token", "user_refresh_token")


class EncryptedInstallationStore(AsyncSQLAlchemyInstallationStore):
    """slack_sdk's async SQLAlchemy installation store, with every token encrypted at rest."""

    def __init__(self, *, client_id: str, engine: AsyncEngine, cipher: TokenCipher):
        super().__init__(client_id=client_id, engine=engine)
        self.cipher = cipher

    def _apply(self, obj: Any, fn: Callable[[str | None], str | None]) -> Any:
        if obj is None:
            return None
        obj = copy.copy(obj)
        for name in _TOKEN_FIELDS:
            if hasattr(obj, name):
                setattr(obj, name, fn(getattr(obj, name)))
        return obj

    async def async_save(self, installation: Installation) -> None:
        await super().async_save(self._apply(installation, self.cipher.seal))

    async def async_save_bot(self, bot: Bot) -> None:
        await super().async_save_bot(self._apply(bot, self.cipher.seal))

    async def async_find_bot(self, **kwargs: Any) -> Bot | None:
        return self._apply(await super().async_find_bot(**kwargs), self.cipher.open)

    async def async_find_installation(self, **kwargs: Any) -> Installation | None:
        return self._apply(await super().async_find_installation(**kwargs), self.cipher.open)
