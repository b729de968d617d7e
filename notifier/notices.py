"""From a ticket event to the citizen's messages, on the channel they used."""

from __future__ import annotations

from intake.evaluation import evaluation_refs
from intake.model import Address, Channel, Field, StoredEvent, StoredTicket, TicketStatus
from intake.runtime import Runtime
from notifier.compose import compose
from notifier.deliver import deliver_outbound


def choose_address(t: StoredTicket) -> Address | None:
    """The channel the citizen used; SMS for phone callers — never to a number they hid."""
    if t.channel is Channel.PHONE:
        phone = t.contact.get(Field.PHONE)
        if not phone or Field.PHONE in t.hidden:
            return None
        return Address(Channel.SMS, phone)
    return t.address


def _ref(runtime: Runtime, t: StoredTicket) -> str:
    """The ticket's letter when the citizen has several evaluations pending, else empty."""
    waiting = runtime.store.tickets_for(t.address, [TicketStatus.COMPLETED])
    return evaluation_refs(waiting).get(t.id, "") if len(waiting) > 1 else ""


EVALUATION_CHOICES = ("1 非常满意", "2 满意", "3 基本满意", "4 不满意", "5 非常不满意")


def texts_for(event: StoredEvent, t: StoredTicket, runtime: Runtime) -> list[tuple[str, str]]:
    """(kind, text) pairs for an event; empty when the citizen is not told (e.g. a plain return)."""
    number = t.number or ""
    if event.type == "extension_approved":
        deadline = t.deadline
        return [
            ("extended", compose("extended", number=number, reason=event.data["reason"], deadline=deadline))
        ]
    if event.type == "completed":
        result = runtime.cipher.decrypt(event.data["result_enc"])
        return [
            ("completed", compose("completed", number=number, result=result)),
            ("evaluation_prompt", compose("evaluation_prompt", number=number, ref=_ref(runtime, t))),
        ]
    if event.type == "clock_restarted":  # guangzhou §20.1: 承办单位确认后应当向诉求人说明情况
        return [("clock_restarted", compose("clock_restarted", number=number, deadline=t.deadline))]
    if event.type == "withdrawn":
        return [("withdrawn", compose("withdrawn", number=number))]
    if event.type == "returned" and event.data.get("difficult"):
        return [("returned_difficult", compose("returned_difficult", number=number))]
    return []


def send_event_notice(runtime: Runtime, event_id: int) -> str:
    store = runtime.store
    ticket_id, event = store.get_event(event_id)
    t = store.get_ticket(ticket_id)
    address = choose_address(t)
    messages = texts_for(event, t, runtime)
    if address is None or not messages:
        return "none"
    ids = []
    with store.tx():
        for i, (kind, text) in enumerate(messages):
            # buttons where the channel has them (web chat, Telegram); the text lists them for SMS
            choices = EVALUATION_CHOICES if kind == "evaluation_prompt" else ()
            oid, _ = store.record_outbound(
                address,
                text,
                key=f"notice:{event_id}:{i}",
                kind=kind,
                ticket_id=ticket_id,
                choices=choices,
            )
            ids.append(oid)
    for oid in ids:
        if deliver_outbound(runtime, oid) != "retry":
            store.mark_done(f"deliver:{oid}")
    return "sent"
