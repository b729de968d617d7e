"""The dispatch job's transaction (worker/dispatch.py).

The dispatch job is one short write transaction per ticket. It runs on the pooled DBAPI
connection with statements prepared once (intake/store/prepared.py): the same SQL, parameters and
type conversion as Core, without Core's per-statement machinery, which cost more than SQLite's own
work (bench/dispatch_bench.py).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from intake.model import (
    Address,
    StoredEvent,
    StoredTicket,
    TicketStatus,
)
from intake.store.prepared import RawTx
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
    """What the dispatch job writes: one short ``raw_tx`` per ticket."""

    def lock_ticket(self, tx: RawTx, ticket_id: int) -> StoredTicket | None:
        """The ticket, its row locked for the transaction (FOR UPDATE on PostgreSQL; on SQLite
        BEGIN IMMEDIATE holds the write lock already), or None."""
        rows = FAST_LOCK_TICKET.run(tx, {"ticket_id_": ticket_id})
        return self._ticket(rows[0]) if rows else None

    def locked_events(self, tx: RawTx, ticket_id: int) -> list[StoredEvent]:
        """``events()`` inside a ``raw_tx``."""
        rows = FAST_EVENTS.run(tx, {"ticket_id_": ticket_id})
        return [StoredEvent(r.id, r.type, r.actor, r.at, json.loads(r.data)) for r in rows]

    def record_dispatch(
        self,
        tx: RawTx,
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
        FAST_DISPATCH_TICKET.run(
            tx,
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
        self._fast_event(tx, ticket_id, "dispatched", event, step_key, now)
        if notice is not None:
            address, text, key, kind = notice
            new = FAST_OUTBOUND.run(tx, self._pending_outbound(address, text, key, kind, ticket_id, now))
            if new:  # a repeat finds the message stored, and its job with it
                oid = int(new[0].id)
                FAST_OUTBOX.run(tx, self._outbox_row("deliver", f"deliver:{oid}", {"outbound_id": oid}))
        self.close_step(tx, step_key, now)

    def record_manual_routing(
        self, tx: RawTx, ticket_id: int, *, step_key: str, now: datetime, queue: str
    ) -> None:
        """No rule matched: the ticket waits in the manual ``queue`` agents see; the step is done."""
        FAST_TICKET_UNIT.run(tx, {"ticket_id_": ticket_id, "unit": queue, "updated_at": now})
        self._fast_event(tx, ticket_id, "manual_routing", {"queue": queue}, f"manual:{step_key}", now)
        self.close_step(tx, step_key, now)

    def close_step(self, tx: RawTx, key: str, now: datetime) -> None:
        """``mark_done`` inside a ``raw_tx``."""
        FAST_MARK_DONE.run(tx, {"key_": key, "done_at": now, "last_error": None})

    def _fast_event(
        self, tx: RawTx, ticket_id: int, type_: str, data: Mapping[str, Any], key: str, now: datetime
    ) -> None:
        FAST_EVENT.run(
            tx,
            {
                "ticket_id": ticket_id,
                "type": type_,
                "actor": "system",
                "at": now,
                "data": EVENT_JSON.encode(dict(data)),  # as add_event writes it
                "idempotency_key": key,
            },
        )
