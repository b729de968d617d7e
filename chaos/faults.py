"""The faults, one per scenario. Each runs in a thread at a random moment of the load and returns
once the product has been given back what it lost (a restarted process, a store back, a channel
that answers again)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from chaos.cluster import Cluster
from chaos.standins import FarEnds


@dataclass
class Stage:
    cluster: Cluster
    far: FarEnds
    short: bool
    say: Callable[[str], None]

    def wait_healthy(self) -> None:
        self.cluster.wait_ready(within=90)


def kill_and_restart(name: str, when: str) -> Callable[[Stage], None]:
    """SIGKILL the Procfile's ``name`` (``when``: what it is in the middle of); started again a
    second later, then the product is awaited healthy."""

    def fault(s: Stage) -> None:
        s.cluster.kill(name)
        s.say(f"{name} SIGKILLed {when}")
        time.sleep(1)
        s.cluster.restart(name)
        s.wait_healthy()
        s.say(f"{name} restarted")

    return fault


def kill_worker_after_accept(s: Stage) -> None:
    """The SMS platform accepts each send and answers 3 s late; the worker is SIGKILLed while
    sends are in that window (between the provider's accept and our record), then started
    again."""
    s.far.slow_sms(3.0)
    time.sleep(1.5)
    s.cluster.kill("worker")
    s.say("worker SIGKILLed while SMS sends were accepted but not answered")
    s.far.slow_sms(0.0)
    time.sleep(1)
    s.cluster.restart("worker")
    s.say("worker restarted")


def two_workers_race(s: Stage) -> None:
    """A second worker runs from the start (see SCENARIOS); here the SMS platform turns slow
    (4 s, past the 2 s re-enqueue window the scenario sets) for 8 s, so the relay hands the same
    jobs to the other worker while the first is still sending."""
    s.far.slow_sms(4.0)
    s.say("SMS platform answers 4 s late (re-enqueue window 2 s), two workers running")
    time.sleep(6 if s.short else 8)
    s.far.slow_sms(0.0)
    s.say("SMS platform answers at once again")


def kill_redis(s: Stage) -> None:
    """SIGKILL redis-server; start it again from its append-only file, as the launcher does."""
    proc = s.cluster.redis.proc
    assert proc is not None
    proc.kill()
    proc.wait()
    s.say("redis SIGKILLed")
    time.sleep(1)
    s.cluster.redis.start()
    s.say("redis restarted from its append-only file")


def pause_redis(s: Stage) -> None:
    """Redis unreachable for 30 s (SIGSTOP: connections hang, as behind a dead network) while
    citizens keep writing; then SIGCONT."""
    proc = s.cluster.redis.proc
    assert proc is not None
    seconds = 8 if s.short else 30
    os.kill(proc.pid, signal.SIGSTOP)
    s.say(f"redis stopped (SIGSTOP) for {seconds} s")
    try:
        time.sleep(seconds)
    finally:
        os.kill(proc.pid, signal.SIGCONT)
    s.say("redis continues")


def sql_unreachable(s: Stage) -> None:
    """SQL unreachable for 10 s: PostgreSQL's connections cut and refused at the gate; SQLite's
    file locked by another process (every write waits, then fails)."""
    seconds = 5 if s.short else 10
    if s.cluster.gate is not None:
        s.cluster.gate.close(True)
        s.say(f"PostgreSQL unreachable for {seconds} s")
        time.sleep(seconds)
        s.cluster.gate.close(False)
    else:
        conn = sqlite3.connect(s.cluster.data / "hotline.sqlite3", timeout=30, isolation_level=None)
        conn.execute("BEGIN EXCLUSIVE")
        s.say(f"SQLite locked by another process for {seconds} s")
        time.sleep(seconds)
        conn.execute("ROLLBACK")
        conn.close()
    s.say("SQL back")


def disk_full(s: Stage) -> None:
    """The data disk (a small tmpfs the scenario mounted) filled to the last byte for 10 s."""
    filler = s.cluster.data / "filler"
    with open(filler, "wb", buffering=0) as fh:
        for size in (1 << 20, 4096, 1):  # down to the last byte
            with suppress(OSError):
                while True:
                    fh.write(b"\0" * size)
    s.say("data disk full")
    time.sleep(5 if s.short else 10)
    filler.unlink()
    s.say("data disk has room again")


def channel_outage(s: Stage) -> None:
    """Every delivery channel refuses for a minute: SMS platform 500, Bot API 429, mail 451,
    back office 500."""
    seconds = 10 if s.short else 60
    s.far.outage(True)
    s.say(f"every far end refuses for {seconds} s")
    time.sleep(seconds)
    s.far.outage(False)
    s.say("far ends answer again")


@dataclass(frozen=True)
class Scenario:
    name: str
    fault: Callable[[Stage], None]
    env: tuple[tuple[str, str], ...] = ()
    workers: int = 1
    tmpfs: bool = False


SCENARIOS = (
    Scenario("kill-web", kill_and_restart("web", "in the middle of requests")),
    Scenario("kill-smtp", kill_and_restart("smtp", "while clients are inside DATA")),
    Scenario("kill-worker", kill_worker_after_accept),
    Scenario("two-workers", two_workers_race, env=(("HOTLINE_RELAY_STALE_SECONDS", "2"),), workers=2),
    Scenario("kill-redis", kill_redis),
    Scenario("redis-away", pause_redis),
    Scenario("sql-away", sql_unreachable),
    Scenario("disk-full", disk_full, tmpfs=True),
    Scenario("channels-down", channel_outage),
)


def mount_tmpfs(folder: Path, size_mb: int) -> bool:
    """A small RAM disk at ``folder`` (root only); False where it cannot be mounted."""
    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        return False
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", str(folder)], capture_output=True
    )
    return done.returncode == 0


def unmount(folder: Path) -> None:
    subprocess.run(["umount", "-l", str(folder)], capture_output=True)
