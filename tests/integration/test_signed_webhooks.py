"""Who may speak for a phone (issue 18): the SMS webhooks believe only a request signed with the
shared secret (CONTRACT.md "SMS"). Forged, tampered, stale, replayed, oversized and concurrent
requests, each as an attacker would send it; what reached the citizen is counted at the stub
gateway's outbox, and what was stored in SQL."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

from aiohttp.test_utils import TestClient

from channels.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, signed_headers
from channels.web import create_app
from intake.runtime import Runtime
from tests.integration.test_sms_journey import PHONE, PROMPT, Handset, complete, joined, register
from tests.support.journey import AUTH, SMS_SECRET, post_sms

Client = Callable[..., Any]
JSON = {"Content-Type": "application/json"}
SIG = SIGNATURE_HEADER


def body_of(text: str, sender: str = PHONE) -> bytes:
    return json.dumps({"from": sender, "text": text}, ensure_ascii=False).encode()


def forgeries(text: str) -> dict[str, dict[str, str]]:
    """The same body with every kind of bad credential, by name."""
    body = body_of(text)
    good = signed_headers(SMS_SECRET, body)
    now = time.time()
    return {
        "unsigned": {},
        "wrong secret": signed_headers("guessed-secret-0123456789", body),
        "stale": signed_headers(SMS_SECRET, body, now - 301),
        "from the future": signed_headers(SMS_SECRET, body, now + 305),  # int() truncates a second
        "signature of another body": {
            **good,
            SIGNATURE_HEADER: signed_headers(SMS_SECRET, b"{}")[SIGNATURE_HEADER],
        },
        "timestamp changed": {**good, TIMESTAMP_HEADER: str(int(now) - 1)},
        "not a number": {**good, TIMESTAMP_HEADER: "١٧٠٠٠٠٠٠٠٠"},
        "non-ASCII signature": {**good, SIGNATURE_HEADER: "签名" * 32},
    }


async def test_forged_sms_can_neither_withdraw_nor_evaluate_a_citizens_ticket(
    aiohttp_client: Client, sqlite_runtime: Runtime
) -> None:
    client: TestClient = await aiohttp_client(create_app(sqlite_runtime))
    phone = Handset(client, sqlite_runtime)
    number = await register(phone)
    stored = sqlite_runtime.store.count_inbound()

    for name, headers in forgeries("不用处理了").items():
        resp = await client.post("/api/sms/inbound", data=body_of("不用处理了"), headers={**JSON, **headers})
        assert resp.status == 401, name
        assert (await resp.json())["error"]["code"] == "unauthorized", name
    assert sqlite_runtime.store.count_inbound() == stored  # nothing forged was stored
    assert await phone.inbox() == []  # and nothing was sent to the victim
    view = await (await client.get(f"/api/tickets/{number}", headers=AUTH)).json()
    assert view["status"] not in ("withdrawn", "closed")
    assert "withdrawal_requested" not in [e["type"] for e in view["events"]]

    await complete(client, number)
    assert PROMPT in joined(await phone.inbox())
    for headers in forgeries("1").values():  # satisfaction is the unit's score: a motive to forge
        resp = await client.post("/api/sms/inbound", data=body_of("1"), headers={**JSON, **headers})
        assert resp.status == 401
    view = await (await client.get(f"/api/tickets/{number}", headers=AUTH)).json()
    assert view["status"] == "completed" and view.get("evaluation") is None

    await phone.text("2")  # the citizen, through the signed gateway, still can
    view = await (await client.get(f"/api/tickets/{number}", headers=AUTH)).json()
    assert view["evaluation"] == {"level": "满意", "round": 1}

    metrics = await (await client.get("/metrics")).text()
    refused = [line for line in metrics.splitlines() if line.startswith("hotline_refused_requests_total{")]
    by_reason = {line.split('reason="')[1].split('"')[0]: float(line.rsplit(" ", 1)[1]) for line in refused}
    assert by_reason == {"missing": 2.0, "bad_signature": 8.0, "stale": 4.0, "bad_timestamp": 2.0}
    assert all('route="/api/sms/inbound"' in line for line in refused)


async def test_a_flood_of_forged_sms_sends_the_victim_nothing(
    aiohttp_client: Client, sqlite_runtime: Runtime
) -> None:
    client: TestClient = await aiohttp_client(create_app(sqlite_runtime))
    phone = Handset(client, sqlite_runtime)
    body = body_of("我要投诉，小区楼下烧烤店每晚油烟很大")
    wrong = signed_headers("guessed-secret-0123456789", body)
    statuses = await asyncio.gather(
        *(client.post("/api/sms/inbound", data=body, headers={**JSON, **wrong}) for _ in range(30))
    )
    assert [r.status for r in statuses] == [401] * 30
    assert sqlite_runtime.store.count_inbound() == 0
    assert await phone.inbox() == []


async def test_a_replayed_signed_request_is_one_message_with_one_reply(
    aiohttp_client: Client, sqlite_runtime: Runtime
) -> None:
    client: TestClient = await aiohttp_client(create_app(sqlite_runtime))
    phone = Handset(client, sqlite_runtime)
    body = body_of("我要投诉，小区楼下烧烤店每晚油烟很大")
    captured = {**JSON, **signed_headers(SMS_SECRET, body)}
    replays = await asyncio.gather(
        *(client.post("/api/sms/inbound", data=body, headers=captured) for _ in range(5))
    )
    assert [r.status for r in replays] == [200] * 5
    assert sqlite_runtime.store.count_inbound() == 1
    assert len(await phone.inbox()) == 1  # counted at the gateway: one question, not five


async def test_oversized_and_signed_is_413_and_not_stored(
    aiohttp_client: Client, sqlite_runtime: Runtime
) -> None:
    client: TestClient = await aiohttp_client(create_app(sqlite_runtime))
    resp = await post_sms(client, {"from": PHONE, "text": "投" * 8000})
    assert resp.status == 413 and (await resp.json())["error"]["code"] == "too_large"
    resp = await post_sms(client, {"from": PHONE, "text": "投" * 2001})  # under the body limit, over SMS's
    assert resp.status == 400
    assert sqlite_runtime.store.count_inbound() == 0


async def test_the_outboxes_are_for_the_back_office_only(
    aiohttp_client: Client, sqlite_runtime: Runtime
) -> None:
    client: TestClient = await aiohttp_client(create_app(sqlite_runtime))
    phone = Handset(client, sqlite_runtime)
    await phone.text("我要投诉，小区楼下烧烤店每晚油烟很大")
    assert len(await phone.inbox()) == 1
    for path, to in (("/api/sms/outbox", PHONE), ("/api/mail/outbox", "citizen@example.com")):
        for headers in ({}, {"Authorization": "Bearer wrong-token-0123456789"}, {"Authorization": "Basic x"}):
            resp = await client.get(path, params={"to": to}, headers=headers)
            assert resp.status == 401, (path, headers)
            assert "messages" not in await resp.json()
        assert (await client.get(path, params={"to": to}, headers=AUTH)).status == 200
