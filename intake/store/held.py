"""Registration notices held a moment for their dispatch (issue 19): one SMS or mail tells both.

A held message is a ``messages_out`` row in state HELD with its release time in
``next_attempt_at`` and no delivery job. The dispatch step rewrites and releases it in its own
transaction; the timer sweep releases the ones whose time has come (worker/timers.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update

from intake.model import DeliveryState
from intake.store.outbox import OutboxStore
from intake.store.schema import messages_out


class HeldNoticeStore(OutboxStore):
    def held_notice(self, ticket_id: int, kind: str) -> int | None:
        """The ticket's message of ``kind`` still held (``record_outbound(hold_until=…)``)."""
        with self._read() as conn:
            found = conn.execute(
                select(messages_out.c.id).where(
                    messages_out.c.ticket_id == ticket_id,
                    messages_out.c.kind == kind,
                    messages_out.c.state == DeliveryState.HELD.value,
                )
            ).scalar()
            return int(found) if found is not None else None

    def release_held(self, outbound_id: int, text: str | None = None, kind: str | None = None) -> bool:
        """A held message sent now, as it is or with ``text`` (and ``kind``) in its place, its
        delivery job added in the same transaction. False when it was released already."""
        changes: dict[str, Any] = {"state": DeliveryState.PENDING.value, "next_attempt_at": self.clock.now()}
        changes.update({"text_enc": self.cipher.encrypt(text)} if text is not None else {})
        changes.update({"kind": kind} if kind is not None else {})
        with self._write() as conn:
            res = conn.execute(
                update(messages_out)
                .where(messages_out.c.id == outbound_id, messages_out.c.state == DeliveryState.HELD.value)
                .values(**changes)
            )
            if res.rowcount != 1:
                return False
            self.add_outbox("deliver", f"deliver:{outbound_id}", {"outbound_id": outbound_id})
        return True

    def held_due(self, now: datetime, limit: int = 500) -> list[int]:
        """Held messages whose hold has passed: the sweep sends them as they are."""
        with self._read() as conn:
            rows = conn.execute(
                select(messages_out.c.id)
                .where(
                    messages_out.c.state == DeliveryState.HELD.value, messages_out.c.next_attempt_at <= now
                )
                .limit(limit)
            ).scalars()
            return list(rows)
