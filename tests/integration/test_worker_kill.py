"""RELIABILITY.md Q1: SIGKILL the worker in the middle of a burst of 500 tickets and start it
again: every ticket dispatched exactly once, every acknowledgement delivered exactly once.
(The worker is an RQ SimpleWorker: there is no separate work horse to kill; the sweep in SQL
re-enqueues what the killed process had taken.)"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlalchemy import func, select

from intake.model import Address, Channel, DeliveryState, Field, TicketDraft, TicketStatus
from intake.runtime import Runtime
from intake.store.schema import messages_out, ticket_events, tickets
from tests.conftest import TEST_KEY

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow
N = 500


def start_worker(runtime: Runtime, tmp_path: Path, **extra: str) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    env.update(
        HOTLINE_DATA=str(tmp_path / "data"),
        DATABASE_URL=runtime.settings.database_url,
        REDIS_URL=runtime.settings.redis_url,
        HOTLINE_SECRET_KEY=TEST_KEY,
        HOTLINE_API_TOKEN="test-token-0123456789",
        HOTLINE_RELAY_STALE_SECONDS="5",
        **extra,
    )
    log = open(tmp_path / "worker.log", "ab")  # noqa: SIM115 - closed with the process
    return subprocess.Popen(
        [sys.executable, "-m", "hotline.worker"], cwd=ROOT, env=env, stdout=log, stderr=log
    )


def register_sms_tickets(store: Any, n: int, prefix: str) -> None:
    """``n`` registered complaints by SMS from ``prefix`` + four digits, waiting for dispatch."""
    for i in range(n):
        draft = TicketDraft(
            channel=Channel.SMS,
            address=Address(Channel.SMS, f"{prefix}{i:04d}"),
            policy="guangzhou",
            category="投诉",
            values={Field.CONTENT: f"第{i}号路灯不亮", Field.ADDRESS: f"幸福路{i}号", Field.SUBJECT: "路灯"},
        )
        store.register(store.create_ticket(draft), deadline=None, deadline_provisional=False)


def stop_workers(*workers: subprocess.Popen[bytes]) -> None:
    """SIGTERM to all, then wait for each; one that does not stop in 20 s is killed."""
    for w in workers:
        w.send_signal(signal.SIGTERM)
    for w in workers:
        try:
            w.wait(20)
        except subprocess.TimeoutExpired:
            w.kill()


def counts(runtime: Runtime) -> tuple[int, int]:
    with runtime.engine.connect() as conn:
        dispatched = conn.execute(
            select(func.count()).select_from(tickets).where(tickets.c.status == TicketStatus.DISPATCHED.value)
        ).scalar_one()
        delivered = conn.execute(
            select(func.count())
            .select_from(messages_out)
            .where(messages_out.c.kind == "dispatched", messages_out.c.state == DeliveryState.DELIVERED.value)
        ).scalar_one()
    return int(dispatched), int(delivered)


def test_sigkill_mid_burst_loses_and_repeats_nothing(
    runtime: Runtime, redis_client: redis.Redis, tmp_path: Path
) -> None:
    store = runtime.store
    register_sms_tickets(store, N, "+861390000")

    worker = start_worker(runtime, tmp_path)
    try:
        deadline = time.monotonic() + 120
        while counts(runtime)[0] < N // 5 and time.monotonic() < deadline:
            time.sleep(0.05)
        dispatched_before_kill = counts(runtime)[0]
        assert 0 < dispatched_before_kill < N, "the kill must land in the middle of the burst"
        worker.send_signal(signal.SIGKILL)
        worker.wait()
        restarted = time.monotonic()
        worker = start_worker(runtime, tmp_path)
        while counts(runtime) != (N, N) and time.monotonic() - restarted < 120:
            time.sleep(0.25)
        assert counts(runtime) == (N, N), (tmp_path / "worker.log").read_text()[-3000:]
    finally:
        stop_workers(worker)

    with runtime.engine.connect() as conn:
        per_ticket = Counter(
            conn.execute(
                select(ticket_events.c.ticket_id).where(ticket_events.c.type == "dispatched")
            ).scalars()
        )
        cols = (messages_out.c.idempotency_key, messages_out.c.state, messages_out.c.attempts)
        notices = conn.execute(select(*cols).where(messages_out.c.kind == "dispatched")).all()
    assert len(per_ticket) == N and set(per_ticket.values()) == {1}  # dispatched exactly once
    assert len({n.idempotency_key for n in notices}) == N == len(notices)  # one notice per ticket
    assert all(n.state == DeliveryState.DELIVERED.value for n in notices)
    assert all(n.attempts == 1 for n in notices)  # settled once: never delivered twice


def test_a_worker_killed_between_the_providers_accept_and_our_record_sends_nothing_twice(
    sqlite_runtime: Runtime, redis_client: redis.Redis, tmp_path: Path
) -> None:
    """Issue 18, counted at the far end: the SMS platform stand-in accepts a notice and answers
    late; the worker is SIGKILLed meanwhile. Two new workers find the row claimed and do not send
    it again; once the claim lapses it is ``uncertain`` for an agent, and the platform received it
    exactly once. A notice queued later goes out once through the two workers."""
    from intake.clock import OffsetClock
    from tests.support.sms_platform import SmsPlatformStandIn

    rt = sqlite_runtime
    phone = Address(Channel.SMS, "+8613800138000")
    ON_PLATFORM = "13800138000"
    with SmsPlatformStandIn(delay=6.0) as platform:
        env = {"HOTLINE_SMS": "http", "HOTLINE_SMS_API_URL": platform.url, "HOTLINE_DEV_CLOCK": "1"}
        with rt.store.tx():
            first, _ = rt.store.record_outbound(
                phone, "您的工单已办结，请评价。", key="k-kill-1", kind="notice"
            )
        (tmp_path / "a").mkdir()
        doomed = start_worker(rt, tmp_path / "a", **env)
        deadline = time.monotonic() + 60
        while not platform.to(ON_PLATFORM) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(platform.to(ON_PLATFORM)) == 1  # accepted by the platform, not yet answered
        doomed.kill()
        doomed.wait(10)
        assert rt.store.get_outbound(first).state is DeliveryState.SENDING

        workers = []
        for name in ("b", "c"):
            (tmp_path / name).mkdir()
            workers.append(start_worker(rt, tmp_path / name, **env))
        try:
            time.sleep(12)  # past the relay's stale window (5 s): both workers took the job again
            assert (
                len(platform.to(ON_PLATFORM)) == 1
                and rt.store.get_outbound(first).state is DeliveryState.SENDING
            )
            OffsetClock(redis_client).advance(3600)  # the claim's lease lapses on every process's clock
            deadline = time.monotonic() + 30
            while rt.store.get_outbound(first).state is DeliveryState.SENDING and time.monotonic() < deadline:
                time.sleep(0.25)
            assert rt.store.get_outbound(first).state is DeliveryState.UNCERTAIN

            with rt.store.tx():
                second, _ = rt.store.record_outbound(phone, "您的工单已延期。", key="k-kill-2", kind="notice")
            deadline = time.monotonic() + 60
            while (
                rt.store.get_outbound(second).state is not DeliveryState.DELIVERED
                and time.monotonic() < deadline
            ):
                time.sleep(0.25)
            time.sleep(8)  # room for a second send, were there one
        finally:
            stop_workers(*workers)
        texts = Counter(s.content for s in platform.to(ON_PLATFORM))
        assert texts == {"您的工单已办结，请评价。": 1, "您的工单已延期。": 1}


def test_ten_kills_at_random_points_apply_every_job_once_and_leave_no_false_failure(
    sqlite_runtime: Runtime, redis_client: redis.Redis, tmp_path: Path
) -> None:
    """RELIABILITY.md Q2. The worker is a SimpleWorker, so "the horse" and "the parent" are one
    process: it is SIGKILLed at ten random moments of a burst and started again each time.
    Counted at the SMS platform stand-in: no notice received twice, and each one either
    received once and delivered, or (killed between the platform's accept and our record)
    ``uncertain`` and shown to agents, at most one per kill: the rest of a dead worker's group
    goes out with the next (notifier.deliver.SendLog). Every ticket dispatched once. RQ's clean-up of the
    killed workers' jobs, run as it would be hours later, lists no job as failed or abandoned
    in the agents' console: the relay ran them again."""
    import random

    from rq import Queue
    from rq.registry import FailedJobRegistry, StartedJobRegistry

    from intake.clock import OffsetClock
    from notifier.deliver import LEASE
    from tests.support.sms_platform import SmsPlatformStandIn
    from worker.relay import QUEUES

    rt, n = sqlite_runtime, 300
    rng = random.Random(20261207)
    register_sms_tickets(rt.store, n, "+861390001")
    with SmsPlatformStandIn() as platform:
        env = {"HOTLINE_SMS": "http", "HOTLINE_SMS_API_URL": platform.url, "HOTLINE_DEV_CLOCK": "1"}
        kills = 0
        worker = start_worker(rt, tmp_path, **env)
        try:
            while kills < 10:
                before = len(platform.sent)
                deadline = time.monotonic() + 60
                while len(platform.sent) == before and time.monotonic() < deadline:
                    time.sleep(0.02)  # the new worker is at work
                time.sleep(rng.uniform(0.0, 0.4))
                worker.send_signal(signal.SIGKILL)
                worker.wait()
                kills += 1
                # The dead worker's claims lapse (on every process's clock) as the next one starts.
                OffsetClock(redis_client).advance(LEASE.total_seconds() + 1)
                worker = start_worker(rt, tmp_path, **env)
            assert len(platform.sent) < n, "the last kill must still land inside the burst"
            while counts(rt)[0] < n and time.monotonic() < deadline + 120:
                time.sleep(0.25)
            deadline = time.monotonic() + 180
            while time.monotonic() < deadline:
                dispatched, _ = counts(rt)
                settled = _notices_settled(rt)
                if dispatched == n and settled == n:
                    break
                time.sleep(0.25)
            time.sleep(3)  # room for a second send, were there one
        finally:
            stop_workers(worker)

        received = Counter(s.out_id for s in platform.sent)
    with rt.engine.connect() as conn:
        per_ticket = Counter(
            conn.execute(
                select(ticket_events.c.ticket_id).where(ticket_events.c.type == "dispatched")
            ).scalars()
        )
        notices = conn.execute(
            select(messages_out.c.idempotency_key, messages_out.c.state).where(
                messages_out.c.kind == "dispatched"
            )
        ).all()
    assert len(per_ticket) == n and set(per_ticket.values()) == {1}, (tmp_path / "worker.log").read_text()[
        -3000:
    ]
    assert len(notices) == n
    assert max(received.values()) == 1  # nothing received twice at the far end
    for key, state in notices:
        if state == DeliveryState.DELIVERED.value:
            assert received[key] == 1, key
        else:  # killed between the platform's accept and our record: one send at most, for an agent
            assert state == DeliveryState.UNCERTAIN.value and received[key] <= 1, (key, state)
    # a kill strands at most the one message its worker had handed over, not its whole group
    assert sum(state == DeliveryState.UNCERTAIN.value for _, state in notices) <= kills

    later = time.time() + 7 * 86400  # RQ's maintenance, long after every job's timeout
    for name in QUEUES:
        queue = Queue(name, connection=redis_client)
        StartedJobRegistry(queue=queue).cleanup(later)
        assert FailedJobRegistry(queue=queue).count == 0, name


def _notices_settled(rt: Runtime) -> int:
    """Acknowledgements that reached a final state (delivered, or uncertain for an agent)."""
    with rt.engine.connect() as conn:
        return int(
            conn.execute(
                select(func.count())
                .select_from(messages_out)
                .where(
                    messages_out.c.kind == "dispatched",
                    messages_out.c.state.in_([DeliveryState.DELIVERED.value, DeliveryState.UNCERTAIN.value]),
                )
            ).scalar_one()
        )
