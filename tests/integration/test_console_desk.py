"""The agents' workspace through its API (issue 20, CONTRACT.md "Agents and the console API"):
the queue in the order agents work it, search, a ticket's page, routing by hand, reveal, retry,
and the live stream, with the forged and oversized requests next to the right ones."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import quote

from aiohttp.test_utils import TestClient
from sqlalchemy import select

from channels.console import COOKIE
from channels.web import create_app
from intake.clock import ManualClock
from intake.model import Address, Channel, DeliveryState
from intake.runtime import Runtime
from intake.store.schema import audit_log
from tests.support.journey import AUTH, Chat, console_login, drain

Client = Callable[..., Any]
CITY = "市城市管理和综合执法局"
WATER = "市自来水公司"
CALL = {
    "phone": "139 1234 5678",
    "category": "投诉",
    "subject": "楼下商户",
    "content": "楼下烧烤店油烟很大",
    "address": "和平路8号",
    "demand": "尽快处理",
}


class Agent:
    """One logged-in console session."""

    def __init__(self, client: TestClient, cookies: dict[str, str], csrf: str) -> None:
        self.client, self.cookies, self.csrf = client, cookies, csrf

    @classmethod
    async def login(cls, client: TestClient, rt: Runtime, name: str = "a017", role: str = "agent") -> Agent:
        resp = await console_login(client, rt, name, role)
        assert resp.status == 200, await resp.text()
        return cls(client, {COOKIE: resp.cookies[COOKIE].value}, (await resp.json())["csrf"])

    async def get(self, path: str, status: int = 200) -> Any:
        resp = await self.client.get(path, cookies=self.cookies)
        assert resp.status == status, (path, await resp.text())
        return await resp.json()

    async def post(self, path: str, body: Any = None, status: int = 200) -> Any:
        resp = await self.client.post(
            path, json=body, cookies=self.cookies, headers={"X-CSRF-Token": self.csrf}
        )
        assert resp.status == status, (path, await resp.text())
        return await resp.json()


async def called(client: TestClient, **over: Any) -> str:
    resp = await client.post("/api/tickets", json={**CALL, **over, "channel": "phone"}, headers=AUTH)
    assert resp.status == 201, await resp.text()
    return str((await resp.json())["number"])


def audited(rt: Runtime, action: str) -> list[tuple[str, str | None, str | None]]:
    with rt.engine.connect() as conn:
        rows = conn.execute(
            select(audit_log.c.actor, audit_log.c.target, audit_log.c.detail).where(
                audit_log.c.action == action
            )
        )
        return [(r.actor, r.target, r.detail) for r in rows]


async def test_the_queue_puts_red_then_yellow_then_the_nearest_deadline_first_on_any_page(
    aiohttp_client: Client, runtime: Runtime, clock: ManualClock
) -> None:
    """With more open tickets than a page, the one nearest its deadline is on page one, the
    oldest included (the board showed the newest 200 per status)."""
    rt = runtime
    client: TestClient = await aiohttp_client(create_app(rt))
    numbers = [await called(client, phone=f"1391234{i:04d}") for i in range(7)]
    ids = {n: rt.store.find_ticket(n).id for n in numbers}
    now = clock.now()
    # the sweep keeps these columns current (worker/timers.refresh_deadlines)
    for i, n in enumerate(numbers):
        rt.store.update_ticket(ids[n], deadline=now + timedelta(days=10 - i), warning=None)
    rt.store.update_ticket(ids[numbers[0]], deadline=now + timedelta(hours=1))  # oldest, nearest
    rt.store.update_ticket(ids[numbers[5]], warning="yellow")
    rt.store.update_ticket(ids[numbers[3]], warning="red")
    agent = await Agent.login(client, rt)

    first = await agent.get("/api/console/queue?size=3")
    assert [t["number"] for t in first["open"]] == [numbers[3], numbers[5], numbers[0]]
    assert (first["open_total"], first["page"], first["pages"]) == (7, 1, 3)
    assert first["stats"] == {"red": 1, "yellow": 1, "open": 7}
    last = await agent.get("/api/console/queue?size=3&page=3")
    assert [t["number"] for t in last["open"]] == [numbers[1]]  # the furthest deadline
    beyond = await agent.get("/api/console/queue?size=3&page=99")
    assert beyond["page"] == 3  # clamped, never an empty page past the end

    reds = await agent.get("/api/console/queue?warning=red")
    assert [t["number"] for t in reds["open"]] == [numbers[3]]
    calm = await agent.get("/api/console/queue?warning=none")
    assert numbers[3] not in {t["number"] for t in calm["open"]} and calm["open_total"] == 5
    assert (await agent.get("/api/console/queue?channel=webchat"))["open_total"] == 0
    assert (await agent.get("/api/console/queue?category=投诉"))["open_total"] == 7
    bad_filters = (
        "page=0",
        "page=-1",
        "size=abc",
        "warning=purple",
        "status=closed",
        "page=１",
        "channel=null",
    )
    for bad in (*bad_filters, "category=" + quote("吐槽")):
        await agent.get(f"/api/console/queue?{bad}", status=400)
    assert len((await agent.get("/api/console/queue?size=100000"))["open"]) == 7  # capped, served


async def test_search_finds_a_ticket_by_number_phone_written_any_way_and_words(
    aiohttp_client: Client, runtime: Runtime
) -> None:
    rt = runtime
    client: TestClient = await aiohttp_client(create_app(rt))
    bbq = await called(client)
    water = await called(client, phone="13700001111", content="我家停水三天了", category="求助")
    chat = await Chat(client).open()
    body = await chat.say("我要投诉，幸福小区3栋楼下的烧烤店每晚油烟很大，希望城管处理，电话 136-0000-2222")
    web = body["ticket"]["number"]
    agent = await Agent.login(client, rt)

    async def found(q: str) -> list[str]:
        return [t["number"] for t in (await agent.get(f"/api/console/queue?q={quote(q)}"))["open"]]

    assert await found(bbq) == [bbq]
    assert set(await found(bbq[:9])) >= {bbq, water}  # the day's prefix
    assert await found("13912345678") == [bbq]  # typed with spaces at the call
    assert await found("+86 139-1234-5678") == [bbq]
    assert await found("136 0000 2222") == [web]  # a web-chat citizen's own number
    assert await found("停水") == [water]
    assert set(await found("油烟")) == {bbq, web}
    assert await found("油烟 幸福小区") == [web]
    assert await found("13511112222") == []  # nobody's number
    page = await agent.get(f"/api/console/queue?q={quote('13912345678')}")
    assert "13912345678" not in str(page) and "5678" in page["open"][0]["contact"]["phone"]


async def test_a_tickets_page_shows_the_conversation_masked_and_literal(
    aiohttp_client: Client, sqlite_runtime: Runtime
) -> None:
    rt = sqlite_runtime
    client: TestClient = await aiohttp_client(create_app(rt))
    chat = await Chat(client).open()
    xss = "<img src=x onerror=alert(1)>"
    await chat.say(f"我要投诉，幸福小区3栋楼下的烧烤店每晚油烟很大 {xss}")
    body = await chat.say("地址幸福小区3栋，希望城管处理，我叫王小明，电话13800138000")
    number = body["ticket"]["number"]
    agent = await Agent.login(client, rt)
    page = await agent.get(f"/api/console/tickets/{number}")
    said = [(line["from"], line["text"]) for line in page["conversation"]]
    assert said[0][0] == "citizen" and xss in said[0][1]  # stored as typed; the page shows it as text
    assert any(by == "hotline" and number in text for by, text in said), said
    assert "13800138000" not in str(page) and "王小明" not in str(page), page
    assert page["contact"]["phone"] == "138****8000"
    assert page["revealable"] == []  # an agent reveals nothing
    assert page["can_route"] is False and CITY in page["units"]  # the worker's to route, not yet an agent's
    assert [h["what"] for h in page["deadline_history"]][:1] == ["登记"]
    await agent.get("/api/console/tickets/20991231-999999", status=404)
    await agent.get("/api/console/tickets/" + "9" * 30, status=404)
    await client.get(f"/api/console/tickets/{number}")  # no session
    assert (await client.get(f"/api/console/tickets/{number}")).status == 401


async def test_an_agent_routes_a_waiting_ticket_once_and_the_citizen_hears_which_unit(
    aiohttp_client: Client, runtime: Runtime
) -> None:
    rt = runtime
    client: TestClient = await aiohttp_client(create_app(rt))
    number = await called(client, content="门前大树的树枝快断了，担心砸到人", phone="13912340001")
    drain(rt)  # no rule names it: the manual queue
    agent = await Agent.login(client, rt)
    board = await agent.get("/api/console/queue")
    assert number in [t["number"] for t in board["manual_routing"]]
    await agent.post(f"/api/console/tickets/{number}/route", {"unit": "某个不存在的单位"}, status=400)
    await agent.post(f"/api/console/tickets/{number}/route", {"unit": WATER})
    # another agent a moment later, before the worker sent it: routed already, not overridden
    await agent.post(f"/api/console/tickets/{number}/route", {"unit": CITY}, status=409)
    drain(rt)
    t = await (await client.get(f"/api/tickets/{number}", headers=AUTH)).json()
    assert (t["status"], t["unit"]) == ("dispatched", WATER)
    await agent.post(f"/api/console/tickets/{number}/route", {"unit": CITY}, status=409)
    sms = await (await client.get("/api/sms/outbox", params={"to": "13912340001"}, headers=AUTH)).json()
    assert sum(WATER in m["text"] for m in sms["messages"]) == 1  # told once, at the far end
    assert [a for a, _, _ in audited(rt, "ticket_routed")] == ["a017"]
    assert number not in [t["number"] for t in (await agent.get("/api/console/queue"))["manual_routing"]]


async def test_a_return_waits_for_the_hotlines_review_approved_it_moves_refused_it_goes_back(
    aiohttp_client: Client, runtime: Runtime, clock: ManualClock
) -> None:
    """guangzhou §17: a unit's return is reviewed by the hotline. Approved, an agent routes the
    ticket to another unit and its clock restarts; refused, it goes back to the unit that
    returned it, its deadline unchanged, and that return does not count towards §18."""
    rt = runtime
    client: TestClient = await aiohttp_client(create_app(rt))
    number = await called(client, content="楼下烧烤店油烟很大，水管也漏水")  # names the city and water
    drain(rt)
    first = await (await client.get(f"/api/tickets/{number}", headers=AUTH)).json()
    assert first["unit"] == CITY

    async def returned(reason: str) -> None:
        back = await client.post(
            f"/api/tickets/{number}/events", json={"type": "returned", "reason": reason}, headers=AUTH
        )
        assert back.status == 200, await back.text()
        drain(rt)  # nothing goes on by itself: it waits for the review

    clock.advance(3 * 86400)
    await returned("不属于本单位职责")
    agent = await Agent.login(client, rt)
    assert number in [t["number"] for t in (await agent.get("/api/console/queue"))["manual_routing"]]
    page = await agent.get(f"/api/console/tickets/{number}")
    assert page["can_route"] is True
    assert page["return_review"] == {
        "returned_by": CITY,
        "reason": "不属于本单位职责",
        "suggested_unit": WATER,
    }
    refused = await agent.post(f"/api/console/tickets/{number}/route", {"unit": CITY})
    assert refused["return_refused"] is True
    drain(rt)
    back = await (await client.get(f"/api/tickets/{number}", headers=AUTH)).json()
    assert (back["status"], back["unit"], back["deadline"]) == ("dispatched", CITY, first["deadline"])
    assert rt.store.find_ticket(number).returns == 0  # a refused return is not counted

    clock.advance(86400)
    await returned("确实不属于本单位职责，附三定方案")
    agent = await Agent.login(client, rt)  # a day later: a new session
    approved = await agent.post(f"/api/console/tickets/{number}/route", {"unit": WATER})
    assert approved["return_refused"] is False
    drain(rt)
    moved = await (await client.get(f"/api/tickets/{number}", headers=AUTH)).json()
    assert (moved["status"], moved["unit"]) == ("dispatched", WATER)
    assert moved["deadline"] > first["deadline"]  # the new unit's clock starts on receipt
    assert [a for a, _, _ in audited(rt, "return_refused")] == ["a017"]
    assert [a for a, _, _ in audited(rt, "ticket_routed")] == ["a017"]


async def test_only_a_supervisor_reveals_with_a_reason_audited_never_for_an_anonymous_citizen(
    aiohttp_client: Client, sqlite_runtime: Runtime
) -> None:
    rt = sqlite_runtime
    client: TestClient = await aiohttp_client(create_app(rt))
    named = await called(client, name="王小明")
    hidden = await called(client, phone="13912340002", anonymous=True)
    agent = await Agent.login(client, rt)
    reveal = f"/api/console/tickets/{named}/reveal"
    await agent.post(reveal, {"field": "phone", "reason": "核实来电号码"}, status=403)
    boss = await Agent.login(client, rt, "s001", "supervisor")
    page = await boss.get(f"/api/console/tickets/{named}")
    assert set(page["revealable"]) == {"phone", "name"}
    await boss.post(reveal, {"field": "phone", "reason": "看"}, status=400)
    await boss.post(reveal, {"field": "password", "reason": "核实来电号码"}, status=400)
    await boss.post(reveal, {"field": {}, "reason": "核实来电号码"}, status=400)  # found by fuzzing: was 500
    await boss.post(reveal, {"field": "id_number", "reason": "核实来电号码"}, status=403)  # none given
    shown = await boss.post(reveal, {"field": "phone", "reason": "核实来电号码"})
    assert shown == {"field": "phone", "value": "+8613912345678"}
    assert audited(rt, "personal_data_revealed") == [("s001", named, "phone: 核实来电号码")]
    anonymous = await boss.get(f"/api/console/tickets/{hidden}")
    assert anonymous["revealable"] == [] and "contact" not in anonymous
    await boss.post(
        f"/api/console/tickets/{hidden}/reveal", {"field": "phone", "reason": "核实来电号码"}, status=403
    )
    assert len(audited(rt, "personal_data_revealed")) == 1


async def test_a_failed_message_retried_by_an_agent_arrives_once(
    aiohttp_client: Client, sqlite_runtime: Runtime
) -> None:
    rt = sqlite_runtime
    client: TestClient = await aiohttp_client(create_app(rt))
    to = Address(Channel.SMS, "+8613912340003")
    oid, _ = rt.store.record_outbound(to, "您好，您的工单已受理。", key="k-retry", kind="notice")
    rt.store.mark_delivery(oid, DeliveryState.FAILED, error="provider refused")
    agent = await Agent.login(client, rt)
    board = await agent.get("/api/console/queue")
    assert [d["id"] for d in board["failed_deliveries"]] == [oid]
    await agent.post(f"/api/console/outbox/{oid}/retry")
    await agent.post(f"/api/console/outbox/{oid}/retry", status=404)  # pending now: not twice
    await agent.post("/api/console/outbox/abc/retry", status=400)
    drain(rt)
    sms = await (await client.get("/api/sms/outbox", params={"to": "13912340003"}, headers=AUTH)).json()
    assert sum("已受理" in m["text"] for m in sms["messages"]) == 1
    assert rt.store.get_outbound(oid).state is DeliveryState.DELIVERED
    assert (await agent.get("/api/console/queue"))["failed_deliveries"] == []
    await agent.post(f"/api/console/outbox/{oid}/retry", status=404)  # delivered: never again


async def test_the_stream_tells_an_open_console_when_a_citizen_files(
    aiohttp_client: Client, sqlite_runtime: Runtime
) -> None:
    rt = sqlite_runtime
    client: TestClient = await aiohttp_client(create_app(rt))
    assert (await client.get("/api/console/stream")).status == 401
    agent = await Agent.login(client, rt)
    resp = await client.get("/api/console/stream", cookies=agent.cookies)
    assert resp.status == 200 and resp.headers["Content-Type"].startswith("text/event-stream")

    async def next_event() -> bytes:
        return await asyncio.wait_for(resp.content.readuntil(b"\n\n"), 5)

    assert await next_event() == b"retry: 3000\n\n"
    assert await next_event() == b"event: changed\ndata: {}\n\n"  # load what is there now
    chat = await Chat(client).open()
    await chat.say("我要投诉，幸福小区3栋楼下的烧烤店每晚油烟很大")
    assert await next_event() == b"event: changed\ndata: {}\n\n"  # told, not polled
    resp.close()


async def test_a_ticket_marked_complex_gets_the_profiles_longer_deadline_only_where_there_is_one(
    aiohttp_client: Client,
    tmp_path: Any,
    sqlite_db: str,
    redis_url: str,
    redis_client: Any,
    clock: ManualClock,
) -> None:
    """shaoyang §14.3: a complex matter has 10 working days instead of 5; guangzhou names none."""
    from intake.runtime import build_runtime
    from tests.conftest import make_settings

    rt = build_runtime(make_settings(tmp_path, sqlite_db, redis_url, policy="shaoyang"), clock=clock)
    try:
        client: TestClient = await aiohttp_client(create_app(rt))
        number = await called(client)
        drain(rt)
        agent = await Agent.login(client, rt)
        page = await agent.get(f"/api/console/tickets/{number}")
        assert page["can_mark_complex"] is True and page["complex"] is False
        before = page["deadline"]
        marked = await agent.post(f"/api/console/tickets/{number}/complex")
        assert marked["deadline"] > before
        page = await agent.get(f"/api/console/tickets/{number}")
        assert (page["complex"], page["can_mark_complex"], page["deadline"]) == (
            True,
            False,
            marked["deadline"],
        )
        assert "认定为复杂事项" in [h["what"] for h in page["deadline_history"]]
        again = await agent.post(f"/api/console/tickets/{number}/complex")
        assert again["deadline"] == marked["deadline"]  # once: a second mark changes nothing
        assert len(audited(rt, "ticket_marked_complex")) == 2
    finally:
        rt.close()


async def test_guangzhou_has_no_complex_limit_so_no_ticket_is_marked(
    aiohttp_client: Client, sqlite_runtime: Runtime
) -> None:
    rt = sqlite_runtime
    client: TestClient = await aiohttp_client(create_app(rt))
    number = await called(client)
    agent = await Agent.login(client, rt)
    assert (await agent.get(f"/api/console/tickets/{number}"))["can_mark_complex"] is False
    await agent.post(f"/api/console/tickets/{number}/complex", status=409)


async def test_an_agent_merges_a_repeat_into_the_cluster_of_the_matter(
    aiohttp_client: Client, sqlite_runtime: Runtime
) -> None:
    rt = sqlite_runtime
    client: TestClient = await aiohttp_client(create_app(rt))
    first = await called(client, phone="13912340011")
    repeat = await called(client, phone="13912340012", address="和平路八号对面", content="烧烤摊油烟熏人")
    agent = await Agent.login(client, rt)
    await agent.post(f"/api/console/tickets/{repeat}/merge", {"into": repeat}, status=409)  # itself
    await agent.post(f"/api/console/tickets/{repeat}/merge", {"into": "20991231-000001"}, status=404)
    await agent.post(f"/api/console/tickets/{repeat}/merge", {"into": 5}, status=400)
    merged = await agent.post(f"/api/console/tickets/{repeat}/merge", {"into": first})
    assert merged == {"number": repeat, "cluster": first}
    page = await agent.get(f"/api/console/tickets/{first}")
    assert [(m["number"], m["why"]) for m in page["cluster_members"]] == [(repeat, "坐席 a017 并入")]
    await agent.post(f"/api/console/tickets/{repeat}/merge", {"into": first}, status=409)  # already
    assert audited(rt, "ticket_merged") == [("a017", repeat, first)]


async def test_a_draft_waiting_for_the_citizen_says_what_it_waits_for(
    aiohttp_client: Client, sqlite_runtime: Runtime
) -> None:
    rt = sqlite_runtime
    client: TestClient = await aiohttp_client(create_app(rt))
    chat = await Chat(client).open()
    await chat.say("我要投诉，小区楼下烧烤店每晚油烟很大，吵得睡不着")
    agent = await Agent.login(client, rt)
    waiting = (await agent.get("/api/console/queue"))["waiting_for_citizen"]
    assert len(waiting) == 1 and waiting[0]["waits_for"], waiting
    assert "联系电话" in waiting[0]["waits_for"]


async def test_two_agents_routing_one_ticket_at_once_dispatch_it_once_and_oversized_bodies_are_refused(
    aiohttp_client: Client, runtime: Runtime
) -> None:
    rt = runtime
    client: TestClient = await aiohttp_client(create_app(rt))
    number = await called(client, content="门前大树的树枝快断了，担心砸到人", phone="13912340021")
    drain(rt)
    one, two = await Agent.login(client, rt, "a101"), await Agent.login(client, rt, "a102")
    route = f"/api/console/tickets/{number}/route"
    answers = await asyncio.gather(
        *(
            client.post(route, json={"unit": unit}, cookies=a.cookies, headers={"X-CSRF-Token": a.csrf})
            for a, unit in ((one, CITY), (two, WATER))
        )
    )
    assert sorted(r.status for r in answers) == [200, 409]  # decided under the row lock
    drain(rt)
    t = await (await client.get(f"/api/tickets/{number}", headers=AUTH)).json()
    assert t["status"] == "dispatched" and t["unit"] in (CITY, WATER)
    assert [e["type"] for e in t["events"]].count("dispatched") == 1
    sms = await (await client.get("/api/sms/outbox", params={"to": "13912340021"}, headers=AUTH)).json()
    assert sum(t["unit"] in m["text"] for m in sms["messages"]) == 1  # one notice at the far end
    huge = {"unit": CITY, "padding": "x" * 10_000}
    await one.post(route, huge, status=413)
    boss = await Agent.login(client, rt, "s101", "supervisor")
    await boss.post(
        f"/api/console/tickets/{number}/reveal", {"field": "phone", "reason": "x" * 10_000}, status=413
    )
    await boss.post(f"/api/console/tickets/{number}/merge", {"into": "9" * 10_000}, status=413)


async def test_search_never_tells_who_an_anonymous_citizen_is(
    aiohttp_client: Client, sqlite_runtime: Runtime
) -> None:
    """Found in review: a phone search matched an anonymous caller's ticket and one whose phone
    was hidden, and a word search matched a name in an anonymous ticket's text."""
    rt = sqlite_runtime
    client: TestClient = await aiohttp_client(create_app(rt))
    hidden = await called(
        client, phone="13912340031", anonymous=True, content="楼下烧烤店油烟很大，我是王小明"
    )
    kept = await called(client, phone="13912340032", anonymous=True, hide=["phone"])
    named = await called(client, phone="13912340033")
    agent = await Agent.login(client, rt)

    async def found(q: str) -> list[str]:
        return [t["number"] for t in (await agent.get(f"/api/console/queue?q={quote(q)}"))["open"]]

    assert await found("13912340031") == []
    assert await found("13912340032") == []
    assert await found("13912340033") == [named]
    assert await found("王小明") == []
    assert hidden in await found(hidden) and kept in await found(kept)  # by number, as any ticket


