"""Email out: replies in the citizen's thread (``[12345-<number>]`` in the subject, In-Reply-To
and References), sent to HOTLINE_SMTP_RELAY or kept in the stub outbox (CONTRACT.md "Email")."""

from __future__ import annotations

import base64
import hashlib
import re
import smtplib
import socket
from dataclasses import replace
from datetime import UTC, datetime
from email import policy as email_policy
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

from aiohttp import web

from channels.auth import require_token
from channels.email.parse import TICKET_TAG_RE, dialog_text, parse_mail
from channels.email.reply import build_reply
from channels.http_common import in_thread
from intake.errors import InvalidInput, NotFound, PermanentFailure, RetryLater, Uncertain
from intake.model import (
    TICKET_NUMBER_IN_TEXT,
    Address,
    Channel,
    DeliveryState,
    InboundMessage,
    StoredOutbound,
)
from intake.settings import HostPort
from intake.store.sql import SqlStore

MESSAGE_ID = re.compile(rb"^Message-ID:[ \t]*(<[^>\r\n]{1,250}>)", re.IGNORECASE | re.MULTILINE)
MSGID = re.compile(r"<[^<>\s]{1,250}>")
DEFAULT_SUBJECT = "12345热线回复"
HOTLINE_NAME = "12345政务服务便民热线"
LETTER_FOOT = "（直接回复本邮件即可继续办理，请勿删除主题中的编号。）"
# The outbox's idea of an address, the same in the OpenAPI document (channels/openapi.py EMAIL):
# something, one @, something; no space or control character.
OUTBOX_ADDRESS = "[^@\\x00-\\x20]+@[^@\\x00-\\x20]+"
EMPTY_SENDER = "mailer-daemon"  # the address of a message with an empty MAIL FROM (a bounce)


def letter(text: str, signature: str) -> str:
    """A reply as a clerk writes a letter: greeting, the message, the hotline's name."""
    return f"您好：\n\n{text}\n\n{signature}\n{LETTER_FOOT}"


def message_id_of(raw: bytes) -> str | None:
    """The Message-ID header, found without parsing the message (safe on hostile mail)."""
    head = raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0][:65536]
    m = MESSAGE_ID.search(head)
    return m.group(1).decode("ascii", "replace") if m else None


class EmailSender:
    """Sends a stored outbound row as a reply in the citizen's mail thread.

    Before a ticket has a number (the missing-information prompt) the reply carries no tag; it
    still answers the citizen's last message (In-Reply-To/References), so their answer lands in
    the same conversation, keyed by their address.
    """

    def __init__(
        self, store: SqlStore, mailbox: str, relay: HostPort | None, *, signature: str = HOTLINE_NAME
    ) -> None:
        self.store = store
        self.mailbox = mailbox
        self.relay = relay
        self.signature = signature

    def compose(self, m: StoredOutbound) -> EmailMessage:
        """The message exactly as it goes out (the stub outbox shows the same): a letter with a
        greeting and the hotline's signature, under the citizen's own subject ("Re: …")."""
        number = self._number(m)
        thread = [t for t in self.store.latest_native_ids(m.address, limit=10) if t.startswith("<")]
        in_reply_to = thread[0] if thread else None
        # a notice of its own (dispatch, result) keeps the subject the citizen's thread has
        subject = m.subject or self.store.latest_subject(m.address) or DEFAULT_SUBJECT
        m = replace(m, text=letter(m.text, self.signature))
        domain = self.mailbox.split("@", 1)[1]
        references = list(reversed(thread))
        if not number:
            return _untagged_reply(
                m.address.value, subject, m.text, in_reply_to, references, self.mailbox, m.idempotency_key
            )
        return build_reply(
            m.address.value,
            subject,
            m.text,
            number,
            in_reply_to=in_reply_to,
            references=references,
            from_addr=self.mailbox,
            message_id_domain=domain,
            idempotency_key=m.idempotency_key,
        )

    def _number(self, m: StoredOutbound) -> str:
        """The ticket this message belongs to: its own, or else the one of the citizen's tickets
        its text names (replies to a supplement or an evaluation are not linked to a ticket by
        the dialog, but must stay in the ticket's thread)."""
        if m.ticket_id is not None:
            number = self.store.get_ticket(m.ticket_id).number
            if number:
                return number
        mine = self.store.address_key(m.address)
        for candidate in dict.fromkeys(TICKET_NUMBER_IN_TEXT.findall(m.text)):
            try:
                t = self.store.find_ticket(candidate)
            except NotFound:
                continue
            if t.address_key == mine:
                return str(candidate)
        return ""

    def send(self, m: StoredOutbound) -> None:
        try:
            msg = self.compose(m)
        except InvalidInput as exc:
            raise PermanentFailure(f"cannot compose the reply: {exc.message}") from None
        if self.relay is None:
            return  # the stub outbox: the row itself, listed by GET /api/mail/outbox
        try:
            with smtplib.SMTP(self.relay.host, self.relay.port, timeout=30) as smtp:
                smtp.send_message(msg, from_addr=self.mailbox, to_addrs=[m.address.value])
        except (ConnectionRefusedError, socket.gaierror) as exc:
            raise RetryLater(f"relay unreachable: {exc}", after=60) from None
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            if codes and all(400 <= c < 500 for c in codes):
                raise RetryLater(f"recipient deferred: {codes}", after=120) from None
            raise PermanentFailure(f"recipient refused: {codes}") from None
        except smtplib.SMTPResponseException as exc:
            if 400 <= exc.smtp_code < 500:
                raise RetryLater(f"relay said {exc.smtp_code}", after=120) from None
            raise PermanentFailure(f"relay said {exc.smtp_code}") from None
        except (TimeoutError, smtplib.SMTPServerDisconnected, OSError) as exc:
            # The message may have reached the relay: never resent automatically (RELIABILITY §6).
            raise Uncertain(f"relay connection lost: {type(exc).__name__}") from None


