"""Phone tickets typed in by agents (CONTRACT.md POST /api/tickets), through the real app: the
same templates, anonymity rules and missing-field check as the dialog; the caller's
acknowledgement and every later notice go by SMS, and the caller can answer the evaluation by
SMS from the same number (guangzhou §9)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
from aiohttp.test_utils import TestClient

from channels.web import create_app
from intake.clock import ManualClock
from intake.corpus import product
from intake.runtime import Runtime, build_runtime
from intake.texts import format_deadline
from tests.conftest import make_settings
from tests.support.journey import AUTH, drain, post_sms

Client = Callable[..., Any]
NUMBER = re.compile(r"\d{8}-\d{6,9}")
PHONE = "+8613800138000"
CALL = {
    "channel": "phone",
    "phone": "+86 138 0013 8000",
    "name": "张三丰",
    "anonymous": False,
    "category": "投诉",
    "subject": "楼下烧烤店",
    "content": "小区楼下烧烤店每晚油烟很大",
    "address": "幸福小区3栋",
    "demand": "希望城管处理",
}


async def sms_to(client: TestClient, runtime: Runtime, phone: str = PHONE) -> list[dict[str, Any]]:
    drain(runtime)
    resp = await client.get("/api/sms/outbox", params={"to": phone}, headers=AUTH)
    assert resp.status == 200
    messages: list[dict[str, Any]] = (await resp.json())["messages"]
    return messages


async def test_a_phone_call_from_registration_to_the_evaluation_prompt_by_sms(
    aiohttp_client: Client, runtime: Runtime
) -> None:
    client: TestClient = await aiohttp_client(create_app(runtime))
    resp = await client.post("/api/tickets", json=CALL, headers=AUTH)
    assert resp.status == 201, await resp.text()
    raw = await resp.text()
    ticket = await resp.json()
    number = ticket["number"]
    assert NUMBER.fullmatch(number)
    assert ticket["channel"] == "phone" and ticket["category"] == "投诉"
    assert (
        ticket["contact"] == {"name": "张*丰", "phone": "138****8000"}
        or ticket["contact"]["phone"] == "138****8000"
    )
    assert "13800138000" not in raw and "张三丰" not in raw

    sms = await sms_to(client, runtime)
    # registered and dispatched a moment later: one SMS tells both, with the final deadline
    (told,) = sms
    view = await (await client.get(f"/api/tickets/{number}", headers=AUTH)).json()
    assert told["text"].startswith(f"【12345热线】您的诉求已登记，工单号：{number}（投诉）")  # signed
    assert view["unit"] in told["text"] and "预计" not in told["text"]
    assert format_deadline(datetime.fromisoformat(view["deadline"])) in told["text"]

    done = await client.post(
        f"/api/tickets/{number}/events", json={"type": "completed", "result": "已责令商户整改"}, headers=AUTH
    )
    assert done.status == 200
    later = (await sms_to(client, runtime))[1:]
    assert any("已责令商户整改" in m["text"] for m in later)
    assert any("1 非常满意 2 满意 3 基本满意 4 不满意 5 非常不满意" in m["text"] for m in later)


async def test_a_phone_caller_evaluates_by_sms(aiohttp_client: Client, sqlite_runtime: Runtime) -> None:
    runtime = sqlite_runtime
    client: TestClient = await aiohttp_client(create_app(runtime))
    number = (await (await client.post("/api/tickets", json=CALL, headers=AUTH)).json())["number"]
    await sms_to(client, runtime)  # the worker dispatches it (and acknowledges by SMS)
    done = await client.post(
        f"/api/tickets/{number}/events", json={"type": "completed", "result": "已责令商户整改"}, headers=AUTH
    )
    assert done.status == 200
    await sms_to(client, runtime)
    # the caller answers by SMS, the number written as the handset reports it
    answer = await post_sms(client, {"from": "13800138000", "text": "1"})
    assert answer.status == 200
    thanks = (await sms_to(client, runtime))[-1]
    assert number in thanks["text"] and "感谢" in thanks["text"]
    final = await (await client.get(f"/api/tickets/{number}", headers=AUTH)).json()
    assert final["evaluation"] == {"level": "非常满意", "round": 1}
    assert final["status"] == "closed"


async def test_missing_fields_are_refused_with_their_names(
    aiohttp_client: Client, sqlite_runtime: Runtime
) -> None:
    client: TestClient = await aiohttp_client(create_app(sqlite_runtime))
    call = {k: v for k, v in CALL.items() if k not in ("address", "demand")}
    resp = await client.post("/api/tickets", json=call, headers=AUTH)
    assert resp.status == 422
    error = (await resp.json())["error"]
    assert error["code"] == "missing_fields"
    assert "事发地址" in error["message"] and "您的诉求" in error["message"]
    assert await sms_to(client, sqlite_runtime) == []  # nothing registered, nothing sent


async def test_anonymous_callers_are_never_shown_nor_texted(
    aiohttp_client: Client, sqlite_runtime: Runtime
) -> None:
    client: TestClient = await aiohttp_client(create_app(sqlite_runtime))
    resp = await client.post("/api/tickets", json={**CALL, "anonymous": True}, headers=AUTH)
    assert resp.status == 201, await resp.text()
    raw = await resp.text()
    ticket = await resp.json()
    assert not ticket.get("contact")
    for secret in ("13800138000", "8000", "张三丰", "张*"):
        assert secret not in raw
    listing = await (await client.get("/api/tickets?channel=phone", headers=AUTH)).text()
    assert "8000" not in listing and "张" not in listing.replace("张贴", "")
    # guangzhou §9: a hidden number is never used, not even for the acknowledgement
    assert await sms_to(client, sqlite_runtime) == []


async def test_anonymity_is_refused_where_real_names_are_required(
    aiohttp_client: Client, sqlite_runtime: Runtime
) -> None:
    client: TestClient = await aiohttp_client(create_app(sqlite_runtime))
    call = {**CALL, "anonymous": True, "category": "求助", "content": "想请热线帮忙调解邻里纠纷"}
    resp = await client.post("/api/tickets", json=call, headers=AUTH)
    assert resp.status == 422
    assert (await resp.json())["error"]["code"] == "real_name_required"  # guangzhou §10


async def test_a_real_name_matter_needs_the_same_items_as_in_the_chat(
    aiohttp_client: Client, sqlite_runtime: Runtime
) -> None:
    """guangzhou §10: a 纠纷调解 is registered with name, ID number and phone, whoever types it."""
    client: TestClient = await aiohttp_client(create_app(sqlite_runtime))
    call = {**CALL, "category": "求助", "content": "想请热线帮忙调解邻里纠纷"}
    resp = await client.post("/api/tickets", json=call, headers=AUTH)
    assert resp.status == 422
    error = (await resp.json())["error"]
    assert error["code"] == "missing_fields" and "身份证号" in error["message"]
    resp = await client.post("/api/tickets", json={**call, "id_number": "11010519491231002X"}, headers=AUTH)
    assert resp.status == 201, await resp.text()


async def test_bad_requests_are_json_errors(aiohttp_client: Client, sqlite_runtime: Runtime) -> None:
    client: TestClient = await aiohttp_client(create_app(sqlite_runtime))
    assert (await client.post("/api/tickets", json=CALL)).status == 401
    cases = [
        ({**CALL, "phone": "12345"}, "bad_phone"),
        ({**CALL, "category": "闲聊"}, None),
        ({**CALL, "category": {"投诉": 1}}, None),  # found by schemathesis: was a 500
        ({**CALL, "category": ["投诉"]}, None),
        ({**CALL, "anonymous": "no"}, None),
        ({**CALL, "channel": "email"}, None),
        ({**CALL, "content": "长" * 6000}, None),
    ]
    for body, code in cases:
        resp = await client.post("/api/tickets", json=body, headers=AUTH)
        assert resp.status == 400, body
        error = (await resp.json())["error"]
        assert code is None or error["code"] == code
    assert sqlite_runtime.store.list_tickets() == []


@pytest.mark.parametrize(
    ("policy", "call", "urgent_class"),
    [
        # huizhou §13.3 一般紧急和安全隐患: reply within 3 natural days, not the 10 working days of 求助
        (
            "huizhou",
            {**CALL, "category": "求助", "subject": "井盖", "content": "人民路口有个井盖缺失，晚上很危险"},
            "general",
        ),
        ("shaoyang", CALL, "disturbance"),  # shaoyang §20: 油烟扰民, on site within 1 hour
        ("huizhou", CALL, None),  # huizhou names no class for fumes
        ("quxian", {**CALL, "category": "求助", "content": "小区停水了，到现在还没来水"}, None),  # not 大面积
    ],
)
async def test_a_phone_ticket_takes_the_urgent_class_a_chat_would(
    aiohttp_client: Client,
    tmp_path: Path,
    sqlite_db: str,
    redis_url: str,
    redis_client: redis.Redis,
    clock: ManualClock,
    policy: str,
    call: dict[str, Any],
    urgent_class: str | None,
) -> None:
    """Issue 21: a call typed in by an agent is put in the profile's urgent class by the same
    words as the chat (intake.assembly.ScreeningPort.urgent_class_of), and its deadline is the
    class's."""
    runtime = build_runtime(make_settings(tmp_path, sqlite_db, redis_url, policy=policy), clock=clock)
    try:
        client: TestClient = await aiohttp_client(create_app(runtime))
        resp = await client.post("/api/tickets", json=call, headers=AUTH)
        assert resp.status == 201, await resp.text()
        number = (await resp.json())["number"]
        assert runtime.store.find_ticket(number).urgent_class == urgent_class
        chat = product(policy).screening.urgent_class_of(f"{call['subject']}，{call['content']}")
        assert chat == urgent_class
        await sms_to(client, runtime)  # dispatched: the deadline is the final one
        view = await (await client.get(f"/api/tickets/{number}", headers=AUTH)).json()
        deadline = datetime.fromisoformat(view["deadline"])
        if urgent_class == "general":
            assert deadline <= clock.now() + timedelta(days=3, minutes=1)
        else:
            assert deadline > clock.now() + timedelta(days=3)
    finally:
        runtime.close()


