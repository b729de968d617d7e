"""Shared fixtures: real Redis (an embedded redis-server unless HOTLINE_TEST_REDIS_URL is set),
real SQL (SQLite always, PostgreSQL whenever one is reachable)."""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest
import redis

from channels.email import mail_turn
from hotline.embedded_redis import EmbeddedRedis
from intake.clock import ManualClock
from intake.model import SHANGHAI
from intake.runtime import Runtime, build_runtime
from intake.settings import Settings, from_env
from intake.store.db import migrate
from tests.support.stores import postgres_available, postgres_database, sqlite_url
from worker.context import set_mail_reader

set_mail_reader(mail_turn)  # what the worker's composition root does (hotline/worker.py)

TEST_KEY = base64.urlsafe_b64encode(b"k" * 32).decode()
_PG = postgres_available()
if not _PG and os.environ.get("CI"):
    print("\nnote: no PostgreSQL reachable at 127.0.0.1:5432; store tests run on SQLite only\n")


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if os.environ.get("HOTLINE_TEST_REDIS_URL"):
        yield os.environ["HOTLINE_TEST_REDIS_URL"]
        return
    server = EmbeddedRedis(tmp_path_factory.mktemp("redis"))
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Every store test runs on SQLite and again on PostgreSQL (skipped only when none is reachable)."""
    if request.param == "sqlite":
        url = sqlite_url(tmp_path)
        migrate(url)
        yield url
        return
    if not _PG:
        pytest.skip("no PostgreSQL reachable")
    with postgres_database() as url:
        migrate(url)
        yield url


@pytest.fixture
def sqlite_db(tmp_path: Path) -> str:
    url = sqlite_url(tmp_path)
    migrate(url)
    return url


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 11, 20, 10, 0, tzinfo=SHANGHAI))


def make_settings(tmp_path: Path, db_url: str, redis_url: str, **overrides: object) -> Settings:
    env = {
        "HOTLINE_DATA": str(tmp_path / "data"),
        "DATABASE_URL": db_url,
        "REDIS_URL": redis_url,
        "HOTLINE_SECRET_KEY": TEST_KEY,
        "HOTLINE_API_TOKEN": "test-token-0123456789",
        "HOTLINE_SMS_SECRET": "test-sms-secret-0123456789",
        # Tests send hundreds of mails from one address; test_smtp_limits checks the quota itself.
        "HOTLINE_MAIL_QUOTA": "1000000",
    }
    return replace(from_env(env), **overrides)  # type: ignore[arg-type]


@pytest.fixture
def runtime(
    tmp_path: Path, db_url: str, redis_url: str, redis_client: redis.Redis, clock: ManualClock
) -> Iterator[Runtime]:
    rt = build_runtime(make_settings(tmp_path, db_url, redis_url), clock=clock)
    yield rt
    rt.close()


@pytest.fixture
def sqlite_runtime(
    tmp_path: Path, sqlite_db: str, redis_url: str, redis_client: redis.Redis, clock: ManualClock
) -> Iterator[Runtime]:
    rt = build_runtime(make_settings(tmp_path, sqlite_db, redis_url), clock=clock)
    yield rt
    rt.close()
