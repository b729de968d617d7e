"""The console's sessions (RELIABILITY.md S2) and its queue, through the real app."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp.test_utils import TestClient

from channels.console import COOKIE
from channels.web import create_app
from intake.clock import ManualClock
from intake.principals import Principals
from intake.runtime import Runtime
from tests.support.journey import AGENT_PASSWORD, AUTH, Chat, drain

Client = Callable[..., Any]


async def login(client: TestClient, runtime: Runtime, password: str = AGENT_PASSWORD) -> Any:
    if runtime.store.account("a017") is None:
        Principals(runtime.store).create_account("a017", AGENT_PASSWORD, "agent", "test")
    return await client.post("/api/console/login", json={"login": "a017", "password": password})


async def test_login_sets_a_hardened_cookie_and_the_queue_needs_it(
    aiohttp_client: Client, sqlite_runtime: Runtime
) -> None:
    client: TestClient = await aiohttp_client(create_app(sqlite_runtime))
    assert (await client.get("/api/console/queue")).status == 401
    assert (await login(client, sqlite_runtime, "wrong-password-123")).status == 401
    resp = await login(client, sqlite_runtime)
    assert resp.status == 200
    header = resp.headers["Set-Cookie"]
    assert header.startswith(f"{COOKIE}=")
    for flag in ("HttpOnly", "Secure", "SameSite=Strict", "Path=/"):
        assert flag in header
    queue = await client.get("/api/console/queue", cookies={COOKIE: resp.cookies[COOKIE].value})
    assert queue.status == 200
    body = await queue.json()
    assert set(body) >= {"intake", "open", "waiting_for_citizen", "failed_deliveries", "failed_jobs"}


async def test_state_changes_need_csrf_and_same_origin(
    aiohttp_client: Client, sqlite_runtime: Runtime
) -> None:
    client: TestClient = await aiohttp_client(create_app(sqlite_runtime))
    resp = await login(client, sqlite_runtime)
    csrf = (await resp.json())["csrf"]
    cookies = {COOKIE: resp.cookies[COOKIE].value}
    form = {
        "phone": "13912345678",
        "category": "求助",
        "content": "家门口井盖丢了",
        "address": "和平路8号",
        "demand": "尽快补上",
    }
    no_token = await client.post("/api/console/tickets", json=form, cookies=cookies)
    assert no_token.status == 403
    cross_site = await client.post(
        "/api/console/tickets",
        json=form,
        cookies=cookies,
        headers={"X-CSRF-Token": csrf, "Origin": "https://evil.example"},
    )
    assert cross_site.status == 403
    ok = await client.post("/api/console/tickets", json=form, cookies=cookies, headers={"X-CSRF-Token": csrf})
    assert ok.status == 201, await ok.text()
    ticket = await ok.json()
    assert ticket["channel"] == "phone" and ticket["number"]
    assert ticket["contact"] == {"phone": "139****5678"}
    # the caller hears back by SMS
    drain(sqlite_runtime)
    outbox = await (await client.get("/api/sms/outbox", params={"to": "13912345678"}, headers=AUTH)).json()
    assert any(ticket["number"] in m["text"] for m in outbox["messages"])


async def test_logout_and_idle_timeout_end_the_session(
    aiohttp_client: Client, sqlite_runtime: Runtime, clock: ManualClock
) -> None:
    client: TestClient = await aiohttp_client(create_app(sqlite_runtime))
    resp = await login(client, sqlite_runtime)
    csrf = (await resp.json())["csrf"]
    cookies = {COOKIE: resp.cookies[COOKIE].value}
    out = await client.post("/api/console/logout", cookies=cookies, headers={"X-CSRF-Token": csrf})
    assert out.status == 200
    assert (await client.get("/api/console/queue", cookies=cookies)).status == 401  # cookie after logout
    resp = await login(client, sqlite_runtime)
    cookies = {COOKIE: resp.cookies[COOKIE].value}
    clock.advance(31 * 60)  # idle for longer than 30 minutes
    assert (await client.get("/api/console/queue", cookies=cookies)).status == 401


async def test_the_queue_shows_drafts_waiting_and_tickets_masked(
    aiohttp_client: Client, sqlite_runtime: Runtime
) -> None:
    client: TestClient = await aiohttp_client(create_app(sqlite_runtime))
    chat = await Chat(client).open()
    await chat.say("我要投诉，小区楼下烧烤店每晚油烟很大")  # waits for the citizen's supplement
    other = await Chat(client).open()
    await other.say(
        "我要投诉，幸福小区3栋楼下的烧烤店每晚油烟很大，希望城管处理，我叫王小明，电话13800138000"
    )
    resp = await login(client, sqlite_runtime)
    body = await (await client.get("/api/console/queue", cookies={COOKIE: resp.cookies[COOKIE].value})).json()
    assert len(body["waiting_for_citizen"]) >= 1
    text = str(body)
    assert "13800138000" not in text and "王小明" not in text


async def test_the_console_cannot_be_framed_and_the_chat_can(
    aiohttp_client: Client, sqlite_runtime: Runtime
) -> None:
    """Issue 18: a framing page could make an agent press buttons they do not see; the chat
    page is meant to be embedded (widget.js)."""
    client: TestClient = await aiohttp_client(create_app(sqlite_runtime))
    console = await client.get("/console/")
    assert console.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in console.headers["Content-Security-Policy"]
    chat = await client.get("/chat/")
    assert "frame-ancestors *" in chat.headers["Content-Security-Policy"]
    assert "X-Frame-Options" not in chat.headers
