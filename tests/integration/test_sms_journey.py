"""A citizen's SMS journey end to end through the real app (stub gateway of CONTRACT.md), on
SQLite and PostgreSQL: POST /api/sms/inbound → dialog → SQL → RQ → GET /api/sms/outbox. One
sender however the number is written; long notices carry their SMS part count; the evaluation
prompt and the parsing of the citizen's answer by SMS (CONTRACT.md "Satisfaction evaluation")."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from channels.sms_text import split_sms
from channels.web import create_app
from intake.clock import ManualClock
from intake.model import REGISTRATION_HOLD
from intake.runtime import Runtime
from intake.texts import format_deadline
from tests.support.journey import AUTH, drain, post_sms
from worker.context import get_services
from worker.timers import run_timers

Client = Callable[..., Any]
NUMBER = re.compile(r"\d{8}-\d{6,9}")
PHONE = "+8613800138000"
PROMPT = "1 非常满意 2 满意 3 基本满意 4 不满意 5 非常不满意"


class Handset:
    """A citizen's phone, through the stub gateway's public API."""

    def __init__(self, client: TestClient, runtime: Runtime, number: str = PHONE) -> None:
        self.client = client
        self.runtime = runtime
        self.number = number
        self.seen = 0

    async def text(self, body: str, sender: str | None = None) -> None:
        resp = await post_sms(self.client, {"from": sender or self.number, "text": body})
        assert resp.status == 200, await resp.text()
        assert await resp.json() == {"accepted": True}

    async def inbox(self) -> list[dict[str, Any]]:
        """What reached the phone since the last look (the worker drained first)."""
        drain(self.runtime)
        resp = await self.client.get("/api/sms/outbox", params={"to": self.number}, headers=AUTH)
        assert resp.status == 200
        messages: list[dict[str, Any]] = (await resp.json())["messages"]
        new, self.seen = messages[self.seen :], len(messages)
        return new


def joined(messages: list[dict[str, Any]]) -> str:
    return "\n".join(m["text"] for m in messages)


async def register(phone: Handset) -> str:
    await phone.text("我要投诉，小区楼下烧烤店每晚油烟很大")
    prompt = await phone.inbox()
    assert len(prompt) == 1
    # the dialog asks SMS senders for their number too (reported); answer as a citizen would
    await phone.text("电话13800138000，地址：幸福小区3栋，希望城管处理")
    replies = await phone.inbox()
    found = NUMBER.search(joined(replies))
    assert found is not None, joined(replies)
    return found.group(0)


async def complete(client: TestClient, number: str, result: str = "已责令商户安装油烟净化器") -> None:
    resp = await client.post(
        f"/api/tickets/{number}/events", json={"type": "completed", "result": result}, headers=AUTH
    )
    assert resp.status == 200, await resp.text()


async def test_a_complaint_by_sms_from_first_text_to_evaluation(
    aiohttp_client: Client, runtime: Runtime
) -> None:
    client: TestClient = await aiohttp_client(create_app(runtime))
    phone = Handset(client, runtime)

    await phone.text("我要投诉，小区楼下烧烤店老板态度很差", sender="13800138000")
    prompt = await phone.inbox()
    assert len(prompt) == 1
    assert prompt[0]["to"] == PHONE
    for label in ("事发地址", "您的诉求"):  # guangzhou §12: everything missing, once
        assert label in prompt[0]["text"]

    # the same citizen, the number written another way
    await phone.text("电话13800138000，地址：幸福小区3栋，希望城管处理", sender="+86 138 0013 8000")
    replies = await phone.inbox()
    found = NUMBER.search(joined(replies))
    assert found is not None, joined(replies)
    number = found.group(0)
    assert "答复" in joined(replies)
    view = await (await client.get(f"/api/tickets/{number}", headers=AUTH)).json()
    assert view["channel"] == "sms" and view["category"] == "投诉"
    assert view["contact"] == {"phone": "138****8000"}

    long_result = "经核查，该烧烤店未安装油烟净化设施，城管执法人员已于现场责令其立即整改，" * 3
    await complete(client, number, long_result)
    notices = await phone.inbox()
    result = next(m for m in notices if "城管执法人员" in m["text"])
    assert result["parts"] == len(split_sms(result["text"])) > 1  # whole text, parts counted
    assert PROMPT in joined(notices)

    await phone.text("２", sender="0086 13800138000")  # full-width digit
    thanks = await phone.inbox()
    assert len(thanks) == 1 and "感谢" in thanks[0]["text"]
    final = await (await client.get(f"/api/tickets/{number}", headers=AUTH)).json()
    assert final["status"] == "closed"
    assert final["evaluation"] == {"level": "满意", "round": 1}


async def test_registration_and_dispatch_a_moment_later_come_in_one_sms(
    aiohttp_client: Client, runtime: Runtime
) -> None:
    """Issue 19: not two notices (three SMS parts) for one request; the deadline stated is the
    unit's, the same the API and 查询进度 give."""
    client: TestClient = await aiohttp_client(create_app(runtime))
    phone = Handset(client, runtime)
    await phone.text("我要投诉，幸福小区3栋楼下的烧烤店每晚油烟很大，希望城管处理")
    (told,) = await phone.inbox()  # the worker dispatched it meanwhile
    assert told["text"].startswith("【12345热线】您的诉求已登记")  # the hotline's SMS signature
    assert told["parts"] == len(split_sms(told["text"]))  # and it counts
    number = NUMBER.search(told["text"])
    assert number is not None, told
    view = await (await client.get(f"/api/tickets/{number.group(0)}", headers=AUTH)).json()
    deadline = format_deadline(datetime.fromisoformat(view["deadline"]))
    assert view["status"] == "dispatched" and view["unit"] in told["text"]
    assert deadline in told["text"] and "预计" not in told["text"]
    assert await phone.inbox() == []  # and nothing else follows
    await phone.text("查询进度")
    (progress,) = await phone.inbox()
    assert deadline in progress["text"]


