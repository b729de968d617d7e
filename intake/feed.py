"""The back-office feed (CONTRACT.md "Back-office feed and reports", issue 21): every event a
unit or the hotline centre acts on, as the unit's system receives it.

An event the feed carries is stored with ``feed_pending`` set, in the transaction that records
it (``TicketStore.add_event`` and the dispatch fast path). The worker's sweep turns pending
events into outbox rows ``feed:<event id>`` with the body built here, and the notifier POSTs each
one signed (notifier/feed.py): an event is never lost with a process, and its ``id`` is the
event's, so the receiver can drop a repeat after a crash between its 2xx and our record.

The body is what the unit may see (intake.views): personal data masked, absent for an
anonymous citizen, a supplement's text scrubbed as the API shows it.
"""

from __future__ import annotations

from typing import Any

from intake.model import StoredEvent, StoredTicket

# Stored event type -> the feed's word (CONTRACT.md "Types include …").
FEED_TYPES: dict[str, str] = {
    "dispatched": "dispatched",
    "supplemented": "supplement",
    "warning": "warning",
    "supervision_opened": "supervision_opened",
    "supervision_due": "supervision_due",
    "supervision_extended": "supervision_extended",
    "evaluated": "evaluation",
    "review_requested": "review_requested",
    "review_decided": "review_decided",
    "rehandling": "rehandling",
    "clock_restarted": "clock_restarted",
    "withdrawal_requested": "withdrawal_requested",
    "withdrawn": "withdrawn",
}

# Event data a receiver gets besides the common fields; free text only through ``scrub``.
_DATA = (
    "level",
    "round",
    "due",
    "deadline",
    "unit",
    "helpers",
    "kind",
    "decision",
    "by",
    "silence",
    "report",
    "skip_case",
)
_TEXT = ("reason", "callback")


def _actor(actor: str) -> str:
    """Who acted, as the receiver may know it: the system, the citizen, a unit, or the hotline
    (its agents and its centre token, never a login)."""
    if actor in ("system", "citizen"):
        return actor
    return "unit" if actor.startswith("unit:") else "hotline"


def feed_pending(event_type: str) -> bool | None:
    """The ``feed_pending`` mark a new event of this type is stored with (None: not fed)."""
    return True if event_type in FEED_TYPES else None


def feed_body(event: StoredEvent, ticket: StoredTicket) -> dict[str, Any]:
    """What the webhook receives for ``event``: ``{"id", "type", "ticket", "at", …}``."""
    from intake.views import scrub  # views imports the policy package; keep this module light

    body: dict[str, Any] = {
        "id": str(event.id),
        "type": FEED_TYPES[event.type],
        "ticket": ticket.number,
        "at": event.at.isoformat(),
        "actor": _actor(event.actor),
        "category": ticket.category,
        "channel": ticket.channel.value,
        "unit": ticket.unit,
        "status": ticket.status.value,
    }
    for name in _DATA:
        if name in event.data:
            body[name] = event.data[name]
    for name in _TEXT:
        if event.data.get(name):
            body[name] = scrub(str(event.data[name]), ticket)
    if event.type == "supplemented":
        body["text"] = scrub(str(event.data.get("text", "")), ticket)
    return body
