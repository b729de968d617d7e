"""Our replies by mail: UTF-8, in the citizen's thread, tagged ``[12345-<number>]`` (CONTRACT.md
"Email"), and marked so that no other robot answers them."""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime
from email import policy as email_policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime

from channels.email.parse import (
    CONTROL_CHARS,
    TICKET_TAG_RE,
    base_subject,
    clean_addr,
    message_ids_of,
    parse_from,
)
from intake.errors import InvalidInput
from intake.model import TICKET_NUMBER


def _one_line(value: str, limit: int) -> str:
    return re.sub(r"\s+", " ", CONTROL_CHARS.sub(" ", value.replace("\r", " ").replace("\n", " "))).strip()[
        :limit
    ]


def build_reply(
    to_addr: str,
    subject: str,
    text: str,
    ticket_number: str,
    in_reply_to: str | None = None,
    references: Sequence[str] = (),
    from_addr: str = "",
    message_id_domain: str = "",
    *,
    idempotency_key: str | None = None,
    date: datetime | None = None,
) -> EmailMessage:
    """A UTF-8 reply in the citizen's thread, tagged ``[12345-<number>]`` (CONTRACT.md "Email").

    ``Auto-Submitted: auto-replied`` (RFC 3834) and ``X-Auto-Response-Suppress`` keep other
    robots from answering us, so no mail loop can start. With ``idempotency_key`` the Message-ID
    is derived from it, so a resent outbox row carries the same id and the receiver can drop the
    duplicate.

    Raises:
        InvalidInput: the recipient, sender or ticket number is not usable.
    """
    to_clean = clean_addr(to_addr)
    if to_clean is None:
        raise InvalidInput("recipient is not a mail address")
    if not re.fullmatch(TICKET_NUMBER, ticket_number):
        raise InvalidInput("ticket number has the wrong shape")
    sender_addr, sender_name = parse_from(from_addr)
    if not sender_addr:
        raise InvalidInput("sender is not a mail address")
    domain = message_id_domain.strip() or sender_addr.split("@", 1)[1]
    if not re.fullmatch(r"[A-Za-z0-9.-]{1,253}", domain):
        raise InvalidInput("message id domain is not a host name")

    tag = f"[12345-{ticket_number}]"
    base = base_subject(_one_line(subject, 300))
    base = TICKET_TAG_RE.sub("", base).strip()
    base = (base or "12345热线回复")[:150]
    new_subject = f"Re: {base} {tag}" if in_reply_to else f"{base} {tag}"

    refs: list[str] = []
    for ref in [*references, *([in_reply_to] if in_reply_to else [])]:
        for token in message_ids_of(ref, 1000):
            if token not in refs:
                refs.append(token)
    if len(refs) > 10:  # RFC 5322 §3.6.4 allows trimming; keep the thread root and the recent ones
        refs = refs[:1] + refs[-9:]

    token = (
        hashlib.sha256(idempotency_key.encode("utf-8")).hexdigest()[:32]
        if idempotency_key
        else secrets.token_hex(16)
    )
    msg = EmailMessage(policy=email_policy.SMTP)
    msg["From"] = _format_address(sender_name, sender_addr)
    msg["To"] = to_clean
    msg["Subject"] = new_subject
    msg["Date"] = format_datetime(date or datetime.now(UTC))
    msg["Message-ID"] = f"<12345.{ticket_number}.{token}@{domain}>"
    if in_reply_to:
        irt = message_ids_of(in_reply_to, 1000)
        if irt:
            msg["In-Reply-To"] = irt[0]
    if refs:
        msg["References"] = " ".join(refs)
    msg["Auto-Submitted"] = "auto-replied"
    msg["X-Auto-Response-Suppress"] = "All"
    # base64, not 8bit: a relay without 8BITMIME must not mangle the Chinese text
    msg.set_content(text.replace("\r\n", "\n"), charset="utf-8", cte="base64")
    return msg


def _format_address(name: str, addr: str) -> str:
    if not name:
        return addr
    local, _, domain = addr.partition("@")
    return str(Address(display_name=_one_line(name, 80), username=local, domain=domain))
