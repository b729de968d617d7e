"""RELIABILITY.md §10, S6 and P1: seed known personal values, then search every answer, the
console, the metrics, the log records, the SQL tables and Redis. Anonymous: zero hits. Named:
masked forms only."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest
import redis
from aiohttp.test_utils import TestClient

from channels.console import COOKIE
from channels.web import create_app
from intake.runtime import Runtime
from tests.integration.test_store import _all_rows_as_text
from tests.support.journey import AUTH, Chat, console_login, drain

Client = Callable[..., Any]
NAME, PHONE, ID_NUMBER = "欧阳春花", "13912345678", "11010519491231002X"
ANON_PHONE = "13787654321"
CANARIES = (NAME, "春花", PHONE, PHONE[-8:], ID_NUMBER[:17], ANON_PHONE, ANON_PHONE[-8:])


async def file_until_registered(chat: Chat, first: str, answers: list[str]) -> dict[str, Any]:
    body = await chat.say(first)
    queue = list(answers)
    for _ in range(6):
        ticket = body.get("ticket")
        if ticket and ticket.get("number"):
            return ticket  # type: ignore[no-any-return]
        choices = [c for r in body["replies"] for c in r.get("choices", [])]
        if "全部隐藏" in choices:
            body = await chat.say("全部隐藏")
        elif queue:
            body = await chat.say(queue.pop(0))
        else:
            break
    raise AssertionError(f"not registered: {body}")


async def test_personal_data_is_masked_for_named_and_absent_for_anonymous(
    aiohttp_client: Client, runtime: Runtime, redis_client: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client: TestClient = await aiohttp_client(create_app(runtime))
    named = await file_until_registered(
        await Chat(client).open(),
        f"我要投诉，幸福小区3栋楼下的烧烤店每晚油烟很大，希望城管处理。我叫{NAME}，电话{PHONE}，身份证{ID_NUMBER}",
        [f"电话{PHONE}，地址：幸福小区3栋，希望城管处理"],
    )
    anonymous = await file_until_registered(
        await Chat(client).open(),
        f"我要匿名举报，和平路12号的黑作坊在生产假酒，希望查处，我的电话是{ANON_PHONE}，不要透露我的信息",
        ["地址：和平路12号，涉事单位：黑作坊，希望查处"],
    )
    drain(runtime)

    seen: list[str] = []
    for number in (named["number"], anonymous["number"]):
        resp = await client.get(f"/api/tickets/{number}", headers=AUTH)
        seen.append(await resp.text())
    named_view = await (await client.get(f"/api/tickets/{named['number']}", headers=AUTH)).json()
    anon_view = await (await client.get(f"/api/tickets/{anonymous['number']}", headers=AUTH)).json()
    assert named_view["contact"]["phone"] == "139****5678"
    assert named_view["contact"]["name"] == "欧***"
    assert "contact" not in anon_view and anon_view["anonymous"] is True
    seen.append(await (await client.get("/api/tickets", headers=AUTH)).text())
    login = await console_login(client, runtime, "a1x")
    seen.append(
        await (await client.get("/api/console/queue", cookies={COOKIE: login.cookies[COOKIE].value})).text()
    )
    seen.append(await (await client.get("/metrics")).text())
    seen.extend(r.getMessage() for r in caplog.records)
    seen.extend(str(r.args) for r in caplog.records)
    seen.append(_all_rows_as_text(runtime))
    for key in redis_client.scan_iter("*"):
        kind = redis_client.type(key)
        if kind == b"string":
            seen.append(str(redis_client.get(key)))
        elif kind == b"hash":
            seen.append(str(redis_client.hgetall(key)))
        elif kind == b"list":
            seen.append(str(redis_client.lrange(key, 0, -1)))
    haystack = "\n".join(seen)
    for canary in CANARIES:
        assert canary not in haystack, canary


async def test_an_anonymous_citizens_home_flat_and_spaced_phone_never_reach_the_unit(
    aiohttp_client: Client, sqlite_runtime: Runtime
) -> None:
    """Issue 18: the text itself. "我就住在楼上4楼401" and a phone typed with spaces were shown
    to the unit (masked as 139****4321, which still narrows who wrote)."""
    client: TestClient = await aiohttp_client(create_app(sqlite_runtime))
    ticket = await file_until_registered(
        await Chat(client).open(),
        "我要匿名投诉，幸福小区3栋楼下的烧烤店每晚油烟很大，我就住在楼上4楼401，"
        "我叫王秀英，有事打我电话139 1234 4321，希望城管处理",
        ["地址：幸福小区3栋，涉事单位：楼下烧烤店，希望城管处理"],
    )
    drain(sqlite_runtime)
    view = await (await client.get(f"/api/tickets/{ticket['number']}", headers=AUTH)).json()
    text = str(view)
    for leak in ("401", "4321", "139", "王秀英", "秀英"):
        assert leak not in text, (leak, view["content"])
    assert "烧烤店" in view["content"] and "幸福小区3栋" in view["content"]  # the matter stays


async def test_anonymity_asked_for_after_the_first_message_is_honoured(
    aiohttp_client: Client, sqlite_runtime: Runtime
) -> None:
    client: TestClient = await aiohttp_client(create_app(sqlite_runtime))
    chat = await Chat(client).open()
    first = await chat.say(f"我要投诉，幸福小区3栋楼下的烧烤店每晚油烟很大，我叫{NAME}，电话{PHONE}")
    assert first["ticket"] is None or not first["ticket"].get("number")
    ticket = await file_until_registered(
        chat, "我要匿名，不想让店家知道是我", ["地址：幸福小区3栋，希望城管处理"]
    )
    drain(sqlite_runtime)
    view = await (await client.get(f"/api/tickets/{ticket['number']}", headers=AUTH)).json()
    assert view["anonymous"] is True and "contact" not in view
    text = str(view)
    for canary in (NAME, "春花", PHONE, PHONE[-4:]):
        assert canary not in text, canary
