"""Dispatch throughput of one worker next to RQ's own no-op rate, same worker class, same run.

    .venv/bin/python bench/dispatch_bench.py [--tickets 2000] [--rounds 4] [--profile]

Real parts: an embedded redis-server, a SQLite file (WAL), the real dispatch step (routing,
the exact deadline, the citizen's notice stored with its delivery job). Like with like: one
``SimpleWorker`` class, one Redis, and the no-op jobs carry the outbox jobs' own RQ options
(``worker.relay.JOB_OPTIONS``: retry, result TTL, failure TTL). The two are measured in
alternating rounds (``--rounds``, order swapped each round) so that load from other processes
on a shared machine falls on both alike; each drain is a burst of one fresh worker.

Afterwards it checks the work was done (every ticket dispatched once, one notice each) and
delivers the notices to the SMS stub through the notify queue, reported apart. Prints figures
and the ratio; asserts nothing (targets live here, not in unit tests).
"""

from __future__ import annotations

import argparse
import base64
import cProfile
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rq import Queue, SimpleWorker
from sqlalchemy import func, select

from hotline.embedded_redis import EmbeddedRedis
from intake.assembly import build_services
from intake.model import Address, Channel, DeliveryState, Field, TicketDraft, TicketStatus
from intake.runtime import Runtime, build_runtime
from intake.settings import from_env
from intake.store.db import migrate
from intake.store.schema import messages_out, outbox, ticket_events, tickets
from worker.context import set_runtime
from worker.relay import JOB_OPTIONS, relay_once


def drain(rt: Runtime, queue: str, profile: cProfile.Profile | None = None) -> float:
    """Seconds for one fresh SimpleWorker to empty ``queue`` (burst mode)."""
    t0 = time.perf_counter()
    if profile is not None:
        profile.enable()
    SimpleWorker([queue], connection=rt.redis).work(burst=True, logging_level="WARNING")
    if profile is not None:
        profile.disable()
    return time.perf_counter() - t0


def make_tickets(rt: Runtime, n: int) -> None:
    for i in range(n):
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


def check(rt: Runtime, n: int) -> dict[str, Any]:
    """What the dispatch jobs left in SQL, and the notices delivered (drained apart)."""
    with rt.engine.connect() as conn:

        def count(stmt: object) -> int:
            return int(conn.execute(stmt).scalar_one())  # type: ignore[call-overload]

        dispatched = count(select(func.count()).where(tickets.c.status == TicketStatus.DISPATCHED.value))
        events = count(select(func.count()).where(ticket_events.c.type == "dispatched"))
        notices = count(select(func.count()).where(messages_out.c.kind == "dispatched"))
        open_steps = count(select(func.count()).where(outbox.c.job == "dispatch", outbox.c.done_at.is_(None)))
    relay_once(rt.store, rt.redis, limit=10 * n)  # the notices' delivery jobs
    seconds = drain(rt, "notify")
    with rt.engine.connect() as conn:
        delivered = int(
            conn.execute(
                select(func.count()).where(
                    messages_out.c.kind == "dispatched",
                    messages_out.c.state == DeliveryState.DELIVERED.value,
                )
            ).scalar_one()
        )
    return {
        "dispatched": dispatched,
        "events": events,
        "notices": notices,
        "open_steps": open_steps,
        "delivered": delivered,
        "deliveries_per_second": delivered / seconds,
        "ok": dispatched == events == notices == delivered == n and open_steps == 0,
    }


def measure(tickets: int = 2000, rounds: int = 4, profile: bool = False) -> dict[str, Any]:
    """Alternating rounds of no-op and dispatch drains, then the check; the figures as a dict."""
    per_round = tickets // rounds
    total = per_round * rounds
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
            make_tickets(rt, total)
            profiler = cProfile.Profile() if profile else None

            noop_q = Queue("default", connection=rt.redis)
            noop_s = dispatch_s = 0.0
            ratios: list[float] = []
            for r in range(rounds):
                for i in range(per_round):
                    # a true no-op RQ can import, with the outbox jobs' options and id shape
                    noop_q.enqueue("os.getpid", job_id=f"ob-noop-{r}-{i}", **JOB_OPTIONS)
                relay_once(rt.store, rt.redis, limit=per_round)  # the next dispatch jobs
                if r % 2 == 0:
                    n_s = drain(rt, "default")
                    d_s = drain(rt, "dispatch", profiler)
                else:
                    d_s = drain(rt, "dispatch", profiler)
                    n_s = drain(rt, "default")
                noop_s += n_s
                dispatch_s += d_s
                ratios.append(n_s / d_s)
            if profiler is not None:
                pstats.Stats(profiler).sort_stats("cumulative").print_stats(35)
            checked = check(rt, total)
            rt.close()
        finally:
            server.stop()
    noop_rate, dispatch_rate = total / noop_s, total / dispatch_s
    return {
        "settings": {"tickets": tickets, "rounds": rounds},
        "jobs": total,
        "noop_rate": noop_rate,
        "dispatch_rate": dispatch_rate,
        "ratio": dispatch_rate / noop_rate,
        "round_ratios": ratios,
        "check": checked,
    }


def report(fig: dict[str, Any]) -> None:
    total, ratios, c = fig["jobs"], fig["round_ratios"], fig["check"]
    print(f"RQ SimpleWorker no-op jobs: {fig['noop_rate']:8.0f} jobs/s ({total} jobs)")
    print(f"dispatch jobs (one worker): {fig['dispatch_rate']:8.0f} jobs/s ({total} jobs, SQLite)")
    print(
        f"ratio dispatch / no-op:     {fig['ratio']:8.1%}  (target >= 60%); "
        f"per round {min(ratios):.0%}-{max(ratios):.0%}, median {statistics.median(ratios):.0%}"
    )
    print(
        f"check: {c['dispatched']} dispatched, {c['events']} events, {c['notices']} notices stored, "
        f"{c['open_steps']} steps open, {c['delivered']} delivered to the SMS stub "
        f"({c['deliveries_per_second']:.0f} deliver jobs/s) -> {'ok' if c['ok'] else 'MISMATCH'}"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tickets", type=int, default=2000, help="dispatch jobs (and as many no-op jobs)")
    ap.add_argument("--rounds", type=int, default=4, help="alternating rounds the jobs are split into")
    ap.add_argument("--profile", action="store_true", help="cProfile the dispatch drains")
    args = ap.parse_args()
    report(measure(args.tickets, args.rounds, args.profile))


if __name__ == "__main__":
    main()
