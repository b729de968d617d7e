"""A person when asked (issue 19, CONTRACT.md "Web chat" and "Agents and the console API"):
"转人工" puts the conversation in the agents' hand-off queue and tells the citizen their place;
the bot stays quiet (emergencies still answered) while an agent answers on the citizen's own
channel, marked as a person's; released, the bot goes on with the draft it kept. Web chat and
SMS, the real app, SQL and Redis, the worker drained."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp.test_utils import TestClient

from channels.console import COOKIE
from channels.web import create_app
from intake.model import Address, Channel
from intake.runtime import Runtime
from tests.support.journey import Chat, console_login, drain, post_sms

Client = Callable[..., Any]
PHONE = "13912345678"


def texts(body: dict[str, Any]) -> str:
    return "\n".join(r["text"] for r in body["replies"])


class Agent:
    """An agent logged in to the console."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.cookies: dict[str, str] = {}
        self.headers: dict[str, str] = {}

    async def login(self, runtime: Runtime) -> Agent:
        resp = await console_login(self.client, runtime, "a101")
        self.cookies = {COOKIE: resp.cookies[COOKIE].value}
        self.headers = {"X-CSRF-Token": (await resp.json())["csrf"]}
        return self

    async def queue(self) -> list[dict[str, Any]]:
        resp = await self.client.get("/api/console/handoffs", cookies=self.cookies)
        assert resp.status == 200
        handoffs: list[dict[str, Any]] = (await resp.json())["handoffs"]
        return handoffs

    async def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        return await self.client.post(path, json=body, cookies=self.cookies, headers=self.headers)


async def test_a_person_when_asked_in_web_chat(aiohttp_client: Client, runtime: Runtime) -> None:
    client: TestClient = await aiohttp_client(create_app(runtime))
    citizen = await Chat(client).open()
    asked = await citizen.say("我要投诉，小区楼下烧烤店每晚油烟很大")
    assert "补充" in texts(asked)
    first = texts(await citizen.say("转人工"))
    assert "已为您转接人工客服" in first and "您是第一位" in first
    second = await Chat(client).open()
    assert "您前面还有1位" in texts(await second.say("人工客服"))

    quiet = await citizen.say(f"我跟烧烤店说过好几次了，没用。我电话{PHONE}")
    assert quiet["replies"] == []  # the bot stays quiet: a person has the conversation
    urgent = await citizen.say("楼下着火了！")
    assert "119" in texts(urgent)  # life first, always

    agent = await Agent(client).login(runtime)
    waiting = await agent.queue()
    assert [h["channel"] for h in waiting] == ["webchat", "webchat"]  # oldest first
    mine = waiting[0]
    assert PHONE not in str(waiting)  # the latest message, its phone masked
    assert "着火" in mine["text"]

    answer = "您好，我是人工客服小李。烧烤店油烟的事我们会登记并转城管，请问具体在哪个小区？"
    resp = await agent.post(f"/api/console/handoffs/{mine['id']}/reply", {"text": answer, "client_id": "r1"})
    assert resp.status == 200, await resp.text()
    again = await agent.post(f"/api/console/handoffs/{mine['id']}/reply", {"text": answer, "client_id": "r1"})
    assert again.status == 200  # a double click: the same answer
    drain(runtime)
    later = await citizen.later()
    from_agent = [m for m in later if m["from"] == "agent"]
    assert [m["text"] for m in from_agent] == [answer]  # once, marked as a person's
    url = f"/api/chat/sessions/{citizen.session_id}/history"
    history = await (await client.get(url, headers=citizen.headers)).json()
    assert any(m["from"] == "agent" and m["text"] == answer for m in history["messages"])

    released = await agent.post(f"/api/console/handoffs/{mine['id']}/release")
    assert released.status == 200
    assert [h["id"] for h in await agent.queue()] == [waiting[1]["id"]]
    gone = await agent.post(f"/api/console/handoffs/{mine['id']}/reply", {"text": "还在吗"})
    assert gone.status == 404
    # the bot goes on with the draft it kept
    done = await citizen.say(f"地址：幸福小区3栋，希望城管处理，电话{PHONE}")
    assert "已登记，工单号" in texts(done)


async def test_a_person_when_asked_by_sms(aiohttp_client: Client, runtime: Runtime) -> None:
    client: TestClient = await aiohttp_client(create_app(runtime))
    phone = "+8613700002222"
    resp = await post_sms(client, {"from": phone, "text": "转人工", "id": "h-1"})
    assert resp.status == 200
    agent = await Agent(client).login(runtime)
    [waiting] = await agent.queue()
    assert waiting["channel"] == "sms" and waiting["text"] == "转人工" and phone not in str(waiting)
    reply = await agent.post(
        f"/api/console/handoffs/{waiting['id']}/reply", {"text": "您好，这里是人工客服。"}
    )
    assert reply.status == 200
    drain(runtime)
    sent = [m.text for m in runtime.store.outbound_for(Address(Channel.SMS, phone))]
    assert any("已为您转接人工客服" in t for t in sent) and "您好，这里是人工客服。" in sent
