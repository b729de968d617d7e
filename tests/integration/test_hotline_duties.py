"""The hotline's own duties (issue 21), walked through under each of the five profiles: a
citizen's SMS complaint is dispatched, the clock runs past its warnings and deadline, the
supervision the profile has opens and falls due, the unit answers, the citizen is dissatisfied,
and the review (回访) or the unit's 甄别 is decided by an agent on the console. Every step must
reach the back-office stand-in once, with a valid signature (counted there, not in our tables),
and appear in the ticket's history."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import redis
from aiohttp.test_utils import TestClient

from channels.console import COOKIE
from channels.web import create_app
from intake.clock import ManualClock
from intake.model import SHANGHAI
from intake.runtime import Runtime, build_runtime
from intake.texts import format_deadline
from tests.conftest import make_settings
from tests.integration.test_sms_journey import NUMBER, PHONE, Handset, joined
from tests.support.feed_receiver import FEED_SECRET, FeedReceiver
from tests.support.journey import AUTH, console_login, drain
from worker.context import get_services
from worker.timers import run_timers

Client = Callable[..., Any]
COMPLAINT = "我要投诉，幸福小区3栋楼下的烧烤店每晚油烟很大，希望城管处理"
DUTY_PHONE = "13800138101"  # 市城市管理和综合执法局's duty phone in intake/data/routing.toml


@pytest.fixture
def receiver() -> Iterator[FeedReceiver]:
    with FeedReceiver().running() as r:
        yield r


@pytest.fixture
def make_runtime(
    tmp_path: Path,
    db_url: str,
    redis_url: str,
    redis_client: redis.Redis,
    clock: ManualClock,
    receiver: FeedReceiver,
) -> Iterator[Callable[[str], Runtime]]:
    made: list[Runtime] = []

    def build(policy: str) -> Runtime:
        settings = make_settings(tmp_path, db_url, redis_url)
        settings = replace(
            settings, policy=policy, backoffice_webhook=receiver.url, backoffice_secret=FEED_SECRET
        )
        rt = build_runtime(settings, clock=clock)
        made.append(rt)
        return rt

    yield build
    for rt in made:
        rt.close()


class Walk:
    """One ticket's life, driven through the public interfaces and the worker's sweeps."""

    def __init__(self, client: TestClient, runtime: Runtime, clock: ManualClock, phone: str = PHONE) -> None:
        self.client, self.runtime, self.clock = client, runtime, clock
        self.phone = Handset(client, runtime, phone)
        self.number = ""
        self.csrf = ""
        self.cookies: dict[str, str] = {}
        self.login_name, self.role = "s017", "supervisor"  # a shift leader: every decision is theirs

    def sweep(self) -> None:
        """What the worker's sweeper does every few seconds, then its queues drained."""
        services = get_services()
        run_timers(self.runtime, services.policy, duties=services.duties)
        drain(self.runtime)

    async def ticket(self) -> dict[str, Any]:
        resp = await self.client.get(f"/api/tickets/{self.number}", headers=AUTH)
        assert resp.status == 200
        body: dict[str, Any] = await resp.json()
        return body

    def view(self) -> Any:
        services = get_services()
        t = self.runtime.store.find_ticket(self.number)
        return services.policy.view(t, self.runtime.store.events(t.id), self.clock.now())

    def to(self, when: datetime, after: float = 60) -> None:
        self.clock.advance(max(0.0, (when - self.clock.now()).total_seconds()) + after)
        self.sweep()

    async def event(self, body: dict[str, Any], status: int = 200) -> dict[str, Any]:
        resp = await self.client.post(f"/api/tickets/{self.number}/events", json=body, headers=AUTH)
        assert resp.status == status, await resp.text()
        out: dict[str, Any] = await resp.json()
        return out

    async def login(self) -> None:
        resp = await console_login(self.client, self.runtime, self.login_name, role=self.role)
        assert resp.status == 200
        self.csrf = (await resp.json())["csrf"]
        self.cookies = {COOKIE: resp.cookies[COOKIE].value}  # a Secure cookie: sent by hand over http

    async def console(self, path: str, body: dict[str, Any], status: int = 200) -> dict[str, Any]:
        await self.login()  # days passed on the clock: the last session is long idle
        resp = await self.client.post(
            f"/api/console/tickets/{self.number}/{path}",
            json=body,
            headers={"X-CSRF-Token": self.csrf},
            cookies=self.cookies,
        )
        assert resp.status == status, await resp.text()
        out: dict[str, Any] = await resp.json()
        return out

    async def file(self) -> None:
        await self.phone.text(COMPLAINT)
        told = joined(await self.phone.inbox())
        found = NUMBER.search(told)
        assert found is not None, told
        self.number = found.group(0)
        assert (await self.ticket())["status"] == "dispatched"


