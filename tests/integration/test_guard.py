"""Floods and abuse (issue 7, huizhou §8): per-sender rate limits in Redis, a restriction of the
profile's length after repeated abuse with one message saying so, agents can lift it, and
nothing a limited or restricted sender sends is lost."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import redis
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from channels.console import COOKIE
from channels.web import create_app
from intake.clock import ManualClock
from intake.guard import PER_MINUTE
from intake.runtime import Runtime, build_runtime
from intake.store.schema import messages_in
from intake.texts import TOO_FAST
from tests.conftest import make_settings
from tests.support.journey import Chat, console_login

Client = Callable[..., Any]


@pytest.fixture
def huizhou(
    tmp_path: Path, sqlite_db: str, redis_url: str, redis_client: redis.Redis, clock: ManualClock
) -> Iterator[Runtime]:
    rt = build_runtime(replace(make_settings(tmp_path, sqlite_db, redis_url), policy="huizhou"), clock=clock)
    yield rt
    rt.close()


def flags(runtime: Runtime) -> list[str]:
    with runtime.engine.connect() as conn:
        return list(conn.execute(select(messages_in.c.flags).order_by(messages_in.c.id)).scalars())


async def test_a_flood_is_stored_whole_and_answered_once(
    aiohttp_client: Client, sqlite_runtime: Runtime
) -> None:
    client: TestClient = await aiohttp_client(create_app(sqlite_runtime))
    chat = await Chat(client).open()
    answers = [await chat.say(f"你好{i}") for i in range(PER_MINUTE + 5)]
    assert all(a["replies"] for a in answers[:PER_MINUTE])
    assert [r["text"] for r in answers[PER_MINUTE]["replies"]] == [TOO_FAST]
    assert all(a["replies"] == [] for a in answers[PER_MINUTE + 1 :])
    assert sqlite_runtime.store.count_inbound() == PER_MINUTE + 5  # nothing lost
    assert flags(sqlite_runtime).count("rate_limited") == 5


async def test_repeated_abuse_restricts_for_30_days_and_an_agent_can_lift_it(
    aiohttp_client: Client, huizhou: Runtime, clock: ManualClock
) -> None:
    client: TestClient = await aiohttp_client(create_app(huizhou))
    chat = await Chat(client).open()
    await chat.say("你们这帮废物")
    await chat.say("傻逼客服")
    third = await chat.say("我要弄死你们")
    notice = third["replies"][-1]["text"]
    assert "暂停使用" in notice and "2026年12月20日" in notice  # huizhou §8: 30 natural days
    later = await chat.say("我要投诉，幸福小区3栋楼下的烧烤店每晚油烟很大，希望城管处理")
    assert later["replies"] == [] and later["ticket"] is None
    assert flags(huizhou)[-1] == "restricted"  # stored and marked, not lost

    login = await console_login(client, huizhou, "a9x", role="supervisor")
    cookies = {COOKIE: login.cookies[COOKIE].value}
    csrf = (await login.json())["csrf"]
    queue = await (await client.get("/api/console/queue", cookies=cookies)).json()
    [restriction] = queue["restrictions"]
    lifted = await client.post(
        f"/api/console/restrictions/{restriction['id']}/lift", cookies=cookies, headers={"X-CSRF-Token": csrf}
    )
    assert (await lifted.json()) == {"lifted": True}
    clock.advance(61)  # a new minute for the rate limit
    again = await chat.say("我要投诉，幸福小区3栋楼下的烧烤店每晚油烟很大，希望城管处理")
    assert again["replies"]


async def test_guangzhou_has_no_restriction_basis(aiohttp_client: Client, sqlite_runtime: Runtime) -> None:
    client: TestClient = await aiohttp_client(create_app(sqlite_runtime))
    chat = await Chat(client).open()
    for text in ("你们这帮废物", "傻逼客服", "我要弄死你们", "你们这帮废物"):
        body = await chat.say(text)
        assert all("暂停使用" not in r["text"] for r in body["replies"])


async def test_a_restriction_survives_a_redis_flush(
    aiohttp_client: Client, huizhou: Runtime, clock: ManualClock, redis_client: redis.Redis
) -> None:
    """SQL is the record; the worker's sweep mirrors active restrictions back into Redis."""
    from worker.context import get_services, set_runtime
    from worker.timers import run_timers

    client: TestClient = await aiohttp_client(create_app(huizhou))
    chat = await Chat(client).open()
    for text in ("你们这帮废物", "傻逼客服", "我要弄死你们"):
        await chat.say(text)
    redis_client.flushall()
    set_runtime(huizhou)
    services = get_services()
    run_timers(huizhou, services.policy, with_deadlines=False, guard=services.intake.guard)
    clock.advance(61)
    later = await chat.say("我要投诉，幸福小区3栋楼下的烧烤店每晚油烟很大，希望城管处理")
    assert later["replies"] == []
    assert flags(huizhou)[-1] == "restricted"
