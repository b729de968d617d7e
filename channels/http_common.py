"""What every HTTP route shares: JSON errors, the executor for store calls, metrics."""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from ipaddress import IPv4Network, IPv6Network, ip_address
from typing import Any, TypeVar

import redis.asyncio as aioredis
from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from intake.errors import HotlineError, InvalidInput
from intake.store.schema import MAX_ROW_ID

# A caller's own id for one request (chat client_id, Idempotency-Key): sent again, it is the same one.
REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,100}")

log = logging.getLogger(__name__)
T = TypeVar("T")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
IPNetwork = IPv4Network | IPv6Network


def json_error(status: int, code: str, message: str, **headers: str) -> web.Response:
    return web.json_response(
        {"error": {"code": code, "message": message}}, status=status, headers=headers or None
    )


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "hotline_http_requests_total", "HTTP requests", ["route", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "hotline_http_request_seconds",
            "HTTP request latency",
            ["route"],
            registry=self.registry,
            buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
        )
        self.inbound = Counter(
            "hotline_inbound_messages_total", "Inbound messages stored", ["channel"], registry=self.registry
        )
        self.tickets = Counter(
            "hotline_tickets_registered_total", "Tickets registered", ["channel"], registry=self.registry
        )
        # Read from SQL at each scrape (channels/web.py metrics): every process's tickets, not only
        # this one's, and the hotline's duties waiting (issue 21)
        self.tickets_now = Gauge(
            "hotline_tickets", "Tickets by channel and status", ["channel", "status"], registry=self.registry
        )
        self.duties = Gauge(
            "hotline_duties_waiting",
            "Duties waiting: reviews, open supervision, supervision past due, phone call-backs, feed rows",
            ["kind"],
            registry=self.registry,
        )
        self.refused = Counter(
            "hotline_refused_requests_total",
            "Requests refused for a missing, wrong or stale signature or credential, or throttled "
            "after too many wrong ones",
            ["route", "reason"],
            registry=self.registry,
        )


METRICS_KEY: web.AppKey[Metrics] = web.AppKey("metrics", Metrics)
EXECUTOR_KEY: web.AppKey[ThreadPoolExecutor] = web.AppKey("executor", ThreadPoolExecutor)


async def in_thread(request: web.Request, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a blocking store call off the event loop."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(request.app[EXECUTOR_KEY], functools.partial(fn, *args, **kwargs))


def _route_name(request: web.Request) -> str:
    info = request.match_info.route.resource
    return info.canonical if info is not None else "unmatched"


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """One place maps errors to the contract's JSON; never a stack trace, never HTML on /api."""
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except HotlineError as exc:
        status = exc.status
        reason = getattr(exc, "reason", None)
        if exc.status in (401, 403) or (exc.status == 429 and reason):  # 429: a throttled guesser
            _refused(request, reason or exc.code)
        retry = {"Retry-After": str(exc.after)} if isinstance(exc, TooManyRequests) else {}
        return json_error(exc.status, exc.code, exc.message, **retry)
    except web.HTTPException as exc:
        status = exc.status
        if exc.status < 400:
            raise
        if request.path.startswith("/api") or request.path.startswith("/healthz"):
            code = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}.get(
                exc.status, "http_error"
            )
            # 405 keeps its Allow header (RFC 9110 §15.5.6), 429 and 503 a Retry-After
            kept = {k: v for k, v in exc.headers.items() if k in ("Allow", "Retry-After")}
            return json_error(exc.status, code, exc.reason, **kept)
        raise
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return json_error(500, "internal", "内部错误，请稍后再试。Internal error.")
    finally:
        metrics = request.app.get(METRICS_KEY)
        if metrics is not None:
            route = _route_name(request)
            metrics.requests.labels(route, str(status)).inc()
            metrics.latency.labels(route).observe(time.perf_counter() - started)


def _refused(request: web.Request, reason: str) -> None:
    """A forged, stale or unauthorised request: logged (route and reason, nothing personal) and
    counted, so an operator sees an attack on /metrics."""
    route = _route_name(request)
    log.warning("refused %s %s: %s", request.method, route, reason)
    metrics = request.app.get(METRICS_KEY)
    if metrics is not None:
        metrics.refused.labels(route, reason).inc()


class PayloadTooLarge(HotlineError):
    code = "too_large"
    status = 413


