"""The indicators (issue 21) against a hand count: a month of phone tickets is generated with a
known fate for each (on time or late, extended, dissatisfied and re-handled, an objection
upheld), and the report must give exactly the numbers counted here from that plan, not from
the code under test. The CSV is then scanned for every personal value the tickets carried."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from aiohttp.test_utils import TestClient

from channels.web import create_app
from intake.clock import ManualClock
from intake.model import SHANGHAI
from intake.runtime import Runtime
from tests.support.journey import AUTH, drain
from worker.context import get_services, set_runtime

Client = Callable[..., Any]
DAYS = 20


def plan(i: int) -> dict[str, Any]:
    """The fate of the i-th ticket of the month (the hand count reads this, nothing else)."""
    return {
        "category": "投诉" if i % 2 == 0 else "求助",
        "late": i % 3 == 0,
        "extended": i % 4 == 1,
        "level": {0: "满意", 1: "非常满意", 2: "基本满意", 3: None, 4: "不满意"}[i % 5],
        "objection_upheld": i == 9,  # one of the dissatisfied: its evaluation is taken out
        "name": f"王{'一二三四五六七八九十'[i % 10]}明",
        "phone": f"1391234{5600 + i:04d}",
        "home": f"幸福小区{i + 1}栋{i + 2}01室",
    }


async def _month(client: TestClient, runtime: Runtime, clock: ManualClock) -> list[str]:
    set_runtime(runtime)
    services = get_services()
    store = runtime.store
    numbers = []
    for i in range(DAYS):
        p = plan(i)
        clock.set(datetime(2026, 11, 2, 9, tzinfo=SHANGHAI) + timedelta(days=i))
        call = {
            "channel": "phone",
            "phone": p["phone"],
            "name": p["name"],
            "category": p["category"],
            "subject": "楼下烧烤店",
            "content": f"我住{p['home']}，楼下烧烤店油烟很大，电话{p['phone']}",
            "address": "和平路8号",
            "demand": "尽快处理",
        }
        resp = await client.post("/api/tickets", json=call, headers=AUTH)
        assert resp.status == 201, await resp.text()
        number = (await resp.json())["number"]
        numbers.append(number)
        drain(runtime)  # dispatched at once: on time
        services.events.apply(number, {"type": "signed"}, "unit")
        t = store.find_ticket(number)
        assert t.deadline is not None
        if p["extended"]:
            new = t.deadline + timedelta(days=1)
            services.events.apply(
                number,
                {"type": "extension_approved", "new_deadline": new.isoformat(), "reason": "需现场核查"},
                "unit",
            )
        deadline = store.find_ticket(number).deadline
        assert deadline is not None
        clock.set(deadline + timedelta(hours=30) if p["late"] else clock.now() + timedelta(hours=3))
        services.events.apply(number, {"type": "completed", "result": "已处理"}, "unit")
        t = store.find_ticket(number)
        if p["level"] is not None:
            with store.tx():
                store.record_evaluation(t.id, 1, p["level"], "citizen")
                store.add_event(t.id, "evaluated", "citizen", {"level": p["level"], "round": 1})
        if p["level"] == "不满意":
            with store.tx():
                services.duties.request_review(t, "dissatisfied", {"level": "不满意", "round": 1}, "citizen")
            with store.tx():
                services.duties.decide(
                    store.get_ticket(t.id), "rehandle", "a017", {"callback": "已回访"}, clock.now()
                )
        if p["objection_upheld"]:
            services.events.apply(number, {"type": "objection", "reason": "诉求人反映情况不属实"}, "unit")
            with store.tx():
                services.duties.decide(
                    store.get_ticket(t.id), "upheld", "a017", {"reason": "佐证属实"}, clock.now()
                )
    drain(runtime)
    return numbers


async def test_the_indicators_of_a_month_match_a_hand_count_and_the_csv_has_no_personal_data(
    aiohttp_client: Client, runtime: Runtime, clock: ManualClock
) -> None:
    client: TestClient = await aiohttp_client(create_app(runtime))
    numbers = await _month(client, runtime, clock)
    plans = [plan(i) for i in range(DAYS)]

    # the hand count, from the plan alone
    finished_on_time = sum(not p["late"] for p in plans)
    extended = sum(p["extended"] for p in plans)
    rehandled = sum(p["level"] == "不满意" for p in plans)
    counted = [p for p in plans if p["level"] is not None and not p["objection_upheld"]]
    satisfied = sum(p["level"] in ("非常满意", "满意", "基本满意") for p in counted)
    assert (finished_on_time, extended, rehandled, len(counted), satisfied) == (13, 5, 4, 15, 12)

    resp = await client.get("/api/reports/indicators?from=2026-11-01&to=2026-11-30", headers=AUTH)
    assert resp.status == 200, await resp.text()
    got = await resp.json()
    assert (got["received"], got["registered"], got["dispatched"], got["finished"]) == (20, 20, 20, 20)
    assert got["dispatch_on_time_rate"] == 1.0
    assert got["finished_on_time"] == finished_on_time and got["on_time_rate"] == round(13 / 20, 4)
    assert got["extended"] == extended and got["extension_rate"] == round(5 / 20, 4)
    assert got["rehandled"] == rehandled and got["rehandling_rate"] == round(4 / 20, 4)
    assert got["evaluated"] == 15 and got["satisfaction_rate"] == round(12 / 15, 4)
    assert (got["objections"], got["objections_upheld"]) == (1, 1)
    assert got["by_category"]["投诉"]["received"] == 10 and got["by_category"]["求助"]["received"] == 10
    assert got["by_category"]["投诉"]["finished_on_time"] == sum(
        not p["late"] for p in plans if p["category"] == "投诉"
    )
    assert set(got["by_channel"]) == {"phone"}
    assert sum(u["received"] for u in got["by_unit"].values()) == 20
    assert len(got["by_day"]) == DAYS and got["by_day"]["2026-11-02"]["received"] == 1
    assert got["by_month"]["2026-11"]["received"] == 20
    # a narrower period counts only its own tickets
    week = await (
        await client.get("/api/reports/indicators?from=2026-11-02&to=2026-11-08", headers=AUTH)
    ).json()
    assert week["received"] == 7

    resp = await client.get("/api/reports/tickets.csv?from=2026-11-01&to=2026-11-30", headers=AUTH)
    assert resp.status == 200 and resp.content_type == "text/csv"
    text = (await resp.read()).decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert sorted(r["number"] for r in rows) == sorted(numbers)
    assert sum(r["finished_on_time"] == "1" for r in rows) == finished_on_time
    # personal data: none of the values the tickets carried, in any form
    personal = [v for p in plans for v in (p["name"], p["phone"], p["home"], p["phone"][-4:] + ",")]
    hits = [v for v in personal if v in text]
    hits += re.findall(r"1[3-9]\d[\s*-]*\d{4}[\s*-]*\d{4}|\d{3}\*{4}\d{4}|烧烤|幸福小区|和平路|已处理", text)
    assert hits == []


async def test_reports_are_the_centres_only(aiohttp_client: Client, runtime: Runtime) -> None:
    client: TestClient = await aiohttp_client(create_app(runtime))
    unit = await client.post(f"/api/units/{'市供电局'}/tokens", headers=AUTH)
    token = (await unit.json())["token"]
    for path in ("/api/reports/indicators", "/api/reports/tickets.csv"):
        assert (await client.get(path)).status == 401
        assert (await client.get(path, headers={"Authorization": f"Bearer {token}"})).status == 403
        assert (await client.get(path + "?from=2026-13-01", headers=AUTH)).status == 400
        assert (await client.get(path + "?from=2026-11-30&to=2026-11-01", headers=AUTH)).status == 400
        assert (await client.get(path + "?from=2020-01-01&to=2026-01-01", headers=AUTH)).status == 400


async def test_an_objection_upheld_for_round_one_leaves_the_second_answer_counted(
    aiohttp_client: Client, runtime: Runtime, clock: ManualClock
) -> None:
    """guangzhou §29: the second evaluation stands; an objection upheld against the first
    (§30) must not take the citizen's second answer out of the satisfaction rate."""
    client: TestClient = await aiohttp_client(create_app(runtime))
    set_runtime(runtime)
    services, store = get_services(), runtime.store
    clock.set(datetime(2026, 11, 2, 9, tzinfo=SHANGHAI))
    call = {
        **{k: v for k, v in plan(0).items() if k in ("name", "phone")},
        "channel": "phone",
        "category": "投诉",
    }
    call |= {"subject": "烧烤店", "content": "油烟很大", "address": "和平路8号", "demand": "处理"}
    number = (await (await client.post("/api/tickets", json=call, headers=AUTH)).json())["number"]
    drain(runtime)
    services.events.apply(number, {"type": "completed", "result": "已处理"}, "unit")
    t = store.find_ticket(number)
    with store.tx():
        store.record_evaluation(t.id, 1, "不满意", "citizen")
        store.add_event(t.id, "evaluated", "citizen", {"level": "不满意", "round": 1})
        services.duties.request_review(t, "dissatisfied", {"level": "不满意", "round": 1}, "citizen")
    with store.tx():
        services.duties.decide(store.get_ticket(t.id), "rehandle", "s1", {"callback": "已回访"}, clock.now())
    services.events.apply(number, {"type": "objection", "reason": "诉求人反映不属实"}, "unit")
    with store.tx():
        services.duties.decide(store.get_ticket(t.id), "upheld", "s1", {"reason": "属实"}, clock.now())
    services.events.apply(number, {"type": "completed", "result": "再次处理"}, "unit")
    with store.tx():
        store.record_evaluation(t.id, 2, "满意", "citizen")
    got = await (
        await client.get("/api/reports/indicators?from=2026-11-01&to=2026-11-30", headers=AUTH)
    ).json()
    assert (got["evaluated"], got["satisfied"], got["objections_upheld"]) == (1, 1, 0)
    assert got["satisfaction_rate"] == 1.0
