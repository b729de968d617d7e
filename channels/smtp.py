"""The smtp process: aiosmtpd accepting mail for HOTLINE_MAILBOX (CONTRACT.md "Email").

The raw message is stored in SQL (encrypted) with its processing outbox row before ``250`` is
answered, so a crash after ``250`` loses nothing; parsing happens later in a worker with a time
limit, because Python's ``email`` package is not safe against hostile mail (RELIABILITY.md §8).

Limits aiosmtpd does not set itself are set here (RELIABILITY.md §7, M3, M4):

* size: 10 MiB of DATA (dot-stuffing and line ends counted, as aiosmtpd counts); more → ``552``
  after the final dot (``SIZE=`` in MAIL FROM is checked up front as well);
* recipients: 100 RCPT commands per transaction, accepted or not; more → ``452``;
  only HOTLINE_MAILBOX is a valid recipient, anything else → ``550``;
* commands: a per-session budget per verb (:data:`COMMAND_CALL_LIMIT`); past it → ``421`` and
  the connection is closed, so a NOOP/RSET/VRFY loop cannot hold a session forever. A command
  line over 512 octets (RFC 5321 §4.5.3.1.4) → ``500``;
* connections: at most :data:`MAX_CONNECTIONS` at once for the whole server; the next one is
  greeted with ``421`` and closed. An idle or dribbling session is closed after
  :data:`SESSION_TIMEOUT` seconds without a complete command (the timer is not reset by DATA
  lines, so a dribbled DATA is bounded too).

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
import logging
import signal
from dataclasses import dataclass
from importlib.metadata import version
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from channels.email import EMPTY_SENDER, message_id_of
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
SESSION_TIMEOUT = 60.0
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
        # Mails that finish DATA while others are being stored are committed together; each
        # still gets its 250 only once its own row is committed.
        self.groups: Groups[tuple[InboundMessage, str], tuple[int, bool]] = Groups(
            self._store, inline=runtime.engine.dialect.name == "sqlite"
        )

    def _store(self, mails: list[tuple[InboundMessage, str]]) -> list[tuple[int, bool] | Exception]:
        """Raw mails with their processing jobs, in one transaction; if it fails, one by one,
        so one mail that cannot be stored costs the others nothing (each gets its own 451)."""
        store = self.runtime.store

        def save(group: list[tuple[InboundMessage, str]]) -> list[tuple[int, bool]]:
            with store.raw_tx() as tx:  # prepared statements: the hot path of the smtp process
                return [
                    store.save_inbound_raw(tx, m, raw=raw, flags="unparsed", job="mail_inbound")
                    for m, raw in group
                ]

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

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw: bytes = envelope.original_content or b""
        sender = (envelope.mail_from or "").strip().lower()
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


@dataclass
class ConnectionGate:
    """How many sessions are open right now, shared by every protocol instance of one server."""

    limit: int = MAX_CONNECTIONS
    open: int = 0


class HotlineSMTP(SMTP):
    """aiosmtpd's server with our long-line policy, a connection cap and a short, non-leaking
    reply on unexpected errors."""

    line_length_limit = LINE_LENGTH_LIMIT

    def __init__(self, handler: Any, *, gate: ConnectionGate, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self._gate = gate
        self._counted = False
        self._refused = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self._gate.open >= self._gate.limit:
            self._refused = True
        else:
            self._gate.open += 1
            self._counted = True
        super().connection_made(transport)

    def connection_lost(self, error: Exception | None) -> None:
        if self._counted:
            self._gate.open -= 1
            self._counted = False
        super().connection_lost(error)

    async def _handle_client(self) -> None:
        if self._refused:
            log.warning("smtp connection refused: %d sessions open", self._gate.open)
            await self.push("421 4.7.0 Too many connections, please try again later")
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
    timeout: float = SESSION_TIMEOUT,
) -> Any:
    """The protocol factory for ``loop.create_server``: one :class:`HotlineSMTP` per session."""
    check_aiosmtpd()
    gate = ConnectionGate(limit=max_connections)

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
