"""The outbox relay: SQL is the source of truth, the RQ queue only a copy.

Rows never enqueued, or enqueued long ago and not done (Redis flushed, worker killed), are put
on the queue again under a fixed job id; jobs are idempotent in SQL, so a second run changes
nothing (RELIABILITY.md §1-2).
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from redis import Redis
from rq import Queue, Retry

from intake.model import OutboxJob
from intake.store.sql import SqlStore
from worker.steps import GROUP_STEPS

log = logging.getLogger(__name__)

QUEUE_FOR_JOB = {
    "dispatch": "dispatch",
    "deliver": "notify",
    "notice": "notify",
    "evaluation_batch": "notify",
    "feed": "notify",
    "mail_inbound": "intake",
    "telegram_inbound": "intake",
}
QUEUES = ("intake", "dispatch", "notify", "default")
STALE_AFTER = timedelta(seconds=60)
RELAY_BATCH = 500  # outbox rows per relay round
# Every outbox job's RQ options (bench/dispatch_bench.py gives its no-op jobs the same ones).
JOB_OPTIONS: dict[str, Any] = {
    "retry": Retry(max=5, interval=[2, 5, 15, 30, 60]),
    "result_ttl": 60,  # the result lives in SQL (0 would make RQ delete the job: more round trips)
    "failure_ttl": 7 * 86400,
}


# Dialog turns of stored messages run in groups (IntakeService.handle_many): one RQ job, one
# SQL transaction and two Redis round trips for up to GROUP_SIZE mails or Telegram updates.
# Deliveries go in groups too: one RQ job costs more than a stub send (worker.steps.deliver_group).
GROUPED = frozenset(GROUP_STEPS)
GROUP_SIZE = 64


def job_id(key: str) -> str:
    return "ob-" + key.replace(":", "-")


def group_job_id(keys: list[str]) -> str:
    """The same keys give the same id: a group enqueued twice is on the queue once."""
    return "obg-" + hashlib.sha256("\n".join(keys).encode()).hexdigest()[:32]


def relay_once(
    store: SqlStore, redis: Redis, *, stale_after: timedelta = STALE_AFTER, limit: int = RELAY_BATCH
) -> int:
    """Enqueue what the outbox holds and the queue may not; returns how many were enqueued."""
    jobs: list[OutboxJob] = store.outbox_to_enqueue(store.clock.now(), stale_after, limit)
    if not jobs:
        return 0
    queues: dict[str, Queue] = {}
    with redis.pipeline() as pipe:
        groups: dict[tuple[str, str], list[str]] = {}  # (queue, kind): one kind to a group job
        for job in jobs:
            qname = QUEUE_FOR_JOB.get(job.job, "default")
            q = queues.setdefault(qname, Queue(qname, connection=redis))
            if job.job in GROUPED:
                groups.setdefault((qname, job.job), []).append(job.key)
                continue
            q.enqueue("worker.jobs.run_outbox", job.key, job_id=job_id(job.key), pipeline=pipe, **JOB_OPTIONS)
        for (qname, _kind), keys in groups.items():
            for i in range(0, len(keys), GROUP_SIZE):
                chunk = keys[i : i + GROUP_SIZE]
                queues[qname].enqueue(
                    "worker.jobs.run_outbox_group",
                    chunk,
                    job_id=group_job_id(chunk),
                    pipeline=pipe,
                    **JOB_OPTIONS,
                )
        pipe.execute()
    store.mark_enqueued([j.id for j in jobs])
    return len(jobs)


class Sweeper(threading.Thread):
    """Runs the relay every ``interval`` seconds and the timer sweeps every ``timer_interval``
    until stopped. A store outage must not kill it: it logs and tries again next tick."""

    def __init__(
        self,
        store: SqlStore,
        redis: Redis,
        timers: Callable[[], object] | None = None,
        interval: float = 0.2,
        timer_interval: float = 5.0,
        stale_after: timedelta = STALE_AFTER,
    ) -> None:
        super().__init__(name="sweeper", daemon=True)
        self.store = store
        self.redis = redis
        self.timers = timers
        self.interval = interval
        self.timer_interval = timer_interval
        self.stale_after = stale_after
        self.stopped = threading.Event()

    def run(self) -> None:
        last_timers = 0.0
        while not self.stopped.wait(self.interval):
            try:
                # A full batch means more is waiting (a burst of mail): go on at once.
                while relay_once(self.store, self.redis, stale_after=self.stale_after) >= RELAY_BATCH:
                    pass
                if self.timers is not None and time.monotonic() - last_timers >= self.timer_interval:
                    last_timers = time.monotonic()
                    self.timers()
            except Exception:
                log.exception("sweep failed")

    def stop(self) -> None:
        self.stopped.set()
