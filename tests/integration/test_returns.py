"""Returns (guangzhou §17-18): a returned ticket goes back to routing, never to a unit that
returned it (to an agent when the rules name no other); the third return, by three different
units, sends it to difficult-ticket coordination, where agents see it, and the citizen is told."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp.test_utils import TestClient

from channels.console import COOKIE
from channels.web import create_app
from intake.events import DIFFICULT_QUEUE
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
    for i in range(3):
        drain(sqlite_runtime)
        view = await (await client.get(f"/api/tickets/{number}", headers=AUTH)).json()
        if i == 2:  # the rules name no unit that has not returned it: an agent routes it
            assert (view["status"], view["unit"]) == ("registered", "12345热线人工分派"), view
            routed = await client.post(
                f"/api/console/tickets/{number}/route", json={"unit": "市市场监督管理局"}, **agent
            )
            assert routed.status == 200, await routed.text()
            drain(sqlite_runtime)
            view = await (await client.get(f"/api/tickets/{number}", headers=AUTH)).json()
        assert view["status"] == "dispatched", (i, view)
        assert view["unit"] not in units  # never back to a unit that returned it (guangzhou §17)
        units.append(view["unit"])
        resp = await client.post(
            f"/api/tickets/{number}/events",
            json={"type": "returned", "reason": f"不属于本单位职责{i}"},
            headers=AUTH,
        )
        assert resp.status == 200
    drain(sqlite_runtime)
    view = await (await client.get(f"/api/tickets/{number}", headers=AUTH)).json()
    assert view["status"] == "registered" and view["unit"] == DIFFICULT_QUEUE
    assert [e["type"] for e in view["events"]].count("dispatched") == 3
    told = [m["text"] for m in await chat.later()]
    assert any("疑难工单协调" in t for t in told)
    queue = await (await client.get("/api/console/queue", cookies=agent["cookies"])).json()
    assert number in [t["number"] for t in queue["manual_routing"]]
