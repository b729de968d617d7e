"""The one injectable "now" (ARCHITECTURE.md "Time").

In development the clock can be moved forward for every process at once: the offset lives in
Redis (``hotline:clock:offset``) and each process reads it on every ``now()`` (one GET, dev only).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol

from intake.model import SHANGHAI

OFFSET_KEY = "hotline:clock:offset"


class Clock(Protocol):
    def now(self) -> datetime:
        """An aware datetime in Asia/Shanghai."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(SHANGHAI)


class ManualClock:
    """A clock the tests set and move by hand."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("ManualClock needs an aware datetime")
        self._now = start.astimezone(SHANGHAI)

    def now(self) -> datetime:
        return self._now

    def advance(self, seconds: float) -> datetime:
        self._now += timedelta(seconds=seconds)
        return self._now

    def set(self, when: datetime) -> None:
        self._now = when.astimezone(SHANGHAI)


class _OffsetSource(Protocol):
    def get(self, name: str) -> bytes | str | None: ...

    def incrbyfloat(self, name: str, amount: float) -> float: ...


class OffsetClock:
    """System time plus a shared offset kept in Redis (HOTLINE_DEV_CLOCK=1 only), read afresh
    on every call: a cached offset let a process act on the time before another's move."""

    def __init__(self, redis: _OffsetSource) -> None:
        self._redis = redis

    def offset(self) -> float:
        raw = self._redis.get(OFFSET_KEY)
        return float(raw) if raw is not None else 0.0

    def now(self) -> datetime:
        return datetime.now(SHANGHAI) + timedelta(seconds=self.offset())

    def advance(self, seconds: float) -> datetime:
        """Move every process's clock forward; returns the new now."""
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        new = float(self._redis.incrbyfloat(OFFSET_KEY, seconds))
        return datetime.now(SHANGHAI) + timedelta(seconds=new)
