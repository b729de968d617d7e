"""The embedded Redis keeps what it acknowledged across a SIGKILL (append-only file)."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import redis
from rq import Queue

from hotline.embedded_redis import EmbeddedRedis


def test_acknowledged_writes_survive_sigkill(tmp_path: Path) -> None:
    server = EmbeddedRedis(tmp_path)
    server.start()
    try:
        client = redis.Redis.from_url(server.url)
        for i in range(500):
            client.set(f"dialog:{i}", f"state-{i}")
        Queue("dispatch", connection=client).enqueue(
            "worker.jobs.run_outbox", "dispatch:1", job_id="ob-dispatch-1"
        )
        client.close()
        assert server.proc is not None
        os.kill(server.proc.pid, signal.SIGKILL)
        server.proc.wait()
        server.start()
        client = redis.Redis.from_url(server.url)
        assert client.get("dialog:0") == b"state-0"
        assert client.get("dialog:499") == b"state-499"
        assert Queue("dispatch", connection=client).job_ids == ["ob-dispatch-1"]
        assert client.config_get("appendonly") == {"appendonly": "yes"}
        client.close()
    finally:
        server.stop()
    assert not server.alive()
