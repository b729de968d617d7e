"""The worker process: an RQ worker (with its scheduler) and the SQL sweeps."""

from __future__ import annotations

import logging

from rq import SimpleWorker

from intake.runtime import build_runtime
from intake.settings import from_env
from worker.context import set_runtime
from worker.relay import QUEUES, Sweeper

log = logging.getLogger("worker")


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s worker %(levelname)s %(name)s %(message)s")
    runtime = build_runtime(from_env())
    set_runtime(runtime)
    sweeper = Sweeper(runtime.store, runtime.redis)
    sweeper.start()
    # SimpleWorker on purpose: no fork, so no SQL connection is shared between a parent and its
    # work horse, and 4-6x the job rate of the forking Worker (issue "dispatch queue"). A job
    # killed with the process is run again by the outbox relay; every step is idempotent in SQL.
    worker = SimpleWorker(list(QUEUES), connection=runtime.redis, worker_ttl=60, maintenance_interval=60)
    try:
        worker.work(with_scheduler=True, logging_level="INFO")
    finally:
        sweeper.stop()
        runtime.close()


if __name__ == "__main__":
    main()
