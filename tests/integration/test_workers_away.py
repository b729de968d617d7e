"""RELIABILITY.md Q7: no worker runs for 15 minutes while citizens write, then two start at once.
Nothing queued meanwhile is discarded (no job carries a ``ttl``: every queued job and its Redis
key outlive the wait), every registered ticket is dispatched and acknowledged once, and each
timer that fell due while nobody swept fires exactly once, counted in what the citizens' chat
pages receive.

The web app runs in the test, the workers are real processes (``python -m hotline.worker``);
all share the development clock (HOTLINE_DEV_CLOCK=1), which carries them past the wait and the
supplement window.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import redis
from aiohttp.test_utils import TestClient
from rq import Queue
from sqlalchemy import func, select

from channels.web import create_app
from intake.runtime import Runtime, build_runtime
from intake.store.schema import outbox
from tests.conftest import make_settings
from tests.integration.test_privacy import file_until_registered
from tests.integration.test_worker_kill import start_worker, stop_workers
from tests.support.journey import Chat
from worker.relay import QUEUES, Sweeper, relay_once

Client = Callable[..., Any]
pytestmark = pytest.mark.slow
CLOSED = "已按规定关闭"
TIMER_SWEEP_SECONDS = float(inspect.signature(Sweeper).parameters["timer_interval"].default)


def pending_jobs(runtime: Runtime) -> int:
    """Outbox rows not done: jobs the product still owes, kept in SQL."""
    with runtime.engine.connect() as conn:
        query = select(func.count()).select_from(outbox).where(outbox.c.done_at.is_(None))
        return int(conn.execute(query).scalar_one())


async def wait_for(what: Callable[[], Any], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if await what():
            return
        await asyncio.sleep(0.5)
    raise AssertionError("not within the time")


async def test_nothing_queued_is_lost_while_no_worker_runs_and_each_timer_fires_once(
    aiohttp_client: Client, tmp_path: Path, sqlite_db: str, redis_url: str, redis_client: redis.Redis
) -> None:
    settings = replace(make_settings(tmp_path, sqlite_db, redis_url), dev_clock=True)
    runtime: Runtime = build_runtime(settings)
    client: TestClient = await aiohttp_client(create_app(runtime))
    try:
        filed = []
        for i in range(3):
            chat = await Chat(client).open()
            await file_until_registered(
                chat,
                f"我要投诉，幸福小区{i + 1}栋楼下的烧烤店每晚油烟很大，希望城管处理。电话1391234567{i}",
                [f"电话1391234567{i}，地址：幸福小区{i + 1}栋，涉事单位：烧烤店，希望城管处理"],
            )
            filed.append(chat)
        drafts = []
        for _ in range(3):
            chat = await Chat(client).open()
            first = await chat.say("我要投诉，小区楼下烧烤店每晚油烟很大")
            assert first["ticket"]["status"] == "collecting"  # waits for the one supplement
            drafts.append(chat)
        for chat in filed + drafts:
            await chat.later()  # what each page already shows

        # The last worker's relay had just put the jobs on the queues when every worker stopped;
        # fifteen minutes pass with none.
        assert relay_once(runtime.store, runtime.redis) >= 3
        resp = await client.post("/api/dev/clock", json={"advance_seconds": 15 * 60})
        assert resp.status == 200
        job_ids = [j for name in QUEUES for j in Queue(name, connection=redis_client).job_ids]
        assert len(job_ids) >= 3
        for job_id in job_ids:  # no job, and no job's key, can expire while nobody works
            assert redis_client.ttl(f"rq:job:{job_id}") == -1, job_id
        pending = pending_jobs(runtime)
        assert pending >= 3  # the three dispatches at least, kept in SQL as well

        # Past guangzhou §12's three days to supplement, then two workers start at once.
        await client.post("/api/dev/clock", json={"advance_seconds": 3 * 86400})
        workers = [start_worker(runtime, tmp_path, HOTLINE_DEV_CLOCK="1") for _ in range(2)]
        try:
            seen: dict[int, list[str]] = {id(c): [] for c in filed + drafts}

            async def everyone_told() -> bool:
                for chat in filed + drafts:
                    seen[id(chat)] += [m["text"] for m in await chat.later()]
                return all(seen[id(c)] for c in filed) and all(
                    any(CLOSED in t for t in seen[id(c)]) for c in drafts
                )

            await wait_for(everyone_told)
            await asyncio.sleep(3 * TIMER_SWEEP_SECONDS)  # a few more sweeps: nothing fires twice
            for chat in filed + drafts:
                seen[id(chat)] += [m["text"] for m in await chat.later()]
        finally:
            stop_workers(*workers)
        for chat in drafts:
            assert sum(CLOSED in t for t in seen[id(chat)]) == 1, seen[id(chat)]
        for chat in filed:
            assert len(seen[id(chat)]) == 1, seen[id(chat)]  # the one acknowledgement of dispatch
        assert pending_jobs(runtime) == 0
        for name in QUEUES:
            assert Queue(name, connection=redis_client).failed_job_registry.count == 0
    finally:
        runtime.close()