# What each profile does after the deadline passes and after a dissatisfied answer.
PROFILES = {
    #          warnings, overdue supervision, review of a dissatisfied answer, 甄别 by the unit
    "guangzhou": (False, True, True, True),
    "huizhou": (True, True, True, True),
    "shaoyang": (False, True, True, True),
    "guangxi": (True, True, True, False),
    "quxian": (False, False, False, True),
}


@pytest.mark.parametrize("profile", list(PROFILES))
async def test_a_ticket_walks_through_the_hotlines_duties_and_the_feed_gets_each_event_once(
    aiohttp_client: Client,
    make_runtime: Callable[[str], Runtime],
    clock: ManualClock,
    receiver: FeedReceiver,
    profile: str,
) -> None:
    warns, supervises_overdue, reviews, objects = PROFILES[profile]
    runtime = make_runtime(profile)
    walk = Walk(await aiohttp_client(create_app(runtime)), runtime, clock)
    await walk.file()
    await walk.event({"type": "signed"})
    walk.sweep()
    view = walk.view()
    deadline = view.handling_deadline
    assert deadline is not None

    if warns:  # huizhou §26, guangxi §34: yellow 1 WD before, red 1 WD after
        walk.to(view.yellow_at)
        assert (await walk.ticket())["warning"] == "yellow"
        assert [e["level"] for e in receiver.of_type("warning")] == ["yellow"]
    walk.to(deadline)  # overdue now
    ticket = await walk.ticket()
    if supervises_overdue:  # guangzhou §25.1, shaoyang §24.1, huizhou §27, guangxi §27.1
        supervision = ticket["supervision"]
        assert supervision is not None and supervision["by"] == "system"
        assert datetime.fromisoformat(supervision["due"]) > clock.now()
        (opened,) = receiver.of_type("supervision_opened")
        assert opened["ticket"] == walk.number and opened["due"] == supervision["due"]
    else:  # quxian §20: only on the hotline's decision
        assert ticket["supervision"] is None
        await walk.console("supervise", {"reason": "群众反复投诉，长期得不到解决"})
        walk.sweep()
        supervision = (await walk.ticket())["supervision"]
        assert supervision["by"] == "agent"
        assert receiver.of_type("supervision_opened")[0]["by"] == "agent"
    if warns:
        walk.to(view.red_at)
        assert (await walk.ticket())["warning"] == "red"
        assert [e["level"] for e in receiver.of_type("warning")] == ["yellow", "red"]
        # guangxi §34 短信预警: the unit's duty phone (routing.toml) gets each card once
        resp = await walk.client.get("/api/sms/outbox", params={"to": DUTY_PHONE}, headers=AUTH)
        cards = [m["text"] for m in (await resp.json())["messages"]]
        if profile == "guangxi":
            assert len(cards) == 2 and "黄牌预警" in cards[0] and "红牌警告" in cards[1], cards
            assert walk.number in cards[0] and PHONE not in "".join(cards)
        else:  # huizhou §26 tells the unit through its system only
            assert cards == []
    walk.to(datetime.fromisoformat(supervision["due"]))  # the unit has not answered
    (due,) = receiver.of_type("supervision_due")
    assert due["due"] == supervision["due"]
    walk.sweep()
    assert len(receiver.of_type("supervision_due")) == 1  # told once

    await walk.event({"type": "supervision_answered", "result": "因商户停业延误，现已整改"})
    await walk.event({"type": "supervision_answered", "result": "再说一次"}, status=409)
    await walk.event({"type": "completed", "result": "已责令商户安装油烟净化器"})
    walk.sweep()
    await walk.phone.inbox()
    await walk.phone.text("4")  # 不满意
    told = joined(await walk.phone.inbox())
    walk.sweep()
    ticket = await walk.ticket()
    assert ticket["evaluation"] == {"level": "不满意", "round": 1}
    assert receiver.of_type("evaluation")[0]["level"] == "不满意"

    if reviews:  # guangzhou §28, huizhou §25, shaoyang §17, guangxi §27.3: 回访 first
        assert "回访" in told and ticket["status"] == "completed" and ticket["review"] == "dissatisfied"
        assert receiver.of_type("review_requested")[0]["kind"] == "dissatisfied"
        decided = await walk.console(
            "review", {"decision": "rehandle", "callback": "已电话回访，市民反映油烟仍未改善"}
        )
        assert decided == {"number": walk.number, "status": "rehandling", "review": None}
        walk.sweep()
        assert "重新办理" in joined(await walk.phone.inbox())
        (rehandling,) = receiver.of_type("rehandling")
        assert rehandling["round"] == 1
        assert receiver.of_type("review_decided")[0]["callback"].startswith("已电话回访")
    else:  # quxian §12: no re-handling; the dissatisfied result is archived
        assert ticket["status"] == "closed"
    if objects and not reviews:  # quxian §12.1: the unit asks for 甄别 within 2 WD
        await walk.event({"type": "objection", "reason": "诉求人反映情况不属实，已提供现场照片"})
        assert (await walk.ticket())["review"] == "objection"
        await walk.console("review", {"decision": "upheld", "reason": "佐证材料属实"})
        walk.sweep()
        assert (await walk.ticket())["review"] is None
        kinds = [(e["kind"], e.get("decision")) for e in receiver.of_type("review_decided")]
        assert kinds == [("objection", "upheld")]

    history = [e["type"] for e in (await walk.ticket())["events"]]
    for step in ("dispatched", "supervision_opened", "supervision_due", "evaluated", "review_requested"):
        if step != "review_requested" or reviews or objects:
            assert step in history, (step, history)
    # the far end: every event once, each with a signature that held
    assert receiver.refused == []
    assert receiver.counts and max(receiver.counts.values()) == 1, receiver.counts
    assert receiver.types()[0] == "dispatched"
    assert {e["ticket"] for e in receiver.events} == {walk.number}


