"""Before the dialog: per-sender rate limits (Redis) and the harassment restriction (SQL).

Nothing a limited or restricted sender sends is lost: the service stores every message first;
the guard only decides whether the dialog runs, and marks the message (issue 7, huizhou §8).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from redis import Redis

from intake import texts
from intake.model import Address
from intake.store.sql import SqlStore

PER_MINUTE = 20  # a flood: more messages than a person types
ABUSE_STRIKES = 3  # abusive messages within STRIKE_WINDOW before the restriction
STRIKE_WINDOW = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    flag: str = ""
    reply: str | None = None  # said once, not to every message of a flood


def restricted_key(address_key: str) -> str:
    """Redis mirror of an active restriction (SQL stays the record; see refresh)."""
    return f"hotline:restricted:{address_key}"


class SenderGuard:
    def __init__(
        self, store: SqlStore, redis: Redis, restriction_days: int, per_minute: int = PER_MINUTE
    ) -> None:
        self.store = store
        self.redis = redis
        self.restriction_days = restriction_days
        self.per_minute = per_minute

    def redis_keys(self, address_key: str, now: datetime) -> tuple[str, str]:
        """The sender's message counter of this minute and its restriction mirror: the dialog
        counts and reads them in the round trip that locks the sender (DialogStates.turns)."""
        minute = int(now.timestamp() // 60)
        return f"hotline:rl:msg:{address_key}:{minute}", restricted_key(address_key)

    def judge(self, address: Address, address_key: str, count: int, mirrored: bool, now: datetime) -> Verdict:
        """The verdict on one message, given the sender's count this minute (this message
        included) and the mirror. Only a sender the mirror names is looked up in SQL, so a
        lifted restriction ends at once."""
        if mirrored:
            if self.store.restricted_until(address, now) is not None:
                return Verdict(False, "restricted")
            self.redis.delete(restricted_key(address_key))  # lifted by an agent
        if count > self.per_minute:
            return Verdict(False, "rate_limited", texts.TOO_FAST if count == self.per_minute + 1 else None)
        return Verdict(True)

    def refresh(self, now: datetime) -> int:
        """Mirror every active restriction into Redis (after a flush or a failover); the
        worker's sweep calls it. Returns how many."""
        active = self.store.active_restriction_keys(now)
        with self.redis.pipeline() as pipe:
            for address_key, until in active:
                pipe.set(restricted_key(address_key), "1", exat=int(until.timestamp()) + 1)
            pipe.execute()
        return len(active)

    def strike(self, address: Address, now: datetime) -> str | None:
        """Count an abusive message; the third within a day restricts the sender for the
        profile's period (huizhou §8: 30 natural days). Returns the one message saying so."""
        if self.restriction_days <= 0:
            return None
        key = f"hotline:abuse:{self.store.address_key(address)}"
        with self.redis.pipeline() as pipe:
            pipe.incr(key)
            pipe.expire(key, int(STRIKE_WINDOW.total_seconds()))
            strikes = int(pipe.execute()[0])
        if strikes < ABUSE_STRIKES:
            return None
        self.redis.delete(key)
        until = now + timedelta(days=self.restriction_days)
        self.store.restrict(address, until, f"{strikes} abusive messages within a day")
        self.redis.set(restricted_key(self.store.address_key(address)), "1", exat=int(until.timestamp()) + 1)
        return texts.RESTRICTED.format(until=texts.format_deadline(until))
