"""A holiday override file reaches every process without a restart (issue 21): the web process
answers ``GET /api/tickets/{number}`` with a deadline computed from the file an operator dropped
into ``$HOTLINE_DATA/holidays`` after the app started, with no reload call from anyone."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import redis
from aiohttp.test_utils import TestClient

from channels.web import create_app
from intake.clock import ManualClock
from intake.model import SHANGHAI
from intake.runtime import Runtime, build_runtime
from tests.conftest import make_settings
from tests.support.journey import AUTH, drain

Client = Callable[..., Any]

CALL = {
    "channel": "phone",
    "phone": "+86 138 0013 8000",
    "name": "张三丰",
    "anonymous": False,
    "category": "投诉",
    "subject": "楼下烧烤店",
    "content": "小区楼下烧烤店每晚油烟很大",
    "address": "幸福小区3栋",
    "demand": "希望城管处理",
}

# Test data standing in for the State Council's 2027 notice: 元旦 off, Saturday Jan 2 worked.
OVERRIDE_2027 = """\
year = 2027
source = "test data standing in for the State Council's 2027 notice"
holidays = ["2027-01-01"]
workdays = ["2027-01-02"]
"""


@pytest.fixture
def runtime_seconds_zero(
    tmp_path: Path, sqlite_db: str, redis_url: str, redis_client: redis.Redis, clock: ManualClock
) -> Iterator[Runtime]:
    """A runtime whose processes look at the holiday folder before every calculation
    (HOTLINE_HOLIDAYS_CHECK_SECONDS=0), so the test need not wait out the default interval."""
    settings = make_settings(tmp_path, sqlite_db, redis_url, holidays_check_seconds=0)
    rt = build_runtime(settings, clock=clock)
    yield rt
    rt.close()


async def test_the_api_shows_a_final_deadline_once_the_override_file_is_dropped(
    aiohttp_client: Client, runtime_seconds_zero: Runtime, clock: ManualClock
) -> None:
    runtime = runtime_seconds_zero
    clock.set(datetime(2026, 12, 18, 10, 0, tzinfo=SHANGHAI))  # a Friday
    client: TestClient = await aiohttp_client(create_app(runtime))
    resp = await client.post("/api/tickets", json=CALL, headers=AUTH)
    assert resp.status == 201, await resp.text()
    number = (await resp.json())["number"]
    drain(runtime)  # dispatched at once: guangzhou §15, 10 WD from Mon Dec 21

    async def deadline() -> tuple[str, bool]:
        ticket = await (await client.get(f"/api/tickets/{number}", headers=AUTH)).json()
        return ticket["deadline"], ticket["deadline_provisional"]

    # Dec 21-25, 28-31 (9), 元旦 off even before the notice, Mon Jan 4 (10): provisional
    assert await deadline() == ("2027-01-04T23:59:59+08:00", True)

    folder = runtime.settings.holidays_dir
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "2027.toml").write_text(OVERRIDE_2027, encoding="utf-8")
    # the same web process, no restart and no reload: Sat Jan 2 is the 10th working day, final
    assert await deadline() == ("2027-01-02T23:59:59+08:00", False)

    (folder / "2027.toml").unlink()  # withdrawn: provisional again
    assert await deadline() == ("2027-01-04T23:59:59+08:00", True)
