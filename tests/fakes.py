"""Test doubles for the core's ports: a clock the test moves, a sender that records and can fail."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from coaching.messages import Message
from coaching.ports import Address, DeliveryError

START = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)  # a Wednesday


class FakeClock:
    def __init__(self, start: datetime = START) -> None:
        self.current = start

    def now(self) -> datetime:
        return self.current

    def advance(self, delta: timedelta | None = None, **kwargs: float) -> datetime:
        self.current += delta or timedelta(**kwargs)
        return self.current

    def set(self, moment: datetime) -> None:
        self.current = moment


class RecordingSender:
    """Records every delivery; ``fail(n, ...)`` makes the next n sends fail."""

    def __init__(self) -> None:
        self.sent: list[tuple[Address, Message]] = []
        self._failures: list[DeliveryError] = []

    async def send(self, address: Address, message: Message) -> None:
        if self._failures:
            raise self._failures.pop(0)
        self.sent.append((address, message))

    def fail(self, times: int = 1, *, retry_after: float | None = None, permanent: bool = False) -> None:
        self._failures += [DeliveryError("boom", retry_after=retry_after, permanent=permanent)] * times

    def kinds(self) -> list[str]:
        return [message.kind for _, message in self.sent]

    def clear(self) -> list[tuple[Address, Message]]:
        sent, self.sent = self.sent, []
        return sent
