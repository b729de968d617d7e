"""The one injectable "now" (ARCHITECTURE.md "Time").

In development the clock can be moved forward for every process at once: the offset lives in
Redis (``hotline:clock:offset``) and each process reads it on every ``now()`` (one GET, dev only):
a cached offset let a worker stamp a dispatch with the time before a move that the web process
had already registered the ticket after.
"""

from __future__ import annotations

import threading
import time
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
    """System time plus a shared offset kept in Redis (HOTLINE_DEV_CLOCK=1 only)."""

    def __init__(self, redis: _OffsetSource, *, cache_seconds: float = 0.0) -> None:
        self._redis = redis
        self._cache_seconds = cache_seconds
        self._offset = 0.0
        self._read_at = float("-inf")
        self._lock = threading.Lock()

    def offset(self) -> float:
        mono = time.monotonic()
        with self._lock:
            if mono - self._read_at >= self._cache_seconds:
                raw = self._redis.get(OFFSET_KEY)
                self._offset = float(raw) if raw is not None else 0.0
                self._read_at = mono
            return self._offset

    def now(self) -> datetime:
        return datetime.now(SHANGHAI) + timedelta(seconds=self.offset())

    def advance(self, seconds: float) -> datetime:
        """Move every process's clock forward; returns the new now."""
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        new = float(self._redis.incrbyfloat(OFFSET_KEY, seconds))
        with self._lock:
            self._offset = new
            self._read_at = time.monotonic()
        return datetime.now(SHANGHAI) + timedelta(seconds=new)