async def test_new_facts_the_unit_confirms_restart_the_clock_in_guangzhou_only(
    aiohttp_client: Client, make_runtime: Callable[[str], Runtime], clock: ManualClock, receiver: FeedReceiver
) -> None:
    """guangzhou §20.1: facts the citizen adds that change the matter restart the handling period
    from the day the unit received them, once the unit confirms; the citizen is told the new
    deadline. huizhou has no such article: the same request is refused."""
    runtime = make_runtime("guangzhou")
    walk = Walk(await aiohttp_client(create_app(runtime)), runtime, clock)
    await walk.file()
    await walk.event({"type": "signed"})
    await walk.event({"type": "clock_restarted", "reason": "新情况"}, status=409)  # nothing added yet
    before = datetime.fromisoformat((await walk.ticket())["deadline"])
    extended = (before + timedelta(days=2)).isoformat()  # granted before the facts came
    await walk.event({"type": "extension_approved", "new_deadline": extended, "reason": "需现场核查"})
    clock.advance(3 * 86400)
    await walk.phone.text(f"补充{walk.number}：烧烤店现在还占用了消防通道")
    walk.sweep()
    await walk.phone.inbox()
    assert len(receiver.of_type("supplement")) == 1
    came = clock.now()
    clock.advance(3600)
    body = await walk.event({"type": "clock_restarted", "reason": "占用消防通道，需联合消防部门处理"})
    after = datetime.fromisoformat(body["deadline"])
    # counted again from the day the facts came, the earlier extension no longer deciding: the
    # complaint's 10 WD (guangzhou §14.2) from the next working day's 00:00 (§15)
    days, _ = get_services().policy.calendar.workdays_between(
        came.astimezone(SHANGHAI).date(), after.astimezone(SHANGHAI).date()
    )
    assert days == 10 and after != datetime.fromisoformat(extended), (came, after)
    assert body["status"] == "extended" and body["extensions"] == 1  # still one of two used
    walk.sweep()
    told = joined(await walk.phone.inbox())
    assert "重新计算" in told and format_deadline(after) in told
    (restart,) = receiver.of_type("clock_restarted")
    assert restart["deadline"] == body["deadline"]
    await walk.event({"type": "clock_restarted"}, status=409)  # once for the same facts

    other = make_runtime("huizhou")
    walk2 = Walk(await aiohttp_client(create_app(other)), other, clock, "13800138999")  # the same database
    await walk2.file()
    await walk2.phone.text(f"补充{walk2.number}：还有噪音")
    await walk2.phone.inbox()
    await walk2.event({"type": "clock_restarted"}, status=409)


