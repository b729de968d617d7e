"""IntakeService: dialog turns in groups. Each sender's lock and dialog state (intake/states.py,
Redis) are taken for the group in one round trip; the turns (intake/turn.py) commit in one unit of
work; the new states are written as the locks are released. A turn that fails in the group is
taken again alone, and a turn that fails alone stores the message anyway, flagged, before the
error goes on: nothing is lost.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from intake.dialog import (
    DialogState,
    StepResult,
)
from intake.model import (
    InboundMessage,
)
from intake.states import DialogStates, Turn
from intake.turn import IntakeResult, TurnInput, TurnTaker

__all__ = ["IntakeResult", "IntakeService", "TurnInput"]

log = logging.getLogger(__name__)


class IntakeService:
    def __init__(self, states: DialogStates, turn: TurnTaker) -> None:
        """``turn`` takes each turn; its store, clock and guard serve the group as well."""
        self.states = states
        self.turn = turn
        self.store = turn.store
        self.clock = turn.clock
        self.guard = turn.guard

    def handle(
        self, msg: InboundMessage, *, stored_id: int | None = None, raw: str | None = None
    ) -> IntakeResult:
        """One inbound message (``handle_many`` of one)."""
        out = self.handle_many([TurnInput(msg, stored_id, raw)])[0]
        if isinstance(out, Exception):
            raise out
        return out

    def handle_many(self, items: Sequence[TurnInput]) -> list[IntakeResult | Exception]:
        """Many messages with group commit: one Redis round trip counts each message for the
        guard, locks every sender and reads their states, one query reads their tickets, one SQL
        transaction stores every turn, one more round trip writes the states back (issue 5: the
        hot path of a busy hour).

        Each result is what ``handle`` would have returned or raised for that message alone:
        messages of one sender are taken in order, one per round, and if the group's
        transaction fails, each of its messages is handled again on its own, so one bad message
        costs the others nothing but time."""
        results: list[IntakeResult | Exception | None] = [None] * len(items)
        pending = list(range(len(items)))
        now = self.clock.now()
        while pending:
            # One message per sender per round, in the order they came.
            keys: dict[str, int] = {}
            later = []
            for i in pending:
                key = self.store.address_key(items[i].msg.address)
                if key in keys:
                    later.append(i)
                else:
                    keys[key] = i
            for i, out in self._round(keys, items, now).items():
                results[i] = out
            pending = later
        return [r if r is not None else RuntimeError("turn not handled") for r in results]

    def _round(
        self, keys: dict[str, int], items: Sequence[TurnInput], now: datetime
    ) -> dict[int, IntakeResult | Exception]:
        """Messages of distinct senders (address key → index), together; a sender the guard
        stops is stored and marked; those that cannot go together (another process holds the
        sender, the step or the group failed) go one by one."""
        out: dict[int, IntakeResult | Exception] = {}
        guard = self.guard
        rate_keys = (lambda key: guard.redis_keys(key, now)) if guard is not None else None
        with self.states.turns(list(keys), wait=False, rate_keys=rate_keys) as entered:
            if guard is not None:
                for key, i in keys.items():
                    it = items[i]
                    count, mirrored = entered.counts[key]
                    verdict = guard.judge(it.msg.address, key, count, mirrored, now)
                    if not verdict.allowed:
                        out[i] = _outcome(
                            self.turn.refused,
                            it.msg,
                            it.stored_id,
                            it.raw,
                            verdict.flag,
                            verdict.reply,
                        )
            together = {k: i for k, i in keys.items() if k in entered.got and i not in out}
            if together:
                try:
                    out.update(self._together(together, entered.got, items, now))
                except Exception:
                    n = len(together)
                    log.warning(
                        "a group of %d turns failed together; taking them one by one", n, exc_info=True
                    )
        for i in keys.values():
            if i not in out:
                out[i] = _outcome(self._alone, items[i], now)
        return out

    def _together(
        self,
        keys: dict[str, int],
        turns: dict[str, Turn],
        items: Sequence[TurnInput],
        now: datetime,
    ) -> dict[int, IntakeResult | Exception]:
        """Turns of locked senders in one transaction; the new states are set on ``turns``
        once it is committed (the caller writes them as it unlocks)."""
        out: dict[int, IntakeResult | Exception] = {}
        steps: dict[str, StepResult] = {}
        briefs = self.turn.seen(list(keys))
        handled = self._done_already([items[i] for i in keys.values()])
        for key, i in keys.items():
            stored_id = items[i].stored_id
            if stored_id in handled:
                out[i] = IntakeResult(stored_id, (), None, duplicate=True)
                continue
            try:
                steps[key] = self.turn.step(items[i].msg, turns[key].state, briefs[key], now)
            except Exception:  # taken alone, where the failure is stored and told
                log.debug("step failed in a group; retried alone", exc_info=True)
        nexts: dict[str, DialogState | None] = {}
        with self.store.tx():
            for key, result in steps.items():
                i = keys[key]
                out[i], nexts[key] = self.turn.commit(items[i], result, now)
        for key, state in nexts.items():  # only once the group is committed
            turns[key].next = state
        for key, result in steps.items():
            i = keys[key]
            committed = out[i]
            if isinstance(committed, IntakeResult) and not committed.duplicate:
                out[i] = self.turn.after(items[i].msg, result, committed, now)
        return out

    def _alone(self, item: TurnInput, now: datetime) -> IntakeResult:
        msg = item.msg
        key = self.store.address_key(msg.address)
        with self.states.turns([key], wait=True) as entered:
            turn = entered.got[key]
            if item.stored_id is not None and self._done_already([item]):
                return IntakeResult(item.stored_id, (), None, duplicate=True)
            try:
                result = self.turn.step(msg, turn.state, self.turn.seen([key])[key], now)
                with self.store.tx():
                    done, next_state = self.turn.commit(item, result, now)
            except Exception:
                # Whatever failed, the citizen's message is kept (and marked) before the error goes on.
                if item.stored_id is None:
                    self.store.save_inbound(msg, raw=item.raw, flags="failed")
                raise
            turn.next = next_state
        return done if done.duplicate else self.turn.after(msg, result, done, now)

    def _done_already(self, items: Sequence[TurnInput]) -> set[int]:
        """Stored messages a committed turn has handled: a job run twice, or by two workers at
        once (RELIABILITY.md Q4). Asked under the senders' locks, so the answer holds."""
        stored = [it.stored_id for it in items if it.stored_id is not None]
        return self.store.processed_ids(stored) if stored else set()


def _outcome(fn: Callable[..., IntakeResult], *args: Any, **kwargs: Any) -> IntakeResult | Exception:
    try:
        return fn(*args, **kwargs)
    except Exception as e:  # handed to the caller of handle_many, raised by handle
        return e
