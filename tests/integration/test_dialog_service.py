"""IntakeService on the real stores: two messages at once from one sender, one sender on two
channels, the supplement window swept by the worker, bad input stored and answered, and the
web-chat answer for a knowledge-base reply (ticket null)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from aiohttp.test_utils import TestClient

from channels.web import create_app
from intake.clock import ManualClock
from intake.events import EventService
from intake.model import Address, Channel, InboundMessage, TicketStatus
from intake.runtime import Runtime
from intake.service import IntakeResult
from tests.integration.test_dialog_conversations import build_intake
from tests.samples.conversations import FULL_COMPLAINT
from tests.support.journey import Chat, texts
from worker.timers import expire_drafts

Client = Callable[..., Any]


def _say(runtime: Runtime, address: Address, text: str) -> IntakeResult:
    service, _ = build_intake(runtime, "guangzhou")
    return service.handle(InboundMessage(address, text, runtime.clock.now()))


def test_two_messages_at_once_from_one_sender_are_both_stored_and_answered(runtime: Runtime) -> None:
    address = Address(Channel.WEBCHAT, "twins")
    results: list[IntakeResult] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def send(text: str) -> None:
        try:
            barrier.wait()
            results.append(_say(runtime, address, text))
        except BaseException as exc:
            errors.append(exc)

    threads = [
        threading.Thread(target=send, args=("我要投诉，小区楼下烧烤店每晚油烟很大",)),
        threading.Thread(target=send, args=("电话13800138000，地址：幸福小区3栋，希望城管处理",)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert len(results) == 2 and all(r.replies for r in results)
    assert len(runtime.store.inbound_texts(address)) == 2
    rows = runtime.store.tickets_for(address)
    assert len([r for r in rows if r.status is TicketStatus.COLLECTING]) <= 1
    # Whatever order they ran in, the state is one consistent dialog: a next message continues it.
    follow = _say(runtime, address, "查询进度")
    assert follow.replies


def test_one_sender_on_two_channels_is_two_independent_dialogs(runtime: Runtime) -> None:
    web = Address(Channel.WEBCHAT, "13800138000")
    sms = Address(Channel.SMS, "+8613800138000")
    first = _say(runtime, web, "我要投诉，小区楼下烧烤店每晚油烟很大")
    assert first.ticket is not None and first.ticket.status is TicketStatus.COLLECTING
    other = _say(runtime, sms, "我要举报，建设路88号有一家黑网吧接纳未成年人上网")
    assert other.ticket is not None and other.ticket.number  # not taken as the web draft's supplement
    done = _say(runtime, web, "电话13800138000，地址：幸福小区3栋，希望城管处理")
    assert done.ticket is not None and done.ticket.category == "投诉" and done.ticket.number
    assert [t.category for t in runtime.store.tickets_for(web)] == ["投诉"]
    assert [t.category for t in runtime.store.tickets_for(sms)] == ["举报"]


def test_the_supplement_window_is_swept_and_the_citizen_told(runtime: Runtime, clock: ManualClock) -> None:
    address = Address(Channel.WEBCHAT, "late")
    _say(runtime, address, "我要投诉，小区楼下烧烤店每晚油烟很大")
    clock.advance(3 * 86400 - 60)
    assert expire_drafts(runtime, clock.now(), 3) == 0
    clock.advance(120)
    assert expire_drafts(runtime, clock.now(), 3) == 1
    assert expire_drafts(runtime, clock.now(), 3) == 0  # fires once
    [row] = runtime.store.tickets_for(address)
    assert row.status is TicketStatus.CLOSED and row.reason == "supplement window expired"
    told = [m.text for m in runtime.store.outbound_for(address) if m.kind == "draft_expired"]
    assert told and "3天内未补充" in told[0]
    again = _say(runtime, address, "电话13800138000，地址：幸福小区3栋，希望城管处理")
    assert again.ticket is None or again.ticket.number is None  # not the closed draft's supplement
    assert runtime.store.get_ticket(row.id).status is TicketStatus.CLOSED


def test_bad_input_is_stored_and_answered_briefly(runtime: Runtime) -> None:
    address = Address(Channel.WEBCHAT, "odd")
    bad = [
        "",
        "😀😀",
        "？？！！",
        "字" * 20000,
        "我要投訴，樓下燒烤店",
        "I want to complain",
        "1",
        "\x00\x01\x1b",
    ]
    for text in bad:
        result = _say(runtime, address, text)
        assert result.replies and all(len(r.text) < 300 for r in result.replies), text[:10]
    stored = [t for _, t, _ in runtime.store.inbound_texts(address)]
    assert stored == bad


async def test_a_knowledge_base_answer_has_no_ticket_and_is_recorded(
    aiohttp_client: Client, runtime: Runtime
) -> None:
    client: TestClient = await aiohttp_client(create_app(runtime))
    chat = await Chat(client).open()
    body = await chat.say("请问新生儿医保怎么办理")
    assert body["ticket"] is None
    assert "出生医学证明" in texts(body)
    [row] = runtime.store.tickets_for(Address(Channel.WEBCHAT, chat.session_id))
    assert row.status is TicketStatus.CLOSED and (row.reason or "").startswith("kb:")
    assert row.number is None
    assert [e.type for e in runtime.store.events(row.id)] == ["answered_online"]
    second = await chat.say("没用")
    assert second["ticket"]["status"] == "registered" and second["ticket"]["category"] == "咨询"


async def test_a_repeat_gets_the_earlier_result_from_the_completed_event(
    aiohttp_client: Client, runtime: Runtime
) -> None:
    client: TestClient = await aiohttp_client(create_app(runtime))
    chat = await Chat(client).open()
    number = (await chat.say(FULL_COMPLAINT))["ticket"]["number"]
    _, policy = build_intake(runtime, "guangzhou")

    t = runtime.store.find_ticket(number)
    runtime.store.update_ticket(t.id, status=TicketStatus.DISPATCHED)
    EventService(runtime.store, policy).apply(
        number, {"type": "completed", "result": "已责令安装净化器"}, "agent"
    )
    await chat.say("2")
    again = await chat.say(FULL_COMPLAINT)
    assert again["ticket"] is None
    assert number in texts(again) and "已责令安装净化器" in texts(again)
    assert "repeat_raised" in [e.type for e in runtime.store.events(t.id)]