async def test_a_withdrawal_after_dispatch_goes_to_the_unit_which_ends_the_ticket(
    aiohttp_client: Client, make_runtime: Callable[[str], Runtime], clock: ManualClock, receiver: FeedReceiver
) -> None:
    """guangzhou §23.2: after dispatch the unit ends a withdrawn ticket; the citizen's request is
    recorded and sent to the unit through the feed; the unit's ``withdrawn`` closes it and the
    citizen is told."""
    runtime = make_runtime("guangzhou")
    walk = Walk(await aiohttp_client(create_app(runtime)), runtime, clock)
    await walk.file()
    await walk.phone.text(f"撤回 {walk.number}")
    told = joined(await walk.phone.inbox())
    assert ("撤回" in told and "承办单位" in told) or "城市管理" in told
    walk.sweep()
    assert (await walk.ticket())["status"] == "dispatched"
    (asked,) = receiver.of_type("withdrawal_requested")
    assert asked["ticket"] == walk.number and asked["unit"]
    await walk.event({"type": "withdrawn"})
    walk.sweep()
    assert (await walk.ticket())["status"] == "withdrawn"
    assert "撤回" in joined(await walk.phone.inbox())
    assert len(receiver.of_type("withdrawn")) == 1


async def _dissatisfied(walk: Walk) -> None:
    """A filed ticket completed by the unit and answered 不满意 by the citizen."""
    await walk.file()
    await walk.event({"type": "completed", "result": "已责令整改"})
    walk.sweep()
    await walk.phone.inbox()
    await walk.phone.text("4")
    await walk.phone.inbox()


async def test_two_agents_deciding_one_review_at_once_rehandle_it_once(
    aiohttp_client: Client, make_runtime: Callable[[str], Runtime], clock: ManualClock, receiver: FeedReceiver
) -> None:
    runtime = make_runtime("guangzhou")
    walk = Walk(await aiohttp_client(create_app(runtime)), runtime, clock)
    await _dissatisfied(walk)
    assert (await walk.ticket())["review"] == "dissatisfied"
    await walk.login()
    body = {"decision": "rehandle", "callback": "已回访"}
    headers = {"X-CSRF-Token": walk.csrf}
    path = f"/api/console/tickets/{walk.number}/review"
    answers = await asyncio.gather(
        *(walk.client.post(path, json=body, headers=headers, cookies=walk.cookies) for _ in range(4))
    )
    assert sorted(r.status for r in answers) == [200, 409, 409, 409]
    walk.sweep()
    assert [e["type"] for e in (await walk.ticket())["events"]].count("rehandling") == 1
    assert sum("重新办理" in m["text"] for m in await walk.phone.inbox()) == 1  # told once, at the phone
    assert len(receiver.of_type("rehandling")) == 1


