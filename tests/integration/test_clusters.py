"""Near-duplicates across senders (issue 7): twenty people reporting the same pothole are linked to
one cluster agents see, without merging citizens' data; a different matter stays apart."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from aiohttp.test_utils import TestClient

from channels.console import COOKIE
from channels.web import create_app
from intake.runtime import Runtime
from tests.support.journey import AUTH, Chat, console_login

Client = Callable[..., Any]
REPORTS = [
    "和平路12号门口的马路上有个大坑，晚上骑车很危险，希望尽快修补，电话1390000{:04d}",
    "我要反映：和平路12号门口路面有一个深坑，好几个人摔倒了，希望赶紧填平，联系电话1390000{:04d}",
    "和平路12号前面的路坏了一个大坑，请相关部门尽快修，我的电话1390000{:04d}",
]


async def file(client: TestClient, text: str) -> dict[str, Any]:
    chat = await Chat(client).open()
    body = await chat.say(text)
    for _ in range(3):
        if body["ticket"] and body["ticket"]["number"]:
            return body["ticket"]  # type: ignore[no-any-return]
        choices = [c for r in body["replies"] for c in r.get("choices", [])]
        body = await chat.say(
            "是"
            if "是" in choices
            else "求助"
            if "求助" in choices
            else "地址：和平路12号，希望尽快修补，涉及单位：市政"
        )
    raise AssertionError((text, body))


async def test_the_same_pothole_from_several_people_is_one_cluster(
    aiohttp_client: Client, runtime: Runtime
) -> None:
    client: TestClient = await aiohttp_client(create_app(runtime))
    numbers = [(await file(client, REPORTS[i % 3].format(i)))["number"] for i in range(5)]
    other = (await file(client, "幸福小区3栋的路灯坏了一个月了，晚上很黑，希望修好，电话13911112222"))[
        "number"
    ]
    views = [await (await client.get(f"/api/tickets/{n}", headers=AUTH)).json() for n in numbers]
    clusters = {v["cluster"] for v in views}
    assert clusters == {numbers[0]}  # the first report names the cluster
    lamp = await (await client.get(f"/api/tickets/{other}", headers=AUTH)).json()
    assert lamp["cluster"] is None
    # linked, not merged: each ticket keeps its own citizen's contact, masked
    phones = {v["contact"]["phone"] for v in views}
    assert len(phones) == 5
    # an agent sees the cluster on the first ticket's page, with the rule that joined each
    login = await console_login(client, runtime, "a0c1")
    page = await (
        await client.get(f"/api/console/tickets/{numbers[0]}", cookies={COOKIE: login.cookies[COOKIE].value})
    ).json()
    assert [m["number"] for m in page["cluster_members"]] == numbers[1:]
    for m in page["cluster_members"]:
        share = re.fullmatch(r"同一地点，事项用字重合 (\d+)%（规则：至少 20%）", m["why"])
        assert share is not None and int(share.group(1)) >= 20, m


async def test_a_busy_day_does_not_hide_the_first_report(aiohttp_client: Client, runtime: Runtime) -> None:
    """The search reads tickets about the same place by its key: 210 open reports elsewhere
    in the same category, filed after the first pothole report, do not push it out of reach
    (it read the newest 200 of the category, decrypting each)."""
    client: TestClient = await aiohttp_client(create_app(runtime))
    first = (await file(client, REPORTS[0].format(1)))["number"]
    for i in range(210):
        for key in runtime.redis.scan_iter("hotline:rl:chat-create:*"):  # 30 new chats a minute
            runtime.redis.delete(key)
        await file(client, f"滨江路{i + 1}号门口的马路上有个大坑，希望尽快修补，电话1380000{i:04d}")
    later = (await file(client, REPORTS[1].format(2)))["number"]
    view = await (await client.get(f"/api/tickets/{later}", headers=AUTH)).json()
    assert view["cluster"] == first


async def test_tickets_from_before_place_keys_are_keyed_by_the_sweep_and_still_linked(
    aiohttp_client: Client, runtime: Runtime
) -> None:
    from intake.assembly import build_services
    from intake.store.schema import tickets

    client: TestClient = await aiohttp_client(create_app(runtime))
    first = (await file(client, REPORTS[0].format(1)))["number"]
    with runtime.engine.begin() as conn:  # as a ticket registered before migration 0005 is
        conn.execute(tickets.update().values(place_key=None))
    clusters = build_services(runtime).intake.turn.clusters
    assert clusters is not None
    assert clusters.backfill() == 1 and clusters.backfill() == 0
    later = (await file(client, REPORTS[1].format(2)))["number"]
    view = await (await client.get(f"/api/tickets/{later}", headers=AUTH)).json()
    assert view["cluster"] == first


def test_reports_registered_in_one_group_commit_are_one_cluster(runtime: Runtime) -> None:
    """Several people's reports of one pothole arriving together are handled in one group
    commit (IntakeService.handle_many): each registration's search must see the tickets the
    group numbered before it, whether the draft was started in an earlier turn or in this one."""
    from intake.clusters import Clusters
    from intake.model import Address, Channel, InboundMessage
    from intake.service import TurnInput
    from tests.integration.test_dialog_conversations import build_intake

    service, _ = build_intake(runtime, "guangzhou")
    service.turn.clusters = Clusters(runtime.store)
    people = [Address(Channel.WEBCHAT, f"pothole-{i}") for i in range(6)]
    now = runtime.clock.now()

    def turn(who: Address, text: str) -> TurnInput:
        return TurnInput(InboundMessage(who, text, now))

    # Three start with what happened only and give the place in a second turn; three say all
    # at once. The second turns and the all-at-once reports come in the same group.
    opening = "我要投诉，门口的马路上有个大坑，晚上骑车很危险"
    first = service.handle_many([turn(p, opening) for p in people[:3]])
    assert all(not isinstance(o, Exception) and o.ticket and not o.ticket.number for o in first)
    group = [
        turn(p, f"地址：和平路12号门口，涉及单位：市政，希望尽快修补，电话1390000{i:04d}")
        for i, p in enumerate(people[:3])
    ]
    whole = (
        "我要投诉，地址：和平路12号门口，马路上有个大坑，晚上骑车很危险，"
        "涉及单位：市政，希望尽快修补，电话1390001{:04d}"
    )
    group += [turn(p, whole.format(i)) for i, p in enumerate(people[3:])]
    outs = service.handle_many(group)
    numbers = []
    for o in outs:
        assert not isinstance(o, Exception) and o.ticket is not None and o.ticket.number, o
        numbers.append(o.ticket.number)
    tickets = [runtime.store.find_ticket(n) for n in numbers]
    assert {t.cluster for t in tickets} == {numbers[0]}  # the earliest report names the cluster
    assert all(t.status.value == "registered" and t.fields for t in tickets)
    # Each numbered ticket has its one dispatch job.
    assert all(runtime.store.outbox_payload(f"dispatch:{t.id}") == {"ticket_id": t.id} for t in tickets)
