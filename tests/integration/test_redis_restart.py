"""Redis goes away for a few seconds and comes back (a restart, a failover): every process of the
Procfile stays up, answers again, and the worker takes jobs again. One process exiting would make
honcho stop all the others (the launcher's CI failure of stop 12: RQ's work() swallows a Redis
error met outside a job and returns as if asked to stop)."""

from __future__ import annotations

import os
import signal
import smtplib
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
import redis
from rq import Queue

from hotline.embedded_redis import EmbeddedRedis
from intake.store.db import migrate
from tests.conftest import TEST_KEY
from tests.integration.test_launcher import free_port

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow
PROCFILE = {"web": "channels.web", "smtp": "channels.email.smtp", "worker": "worker"}


def healthz(port: int) -> int | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except OSError:
        return None


def rq_workers(client: redis.Redis) -> int:
    try:
        return int(client.scard("rq:workers"))
    except redis.ConnectionError:
        return 0


def wait_until(
    what: str, check: Callable[[], bool], timeout: float, procs: dict[str, subprocess.Popen[bytes]]
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        dead = {name: p.returncode for name, p in procs.items() if p.poll() is not None}
        assert not dead, f"processes exited while waiting for {what}: {dead}"
        time.sleep(0.2)
    raise AssertionError(f"{what} not within {timeout}s")


@pytest.mark.parametrize("when", ["starting", "settled", "refusing writes"])
def test_every_process_outlives_a_redis_restart(tmp_path: Path, when: str) -> None:
    """``refusing writes``: Redis stays up but refuses every write for a while (as it does when
    its append-only file is on a full disk; `make chaos` disk-full found the worker exiting on
    it). Here by a maxmemory of one byte under noeviction: "OOM command not allowed"."""
    server = EmbeddedRedis(tmp_path / "redis")
    server.start()
    db = f"sqlite:///{tmp_path / 'hotline.db'}"
    migrate(db)
    http, smtp = free_port(), free_port()
    env = {
        **os.environ,
        "HOTLINE_DATA": str(tmp_path / "data"),
        "HOTLINE_HTTP": f"127.0.0.1:{http}",
        "HOTLINE_SMTP": f"127.0.0.1:{smtp}",
        "DATABASE_URL": db,
        "REDIS_URL": server.url,
        "HOTLINE_SECRET_KEY": TEST_KEY,
        "HOTLINE_API_TOKEN": "test-token-0123456789",
    }
    logs = {name: tmp_path / f"{name}.log" for name in PROCFILE}
    procs: dict[str, subprocess.Popen[bytes]] = {}
    client = redis.Redis.from_url(server.url)
    try:
        for name, module in PROCFILE.items():
            out = open(logs[name], "wb")  # noqa: SIM115 - closed with the process
            procs[name] = subprocess.Popen(
                [sys.executable, "-m", module], cwd=ROOT, env=env, stdout=out, stderr=out
            )
        wait_until("a healthy web process", lambda: healthz(http) == 200, 60, procs)
        if when != "starting":  # else: while the worker and smtp processes may still be starting
            wait_until("the worker registered in Redis", lambda: rq_workers(client) == 1, 60, procs)

        if when == "refusing writes":
            # a job that ends while writes are refused: RQ's own bookkeeping after it then fails
            slow = Queue("dispatch", connection=client).enqueue("time.sleep", 3, job_id="during")
            wait_until("the slow job started", lambda: slow.get_status(refresh=True) == "started", 30, procs)
            client.config_set("maxmemory", "1")
            time.sleep(8)
            client.config_set("maxmemory", "0")
        else:
            assert server.proc is not None
            os.kill(server.proc.pid, signal.SIGKILL)
            server.proc.wait()
            wait_until("/healthz naming Redis as down", lambda: healthz(http) == 503, 10, procs)
            time.sleep(4)  # long enough for every process to meet the outage on its own
            server.start()
            client = redis.Redis.from_url(server.url)

        wait_until("/healthz 200 again", lambda: healthz(http) == 200, 30, procs)
        wait_until("the worker back in Redis", lambda: rq_workers(client) >= 1, 60, procs)
        with smtplib.SMTP("127.0.0.1", smtp, timeout=5) as s:
            assert s.noop()[0] == 250
        # The worker runs jobs again: a ping job through the same queue the product uses.
        job = Queue("dispatch", connection=client).enqueue("builtins.len", "工单", job_id="after-restart")
        wait_until(
            "a job run after the restart", lambda: job.get_status(refresh=True) == "finished", 30, procs
        )
        assert job.return_value() == 2
        alive = {name: p.poll() is None for name, p in procs.items()}
        assert alive == dict.fromkeys(PROCFILE, True), {n: logs[n].read_text()[-2000:] for n in PROCFILE}

        # And SIGTERM still stops each of them promptly (the worker's restart loop is no trap).
        for p in procs.values():
            p.send_signal(signal.SIGTERM)
        codes = {name: p.wait(30) for name, p in procs.items()}
        assert all(code in (0, -signal.SIGTERM) for code in codes.values()), codes
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()
                p.wait()
        client.close()
        server.stop()
    web_log = logs["web"].read_text()
    assert "Traceback" not in web_log, web_log[-3000:]
