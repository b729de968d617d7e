"""Evaluation prompts fanned out in chunks (issue 6, RELIABILITY.md L2): the provider's flow
control refuses some; they are retried later and delivered, each key accepted exactly once."""

from __future__ import annotations

from datetime import timedelta

from intake.clock import ManualClock
from intake.errors import RetryLater
from intake.model import Address, Channel, DeliveryState, Field, StoredOutbound, TicketDraft, TicketStatus
from intake.runtime import Runtime
from notifier.deliver import senders_for
from tests.support.journey import drain
from worker.context import set_runtime
from worker.fanout import queue_evaluation_prompts, send_evaluation_batch


class Provider:
    """The SMS stub behind a flow control that refuses every fifth key the first time."""

    def __init__(self) -> None:
        self.accepted: list[str] = []
        self.refused: set[str] = set()

    def send(self, m: StoredOutbound) -> None:
        if m.ticket_id is not None and m.ticket_id % 5 == 0 and m.idempotency_key not in self.refused:
            self.refused.add(m.idempotency_key)
            raise RetryLater("flow control", after=30)
        self.accepted.append(m.idempotency_key)


def test_refused_prompts_are_retried_later_and_nobody_gets_two(runtime: Runtime, clock: ManualClock) -> None:
    store = runtime.store
    ids = []
    for i in range(30):
        tid = store.create_ticket(
            TicketDraft(Channel.SMS, Address(Channel.SMS, f"+86137{i:08d}"), "guangzhou", category="求助",
                        values={Field.CONTENT: "路灯不亮"})
        )  # fmt: skip
        store.register(tid, deadline=None, deadline_provisional=False)
        store.update_ticket(tid, status=TicketStatus.COMPLETED)
        ids.append(tid)
    store.update_ticket(ids[1], status=TicketStatus.WITHDRAWN)  # withdrawn tickets are not evaluated
    set_runtime(runtime)
    assert queue_evaluation_prompts(runtime, ids, chunk=12) == 3
    provider = Provider()
    senders = {**senders_for(runtime), Channel.SMS: provider}
    keys = [
        j.key
        for j in store.outbox_to_enqueue(clock.now(), timedelta(seconds=60))
        if j.job == "evaluation_batch"
    ]
    for key in keys:
        send_evaluation_batch(runtime, key, senders)
    for key in keys:  # a chunk run twice changes nothing
        send_evaluation_batch(runtime, key, senders)
    refused = len(provider.refused)
    assert refused == 6
    assert len(provider.accepted) == 29 - refused
    clock.advance(31)  # not before the provider allows it
    drain(runtime)
    prompts = [m for t in ids for m in store.outbound_for(Address(Channel.SMS, f"+86137{ids.index(t):08d}"))]
    assert len(prompts) == 29
    assert all(m.state is DeliveryState.DELIVERED for m in prompts)
    assert len(set(provider.accepted)) == len(provider.accepted)
    assert all("1 非常满意 2 满意 3 基本满意 4 不满意 5 非常不满意" in m.text for m in prompts)
