"""Deliveries in groups (worker.relay.GROUPED): a burst of 150 replies goes out in a few RQ jobs,
each message exactly once, and one message whose channel refuses it fails for agents to see
without holding up the rest of its group. Real Redis, real SQL, the RQ SimpleWorker."""

from __future__ import annotations

from typing import Any

import pytest
from rq import Queue

from intake.clock import ManualClock
from intake.errors import PermanentFailure
from intake.model import Address, Channel, DeliveryState, StoredOutbound
from intake.runtime import Runtime
from notifier import deliver as deliver_module
from tests.support.journey import drain
from worker.__main__ import HotlineWorker
from worker.context import set_runtime
from worker.relay import GROUP_SIZE, QUEUES, relay_once

N = 150


class Recording:
    """An SMS provider stand-in that records what it is asked to send; refuses one number."""

    def __init__(self, refuse: str) -> None:
        self.refuse = refuse
        self.sent: list[str] = []

    def send(self, m: StoredOutbound) -> None:
        if m.address.value == self.refuse:
            raise PermanentFailure("number out of service")
        self.sent.append(m.idempotency_key)


def test_a_burst_of_replies_goes_in_a_few_jobs_each_once(
    runtime: Runtime, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    phones = [f"+86137{i:08d}" for i in range(N)]
    sms = Recording(refuse=phones[7])
    real = deliver_module.senders_for

    def senders(rt: Any) -> Any:
        return {**real(rt), Channel.SMS: sms}

    monkeypatch.setattr(deliver_module, "senders_for", senders)
    ids = [
        runtime.store.record_outbound(
            Address(Channel.SMS, p), f"您好，第{i}条回复", key=f"burst:{i}", kind="reply"
        )[0]
        for i, p in enumerate(phones)
    ]
    assert relay_once(runtime.store, runtime.redis) == N
    jobs = Queue("notify", connection=runtime.redis).job_ids
    assert len(jobs) == -(-N // GROUP_SIZE)  # 150 deliveries, 3 jobs
    set_runtime(runtime)
    HotlineWorker(list(QUEUES), connection=runtime.redis).work(burst=True, logging_level="WARNING")
    assert sorted(sms.sent) == sorted(f"burst:{i}" for i in range(N) if i != 7)  # each once
    states = [runtime.store.get_outbound(i).state for i in ids]
    assert states.count(DeliveryState.DELIVERED) == N - 1
    assert states[7] is DeliveryState.FAILED  # on the agents' failed list, not retried for ever
    clock.advance(61)  # past the relay's stale window: anything not done would go again
    drain(runtime)  # nothing is sent twice when the relay and the worker run again
    assert len(sms.sent) == N - 1
