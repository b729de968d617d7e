"""Progress by number from anywhere (issue 19, CONTRACT.md "Web chat"): "查询进度 <number>" from
another session or channel shows the ticket once the last four digits of its phone are given;
the question is the same for a number that does not exist, three wrong tries end the check, and
ten wrong tries in a day lock the ticket's check until tomorrow. Real web app, SQL and Redis."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from channels.web import create_app
from intake.runtime import Runtime
from intake.store.schema import audit_log
from tests.support.journey import Chat, post_sms

Client = Callable[..., Any]
PHONE = "13912345678"
COMPLAINT = f"我要投诉，幸福小区3栋楼下的烧烤店每晚油烟很大，希望城管处理，电话{PHONE}"
ASK_TAIL = "手机号码后四位"


def texts(body: dict[str, Any]) -> str:
    return "\n".join(r["text"] for r in body["replies"])


def failed_checks(runtime: Runtime, number: str) -> int:
    with runtime.engine.connect() as conn:
        query = (
            select(func.count())
            .select_from(audit_log)
            .where(audit_log.c.action == "progress_check_failed", audit_log.c.target == number)
        )
        return int(conn.execute(query).scalar_one())


async def filed(client: TestClient) -> tuple[Chat, str]:
    chat = await Chat(client).open()
    body = await chat.say(COMPLAINT)
    number = body["ticket"]["number"]
    assert number, body
    return chat, number


async def test_progress_by_number_from_another_session_needs_the_phones_last_four_digits(
    aiohttp_client: Client, runtime: Runtime
) -> None:
    client: TestClient = await aiohttp_client(create_app(runtime))
    owner, number = await filed(client)
    mine = texts(await owner.say(f"查询 {number}"))  # the account that filed it: at once
    assert number in mine and ASK_TAIL not in mine

    other = await Chat(client).open()
    asked = texts(await other.say(f"查询进度 {number}"))
    assert ASK_TAIL in asked and "烧烤" not in asked and "投诉" not in asked  # nothing shown yet
    wrong = texts(await other.say("0000"))
    assert "核对未通过" in wrong and "还可输入2次" in wrong and "投诉" not in wrong
    shown = texts(await other.say(PHONE[-4:]))
    assert f"工单{number}（投诉）" in shown and ASK_TAIL not in shown
    assert failed_checks(runtime, number) == 1

    # "查询 <number>" is a query, never a new request
    again = await other.say(f"{number} 怎么样了")
    assert again["ticket"] is None and ASK_TAIL in texts(again)


async def test_a_stranger_learns_nothing_and_cannot_guess(aiohttp_client: Client, runtime: Runtime) -> None:
    client: TestClient = await aiohttp_client(create_app(runtime))
    _, number = await filed(client)
    missing = number[:-1] + ("1" if number[-1] != "1" else "2")
    stranger = await Chat(client).open()
    for_real = texts(await stranger.say(f"查询进度 {number}"))
    for_none = texts(await (await Chat(client).open()).say(f"查询进度 {missing}"))
    assert for_real.replace(number, "N") == for_none.replace(missing, "N")  # no hint it exists

    for tail in ("1111", "2222"):
        await stranger.say(tail)
    ended = texts(await stranger.say("3333"))
    assert "暂不能显示该工单" in ended
    assert ASK_TAIL not in texts(await stranger.say(PHONE[-4:]))  # the check is over: no fourth try
    # more conversations, more tries: ten wrong ones in a day lock the ticket's check
    for tries in range(3):
        chat = await Chat(client).open()
        await chat.say(f"查询进度 {number}")
        for tail in ("4444", "5555", "6666")[: 3 if tries < 2 else 1]:
            await chat.say(tail)
    assert failed_checks(runtime, number) == 10
    late = await Chat(client).open()
    await late.say(f"查询进度 {number}")
    locked = texts(await late.say(PHONE[-4:]))  # even the right digits, today
    assert "失败次数过多" in locked and "投诉" not in locked


async def test_progress_by_number_by_sms_from_another_phone(aiohttp_client: Client, runtime: Runtime) -> None:
    client: TestClient = await aiohttp_client(create_app(runtime))
    _, number = await filed(client)
    other = "+8613700001111"
    resp = await post_sms(client, {"from": other, "text": f"查询进度 {number}", "id": "q-1"})
    assert resp.status == 200
    resp = await post_sms(client, {"from": other, "text": PHONE[-4:], "id": "q-2"})
    assert resp.status == 200
    from intake.model import Address, Channel

    sent = [m.text for m in runtime.store.outbound_for(Address(Channel.SMS, other))]
    assert any(ASK_TAIL in t for t in sent) and any(f"工单{number}" in t for t in sent), sent
