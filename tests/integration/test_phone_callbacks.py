"""A phone request that left something out is an agent's task, not a refusal (guangzhou §12.1):
the hotline calls the caller back, at least 15 minutes apart; three unanswered calls or a refusal
end it with the reason noted and the caller told by SMS; the missing items given make it a ticket
that is dispatched like any other."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp.test_utils import TestClient

from channels.console import COOKIE
from channels.web import create_app
from intake.clock import ManualClock
from intake.runtime import Runtime
from tests.support.journey import AUTH, console_login, drain

Client = Callable[..., Any]
CALLER = "13912340001"
NO_DEMAND = {
    "channel": "phone",
    "phone": CALLER,
    "category": "投诉",
    "subject": "楼下烧烤店",
    "content": "楼下烧烤店油烟很大",
    "address": "和平路8号",
}


class Desk:
    def __init__(self, client: TestClient, runtime: Runtime) -> None:
        self.client, self.runtime = client, runtime
        self.cookies: dict[str, str] = {}
        self.csrf = ""

    async def login(self) -> Desk:
        resp = await console_login(self.client, self.runtime)
        self.cookies, self.csrf = {COOKIE: resp.cookies[COOKIE].value}, (await resp.json())["csrf"]
        return self

    async def tasks(self) -> list[dict[str, Any]]:
        resp = await self.client.get("/api/console/calls", cookies=self.cookies)
        assert resp.status == 200
        calls: list[dict[str, Any]] = (await resp.json())["calls"]
        return calls

    async def call(self, tid: int, body: dict[str, Any], status: int = 200) -> dict[str, Any]:
        await self.login()  # the clock moves between calls: a fresh session each time
        resp = await self.client.post(
            f"/api/console/calls/{tid}/attempt",
            json=body,
            cookies=self.cookies,
            headers={"X-CSRF-Token": self.csrf},
        )
        assert resp.status == status, await resp.text()
        out: dict[str, Any] = await resp.json()
        return out


async def _waiting(client: TestClient) -> None:
    resp = await client.post("/api/tickets", json={**NO_DEMAND, "await_supplement": True}, headers=AUTH)
    assert resp.status == 201, await resp.text()
    body = await resp.json()
    assert body["status"] == "awaiting_supplement" and body["number"] is None


async def _sms(client: TestClient, runtime: Runtime) -> list[str]:
    drain(runtime)
    resp = await client.get("/api/sms/outbox", params={"to": CALLER}, headers=AUTH)
    return [m["text"] for m in (await resp.json())["messages"]]


async def test_three_unanswered_calls_fifteen_minutes_apart_end_the_request_and_the_caller_is_told(
    aiohttp_client: Client, runtime: Runtime, clock: ManualClock
) -> None:
    client: TestClient = await aiohttp_client(create_app(runtime))
    refused = await client.post("/api/tickets", json=NO_DEMAND, headers=AUTH)
    assert refused.status == 422  # without asking for call-backs: refused with the names, as before
    await _waiting(client)
    desk = await Desk(client, runtime).login()
    [task] = await desk.tasks()
    assert task["missing"] == ["demand"] and task["calls"] == 0 and task["attempts"] == 3
    tid = task["id"]

    await desk.call(tid, {"outcome": "no_answer"})
    again = await desk.call(tid, {"outcome": "no_answer"}, status=409)  # 1 minute later: too soon
    assert "15" in again["error"]["message"]
    clock.advance(15 * 60)
    second = await desk.call(tid, {"outcome": "no_answer"})
    assert second["status"] == "awaiting_supplement"
    [task] = await desk.tasks()
    assert task["calls"] == 2
    clock.advance(15 * 60)
    third = await desk.call(tid, {"outcome": "no_answer"})
    assert third["status"] == "closed" and "3 次电话联系" in third["reason"]
    assert await desk.tasks() == []
    await desk.call(tid, {"outcome": "no_answer"}, status=409)  # ended: no fourth call
    told = await _sms(client, runtime)
    assert len(told) == 1 and "再次拨打12345" in told[0]  # told once, at the far end


async def test_the_missing_item_given_makes_it_a_ticket_and_a_refusal_ends_it(
    aiohttp_client: Client, runtime: Runtime, clock: ManualClock
) -> None:
    client: TestClient = await aiohttp_client(create_app(runtime))
    await _waiting(client)
    await _waiting(client)
    desk = await Desk(client, runtime).login()
    first, second = await desk.tasks()

    await desk.call(first["id"], {"outcome": "no_answer"})
    clock.advance(20 * 60)
    given = await desk.call(first["id"], {"outcome": "supplied", "demand": "请城管尽快处理"})
    assert given["status"] == "registered" and given["number"]
    drain(runtime)
    view = await (await client.get(f"/api/tickets/{given['number']}", headers=AUTH)).json()
    assert view["status"] == "dispatched" and view["demand"] == "请城管尽快处理"
    assert [e["type"] for e in view["events"]].count("supplement_call") == 2

    ended = await desk.call(second["id"], {"outcome": "refused"})
    assert ended["status"] == "closed" and ended["reason"] == "诉求人拒绝补充信息"
    assert await desk.tasks() == []
    told = await _sms(client, runtime)
    assert sum("已登记" in t for t in told) == 1 and sum("拒绝补充" in t for t in told) == 1


async def test_bad_call_backs_are_refused_and_change_nothing(
    aiohttp_client: Client, runtime: Runtime
) -> None:
    client: TestClient = await aiohttp_client(create_app(runtime))
    hidden = {**NO_DEMAND, "await_supplement": True, "hide": ["phone"]}
    assert (await client.post("/api/tickets", json=hidden, headers=AUTH)).status == 422  # no one to call
    await _waiting(client)
    desk = await Desk(client, runtime).login()
    [task] = await desk.tasks()
    await desk.call(task["id"], {"outcome": "hung_up"}, status=400)
    await desk.call(task["id"], {"outcome": "supplied", "demand": "长" * 6000}, status=400)
    await desk.call(999_999, {"outcome": "no_answer"}, status=404)
    resp = await client.post(f"/api/console/calls/{task['id']}/attempt", json={"outcome": "refused"})
    assert resp.status == 401  # no session
    [still] = await desk.tasks()
    assert still["calls"] == 0
