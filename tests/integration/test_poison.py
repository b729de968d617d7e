"""RELIABILITY.md Q6: a job that always fails does not hold up the good ones, is not retried for
ever, and lands where agents see it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from aiohttp.test_utils import TestClient
from rq import Queue

from channels.console import COOKIE
from channels.web import create_app
from intake.clock import ManualClock
from intake.model import Address, Channel, Field, TicketDraft, TicketStatus
from intake.runtime import Runtime
from intake.store.sql import OUTBOX_MAX_ATTEMPTS
from tests.support.journey import console_login
from worker.__main__ import HotlineWorker
from worker.context import set_runtime
from worker.relay import QUEUES, relay_once

Client = Callable[..., Any]


async def test_a_poison_job_ends_on_the_agents_list_and_the_good_ones_pass(
    aiohttp_client: Client, sqlite_runtime: Runtime, clock: ManualClock
) -> None:
    rt = sqlite_runtime
    ids = []
    for i in range(20):
        tid = rt.store.create_ticket(
            TicketDraft(Channel.SMS, Address(Channel.SMS, f"+86135{i:08d}"), "guangzhou", category="投诉",
                        values={Field.CONTENT: "烧烤油烟", Field.ADDRESS: f"幸福路{i}号"})
        )  # fmt: skip
        rt.store.register(tid, deadline=None, deadline_provisional=False)
        ids.append(tid)
    with rt.store.tx():  # a delivery job whose message does not exist: it always fails
        rt.store.add_outbox("deliver", "deliver:999999", {"outbound_id": 999999})
    set_runtime(rt)
    for _ in range(OUTBOX_MAX_ATTEMPTS + 3):
        relay_once(rt.store, rt.redis, stale_after=timedelta(seconds=60))
        HotlineWorker(list(QUEUES), connection=rt.redis).work(burst=True, logging_level="CRITICAL")
        clock.advance(61)
    statuses = [rt.store.get_ticket(i).status for i in ids]
    assert statuses == [TicketStatus.DISPATCHED] * 20
    assert relay_once(rt.store, rt.redis, stale_after=timedelta(seconds=60)) == 0  # not retried for ever
    client: TestClient = await aiohttp_client(create_app(rt))
    login = await console_login(client, rt, "a2x")
    queue = await (
        await client.get("/api/console/queue", cookies={COOKIE: login.cookies[COOKIE].value})
    ).json()
    [stuck] = queue["stuck_jobs"]
    assert stuck["key"] == "deliver:999999" and stuck["attempts"] == OUTBOX_MAX_ATTEMPTS
    assert "not found" in stuck["error"]

    # issue 18: once the cause is fixed, a supervisor puts it back (an agent may not); audited
    agent = {COOKIE: login.cookies[COOKIE].value}
    agent_csrf = {"X-CSRF-Token": (await login.json())["csrf"]}
    body = {"key": stuck["key"]}
    denied = await client.post("/api/console/outbox/requeue", json=body, cookies=agent, headers=agent_csrf)
    assert denied.status == 403
    boss = await console_login(client, rt, "s2x", role="supervisor")
    cookies, csrf = {COOKIE: boss.cookies[COOKIE].value}, {"X-CSRF-Token": (await boss.json())["csrf"]}
    again = await client.post("/api/console/outbox/requeue", json=body, cookies=cookies, headers=csrf)
    assert again.status == 200
    assert relay_once(rt.store, rt.redis, stale_after=timedelta(seconds=60)) == 1  # on the queue again
    twice = await client.post("/api/console/outbox/requeue", json=body, cookies=cookies, headers=csrf)
    assert twice.status == 404  # no longer abandoned
    Queue("default", connection=rt.redis).enqueue("builtins.int", "not a number", job_id="fails-once")
    HotlineWorker(["default"], connection=rt.redis).work(burst=True, logging_level="CRITICAL")
    queue = await (await client.get("/api/console/queue", cookies=cookies)).json()
    failed = [j for j in queue["failed_jobs"] if j["job_id"] == "fails-once"]
    assert failed and "ValueError" in (failed[0]["error"] or ""), queue["failed_jobs"]
    job = {"queue": failed[0]["queue"], "job_id": failed[0]["job_id"]}
    back = await client.post("/api/console/jobs/requeue", json=job, cookies=cookies, headers=csrf)
    assert back.status == 200
    assert failed[0]["job_id"] in Queue(failed[0]["queue"], connection=rt.redis).job_ids
    gone = await client.post("/api/console/jobs/requeue", json=job, cookies=cookies, headers=csrf)
    assert gone.status == 404