async def test_a_registration_waiting_for_routing_is_told_alone_after_a_few_minutes(
    aiohttp_client: Client, runtime: Runtime, clock: ManualClock
) -> None:
    client: TestClient = await aiohttp_client(create_app(runtime))
    phone = Handset(client, runtime)
    await phone.text("请问一下我这个情况怎么处理比较好，邻居家的猫总跑到我家")  # no unit matches
    assert await phone.inbox() == []  # held for its dispatch
    clock.advance(REGISTRATION_HOLD.total_seconds() - 5)
    run_timers(runtime, get_services().policy)
    assert await phone.inbox() == []
    clock.advance(10)
    run_timers(runtime, get_services().policy)
    (told,) = await phone.inbox()
    number = NUMBER.search(told["text"])
    assert number is not None, told
    view = await (await client.get(f"/api/tickets/{number.group(0)}", headers=AUTH)).json()
    assert view["status"] == "registered"  # waiting for an agent to route it
    assert "预计" + format_deadline(datetime.fromisoformat(view["deadline"])) in told["text"]
    run_timers(runtime, get_services().policy)
    assert await phone.inbox() == []  # released once


async def test_an_sms_sender_is_not_asked_for_their_number(
    aiohttp_client: Client, sqlite_runtime: Runtime
) -> None:
    client: TestClient = await aiohttp_client(create_app(sqlite_runtime))
    phone = Handset(client, sqlite_runtime)
    await phone.text("我要投诉，小区楼下烧烤店每晚油烟很大")
    prompt = await phone.inbox()
    assert "事发地址" in prompt[0]["text"]
    assert "联系电话" not in prompt[0]["text"]  # the sender's number is the contact


