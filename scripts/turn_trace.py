"""Which of the product's files one web-chat message crosses, from the request to the reply.

    .venv/bin/python scripts/turn_trace.py ["我要投诉，小区楼下烧烤店每晚油烟很大"]

Runs the web app in this process (SQLite in a temporary folder, Redis at REDIS_URL or
redis://127.0.0.1:6379/15), opens a chat session, says one warm-up message, then traces the
second: every call and return in the product's own packages (intake, channels, notifier,
worker, hotline), on the event loop and in the thread that stores the turn. Prints the files in
the order they were first entered, how many calls each saw, and the number of stops (a change of
file along the call chain) and of returns to a file left before — issue 17's measure of how far
a newcomer must follow one turn.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import threading
from collections import Counter
from pathlib import Path
from types import FrameType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PACKAGES = tuple(str(ROOT / p) + os.sep for p in ("intake", "channels", "notifier", "worker", "hotline"))


class Trace:
    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.order: list[str] = []
        self.stops = 0
        self.returns_to_left = 0
        self._last: str | None = None
        self._lock = threading.Lock()

    def __call__(self, frame: FrameType, event: str, arg: Any) -> None:
        if event not in ("call", "return"):
            return
        path = frame.f_code.co_filename
        if not path.startswith(PACKAGES):
            return
        name = os.path.relpath(path, ROOT)
        with self._lock:
            if event == "call":
                self.calls[name] += 1
                if name not in self.order:
                    self.order.append(name)
            if name != self._last:
                self.stops += 1
                if event == "return" and name in self.order[:-1]:
                    self.returns_to_left += 1
                self._last = name


CURRENT: list[Trace] = []  # the trace being taken, if any


def _gate(frame: FrameType, event: str, arg: Any) -> None:
    """Installed in every thread from the start (the store's thread is made by the first turn);
    it records only while a trace is being taken."""
    if CURRENT:
        CURRENT[0](frame, event, arg)


async def main(text: str) -> int:
    from aiohttp.test_utils import TestClient, TestServer

    from channels.web import create_app
    from intake.runtime import build_runtime
    from intake.settings import from_env
    from intake.store.db import migrate

    data = Path(tempfile.mkdtemp(prefix="turn-trace-"))
    url = f"sqlite:///{data / 'hotline.db'}"
    env = {
        "DATABASE_URL": url,
        "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15"),
        "HOTLINE_DATA": str(data),
    }
    threading.setprofile(_gate)  # threads started from now on: the executor's
    migrate(url)
    runtime = build_runtime(from_env(env))
    runtime.redis.flushdb()
    async with TestClient(TestServer(create_app(runtime))) as client:
        session = await (await client.post("/api/chat/sessions")).json()
        path = f"/api/chat/sessions/{session['session_id']}/messages"
        auth = {"Authorization": f"Bearer {session['token']}"}
        first = await client.post(path, json={"text": "你好"}, headers=auth)  # loads what a turn loads
        if first.status != 200:
            print(f"the warm-up turn failed: {first.status} {await first.text()}")
            return 1
        trace = Trace()
        CURRENT.append(trace)
        sys.setprofile(_gate)
        try:
            reply = await (await client.post(path, json={"text": text}, headers=auth)).json()
        finally:
            sys.setprofile(None)
            CURRENT.clear()
    runtime.close()
    print(f"said: {text}\nreplied: {[r.get('text', '')[:40] for r in reply.get('replies', [])]}\n")
    for name in trace.order:
        print(f"  {trace.calls[name]:6d} calls  {name}")
    print(
        f"\n{len(trace.order)} files, {trace.stops} stops, "
        f"{trace.returns_to_left} returns to a file left before"
    )
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "我要投诉，小区楼下烧烤店每晚油烟很大")))