async def test_a_tickets_conversation_stops_at_the_senders_next_ticket(
    aiohttp_client: Client, sqlite_runtime: Runtime, clock: ManualClock
) -> None:
    """Found in review: one chat filed an anonymous ticket, then a named one; the first's page
    showed the second's messages and number, linking the anonymous citizen to their name."""
    rt = sqlite_runtime
    client: TestClient = await aiohttp_client(create_app(rt))
    chat = await Chat(client).open()
    body = await chat.say("我要匿名投诉，幸福小区3栋楼下的烧烤店每晚油烟很大，希望城管处理，电话13800138001")
    for _ in range(4):
        if body["ticket"] and body["ticket"].get("number"):
            break
        choices = [c for r in body["replies"] for c in r.get("choices", [])]
        body = await chat.say(choices[0] if choices else "地址：幸福小区3栋")
    first = body["ticket"]["number"]
    clock.advance(600)
    second = (await chat.say("我要投诉，和平路8号工地夜里施工噪音很大，希望制止，我叫李雷，电话13800138002"))[
        "ticket"
    ]
    assert second and second.get("number") and second["number"] != first, second
    agent = await Agent.login(client, rt)
    page = await agent.get(f"/api/console/tickets/{first}")
    said = " ".join(line["text"] for line in page["conversation"])
    assert "工地" not in said and second["number"] not in said and "李雷" not in said, said
    later = await agent.get(f"/api/console/tickets/{second['number']}")
    assert "工地" in " ".join(line["text"] for line in later["conversation"])


