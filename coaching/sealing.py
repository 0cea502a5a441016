"""Secrets at rest: values sealed with Fernet (AES-128-CBC + HMAC-SHA256) under a key derived from
``DEALCOACH_SECRET_KEY`` — a rep's calendar address here (adapters/slack/store.py seals Slack's tokens the
same way). The key may come late: ``key`` is asked on first use, so an install that never seals anything
never needs one (``bot.keys`` generates one beside an SQLite file, or says none is set)."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable

from cryptography.fernet import Fernet, InvalidToken


class NoKey(RuntimeError):  # noqa: N818 - a state of the install, said to the person in plain words
    """This install has no ``DEALCOACH_SECRET_KEY``: nothing secret can be stored."""


class Unsealable(ValueError):  # noqa: N818
    """A sealed value that does not open with this key (the key was changed)."""


class Cipher:
    PREFIX = "fernet:"

    def __init__(self, key: str | Callable[[], str | None] | None):
        self._key = key
        self._fernet: Fernet | None = None

    def _cipher(self) -> Fernet:
        if self._fernet is None:
            secret = self._key() if callable(self._key) else self._key
            if not secret:
                raise NoKey("DEALCOACH_SECRET_KEY is not set")
            self._fernet = Fernet(base64.urlsafe_b64encode(hashlib.sha256(secret.encode()).digest()))
        return self._fernet

    @property
    def available(self) -> bool:
        """A key is there (or can be made): sealing will work."""
        try:
            self._cipher()
        except NoKey:
            return False
        return True

    def seal(self, value: str) -> str:
        return self.PREFIX + self._cipher().encrypt(value.encode()).decode()

    def open(self, value: str) -> str:
        if not value.startswith(self.PREFIX):
            raise Unsealable("not a sealed value")
        try:
            return self._cipher().decrypt(value[len(self.PREFIX) :].encode()).decode()
        except InvalidToken:
            raise Unsealable("does not open with DEALCOACH_SECRET_KEY (was the key changed?)") from None