async def test_an_objection_is_the_tickets_own_units_once_within_its_window(
    aiohttp_client: Client, make_runtime: Callable[[str], Runtime], clock: ManualClock
) -> None:
    runtime = make_runtime("quxian")
    walk = Walk(await aiohttp_client(create_app(runtime)), runtime, clock)
    await _dissatisfied(walk)
    unit = (await walk.ticket())["unit"]
    tokens = {}
    for name in (unit, "市供电局"):
        resp = await walk.client.post(f"/api/units/{quote(name, safe='')}/tokens", headers=AUTH)
        tokens[name] = {"Authorization": f"Bearer {(await resp.json())['token']}"}
    path = f"/api/tickets/{walk.number}/events"
    objection = {"type": "objection", "reason": "诉求人反映不属实"}
    assert (await walk.client.post(path, json=objection, headers=tokens["市供电局"])).status == 404
    too_long = {"type": "objection", "reason": "长" * 3000}
    assert (await walk.client.post(path, json=too_long, headers=tokens[unit])).status == 400
    assert (await walk.client.post(path, json={"type": "objection"}, headers=tokens[unit])).status == 400
    clock.advance(5 * 86400)  # quxian §12.1: within 2 working days of the evaluation
    late = await walk.client.post(path, json=objection, headers=tokens[unit])
    assert late.status == 409 and "window" in (await late.json())["error"]["message"]
    assert (await walk.ticket())["review"] is None

    walk2 = Walk(walk.client, runtime, clock, "13800138777")
    await _dissatisfied(walk2)
    path2 = f"/api/tickets/{walk2.number}/events"
    assert (await walk.client.post(path2, json=objection, headers=tokens[unit])).status == 200
    again = {"type": "objection", "reason": "再次申请"}
    assert (await walk.client.post(path2, json=again, headers=tokens[unit])).status == 409
    events = [e["type"] for e in (await walk2.ticket())["events"]]
    assert events.count("review_requested") == 1


async def test_the_feed_is_retried_while_the_back_office_is_down_and_arrives_once(
    aiohttp_client: Client,
    make_runtime: Callable[[str], Runtime],
    clock: ManualClock,
    receiver: FeedReceiver,
) -> None:
    receiver.fail_first = 3  # the unit's system answers 500 three times
    runtime = make_runtime("huizhou")
    walk = Walk(await aiohttp_client(create_app(runtime)), runtime, clock)
    await walk.file()
    await walk.event({"type": "signed"})
    walk.sweep()
    assert receiver.events == [] and receiver.requests >= 1
    for _ in range(4):  # the relay puts an unfinished job back after its stale window
        clock.advance(61)
        walk.sweep()
    assert receiver.requests > 3
    assert receiver.types() == ["dispatched"]  # once, after the outage
    assert max(receiver.counts.values()) == 1


async def test_closing_a_review_names_the_case_that_skips_rehandling(
    aiohttp_client: Client, make_runtime: Callable[[str], Runtime], clock: ManualClock, receiver: FeedReceiver
) -> None:
    """guangzhou §29 lists the cases a dissatisfied ticket is not re-handled in: closing after the
    call-back names one of the profile's, and the citizen is told the reason."""
    runtime = make_runtime("guangzhou")
    walk = Walk(await aiohttp_client(create_app(runtime)), runtime, clock)
    await _dissatisfied(walk)
    await walk.login()
    resp = await walk.client.get(f"/api/console/tickets/{walk.number}", cookies=walk.cookies)
    codes = [c["code"] for c in (await resp.json())["skip_cases"]]
    assert "suggestion_not_adopted" in codes and "force_majeure" in codes
    wrong = {"decision": "close", "callback": "已回访", "reason": "无", "skip_case": "whatever"}
    await walk.console("review", wrong, status=400)
    closing = {
        "decision": "close",
        "callback": "已回访",
        "reason": "商户已依法处理",
        "skip_case": "repeat_no_new_facts",
    }
    done = await walk.console("review", closing)
    assert done["status"] == "closed"
    walk.sweep()
    assert "商户已依法处理" in joined(await walk.phone.inbox())
    (decided,) = receiver.of_type("review_decided")
    assert decided["skip_case"] == "repeat_no_new_facts" and "§29.6" in decided["reason"]


