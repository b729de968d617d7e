"""A stored ticket and its events as the policy's TicketHistory: the one input of the pure
deadline function that the worker, the API and the console all use."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from intake.model import Category, StoredEvent, StoredTicket
from intake.policy import ApprovedExtension, TicketHistory

COMPLEX_EVENT = "marked_complex"
CLOCK_RESTARTED = "clock_restarted"


def history_of(t: StoredTicket, events: Sequence[StoredEvent]) -> TicketHistory | None:
    if t.category is None or t.registered_at is None:
        return None
    dispatched: list[datetime] = []
    signed_at = completed_at = rehandling_at = withdrawn_at = restarted_at = None
    extensions: list[ApprovedExtension] = []
    for e in events:
        if e.type == "dispatched" and not e.data.get("return_rejected"):
            # a return the hotline refused sends the ticket back; its clock runs on (guangzhou §17)
            dispatched.append(e.at)
        elif e.type == "signed":
            signed_at = e.at
        elif e.type == "extension_approved":
            extensions.append(
                ApprovedExtension(
                    e.at, datetime.fromisoformat(str(e.data["new_deadline"])), str(e.data.get("reason", ""))
                )
            )
        elif e.type == "completed":
            completed_at = e.at
        elif e.type == "rehandling":
            rehandling_at = e.at
        elif e.type == "withdrawn":
            withdrawn_at = e.at
        elif e.type == CLOCK_RESTARTED:
            # the unit confirmed the citizen's new facts change the matter (guangzhou §20)
            restarted_at = datetime.fromisoformat(str(e.data["from"]))
    return TicketHistory(
        category=Category(t.category),
        registered_at=t.registered_at,
        channel=t.channel,
        urgent_class=t.urgent_class,
        dispatched_at=tuple(dispatched),
        signed_at=signed_at,
        clock_restarted_at=restarted_at,
        extensions=tuple(extensions),
        completed_at=completed_at,
        rehandling_started_at=rehandling_at,
        withdrawn_at=withdrawn_at,
        # declared complex (shaoyang §14.3, quxian §11.3): an agent marks it on the console
        complex=any(e.type == COMPLEX_EVENT for e in events),
    )
