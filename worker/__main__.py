"""The worker process: an RQ worker (with its scheduler) and the SQL sweeps."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from types import FrameType

import redis
from rq import SimpleWorker
from rq.exceptions import StopRequested

from intake.assembly import build_services
from intake.live import CommitSignal
from intake.logs import setup_logging
from intake.runtime import build_runtime, settle_heap
from intake.settings import from_env
from worker.context import set_runtime
from worker.relay import QUEUES, Sweeper
from worker.timers import run_timers

log = logging.getLogger("worker")
# Deadline colours and provisional deadlines are recomputed for every open ticket: a minute apart,
# not at each 5 s sweep (colours change over hours; with a thousand open tickets the recomputation
# was a quarter of the worker's time under `make chaos`). Minutes of the product's clock, so a dev
# clock moved forward refreshes them at the next sweep.
DEADLINES_EVERY = timedelta(minutes=1)


class Every:
    """True when called at least ``period`` after the last time it said True (first call: True)."""

    def __init__(self, period: timedelta, now: Callable[[], datetime]) -> None:
        self.period = period
        self.now = now
        self.last: datetime | None = None

    def __call__(self) -> bool:
        now = self.now()
        if self.last is not None and now - self.last < self.period:
            return False
        self.last = now
        return True


class HotlineWorker(SimpleWorker):
    """Remembers that a signal asked it to stop, which RQ's work() does not tell its caller, and
    leaves its command channel without waiting a minute (the tests' drain works with it too: a
    plain SimpleWorker could hold a burst's end for that minute)."""

    stop_asked = False

    def request_stop(self, signum: int, frame: FrameType | None) -> None:
        self.stop_asked = True
        super().request_stop(signum, frame)  # type: ignore[no-untyped-call]

    def unsubscribe(self) -> None:
        """RQ 3 unsubscribes, then stops the thread listening for its commands, and redis-py 8's
        ``stop()`` joins that thread. When the thread read the unsubscribe reply before the stop
        flag was set, it is already back in ``get_message(timeout=60)``, waiting up to 60 s for a
        subscription that never comes, and the worker with it: a SIGTERM took a minute (seen in
        about 1 in 7 runs of test_redis_restart under load; py-spy caught it there). Here the
        flag goes first, the unsubscribe reply wakes the thread to see it, and the wait for the
        thread is bounded: it is a daemon and cannot hold the process."""
        thread = self.pubsub_thread
        if thread is None:
            return
        thread.stop(timeout=0)  # only the flag: the thread ends at its next wake-up
        try:
            self.pubsub.unsubscribe()
        except redis.ConnectionError:
            pass  # Redis is gone: so is the connection the thread reads
        thread.join(timeout=2)
        self.pubsub.close()


def main() -> None:
    setup_logging("worker")
    runtime = build_runtime(from_env())
    set_runtime(runtime)
    services = build_services(runtime)
    set_runtime(runtime, services)
    settle_heap()
    deadlines_due = Every(DEADLINES_EVERY, runtime.clock.now)
    sweeper = Sweeper(
        runtime.store,
        runtime.redis,
        timers=lambda: run_timers(
            runtime,
            services.policy,
            with_deadlines=deadlines_due(),
            guard=services.intake.guard,
            clusters=services.intake.turn.clusters,
            duties=services.duties,
        ),
        stale_after=timedelta(seconds=runtime.settings.relay_stale_seconds),
    )
    sweeper.start()
    signal = CommitSignal(runtime.engine, runtime.redis)  # consoles update live (issue 20)
    # SimpleWorker on purpose: no fork, so no SQL connection is shared between a parent and its
    # work horse, and 4-6x the job rate of the forking Worker (issue "dispatch queue"). A job
    # killed with the process is run again by the outbox relay; every step is idempotent in SQL.
    worker: HotlineWorker | None = None
    try:
        while True:
            try:
                # Even the constructor talks to Redis (CLIENT SETNAME): it is inside the guard too.
                worker = HotlineWorker(
                    list(QUEUES), connection=runtime.redis, worker_ttl=60, maintenance_interval=60
                )
                worker.work(with_scheduler=True, logging_level="WARNING")
            except redis.ConnectionError:
                pass
            except Exception:
                # Any other error outside a job: Redis refusing writes while its disk is full
                # (make chaos, disk-full: "MISCONF"/"No space left" reached RQ's own bookkeeping
                # and the process exited, taking every Procfile process down with it).
                log.exception("the worker's loop failed")
            if worker is not None and worker.stop_asked:
                break  # SIGTERM / SIGINT
            # RQ's work() swallows any error it meets outside a job (a Redis restart among them:
            # "found an unhandled exception, quitting") and returns as if asked to stop. Only a
            # signal stops this process; anything else is a store that is away (the launcher
            # brings Redis back from its append-only file; a full disk gets room again), and
            # exiting would take every Procfile process down.
            log.warning("redis unavailable or refusing writes; the worker starts again in 2 s")
            time.sleep(2)
    except StopRequested:
        pass  # RQ's signal handler, still installed, found no job running (here, or while we waited)
    finally:
        if worker is not None and worker.scheduler is not None:
            # In case a signal lands between RQ starting the scheduler's process and the try that
            # tears it down. (Not the cause of stop 13's hang after all: see unsubscribe above.)
            worker.stop_scheduler()  # type: ignore[no-untyped-call]
        sweeper.stop()
        signal.close()
        runtime.close()


if __name__ == "__main__":
    main()
