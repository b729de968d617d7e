"""The product as `make run` starts it, with handles to break each part.

Redis is the launcher's embedded redis-server (append-only file under the data folder); SQL is a
fresh SQLite file or a fresh PostgreSQL database, migrated; web, smtp and worker are the
Procfile's own commands, each started on its own so that one can be killed and started again
while the others go on. PostgreSQL is reached through :class:`TcpGate`, a loopback proxy that the
"SQL unreachable" fault closes.
"""

from __future__ import annotations

import asyncio
import base64
import os
import secrets
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from sqlalchemy import create_engine
from sqlalchemy.engine import Engine

from hotline.embedded_redis import EmbeddedRedis
from intake.store.db import migrate

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = os.environ.get("HOTLINE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
API_TOKEN = "chaos-api-token-0123456789"
SMS_SECRET = "chaos-sms-secret-0123456789"
TELEGRAM_SECRET = "chaos-telegram-secret-0123456789"
SECRET_KEY = base64.urlsafe_b64encode(b"c" * 32).decode()
MIGRATING = threading.Lock()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def procfile() -> dict[str, list[str]]:
    """The Procfile's commands by name, run with this interpreter (as honcho runs them from the
    venv's PATH)."""
    commands: dict[str, list[str]] = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        if ":" in line and not line.lstrip().startswith("#"):
            name, command = line.split(":", 1)
            argv = shlex.split(command)
            commands[name.strip()] = [sys.executable if argv[0] == "python" else argv[0], *argv[1:]]
    return commands


def postgres_reachable() -> bool:
    try:
        with psycopg.connect(PG_ADMIN_URL, connect_timeout=2):
            return True
    except psycopg.Error:
        return False


class TcpGate:
    """A loopback TCP proxy in its own thread. ``close(seconds)`` cuts every connection through it
    and refuses new ones for that long: the database is unreachable, then back."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self._open = True
        self._writers: set[asyncio.StreamWriter] = set()
        self.loop = asyncio.new_event_loop()
        self._server: asyncio.Server | None = None
        threading.Thread(target=self.loop.run_forever, name="tcp-gate", daemon=True).start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(10)

    async def _start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self._open:
            writer.close()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self._writers |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with suppress(OSError, asyncio.IncompleteReadError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._writers -= {writer, up_writer}

    def close(self, on: bool) -> None:
        def apply() -> None:
            self._open = not on
            if on:
                for w in list(self._writers):
                    w.transport.abort()
                self._writers.clear()

        self.loop.call_soon_threadsafe(apply)

    def stop(self) -> None:
        if self._server is not None:
            self.loop.call_soon_threadsafe(self._server.close)
        self.close(True)
        self.loop.call_soon_threadsafe(self.loop.stop)


@dataclass(eq=False)
class Cluster:
    """One instance of the product in ``data`` on the store ``db`` ("sqlite" or "postgresql")."""

    data: Path
    db: str
    far_env: dict[str, str]
    extra_env: dict[str, str] = field(default_factory=dict)
    http_port: int = field(default_factory=free_port)
    smtp_port: int = field(default_factory=free_port)

    def __post_init__(self) -> None:
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.redis = EmbeddedRedis(self.data)
        self.gate: TcpGate | None = None
        self._pg_name = ""
        self.database_url = ""
        self.commands = procfile()
        self.logs = self.data.parent / "logs"  # beside the data: a full data disk keeps them

    # life cycle -------------------------------------------------------------------------------
    def start(self) -> Cluster:
        self.data.mkdir(parents=True, exist_ok=True)
        self.logs.mkdir(exist_ok=True)
        self.redis.start()
        if self.db == "postgresql":
            self._pg_name = f"hotline_chaos_{os.getpid()}_{secrets.token_hex(4)}"
            with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{self._pg_name}"')
            host_part = PG_ADMIN_URL.split("://", 1)[1].rsplit("/", 1)[0]
            user = host_part.split("@", 1)[0] if "@" in host_part else "postgres"
            hostport = host_part.rsplit("@", 1)[-1]
            host, _, port = hostport.partition(":")
            self.gate = TcpGate((host, int(port or 5432)))
            self.database_url = f"postgresql+psycopg://{user}@127.0.0.1:{self.gate.port}/{self._pg_name}"
        else:
            self.database_url = f"sqlite:///{self.data / 'hotline.sqlite3'}"
        with MIGRATING:  # Alembic's context is global: one migration at a time in this process
            migrate(self.database_url)
        for name in self.commands:
            self.start_process(name)
        return self

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            HOTLINE_DATA=str(self.data),
            DATABASE_URL=self.database_url,
            REDIS_URL=self.redis.url,
            HOTLINE_HTTP=f"127.0.0.1:{self.http_port}",
            HOTLINE_SMTP=f"127.0.0.1:{self.smtp_port}",
            HOTLINE_SECRET_KEY=SECRET_KEY,
            HOTLINE_API_TOKEN=API_TOKEN,
            HOTLINE_SMS_SECRET=SMS_SECRET,
            TELEGRAM_WEBHOOK_SECRET=TELEGRAM_SECRET,
            # the load comes through one loopback "proxy" that names each citizen's address
            HOTLINE_TRUSTED_PROXIES="127.0.0.1",
            HOTLINE_RELAY_STALE_SECONDS="10",
            HOTLINE_DELIVERY_LEASE_SECONDS="60",  # a notice whose worker died settles in a minute
            PYTHONUNBUFFERED="1",
        )
        env.update(self.far_env)
        env.update(self.extra_env)
        return env

    def start_process(self, name: str, *, as_name: str | None = None) -> subprocess.Popen[bytes]:
        """Start the Procfile's ``name`` (again); ``as_name`` runs a second copy (a second worker)."""
        key = as_name or name
        log = open(self.logs / f"{key}.log", "ab")  # noqa: SIM115 - lives with the process
        proc = subprocess.Popen(
            self.commands[name], cwd=ROOT, env=self.env(), stdout=log, stderr=log, start_new_session=True
        )
        log.close()
        self.procs[key] = proc
        return proc

    def kill(self, name: str) -> None:
        """SIGKILL to the process and its group (nothing of it survives)."""
        proc = self.procs[name]
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()

    def restart(self, name: str) -> None:
        base = "worker" if name.startswith("worker") else name
        self.start_process(base, as_name=name)

    def wait_ready(self, within: float = 60.0) -> None:
        """Until the web process answers /healthz 200 and the SMTP port accepts."""
        import urllib.request

        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            for name, proc in self.procs.items():
                if proc.poll() is not None:
                    tail = (self.logs / f"{name}.log").read_text(errors="replace")[-2000:]
                    raise RuntimeError(f"{name} exited with {proc.returncode}:\n{tail}")
            try:
                url = f"http://127.0.0.1:{self.http_port}/healthz"
                with urllib.request.urlopen(url, timeout=2) as resp:
                    if resp.status == 200:
                        with socket.create_connection(("127.0.0.1", self.smtp_port), timeout=2):
                            return
            except OSError:
                pass
            time.sleep(0.2)
        raise TimeoutError("the product did not become healthy")

    def stop(self, *, fast: bool = False) -> None:
        """SIGTERM to every process (SIGKILL with ``fast``, or to one still running 20 s later),
        then Redis, the gate and the PostgreSQL database."""
        for proc in self.procs.values():
            with suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL if fast else signal.SIGTERM)
        for name, proc in self.procs.items():
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                self.kill(name)
        self.redis.stop()
        if self.gate is not None:
            self.gate.stop()
        if self._pg_name:
            with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self._pg_name}" WITH (FORCE)')

    def engine(self) -> Engine:
        """A connection for counting, beside the product's (not through the gate)."""
        url = self.database_url
        if self.gate is not None:
            url = url.replace(f"127.0.0.1:{self.gate.port}", PG_ADMIN_URL.split("@")[-1].rsplit("/", 1)[0])
        return create_engine(url)
