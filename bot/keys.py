"""Where the key for secrets at rest (``DEALCOACH_SECRET_KEY``) comes from: the setting; else, for the embedded
default (an SQLite file), a key generated on first use and kept in a file beside the database that only its owner
can read (``dealcoach.db.secret-key``); else none — on PostgreSQL the setting is required, and start-up says so."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable
from pathlib import Path

from cryptography.fernet import Fernet
from sqlalchemy.engine import make_url

from bot.config import Settings

log = logging.getLogger(__name__)


def key_file(settings: Settings) -> Path | None:
    """The generated key's file for an SQLite database file; None for any other database."""
    url = make_url(settings.database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    if url.database.startswith("file:"):
        return None
    return Path(url.database).with_name(Path(url.database).name + ".secret-key")


def secret_key(settings: Settings) -> Callable[[], str | None]:
    """The key, asked for when first needed (so an install that seals nothing never writes a key file)."""
    if settings.secret_key:
        configured = settings.secret_key
        return lambda: configured
    path = key_file(settings)
    if path is None:
        url = make_url(settings.database_url)
        if url.get_backend_name() == "sqlite":  # in memory: a key for this process only
            ephemeral = Fernet.generate_key().decode()
            return lambda: ephemeral
        return lambda: None
    cached: list[str] = []

    def load() -> str | None:
        if not cached:
            cached.append(_read_or_make(path))
        return cached[0]

    return load


def _read_or_make(path: Path) -> str:
    if path.exists():
        return path.read_text().strip()
    fresh = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    descriptor = os.open(fresh, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # readable by its owner only
    try:
        os.write(descriptor, Fernet.generate_key() + b"\n")
    finally:
        os.close(descriptor)
    try:
        os.link(fresh, path)  # atomic, and fails if another process made the key first: theirs is the key
        log.warning(
            "generated a key for secrets at rest in %s (owner-only); set DEALCOACH_SECRET_KEY to use your own", path
        )
    except FileExistsError:
        pass
    finally:
        with contextlib.suppress(OSError):
            fresh.unlink()
    return path.read_text().strip()


def warn_if_missing(settings: Settings) -> None:
    """Start-up's word on the key: on PostgreSQL without one, calendar addresses can't be stored."""
    if not settings.secret_key and key_file(settings) is None and not settings.database_url.startswith("sqlite"):
        log.warning(
            "DEALCOACH_SECRET_KEY is not set: calendar feeds can't be stored (`calendar <url>` will say so). "
            "Set it to a long random string to enable calendar import."
        )
