"""RELIABILITY.md Q4: every dispatch job enqueued twice, two worker processes on one queue: each
ticket's step takes effect exactly once."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import pytest
import redis
from rq import Queue, Retry
from sqlalchemy import select

from intake.model import Address, Channel, DeliveryState, Field, TicketDraft
from intake.runtime import Runtime
from intake.store.schema import messages_out, ticket_events
from tests.integration.test_worker_kill import counts, start_worker, stop_workers

pytestmark = pytest.mark.slow
N = 150


def test_duplicate_jobs_on_two_workers_take_effect_once(
    runtime: Runtime, redis_client: redis.Redis, tmp_path: Path
) -> None:
    store = runtime.store
    q = Queue("dispatch", connection=runtime.redis)
    for i in range(N):
        tid = store.create_ticket(
            TicketDraft(Channel.SMS, Address(Channel.SMS, f"+86134{i:08d}"), "guangzhou", category="投诉",
                        values={Field.CONTENT: "烧烤油烟扰民", Field.ADDRESS: f"幸福路{i}号"})
        )  # fmt: skip
        store.register(tid, deadline=None, deadline_provisional=False)
        for copy in ("a", "b"):  # the same step twice, as a relay racing a restart would
            q.enqueue(
                "worker.jobs.run_outbox", f"dispatch:{tid}", job_id=f"dup-{tid}-{copy}", retry=Retry(max=3)
            )
    for k in range(2):
        (tmp_path / f"w{k}").mkdir()
    workers = [start_worker(runtime, tmp_path / f"w{k}") for k in range(2)]
    try:
        deadline = time.monotonic() + 120
        while counts(runtime) != (N, N) and time.monotonic() < deadline:
            time.sleep(0.25)
    finally:
        stop_workers(*workers)
    assert counts(runtime) == (N, N)
    with runtime.engine.connect() as conn:
        per_ticket = Counter(
            conn.execute(
                select(ticket_events.c.ticket_id).where(ticket_events.c.type == "dispatched")
            ).scalars()
        )
        states = Counter(
            conn.execute(select(messages_out.c.state).where(messages_out.c.kind == "dispatched")).scalars()
        )
    assert len(per_ticket) == N and set(per_ticket.values()) == {1}
    assert states == {DeliveryState.DELIVERED.value: N}
