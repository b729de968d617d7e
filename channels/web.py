"""The web process: one aiohttp application (ARCHITECTURE.md "Processes")."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from channels.backoffice import BackOffice
from channels.console import Console
from channels.duty_desk import DutyDesk
from channels.email import MailOutbox
from channels.http_common import (
    EXECUTOR_KEY,
    METRICS_KEY,
    Metrics,
    errors_middleware,
    forwarded_middleware,
    in_thread,
    json_error,
    read_json,
)
from channels.openapi import openapi_json
from channels.sms import SmsRoutes, sms_provider
from channels.static import add_static_routes
from channels.telegram_webhook import TelegramWebhook
from channels.webchat import STREAMS_KEY, WebChat
from intake.assembly import Services, build_services
from intake.clock import OffsetClock
from intake.errors import InvalidInput
from intake.live import CommitSignal
from intake.logs import setup_logging
from intake.routing import Router
from intake.runtime import Runtime, build_runtime, settle_heap
from intake.settings import Settings, from_env

log = logging.getLogger(__name__)
RUNTIME_KEY: web.AppKey[Runtime] = web.AppKey("runtime", Runtime)


def _redis_check(rt: Runtime) -> str:
    """PING, and the one setting that would let Redis drop our queue keys (RELIABILITY.md R4)."""
    rt.redis.ping()
    policy = rt.redis.config_get("maxmemory-policy").get("maxmemory-policy", "noeviction")
    return "ok" if policy == "noeviction" else f"degraded: maxmemory-policy {policy} may evict queue keys"


async def healthz(request: web.Request) -> web.Response:
    rt = request.app[RUNTIME_KEY]
    result: dict[str, object] = {"ok": True, "redis": "ok", "db": "ok"}
    checks: dict[str, Callable[[], object]] = {"redis": lambda: _redis_check(rt), "db": rt.store.ping}
    for name, check in checks.items():
        try:
            answer = await asyncio.wait_for(in_thread(request, check), timeout=3)
        except Exception as exc:  # any failure of a store is reported by name
            result[name] = f"error: {type(exc).__name__}"
            result["ok"] = False
            continue
        if isinstance(answer, str) and answer != "ok":
            result[name] = answer
            result["ok"] = False
    gate = request.app.get(STREAMS_KEY)
    if gate is not None and gate.total >= gate.limit:
        # Saturation, not failure: new chats and their answers still work; pages retry streams.
        result["streams"] = {"open": gate.total, "max": gate.limit, "saturated": True}
    return web.json_response(result, status=200 if result["ok"] else 503)


async def metrics(request: web.Request) -> web.Response:
    m = request.app[METRICS_KEY]
    counts, duties = await in_thread(request, request.app[RUNTIME_KEY].store.metrics_snapshot)
    m.tickets_now.clear()
    for (channel, status), n in counts.items():
        m.tickets_now.labels(channel, status).set(n)
    for kind, n in duties.items():
        m.duties.labels(kind).set(n)
    body = generate_latest(m.registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


async def dev_clock(request: web.Request) -> web.Response:
    rt = request.app[RUNTIME_KEY]
    if not rt.settings.dev_clock or not isinstance(rt.clock, OffsetClock):
        return json_error(404, "not_found", "Not found")
    data = await read_json(request)
    seconds = data.get("advance_seconds")
    if (
        isinstance(seconds, bool)
        or not isinstance(seconds, int | float)
        or not 0 <= seconds <= 10 * 365 * 86400
    ):
        raise InvalidInput("advance_seconds must be a number of seconds between 0 and 10 years")
    clock = rt.clock
    now = await in_thread(request, clock.advance, float(seconds))
    return web.json_response({"now": now.isoformat()})


def store_threads(settings: Settings) -> int:
    """Threads for blocking store calls. SQLite has one writer: more threads only queue on its
    lock (measured with bench/webchat_bench.py: 16 threads 209 turns/s, 4 → 551, 2 → 579)."""
    if settings.store_threads:
        return settings.store_threads
    return 2 if settings.database_url.startswith("sqlite") else 8


def create_app(runtime: Runtime, services: Services | None = None) -> web.Application:
    """The web process's composition root: every HTTP route of CONTRACT.md is mounted here."""
    app = web.Application(
        middlewares=[forwarded_middleware(runtime.settings.trusted_proxies), errors_middleware],
        client_max_size=2 * 1024 * 1024,
    )
    app[RUNTIME_KEY] = runtime
    app[METRICS_KEY] = Metrics()
    services = services or build_services(runtime)
    WebChat(
        services.intake,
        runtime.settings.redis_url,
        max_streams=runtime.settings.max_streams,
        token_failures_per_address=runtime.settings.chat_token_failures_per_address,
    ).routes(app)
    SmsRoutes(
        services.intake,
        sms_provider(runtime.settings),
        secret=runtime.settings.sms_secret,
        admin_token=runtime.settings.api_token,
        signature=runtime.settings.sms_signature,
    ).routes(app, stub=runtime.settings.sms == "stub")
    BackOffice(
        runtime.store,
        services.events,
        services.phone,
        services.policy,
        runtime.settings.api_token,
        services.principals,
    ).routes(app)
    settings = runtime.settings
    console = Console(
        runtime.store,
        services.policy,
        services.phone,
        services.principals,
        settings.redis_url,
        runtime.redis,
        Router.load(),
        failures_per_address=settings.login_failures_per_address,
    )
    console.routes(app)
    DutyDesk(console, services.duties, settings.api_token).routes(app)
    if settings.smtp_relay is None:
        MailOutbox(
            runtime.store, settings.mailbox, admin_token=settings.api_token, signature=settings.hotline_name
        ).routes(app)
    TelegramWebhook(
        runtime.store, settings.telegram_webhook_secret, settings.telegram_token is not None
    ).routes(app)
    add_static_routes(app)

    async def executor_ctx(app: web.Application) -> AsyncIterator[None]:
        app[EXECUTOR_KEY] = ThreadPoolExecutor(
            max_workers=store_threads(runtime.settings), thread_name_prefix="store"
        )
        yield
        app[EXECUTOR_KEY].shutdown(wait=True)

    async def commit_signal_ctx(app: web.Application) -> AsyncIterator[None]:
        signal = CommitSignal(runtime.engine, runtime.redis)  # consoles update live (issue 20)
        yield
        signal.close()

    app.cleanup_ctx.append(executor_ctx)
    app.cleanup_ctx.append(commit_signal_ctx)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    app.router.add_post("/api/dev/clock", dev_clock)
    app.router.add_get("/api/openapi.json", openapi_json)
    return app


def main() -> None:
    setup_logging("web")
    settings = from_env()
    runtime = build_runtime(settings)
    app = create_app(runtime)
    settle_heap()
    web.run_app(app, host=settings.http.host, port=settings.http.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
