"""The steps behind outbox jobs. Each is idempotent in SQL by its key."""

from __future__ import annotations

import logging
from collections.abc import Callable

from intake.runtime import Runtime

log = logging.getLogger(__name__)


def dispatch(runtime: Runtime, key: str) -> str:
    from worker.dispatch import dispatch_ticket

    ticket_id = int(key.split(":")[1])  # dispatch:<id> or dispatch:<id>:r<n> after a return
    result: str = dispatch_ticket(runtime, ticket_id, key)  # closes its outbox row itself
    return result


def deliver(runtime: Runtime, key: str) -> str:
    from notifier.deliver import deliver_outbound

    outbound_id = int(key.split(":", 1)[1])
    result: str = deliver_outbound(runtime, outbound_id)
    if result != "retry":
        runtime.store.mark_done(key)
    return result


def notice(runtime: Runtime, key: str) -> str:
    from notifier.notices import send_event_notice

    event_id = int(key.split(":", 1)[1])
    result: str = send_event_notice(runtime, event_id)
    runtime.store.mark_done(key)
    return result


def telegram_inbound(runtime: Runtime, key: str) -> str:
    """Run the dialog for a stored Telegram update; its replies are queued for delivery."""
    from worker.context import get_services

    message_id = int(key.split(":", 1)[1])
    msg, _raw = runtime.store.get_inbound(message_id)
    get_services().intake.handle(msg, inline=False, stored_id=message_id)
    runtime.store.mark_done(key)
    return "handled"


def mail_inbound(runtime: Runtime, key: str) -> str:
    """Parse a stored mail (in the worker, never before 250), then run the dialog. Automated mail
    (auto-replies, bounces, bulk) never starts a dialog or a mail loop."""
    import base64

    from channels.email import EMPTY_SENDER
    from channels.mail_parse import dialog_text, parse_mail
    from intake.model import Address, Channel, InboundMessage
    from worker.context import get_services

    message_id = int(key.split(":", 1)[1])
    msg, raw = runtime.store.get_inbound(message_id)
    envelope = "" if msg.address.value == EMPTY_SENDER else msg.address.value
    parsed = parse_mail(base64.b64decode(raw or ""), envelope_from=envelope)
    if parsed.is_automated or not parsed.from_addr:
        runtime.store.mark_inbound(message_id, flags=f"automated:{parsed.automated_reason or 'no sender'}")
        runtime.store.mark_done(key)
        return "automated"
    text = dialog_text(parsed).strip()  # a first mail's subject ("路灯不亮") is part of the matter
    # Keyed on From only: a Reply-To naming someone else must not receive their ticket replies.
    address = Address(Channel.EMAIL, parsed.from_addr.lower())
    runtime.store.set_inbound(message_id, address, text)
    inbound = InboundMessage(
        address, text, msg.received_at, native_id=msg.native_id, thread_ticket=parsed.ticket_tag
    )
    get_services().intake.handle(inbound, inline=False, stored_id=message_id)
    runtime.store.mark_done(key)
    return "handled"


def evaluation_batch(runtime: Runtime, key: str) -> str:
    from worker.fanout import send_evaluation_batch

    return send_evaluation_batch(runtime, key)  # closes its outbox row itself


STEPS: dict[str, Callable[[Runtime, str], str]] = {
    "dispatch": dispatch,
    "deliver": deliver,
    "notice": notice,
    "telegram_inbound": telegram_inbound,
    "mail_inbound": mail_inbound,
    "evaluation_batch": evaluation_batch,
}
