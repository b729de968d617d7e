"""Fan-out of evaluation prompts (issue 6): one job per chunk of tickets, not one per message.

A chunk's prompts are stored with one statement, sent, and settled with one statement; a
refused message (the provider's flow control) stays pending with a delivery row of its own, so
it is retried later and never dropped, and every key is accepted once (RELIABILITY.md L2).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import timedelta

from intake.errors import DeliveryError, PermanentFailure, RetryLater
from intake.model import Channel, DeliveryState, StoredOutbound, TicketStatus
from intake.runtime import Runtime
from notifier.compose import compose
from notifier.deliver import Sender, lease, senders_for
from notifier.notices import choose_address

log = logging.getLogger(__name__)
CHUNK = 2000


def queue_evaluation_prompts(runtime: Runtime, ticket_ids: Sequence[int], chunk: int = CHUNK) -> int:
    """Write one outbox row per chunk; the relay puts them on the notify queue. Returns chunks."""
    ids = sorted(set(ticket_ids))
    chunks = 0
    with runtime.store.tx():
        for i in range(0, len(ids), chunk):
            part = ids[i : i + chunk]
            key = f"evaluation_batch:{part[0]}-{part[-1]}:{len(part)}"
            runtime.store.add_outbox("evaluation_batch", key, {"ids": part})
            chunks += 1
    return chunks


def send_evaluation_batch(runtime: Runtime, key: str, senders: dict[Channel, Sender] | None = None) -> str:
    store = runtime.store
    ids = [int(x) for x in store.outbox_payload(key)["ids"]]
    table = senders or senders_for(runtime)
    items = []
    for t in store.get_tickets(ids):
        address = choose_address(t)
        if t.status is not TicketStatus.COMPLETED or address is None or t.number is None:
            continue  # withdrawn tickets are not evaluated (guangzhou §30); nobody to ask
        text = compose("evaluation_prompt", number=t.number, ref="")
        items.append(
            (address, text, f"evalprompt:{t.id}:{t.rehandling_round + 1}", "evaluation_prompt", t.id)
        )
    with store.tx():  # stored claimed: sent below by this run only (notifier.deliver)
        created = store.record_outbound_many(items, claimed_until=runtime.clock.now() + lease(runtime))
    delivered: list[int] = []
    later: list[tuple[int, float]] = []
    failed: list[tuple[int, str]] = []
    now = runtime.clock.now()
    for address, text, k, kind, ticket_id in items:
        oid = created.get(k)
        if oid is None:
            continue  # stored by an earlier run of this chunk: its own delivery row handles it
        message = StoredOutbound(
            id=oid, idempotency_key=k, address=address, text=text, choices=(), subject=None, kind=kind,
            ticket_id=ticket_id, state=DeliveryState.SENDING, attempts=0, last_error=None, created_at=now,
            delivered_at=None,
        )  # fmt: skip
        sender = table.get(address.channel)
        try:
            if sender is None:
                raise PermanentFailure(f"no sender for {address.channel}")
            sender.send(message)
            delivered.append(oid)
        except RetryLater as exc:
            later.append((oid, exc.after))
        except DeliveryError as exc:  # failed, or uncertain: never resent automatically
            failed.append((oid, exc.message))
    with store.tx():
        store.mark_delivered_many(delivered)
        for oid, after in later:
            store.defer(oid, now + timedelta(seconds=after), "refused by the provider's flow control")
            store.add_outbox("deliver", f"deliver:{oid}", {"outbound_id": oid})
        store.mark_done(key)
    for oid, reason in failed:
        store.mark_delivery(oid, DeliveryState.FAILED, error=reason)  # agents see it in the console
    return f"{len(delivered)} delivered, {len(later)} later, {len(failed)} failed"