def _untagged_reply(
    to_addr: str,
    subject: str,
    text: str,
    in_reply_to: str | None,
    references: list[str],
    from_addr: str,
    idempotency_key: str,
) -> EmailMessage:
    """A reply before the ticket has a number: the same headers as ``build_reply`` minus the tag."""
    if "@" not in to_addr or any(c in to_addr for c in "\r\n<>,;"):
        raise InvalidInput("recipient is not a mail address")
    token = hashlib.sha256(idempotency_key.encode("utf-8")).hexdigest()[:32]
    base = TICKET_TAG_RE.sub("", subject).strip() or DEFAULT_SUBJECT
    msg = EmailMessage(policy=email_policy.SMTP)
    msg["From"] = from_addr
    msg["To"] = to_addr
    msg["Subject"] = f"Re: {base}" if in_reply_to else base
    msg["Date"] = format_datetime(datetime.now(UTC))
    msg["Message-ID"] = f"<12345.{token}@{from_addr.split('@', 1)[1]}>"
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
    refs = [r for r in references if MSGID.fullmatch(r)][-10:]
    if refs:
        msg["References"] = " ".join(refs)
    msg["Auto-Submitted"] = "auto-replied"  # RFC 3834: no robot answers us, no loop
    msg["X-Auto-Response-Suppress"] = "All"
    msg.set_content(text.replace("\r\n", "\n"), charset="utf-8", cte="base64")
    return msg


class MailOutbox:
    """``GET /api/mail/outbox?to=ADDR``: what the stub gateway "sent", oldest first, with the
    subject exactly as the relay would have received it. For the back office's token only: what
    the hotline wrote a citizen is theirs."""

    def __init__(
        self,
        store: SqlStore,
        mailbox: str = "12345@hotline.local",
        *,
        admin_token: str,
        signature: str = HOTLINE_NAME,
    ) -> None:
        self.store = store
        self.composer = EmailSender(store, mailbox, None, signature=signature)
        self.admin_token = admin_token

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/api/mail/outbox", self.outbox)

    def _listing(self, to: str) -> list[dict[str, Any]]:
        rows = self.store.outbound_for(Address(Channel.EMAIL, to), states=[DeliveryState.DELIVERED])
        out = []
        for m in rows:
            try:
                subject = str(self.composer.compose(m)["Subject"])
            except InvalidInput:
                subject = m.subject or DEFAULT_SUBJECT
            out.append(
                {
                    "id": m.id,
                    "to": m.address.value,
                    "subject": subject,
                    "text": letter(m.text, self.composer.signature),
                    "at": (m.delivered_at or m.created_at).isoformat(),
                }
            )
        return out

    async def outbox(self, request: web.Request) -> web.Response:
        require_token(request, self.admin_token)
        to = request.query.get("to", "").lower()
        if not re.fullmatch(OUTBOX_ADDRESS, to):
            raise InvalidInput("to 不是有效的邮箱地址。'to' must be an email address.")
        return web.json_response({"messages": await in_thread(request, self._listing, to)})


def mail_turn(
    stored: InboundMessage, raw: str | None, *, relays: tuple[str, ...] = ()
) -> tuple[InboundMessage | None, str]:
    """The dialog's view of a mail the SMTP channel stored (``raw``: its bytes in base64), or
    (None, why) for automated mail (auto-replies, bounces, bulk), which never starts a dialog or a
    mail loop; with what the ``relays`` we trust (settings.mail_relays) found of its sender. The
    worker receives this from the composition root (hotline/worker.py)."""
    envelope = "" if stored.address.value == EMPTY_SENDER else stored.address.value
    parsed = parse_mail(base64.b64decode(raw or ""), envelope_from=envelope, relays=relays)
    if parsed.is_automated or not parsed.from_addr:
        return None, parsed.automated_reason or "no sender"
    text = dialog_text(parsed).strip()  # a first mail's subject ("路灯不亮") is part of the matter
    # Keyed on From only: a Reply-To naming someone else must not receive their ticket replies.
    address = Address(Channel.EMAIL, parsed.from_addr.lower())
    inbound = InboundMessage(
        address,
        text,
        stored.received_at,
        native_id=stored.native_id,
        thread_ticket=parsed.ticket_tag,
        sender_auth=parsed.sender_auth,
        subject=parsed.subject or None,
    )
    return inbound, ""
