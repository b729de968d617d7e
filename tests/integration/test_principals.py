"""Who is speaking on the back office and the console (issue 18): the centre's token, a handling
unit's own token, an agent's own account. Each attack as it would be tried: another unit's ticket,
the API token as a console password, guessed passwords, a contact revealed twice at once."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from aiohttp.test_utils import TestClient
from sqlalchemy import select

from channels.console import COOKIE, FAILURES_PER_LOGIN
from channels.web import create_app
from intake.runtime import Runtime
from intake.store.schema import accounts, audit_log
from tests.integration.test_phone_tickets import CALL
from tests.support.journey import AGENT_PASSWORD, API_TOKEN, AUTH, console_login, drain

Client = Callable[..., Any]
CITY = "市城市管理和综合执法局"  # the routing rule for 油烟 and 烧烤 (intake/data/routing.toml)
WATER = "市自来水公司"
WATER_CALL = {**CALL, "subject": "自来水公司", "content": "我家停水三天了", "demand": "尽快恢复供水"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def unit_token(client: TestClient, unit: str) -> str:
    resp = await client.post(f"/api/units/{quote(unit)}/tokens", headers=AUTH)
    assert resp.status == 201, await resp.text()
    body = await resp.json()
    assert body["unit"] == unit
    return str(body["token"])


async def phone_ticket(client: TestClient, runtime: Runtime, call: dict[str, Any]) -> str:
    resp = await client.post("/api/tickets", json=call, headers=AUTH)
    assert resp.status == 201, await resp.text()
    number = str((await resp.json())["number"])
    drain(runtime)  # dispatched to its unit
    return number


def audited(runtime: Runtime, action: str) -> list[tuple[str, str | None]]:
    with runtime.engine.connect() as conn:
        rows = conn.execute(select(audit_log.c.actor, audit_log.c.target).where(audit_log.c.action == action))
        return [(r.actor, r.target) for r in rows]


async def test_a_unit_token_sees_and_acts_on_its_own_tickets_only(
    aiohttp_client: Client, sqlite_runtime: Runtime
) -> None:
    rt = sqlite_runtime
    client: TestClient = await aiohttp_client(create_app(rt))
    city = await phone_ticket(client, rt, CALL)
    water = await phone_ticket(client, rt, WATER_CALL)
    city_token, water_token = await unit_token(client, CITY), await unit_token(client, WATER)

    mine = await (await client.get("/api/tickets", headers=bearer(city_token))).json()
    assert [t["number"] for t in mine["tickets"]] == [city]
    assert (await client.get(f"/api/tickets/{city}", headers=bearer(city_token))).status == 200
    other = await client.get(f"/api/tickets/{water}", headers=bearer(city_token))
    assert other.status == 404  # as if it did not exist
    step = await client.post(
        f"/api/tickets/{water}/events", json={"type": "signed"}, headers=bearer(city_token)
    )
    assert step.status == 404
    paged = await client.get(f"/api/tickets?before={water}", headers=bearer(city_token))
    assert paged.status == 404
    signed = await client.post(
        f"/api/tickets/{water}/events",
        json={"type": "signed", "actor": "市城市管理和综合执法局"},  # a name in the body is not believed
        headers=bearer(water_token),
    )
    assert signed.status == 200
    assert (await signed.json())["events"][-1]["actor"] == f"unit:{WATER}"
    everything = await (await client.get("/api/tickets", headers=AUTH)).json()
    assert {t["number"] for t in everything["tickets"]} == {city, water}  # the centre sees all

    # what only the centre may do
    assert (await client.post("/api/tickets", json=CALL, headers=bearer(city_token))).status == 403
    assert (await client.post(f"/api/units/{quote(WATER)}/tokens", headers=bearer(city_token))).status == 403
    body = {"login": "u1", "password": "unit-made-password-1", "role": "admin"}
    assert (await client.post("/api/agents", json=body, headers=bearer(city_token))).status == 403
    for wrong in ("", "x" * 43, "令牌", "Bearer", city_token + "x"):
        resp = await client.get("/api/tickets", headers={"Authorization": f"Bearer {wrong}"})
        assert resp.status == 401, wrong
    assert (await client.post("/api/units/%20/tokens", headers=AUTH)).status == 400
    assert audited(rt, "unit_token_created") == [("api-token", CITY), ("api-token", WATER)]


async def test_a_unit_calls_its_citizen_back_once_and_never_an_anonymous_one(
    aiohttp_client: Client, sqlite_runtime: Runtime
) -> None:
    rt = sqlite_runtime
    client: TestClient = await aiohttp_client(create_app(rt))
    named = await phone_ticket(client, rt, CALL)
    anonymous = await phone_ticket(client, rt, {**CALL, "anonymous": True, "name": None})
    token = await unit_token(client, CITY)

    view = await (await client.get(f"/api/tickets/{named}", headers=bearer(token))).json()
    assert view["contact"] == {"name": "张**", "phone": "138****8000"}  # masked on every view
    attempts = await asyncio.gather(
        *(client.post(f"/api/tickets/{named}/contact", headers=bearer(token)) for _ in range(4))
    )
    statuses = sorted(r.status for r in attempts)
    assert statuses == [200, 409, 409, 409]  # once, also when asked four times at once
    [ok] = [r for r in attempts if r.status == 200]
    assert await ok.json() == {"name": "张三丰", "phone": "+8613800138000"}
    assert audited(rt, "contact_revealed") == [(f"unit:{CITY}", named)]
    events = (await (await client.get(f"/api/tickets/{named}", headers=AUTH)).json())["events"]
    assert next(e for e in events if e["type"] == "contact_revealed")["actor"] == f"unit:{CITY}"

    refused = await client.post(f"/api/tickets/{anonymous}/contact", headers=bearer(token))
    assert refused.status == 403 and "匿名" in (await refused.json())["error"]["message"]
    assert (await client.post(f"/api/tickets/{named}/contact", headers=AUTH)).status == 403
    water_token = await unit_token(client, WATER)
    assert (await client.post(f"/api/tickets/{named}/contact", headers=bearer(water_token))).status == 404


async def test_accounts_are_made_by_the_centre_and_stored_hashed(
    aiohttp_client: Client, sqlite_runtime: Runtime
) -> None:
    client: TestClient = await aiohttp_client(create_app(sqlite_runtime))
    body = {"login": "a1024", "password": "correct-horse-battery", "role": "supervisor"}
    assert (await client.post("/api/agents", json=body)).status == 401
    made = await client.post("/api/agents", json=body, headers=AUTH)
    assert made.status == 201 and await made.json() == {"login": "a1024", "role": "supervisor"}
    assert (await client.post("/api/agents", json=body, headers=AUTH)).status == 409
    for bad in (
        {**body, "login": "a2", "password": "short"},
        {**body, "login": "a1025a1025", "password": "a1025a1025"},
        {**body, "login": "a.b"},
        {**body, "login": "a3", "role": "root"},
        {**body, "login": "a4", "password": 1234567890123},
    ):
        resp = await client.post("/api/agents", json=bad, headers=AUTH)
        assert resp.status == 400, bad
    huge = {**body, "login": "a5", "password": "p" * 5000}  # over the route's 4 KiB
    assert (await client.post("/api/agents", json=huge, headers=AUTH)).status == 413
    twice = {**body, "login": "a2048"}  # the same login asked for twice at once: one account
    both = await asyncio.gather(*(client.post("/api/agents", json=twice, headers=AUTH) for _ in range(2)))
    assert sorted(r.status for r in both) == [201, 409]
    with sqlite_runtime.engine.connect() as conn:
        [stored] = conn.execute(select(accounts.c.password_hash).where(accounts.c.login == "a1024")).scalars()
    assert stored.startswith("$argon2id$") and "correct-horse-battery" not in stored
    login = await client.post(
        "/api/console/login", json={"login": "a1024", "password": "correct-horse-battery"}
    )
    assert login.status == 200 and (await login.json())["role"] == "supervisor"


async def test_the_api_token_opens_no_console_and_guessing_is_slowed_and_audited(
    aiohttp_client: Client, sqlite_runtime: Runtime
) -> None:
    rt = sqlite_runtime
    client: TestClient = await aiohttp_client(create_app(rt))
    await console_login(client, rt, "a017")  # an account exists
    for login in ("a017", "admin", "agent", API_TOKEN):
        resp = await client.post("/api/console/login", json={"login": login, "password": API_TOKEN})
        assert resp.status == 401, login
    for _ in range(FAILURES_PER_LOGIN - 1):
        resp = await client.post("/api/console/login", json={"login": "a017", "password": "guess-123456"})
        assert resp.status == 401
    throttled = await client.post("/api/console/login", json={"login": "a017", "password": AGENT_PASSWORD})
    assert throttled.status == 429 and int(throttled.headers["Retry-After"]) > 0  # even the right one, now
    other = await console_login(client, rt, "a018")  # another account from the same desk still can
    assert other.status == 200
    failed = audited(rt, "console_login_failed")
    assert failed.count(("a017", None)) == FAILURES_PER_LOGIN
    assert failed.count(("(unknown login)", None)) == 3  # what was typed in the login field is not kept
    assert all(API_TOKEN not in actor for actor, _ in failed)


async def test_the_audit_log_names_the_account(aiohttp_client: Client, sqlite_runtime: Runtime) -> None:
    rt = sqlite_runtime
    client: TestClient = await aiohttp_client(create_app(rt))
    login = await console_login(client, rt, "a042")
    cookies, csrf = {COOKIE: login.cookies[COOKIE].value}, (await login.json())["csrf"]
    form = {k: v for k, v in CALL.items() if k != "channel"}
    made = await client.post(
        "/api/console/tickets", json=form, cookies=cookies, headers={"X-CSRF-Token": csrf}
    )
    assert made.status == 201
    number = (await made.json())["number"]
    view = await (await client.get(f"/api/tickets/{number}", headers=AUTH)).json()
    assert view["events"][0]["actor"] == "a042"
    assert ("a042", None) in audited(rt, "console_login")
