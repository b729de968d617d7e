"""Near-duplicates across senders (issue 7): twenty people reporting the same pothole are linked to
one cluster agents see, without merging citizens' data; a different matter stays apart."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp.test_utils import TestClient

from channels.web import create_app
from intake.runtime import Runtime
from tests.support.journey import AUTH, Chat

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
            "求助" if "求助" in choices else "地址：和平路12号，希望尽快修补，涉及单位：市政"
        )
    raise AssertionError(body)


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
