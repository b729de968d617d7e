"""Real headless Chromium against the real product, started exactly as `make run` starts it.

The product (launcher → web, smtp, worker) runs once per module on a fresh data folder and the
shared embedded Redis (flushed first); each test gets its own phone-sized browser context.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import redis

from tests.integration.test_launcher import free_port, health, processes_of

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
API_TOKEN = "browser-test-token-0123456789"
AGENT_LOGIN = "a1024"
AGENT_PASSWORD = "browser-agent-password-0123"
ARTIFACTS = ROOT / "tests" / "artifacts"
PHONE = {"width": 360, "height": 740}


@dataclass(frozen=True)
class Product:
    base_url: str
    data_dir: Path
    log_path: Path

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


@dataclass
class Watched:
    """What a page did that a citizen must never see: dialogs, CSP refusals, script errors."""

    dialogs: list[str] = field(default_factory=list)
    csp: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _wait_healthy(proc: subprocess.Popen[bytes], port: int, log_path: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(
                f"the product exited with {proc.returncode}:\n{log_path.read_text()[-4000:]}"
            )
        h = health(port)
        if h is not None and h.get("ok"):
            return
        time.sleep(0.25)
    raise AssertionError(f"/healthz not 200 within {timeout}s:\n{log_path.read_text()[-4000:]}")


def _stop(proc: subprocess.Popen[bytes], data_dir: Path) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    for pid in processes_of(data_dir):  # anything the launcher left behind
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _create_agent(base: str, login: str, password: str) -> None:
    """An agent's account, made as the centre makes one (CONTRACT.md POST /api/agents)."""
    req = urllib.request.Request(
        base + "/api/agents",
        data=json.dumps({"login": login, "password": password, "role": "supervisor"}).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {API_TOKEN}"},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=15) as resp:
        assert resp.status == 201


@contextlib.contextmanager
def launched_product(data: Path, redis_url: str, **extra_env: str) -> Iterator[Product]:
    """The whole product as `make run` starts it (the launcher), on free ports, until SIGTERM."""
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    client.close()
    http, smtp = free_port(), free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("HOTLINE_") and k not in {"DATABASE_URL", "REDIS_URL"}
    }
    env.update(
        HOTLINE_DATA=str(data),
        HOTLINE_HTTP=f"127.0.0.1:{http}",
        HOTLINE_SMTP=f"127.0.0.1:{smtp}",
        HOTLINE_DEV_CLOCK="1",
        HOTLINE_API_TOKEN=API_TOKEN,
        REDIS_URL=redis_url,
        **extra_env,
    )
    log_path = data / "product.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "hotline.run"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        _wait_healthy(proc, http, log_path, 60)
        base = f"http://127.0.0.1:{http}"
        _create_agent(base, AGENT_LOGIN, AGENT_PASSWORD)
        yield Product(base, data, log_path)
    finally:
        _stop(proc, data)


@pytest.fixture(scope="module")
def product(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Product]:
    with launched_product(tmp_path_factory.mktemp("hotline-browser"), redis_url) as p:
        yield p


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=15_000)

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


def new_phone(browser: Any, **options: Any) -> Any:
    """A fresh phone (360×740, touch, zh-CN, Beijing time): its own storage, so its own chat."""
    context = browser.new_context(
        viewport=PHONE,
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
        **options,
    )
    context.set_default_timeout(15_000)
    return context


@pytest.fixture
def phone(browser: Any) -> Iterator[Any]:
    context = new_phone(browser)
    yield context
    context.close()


@pytest.fixture
def watched() -> Watched:
    return Watched()


def watch(page: Any, seen: Watched) -> Any:
    """Record dialogs (dismissed at once), CSP refusals and uncaught script errors of ``page``."""

    def on_dialog(dialog: Any) -> None:
        seen.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    def on_console(msg: Any) -> None:
        if "Content Security Policy" in msg.text:
            seen.csp.append(msg.text)

    page.on("dialog", on_dialog)
    page.on("console", on_console)
    page.on("pageerror", lambda exc: seen.errors.append(str(exc)))
    return page