async def test_a_plain_agent_may_rehandle_but_not_close_a_review_nor_decide_an_objection(
    aiohttp_client: Client, make_runtime: Callable[[str], Runtime], clock: ManualClock
) -> None:
    runtime = make_runtime("guangzhou")
    walk = Walk(await aiohttp_client(create_app(runtime)), runtime, clock)
    await _dissatisfied(walk)
    walk.login_name, walk.role = "a017", "agent"
    closing = {"decision": "close", "callback": "已回访", "reason": "已依法处理"}
    refused = await walk.console("review", closing, status=403)
    assert refused["error"]["code"] == "forbidden"
    assert (await walk.ticket())["review"] == "dissatisfied"  # nothing decided
    done = await walk.console("review", {"decision": "rehandle", "callback": "已回访，仍有油烟"})
    assert done["status"] == "rehandling"


async def test_huizhou_units_return_a_withdrawn_ticket_and_one_in_rehandling_can_be_withdrawn(
    aiohttp_client: Client, make_runtime: Callable[[str], Runtime], clock: ManualClock
) -> None:
    """huizhou §17: after dispatch the unit returns a withdrawn ticket to the hotline, which ends
    it (not re-routed to another unit); and a ticket back with its unit for re-handling can be
    withdrawn too (guangzhou §23.2)."""
    runtime = make_runtime("huizhou")
    walk = Walk(await aiohttp_client(create_app(runtime)), runtime, clock)
    await walk.file()
    await walk.phone.text(f"撤回 {walk.number}")
    await walk.phone.inbox()
    await walk.event({"type": "returned", "reason": "市民已撤回"})
    walk.sweep()
    ticket = await walk.ticket()
    assert ticket["status"] == "withdrawn"
    assert [e["type"] for e in ticket["events"]].count("dispatched") == 1  # not sent on

    other = make_runtime("guangzhou")
    walk2 = Walk(await aiohttp_client(create_app(other)), other, clock, "13800138666")
    await _dissatisfied(walk2)
    await walk2.console("review", {"decision": "rehandle", "callback": "已回访"})
    await walk2.phone.text(f"撤回 {walk2.number}")
    assert "按规定结束工单" in joined(await walk2.phone.inbox())
    await walk2.event({"type": "withdrawn"})
    assert (await walk2.ticket())["status"] == "withdrawn"


async def test_overdue_again_in_rehandling_opens_a_new_supervision_once(
    aiohttp_client: Client, make_runtime: Callable[[str], Runtime], clock: ManualClock, receiver: FeedReceiver
) -> None:
    """shaoyang §24.1: a re-handled ticket past its new deadline is supervised again, once, even
    after the first supervision was answered; two workers sweeping at once open it once."""
    runtime = make_runtime("shaoyang")
    walk = Walk(await aiohttp_client(create_app(runtime)), runtime, clock)
    await walk.file()
    await walk.event({"type": "signed"})
    walk.to(walk.view().handling_deadline)
    assert len(receiver.of_type("supervision_opened")) == 1
    await walk.event({"type": "completed", "result": "已处理"})  # answers the supervision
    walk.sweep()
    await walk.phone.inbox()
    await walk.phone.text("4")
    await walk.phone.inbox()
    await walk.console("review", {"decision": "rehandle", "callback": "已回访"})
    walk.sweep()
    again = walk.view().handling_deadline
    clock.advance((again - clock.now()).total_seconds() + 60)
    services = get_services()
    sweeps = [
        threading.Thread(target=services.duties.sweep, args=(clock.now(),), kwargs={"feed": True})
        for _ in range(2)
    ]
    for s in sweeps:
        s.start()
    for s in sweeps:
        s.join()
    walk.sweep()
    opened = receiver.of_type("supervision_opened")
    t = runtime.store.find_ticket(walk.number)
    assert len(opened) == 2, t.supervision
    assert opened[1]["due"] != opened[0]["due"]
    supervision = (await walk.ticket())["supervision"]
    assert supervision["answered_at"] is None and supervision["due"] == opened[1]["due"]
