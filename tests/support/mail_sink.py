"""A real SMTP sink for tests: aiosmtpd on a loopback port, in its own thread, recording every
message it receives. Point HOTLINE_SMTP_RELAY at it to read the replies the product sends."""

from __future__ import annotations

import email
import email.policy
import socket
import threading
import time
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from intake.settings import HostPort


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    raw: bytes

    @property
    def message(self) -> EmailMessage:
        msg = email.message_from_bytes(self.raw, policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        return msg

    @property
    def subject(self) -> str:
        return str(self.message["Subject"] or "")

    @property
    def text(self) -> str:
        body = self.message.get_body(("plain",))
        return body.get_content() if body is not None else ""  # type: ignore[attr-defined]


class _Recorder:
    def __init__(self) -> None:
        self.received: list[Received] = []
        self.lock = threading.Lock()
        self.failing = False  # an outage while set: every message is deferred with 451

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.failing:
            return "451 4.3.0 Mail server temporarily unavailable"
        with self.lock:
            self.received.append(
                Received(envelope.mail_from or "", tuple(envelope.rcpt_tos), envelope.original_content or b"")
            )
        return "250 OK recorded"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class MailSink:
    """``with MailSink() as sink: ... sink.address ... sink.wait_for(n)``."""

    def __init__(self) -> None:
        self.port = free_port()
        self._recorder = _Recorder()
        self._controller = Controller(self._recorder, hostname="127.0.0.1", port=self.port)

    @property
    def failing(self) -> bool:
        return self._recorder.failing

    @failing.setter
    def failing(self, on: bool) -> None:
        self._recorder.failing = on

    @property
    def address(self) -> HostPort:
        return HostPort("127.0.0.1", self.port)

    @property
    def received(self) -> list[Received]:
        with self._recorder.lock:
            return list(self._recorder.received)

    def to(self, rcpt: str) -> list[Received]:
        return [r for r in self.received if rcpt.lower() in (t.lower() for t in r.rcpt_tos)]

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.received

    def __enter__(self) -> MailSink:
        self._controller.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._controller.stop()


class HotlineSmtp:
    """The product's smtp handler on a loopback port, served by the test's own event loop
    (``channels.email.smtp.make_server_factory``): ``async with HotlineSmtp(runtime) as smtp: smtp.port``.

    Clients must not block the loop: use :meth:`send` (smtplib in a thread) or a subprocess.
    """

    def __init__(self, runtime: Any, **factory_options: Any) -> None:
        self.runtime = runtime
        self.factory_options = factory_options
        self.port = 0
        self._server: Any = None

    async def __aenter__(self) -> HotlineSmtp:
        import asyncio

        from channels.email.smtp import InboundMailHandler, make_server_factory

        handler = self.handler = InboundMailHandler(self.runtime, self.runtime.settings.mailbox)
        factory = make_server_factory(handler, "hotline.local", **self.factory_options)
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(factory, host="127.0.0.1", port=0)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self

    async def __aexit__(self, *exc: Any) -> None:
        self._server.close()
        await self._server.wait_closed()

    async def send(self, raw: bytes | str, *, mail_from: str, to: str = "12345@hotline.local") -> Any:
        """One message over real SMTP (smtplib, in a thread); returns smtplib's refused dict."""
        import asyncio
        import smtplib

        def run() -> Any:
            with smtplib.SMTP("127.0.0.1", self.port, timeout=30) as client:
                return client.sendmail(mail_from, [to], raw)

        return await asyncio.to_thread(run)
