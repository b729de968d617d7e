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
TOO_FAST = "您发送消息过于频繁，请稍后再试。您的消息我们已经收到。"


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    flag: str = ""
    reply: str | None = None  # said once, not to every message of a flood


class SenderGuard:
    def __init__(self, store: SqlStore, redis: Redis, restriction_days: int) -> None:
        self.store = store
        self.redis = redis
        self.restriction_days = restriction_days

    def check(self, address: Address, now: datetime) -> Verdict:
        until = self.store.restricted_until(address, now)
        if until is not None:
            return Verdict(False, "restricted")
        key = f"hotline:rl:msg:{self.store.address_key(address)}:{int(now.timestamp() // 60)}"
        with self.redis.pipeline() as pipe:
            pipe.incr(key)
            pipe.expire(key, 120)
            count = int(pipe.execute()[0])
        if count > PER_MINUTE:
            reply = TOO_FAST if count == PER_MINUTE + 1 else None
            return Verdict(False, "rate_limited", reply)
        return Verdict(True)

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
        return texts.RESTRICTED.format(until=texts.format_deadline(until))