async def test_a_refused_return_clicked_twice_stays_refused_once(
    aiohttp_client: Client, runtime: Runtime, clock: ManualClock
) -> None:
    """Found in review: a second click on 不予认可 was taken as a new routing (an approval), and
    the clock restarted; and two refusals took two returns off the count."""
    rt = runtime
    client: TestClient = await aiohttp_client(create_app(rt))
    number = await called(client, content="楼下烧烤店油烟很大，水管也漏水")
    drain(rt)
    first = await (await client.get(f"/api/tickets/{number}", headers=AUTH)).json()
    clock.advance(86400)
    back = await client.post(
        f"/api/tickets/{number}/events", json={"type": "returned", "reason": "不属于本单位职责"}, headers=AUTH
    )
    assert back.status == 200
    agent = await Agent.login(client, rt)
    route = f"/api/console/tickets/{number}/route"
    answers = await asyncio.gather(
        *(
            client.post(
                route, json={"unit": CITY}, cookies=agent.cookies, headers={"X-CSRF-Token": agent.csrf}
            )
            for _ in range(2)
        )
    )
    assert sorted(r.status for r in answers) == [200, 409]
    await agent.post(route, {"unit": CITY}, status=409)
    drain(rt)
    t = await (await client.get(f"/api/tickets/{number}", headers=AUTH)).json()
    assert (t["status"], t["unit"], t["deadline"]) == ("dispatched", CITY, first["deadline"])
    assert rt.store.find_ticket(number).returns == 0
    assert len(audited(rt, "return_refused")) == 1
