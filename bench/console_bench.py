"""The agents' queue with many open tickets (issue 20: with 10 000 open, the first page renders and
a search answers in ≤ 300 ms on this machine, and the ticket nearest its deadline is on page one).

    .venv/bin/python bench/console_bench.py [--tickets 10000] [--repeat 15] [--db URL]

Real parts: an embedded redis-server, a SQLite file (WAL; or --db, e.g. PostgreSQL), the real web
app (channels.web.create_app) on a loopback port, an agent logged in as the console does. Tickets
of every channel, category, warning and deadline; the oldest has the nearest deadline. Timed, as
an agent meets them (wall time of the whole HTTP answer, median and worst of --repeat): the
board's first page (GET /api/console/queue: the page with its counts, hand-offs, filters, the
newest tickets, drafts, failures), a page deep in the queue, the filters, and searches by ticket
number, by phone (blind index) and by words of the summary (decrypted: the slow one). Next to it,
the bare aiohttp answer of the same JSON bytes, measured in the same run. Asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer

from channels.web import create_app
from hotline.embedded_redis import EmbeddedRedis
from intake.model import Address, Channel, Field, TicketDraft, TicketStatus
from intake.principals import Principals
from intake.runtime import Runtime, build_runtime
from intake.settings import from_env
from intake.store.db import migrate

CATEGORIES = ("咨询", "求助", "投诉", "举报", "意见建议")
MATTERS = (
    "烧烤店油烟扰民",
    "小区门口路灯坏了",
    "家里停水三天",
    "工地夜间施工噪音",
    "公交车司机态度差",
    "医保报销咨询",
)
UNITS = ("市城市管理和综合执法局", "市自来水公司", "市交通运输局", "市医疗保障局")
CHANNELS = (Channel.WEBCHAT, Channel.SMS, Channel.EMAIL, Channel.PHONE, Channel.TELEGRAM)


def address_of(channel: Channel, i: int) -> Address:
    if channel in (Channel.SMS, Channel.PHONE):
        return Address(channel, f"+86139{i:08d}")
    if channel is Channel.EMAIL:
        return Address(channel, f"citizen{i}@example.cn")
    return Address(channel, f"session-{i}")


def make_tickets(rt: Runtime, n: int) -> tuple[str, int]:
    """``n`` open tickets; returns the number of the oldest, due in an hour, and how many are
    overdue (they come before it: the earliest deadline first)."""
    rng = random.Random(7)
    store = rt.store
    now = rt.clock.now()
    first, late = "", 0
    for start in range(0, n, 500):
        with store.tx():
            for i in range(start, min(n, start + 500)):
                channel = CHANNELS[(i // 7) % len(CHANNELS)]
                tid = store.create_ticket(
                    TicketDraft(
                        channel=channel,
                        address=address_of(channel, i),
                        policy="guangzhou",
                        category=CATEGORIES[i % len(CATEGORIES)],
                        values={
                            Field.CONTENT: f"幸福路{i}号{MATTERS[i % len(MATTERS)]}",
                            Field.SUBJECT: "有关单位",
                            Field.ADDRESS: f"幸福路{i}号",
                            Field.PHONE: f"+86139{i:08d}",
                        },
                    )
                )
                number = store.register(tid, deadline=None, deadline_provisional=False)
                # a few overdue (one in fifty), the rest due within a month; the oldest in an hour
                overdue = rng.random() < 0.02
                hours = rng.randint(-48, -1) if overdue else rng.randint(2, 24 * 30)
                left = timedelta(hours=1) if i == 0 else timedelta(hours=hours)
                late += left < timedelta(0)
                # as the sweep colours them (about: red within a day or overdue, yellow within three)
                warning = (
                    "red" if left < timedelta(days=1) else "yellow" if left < timedelta(days=3) else None
                )
                deadline = now + left
                store.update_ticket(
                    tid,
                    status=TicketStatus.DISPATCHED if i % 10 else TicketStatus.REGISTERED,
                    unit=UNITS[i % len(UNITS)],
                    deadline=deadline,
                    warning=warning,
                )
                if i == 0:
                    first = number
    return first, late


async def timed(session: aiohttp.ClientSession, url: str, repeat: int) -> tuple[list[float], Any]:
    seconds: list[float] = []
    body: Any = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        async with session.get(url) as resp:
            raw = await resp.read()
            assert resp.status == 200, raw[:300]
        seconds.append(time.perf_counter() - t0)
        body = json.loads(raw)
    return seconds, body


def timing(name: str, seconds: list[float], note: str = "") -> dict[str, Any]:
    ms = sorted(s * 1000 for s in seconds)
    return {"name": name, "median_ms": statistics.median(ms), "worst_ms": ms[-1], "note": note}


def line(row: dict[str, Any]) -> None:
    timings = f"median {row['median_ms']:7.1f} ms   worst {row['worst_ms']:7.1f} ms"
    print(f"{row['name']:44} {timings}  {row['note']}")


async def run(rt: Runtime, n: int, repeat: int, progress: Callable[[str], None] = print) -> dict[str, Any]:
    t0 = time.perf_counter()
    nearest, late = make_tickets(rt, n)
    progress(f"{n} open tickets stored in {time.perf_counter() - t0:.1f} s ({rt.engine.dialect.name})")
    Principals(rt.store).create_account("bench", "bench-password-0123456789", "agent", "bench")
    server = TestServer(create_app(rt))
    await server.start_server()
    base = str(server.make_url("")).rstrip("/")
    async with aiohttp.ClientSession() as s:
        login = await s.post(
            f"{base}/api/console/login", json={"login": "bench", "password": "bench-password-0123456789"}
        )
        assert login.status == 200, await login.text()
        cookie = login.cookies["__Host-hotline_console"].value
    jar = aiohttp.CookieJar(unsafe=True)
    rows: dict[str, dict[str, Any]] = {}
    async with aiohttp.ClientSession(
        cookie_jar=jar, headers={"Cookie": f"__Host-hotline_console={cookie}"}
    ) as s:
        first, board = await timed(s, f"{base}/api/console/queue", repeat)
        on_page = [t["number"] for t in board["open"]]
        rows["first_page"] = timing(
            "board, first page (50 of the queue)", first, f"{len(json.dumps(board)) // 1024} KB"
        )
        earliest = min(t["deadline"] for t in board["open"])
        at = on_page.index(nearest) + 1 if nearest in on_page else None
        order = {
            "first_row_earliest": board["open"][0]["deadline"] == earliest,
            "overdue": late,
            "oldest_at": at,
            "open_total": board["open_total"],
            "stats": board["stats"],
        }
        deep, _ = await timed(s, f"{base}/api/console/queue?page={board['pages'] // 2}", repeat)
        rows["deep_page"] = timing(f"board, page {board['pages'] // 2} of {board['pages']}", deep)
        filtered, body = await timed(
            s, f"{base}/api/console/queue?category={quote('投诉')}&channel=sms&warning=none", repeat
        )
        rows["filtered"] = timing("filtered (投诉, sms, no warning)", filtered, f"{body['open_total']} match")
        by_number, body = await timed(s, f"{base}/api/console/queue?q={nearest}", repeat)
        rows["by_number"] = timing("search by ticket number", by_number, f"{body['open_total']} match")
        by_phone, body = await timed(s, f"{base}/api/console/queue?q={quote('139 0000 0042')}", repeat)
        rows["by_phone"] = timing("search by phone (blind index)", by_phone, f"{body['open_total']} match")
        by_words, body = await timed(s, f"{base}/api/console/queue?q={quote('路灯坏了')}", repeat)
        rows["by_words"] = timing(
            "search by words (summaries decrypted)", by_words, f"{body['open_total']} match"
        )
        number = on_page[0]
        page, _ = await timed(s, f"{base}/api/console/tickets/{number}", repeat)
        rows["ticket_page"] = timing("one ticket's page", page)
    await server.close()

    payload = json.dumps(board, ensure_ascii=False).encode()

    async def bare(_: web.Request) -> web.Response:
        return web.Response(body=payload, content_type="application/json")

    app = web.Application()
    app.router.add_get("/", bare)
    server = TestServer(app)
    await server.start_server()
    async with aiohttp.ClientSession() as s:
        ref, _ = await timed(s, str(server.make_url("/")), repeat)
    await server.close()
    rows["bare"] = timing("bare aiohttp, the same JSON bytes", ref)
    slowest = max(("first_page", "by_number", "by_phone", "by_words"), key=lambda k: rows[k]["median_ms"])
    return {
        "database": rt.engine.dialect.name,
        "rows": rows,
        "order": order,
        "slowest": slowest,
        "slowest_ms": rows[slowest]["median_ms"],
    }


def report(fig: dict[str, Any]) -> None:
    rows, order = fig["rows"], fig["order"]
    line(rows["first_page"])
    at = order["oldest_at"] if order["oldest_at"] is not None else "-"
    print(
        f"  first row has the earliest deadline of all: {order['first_row_earliest']};"
        f" {order['overdue']} overdue come first, then the oldest ticket, due in an hour:"
        f" on page one at {at} (- when the overdue fill it);"
        f" open {order['open_total']}, {order['stats']}"
    )
    for key in ("deep_page", "filtered", "by_number", "by_phone", "by_words", "ticket_page", "bare"):
        line(rows[key])
    print(f"slowest of the first page and the searches: {fig['slowest_ms']:.1f} ms median (target ≤ 300 ms)")


def measure(
    tickets: int = 10_000, repeat: int = 15, db: str = "", progress: Callable[[str], None] = print
) -> dict[str, Any]:
    """Store the tickets, time the answers; the figures as a dict."""
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        server = EmbeddedRedis(data)
        server.start()
        try:
            url = db or f"sqlite:///{data / 'bench.sqlite3'}"
            migrate(url)
            settings = from_env(
                {
                    "HOTLINE_DATA": str(data),
                    "DATABASE_URL": url,
                    "REDIS_URL": server.url,
                    "HOTLINE_SECRET_KEY": base64.urlsafe_b64encode(b"c" * 32).decode(),
                    "HOTLINE_API_TOKEN": "bench-token-0123456789",
                }
            )
            rt = build_runtime(settings)
            fig = asyncio.run(run(rt, tickets, repeat, progress))
            rt.close()
        finally:
            server.stop()
    fig["settings"] = {"tickets": tickets, "repeat": repeat, "db": "sqlite" if not db else "url given"}
    return fig


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tickets", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=15)
    ap.add_argument("--db", default="", help="a database URL (default: a fresh SQLite file)")
    args = ap.parse_args()
    report(measure(args.tickets, args.repeat, args.db))


if __name__ == "__main__":
    main()