async def test_a_registration_sent_again_with_its_idempotency_key_is_one_ticket_and_one_sms(
    aiohttp_client: Client, runtime: Runtime
) -> None:
    """A back office whose answer was lost sends the call again with the same Idempotency-Key:
    the same ticket comes back, once in a row and when both copies arrive at the same time; a
    new key (or none) is a new call; a malformed key is refused and registers nothing."""
    import asyncio

    from sqlalchemy import func, select

    from intake.store.schema import tickets

    client: TestClient = await aiohttp_client(create_app(runtime))

    def count() -> int:
        with runtime.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(tickets)).scalar_one())

    keyed = {**AUTH, "Idempotency-Key": "call-20261207-0042"}
    first = await client.post("/api/tickets", json=CALL, headers=keyed)
    again = await client.post("/api/tickets", json=CALL, headers=keyed)
    assert first.status == again.status == 201
    assert (await first.json())["number"] == (await again.json())["number"]
    assert count() == 1

    racing = {**AUTH, "Idempotency-Key": "call-20261207-0043"}
    answers = await asyncio.gather(
        *(client.post("/api/tickets", json=CALL, headers=racing) for _ in range(6))
    )
    assert {r.status for r in answers} == {201}
    assert len({(await r.json())["number"] for r in answers}) == 1
    assert count() == 2

    # the same key with a body that is not valid is refused, never answered with the stored ticket
    broken = await client.post("/api/tickets", json={**CALL, "await_supplement": {}}, headers=keyed)
    assert broken.status == 400
    for bad in ("", "x" * 101, "带中文", "a b"):
        resp = await client.post("/api/tickets", json=CALL, headers={**AUTH, "Idempotency-Key": bad})
        assert resp.status == 400 and "Idempotency-Key" in (await resp.json())["error"]["message"]
    assert count() == 2
    assert (await client.post("/api/tickets", json=CALL, headers=AUTH)).status == 201
    assert count() == 3
    sent = await sms_to(client, runtime)
    assert len(sent) == 3  # one acknowledgement per ticket, none for a repeat
