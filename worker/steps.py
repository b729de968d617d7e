"""The steps behind outbox jobs. Each is idempotent in SQL by its key."""

from __future__ import annotations

import logging
from collections.abc import Callable

from intake.model import InboundMessage
from intake.runtime import Runtime
from intake.service import TurnInput

log = logging.getLogger(__name__)


def dispatch(runtime: Runtime, key: str) -> str:
    from worker.dispatch import dispatch_ticket

    ticket_id = int(key.split(":")[1])  # dispatch:<id> or dispatch:<id>:r<n> after a return
    result: str = dispatch_ticket(runtime, ticket_id, key)  # closes its outbox row itself
    return result


def deliver(runtime: Runtime, key: str) -> str:
    from notifier.deliver import deliver_outbound

    outbound_id = int(key.split(":")[1])  # deliver:<id>, or deliver:<id>:retry<n> an agent asked for
    result: str = deliver_outbound(runtime, outbound_id)
    if result != "retry":
        runtime.store.mark_done(key)
    return result


def deliver_group(runtime: Runtime, keys: list[str]) -> dict[str, Exception]:
    """Several deliveries in one RQ job (relay.GROUPED), claimed and recorded together
    (notifier.deliver.deliver_many); returns the keys that raised. A burst of replies (a mail
    burst, a fan-out of notices) costs one job and a few transactions per group, not per message."""
    from notifier.deliver import deliver_many

    ids = {int(key.split(":")[1]): key for key in keys}
    results = deliver_many(runtime, list(ids))
    failed = {ids[oid]: r for oid, r in results.items() if isinstance(r, Exception)}
    done = [ids[oid] for oid, r in results.items() if isinstance(r, str) and r != "retry"]
    runtime.store.mark_done_many(done)
    return failed


def notice(runtime: Runtime, key: str) -> str:
    from notifier.notices import send_event_notice

    event_id = int(key.split(":", 1)[1])
    result: str = send_event_notice(runtime, event_id)
    runtime.store.mark_done(key)
    return result


def inbound(runtime: Runtime, key: str) -> str:
    """One stored Telegram update or mail (parsed here, never before its 250) through the
    dialog; its replies are queued for delivery."""
    failed = inbound_group(runtime, [key])
    if key in failed:
        raise failed[key]
    return "handled"


def inbound_group(runtime: Runtime, keys: list[str]) -> dict[str, Exception]:
    """Stored inbound messages (``mail_inbound:<id>``, ``telegram_inbound:<id>``) through the
    dialog together (IntakeService.handle_many: one transaction for the group). Returns the
    keys that failed; the others are done."""
    from worker.context import get_services

    ids = {key: int(key.split(":", 1)[1]) for key in keys}
    stored = runtime.store.get_inbound_many(list(ids.values()))
    items: list[tuple[str, TurnInput]] = []
    done: list[str] = []
    failed: dict[str, Exception] = {}
    parsed: list[tuple[int, InboundMessage]] = []
    for key, message_id in ids.items():
        try:
            msg, raw = stored[message_id]
            if key.startswith("mail_inbound:"):
                item = _mail_turn(runtime, message_id, msg, raw)
                if item is not None:
                    parsed.append((message_id, item.msg))
            else:
                item = TurnInput(msg, message_id)
        except Exception as exc:  # one unreadable message must not hold up the others
            log.exception("inbound %s could not be prepared", key)
            failed[key] = exc
            continue
        if item is None:
            done.append(key)
        else:
            items.append((key, item))
    runtime.store.set_inbound_many(parsed)  # the parsed sender, text and relay's verdict, first
    results = get_services().intake.handle_many([item for _, item in items])
    for (key, _), out in zip(items, results, strict=True):
        if isinstance(out, Exception):
            failed[key] = out
        else:
            done.append(key)
    runtime.store.mark_done_many(done)
    return failed


def _mail_turn(runtime: Runtime, message_id: int, msg: InboundMessage, raw: str | None) -> TurnInput | None:
    """The dialog's view of a stored mail, read by the email channel's reader (handed in by the
    composition root); automated mail is marked and left."""
    from worker.context import get_mail_reader

    inbound, automated = get_mail_reader()(msg, raw)
    if inbound is None:
        runtime.store.mark_inbound(message_id, flags=f"automated:{automated}")
        return None
    return TurnInput(inbound, message_id)


def feed(runtime: Runtime, key: str) -> str:
    from notifier.feed import post_feed

    return post_feed(runtime, key)  # raises until the back office answers 2xx


def evaluation_batch(runtime: Runtime, key: str) -> str:
    from worker.fanout import send_evaluation_batch

    return send_evaluation_batch(runtime, key)  # closes its outbox row itself


GROUP_STEPS: dict[str, Callable[[Runtime, list[str]], dict[str, Exception]]] = {
    "telegram_inbound": inbound_group,
    "mail_inbound": inbound_group,
    "deliver": deliver_group,
}
STEPS: dict[str, Callable[[Runtime, str], str]] = {
    "dispatch": dispatch,
    "deliver": deliver,
    "notice": notice,
    "telegram_inbound": inbound,
    "mail_inbound": inbound,
    "evaluation_batch": evaluation_batch,
    "feed": feed,
}
