"""SMTP intake benchmark: messages/s from submission to stored ticket, next to a bare aiosmtpd.

Loopback only, bounded in time. In one run:

1. **bare**: an aiosmtpd server whose handler answers 250 and discards the message;
2. **accept**: the product's smtp handler (``channels.smtp.make_server_factory``): each 250 is
   answered after the raw message and its job are committed to SQL (SQLite under a temp dir);
3. **stored ticket**: the same messages worked by the real RQ worker code (in-process, burst
   mode) until each has become a draft ticket with its reply queued: end-to-end rate =
   messages / (accept time + drain time).

The same client drives 1 and 2: ``--clients`` threads, each an smtplib connection sending
distinct citizens' complaints. Prints each rate and its ratio to the bare rate (target for the
stored-ticket rate: ≥ 30 %).

    .venv/bin/python -m bench.smtp_bench --messages 400 --clients 4
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import smtplib
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

MAILBOX = "12345@hotline.local"


class Discard:
    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        return "250 OK"


def complaint(i: int) -> tuple[str, bytes]:
    sender = f"citizen{i}@example.cn"
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = MAILBOX
    msg["Subject"] = "投诉噪音"
    msg["Message-ID"] = make_msgid(domain="example.cn")
    msg.set_content(f"我要投诉，第{i}号楼下烧烤店每晚油烟很大，影响休息。")
    return sender, msg.as_bytes()


class LoopThread:
    """An event loop in a thread serving one or more SMTP servers."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def serve(self, factory: Callable[[], Any]) -> tuple[Any, int]:
        async def start() -> Any:
            return await self.loop.create_server(factory, host="127.0.0.1", port=0)

        server = asyncio.run_coroutine_threadsafe(start(), self.loop).result(10)
        return server, int(server.sockets[0].getsockname()[1])

    def close(self, server: Any) -> None:
        async def stop() -> None:
            server.close()
            await server.wait_closed()

        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(10)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


def blast(port: int, messages: list[tuple[str, bytes]], clients: int, deadline: float) -> tuple[int, float]:
    """Send every message (split over ``clients`` connections); returns (accepted, seconds)."""
    chunks = [messages[i::clients] for i in range(clients)]

    def run(chunk: list[tuple[str, bytes]]) -> int:
        ok = 0
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as c:
            for n, (sender, raw) in enumerate(chunk):
                if time.monotonic() > deadline:
                    break
                if n and n % 500 == 0:  # stay within the per-session command budget
                    c.quit()
                    c.connect("127.0.0.1", port)
                c.sendmail(sender, [MAILBOX], raw)
                ok += 1
        return ok

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        accepted = sum(pool.map(run, chunks))
    return accepted, time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=400)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--max-seconds", type=float, default=60.0, help="bound for each phase")
    args = ap.parse_args(argv)

    from rq import SimpleWorker

    from channels.smtp import InboundMailHandler, make_server_factory
    from hotline.embedded_redis import EmbeddedRedis
    from intake.runtime import build_runtime
    from intake.settings import from_env
    from intake.store.db import migrate
    from worker.context import set_runtime
    from worker.relay import QUEUES, relay_once

    tmp = Path(tempfile.mkdtemp(prefix="smtp-bench-"))
    redis_server = EmbeddedRedis(tmp / "redis")
    redis_server.start()
    db_url = f"sqlite:///{tmp / 'bench.sqlite3'}"
    migrate(db_url)
    settings = from_env(
        {
            "HOTLINE_DATA": str(tmp / "data"),
            "DATABASE_URL": db_url,
            "REDIS_URL": redis_server.url,
            "HOTLINE_SECRET_KEY": base64.urlsafe_b64encode(b"b" * 32).decode(),
            "HOTLINE_API_TOKEN": "bench-token-0123456789",
        }
    )
    runtime = build_runtime(replace(settings, smtp_relay=None))
    loops = LoopThread()
    try:
        bare_msgs = [complaint(i) for i in range(args.messages)]
        bare_server, bare_port = loops.serve(
            lambda: SMTP(Discard(), hostname="bench", data_size_limit=10 * 1024 * 1024)
        )
        bare_n, bare_s = blast(bare_port, bare_msgs, args.clients, time.monotonic() + args.max_seconds)
        loops.close(bare_server)

        handler = InboundMailHandler(runtime, MAILBOX)
        server, port = loops.serve(make_server_factory(handler, "hotline.local"))
        msgs = [complaint(args.messages + i) for i in range(args.messages)]
        acc_n, acc_s = blast(port, msgs, args.clients, time.monotonic() + args.max_seconds)
        loops.close(server)
        stored = runtime.store.count_inbound()

        set_runtime(runtime)
        started = time.perf_counter()
        drain_deadline = time.monotonic() + args.max_seconds
        while time.monotonic() < drain_deadline:
            if relay_once(runtime.store, runtime.redis) == 0:
                break
            SimpleWorker(list(QUEUES), connection=runtime.redis).work(burst=True, logging_level="WARNING")
        drain_s = time.perf_counter() - started
        from intake.model import DeliveryState

        drafts = len(runtime.store.list_tickets(status="collecting", limit=100000, numbered_only=False))
        queued = len(runtime.store.outbound_by_state(DeliveryState.DELIVERED, limit=100000))
    finally:
        loops.stop()
        runtime.close()
        redis_server.stop()

    bare_rate = bare_n / bare_s
    acc_rate = acc_n / acc_s
    e2e_rate = acc_n / (acc_s + drain_s)
    print(f"messages per phase: {args.messages}, client connections: {args.clients}, loopback, SQLite")
    print(f"bare aiosmtpd (accept + discard): {bare_n} in {bare_s:.2f} s = {bare_rate:.1f} msg/s")
    print(
        f"hotline accept (250 after SQL commit): {acc_n} in {acc_s:.2f} s = {acc_rate:.1f} msg/s "
        f"({100 * acc_rate / bare_rate:.0f} % of bare); stored rows: {stored}"
    )
    print(
        f"worker drain to ticket + reply: {drain_s:.2f} s; replies delivered to the stub: {queued}"
        + f"; draft tickets: {drafts}"
    )
    print(
        f"submission → stored ticket: {e2e_rate:.1f} msg/s ({100 * e2e_rate / bare_rate:.0f} % of bare; "
        "target ≥ 30 %)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
