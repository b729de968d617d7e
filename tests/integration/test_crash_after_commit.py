"""RELIABILITY.md T3: the web process dies (``os._exit``) right after a webhook's commit, before it
answers or processes anything. The sender resends, as Telegram and SMS gateways do when no 2xx
came; the product is started again. The message is processed and answered exactly once, counted
where the citizen would see it: the Bot API stand-in, the SMS gateway stub's outbox.

The web process is real (``python -m channels.web`` with the fault injected from outside by
tests/support/dying_web.py); the worker is drained in the test against the same SQL and Redis.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from channels.signing import signed_headers
from channels.telegram_parse import SECRET_HEADER
from intake.runtime import Runtime, build_runtime
from notifier import deliver
from tests.conftest import TEST_KEY
from tests.integration.test_telegram_webhook import SECRET, ThreadedStandIn, sample
from tests.support.bot_api import TEST_TOKEN
from tests.support.dying_web import DIED
from tests.support.journey import SMS_SECRET, drain
from tests.support.mail_sink import free_port

ROOT = Path(__file__).resolve().parents[2]
API_TOKEN = "test-token-0123456789"
pytestmark = pytest.mark.slow


@pytest.fixture
def stand_in() -> Iterator[ThreadedStandIn]:
    s = ThreadedStandIn()
    yield s
    s.close()


class Web:
    """The web process on a free port, started as ``python -m <module> <args>``."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env = env
        self.log = log
        self.port = int(env["HOTLINE_HTTP"].rsplit(":", 1)[1])
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, *module: str) -> None:
        out = open(self.log, "ab")  # noqa: SIM115 - closed with the process
        self.proc = subprocess.Popen(
            [sys.executable, "-m", *module], cwd=ROOT, env=self.env, stdout=out, stderr=out
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text()[-3000:]
            try:
                if httpx.get(f"{self.base}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError("the web process never answered /healthz:\n" + self.log.read_text()[-3000:])

    def post(self, path: str, body: bytes, headers: dict[str, str]) -> httpx.Response | None:
        """The response, or None when the process died without answering."""
        try:
            return httpx.post(
                f"{self.base}{path}",
                content=body,
                headers={"Content-Type": "application/json", **headers},
                timeout=20,
            )
        except httpx.HTTPError:
            return None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def env(tmp_path: Path, sqlite_db: str, redis_url: str, redis_client: redis.Redis) -> dict[str, str]:
    return {
        **os.environ,
        "HOTLINE_DATA": str(tmp_path / "data"),
        "DATABASE_URL": sqlite_db,
        "REDIS_URL": redis_url,
        "HOTLINE_SECRET_KEY": TEST_KEY,
        "HOTLINE_API_TOKEN": API_TOKEN,
        "HOTLINE_SMS_SECRET": SMS_SECRET,
        "HOTLINE_HTTP": f"127.0.0.1:{free_port()}",
    }


@pytest.fixture
def web(env: dict[str, str], tmp_path: Path) -> Iterator[Web]:
    w = Web(env, tmp_path / "web.log")
    yield w
    w.stop()


def worker_runtime(env: dict[str, str]) -> Runtime:
    """What the worker process builds from the same environment (the real clock)."""
    from intake.settings import from_env

    return build_runtime(from_env(env))


def test_a_telegram_update_committed_by_a_web_process_that_then_died_is_answered_once(
    env: dict[str, str], web: Web, stand_in: ThreadedStandIn
) -> None:
    env.update(
        TELEGRAM_TOKEN=TEST_TOKEN,
        TELEGRAM_WEBHOOK_SECRET=SECRET,
        TELEGRAM_API_BASE=stand_in.api.api_base,
    )
    update = sample("private_text")
    update["update_id"] = 990_000_001
    update["message"]["text"] = "我要投诉，小区楼下烧烤店每晚油烟很大，希望城管处理"
    chat_id = update["message"]["chat"]["id"]
    body = json.dumps(update, ensure_ascii=False).encode()
    headers = {SECRET_HEADER: SECRET}

    web.start("tests.support.dying_web", "telegram")
    assert web.post("/api/telegram/webhook", body, headers) is None  # died before any answer
    assert web.proc is not None and web.proc.wait(20) == DIED
    web.start("channels.web")
    for _ in range(3):  # Telegram resends an update until it gets a 2xx
        resp = web.post("/api/telegram/webhook", body, headers)
        assert resp is not None and resp.status_code == 200, resp
    runtime = worker_runtime(env)
    try:
        drain(runtime)
        drain(runtime)
    finally:
        deliver._senders.pop(id(runtime), None)
        runtime.close()
    answers = stand_in.api.messages_to(chat_id)
    assert len(answers) == 1, answers  # processed and answered exactly once
    assert answers[0]["text"]


def test_an_sms_whose_turn_was_committed_by_a_web_process_that_then_died_is_answered_once(
    env: dict[str, str], web: Web
) -> None:
    phone = "+8613912340001"
    body = json.dumps(
        {"from": phone, "text": "我要投诉，小区楼下烧烤店每晚油烟很大，希望城管处理", "id": "gw-77001"},
        ensure_ascii=False,
    ).encode()

    web.start("tests.support.dying_web", "sms")
    assert web.post("/api/sms/inbound", body, signed_headers(SMS_SECRET, body)) is None
    assert web.proc is not None and web.proc.wait(20) == DIED
    web.start("channels.web")
    for _ in range(3):  # the gateway resends, signed afresh, until it gets a 2xx
        resp = web.post("/api/sms/inbound", body, signed_headers(SMS_SECRET, body))
        assert resp is not None and resp.status_code == 200, resp
    runtime = worker_runtime(env)
    try:
        drain(runtime)
        drain(runtime)
        stored = runtime.store.count_inbound()
    finally:
        runtime.close()
    assert stored == 1  # every attempt was the one message
    sent = httpx.get(
        f"{web.base}/api/sms/outbox", params={"to": phone}, headers={"Authorization": f"Bearer {API_TOKEN}"}
    ).json()["messages"]
    assert len(sent) == 1, sent  # the stub gateway sent one answer, not one per attempt
