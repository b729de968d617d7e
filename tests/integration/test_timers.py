"""Timers as SQL sweeps (issue 6): the supplement window, the evaluation window under two
profiles' silence rules, and each timer firing once even with two workers sweeping at once."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
from aiohttp.test_utils import TestClient

from channels.web import create_app
from intake.clock import ManualClock
from intake.runtime import Runtime, build_runtime
from tests.conftest import make_settings
from tests.support.journey import AUTH, Chat, drain
from worker.context import get_services
from worker.timers import run_timers

Client = Callable[..., Any]


@pytest.fixture
def make_runtime(
    tmp_path: Path, db_url: str, redis_url: str, redis_client: redis.Redis, clock: ManualClock
) -> Callable[[str], Runtime]:
    made: list[Runtime] = []

    def build(policy: str) -> Runtime:
        rt = build_runtime(replace(make_settings(tmp_path, db_url, redis_url), policy=policy), clock=clock)
        made.append(rt)
        return rt

    yield build  # type: ignore[misc]
    for rt in made:
        rt.close()


async def _completed_ticket(client: TestClient, runtime: Runtime) -> tuple[Chat, str]:
    chat = await Chat(client).open()
    await chat.say("我要投诉，幸福小区3栋楼下的烧烤店每晚油烟很大，希望城管处理，电话13800138000")
    body = await chat.say("13800138000")
    number = body["ticket"]["number"] if body["ticket"] and body["ticket"]["number"] else None
    if number is None:
        resp = await client.get("/api/tickets", headers=AUTH)
        number = (await resp.json())["tickets"][0]["number"]
    drain(runtime)
    for event in ({"type": "signed"}, {"type": "completed", "result": "已处理"}):
        resp = await client.post(f"/api/tickets/{number}/events", json=event, headers=AUTH)
        assert resp.status == 200, await resp.text()
    drain(runtime)
    await chat.later()
    return chat, number


async def test_guangxi_silence_for_24_hours_counts_as_satisfied(
    aiohttp_client: Client, make_runtime: Callable[[str], Runtime], clock: ManualClock
) -> None:
    runtime = make_runtime("guangxi")
    client: TestClient = await aiohttp_client(create_app(runtime))
    _, number = await _completed_ticket(client, runtime)
    clock.advance(23 * 3600)
    run_timers(runtime, get_services().policy)
    assert (await (await client.get(f"/api/tickets/{number}", headers=AUTH)).json())["status"] == "completed"
    clock.advance(2 * 3600)  # guangxi §27.2: no reply within 24 h = satisfied
    run_timers(runtime, get_services().policy)
    ticket = await (await client.get(f"/api/tickets/{number}", headers=AUTH)).json()
    assert ticket["status"] == "closed"
    assert ticket["evaluation"] == {"level": "满意", "round": 1}


async def test_guangzhou_silence_for_five_days_is_not_evaluated(
    aiohttp_client: Client, make_runtime: Callable[[str], Runtime], clock: ManualClock
) -> None:
    runtime = make_runtime("guangzhou")
    client: TestClient = await aiohttp_client(create_app(runtime))
    _, number = await _completed_ticket(client, runtime)
    clock.advance(4 * 86400)
    run_timers(runtime, get_services().policy)
    assert (await (await client.get(f"/api/tickets/{number}", headers=AUTH)).json())["status"] == "completed"
    clock.advance(86400 + 60)  # guangzhou §28: 5 natural days, then not evaluated
    run_timers(runtime, get_services().policy)
    ticket = await (await client.get(f"/api/tickets/{number}", headers=AUTH)).json()
    assert ticket["status"] == "closed"
    assert "evaluation" not in ticket


async def test_an_unanswered_prompt_closes_the_draft_after_three_days_once(
    aiohttp_client: Client, make_runtime: Callable[[str], Runtime], clock: ManualClock
) -> None:
    runtime = make_runtime("guangzhou")
    client: TestClient = await aiohttp_client(create_app(runtime))
    chat = await Chat(client).open()
    first = await chat.say("我要投诉，小区楼下烧烤店每晚油烟很大")
    assert first["ticket"]["status"] == "collecting"
    clock.advance(3 * 86400 - 60)
    run_timers(runtime, get_services().policy)
    drain(runtime)
    assert await chat.later() == []
    clock.advance(120)  # guangzhou §12: 3 natural days to supplement
    policy = get_services().policy
    workers = [threading.Thread(target=run_timers, args=(runtime, policy)) for _ in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    drain(runtime)
    told = await chat.later()
    assert len(told) == 1
    assert "已按规定关闭" in told[0]["text"]
    # the conversation starts afresh: a new message is a new request, not the old draft's reply
    again = await chat.say("你好")
    assert again["ticket"] is None


def test_message_texts_are_purged_after_the_retention_period(sqlite_runtime: Runtime) -> None:
    """Issue 18: raw mail was never deleted. Past the retention period (by default the longest
    [records] period of the profiles, guangxi §28: three years) a message keeps no text and no raw
    form; younger ones are untouched; the ticket it led to stays."""
    from intake.model import Address, Channel, InboundMessage
    from worker.timers import purge_expired_texts

    rt = sqlite_runtime
    old_at = rt.clock.now() - timedelta(days=3 * 366 + 1)
    sender = Address(Channel.EMAIL, "lisi@example.cn")
    with rt.store.tx():
        old, _ = rt.store.save_inbound(InboundMessage(sender, "旧的投诉：烧烤油烟", old_at), raw="cmF3")
        new, _ = rt.store.save_inbound(
            InboundMessage(sender, "新的投诉：路灯不亮", rt.clock.now()), raw="cmF3"
        )
    assert purge_expired_texts(rt, rt.clock.now()) == 1
    assert purge_expired_texts(rt, rt.clock.now()) == 0  # done once
    texts = {t for _, t, _ in rt.store.inbound_texts(sender, 10)}
    assert "新的投诉：路灯不亮" in texts and "旧的投诉：烧烤油烟" not in texts
    stored = rt.store.get_inbound_many([old, new])
    assert stored[old][1] is None and stored[new][1] == "cmF3"
