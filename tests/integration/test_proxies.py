"""Behind a reverse proxy (issue 18, CONTRACT.md HOTLINE_TRUSTED_PROXIES): the proxy's
X-Forwarded-* headers are believed from the proxy only. Rate limits then key on the real client,
and the console works behind HTTPS termination; a client that sends the headers itself gains
nothing."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from ipaddress import ip_network
from typing import Any

import redis
from aiohttp.test_utils import TestClient

from channels.web import create_app
from intake.runtime import Runtime
from tests.integration.test_api_bad_input import allow_new_sessions
from tests.support.journey import AGENT_PASSWORD, console_login

Client = Callable[..., Any]
LIMIT = 30  # new chats a minute from one address (channels.webchat)


def behind_proxy(runtime: Runtime) -> Runtime:
    settings = replace(runtime.settings, trusted_proxies=(ip_network("127.0.0.1/32"),))
    return replace(runtime, settings=settings)


async def new_chats(client: TestClient, n: int, client_ip: str | None) -> list[int]:
    headers = {"X-Forwarded-For": f"{client_ip}, 127.0.0.1"} if client_ip else {}
    return [(await client.post("/api/chat/sessions", headers=headers)).status for _ in range(n)]


async def test_rate_limits_key_on_the_real_client_behind_a_trusted_proxy(
    aiohttp_client: Client, sqlite_runtime: Runtime, redis_client: redis.Redis
) -> None:
    allow_new_sessions(redis_client)
    client: TestClient = await aiohttp_client(create_app(behind_proxy(sqlite_runtime)))
    # a city's citizens all arrive from the proxy: each counted as themself
    for i in range(LIMIT + 5):
        assert await new_chats(client, 1, f"203.0.113.{i + 1}") == [201]
    statuses = await new_chats(client, LIMIT + 1, "198.51.100.7")
    assert statuses == [201] * LIMIT + [429]


async def test_forwarded_headers_from_anyone_else_are_ignored(
    aiohttp_client: Client, sqlite_runtime: Runtime, redis_client: redis.Redis
) -> None:
    allow_new_sessions(redis_client)
    client: TestClient = await aiohttp_client(create_app(sqlite_runtime))  # no trusted proxy
    statuses = [await new_chats(client, 1, f"203.0.113.{i + 1}") for i in range(LIMIT + 1)]
    assert [s for [s] in statuses] == [201] * LIMIT + [429]  # one address, whatever it claims


async def test_the_console_logs_in_behind_https_termination(
    aiohttp_client: Client, sqlite_runtime: Runtime
) -> None:
    headers = {
        "Origin": "https://hotline.example.gov.cn",
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "hotline.example.gov.cn",
        "X-Forwarded-For": "10.1.2.3",
    }
    plain: TestClient = await aiohttp_client(create_app(sqlite_runtime))
    await console_login(plain, sqlite_runtime, "a050")  # the account
    body = {"login": "a050", "password": AGENT_PASSWORD}
    refused = await plain.post("/api/console/login", json=body, headers=headers)
    assert refused.status == 403  # not from a trusted proxy: its Origin is another site's
    proxied: TestClient = await aiohttp_client(create_app(behind_proxy(sqlite_runtime)))
    ok = await proxied.post("/api/console/login", json=body, headers=headers)
    assert ok.status == 200, await ok.text()
