"""Open consoles are told when something was committed (issue 20: the queue updates without a
reload). Every commit of the process sets a flag; a thread publishes one Redis message for what
was committed in the last PERIOD, so a burst of a thousand turns costs a few messages, and each
console (channels/console.py, an SSE stream) reloads what it shows."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import redis
from sqlalchemy import Engine, event

log = logging.getLogger(__name__)
CHANNEL = "hotline:console:changed"
PERIOD = 0.3  # seconds: at most this often per process


class CommitSignal:
    def __init__(self, engine: Engine, client: redis.Redis) -> None:
        self.engine = engine
        self.redis = client
        self._dirty = threading.Event()
        self._stopped = False
        event.listen(engine, "commit", self._committed)
        self._thread = threading.Thread(target=self._run, name="commit-signal", daemon=True)
        self._thread.start()

    def _committed(self, _conn: Any) -> None:
        self._dirty.set()

    def _run(self) -> None:
        while True:
            self._dirty.wait()
            if self._stopped:
                return
            self._dirty.clear()
            try:
                self.redis.publish(CHANNEL, "changed")
            except redis.RedisError as exc:  # consoles fall back to polling; nothing is lost
                log.warning("console change signal not published: %s", exc)
            time.sleep(PERIOD)

    def close(self) -> None:
        self._stopped = True
        self._dirty.set()
        event.remove(self.engine, "commit", self._committed)
        self._thread.join(timeout=2)
