"""Failed credentials counted in Redis, per key over a window; 429 once a key is past its limit
(RELIABILITY.md S2, S4). The 429 is counted as refused on /metrics
(``hotline_refused_requests_total``, reason ``throttled``).

Two uses, two moments:

- Console logins (per account typed and per address): a password can be guessed, so ``check``
  comes before it is verified; while throttled even the right one is refused.
- Web-chat bearer tokens (per address): a token is an HMAC-SHA256 nobody guesses, so only a wrong
  token counts and is answered 429 past the limit (``failed(..., limit=)``). A good request costs
  no Redis call, and citizens who share the guesser's address (carrier NAT) chat on.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

import redis.asyncio as aioredis

from channels.http_common import TooManyRequests

__all__ = ["THROTTLED", "WINDOW", "FailureThrottle"]

WINDOW = timedelta(minutes=15)
THROTTLED = "throttled"  # the reason of the refusal on /metrics


class FailureThrottle:
    def __init__(self, message: str, window: timedelta = WINDOW) -> None:
        """``message``: the 429's text; ``{minutes}`` in it becomes the minutes left to wait."""
        self.message = message
        self.window = window

    def _refusal(self, ttl: int) -> TooManyRequests:
        wait = max(1, ttl)  # -1/-2: the key just expired, or never expires (it always does)
        return TooManyRequests(self.message.format(minutes=wait // 60 + 1), after=wait, reason=THROTTLED)

    async def check(self, aredis: aioredis.Redis, limits: Iterable[tuple[str, int]]) -> None:
        """429 while any of the keys has failed its limit of times within the window."""
        for key, limit in limits:
            failures = await aredis.get(key)
            if failures is not None and int(failures) >= limit:
                raise self._refusal(int(await aredis.ttl(key)))

    async def failed(self, aredis: aioredis.Redis, keys: Iterable[str], *, limit: int | None = None) -> None:
        """One more failure on each key (a key's window starts at its first failure), in one round
        trip. With ``limit``: 429 now if a key has failed more than ``limit`` times."""
        window = int(self.window.total_seconds())
        async with aredis.pipeline(transaction=True) as pipe:
            for key in keys:
                pipe.incr(key)
                pipe.expire(key, window, nx=True)
                pipe.ttl(key)
            results = await pipe.execute()
        if limit is not None:
            for count, ttl in zip(results[0::3], results[2::3], strict=True):
                if int(count) > limit:
                    raise self._refusal(int(ttl))
