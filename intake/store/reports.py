"""What the indicators read (intake/reports.py): a period's tickets with their events and
evaluations, loaded in a few queries."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from intake.model import StoredEvent, StoredTicket, TicketStatus
from intake.store.schema import evaluations, ticket_events, tickets
from intake.store.tickets import TicketStore

_CHUNK = 500


@dataclass(frozen=True, slots=True)
class Evaluation:
    round: int
    level: str | None  # None: an answer outside the options (invalid)
    source: str  # "citizen", "silence", "invalid"


@dataclass(frozen=True, slots=True)
class ReportTicket:
    ticket: StoredTicket
    events: Sequence[StoredEvent]
    evaluations: Sequence[Evaluation]


class ReportStore(TicketStore):
    def report_tickets(self, start: datetime, end: datetime) -> list[ReportTicket]:
        """Tickets created in ``[start, end)`` that left the dialog (a draft still being
        collected is not yet a request), oldest first, with their events and evaluations."""
        with self._read() as conn:
            rows = conn.execute(
                select(tickets)
                .where(
                    tickets.c.created_at >= start,
                    tickets.c.created_at < end,
                    tickets.c.status != TicketStatus.COLLECTING.value,
                )
                .order_by(tickets.c.id)
            ).all()
            found = [self._ticket(r) for r in rows]
            events: dict[int, list[StoredEvent]] = defaultdict(list)
            marks: dict[int, list[Evaluation]] = defaultdict(list)
            ids = [t.id for t in found]
            for i in range(0, len(ids), _CHUNK):
                chunk = ids[i : i + _CHUNK]
                for r in conn.execute(
                    select(ticket_events)
                    .where(ticket_events.c.ticket_id.in_(chunk))
                    .order_by(ticket_events.c.id)
                ):
                    events[r.ticket_id].append(
                        StoredEvent(r.id, r.type, r.actor, r.at, self._event_data(r.data))
                    )
                for r in conn.execute(
                    select(evaluations)
                    .where(evaluations.c.ticket_id.in_(chunk))
                    .order_by(evaluations.c.round)
                ):
                    marks[r.ticket_id].append(Evaluation(r.round, r.level, r.source))
        return [ReportTicket(t, events[t.id], marks[t.id]) for t in found]
