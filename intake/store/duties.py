"""What the hotline's own duties read and write (issue 21, intake/duties.py): the back-office
feed's pending events, tickets past their deadline or their supervision's, and the review queue."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import and_, exists, func, or_, select, update

from intake.model import StoredEvent, StoredTicket, TicketStatus
from intake.store.schema import outbox, ticket_events, tickets
from intake.store.tickets import TicketStore

# Where a unit is still working on the ticket: overdue there opens supervision.
HANDLING = (TicketStatus.DISPATCHED, TicketStatus.SIGNED, TicketStatus.EXTENDED, TicketStatus.REHANDLING)
FEED_BATCH = 200


class DutyStore(TicketStore):
    """Feed, supervision and review queries."""

    def queue_feed(
        self,
        build: Callable[[StoredEvent, StoredTicket], Mapping[str, Any]] | None,
        limit: int = FEED_BATCH,
    ) -> int:
        """Pending feed events become outbox rows ``feed:<event id>`` (``build`` makes the body),
        in one transaction with clearing their mark; without ``build`` (no webhook configured)
        the marks are only cleared, so configuring one later does not replay history. A second
        worker doing the same finds the keys there already. Returns how many events it took."""
        with self.tx(), self._write() as conn:
            rows = conn.execute(
                select(ticket_events)
                .where(ticket_events.c.feed_pending.is_(True))
                .order_by(ticket_events.c.id)
                .limit(limit)
            ).all()
            if not rows:
                return 0
            if build is not None:
                loaded = {t.id: t for t in self.get_tickets(list({r.ticket_id for r in rows}))}
                for r in rows:
                    event = StoredEvent(r.id, r.type, r.actor, r.at, self._event_data(r.data))
                    body = build(event, loaded[r.ticket_id])
                    self._insert_new(conn, outbox, self._outbox_row("feed", f"feed:{r.id}", body), "key")
            conn.execute(
                update(ticket_events)
                .where(ticket_events.c.id.in_([r.id for r in rows]))
                .values(feed_pending=None)
            )
        return len(rows)

    def overdue_unsupervised(self, now: datetime) -> list[int]:
        """Tickets a unit is handling past their deadline and not under supervision for it."""
        with self._read() as conn:
            return list(
                conn.execute(
                    select(tickets.c.id)
                    .where(
                        tickets.c.status.in_([s.value for s in HANDLING]),
                        tickets.c.deadline.is_not(None),
                        tickets.c.deadline < now,
                        or_(
                            tickets.c.supervision_opened_at.is_(None),
                            # answered, and past a deadline set since (re-handling, an extension)
                            and_(
                                tickets.c.supervision_answered_at.is_not(None),
                                tickets.c.deadline > tickets.c.supervision_opened_at,
                            ),
                        ),
                    )
                    .order_by(tickets.c.id)
                ).scalars()
            )

    def supervision_past_due(self, now: datetime) -> list[int]:
        """Tickets under supervision the unit has not answered, whose supervision deadline passed."""
        with self._read() as conn:
            return list(
                conn.execute(
                    select(tickets.c.id)
                    .where(
                        tickets.c.supervision_due.is_not(None),
                        tickets.c.supervision_due < now,
                        tickets.c.supervision_answered_at.is_(None),
                        # not told yet for this due time (an extension moves it later)
                        ~exists().where(
                            ticket_events.c.ticket_id == tickets.c.id,
                            ticket_events.c.type == "supervision_due",
                            ticket_events.c.at >= tickets.c.supervision_due,
                        ),
                    )
                    .order_by(tickets.c.id)
                ).scalars()
            )

    def duty_lists(self, limit: int = 100) -> tuple[list[StoredTicket], list[StoredTicket]]:
        """(waiting for an agent's review, under supervision and not answered yet), oldest
        first: two lists of the console's queue."""
        with self._read() as conn:
            review = conn.execute(
                select(tickets)
                .where(tickets.c.review.is_not(None))
                .order_by(tickets.c.updated_at)
                .limit(limit)
            ).all()
            supervised = conn.execute(
                select(tickets)
                .where(
                    tickets.c.supervision_opened_at.is_not(None),
                    tickets.c.supervision_answered_at.is_(None),
                )
                .order_by(tickets.c.supervision_due)
                .limit(limit)
            ).all()
        return [self._ticket(r) for r in review], [self._ticket(r) for r in supervised]

    def phone_tasks(self, limit: int = 100) -> list[tuple[StoredTicket, list[StoredEvent]]]:
        """Phone requests waiting for the hotline to call back for what is missing (guangzhou
        §12.1), oldest first, with their events (the task and the calls made)."""
        with self._read() as conn:
            rows = conn.execute(
                select(tickets)
                .where(
                    tickets.c.status == TicketStatus.AWAITING_SUPPLEMENT.value,
                    tickets.c.channel == "phone",
                )
                .order_by(tickets.c.id)
                .limit(limit)
            ).all()
        found = [self._ticket(r) for r in rows]
        events = self.events_of([t.id for t in found])  # one query for the list
        return [(t, events[t.id]) for t in found]

    def metrics_snapshot(self) -> tuple[dict[tuple[str, str], int], dict[str, int]]:
        """Tickets by (channel, status), and the duties waiting, for /metrics: one scrape, a
        few grouped counts."""
        now = self.clock.now()
        with self._read() as conn:
            counts = {
                (r.channel, r.status): int(r.n)
                for r in conn.execute(
                    select(tickets.c.channel, tickets.c.status, func.count().label("n")).group_by(
                        tickets.c.channel, tickets.c.status
                    )
                )
            }
            open_supervision = tickets.c.supervision_opened_at.is_not(
                None
            ) & tickets.c.supervision_answered_at.is_(None)
            duties = {
                "review": conn.execute(
                    select(func.count()).where(tickets.c.review.is_not(None))
                ).scalar_one(),
                "supervision_open": conn.execute(select(func.count()).where(open_supervision)).scalar_one(),
                "supervision_past_due": conn.execute(
                    select(func.count()).where(open_supervision, tickets.c.supervision_due < now)
                ).scalar_one(),
                "phone_callback": conn.execute(
                    select(func.count()).where(
                        tickets.c.status == TicketStatus.AWAITING_SUPPLEMENT.value,
                        tickets.c.channel == "phone",
                    )
                ).scalar_one(),
                "feed_unsent": conn.execute(
                    select(func.count()).where(outbox.c.job == "feed", outbox.c.done_at.is_(None))
                ).scalar_one(),
            }
        return counts, {k: int(v) for k, v in duties.items()}

    def feed_body_of(self, key: str) -> bytes:
        """The stored body of one feed row, as sent (UTF-8 JSON, Chinese unescaped)."""
        return json.dumps(dict(self.outbox_payload(key)), ensure_ascii=False).encode()
