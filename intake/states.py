"""Where each sender's dialog state lives between turns: Redis, encrypted, keyed by the sender's
blind index; and the per-sender lock a process holds while it takes one of their turns. A group
of senders goes in with one script call and out with one more (issue 5).

Losing Redis costs at most one question asked again: the draft lives in SQL and the state is
rebuilt from it (RELIABILITY.md R1).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from redis import Redis
from redis.exceptions import NoScriptError

from intake.dialog import DialogState
from intake.errors import StoreUnavailable
from intake.store.sql import SqlStore

STATE_TTL = timedelta(days=4)  # longer than the 3-natural-day supplement window (guangzhou §12)


def dialog_key(address_key: str) -> str:
    """Where a sender's dialog state lives in Redis: by blind index, never by the address."""
    return f"hotline:dialog:{address_key}"


def lock_key(address_key: str) -> str:
    """The lock a process holds on a sender while it takes one of its turns."""
    return f"hotline:lock:{address_key}"


class DialogStates:
    """Dialog state per sender in Redis: encrypted (it holds names and phones), keyed by the
    sender's blind index, never by the address itself."""

    def __init__(self, redis: Redis, store: SqlStore) -> None:
        self.redis = redis
        self.store = store
        self._release_sha = redis.register_script(_RELEASE).sha
        self._enter_sha = redis.register_script(_ENTER).sha

    @contextmanager
    def turns(
        self,
        keys: Sequence[str],
        *,
        wait: bool,
        rate_keys: Callable[[str], tuple[str, str]] | None = None,
    ) -> Iterator[Entered]:
        """Lock many senders (by address key) and read their states in one round trip; write
        the new states and unlock in one more, however many senders. Without ``wait``, a sender
        whose lock another process holds is left out (its message goes the single way, which
        waits). Locks expire on their own if this process dies.

        With ``rate_keys`` (the guard's counter and restriction mirror of a sender) the same
        round trip counts each sender's message and reads its mirror, locked or not (issue 5:
        one round trip in, one out)."""
        token = secrets.token_hex(8)
        deadline = time.monotonic() + LOCK_WAIT_SECONDS
        entered = Entered({}, {})
        got = entered.got
        todo = list(dict.fromkeys(keys))
        while todo:
            replies = self._enter(todo, token, rate_keys if not entered.counts else None)
            for key, (locked, raw, *seen) in zip(todo, replies, strict=True):
                if seen:
                    entered.counts[key] = (int(seen[0]), bool(seen[1]))
                if locked:
                    got[key] = Turn(self._decode(raw))
            todo = [k for k in todo if k not in got]
            if not todo or not wait:
                break
            if time.monotonic() > deadline:
                self._unlock(got, token)
                raise StoreUnavailable("the sender's previous message is still being handled")
            time.sleep(0.005)
        try:
            yield entered
        finally:
            self._unlock(got, token)

    def _enter(
        self, keys: list[str], token: str, rate_keys: Callable[[str], tuple[str, str]] | None
    ) -> list[list[Any]]:
        names: list[str] = []
        for key in keys:
            names += (lock_key(key), dialog_key(key), *(rate_keys(key) if rate_keys else ()))
        per = 4 if rate_keys else 2
        replies: list[list[Any]] = self._script(
            _ENTER, self._enter_sha, names, (token, LOCK_MS, RATE_TTL, per)
        )
        return replies

    def _unlock(self, got: dict[str, Turn], token: str) -> None:
        if not got:
            return
        names: list[str] = []
        args: list[Any] = [token, int(STATE_TTL.total_seconds())]
        for key, turn in got.items():
            # An idle sender is remembered as idle, so the next turn need not ask SQL for a draft
            # (only a state Redis lost is rebuilt from SQL).
            blob = (
                IDLE
                if turn.next is None or turn.next == DialogState()
                else self.store.cipher.encrypt_json(turn.next.to_json())
            )
            names += (lock_key(key), dialog_key(key))
            args += (blob, int(turn.next is not None))
        self._script(_RELEASE, self._release_sha, names, args)

    def _script(self, source: str, sha: str, keys: Sequence[str], args: Sequence[Any]) -> Any:
        """One script call for the whole group (one command to pack, one reply to read)."""
        try:
            return self.redis.evalsha(sha, len(keys), *keys, *args)
        except NoScriptError:  # Redis restarted and forgot the script: nothing ran
            self.redis.script_load(source)
            return self.redis.evalsha(sha, len(keys), *keys, *args)

    def _decode(self, raw: Any) -> DialogState | None:
        if raw is None:
            return None
        blob = raw.decode() if isinstance(raw, bytes) else str(raw)
        if blob == IDLE:
            return DialogState()
        return DialogState.from_json(self.store.cipher.decrypt_json(blob))


# Each script takes a whole group of senders: one command and one reply however many there are.
# KEYS: per sender its lock and state, and with ARGV[4] = 4 its rate counter and restriction
# mirror. ARGV: token, lock ms, counter ttl, keys per sender (2 or 4).
# Returns per sender {locked 1/0, state or nil[, messages this minute, mirror 1/0]}.
_ENTER = """
local per = tonumber(ARGV[4])
local out = {}
for i = 1, #KEYS, per do
  local locked = redis.call('SET', KEYS[i], ARGV[1], 'NX', 'PX', ARGV[2])
  local state = false
  if locked then state = redis.call('GET', KEYS[i + 1]) end
  if per == 2 then
    out[#out + 1] = {locked and 1 or 0, state}
  else
    local count = redis.call('INCR', KEYS[i + 2])
    if count == 1 then redis.call('EXPIRE', KEYS[i + 2], ARGV[3]) end
    out[#out + 1] = {locked and 1 or 0, state, count, redis.call('EXISTS', KEYS[i + 3])}
  end
end
return out
"""
RATE_TTL = 120  # a per-minute counter outlives its minute, then goes
# KEYS: per sender its lock and state. ARGV: token, state ttl, then per sender the encrypted
# state ("" = none) and whether to write it (1/0). The lock goes only if it is still ours.
_RELEASE = """
for i = 1, #KEYS, 2 do
  local blob, write = ARGV[i + 2], ARGV[i + 3]
  if write == '1' then
    if blob == '' then
      redis.call('DEL', KEYS[i + 1])
    else
      redis.call('SET', KEYS[i + 1], blob, 'EX', ARGV[2])
    end
  end
  if redis.call('GET', KEYS[i]) == ARGV[1] then redis.call('DEL', KEYS[i]) end
end
return 1
"""
LOCK_MS = 30_000
IDLE = "idle"
LOCK_WAIT_SECONDS = 30.0


@dataclass(slots=True)
class Entered:
    """What the round trip in found: the turns whose sender it locked, and (for the guard)
    each sender's messages this minute and whether a restriction is mirrored."""

    got: dict[str, Turn]
    counts: dict[str, tuple[int, bool]]


@dataclass(slots=True)
class Turn:
    state: DialogState | None
    next: DialogState | None = None  # set by the caller to store it; None leaves the state alone
