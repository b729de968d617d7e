"""Dispatch: route a registered ticket, record the step once, tell the citizen.

Idempotent by ticket and step: the status check, the event (keyed ``dispatch:<id>``), the
citizen's notice (keyed) and the outbox row all commit in one transaction, so running it twice
changes nothing the second time.
"""

from __future__ import annotations

import functools

from intake.model import REGISTERED_KIND, StoredEvent, TicketStatus
from intake.routing import AGENTS_CHOICE, Route, Router, agents_event, is_agents_choice
from intake.runtime import Runtime
from notifier.compose import compose
from notifier.notices import choose_address


@functools.cache
def router() -> Router:
    return Router.load()


def dispatch_ticket(runtime: Runtime, ticket_id: int, step_key: str | None = None) -> str:
    """One transaction: route, record the step, set the exact deadline, store the citizen's
    notice and its delivery row, and close the outbox row. A second run finds the ticket no
    longer ``registered`` and only closes the outbox row.

    Everything happens in the store's one unit of work (``tx()``)."""
    from worker.context import get_services

    step_key = step_key or f"dispatch:{ticket_id}"
    store = runtime.store
    policy = get_services().policy
    now = runtime.clock.now()
    with store.tx():
        ticket = store.lock_ticket(ticket_id)
        if ticket is None or ticket.status is not TicketStatus.REGISTERED:
            store.close_step(step_key, now)
            return "already"
        agents = is_agents_choice(step_key) and ticket.unit is not None
        earlier = store.locked_events(ticket_id) if ticket.returns or agents else []
        refused = False
        chosen = agents_event(step_key, earlier) if agents else None
        if chosen is not None:  # routed from the console: the unit of the agent's own event
            route = Route(str(chosen.data["unit"]), (), (AGENTS_CHOICE,))
            # a return the hotline refused: back to that unit, its clock running on (guangzhou §17)
            refused = bool(chosen.data.get("return_rejected"))
        else:  # the rules, never back to a unit that returned it (guangzhou §17)
            returned = {str(e.data.get("unit")) for e in earlier if e.type == "dispatched"}
            route = router().route(ticket.fields, exclude=returned)
        if route.lead is None:
            store.record_manual_routing(ticket_id, step_key=step_key, now=now, queue=router().manual_queue)
            return "manual"
        # The exact deadline now that it is dispatched replaces the estimate told at registration.
        dispatched = StoredEvent(0, "dispatched", "system", now, {"return_rejected": True} if refused else {})
        view = policy.view(ticket, [*earlier, dispatched], now)
        deadline = view.handling_deadline if view is not None and view.handling_deadline else ticket.deadline
        address = choose_address(ticket)  # never to a number the citizen hid
        notice = None
        merges = address is not None and address.channel.merges_notices
        held = store.held_notice(ticket_id, REGISTERED_KIND) if merges else None
        if held is not None:  # registered a moment ago: one SMS or mail tells both (issue 19)
            both = compose(
                "registered_dispatched",
                number=ticket.number,
                category=ticket.category,
                unit=route.lead,
                deadline=deadline,
            )
            store.release_held(held, both, kind="registered_dispatched")
        elif address is not None:
            text = compose("dispatched", number=ticket.number, unit=route.lead, deadline=deadline)
            notice = (address, text, f"notice:{step_key}", "dispatched")
        store.record_dispatch(
            ticket_id,
            step_key=step_key,
            now=now,
            unit=route.lead,
            helpers=route.helpers,
            deadline=deadline,
            deadline_provisional=view.provisional if view is not None else ticket.deadline_provisional,
            event={
                "unit": route.lead,
                "helpers": list(route.helpers),
                "matched": list(route.matched),
                **({"return_rejected": True} if refused else {}),
            },
            notice=notice,
        )
    return "dispatched"
