"""RELIABILITY.md M4 at full scale: 400 idle and 100 dribbling SMTP connections while a normal
sender delivers mail, over real SMTP on loopback (every address of 127.0.0.0/8 is this host,
so the flood and the sender can come from different client addresses).

A flood from one address is held to the per-address cap and the sender never notices it; a
flood from many addresses fills the server, which then cuts every session's timeout to the
stress timeout (channels/email/smtp.py), so the sender is in again within seconds, not minutes.
"""

from __future__ import annotations

import asyncio
import resource
import smtplib
import statistics
import time
from dataclasses import dataclass, field

from channels.email.smtp import MAX_CONNECTIONS, MAX_CONNECTIONS_PER_ADDRESS, STRESS_AT, client_key
from intake.runtime import Runtime
from tests.integration.test_smtp_limits import MAILBOX, mail
from tests.support.mail_sink import HotlineSmtp

IDLE, DRIBBLING = 400, 100
SENDER = "127.0.0.2"


def enough_descriptors(n: int) -> None:
    """Both ends of every connection live in this process."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(n, hard), hard))


@dataclass
class Attacker:
    greeting: bytes = b""
    opened: float = 0.0
    closed: float | None = None  # when the server closed it


@dataclass
class Flood:
    port: int
    sources: list[str]  # one per connection
    attackers: list[Attacker] = field(default_factory=list)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def start(self) -> None:
        """Opens every connection (in order, so who is admitted is known), reads its greeting;
        every fifth one then dribbles a command a byte every half second, the rest stay silent."""
        for i, source in enumerate(self.sources):
            a = Attacker(opened=time.monotonic())
            reader, writer = await asyncio.open_connection("127.0.0.1", self.port, local_addr=(source, 0))
            a.greeting = await asyncio.wait_for(reader.readline(), 10)
            self.attackers.append(a)
            self.tasks.append(asyncio.create_task(self._hold(a, reader, writer, dribble=i % 5 == 0)))

    async def _hold(
        self, a: Attacker, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, dribble: bool
    ) -> None:
        try:
            if dribble:
                for byte in b"EHLO " + b"x" * 400:
                    writer.write(bytes([byte]))
                    await writer.drain()
                    try:
                        if await asyncio.wait_for(reader.read(1024), 0.5) == b"":
                            break
                    except TimeoutError:
                        continue
            else:
                while await reader.read(1024):
                    pass
            a.closed = time.monotonic()
        except ConnectionError:
            a.closed = time.monotonic()
        finally:
            writer.close()

    def admitted(self) -> list[Attacker]:
        return [a for a in self.attackers if a.greeting.startswith(b"220 ")]

    def refused(self) -> list[Attacker]:
        return [a for a in self.attackers if a.greeting.startswith(b"421 ")]

    async def stop(self) -> None:
        for t in self.tasks:
            t.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


def deliver(port: int, n: int) -> float:
    """One message on a fresh connection from the sender's address: seconds from connect to 250."""
    started = time.monotonic()
    with smtplib.SMTP("127.0.0.1", port, timeout=10, source_address=(SENDER, 0)) as client:
        client.sendmail("wangwu@example.cn", [MAILBOX], mail(f"小区门口路灯不亮了，第{n}封来信"))
    return time.monotonic() - started


async def test_a_flood_from_one_address_is_capped_and_the_sender_never_notices(
    sqlite_runtime: Runtime,
) -> None:
    enough_descriptors(4 * (IDLE + DRIBBLING))
    timeout = 4.0
    async with HotlineSmtp(sqlite_runtime, timeout=timeout) as smtp:
        flood = Flood(smtp.port, ["127.0.0.1"] * (IDLE + DRIBBLING))
        await flood.start()
        try:
            # the cap per address holds: the rest of the flood is turned away at once
            assert len(flood.admitted()) == MAX_CONNECTIONS_PER_ADDRESS
            assert len(flood.refused()) == IDLE + DRIBBLING - MAX_CONNECTIONS_PER_ADDRESS
            assert all(b"from your address" in a.greeting for a in flood.refused())

            # while the flood holds its sessions, a normal sender delivers 50 messages
            held_since = time.monotonic()
            took = [await asyncio.to_thread(deliver, smtp.port, n) for n in range(50)]
            assert time.monotonic() - held_since < timeout, "the flood had ended before the sender was done"
            p99 = statistics.quantiles(took, n=100)[98]
            assert p99 < 2.0, took

            # every admitted attacker, idle or dribbling, is closed by the timeout (+ 5 s)
            await asyncio.wait_for(asyncio.gather(*flood.tasks), timeout + 10)
            late = [a.closed - a.opened for a in flood.admitted() if a.closed - a.opened > timeout + 5]
            assert all(a.closed is not None for a in flood.admitted())
            assert late == []
        finally:
            await flood.stop()
    assert sqlite_runtime.store.count_inbound() == 50


async def test_a_flood_from_many_addresses_puts_the_server_under_stress_and_is_cut_short(
    sqlite_runtime: Runtime,
) -> None:
    enough_descriptors(4 * (IDLE + DRIBBLING))
    timeout, stress_timeout = 60.0, 2.0
    sources = [f"127.0.{1 + i // 250}.{1 + i % 250}" for i in range((IDLE + DRIBBLING) // 2)] * 2
    async with HotlineSmtp(sqlite_runtime, timeout=timeout, stress_timeout=stress_timeout) as smtp:
        flood = Flood(smtp.port, sources)
        await flood.start()
        flooded = time.monotonic()
        try:
            assert len(flood.admitted()) == MAX_CONNECTIONS
            assert len(flood.refused()) == IDLE + DRIBBLING - MAX_CONNECTIONS
            assert all(b"Too many connections, please" in a.greeting for a in flood.refused())

            # the sender is refused while the server is full, and gets in once the stress
            # timeout has cleared the silent sessions: seconds, not the minute of the timeout
            codes: list[int] = []
            while True:
                try:
                    await asyncio.to_thread(deliver, smtp.port, 0)
                    break
                except smtplib.SMTPConnectError as e:
                    codes.append(e.smtp_code)
                    assert time.monotonic() - flooded < stress_timeout + 5, f"still refused: {codes}"
                    await asyncio.sleep(0.2)
            assert codes and set(codes) == {421}  # the flood did fill the server first

            await asyncio.wait_for(asyncio.gather(*flood.tasks), stress_timeout + 10)
            # sessions opened before the stress began had a minute left: it was cut for them too
            first = flood.admitted()[: int(MAX_CONNECTIONS * STRESS_AT) - 1]
            assert all(a.closed is not None and a.closed - flooded < stress_timeout + 5 for a in first)
        finally:
            await flood.stop()
    assert sqlite_runtime.store.count_inbound() == 1


def test_one_host_is_one_address_for_the_cap() -> None:
    """An IPv6 host is given a whole /64: its addresses share one count; a dual-stack socket's
    IPv4-mapped peer counts as the IPv4 address."""
    assert client_key(("2001:db8:1:2::1", 25, 0, 0)) == client_key(("2001:db8:1:2:ffff::9", 25, 0, 0))
    assert client_key(("2001:db8:1:2::1", 25, 0, 0)) != client_key(("2001:db8:1:3::1", 25, 0, 0))
    assert client_key(("::ffff:203.0.113.7", 25, 0, 0)) == client_key(("203.0.113.7", 25))
    assert client_key(("203.0.113.7", 25)) != client_key(("203.0.113.8", 25))
