"""Dispatch: route a registered ticket, record the step once, tell the citizen.

Idempotent by ticket and step: the status check, the event (keyed ``dispatch:<id>``), the
citizen's notice (keyed) and the outbox row all commit in one transaction, so running it twice
changes nothing the second time.
"""

from __future__ import annotations

import functools

from sqlalchemy import bindparam, select

from intake.model import TicketStatus
from intake.runtime import Runtime
from intake.store.schema import tickets
from intake.store.sql import StoredEvent
from notifier.compose import compose
from notifier.notices import choose_address
from worker.routing import Router

# Built once: the ticket row, locked for this transaction (PostgreSQL; SQLite's BEGIN IMMEDIATE
# already holds the write lock).
_LOCK_TICKET = select(tickets).where(tickets.c.id == bindparam("ticket_id_")).with_for_update()


@functools.cache
def router() -> Router:
    return Router.load()


def dispatch_ticket(runtime: Runtime, ticket_id: int, step_key: str | None = None) -> str:
    """One transaction: route, record the step, set the exact deadline, store the citizen's
    notice and its delivery row, and close the outbox row. A second run finds the ticket no
    longer ``registered`` and only closes the outbox row."""
    from worker.context import get_services

    step_key = step_key or f"dispatch:{ticket_id}"
    store = runtime.store
    policy = get_services().policy
    now = runtime.clock.now()
    with store.tx() as conn:
        row = conn.execute(_LOCK_TICKET, {"ticket_id_": ticket_id}).first()
        if row is None or row.status != TicketStatus.REGISTERED.value:
            store.mark_done(step_key, conn=conn)
            return "already"
        ticket = store.ticket_from_row(row)
        route = router().route(ticket.fields)
        if route.lead is None:
            queue = router().manual_queue
            store.update_ticket(ticket_id, conn=conn, unit=queue)
            store.add_event(
                conn, ticket_id, "manual_routing", "system", {"queue": queue}, key=f"manual:{step_key}"
            )
            store.mark_done(step_key, conn=conn)
            return "manual"
        # The exact deadline now that it is dispatched replaces the estimate told at registration.
        earlier = store.events(ticket_id, conn=conn) if ticket.returns else []
        dispatched = StoredEvent(0, "dispatched", "system", now, {})
        view = policy.view(ticket, [*earlier, dispatched], now)
        deadline = view.handling_deadline if view is not None and view.handling_deadline else ticket.deadline
        store.update_ticket(
            ticket_id,
            conn=conn,
            status=TicketStatus.DISPATCHED,
            unit=route.lead,
            helper_units=",".join(route.helpers),
            deadline=deadline,
            deadline_provisional=view.provisional if view is not None else ticket.deadline_provisional,
        )
        store.add_event(
            conn,
            ticket_id,
            "dispatched",
            "system",
            {"unit": route.lead, "helpers": list(route.helpers), "matched": list(route.matched)},
            key=step_key,
        )
        address = choose_address(ticket)  # never to a number the citizen hid
        if address is not None:
            text = compose("dispatched", number=ticket.number, unit=route.lead)
            store.record_outbound(
                address, text, key=f"notice:{step_key}", kind="dispatched", ticket_id=ticket_id, conn=conn
            )
        store.mark_done(step_key, conn=conn)
    return "dispatched"