@pytest.mark.parametrize(
    ("answer", "level", "status"),
    [
        ("1", "非常满意", "closed"),
        ("5", "非常不满意", "completed"),  # guangzhou §28: the hotline calls back first
        ("满意", "满意", "closed"),
        ("非常满意", "非常满意", "closed"),
        ("不满意", "不满意", "completed"),  # under review; re-handling is an agent's decision
        ("基本满意", "基本满意", "closed"),
        ("满意！谢谢", "满意", "closed"),
    ],
)
async def test_evaluation_answers_by_sms(
    aiohttp_client: Client, sqlite_runtime: Runtime, answer: str, level: str, status: str
) -> None:
    client: TestClient = await aiohttp_client(create_app(sqlite_runtime))
    phone = Handset(client, sqlite_runtime)
    number = await register(phone)
    await complete(client, number)
    assert PROMPT in joined(await phone.inbox())
    await phone.text(answer)
    reply = joined(await phone.inbox())
    assert number in reply
    view = await (await client.get(f"/api/tickets/{number}", headers=AUTH)).json()
    assert view["evaluation"] == {"level": level, "round": 1}
    assert view["status"] == status


async def test_nonsense_gets_one_reask_then_counts_as_invalid(
    aiohttp_client: Client, sqlite_runtime: Runtime
) -> None:
    client: TestClient = await aiohttp_client(create_app(sqlite_runtime))
    phone = Handset(client, sqlite_runtime)
    number = await register(phone)
    await complete(client, number)
    await phone.inbox()

    await phone.text("今天吃什么")
    reask = await phone.inbox()
    assert len(reask) == 1 and PROMPT in reask[0]["text"]
    await phone.text("随便吧")
    invalid = await phone.inbox()
    assert len(invalid) == 1 and "无效" in invalid[0]["text"]
    view = await (await client.get(f"/api/tickets/{number}", headers=AUTH)).json()
    assert view.get("evaluation") in (None, {"level": None, "round": 1})
    assert "evaluation_invalid" in [e["type"] for e in view["events"]]


async def test_after_an_invalid_evaluation_nothing_more_is_asked(
    aiohttp_client: Client, sqlite_runtime: Runtime
) -> None:
    client: TestClient = await aiohttp_client(create_app(sqlite_runtime))
    phone = Handset(client, sqlite_runtime)
    number = await register(phone)
    await complete(client, number)
    await phone.inbox()
    await phone.text("今天吃什么")
    await phone.text("随便吧")
    await phone.inbox()
    await phone.text("谢谢")  # small talk, not a third evaluation attempt
    assert PROMPT not in joined(await phone.inbox())


async def test_inbound_is_validated_and_deduplicated(aiohttp_client: Client, sqlite_runtime: Runtime) -> None:
    client: TestClient = await aiohttp_client(create_app(sqlite_runtime))
    bad = await post_sms(client, {"from": "10086", "text": "hi"})
    assert bad.status == 400 and (await bad.json())["error"]["code"] == "bad_phone"
    missing = await post_sms(client, {"from": PHONE})
    assert missing.status == 400 and "error" in await missing.json()
    for _ in range(3):  # the gateway retried its webhook: one message, one reply
        resp = await post_sms(client, {"from": PHONE, "text": "我要投诉，路灯坏了", "id": "gw-1"})
        assert resp.status == 200
    assert sqlite_runtime.store.count_inbound() == 1
    phone = Handset(client, sqlite_runtime)
    assert len(await phone.inbox()) == 1
    wrong = await client.get("/api/sms/outbox", params={"to": "nobody"}, headers=AUTH)
    assert wrong.status == 400


async def test_another_number_reusing_a_provider_id_is_its_own_message(
    aiohttp_client: Client, sqlite_runtime: Runtime
) -> None:
    client: TestClient = await aiohttp_client(create_app(sqlite_runtime))
    first, second = Handset(client, sqlite_runtime), Handset(client, sqlite_runtime, "+8613900139000")
    for number in (first.number, second.number):
        resp = await post_sms(client, {"from": number, "text": "我要投诉，路灯坏了", "id": "gw-7"})
        assert resp.status == 200
    assert sqlite_runtime.store.count_inbound() == 2
    assert len(await first.inbox()) == 1 and len(await second.inbox()) == 1
