"""Returns (guangzhou §17-18): the hotline reviews a return and an agent routes the ticket on; the
third return, by three different units, sends it to difficult-ticket coordination, where agents
see it, and the citizen is told."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp.test_utils import TestClient

from channels.console import COOKIE
from channels.web import create_app
from intake.events import DIFFICULT_QUEUE, RETURN_REVIEW_QUEUE
from intake.runtime import Runtime
from tests.support.journey import AUTH, Chat, console_login, drain

Client = Callable[..., Any]


async def test_the_third_return_goes_to_difficult_ticket_coordination(
    aiohttp_client: Client, sqlite_runtime: Runtime
) -> None:
    client: TestClient = await aiohttp_client(create_app(sqlite_runtime))
    chat = await Chat(client).open()
    body = await chat.say("我要投诉，幸福小区3栋楼下的烧烤店每晚油烟很大，希望城管处理，电话13800138000")
    number = body["ticket"]["number"]
    login = await console_login(client, sqlite_runtime, "a3x")
    agent = {
        "cookies": {COOKIE: login.cookies[COOKIE].value},
        "headers": {"X-CSRF-Token": (await login.json())["csrf"]},
    }
    units = []
    for i, next_unit in enumerate(("市市场监督管理局", "市交通运输局", None)):
        drain(sqlite_runtime)
        view = await (await client.get(f"/api/tickets/{number}", headers=AUTH)).json()
        assert view["status"] == "dispatched", (i, view)
        assert view["unit"] not in units  # never back to a unit that returned it
        units.append(view["unit"])
        resp = await client.post(
            f"/api/tickets/{number}/events",
            json={"type": "returned", "reason": f"不属于本单位职责{i}"},
            headers=AUTH,
        )
        assert resp.status == 200
        if next_unit is None:
            break
        # guangzhou §17: the hotline reviews the return; approved, an agent routes it on
        view = await (await client.get(f"/api/tickets/{number}", headers=AUTH)).json()
        assert (view["status"], view["unit"]) == ("registered", RETURN_REVIEW_QUEUE), view
        routed = await client.post(f"/api/console/tickets/{number}/route", json={"unit": next_unit}, **agent)
        assert routed.status == 200, await routed.text()
    drain(sqlite_runtime)
    view = await (await client.get(f"/api/tickets/{number}", headers=AUTH)).json()
    assert view["status"] == "registered" and view["unit"] == DIFFICULT_QUEUE
    assert [e["type"] for e in view["events"]].count("dispatched") == 3
    told = [m["text"] for m in await chat.later()]
    assert any("疑难工单协调" in t for t in told)
    queue = await (await client.get("/api/console/queue", cookies=agent["cookies"])).json()
    assert number in [t["number"] for t in queue["manual_routing"]]
