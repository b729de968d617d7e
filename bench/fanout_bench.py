"""Fan-out of evaluation prompts to the SMS stub (issue 6 target: 100 000 in <= 60 s), with the
stub refusing 1 % (flow control) the first time: those are retried later and none is dropped.

    .venv/bin/python bench/fanout_bench.py [--tickets 100000]

Real parts: an embedded redis-server, a SQLite file (WAL), one RQ SimpleWorker draining the
notify queue, the real batch step (worker/fanout.py). Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import base64
import sys
import tempfile
import time
import zlib
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rq import SimpleWorker
from sqlalchemy import func, insert, select

from hotline.embedded_redis import EmbeddedRedis
from intake.assembly import build_services
from intake.errors import RetryLater
from intake.model import Address, Channel, DeliveryState, StoredOutbound, TicketStatus
from intake.runtime import build_runtime
from intake.settings import from_env
from intake.store.db import migrate
from intake.store.schema import messages_out
from intake.store.schema import tickets as tickets_table
from notifier import deliver as deliver_module
from worker.context import set_runtime
from worker.fanout import queue_evaluation_prompts
from worker.relay import relay_once


class FlowControlledStub:
    """The SMS stub, refusing 1 % of keys the first time they are offered (a provider's flow
    control code), and counting how often each key was accepted."""

    def __init__(self) -> None:
        self.accepted: dict[str, int] = {}
        self.refused: set[str] = set()

    def send(self, m: StoredOutbound) -> None:
        key = m.idempotency_key
        if zlib.crc32(key.encode()) % 100 == 0 and key not in self.refused:
            self.refused.add(key)
            raise RetryLater("flow control", after=0)
        self.accepted[key] = self.accepted.get(key, 0) + 1


def measure(tickets: int = 100_000, progress: Callable[[str], None] = print) -> dict[str, Any]:
    """Seed the completed tickets, fan the prompts out, drain until all are delivered (or 300 s);
    the figures as a dict."""
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        server = EmbeddedRedis(data)
        server.start()
        try:
            url = f"sqlite:///{data / 'bench.sqlite3'}"
            migrate(url)
            rt = build_runtime(
                from_env(
                    {
                        "HOTLINE_DATA": str(data),
                        "DATABASE_URL": url,
                        "REDIS_URL": server.url,
                        "HOTLINE_SECRET_KEY": base64.urlsafe_b64encode(b"f" * 32).decode(),
                        "HOTLINE_API_TOKEN": "bench-token-0123456789",
                    }
                )
            )
            set_runtime(rt, build_services(rt))
            stub = FlowControlledStub()
            senders = deliver_module.senders_for(rt)
            senders[Channel.SMS] = stub  # the named stub, wrapped to refuse 1 %

            t0 = time.perf_counter()
            now = rt.clock.now()
            rows = []
            for i in range(tickets):
                phone = f"+86139{i:08d}"
                rows.append(
                    {
                        "number": f"{now:%Y%m%d}-{i + 1:06d}",
                        "status": TicketStatus.COMPLETED.value,
                        "category": "投诉",
                        "channel": Channel.SMS.value,
                        "address_key": rt.store.address_key(Address(Channel.SMS, phone)),
                        "address_enc": rt.cipher.encrypt(phone),
                        "policy": "guangzhou",
                        "anonymous": False,
                        "hidden_fields": "",
                        "created_at": now,
                        "registered_at": now,
                        "updated_at": now,
                        "evaluation_due_at": now + timedelta(days=5),
                        "extensions": 0,
                        "rehandling_round": 0,
                        "returns": 0,
                        "deadline_provisional": False,
                        "version": 1,
                    }
                )
            with rt.engine.begin() as conn:  # seeding the bench, beside the product
                conn.execute(insert(tickets_table), rows)
                ids = list(conn.execute(select(tickets_table.c.id)).scalars())
            setup_s = time.perf_counter() - t0
            progress(f"setup: {tickets} completed tickets in {setup_s:.1f} s")

            t0 = time.perf_counter()
            chunks = queue_evaluation_prompts(rt, ids)
            first_pass = None
            while True:
                relay_once(rt.store, rt.redis, stale_after=timedelta(seconds=1), limit=5000)
                SimpleWorker(["notify"], connection=rt.redis).work(burst=True, logging_level="WARNING")
                with rt.engine.connect() as conn:
                    done = conn.execute(
                        select(func.count())
                        .select_from(messages_out)
                        .where(messages_out.c.state == DeliveryState.DELIVERED.value)
                    ).scalar_one()
                if first_pass is None and done >= 0.99 * len(ids):
                    first_pass = time.perf_counter() - t0
                if done >= len(ids) or time.perf_counter() - t0 > 300:
                    break
            total = time.perf_counter() - t0
            rt.close()
        finally:
            server.stop()
    return {
        "settings": {"tickets": tickets},
        "setup_seconds": setup_s,
        "chunks": chunks,
        "first_99_seconds": first_pass if first_pass is not None else total,
        "all_seconds": total,
        "delivered": int(done),
        "refused_once": len(stub.refused),
        "accepted_twice": sum(1 for n in stub.accepted.values() if n > 1),
        "rate": done / total,
    }


def report(fig: dict[str, Any]) -> None:
    print(f"chunks: {fig['chunks']} jobs of up to 2000 prompts")
    print(f"99 % accepted by the stub after {fig['first_99_seconds']:.1f} s (target <= 60 s)")
    print(
        f"all {fig['delivered']} delivered after {fig['all_seconds']:.1f} s; "
        f"refused once and retried: {fig['refused_once']}"
    )
    print(f"keys accepted more than once: {fig['accepted_twice']}; rate {fig['rate']:.0f} prompts/s")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tickets", type=int, default=100_000)
    args = ap.parse_args()
    report(measure(args.tickets))


if __name__ == "__main__":
    main()
