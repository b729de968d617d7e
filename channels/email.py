"""Email out: replies in the citizen's thread (``[12345-<number>]`` in the subject, In-Reply-To
and References), sent to HOTLINE_SMTP_RELAY or kept in the stub outbox (CONTRACT.md "Email")."""

from __future__ import annotations

import re
import smtplib
import socket

from aiohttp import web

from channels.http_common import in_thread
from channels.mail_parse import build_reply
from intake.errors import InvalidInput, PermanentFailure, RetryLater, Uncertain
from intake.model import Address, Channel, DeliveryState
from intake.settings import HostPort
from intake.store.sql import SqlStore, StoredOutbound

MESSAGE_ID = re.compile(rb"^Message-ID:[ \t]*(<[^>\r\n]{1,250}>)", re.IGNORECASE | re.MULTILINE)
EMPTY_SENDER = "mailer-daemon"  # the address of a message with an empty MAIL FROM (a bounce)


def message_id_of(raw: bytes) -> str | None:
    """The Message-ID header, found without parsing the message (safe on hostile mail)."""
    head = raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0][:65536]
    m = MESSAGE_ID.search(head)
    return m.group(1).decode("ascii", "replace") if m else None


class EmailSender:
    def __init__(self, store: SqlStore, mailbox: str, relay: HostPort | None) -> None:
        self.store = store
        self.mailbox = mailbox
        self.relay = relay

    def send(self, m: StoredOutbound) -> None:
        number = ""
        if m.ticket_id is not None:
            number = self.store.get_ticket(m.ticket_id).number or ""
        thread = self.store.latest_native_ids(m.address, limit=10)
        in_reply_to = thread[0] if thread else None
        subject = m.subject or "12345热线回复"
        msg = build_reply(
            m.address.value,
            subject,
            m.text,
            number,
            in_reply_to=in_reply_to,
            references=list(reversed(thread)),
            from_addr=self.mailbox,
            message_id_domain=self.mailbox.split("@", 1)[1],
            idempotency_key=m.idempotency_key,
        )
        if self.relay is None:
            return  # the stub outbox: the row itself, listed by GET /api/mail/outbox
        try:
            with smtplib.SMTP(self.relay.host, self.relay.port, timeout=30) as smtp:
                smtp.send_message(msg)
        except (ConnectionRefusedError, socket.gaierror) as exc:
            raise RetryLater(f"relay unreachable: {exc}", after=60) from None
        except smtplib.SMTPRecipientsRefused as exc:
            raise PermanentFailure(f"recipient refused: {exc}") from None
        except smtplib.SMTPResponseException as exc:
            if 400 <= exc.smtp_code < 500:
                raise RetryLater(f"relay said {exc.smtp_code}", after=120) from None
            raise PermanentFailure(f"relay said {exc.smtp_code}") from None
        except (TimeoutError, smtplib.SMTPServerDisconnected) as exc:
            raise Uncertain(f"relay connection lost: {exc}") from None


class MailOutbox:
    """``GET /api/mail/outbox?to=ADDR``: what the stub gateway "sent", oldest first."""

    def __init__(self, store: SqlStore) -> None:
        self.store = store

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/api/mail/outbox", self.outbox)

    async def outbox(self, request: web.Request) -> web.Response:
        to = request.query.get("to", "").strip().lower()
        if "@" not in to:
            raise InvalidInput("to 不是有效的邮箱地址。'to' must be an email address.")
        rows = await in_thread(
            request, self.store.outbound_for, Address(Channel.EMAIL, to), states=[DeliveryState.DELIVERED]
        )
        numbers = {}
        for m in rows:
            if m.ticket_id is not None and m.ticket_id not in numbers:
                numbers[m.ticket_id] = (await in_thread(request, self.store.get_ticket, m.ticket_id)).number
        return web.json_response(
            {
                "messages": [
                    {
                        "id": m.id,
                        "to": m.address.value,
                        "subject": _subject(m.subject or "12345热线回复", numbers.get(m.ticket_id or -1)),
                        "text": m.text,
                        "at": (m.delivered_at or m.created_at).isoformat(),
                    }
                    for m in rows
                ]
            }
        )


def _subject(subject: str, number: str | None) -> str:
    if number and f"[12345-{number}]" not in subject:
        return f"{subject} [12345-{number}]"
    return subject
