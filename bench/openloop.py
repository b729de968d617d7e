"""Open-loop HTTP load: requests sent on a schedule that does not wait for the answers.

A closed loop (N clients, one request in flight each) measures throughput: when the server
slows down the clients send less, and the latency it reports is N / throughput (Little's law).
Here request ``i`` is due at ``start + i / rate`` whatever happened before it, and its latency
runs from that due time, not from when the client got round to sending it: a client or server
that falls behind is charged for it (no coordinated omission). Failures (a status other than
200, a network error, no answer ``grace`` seconds after the last request was due) count as
infinitely slow, so a p99 is only finite when at least 99 % were answered.

The client shares the machine's cores with the server: ``lag_p99_ms`` (how late the client's
own loop started requests) says when the load generator, not the server, was the limit.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

DEFAULT_RATES = (100, 200, 300, 500, 700, 1000, 1400, 2000, 2800, 4000, 5600, 8000)


@dataclass(frozen=True)
class Request:
    url: str
    headers: dict[str, str]
    body: dict[str, str]
    state: Any = None  # handed back to the source when the request is over


class Source:
    """What to send next. ``take`` may raise ``LookupError`` (nothing can be sent now: counted
    as a failure); ``give_back`` is called once the request is over, answered or not."""

    def take(self) -> Request:
        raise NotImplementedError

    def give_back(self, request: Request, ok: bool) -> None:
        return None


class Client:
    """A minimal HTTP/1.1 keep-alive client for the load: about a third of aiohttp's client CPU a
    request, so the load generator, which shares the cores with the server, is less often the
    limit. POST with a JSON body; answers must carry a Content-Length (aiohttp's JSON answers
    do). At most ``limit`` connections; a request beyond waits for one, its clock running."""

    def __init__(self, base: str, limit: int = 2000) -> None:
        url = urlsplit(base)
        self.base = base.rstrip("/")
        self.host, self.port = url.hostname or "127.0.0.1", url.port or 80
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self.slots = asyncio.Semaphore(limit)

    async def post(self, request: Request) -> int:
        """The answer's status; raises OSError or ValueError when there is none."""
        body = json.dumps(request.body, ensure_ascii=False).encode()
        head = [f"POST {request.url.removeprefix(self.base)} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        head += [f"{k}: {v}" for k, v in request.headers.items()]
        head += ["Content-Type: application/json", f"Content-Length: {len(body)}", "", ""]
        async with self.slots:
            conn = self.idle.pop() if self.idle else await asyncio.open_connection(self.host, self.port)
            reader, writer = conn
            try:
                writer.write("\r\n".join(head).encode() + body)
                answer = await reader.readuntil(b"\r\n\r\n")
                fields = answer.lower()
                at = fields.index(b"\ncontent-length:") + 16
                await reader.readexactly(int(fields[at : fields.index(b"\r\n", at)]))
            except BaseException:
                writer.close()
                raise
            if b"\nconnection: close" in fields:
                writer.close()
            else:
                self.idle.append(conn)
            return int(answer[9:12])

    async def close(self) -> None:
        for _, writer in self.idle:
            writer.close()
        self.idle.clear()


def percentile(ordered: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list (``math.inf`` allowed); 0.0 when empty."""
    if not ordered:
        return 0.0
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


async def offered(
    client: Client,
    source: Source,
    rate: float,
    seconds: float,
    warmup: float = 1.0,
    grace: float = 5.0,
) -> dict[str, Any]:
    """Offer ``rate`` requests a second for ``warmup + seconds``; the figures of those due after
    the warm-up. Requests still unanswered ``grace`` s after the last one was due are cancelled."""
    interval = 1.0 / rate
    start = time.perf_counter() + 0.05
    measure_from, stop_at = start + warmup, start + warmup + seconds
    latencies: list[float] = []
    lags: list[float] = []
    errors = 0
    tasks: set[asyncio.Task[None]] = set()
    measured: dict[asyncio.Task[None], bool] = {}

    async def one(due: float, counted: bool) -> None:
        nonlocal errors
        began = time.perf_counter()
        ok = False
        try:
            request = source.take()
        except LookupError:
            request = None
        if request is not None:
            ok = await post_once(client, source, request)
        if counted:
            lags.append(began - due)
            if ok:
                latencies.append(time.perf_counter() - due)
            else:
                errors += 1
                latencies.append(math.inf)

    i = 0
    while True:
        due = start + i * interval
        if due >= stop_at:
            break
        now = time.perf_counter()
        if due > now:
            await asyncio.sleep(due - now)
        task = asyncio.create_task(one(due, due >= measure_from))
        tasks.add(task)
        measured[task] = due >= measure_from
        task.add_done_callback(tasks.discard)
        i += 1
    unfinished = 0
    if tasks:
        _, pending = await asyncio.wait(set(tasks), timeout=max(0.0, stop_at + grace - time.perf_counter()))
        for task in pending:
            task.cancel()
            if measured[task]:
                unfinished += 1
                latencies.append(math.inf)
        await asyncio.gather(*pending, return_exceptions=True)
    latencies.sort()
    lags.sort()
    n = len(latencies)
    answered = n - errors - unfinished
    return {
        "offered_rate": rate,
        "seconds": seconds,
        "requests": n,
        "answered": answered,
        "errors": errors,
        "unfinished": unfinished,
        "achieved_rate": answered / seconds,
        "p50_ms": finite(percentile(latencies, 0.50) * 1000),
        "p90_ms": finite(percentile(latencies, 0.90) * 1000),
        "p99_ms": finite(percentile(latencies, 0.99) * 1000),
        "max_ms": finite(percentile(latencies, 1.0) * 1000),
        "lag_p99_ms": percentile(lags, 0.99) * 1000,
    }


async def post_once(client: Client, source: Source, request: Any) -> bool:
    """One request; True when answered 200. The request goes back to its source either way."""
    ok = False
    try:
        ok = await client.post(request) == 200
    except (OSError, ValueError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
        ok = False
    finally:
        source.give_back(request, ok)
    return ok


async def settle(client: Client, source: Source, bound_ms: float, within: float = 60.0) -> float:
    """After an overload, wait until the server has worked through what it was sent (the client
    gave up on those requests, not the server): one request at a time until two in a row are
    answered within ``bound_ms``. Returns the seconds it took."""
    started = time.perf_counter()
    fast = 0
    while fast < 2 and time.perf_counter() - started < within:
        request = source.take()
        t0 = time.perf_counter()
        ok = await post_once(client, source, request)
        fast = fast + 1 if ok and (time.perf_counter() - t0) * 1000 <= bound_ms else 0
        if not fast:
            await asyncio.sleep(0.2)
    return time.perf_counter() - started


def passes(step: dict[str, Any], bound_ms: float) -> bool:
    p99 = step["p99_ms"]
    return p99 is not None and p99 <= bound_ms


async def highest_rate(
    run: Callable[[float, float], Awaitable[dict[str, Any]]],
    *,
    target: float = 500,
    bound_ms: float = 50.0,
    target_seconds: float = 10.0,
    step_seconds: float = 4.0,
    rates: tuple[int, ...] = DEFAULT_RATES,
    refine: int = 2,
    settle: Callable[[], Awaitable[float]] | None = None,
    progress: Callable[[str], None] = print,
) -> dict[str, Any]:
    """The target rate for ``target_seconds``, then up (or down) the ladder of ``rates`` for
    ``step_seconds`` each until p99 crosses ``bound_ms``, then ``refine`` bisections between the
    last rate that held and the first that did not. ``run(rate, seconds)`` is one offered step.
    Returns the target step, every step, and the highest rate that held (None: not even the
    lowest). After a step that did not hold, ``settle()`` waits for the server to catch up."""
    steps: list[dict[str, Any]] = []

    async def step(rate: float, seconds: float) -> bool:
        result = await run(rate, seconds)
        steps.append(result)
        p99 = result["p99_ms"]
        progress(
            f"  offered {rate:6.0f}/s for {seconds:g} s: p50 {_ms(result['p50_ms'])}, p99 {_ms(p99)}, "
            f"{result['errors'] + result['unfinished']} failed, client lag p99 {result['lag_p99_ms']:.1f} ms"
        )
        if passes(result, bound_ms):
            return True
        if settle is not None:
            result["settle_seconds"] = await settle()
        return False

    held: float | None = None
    failed: float | None = None
    at_target = await step(target, target_seconds)
    target_step = steps[-1]
    if at_target:
        held = target
        for rate in (r for r in rates if r > target):
            if await step(rate, step_seconds):
                held = rate
            else:
                failed = rate
                break
    else:
        failed = target
        for rate in sorted((r for r in rates if r < target), reverse=True):
            if await step(rate, step_seconds):
                held = rate
                break
            failed = rate
    for _ in range(refine):
        if failed is None:
            break
        low = held if held is not None else failed / 2
        middle = float(round((low + failed) / 2, -1))
        if middle in (low, failed):
            break
        if await step(middle, step_seconds):
            held = middle
        else:
            failed = middle
    return {
        "target_rate": target,
        "bound_ms": bound_ms,
        "at_target": target_step,
        "highest_rate": held,
        "first_failed_rate": failed,
        "steps": steps,
    }


def _ms(value: float | None) -> str:
    return "inf" if value is None else f"{value:.1f} ms"
