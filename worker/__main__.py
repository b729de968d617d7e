"""The worker process: an RQ worker (with its scheduler) and the SQL sweeps."""

from __future__ import annotations

import logging
import time
from datetime import timedelta

import redis
from rq import SimpleWorker

from intake.assembly import build_services
from intake.logs import setup_logging
from intake.runtime import build_runtime, settle_heap
from intake.settings import from_env
from worker.context import set_runtime
from worker.relay import QUEUES, Sweeper
from worker.timers import run_timers

log = logging.getLogger("worker")


def main() -> None:
    setup_logging("worker")
    runtime = build_runtime(from_env())
    set_runtime(runtime)
    services = build_services(runtime)
    set_runtime(runtime, services)
    settle_heap()
    sweeper = Sweeper(
        runtime.store,
        runtime.redis,
        timers=lambda: run_timers(
            runtime, services.policy, guard=services.intake.guard, clusters=services.intake.clusters
        ),
        stale_after=timedelta(seconds=runtime.settings.relay_stale_seconds),
    )
    sweeper.start()
    # SimpleWorker on purpose: no fork, so no SQL connection is shared between a parent and its
    # work horse, and 4-6x the job rate of the forking Worker (issue "dispatch queue"). A job
    # killed with the process is run again by the outbox relay; every step is idempotent in SQL.
    try:
        while True:
            worker = SimpleWorker(
                list(QUEUES), connection=runtime.redis, worker_ttl=60, maintenance_interval=60
            )
            try:
                worker.work(with_scheduler=True, logging_level="WARNING")
                break  # asked to stop (SIGTERM / SIGINT)
            except redis.ConnectionError:
                # Redis restarting (the launcher brings it back from its append-only file): wait
                # and start again, rather than exiting and taking every process down with us.
                log.warning("redis unavailable; the worker starts again in 2 s")
                time.sleep(2)
    finally:
        sweeper.stop()
        runtime.close()


if __name__ == "__main__":
    main()
