"""The smtp process: aiosmtpd accepting mail for HOTLINE_MAILBOX (CONTRACT.md "Email").

The raw message is stored in SQL (encrypted) with its processing outbox row before ``250`` is
answered; parsing happens in a worker with a time limit, because Python's ``email`` package is
not safe against hostile mail (RELIABILITY.md §8). Limits aiosmtpd does not set itself are set
here (RELIABILITY.md §7).
"""

from __future__ import annotations

import asyncio
import base64
import logging
import signal
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from channels.email import EMPTY_SENDER, message_id_of
from intake.logs import setup_logging
from intake.model import Address, Channel, InboundMessage
from intake.runtime import Runtime, build_runtime
from intake.settings import Settings, from_env

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 10 * 1024 * 1024  # 552 past it
MAX_RECIPIENTS = 100  # 452 past it
COMMAND_CALL_LIMIT = 50  # per command, per session: a NOOP loop cannot hold a session forever
SESSION_TIMEOUT = 60.0


class InboundMailHandler:
    """aiosmtpd handler: each ``handle_<VERB>`` returns the SMTP reply line."""

    def __init__(self, runtime: Runtime, mailbox: str) -> None:
        self.runtime = runtime
        self.mailbox = mailbox.lower()

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        if address.lower() != self.mailbox:
            return "550 5.1.1 No such mailbox here"
        if len(envelope.rcpt_tos) >= MAX_RECIPIENTS:
            return "452 4.5.3 Too many recipients"
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
            native_id=message_id_of(raw),  # a resent message is stored once (RELIABILITY.md M5)
        )
        try:
            await asyncio.get_running_loop().run_in_executor(
                None,
                lambda: runtime.store.save_inbound(
                    msg, raw=base64.b64encode(raw).decode("ascii"), flags="unparsed", job="mail_inbound"
                ),
            )
        except Exception:
            log.exception("could not store an inbound mail; asking the sender to retry")
            return "451 4.3.0 Temporary failure, please try again later"
        return "250 2.0.0 Message accepted"


class HotlineSMTP(SMTP):
    """aiosmtpd's server with a short, non-leaking reply on unexpected errors."""

    async def handle_exception(self, error: Exception) -> str:
        log.error("smtp session error: %s", type(error).__name__)
        return "451 4.3.0 Temporary failure, please try again later"


def make_server_factory(handler: InboundMailHandler, hostname: str) -> Any:
    def factory() -> HotlineSMTP:
        return HotlineSMTP(
            handler,
            data_size_limit=MAX_MESSAGE_BYTES,
            hostname=hostname,
            ident="Hotline Gateway ESMTP",
            timeout=SESSION_TIMEOUT,
            command_call_limit=COMMAND_CALL_LIMIT,
            enable_SMTPUTF8=True,
        )

    return factory


async def serve(settings: Settings, runtime: Runtime) -> None:
    handler = InboundMailHandler(runtime, settings.mailbox)
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
