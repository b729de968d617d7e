"""Dispatch: route a registered ticket, record the step once, tell the citizen.

Idempotent by ticket and step: the status check, the event (keyed ``dispatch:<id>``), the
citizen's notice (keyed) and the outbox row all commit in one transaction, so running it twice
changes nothing the second time.
"""

from __future__ import annotations

import functools

from sqlalchemy import select, update

from intake.model import TicketStatus
from intake.runtime import Runtime
from intake.store.schema import tickets
from notifier.compose import compose
from worker.routing import Router


@functools.cache
def router() -> Router:
    return Router.load()


def dispatch_ticket(runtime: Runtime, ticket_id: int, step_key: str | None = None) -> str:
    step_key = step_key or f"dispatch:{ticket_id}"
    store = runtime.store
    ticket = store.get_ticket(ticket_id)
    if ticket.status is not TicketStatus.REGISTERED:
        return "already"
    route = router().route(ticket.fields)
    unit = route.lead or router().manual_queue
    with store.tx() as conn:
        # Re-check under the write lock: a second worker finds the step done and stops here.
        status = conn.execute(
            select(tickets.c.status).where(tickets.c.id == ticket_id).with_for_update()
        ).scalar_one()
        if status != TicketStatus.REGISTERED.value:
            return "already"
        conn.execute(
            update(tickets)
            .where(tickets.c.id == ticket_id)
            .values(
                status=TicketStatus.DISPATCHED.value if route.lead else TicketStatus.REGISTERED.value,
                unit=unit,
                helper_units=",".join(route.helpers),
                updated_at=runtime.clock.now(),
                version=tickets.c.version + 1,
            )
        )
        if route.lead is None:
            store.add_event(
                conn, ticket_id, "manual_routing", "system", {"queue": unit}, key=f"manual:{step_key}"
            )
            return "manual"
        store.add_event(
            conn,
            ticket_id,
            "dispatched",
            "system",
            {"unit": unit, "helpers": list(route.helpers), "matched": list(route.matched)},
            key=step_key,
        )
        text = compose("dispatched", number=ticket.number, unit=unit)
        oid, new = store.record_outbound(
            ticket.address, text, key=f"notice:{step_key}", kind="dispatched", ticket_id=ticket_id, conn=conn
        )
        if new:
            store.add_outbox(conn, "deliver", f"deliver:{oid}", {"outbound_id": oid})
    # Now that it is dispatched, the exact deadline replaces the estimate told at registration.
    from worker.context import get_services

    fresh = store.get_ticket(ticket_id)
    view = get_services().policy.view(fresh, store.events(ticket_id), runtime.clock.now())
    if view is not None and view.handling_deadline is not None:
        store.update_ticket(ticket_id, deadline=view.handling_deadline, deadline_provisional=view.provisional)
    return "dispatched"
