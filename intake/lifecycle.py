"""The ticket's life after registration: which back-office event fits which state.

``transition`` is pure: it answers the new status or raises InvalidTransition with the reason
(and the article it comes from). Limits that depend on the city come from the policy profile.
"""

from __future__ import annotations

from dataclasses import dataclass

from intake.errors import InvalidTransition
from intake.model import TicketStatus as S

BACK_OFFICE_EVENTS = ("signed", "returned", "extension_approved", "completed", "withdrawn")

_ALLOWED: dict[str, frozenset[S]] = {
    "signed": frozenset({S.DISPATCHED}),
    "returned": frozenset({S.DISPATCHED, S.SIGNED}),
    "extension_approved": frozenset({S.SIGNED, S.EXTENDED, S.DISPATCHED}),
    "completed": frozenset({S.DISPATCHED, S.SIGNED, S.EXTENDED, S.REHANDLING}),
    "withdrawn": frozenset({S.REGISTERED, S.DISPATCHED, S.SIGNED, S.EXTENDED, S.REHANDLING}),
}


@dataclass(frozen=True, slots=True)
class Transition:
    status: S
    difficult: bool = False  # the ticket goes to the difficult-ticket queue


def transition(
    status: S,
    event: str,
    *,
    returns: int = 0,
    rehandling: bool = False,
    difficult_after: int,
    rehandling_extendable: bool,
) -> Transition:
    """The status after a back-office event, or InvalidTransition (HTTP 409).

    From the profile: ``difficult_after`` returns send a ticket to difficult-ticket coordination
    ([returns], guangzhou §18); without ``rehandling_extendable`` a re-handling round takes no
    return and no extension ([evaluation], guangzhou §29).
    """
    allowed = _ALLOWED.get(event)
    if allowed is None:
        raise InvalidTransition(f"unknown event type {event!r}; one of {', '.join(BACK_OFFICE_EVENTS)}")
    if status not in allowed:
        raise InvalidTransition(f"a ticket in status {status.value!r} cannot take the event {event!r}")
    if rehandling and not rehandling_extendable and event in ("returned", "extension_approved"):
        raise InvalidTransition(f"{event} is not allowed during re-handling (the profile's [evaluation])")
    if event == "signed":
        return Transition(S.SIGNED)
    if event == "returned":
        return Transition(S.REGISTERED, difficult=returns + 1 >= difficult_after)
    if event == "extension_approved":
        return Transition(S.EXTENDED)
    if event == "completed":
        return Transition(S.COMPLETED)
    return Transition(S.WITHDRAWN)
