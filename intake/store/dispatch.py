"""What the dispatch job (worker/dispatch.py) reads and writes in its unit of work.

One short transaction per ticket, every statement prepared once (intake/store/prepared.py): the
same SQL, parameters and type conversion as Core, without Core's per-statement machinery, which
cost more than SQLite's own work (bench/dispatch_bench.py).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from intake.feed import feed_pending
from intake.model import (
    Address,
    StoredEvent,
    StoredTicket,
    TicketStatus,
)
from intake.store.statements import (
    EVENT_JSON,
    FAST_DISPATCH_TICKET,
    FAST_EVENT,
    FAST_EVENTS,
    FAST_LOCK_TICKET,
    FAST_MARK_DONE,
    FAST_OUTBOUND,
    FAST_OUTBOX,
    FAST_TICKET_UNIT,
)
from intake.store.tickets import TicketStore


class DispatchStore(TicketStore):
    """What the dispatch job reads and writes inside its unit of work (``tx()``), each through a
    statement prepared once."""

    def lock_ticket(self, ticket_id: int) -> StoredTicket | None:
        """The ticket, its row locked until the unit of work commits (FOR UPDATE on PostgreSQL;
        on SQLite the transaction holds the write lock since BEGIN), or None."""
        with self._write() as conn:
            rows = self._fast(conn, FAST_LOCK_TICKET, {"ticket_id_": ticket_id})
        return self._ticket(rows[0]) if rows else None

    def locked_events(self, ticket_id: int) -> list[StoredEvent]:
        """``events()`` of a ticket locked by ``lock_ticket``."""
        with self._write() as conn:
            rows = self._fast(conn, FAST_EVENTS, {"ticket_id_": ticket_id})
        return [StoredEvent(r.id, r.type, r.actor, r.at, json.loads(r.data)) for r in rows]

    def record_dispatch(
        self,
        ticket_id: int,
        *,
        step_key: str,
        now: datetime,
        unit: str,
        helpers: Sequence[str],
        deadline: datetime | None,
        deadline_provisional: bool,
        event: Mapping[str, Any],
        notice: tuple[Address, str, str, str] | None,
    ) -> None:
        """The ticket ``dispatched`` to ``unit``, its event keyed ``step_key``, the citizen's
        notice ``(address, text, key, kind)`` stored with its delivery job as
        ``record_outbound`` does (keyed: a repeat adds nothing), and the step's outbox row done."""
        with self._write() as conn:
            self._fast(
                conn,
                FAST_DISPATCH_TICKET,
                {
                    "ticket_id_": ticket_id,
                    "status": TicketStatus.DISPATCHED.value,
                    "unit": unit,
                    "helper_units": ",".join(helpers),
                    "deadline": deadline,
                    "deadline_provisional": deadline_provisional,
                    "updated_at": now,
                },
            )
            self._system_event(conn, ticket_id, "dispatched", event, step_key, now)
            if notice is not None:
                address, text, key, kind = notice
                row = self._pending_outbound(address, text, key, kind, ticket_id, now)
                new = self._fast(conn, FAST_OUTBOUND, row, inserts="messages_out")
                if new:  # a repeat finds the message stored, and its job with it
                    oid = int(new[0].id)
                    job = self._outbox_row("deliver", f"deliver:{oid}", {"outbound_id": oid})
                    self._fast(conn, FAST_OUTBOX, job, inserts="outbox")
            self.close_step(step_key, now)

    def record_manual_routing(self, ticket_id: int, *, step_key: str, now: datetime, queue: str) -> None:
        """No rule matched: the ticket waits in the manual ``queue`` agents see; the step is done."""
        with self._write() as conn:
            self._fast(conn, FAST_TICKET_UNIT, {"ticket_id_": ticket_id, "unit": queue, "updated_at": now})
            self._system_event(conn, ticket_id, "manual_routing", {"queue": queue}, f"manual:{step_key}", now)
            self.close_step(step_key, now)

    def close_step(self, key: str, now: datetime) -> None:
        """``mark_done`` as of ``now``, through its prepared statement."""
        with self._write() as conn:
            self._fast(conn, FAST_MARK_DONE, {"key_": key, "done_at": now, "last_error": None})

    def _system_event(
        self, conn: Connection, ticket_id: int, type_: str, data: Mapping[str, Any], key: str, now: datetime
    ) -> None:
        self._fast(
            conn,
            FAST_EVENT,
            {
                "ticket_id": ticket_id,
                "type": type_,
                "actor": "system",
                "at": now,
                "data": EVENT_JSON.encode(dict(data)),  # as add_event writes it
                "idempotency_key": key,
                "feed_pending": feed_pending(type_),
            },
            inserts="ticket_events",
        )
