"""A stand-in for a unit's back-office system: receives the hotline's signed feed over real HTTP
(a threaded server, so a worker job blocking the test's thread still gets its answer), checks
every signature, and counts what arrived by event id — "delivered once" is proved here, at the
far end, not in our own tables."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from channels.signing import Refused, verify

FEED_SECRET = "test-feed-secret-0123456789"


class FeedReceiver:
    def __init__(self, secret: str = FEED_SECRET, fail_first: int = 0) -> None:
        self.secret = secret
        self.fail_first = fail_first  # answer 500 to this many requests first (an outage)
        self.failing = False  # an outage while set: every request answers 500
        self.events: list[dict[str, Any]] = []  # accepted, in arrival order, duplicates included
        self.refused: list[str] = []  # why a request was not believed
        self.requests = 0
        self.lock = threading.Lock()
        self.url = ""

    @property
    def counts(self) -> Counter[str]:
        with self.lock:
            return Counter(e["id"] for e in self.events)

    def types(self) -> list[str]:
        with self.lock:
            return [e["type"] for e in self.events]

    def of_type(self, type_: str) -> list[dict[str, Any]]:
        with self.lock:
            return [e for e in self.events if e["type"] == type_]

    def _handle(self, headers: dict[str, str], body: bytes) -> int:
        with self.lock:
            self.requests += 1
            if self.requests <= self.fail_first or self.failing:
                return 500
        try:
            verify(self.secret, headers, body)
        except Refused as exc:
            with self.lock:
                self.refused.append(exc.reason)
            return 401
        with self.lock:
            self.events.append(json.loads(body))
        return 204

    @contextmanager
    def running(self) -> Iterator[FeedReceiver]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                status = receiver._handle({k.title(): v for k, v in self.headers.items()}, body)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        self.url = f"http://127.0.0.1:{server.server_address[1]}/feed"
        try:
            yield self
        finally:
            server.shutdown()
            server.server_close()
