"""RELIABILITY.md R2: FLUSHALL in the middle of a burst (an empty replica took over). SQL is the
system of record: the relay puts back what the queue lost; every ticket is dispatched once and
every notice delivered once."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import redis
from sqlalchemy import select

from intake.clock import ManualClock
from intake.model import Address, Channel, DeliveryState, Field, TicketDraft
from intake.runtime import Runtime
from intake.store.schema import messages_out, ticket_events
from worker.__main__ import HotlineWorker
from worker.context import set_runtime
from worker.relay import QUEUES, relay_once

N = 200


def test_a_flushed_redis_loses_no_ticket_and_repeats_nothing(
    runtime: Runtime, redis_client: redis.Redis, clock: ManualClock
) -> None:
    store = runtime.store
    for i in range(N):
        tid = store.create_ticket(
            TicketDraft(Channel.SMS, Address(Channel.SMS, f"+86136{i:08d}"), "guangzhou", category="投诉",
                        values={Field.CONTENT: f"幸福路{i}号烧烤油烟扰民", Field.ADDRESS: f"幸福路{i}号"})
        )  # fmt: skip
        store.register(tid, deadline=None, deadline_provisional=False)
    set_runtime(runtime)
    assert relay_once(store, runtime.redis, limit=N) == N
    HotlineWorker(list(QUEUES), connection=runtime.redis).work(
        burst=True, max_jobs=N // 2, logging_level="WARNING"
    )
    redis_client.flushall()  # the queue, its jobs and the dialog states are gone
    clock.advance(61)  # the relay's stale window (60 s) passes
    for _ in range(4):
        relay_once(store, runtime.redis, stale_after=timedelta(seconds=60), limit=5 * N)
        HotlineWorker(list(QUEUES), connection=runtime.redis).work(burst=True, logging_level="WARNING")
        clock.advance(61)
    with runtime.engine.connect() as conn:
        dispatched = Counter(
            conn.execute(
                select(ticket_events.c.ticket_id).where(ticket_events.c.type == "dispatched")
            ).scalars()
        )
        notices = conn.execute(
            select(messages_out.c.state, messages_out.c.attempts).where(messages_out.c.kind == "dispatched")
        ).all()
    assert len(dispatched) == N and set(dispatched.values()) == {1}
    assert len(notices) == N
    assert {n.state for n in notices} == {DeliveryState.DELIVERED.value}
    assert {n.attempts for n in notices} == {1}


def test_a_redis_that_forgot_its_scripts_still_takes_every_turn(
    runtime: Runtime, redis_client: redis.Redis
) -> None:
    """A restarted Redis (or SCRIPT FLUSH) knows none of the dialog's scripts: the next turn
    loads them again and goes on, counted once by the rate guard, its state kept."""
    from intake.assembly import build_services
    from intake.model import InboundMessage

    service = build_services(runtime).intake
    me = Address(Channel.WEBCHAT, "forgetful-redis")
    first = service.handle(InboundMessage(me, "我要投诉，小区楼下烧烤店每晚油烟很大", runtime.clock.now()))
    assert first.ticket is not None and first.ticket.number is None  # asked for what is missing
    redis_client.script_flush()
    second = service.handle(
        InboundMessage(me, "电话13912345678，地址：幸福小区3栋，希望尽快处理", runtime.clock.now()),
    )
    assert second.ticket is not None and second.ticket.number  # the state survived: registered
    counters = [k for k in redis_client.scan_iter("hotline:rl:msg:*")]
    assert [int(redis_client.get(k) or 0) for k in counters] == [2]  # each message counted once
