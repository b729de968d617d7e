"""The smtp process: aiosmtpd accepting mail for HOTLINE_MAILBOX (CONTRACT.md "Email").

The raw message is stored in SQL (encrypted) with its processing outbox row before ``250`` is
answered, so a crash after ``250`` loses nothing; parsing happens later in a worker with a time
limit, because Python's ``email`` package is not safe against hostile mail (RELIABILITY.md §8).

Limits aiosmtpd does not set itself are set here (RELIABILITY.md §7, M3, M4):

* size: 10 MiB of DATA (dot-stuffing and line ends counted, as aiosmtpd counts); more → ``552``
  after the final dot (``SIZE=`` in MAIL FROM is checked up front as well);
* recipients: 100 RCPT commands per transaction, accepted or not; more → ``452``;
  only HOTLINE_MAILBOX is a valid recipient, anything else → ``550``;
* quotas: HOTLINE_MAIL_QUOTA mails (30) and 40 MiB an hour per sender, ten times the mails and
  five times the bytes per client address; a data disk with less than :data:`MIN_FREE_BYTES`
  free; past any → ``452`` after the final dot, nothing stored (a real sender tries again);
* commands: a per-session budget per verb (:data:`COMMAND_CALL_LIMIT`); past it → ``421`` and
  the connection is closed, so a NOOP/RSET/VRFY loop cannot hold a session forever. A command
  line over 512 octets (RFC 5321 §4.5.3.1.4) → ``500``;
* connections: at most :data:`MAX_CONNECTIONS` at once for the whole server, and at most
  :data:`MAX_CONNECTIONS_PER_ADDRESS` from one client address (an IPv6 client by its /64); the
  next one is greeted with ``421`` and closed, so one flooding host leaves room for every other
  sender (RELIABILITY.md M4). An idle or dribbling session is closed after
  :data:`SESSION_TIMEOUT` seconds without a complete command (the timer is not reset by DATA
  lines, so a dribbled DATA is bounded too). Under stress — three quarters of the sessions taken,
  as a flood from many addresses does — every session's timer is cut to
  :data:`STRESS_TIMEOUT`, as Postfix's stress-adaptive ``smtpd_timeout`` does: a real client
  sends its next command within a second, a connection held open to block others goes soon.

**Long-line policy.** RFC 5321 §4.5.3.1.6 caps a line at 1 000 octets, but real mail breaks
it: HTML from webmail and some desktop clients arrives unfolded with lines of several KB, and a
citizen whose complaint bounces does not try again. We therefore accept and store lines up to
:data:`LINE_LENGTH_LIMIT` (64 KiB) octets; a message with any longer line is refused with
``500 Line too long`` after its final dot (nothing stored). Commands keep the 512-octet limit.

**SMTP smuggling (CVE-2024-27305).** aiosmtpd ≥ 1.4.5 ends DATA only on ``<CRLF>.<CRLF>``;
bare ``<LF>.<LF>``, ``<CR>.<CR>`` and the other variants stay message content, so a smuggled
second message never becomes a message of its own. :func:`check_aiosmtpd` refuses to start on
an older aiosmtpd (1.4.6 also fixes the STARTTLS injection, CVE-2024-34083).

**Resends (RELIABILITY.md M5).** A client that lost our ``250`` sends the message again; its
native id is the Message-ID (or, for mail without one, a hash of the raw bytes), so it is stored
once.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import ipaddress
import logging
import shutil
import signal
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from channels.email.channel import EMPTY_SENDER, message_id_of
from channels.turns import Groups
from intake.errors import ConfigError
from intake.logs import setup_logging
from intake.model import Address, Channel, InboundMessage
from intake.runtime import Runtime, build_runtime, settle_heap
from intake.settings import Settings, from_env

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 10 * 1024 * 1024  # 552 past it
MAX_RECIPIENTS = 100  # RCPT commands per transaction; 452 past it
LINE_LENGTH_LIMIT = 64 * 1024  # see "Long-line policy" above
MAX_CONNECTIONS = 256  # simultaneous sessions; 421 beyond
MAX_CONNECTIONS_PER_ADDRESS = 32  # from one client address (IPv6: its /64); 421 beyond
SESSION_TIMEOUT = 60.0
STRESS_TIMEOUT = 10.0  # seconds without a command once the server is under stress (Postfix's 10 s)
STRESS_AT = 0.75  # share of MAX_CONNECTIONS taken that puts the server under stress
# Per session and verb. Generous for the verbs a real client repeats for each message (one
# connection may carry hundreds of messages), tight for the ones only a stalling client loops.
COMMAND_CALL_LIMIT: dict[str, int] = {
    "MAIL": 1000,
    "RCPT": 2000,
    "DATA": 1000,
    "RSET": 1000,
    "NOOP": 20,
    "VRFY": 5,
    "EXPN": 5,
    "HELP": 5,
    "EHLO": 10,
    "HELO": 10,
    "*": 20,
}
MIN_AIOSMTPD = (1, 4, 6)
# Quotas per hour (issue 18: four 10 MB mails from one sender in 1.4 s grew the database by 202 MB):
# HOTLINE_MAIL_QUOTA mails (30) and 40 MiB per sender; a client address, which may be a relay
# carrying many senders, ten times the mails and five times the bytes.
SENDER_BYTES_PER_HOUR = 40 * 1024 * 1024
MIN_FREE_BYTES = 512 * 1024 * 1024  # below this on the data disk: 452, nothing stored


@dataclass
class MailQuota:
    """Mails and bytes accepted in the last hour, per key (a sender, a client address): a
    sliding window in this process: ``fits`` says whether one more fits, ``charge`` counts it."""

    mails: int
    bytes: int
    window: float = 3600.0
    seen: dict[str, deque[tuple[float, int]]] = field(default_factory=dict)
    totals: Counter[str] = field(default_factory=Counter)  # the bytes in each key's window

    def fits(self, key: str, size: int, now: float) -> bool:
        q = self.seen.get(key)
        while q and q[0][0] <= now - self.window:
            self.totals[key] -= q.popleft()[1]
        if not q:  # nothing in the window: the key is forgotten
            self.seen.pop(key, None)
            self.totals.pop(key, None)
            return size <= self.bytes and self.mails >= 1
        return len(q) + 1 <= self.mails and self.totals[key] + size <= self.bytes

    def charge(self, key: str, size: int, now: float) -> None:
        self.seen.setdefault(key, deque()).append((now, size))
        self.totals[key] += size


def check_aiosmtpd() -> None:
    """Refuse to run on an aiosmtpd without the smuggling and STARTTLS fixes (RELIABILITY.md §7)."""
    found = tuple(int(p) for p in version("aiosmtpd").split(".")[:3] if p.isdigit())
    if found < MIN_AIOSMTPD:
        raise ConfigError(f"aiosmtpd {version('aiosmtpd')} is too old: 1.4.6 or newer is required")


def native_id_of(raw: bytes) -> str:
    """The id a resent copy of this message shares with the first: its Message-ID, else a hash."""
    return message_id_of(raw) or "sha256:" + hashlib.sha256(raw).hexdigest()


class InboundMailHandler:
    """aiosmtpd handler: each ``handle_<VERB>`` returns the SMTP reply line."""

    def __init__(self, runtime: Runtime, mailbox: str) -> None:
        self.runtime = runtime
        self.mailbox = mailbox.lower()
        quota = runtime.settings.mail_quota
        self.per_sender = MailQuota(quota, SENDER_BYTES_PER_HOUR)
        self.per_client = MailQuota(10 * quota, 5 * SENDER_BYTES_PER_HOUR)
        self.min_free = MIN_FREE_BYTES
        # Mails that finish DATA while others are being stored are committed together; each
        # still gets its 250 only once its own row is committed.
        self.groups: Groups[tuple[InboundMessage, str], tuple[int, bool]] = Groups(
            self._store, on_loop=runtime.engine.dialect.name == "sqlite"
        )

    def _store(self, mails: list[tuple[InboundMessage, str]]) -> list[tuple[int, bool] | Exception]:
        """Raw mails with their processing jobs, in one transaction; if it fails, one by one,
        so one mail that cannot be stored costs the others nothing (each gets its own 451)."""
        store = self.runtime.store

        def save(group: list[tuple[InboundMessage, str]]) -> list[tuple[int, bool]]:
            return store.save_inbound_mails(group, flags="unparsed", job="mail_inbound")

        if len(mails) > 1:
            try:
                return list(save(mails))
            except Exception:
                log.warning("a group of %d mails failed together; storing them one by one", len(mails))
        out: list[tuple[int, bool] | Exception] = []
        for mail in mails:
            try:
                out.extend(save([mail]))
            except Exception as exc:
                out.append(exc)
        return out

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        attempts = getattr(envelope, "rcpt_attempts", 0) + 1
        envelope.rcpt_attempts = attempts  # type: ignore[attr-defined]
        if attempts > MAX_RECIPIENTS:
            return "452 4.5.3 Too many recipients"
        if address.lower() != self.mailbox:
            return "550 5.1.1 No such mailbox here"
        if address.lower() not in (r.lower() for r in envelope.rcpt_tos):
            envelope.rcpt_tos.append(address)
        return "250 OK"

    def _refusal(self, session: Session, sender: str, size: int) -> str | None:
        """The 452 for a mail that must wait: the data disk nearly full, or the hour's quota of
        its sender or of its client address used up. Temporary: a real sender tries again."""
        if _free_bytes(self.runtime.settings.data_dir) < self.min_free:
            log.warning("data disk below %d free bytes: mail refused for now", self.min_free)
            return "452 4.3.1 Insufficient system storage, please try again later"
        now = time.monotonic()
        client, sender = client_key(session.peer), sender or EMPTY_SENDER
        if not self.per_client.fits(client, size, now):
            return "452 4.7.1 Too much mail from your address this hour, please try again later"
        if not self.per_sender.fits(sender, size, now):
            return "452 4.7.1 Too much mail from this sender this hour, please try again later"
        self.per_client.charge(client, size, now)
        self.per_sender.charge(sender, size, now)
        return None

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw: bytes = envelope.original_content or b""
        sender = (envelope.mail_from or "").strip().lower()
        refused = self._refusal(session, sender, len(raw))
        if refused is not None:
            return refused
        runtime = self.runtime
        msg = InboundMessage(
            address=Address(Channel.EMAIL, sender or EMPTY_SENDER),
            text="",
            received_at=runtime.clock.now(),
            native_id=native_id_of(raw),  # a resent message is stored once (RELIABILITY.md M5)
        )
        try:
            await self.groups.submit((msg, base64.b64encode(raw).decode("ascii")))
        except Exception:
            log.exception("could not store an inbound mail; asking the sender to retry")
            return "451 4.3.0 Temporary failure, please try again later"
        return "250 2.0.0 Message accepted"


def _free_bytes(folder: Path) -> int:
    """Free bytes on the disk holding ``folder`` (or its nearest existing parent: its path is
    resolved only when the folder itself is missing, not for every mail)."""
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        pass
    for parent in folder.resolve().parents:
        try:
            return shutil.disk_usage(parent).free
        except OSError:
            continue
    return 1 << 62  # nothing to measure: not a reason to refuse mail


def client_key(peer: Any) -> str:
    """Whose connection this is, for the per-address cap: the IP, an IPv6 client by its /64
    (one host is given a whole /64), "" when the transport has no peer address."""
    if not peer:
        return ""
    host = str(peer[0] if isinstance(peer, tuple) else peer)
    try:
        ip = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return host
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:  # ::ffff:a.b.c.d on a dual-stack socket
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


@dataclass
class ConnectionGate:
    """The sessions open right now, shared by every protocol instance of one server: the caps
    and the stress they put the server under."""

    limit: int = MAX_CONNECTIONS
    per_address: int = MAX_CONNECTIONS_PER_ADDRESS
    stress_timeout: float = STRESS_TIMEOUT
    sessions: set[HotlineSMTP] = field(default_factory=set)
    by_address: Counter[str] = field(default_factory=Counter)

    @property
    def open(self) -> int:
        return len(self.sessions)

    @property
    def stressed(self) -> bool:
        return self.open >= self.limit * STRESS_AT

    def admit(self, session: HotlineSMTP, address: str) -> str | None:
        """None if the session may go on, else the 421 line that turns it away."""
        if session in self.sessions:  # connection_made again (a STARTTLS upgrade): counted once
            return None
        if self.open >= self.limit:
            return "421 4.7.0 Too many connections, please try again later"
        if self.by_address[address] >= self.per_address:
            return "421 4.7.0 Too many connections from your address, please try again later"
        was_stressed = self.stressed
        self.sessions.add(session)
        self.by_address[address] += 1
        if self.stressed and not was_stressed:
            log.warning(
                "smtp under stress: %d of %d sessions open, timeout now %gs",
                self.open,
                self.limit,
                self.stress_timeout,
            )
            for other in self.sessions:
                other.shorten_timeout(self.stress_timeout)
        return None

    def release(self, session: HotlineSMTP, address: str) -> None:
        if session in self.sessions:
            self.sessions.discard(session)
            self.by_address[address] -= 1
            if self.by_address[address] <= 0:
                del self.by_address[address]


class HotlineSMTP(SMTP):
    """aiosmtpd's server with our long-line policy, the connection caps, a timeout that
    shortens under stress, and a short, non-leaking reply on unexpected errors."""

    line_length_limit = LINE_LENGTH_LIMIT

    def __init__(self, handler: Any, *, gate: ConnectionGate, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self._gate = gate
        self._client = ""
        self._refusal: str | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._client = client_key(transport.get_extra_info("peername"))
        self._refusal = self._gate.admit(self, self._client)
        super().connection_made(transport)

    def connection_lost(self, error: Exception | None) -> None:
        self._gate.release(self, self._client)
        super().connection_lost(error)

    def _reset_timeout(self, duration: float | None = None) -> None:
        # aiosmtpd arms the timer on connect and after each complete command
        if self._gate.stressed:
            duration = min(duration or self._timeout_duration, self._gate.stress_timeout)
        super()._reset_timeout(duration)

    def shorten_timeout(self, seconds: float) -> None:
        """Close this session ``seconds`` from now at the latest if no command comes."""
        handle = self._timeout_handle
        if handle is not None and handle.when() - self.loop.time() > seconds:
            super()._reset_timeout(seconds)

    async def _handle_client(self) -> None:
        if self._refusal is not None:
            log.warning("smtp connection refused: %d sessions open", self._gate.open)
            await self.push(self._refusal)
            if self.transport is not None:
                self.transport.close()
            return
        await super()._handle_client()

    async def handle_exception(self, error: Exception) -> str:
        log.error("smtp session error: %s", type(error).__name__)
        return "451 4.3.0 Temporary failure, please try again later"


def make_server_factory(
    handler: InboundMailHandler,
    hostname: str,
    *,
    max_connections: int = MAX_CONNECTIONS,
    per_address: int = MAX_CONNECTIONS_PER_ADDRESS,
    timeout: float = SESSION_TIMEOUT,
    stress_timeout: float = STRESS_TIMEOUT,
) -> Any:
    """The protocol factory for ``loop.create_server``: one :class:`HotlineSMTP` per session."""
    check_aiosmtpd()
    gate = ConnectionGate(limit=max_connections, per_address=per_address, stress_timeout=stress_timeout)

    def factory() -> HotlineSMTP:
        return HotlineSMTP(
            handler,
            gate=gate,
            data_size_limit=MAX_MESSAGE_BYTES,
            hostname=hostname,
            ident="Hotline Gateway ESMTP",
            timeout=timeout,
            command_call_limit=dict(COMMAND_CALL_LIMIT),
            enable_SMTPUTF8=True,
        )

    factory.gate = gate  # type: ignore[attr-defined]
    return factory


async def serve(settings: Settings, runtime: Runtime) -> None:
    handler = InboundMailHandler(runtime, settings.mailbox)
    settle_heap()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        make_server_factory(handler, settings.mailbox.split("@", 1)[1]),
        host=settings.smtp.host,
        port=settings.smtp.port,
    )
    log.info("smtp listening on %s for %s", settings.smtp, settings.mailbox)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    server.close()
    await server.wait_closed()


def main() -> None:
    setup_logging("smtp")
    settings = from_env()
    runtime = build_runtime(settings)
    try:
        asyncio.run(serve(settings, runtime))
    finally:
        runtime.close()


if __name__ == "__main__":
    main()
