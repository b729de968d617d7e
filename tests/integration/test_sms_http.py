"""HOTLINE_SMS=http: the real-world provider shape (channels.sms_http) against a stand-in of a
Chinese SMS platform (tests/support/sms_platform.py): inbound webhook pushes through the real app,
sends with phone, content, signature, template id and out_id; flow control retried and
delivered once; refused numbers failed; a lost answer uncertain, never resent."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import redis
from aiohttp.test_utils import TestClient

from channels.sms_http import HttpSmsProvider
from channels.sms_text import split_sms
from channels.web import create_app
from intake.clock import ManualClock
from intake.errors import PermanentFailure, RetryLater, Uncertain
from intake.model import SHANGHAI, Address, Channel, DeliveryState, StoredOutbound
from intake.runtime import Runtime, build_runtime
from tests.conftest import make_settings
from tests.support.journey import AUTH, drain, post_sms
from tests.support.mail_sink import free_port
from tests.support.sms_platform import SmsPlatformStandIn

Client = Callable[..., Any]
NUMBER = re.compile(r"\d{8}-\d{6,9}")
HOOK = "/api/sms/http/inbound"
MOBILE = "13800138000"


@pytest.fixture
def platform() -> Iterator[SmsPlatformStandIn]:
    with SmsPlatformStandIn() as p:
        yield p


@pytest.fixture
def http_runtime(
    tmp_path: Path,
    sqlite_db: str,
    redis_url: str,
    redis_client: redis.Redis,
    clock: ManualClock,
    platform: SmsPlatformStandIn,
) -> Iterator[Runtime]:
    settings = make_settings(tmp_path, sqlite_db, redis_url, sms="http", sms_api_url=platform.url)
    rt = build_runtime(settings, clock=clock)
    yield rt
    rt.close()


async def push(client: TestClient, content: str, msg_id: str, phone: str = MOBILE) -> None:
    """The platform pushes an upstream SMS (上行短信) to our webhook."""
    item = {"phone": phone, "content": content, "msg_id": msg_id, "send_time": "2026-11-20 10:00:00"}
    resp = await post_sms(client, [item], path=HOOK)
    assert resp.status == 200, await resp.text()
    assert await resp.json() == {"code": 0, "msg": "成功"}


async def test_a_complaint_through_an_http_sms_platform(
    aiohttp_client: Client, http_runtime: Runtime, platform: SmsPlatformStandIn
) -> None:
    rt = http_runtime
    client: TestClient = await aiohttp_client(create_app(rt))
    assert (await client.get("/api/sms/outbox", params={"to": MOBILE})).status == 404  # stub only

    await push(client, "我要投诉，小区楼下烧烤店每晚油烟很大", "up-1")
    await push(client, "我要投诉，小区楼下烧烤店每晚油烟很大", "up-1")  # the platform pushed twice
    drain(rt)
    assert rt.store.count_inbound() == 1
    sent = platform.to(MOBILE)
    assert len(sent) == 1 and "事发地址" in sent[0].content
    assert (sent[0].sign_name, sent[0].template_id) == ("12345热线", "HOTLINE_NOTICE")
    assert sent[0].out_id

    await push(client, "电话13800138000，地址：幸福小区3栋，希望城管处理", "up-2", phone="+86 138 0013 8000")
    drain(rt)
    found = NUMBER.search("\n".join(s.content for s in platform.to(MOBILE)[1:]))
    assert found is not None
    number = found.group(0)

    platform.refuse_next = 1  # flow control on the next send
    result = "经核查，该烧烤店未安装油烟净化设施，城管执法人员已于现场责令其立即整改，" * 3
    done = await client.post(
        f"/api/tickets/{number}/events", json={"type": "completed", "result": result}, headers=AUTH
    )
    assert done.status == 200
    drain(rt)
    assert platform.refused == 1
    rt.clock.advance(400)  # type: ignore[attr-defined]
    drain(rt)
    notices = [s for s in platform.to(MOBILE) if "城管执法人员" in s.content]
    assert len(notices) == 1  # retried after flow control, delivered once
    assert notices[0].parts == len(split_sms(notices[0].content)) > 1  # whole text, platform splits
    out_ids = [s.out_id for s in platform.sent]
    assert len(out_ids) == len(set(out_ids))
    assert any("1 非常满意 2 满意" in s.content for s in platform.to(MOBILE))

    await push(client, "非常满意", "up-3", phone="008613800138000")
    drain(rt)
    assert "感谢" in platform.to(MOBILE)[-1].content
    final = await (await client.get(f"/api/tickets/{number}", headers=AUTH)).json()
    assert final["evaluation"] == {"level": "非常满意", "round": 1}
    assert not rt.store.outbound_by_state(DeliveryState.PENDING)


async def test_webhook_rejects_malformed_pushes(aiohttp_client: Client, http_runtime: Runtime) -> None:
    client: TestClient = await aiohttp_client(create_app(http_runtime))
    for body in (
        [],
        [{"phone": MOBILE}],
        {"phone": 13800138000, "content": "x"},
        [1],
        [{"phone": "10086", "content": "x"}],
    ):
        resp = await post_sms(client, body, path=HOOK)
        assert resp.status == 400, body
        assert "error" in await resp.json()
    assert http_runtime.store.count_inbound() == 0


def outbound(text: str, phone: str = "+8613800138000", key: str = "k-1") -> StoredOutbound:
    return StoredOutbound(
        id=1,
        idempotency_key=key,
        address=Address(Channel.SMS, phone),
        text=text,
        choices=(),
        subject=None,
        kind="reply",
        ticket_id=None,
        state=DeliveryState.PENDING,
        attempts=0,
        last_error=None,
        created_at=datetime(2026, 11, 20, 10, 0, tzinfo=SHANGHAI),
        delivered_at=None,
    )


def test_send_outcomes_are_classified(platform: SmsPlatformStandIn) -> None:
    provider = HttpSmsProvider(platform.url, timeout=0.5)
    provider.send(outbound("您好"))
    assert platform.sent[-1].phone == MOBILE and provider.last_parts == 1

    provider.send(outbound("Hello", phone="+85291234567", key="k-2"))
    assert platform.sent[-1].phone == "+85291234567"  # outside the mainland: with country code

    platform.bad_numbers.add("13900000000")
    with pytest.raises(PermanentFailure):
        provider.send(outbound("您好", phone="+8613900000000", key="k-3"))

    platform.refuse_next = 1
    with pytest.raises(RetryLater):
        provider.send(outbound("您好", key="k-4"))

    platform.delay = 2.0  # recorded, but the answer comes too late
    before = len(platform.sent)
    with pytest.raises(Uncertain):
        provider.send(outbound("您好", key="k-5"))
    assert len(platform.sent) == before + 1  # it did arrive: hence "uncertain", not "retry"

    with pytest.raises(RetryLater):  # nobody listening: safe to retry
        HttpSmsProvider(f"http://127.0.0.1:{free_port()}/v1").send(outbound("您好", key="k-6"))


async def test_the_platforms_webhook_believes_only_signed_pushes(
    aiohttp_client: Client, http_runtime: Runtime, platform: SmsPlatformStandIn
) -> None:
    client: TestClient = await aiohttp_client(create_app(http_runtime))
    item = [{"phone": MOBILE, "content": "我要投诉，小区楼下烧烤店每晚油烟很大", "msg_id": "up-9"}]
    unsigned = await client.post(HOOK, json=item)
    assert unsigned.status == 401
    wrong = await post_sms(client, item, path=HOOK, secret="guessed-secret-0123456789")
    assert wrong.status == 401
    drain(http_runtime)
    assert http_runtime.store.count_inbound() == 0 and platform.to(MOBILE) == []
    assert (await post_sms(client, item, path=HOOK)).status == 200
