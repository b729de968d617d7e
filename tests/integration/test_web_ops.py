"""/healthz, /metrics, the dev clock and JSON errors, through the real app on real stores."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import redis
from aiohttp.test_utils import TestClient

from channels.web import create_app
from intake.clock import OffsetClock
from intake.runtime import Runtime, build_runtime
from tests.conftest import make_settings
from tests.support.journey import AUTH

Client = Callable[..., Any]


async def test_healthz_reports_both_stores(aiohttp_client: Client, sqlite_runtime: Runtime) -> None:
    client: TestClient = await aiohttp_client(create_app(sqlite_runtime))
    resp = await client.get("/healthz")
    assert resp.status == 200
    assert await resp.json() == {"ok": True, "redis": "ok", "db": "ok"}


async def test_healthz_names_redis_when_it_is_down(
    aiohttp_client: Client, tmp_path: Path, sqlite_db: str
) -> None:
    rt = build_runtime(make_settings(tmp_path, sqlite_db, "redis://127.0.0.1:1/0"))
    client: TestClient = await aiohttp_client(create_app(rt))
    resp = await client.get("/healthz")
    body = await resp.json()
    assert resp.status == 503
    assert body["ok"] is False and body["redis"].startswith("error") and body["db"] == "ok"


async def test_healthz_names_the_database_when_it_is_down(
    aiohttp_client: Client, tmp_path: Path, redis_url: str
) -> None:
    rt = build_runtime(make_settings(tmp_path, "postgresql+psycopg://nobody@127.0.0.1:1/none", redis_url))
    client: TestClient = await aiohttp_client(create_app(rt))
    resp = await client.get("/healthz")
    body = await resp.json()
    assert resp.status == 503 and body["db"].startswith("error") and body["redis"] == "ok"


async def test_metrics_are_prometheus_text_and_count_requests(
    aiohttp_client: Client, sqlite_runtime: Runtime
) -> None:
    client: TestClient = await aiohttp_client(create_app(sqlite_runtime))
    await client.get("/healthz")
    resp = await client.get("/metrics")
    text = await resp.text()
    assert resp.status == 200 and resp.content_type == "text/plain"
    assert 'hotline_http_requests_total{route="/healthz",status="200"} 1.0' in text


async def test_metrics_count_every_channels_tickets_and_the_duties_waiting(
    aiohttp_client: Client, sqlite_runtime: Runtime
) -> None:
    """Issue 21: /metrics counted web-chat tickets only; it now reads the tickets of every
    channel and process from SQL, and the hotline's duties waiting."""
    client: TestClient = await aiohttp_client(create_app(sqlite_runtime))
    call = {
        "channel": "phone",
        "phone": "13912340002",
        "category": "投诉",
        "subject": "烧烤店",
        "content": "油烟很大",
        "address": "和平路8号",
    }
    assert (await client.post("/api/tickets", json={**call, "demand": "处理"}, headers=AUTH)).status == 201
    waiting = {**call, "await_supplement": True}
    assert (await client.post("/api/tickets", json=waiting, headers=AUTH)).status == 201
    text = await (await client.get("/metrics")).text()
    assert 'hotline_tickets{channel="phone",status="registered"} 1.0' in text
    assert 'hotline_tickets{channel="phone",status="awaiting_supplement"} 1.0' in text
    assert 'hotline_duties_waiting{kind="phone_callback"} 1.0' in text
    assert 'hotline_duties_waiting{kind="review"} 0.0' in text


async def test_unknown_api_paths_answer_json_never_html(
    aiohttp_client: Client, sqlite_runtime: Runtime
) -> None:
    client: TestClient = await aiohttp_client(create_app(sqlite_runtime))
    resp = await client.get("/api/nothing-here")
    assert resp.status == 404
    assert (await resp.json())["error"]["code"] == "not_found"


async def test_dev_clock_is_404_unless_enabled(aiohttp_client: Client, sqlite_runtime: Runtime) -> None:
    client: TestClient = await aiohttp_client(create_app(sqlite_runtime))
    resp = await client.post("/api/dev/clock", json={"advance_seconds": 60})
    assert resp.status == 404


async def test_dev_clock_moves_every_process_forward(
    aiohttp_client: Client, tmp_path: Path, sqlite_db: str, redis_url: str, redis_client: redis.Redis
) -> None:
    settings = replace(make_settings(tmp_path, sqlite_db, redis_url), dev_clock=True)
    rt = build_runtime(settings)
    other_process = OffsetClock(redis.Redis.from_url(redis_url))
    before = other_process.now()
    client: TestClient = await aiohttp_client(create_app(rt))
    resp = await client.post("/api/dev/clock", json={"advance_seconds": 3 * 86400})
    assert resp.status == 200
    moved = other_process.now()
    assert 3 * 86400 <= (moved - before).total_seconds() < 3 * 86400 + 30
    assert (await resp.json())["now"].endswith("+08:00")
    bad = await client.post("/api/dev/clock", json={"advance_seconds": "lots"})
    assert bad.status == 400 and (await bad.json())["error"]["code"] == "invalid_input"
    wrong_type = await client.post("/api/dev/clock", data="advance_seconds=1")
    assert wrong_type.status == 415


@pytest.mark.parametrize("body", [b"{not json", b"[1,2]"])
async def test_malformed_json_gets_a_clear_json_error(
    aiohttp_client: Client, tmp_path: Path, sqlite_db: str, redis_url: str, body: bytes
) -> None:
    rt = build_runtime(replace(make_settings(tmp_path, sqlite_db, redis_url), dev_clock=True))
    client: TestClient = await aiohttp_client(create_app(rt))
    resp = await client.post("/api/dev/clock", data=body, headers={"Content-Type": "application/json"})
    assert resp.status == 400
    assert (await resp.json())["error"]["code"] == "bad_json"


async def test_healthz_names_an_eviction_policy_that_could_lose_queue_keys(
    aiohttp_client: Client, sqlite_runtime: Runtime, redis_client: redis.Redis
) -> None:
    """RELIABILITY.md R4: allkeys-lru could evict an RQ queue; health says so by name."""
    client: TestClient = await aiohttp_client(create_app(sqlite_runtime))
    redis_client.config_set("maxmemory-policy", "allkeys-lru")
    try:
        resp = await client.get("/healthz")
        body = await resp.json()
    finally:
        redis_client.config_set("maxmemory-policy", "noeviction")
    assert resp.status == 503
    assert "allkeys-lru" in body["redis"] and body["db"] == "ok"
    assert (await client.get("/healthz")).status == 200
