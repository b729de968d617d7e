"""Web-chat turn benchmark (RELIABILITY.md L1, issue 5): the product's message endpoint next to a
bare aiohttp JSON echo, measured in the same run on loopback.

    .venv/bin/python bench/webchat_bench.py [--seconds 10] [--sessions 64]

It starts its own redis-server (hotline.embedded_redis.EmbeddedRedis), a SQLite file in a temp
data dir, one web process (``python -m channels.web``) and one echo process, then drives each
with ``--sessions`` concurrent aiohttp client loops for ``--seconds``, after a short warm-up.
Every session is a real chat session (token, dialog, SQL write before the 200). Figures are
printed, never asserted: the machine is shared, and the client shares its cores.
Issue target: ≥ 20 % of the echo's throughput, p99 ≤ 50 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import redis

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hotline.embedded_redis import EmbeddedRedis  # noqa: E402
from intake.store.db import migrate  # noqa: E402

ECHO_APP = """
import sys
from aiohttp import web
async def echo(request):
    return web.json_response(await request.json())
app = web.Application()
app.router.add_post("/echo", echo)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
"""
QUESTIONS = (
    "请问办理居住证需要带什么材料？",
    "社保卡丢了怎么补办？",
    "公积金怎么提取？",
    "你好",
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def wait_ready(url: str, proc: subprocess.Popen[bytes], within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"process exited with {proc.returncode}")
            try:
                async with http.get(url) as resp:
                    if resp.status < 500:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
    raise TimeoutError(url)


def summary(name: str, latencies: list[float], errors: int, seconds: float) -> dict[str, Any]:
    latencies.sort()
    n = len(latencies)
    q = statistics.quantiles(latencies, n=100) if n >= 2 else [latencies[0] if n else 0.0] * 99
    return {
        "name": name,
        "requests": n,
        "errors": errors,
        "rps": n / seconds,
        "p50_ms": q[49] * 1000,
        "p99_ms": q[98] * 1000,
        "max_ms": (latencies[-1] if n else 0.0) * 1000,
    }


async def drive(
    name: str,
    sessions: list[tuple[str, dict[str, str], Any]],
    seconds: float,
    warmup: float,
) -> dict[str, Any]:
    """``sessions``: (url, headers, body factory) per concurrent loop; one request in flight each."""
    latencies: list[float] = []
    errors = 0
    connector = aiohttp.TCPConnector(limit=0, force_close=False)
    async with aiohttp.ClientSession(connector=connector) as http:
        start = time.perf_counter()
        measure_from = start + warmup
        stop_at = measure_from + seconds

        async def loop(url: str, headers: dict[str, str], body: Any) -> None:
            nonlocal errors
            i = 0
            while True:
                t0 = time.perf_counter()
                if t0 >= stop_at:
                    return
                i += 1
                try:
                    async with http.post(url, json=body(i), headers=headers) as resp:
                        await resp.read()
                        ok = resp.status == 200
                except aiohttp.ClientError:
                    ok = False
                t1 = time.perf_counter()
                if t0 >= measure_from:
                    if ok:
                        latencies.append(t1 - t0)
                    else:
                        errors += 1

        await asyncio.gather(*(loop(*s) for s in sessions))
    return summary(name, latencies, errors, seconds)


async def open_sessions(base: str, count: int, redis_url: str) -> list[tuple[str, dict[str, str], Any]]:
    out = []
    r = redis.Redis.from_url(redis_url)
    async with aiohttp.ClientSession() as http:
        for i in range(count):
            if i % 25 == 0:  # the product allows 30 new sessions a minute per IP (S5)
                for key in r.scan_iter("hotline:rl:*"):
                    r.delete(key)
            async with http.post(f"{base}/api/chat/sessions") as resp:
                assert resp.status == 201, await resp.text()
                s = await resp.json()
            url = f"{base}/api/chat/sessions/{s['session_id']}/messages"

            def body(n: int, i: int = i) -> dict[str, str]:
                return {"text": f"{QUESTIONS[(n + i) % len(QUESTIONS)]} #{n}"}

            out.append((url, {"Authorization": f"Bearer {s['token']}"}, body))
    r.close()
    return out


def start_processes(env: dict[str, str], tmp: Path, echo_port: int) -> list[subprocess.Popen[bytes]]:
    """The web process as ``make run`` starts it, and the echo app; the web log goes to ``tmp``."""
    log = (tmp / "web.log").open("wb")
    web = subprocess.Popen([sys.executable, "-m", "channels.web"], cwd=ROOT, env=env, stdout=log, stderr=log)
    echo = subprocess.Popen([sys.executable, "-c", ECHO_APP, str(echo_port)], env=env)
    print(f"web pid {web.pid}, echo pid {echo.pid}, data dir {tmp}", flush=True)
    return [web, echo]


async def main(seconds: float, sessions: int, warmup: float) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="hotline-bench-"))
    server = EmbeddedRedis(tmp / "redis")
    server.start()
    procs: list[subprocess.Popen[bytes]] = []
    try:
        db_url = f"sqlite:///{tmp / 'hotline.sqlite3'}"
        migrate(db_url)
        web_port, echo_port = free_port(), free_port()
        env = {
            **os.environ,
            "HOTLINE_DATA": str(tmp),
            "DATABASE_URL": db_url,
            "REDIS_URL": server.url,
            "HOTLINE_HTTP": f"127.0.0.1:{web_port}",
            "HOTLINE_SECRET_KEY": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
            "HOTLINE_API_TOKEN": secrets.token_urlsafe(24),
            # Each bench session sends far more than a person types (hundreds a minute): with the
            # product's 20 a minute most turns would be the guard's refusal, not the dialog.
            "HOTLINE_RATE_PER_MINUTE": "1000000",
            "PYTHONPATH": str(ROOT),
        }
        procs += start_processes(env, tmp, echo_port)
        web_base, echo_base = f"http://127.0.0.1:{web_port}", f"http://127.0.0.1:{echo_port}"
        await wait_ready(f"{web_base}/healthz", procs[0])
        await wait_ready(f"{echo_base}/", procs[1])

        echo_sessions = [
            (f"{echo_base}/echo", {}, lambda n, i=i: {"text": f"{QUESTIONS[(n + i) % len(QUESTIONS)]} #{n}"})
            for i in range(sessions)
        ]
        echo = await drive("bare aiohttp echo", echo_sessions, seconds, warmup)
        chat = await drive(
            "web chat turn", await open_sessions(web_base, sessions, server.url), seconds, warmup
        )

        print(f"loopback, {sessions} concurrent sessions, {seconds:.0f} s each after {warmup:.0f} s warm-up")
        print(f"{'':20} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'errors':>7}")
        for row in (echo, chat):
            print(
                f"{row['name']:20} {row['rps']:9.1f} {row['p50_ms']:8.1f} {row['p99_ms']:8.1f} "
                f"{row['max_ms']:8.1f} {row['errors']:7d}"
            )
        ratio = chat["rps"] / echo["rps"] if echo["rps"] else 0.0
        print(f"web chat / echo throughput: {ratio:.1%} (target ≥ 20 %)")
        print(f"web chat p99: {chat['p99_ms']:.1f} ms (target ≤ 50 ms)")
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--sessions", type=int, default=64)
    parser.add_argument("--warmup", type=float, default=2.0)
    args = parser.parse_args()
    asyncio.run(main(args.seconds, args.sessions, args.warmup))