class TooManyRequests(HotlineError):
    """429 with a Retry-After of ``after`` seconds; with a ``reason`` (channels.throttle: too
    many wrong credentials) it is also counted as a refused request."""

    code = "rate_limited"
    status = 429

    def __init__(self, message: str, *, after: int = 60, reason: str | None = None) -> None:
        super().__init__(message)
        self.after = after
        self.reason = reason


class UnsupportedMediaType(HotlineError):
    code = "unsupported_media_type"
    status = 415


def row_id(raw: str) -> int | None:
    """A row id from a URL, or None: ASCII digits only (str.isdigit() also takes "²" and "①",
    which int() refuses) and no larger than the store's ids can be (MAX_ROW_ID)."""
    if raw.isascii() and raw.isdigit() and len(raw) <= 10 and int(raw) <= MAX_ROW_ID:
        return int(raw)
    return None


async def read_body(request: web.Request, *, max_bytes: int = 64 * 1024) -> bytes:
    """The raw body, at most ``max_bytes`` (413 beyond): read before it is believed or parsed."""
    too_large = PayloadTooLarge(f"内容过长。The body is larger than {max_bytes} bytes.")
    if request.content_length is not None and request.content_length > max_bytes:
        raise too_large
    body = bytearray()  # read() returns what is buffered, not all: loop to the limit
    while len(body) <= max_bytes:
        chunk = await request.content.read(max_bytes + 1 - len(body))
        if not chunk:
            break
        body += chunk
    if len(body) > max_bytes:
        raise too_large
    return bytes(body)


def parse_json(request: web.Request, body: bytes) -> Any:
    """The JSON value of a body read with ``read_body`` (415 for another content type)."""
    if request.content_type != "application/json":
        raise UnsupportedMediaType("请以 JSON 格式提交。Content-Type must be application/json.")
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise InvalidInput("请求内容不是有效的 JSON。The body is not valid JSON.", code="bad_json") from None


async def read_json(request: web.Request, *, max_bytes: int = 64 * 1024) -> dict[str, Any]:
    """Parse a JSON object body with the checks every API route needs."""
    data = parse_json(request, await read_body(request, max_bytes=max_bytes))
    if not isinstance(data, dict):
        raise InvalidInput("请求内容应为 JSON 对象。The body must be a JSON object.", code="bad_json")
    return data


def forwarded_middleware(trusted: Sequence[IPNetwork]) -> Any:
    """Behind a reverse proxy (HOTLINE_TRUSTED_PROXIES): only a request that comes from a trusted
    proxy has its X-Forwarded-For, -Proto and -Host believed. The client is the right-most address
    of the chain that is not itself a trusted proxy, so a client cannot choose its own address by
    sending the header; from anyone else the headers are ignored."""

    def is_proxy(address: str | None) -> bool:
        try:
            ip = ip_address(address or "")
        except ValueError:
            return False
        return any(ip in net for net in trusted)

    @web.middleware
    async def forwarded(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not trusted or not is_proxy(request.remote):
            return await handler(request)
        chain = [h.strip() for v in request.headers.getall("X-Forwarded-For", []) for h in v.split(",")]
        client = request.remote
        for hop in reversed([h for h in chain if h]):
            try:
                ip_address(hop)
            except ValueError:
                break  # a mangled chain: the last good hop is the client
            client = hop
            if not is_proxy(hop):
                break
        changes: dict[str, Any] = {"remote": client}
        proto = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
        if proto in ("http", "https"):
            changes["scheme"] = proto
        host = request.headers.get("X-Forwarded-Host", "").split(",")[0].strip()
        if host and host.isascii() and host.isprintable() and " " not in host:
            changes["host"] = host
        return await handler(request.clone(**changes))

    return forwarded


REDIS_CONNECTIONS = 100  # a web process's requests talking to Redis at one moment
REDIS_WAIT = 10.0  # seconds a request waits for a free connection before it fails


def async_redis(url: str, max_connections: int = REDIS_CONNECTIONS) -> aioredis.Redis:
    """The web process's asyncio Redis client: when every connection is busy a request waits for
    one (up to REDIS_WAIT) instead of failing at once; redis-py's default pool raises
    MaxConnectionsError, and 300 new chats at one moment answered 58 of them 500."""
    pool = aioredis.BlockingConnectionPool.from_url(url, max_connections=max_connections, timeout=REDIS_WAIT)
    return aioredis.Redis.from_pool(pool)
