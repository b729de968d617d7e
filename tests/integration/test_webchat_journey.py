"""One citizen journey end to end on real parts (web chat → dialog → SQL → RQ → back in the chat),
on SQLite and on PostgreSQL: file, the one-time prompt, supplement, number, dispatch notice,
extension notice, result, evaluation, re-handling, second evaluation (guangzhou profile)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from aiohttp.test_utils import TestClient

from channels.console import COOKIE
from channels.web import create_app
from intake.runtime import Runtime
from tests.support.journey import AUTH, Chat, console_login, drain, texts

Client = Callable[..., Any]
NUMBER = re.compile(r"\d{8}-\d{6}")


async def test_a_complaint_from_first_message_to_second_evaluation(
    aiohttp_client: Client, runtime: Runtime
) -> None:
    client: TestClient = await aiohttp_client(create_app(runtime))
    chat = await Chat(client).open()

    first = await chat.say("我要投诉，小区楼下烧烤店老板态度很差")  # what they want is not obvious
    assert first["ticket"]["status"] == "collecting"
    assert first["ticket"]["category"] == "投诉"
    assert first["ticket"]["number"] is None
    prompt = texts(first)
    # guangzhou §12: everything missing, once, in one message
    for label in ("联系电话", "事发地址", "您的诉求"):
        assert label in prompt
    assert "涉及的单位" not in prompt  # the shop was understood

    second = await chat.say("电话13800138000，地址：幸福小区3栋，希望城管处理")
    ticket = second["ticket"]
    assert ticket["status"] == "registered"
    assert NUMBER.fullmatch(ticket["number"])
    assert ticket["category"] == "投诉"
    assert ticket["number"] in texts(second) and "答复" in texts(second)
    deadline = datetime.fromisoformat(ticket["deadline"])
    assert deadline - runtime.clock.now() > timedelta(days=10)  # 10 working days (guangzhou §14)

    drain(runtime)
    notices = await chat.later()
    dispatched = [m for m in notices if "已转交市城市管理和综合执法局办理" in m["text"]]
    assert dispatched
    number = ticket["number"]
    assert dispatched[0]["ticket"]["number"] == number  # the page's ticket card follows the notice
    assert dispatched[0]["ticket"]["status"] == "dispatched"

    back = await client.get(f"/api/tickets/{number}", headers=AUTH)
    view = await back.json()
    assert view["status"] == "dispatched" and view["unit"] == "市城市管理和综合执法局"
    assert view["contact"] == {"phone": "138****8000"}
    assert "13800138000" not in await back.text()

    await client.post(f"/api/tickets/{number}/events", json={"type": "signed"}, headers=AUTH)
    new_deadline = (deadline + timedelta(days=7)).isoformat()
    ext = await client.post(
        f"/api/tickets/{number}/events",
        json={"type": "extension_approved", "new_deadline": new_deadline, "reason": "需现场核查"},
        headers=AUTH,
    )
    assert ext.status == 200, await ext.text()
    drain(runtime)
    notices = await chat.later()
    assert any("需现场核查" in m["text"] and "延期" in m["text"] for m in notices)

    done = await client.post(
        f"/api/tickets/{number}/events",
        json={"type": "completed", "result": "已责令商户安装油烟净化器"},
        headers=AUTH,
    )
    assert done.status == 200
    drain(runtime)
    notices = await chat.later()
    assert any("已责令商户安装油烟净化器" in m["text"] for m in notices)
    assert any("1 非常满意 2 满意 3 基本满意 4 不满意 5 非常不满意" in m["text"] for m in notices)

    unhappy = await chat.say("4")
    assert "回访" in texts(unhappy)  # guangzhou §28: the hotline calls back before re-handling
    agent = await console_login(client, runtime)
    decided = await client.post(
        f"/api/console/tickets/{number}/review",
        json={"decision": "rehandle", "callback": "已电话回访，油烟仍未改善"},
        headers={"X-CSRF-Token": (await agent.json())["csrf"]},
        cookies={COOKIE: agent.cookies[COOKIE].value},
    )
    assert decided.status == 200, await decided.text()
    drain(runtime)
    assert "重新办理" in " ".join(m["text"] for m in await chat.later())
    again = await (await client.get(f"/api/tickets/{number}", headers=AUTH)).json()
    assert again["status"] == "rehandling"
    # guangzhou §29: no extension during re-handling
    refused = await client.post(
        f"/api/tickets/{number}/events",
        json={"type": "extension_approved", "new_deadline": new_deadline, "reason": "再延"},
        headers=AUTH,
    )
    assert refused.status == 409
    await client.post(
        f"/api/tickets/{number}/events", json={"type": "completed", "result": "商户已停业整改"}, headers=AUTH
    )
    drain(runtime)
    await chat.later()
    happy = await chat.say("2")
    assert "感谢" in texts(happy)
    final = await (await client.get(f"/api/tickets/{number}", headers=AUTH)).json()
    assert final["status"] == "closed"
    assert final["evaluation"] == {"level": "满意", "round": 2}


async def test_facts_added_after_registration_reach_the_unit_as_text(
    aiohttp_client: Client, runtime: Runtime
) -> None:
    """Issue 19: a citizen who added facts after the ticket number got the canned answer and the
    unit saw a bare event. The text is now the ticket's supplement (CONTRACT.md), masked."""
    client: TestClient = await aiohttp_client(create_app(runtime))
    chat = await Chat(client).open()
    body = await chat.say("我要投诉，幸福小区3栋楼下的烧烤店每晚油烟很大，希望城管处理，电话13800138000")
    number = body["ticket"]["number"]
    added = await chat.say("补充一下：他们晚上十点以后还在营业，也可以打我爱人电话13900001111")
    assert number in texts(added)
    view = await (await client.get(f"/api/tickets/{number}", headers=AUTH)).json()
    [supplement] = view["supplements"]
    assert "十点以后还在营业" in supplement["text"] and "13900001111" not in supplement["text"]
