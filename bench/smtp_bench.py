"""SMTP intake benchmark: messages/s from submission to stored ticket, next to a bare aiosmtpd
that accepts and discards, measured in the same run (issue 8).

Production-shaped, loopback only, bounded in time. It starts its own redis-server and a SQLite
file, then:

1. **bare**: an aiosmtpd server in its own process whose handler answers 250 and discards;
2. **hotline**: the product's processes as ``make run`` starts them — ``python -m channels.email.smtp``
   (each 250 after the raw message and its job are committed) and ``python -m hotline.worker`` (parses
   each mail and runs the dialog, in groups) — working at the same time, as they do in service.

The same client drives both: ``--clients`` threads, each an smtplib connection sending distinct
citizens' complaints (about 1 KB each). For the product it reports the rate of 250s and the
end-to-end rate: messages / (time from the first submission until every message is a ticket
row with its reply stored). Prints figures and ratios; asserts nothing.

    .venv/bin/python -m bench.smtp_bench --messages 6000 --clients 4
"""

from __future__ import annotations

import argparse
import base64
import os
import smtplib
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.procs import free_port, stop  # noqa: E402

MAILBOX = "12345@hotline.local"
BARE = """
import asyncio, sys
from aiosmtpd.smtp import SMTP
class Discard:
    async def handle_DATA(self, server, session, envelope):
        return "250 OK"
async def main():
    loop = asyncio.get_running_loop()
    await loop.create_server(lambda: SMTP(Discard(), hostname="bench"), "127.0.0.1", int(sys.argv[1]))
    await asyncio.Event().wait()
asyncio.run(main())
"""


def complaint(i: int) -> tuple[str, bytes]:
    sender = f"citizen{i}@example.cn"
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = MAILBOX
    msg["Subject"] = "投诉噪音"
    msg["Message-ID"] = make_msgid(domain="example.cn")
    msg.set_content(f"我要投诉，第{i}号楼下烧烤店每晚油烟很大，影响休息。")
    return sender, msg.as_bytes()


def wait_port(port: int, proc: subprocess.Popen[bytes], within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode}")
        try:
            with smtplib.SMTP("127.0.0.1", port, timeout=2) as c:
                c.noop()
            return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"port {port}")


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


def measure(messages: int = 6000, clients: int = 4, max_seconds: float = 90.0) -> dict[str, Any]:
    """Both phases; the figures as a dict (rates in messages a second)."""
    from sqlalchemy import create_engine, func, select

    from hotline.embedded_redis import EmbeddedRedis
    from intake.store.db import migrate
    from intake.store.schema import messages_out, tickets

    tmp = Path(tempfile.mkdtemp(prefix="smtp-bench-"))
    redis_server = EmbeddedRedis(tmp / "redis")
    redis_server.start()
    db_url = f"sqlite:///{tmp / 'bench.sqlite3'}"
    migrate(db_url)
    smtp_port, bare_port = free_port(), free_port()
    env = {
        **os.environ,
        "HOTLINE_DATA": str(tmp / "data"),
        "DATABASE_URL": db_url,
        "REDIS_URL": redis_server.url,
        "HOTLINE_SMTP": f"127.0.0.1:{smtp_port}",
        "HOTLINE_MAILBOX": MAILBOX,
        "HOTLINE_SECRET_KEY": base64.urlsafe_b64encode(b"b" * 32).decode(),
        "HOTLINE_API_TOKEN": "bench-token-0123456789",
        "HOTLINE_MAIL_QUOTA": "1000000000",  # one client sends every mail of the bench
        "PYTHONPATH": str(ROOT),
    }
    procs: list[subprocess.Popen[bytes]] = []
    engine = create_engine(db_url)
    try:
        bare = subprocess.Popen([sys.executable, "-c", BARE, str(bare_port)], env=env)
        procs.append(bare)
        wait_port(bare_port, bare)
        bare_msgs = [complaint(i) for i in range(messages)]
        bare_n, bare_s = blast(bare_port, bare_msgs, clients, time.monotonic() + max_seconds)
        stop([bare])

        logs = (tmp / "processes.log").open("wb")
        smtp = subprocess.Popen(
            [sys.executable, "-m", "channels.email.smtp"], cwd=ROOT, env=env, stdout=logs, stderr=logs
        )
        worker = subprocess.Popen(
            [sys.executable, "-m", "hotline.worker"], cwd=ROOT, env=env, stdout=logs, stderr=logs
        )
        procs += [smtp, worker]
        wait_port(smtp_port, smtp)
        time.sleep(3)  # the worker loads its dictionaries and knowledge base before the clock starts
        msgs = [complaint(messages + i) for i in range(messages)]
        started = time.perf_counter()
        acc_n, acc_s = blast(smtp_port, msgs, clients, time.monotonic() + max_seconds)

        def done() -> tuple[int, int]:
            with engine.connect() as conn:
                t = conn.execute(
                    select(func.count()).select_from(tickets).where(tickets.c.channel == "email")
                ).scalar_one()
                r = conn.execute(
                    select(func.count()).select_from(messages_out).where(messages_out.c.channel == "email")
                ).scalar_one()
            return int(t), int(r)

        deadline = time.monotonic() + max_seconds
        ticketed, replies = done()
        while ticketed < acc_n and time.monotonic() < deadline:
            time.sleep(0.05)
            ticketed, replies = done()
        e2e_s = time.perf_counter() - started
    finally:
        stop(procs)
        engine.dispose()
        redis_server.stop()

    bare_rate = bare_n / bare_s
    return {
        "settings": {"messages": messages, "clients": clients, "max_seconds": max_seconds},
        "bare": {"messages": bare_n, "seconds": bare_s, "rate": bare_rate},
        "accepted": {"messages": acc_n, "seconds": acc_s, "rate": acc_n / acc_s},
        "end_to_end": {"tickets": ticketed, "replies": replies, "seconds": e2e_s, "rate": ticketed / e2e_s},
        "accepted_ratio": acc_n / acc_s / bare_rate,
        "end_to_end_ratio": ticketed / e2e_s / bare_rate,
        "complete": ticketed == acc_n,
    }


def report(fig: dict[str, Any]) -> None:
    s, bare, acc, e2e = fig["settings"], fig["bare"], fig["accepted"], fig["end_to_end"]
    print(f"messages per phase: {s['messages']}, client connections: {s['clients']}, loopback, SQLite")
    print(
        f"bare aiosmtpd (accept + discard):       {bare['rate']:8.1f} msg/s  "
        f"({bare['messages']} in {bare['seconds']:.2f} s)"
    )
    print(
        f"hotline 250s (raw mail + job in SQL):   {acc['rate']:8.1f} msg/s  ({acc['messages']} in "
        f"{acc['seconds']:.2f} s; {100 * fig['accepted_ratio']:.0f} % of bare)"
    )
    print(
        f"submission → stored ticket + reply:     {e2e['rate']:8.1f} msg/s  ({e2e['tickets']} tickets, "
        f"{e2e['replies']} replies in {e2e['seconds']:.2f} s; {100 * fig['end_to_end_ratio']:.0f} % of bare; "
        "target ≥ 30 %)"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=6000)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--max-seconds", type=float, default=90.0, help="bound for each phase")
    args = ap.parse_args(argv)
    fig = measure(args.messages, args.clients, args.max_seconds)
    report(fig)
    return 0 if fig["complete"] else 1


if __name__ == "__main__":
    sys.exit(main())
