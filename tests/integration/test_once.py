"""Once and only once (issue 18): a message sent again is the same message; counted where the
citizen would notice (tickets registered, replies shown), not in our own bookkeeping alone."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from aiohttp.test_utils import TestClient

from channels.web import create_app
from intake.runtime import Runtime
from tests.support.journey import AUTH, Chat

Client = Callable[..., Any]
COMPLETE = "我要投诉，幸福小区3栋楼下的烧烤店每晚油烟很大，希望城管处理，我叫王小明，电话13800138000"


async def post(chat: Chat, text: str, client_id: str | None) -> Any:
    body: dict[str, Any] = {"text": text} if client_id is None else {"text": text, "client_id": client_id}
    resp = await chat.client.post(
        f"/api/chat/sessions/{chat.session_id}/messages", json=body, headers=chat.headers
    )
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def tickets(client: TestClient) -> list[dict[str, Any]]:
    return list((await (await client.get("/api/tickets", headers=AUTH)).json())["tickets"])


async def test_a_message_the_page_sends_again_registers_one_ticket_with_the_same_replies(
    aiohttp_client: Client, sqlite_runtime: Runtime
) -> None:
    client: TestClient = await aiohttp_client(create_app(sqlite_runtime))
    chat = await Chat(client).open()
    first = await post(chat, COMPLETE, "m-1")
    assert first["ticket"]["number"]
    again = await post(chat, COMPLETE, "m-1")  # the answer was lost; the page retried
    assert again == first
    assert len(await tickets(client)) == 1

    # sent twice at once: one message, one ticket, the same answer to both
    other = await Chat(client).open()
    both = await asyncio.gather(post(other, COMPLETE, "m-1"), post(other, COMPLETE, "m-1"))
    assert both[0] == both[1] and both[0]["ticket"]["number"]
    assert len(await tickets(client)) == 2  # the same client_id in another session is its own

    # without a client_id, or with a new one, a message is new
    third = await post(chat, "谢谢", None)
    assert third["replies"] and third != first


async def test_a_bad_client_id_is_a_clear_400(aiohttp_client: Client, sqlite_runtime: Runtime) -> None:
    client: TestClient = await aiohttp_client(create_app(sqlite_runtime))
    chat = await Chat(client).open()
    for bad in ("", "x" * 101, 12, ["a"], "a\\nb", "消息一"):
        resp = await client.post(
            f"/api/chat/sessions/{chat.session_id}/messages",
            json={"text": "你好", "client_id": bad if bad != "a\\nb" else "a\nb"},
            headers=chat.headers,
        )
        assert resp.status == 400, bad
        assert "client_id" in (await resp.json())["error"]["message"]
    assert sqlite_runtime.store.count_inbound() == 0
