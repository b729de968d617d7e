"""The outbox: jobs for the queue, each written in the transaction of the change that needs it
(ARCHITECTURE.md "Stores"), and how the relay claims, retries and finishes them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    or_,
    select,
    update,
)

from intake.errors import NotFound
from intake.masking import redact
from intake.model import OutboxJob
from intake.store import buffer
from intake.store.schema import outbox
from intake.store.statements import MARK_DONE
from intake.store.unit import StoreBase

OUTBOX_MAX_ATTEMPTS = 10


class OutboxStore(StoreBase):
    """The ``outbox`` table."""

    def outbox_payload(self, key: str) -> Mapping[str, Any]:
        with self._read() as conn:
            raw = conn.execute(select(outbox.c.payload).where(outbox.c.key == key)).scalar_one_or_none()
        if raw is None:
            raise NotFound(f"outbox row {key} not found")
        payload: Mapping[str, Any] = json.loads(raw)
        return payload

    def _add_fresh_outbox(
        self, buf: buffer.RowBuffer, job: str, key: str, payload: Mapping[str, Any]
    ) -> None:
        """The job of a row held in the same group commit (its key is made from that row's id)."""
        buf.add(
            outbox,
            {**self._outbox_row(job, key, payload), "enqueued_at": None, "done_at": None, "last_error": None},
        )

    def _outbox_row(self, job: str, key: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        """A new outbox row: not yet enqueued, no attempt yet."""
        return {
            "job": job,
            "key": key,
            "payload": json.dumps(dict(payload), ensure_ascii=False),
            "created_at": self.clock.now(),
            "attempts": 0,
        }

    def add_outbox(self, job: str, key: str, payload: Mapping[str, Any]) -> bool:
        """A job for the relay to put on the queue once this unit of work commits (False: the
        key is there already)."""
        with self._write() as conn:
            return self._insert_new(conn, outbox, self._outbox_row(job, key, payload), "key") is not None

    def outbox_to_enqueue(
        self, now: datetime, stale_after: timedelta, limit: int = 500, max_attempts: int = OUTBOX_MAX_ATTEMPTS
    ) -> list[OutboxJob]:
        """Jobs never enqueued, or enqueued long ago and still not done (lost with Redis). A job
        put on the queue ``max_attempts`` times without finishing is poison: it stays for agents
        (``stuck_outbox``) instead of being retried for ever (RELIABILITY.md Q6)."""
        with self._read() as conn:
            rows = conn.execute(
                select(outbox)
                .where(
                    outbox.c.done_at.is_(None),
                    # the back-office feed is retried until answered (CONTRACT.md): never poison
                    or_(outbox.c.attempts < max_attempts, outbox.c.job == "feed"),
                    or_(outbox.c.enqueued_at.is_(None), outbox.c.enqueued_at < now - stale_after),
                )
                .order_by(outbox.c.id)
                .limit(limit)
            ).all()
        return [OutboxJob(r.id, r.job, r.key, json.loads(r.payload), r.attempts) for r in rows]

    def outbox_error(self, key: str, error: str) -> None:
        with self._write() as conn:
            conn.execute(update(outbox).where(outbox.c.key == key).values(last_error=redact(error)))

    def stuck_outbox(self, max_attempts: int = OUTBOX_MAX_ATTEMPTS, limit: int = 100) -> list[OutboxJob]:
        with self._read() as conn:
            rows = conn.execute(
                select(outbox)
                .where(outbox.c.done_at.is_(None), outbox.c.attempts >= max_attempts)
                .order_by(outbox.c.id)
                .limit(limit)
            ).all()
        return [OutboxJob(r.id, r.job, r.key, json.loads(r.payload), r.attempts, r.last_error) for r in rows]

    def requeue_stuck(self, key: str, max_attempts: int = OUTBOX_MAX_ATTEMPTS) -> bool:
        """An abandoned job (``stuck_outbox``) given its attempts back, for the relay to enqueue
        again: an agent's decision once the cause is fixed. False if no such stuck job."""
        with self._write() as conn:
            res = conn.execute(
                update(outbox)
                .where(outbox.c.key == key, outbox.c.done_at.is_(None), outbox.c.attempts >= max_attempts)
                .values(attempts=0, enqueued_at=None, last_error=None)
            )
        return bool(res.rowcount)

    def mark_enqueued(self, ids: Sequence[int]) -> None:
        if not ids:
            return
        with self._write() as conn:
            conn.execute(
                update(outbox)
                .where(outbox.c.id.in_(list(ids)))
                .values(enqueued_at=self.clock.now(), attempts=outbox.c.attempts + 1)
            )

    def mark_done_many(self, keys: Sequence[str]) -> None:
        if not keys:
            return
        now = self.clock.now()
        with self._write() as conn:
            conn.execute(MARK_DONE, [{"key_": k, "done_at": now, "last_error": None} for k in keys])

    def outbox_done(self, key: str) -> bool:
        """Whether the row's job has finished (a second copy of its job then does nothing)."""
        with self._read() as conn:
            done = conn.execute(select(outbox.c.done_at).where(outbox.c.key == key)).scalar_one_or_none()
        return done is not None

    def mark_done(self, key: str, *, error: str | None = None) -> None:
        with self._write() as c:
            c.execute(MARK_DONE, {"key_": key, "done_at": self.clock.now(), "last_error": error})
