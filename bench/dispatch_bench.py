"""Dispatch throughput of one worker next to RQ's own no-op rate, same worker class, same run.

    .venv/bin/python bench/dispatch_bench.py [--tickets 2000] [--noop 2000]

Real parts: an embedded redis-server, a SQLite file (WAL), the real dispatch step (routing,
the exact deadline, the citizen's notice stored and delivered to the SMS stub). Prints figures
and the ratio; asserts nothing (targets live here, not in unit tests).
"""

from __future__ import annotations

import argparse
import base64
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rq import Queue, SimpleWorker

from hotline.embedded_redis import EmbeddedRedis
from intake.assembly import build_services
from intake.model import Address, Channel, Field
from intake.runtime import build_runtime
from intake.settings import from_env
from intake.store.db import migrate
from intake.store.sql import TicketDraft
from worker.context import set_runtime
from worker.relay import QUEUES, relay_once


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tickets", type=int, default=2000)
    ap.add_argument("--noop", type=int, default=2000)
    ap.add_argument("--profile", action="store_true", help="cProfile the dispatch drain")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        server = EmbeddedRedis(data)
        server.start()
        try:
            url = f"sqlite:///{data / 'bench.sqlite3'}"
            migrate(url)
            settings = from_env(
                {
                    "HOTLINE_DATA": str(data),
                    "DATABASE_URL": url,
                    "REDIS_URL": server.url,
                    "HOTLINE_SECRET_KEY": base64.urlsafe_b64encode(b"b" * 32).decode(),
                    "HOTLINE_API_TOKEN": "bench-token-0123456789",
                }
            )
            rt = build_runtime(settings)
            set_runtime(rt, build_services(rt))  # as the worker process does at start-up

            q = Queue("default", connection=rt.redis)
            for _ in range(args.noop):
                q.enqueue("os.getpid")  # a true no-op job RQ can import
            t0 = time.perf_counter()
            SimpleWorker(["default"], connection=rt.redis).work(burst=True, logging_level="WARNING")
            noop_rate = args.noop / (time.perf_counter() - t0)

            for i in range(args.tickets):
                tid = rt.store.create_ticket(
                    TicketDraft(
                        channel=Channel.SMS,
                        address=Address(Channel.SMS, f"+86139{i:08d}"),
                        policy="guangzhou",
                        category="投诉",
                        values={
                            Field.CONTENT: f"幸福路{i}号烧烤油烟扰民",
                            Field.SUBJECT: "烧烤店",
                            Field.ADDRESS: f"幸福路{i}号",
                        },
                    )
                )
                rt.store.register(tid, deadline=None, deadline_provisional=False)
            relay_once(rt.store, rt.redis, limit=args.tickets)
            jobs = sum(Queue(n, connection=rt.redis).count for n in QUEUES)
            t0 = time.perf_counter()
            if args.profile:
                import cProfile
                import pstats

                prof = cProfile.Profile()
                prof.enable()
            SimpleWorker(["dispatch"], connection=rt.redis).work(burst=True, logging_level="WARNING")
            if args.profile:
                prof.disable()
                pstats.Stats(prof).sort_stats("cumulative").print_stats(35)
            dispatch_rate = args.tickets / (time.perf_counter() - t0)
            print(f"RQ SimpleWorker no-op jobs: {noop_rate:8.0f} jobs/s ({args.noop} jobs)")
            print(f"dispatch jobs (one worker): {dispatch_rate:8.0f} jobs/s ({jobs} jobs, SQLite)")
            print(f"ratio dispatch / no-op:     {dispatch_rate / noop_rate:8.1%}  (target >= 60%)")
            rt.close()
        finally:
            server.stop()


if __name__ == "__main__":
    main()
