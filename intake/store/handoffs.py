"""The ``handoffs`` table: conversations waiting for a person (issue 19)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update

from intake.model import Address, Channel, Handoff
from intake.store.schema import handoffs
from intake.store.unit import StoreBase


class HandoffStore(StoreBase):
    def hand_off(self, address: Address, text: str, now: datetime) -> int:
        """The sender's open hand-off, opened now or brought up to date with ``text`` (their
        latest message); its id."""
        key = self.address_key(address)
        with self._write() as conn:
            found = conn.execute(
                select(handoffs.c.id).where(handoffs.c.address_key == key, handoffs.c.released_at.is_(None))
            ).first()
            if found is not None:
                conn.execute(
                    update(handoffs)
                    .where(handoffs.c.id == found.id)
                    .values(text_enc=self.cipher.encrypt(text), last_at=now)
                )
                return int(found.id)
            values = {
                "channel": address.channel.value,
                "address_key": key,
                "address_enc": self.cipher.encrypt(address.value),
                "since": now,
                "last_at": now,
                "text_enc": self.cipher.encrypt(text),
            }
            new = conn.execute(insert(handoffs).values(**values).returning(handoffs.c.id))
            return int(new.scalar_one())

    def with_agent(self, keys: Sequence[str]) -> set[str]:
        """Which of these address keys wait for, or talk with, a person."""
        if not keys:
            return set()
        with self._read() as conn:
            rows = conn.execute(
                select(handoffs.c.address_key).where(
                    handoffs.c.address_key.in_(list(keys)), handoffs.c.released_at.is_(None)
                )
            ).scalars()
            return set(rows)

    def handoffs_ahead(self, handoff_id: int) -> int:
        """How many open hand-offs were opened before this one."""
        with self._read() as conn:
            query = (
                select(func.count())
                .select_from(handoffs)
                .where(handoffs.c.released_at.is_(None), handoffs.c.id < handoff_id)
            )
            return int(conn.execute(query).scalar_one())

    def open_handoffs(self, limit: int = 100) -> list[Handoff]:
        """Conversations waiting for a person, oldest first."""
        with self._read() as conn:
            rows = conn.execute(
                select(handoffs)
                .where(handoffs.c.released_at.is_(None))
                .order_by(handoffs.c.since, handoffs.c.id)
                .limit(limit)
            ).all()
        return [self._handoff(r) for r in rows]

    def get_handoff(self, handoff_id: int) -> Handoff | None:
        """An open hand-off, or None (released, or never was)."""
        with self._read() as conn:
            r = conn.execute(
                select(handoffs).where(handoffs.c.id == handoff_id, handoffs.c.released_at.is_(None))
            ).first()
        return self._handoff(r) if r is not None else None

    def release_handoff(self, handoff_id: int, by: str, now: datetime) -> bool:
        """The bot takes the conversation back; False when it was not open."""
        with self._write() as conn:
            res = conn.execute(
                update(handoffs)
                .where(handoffs.c.id == handoff_id, handoffs.c.released_at.is_(None))
                .values(released_at=now, released_by=by)
            )
        return bool(res.rowcount)

    def _handoff(self, r: Any) -> Handoff:
        address = Address(Channel(r.channel), self.cipher.decrypt(r.address_enc))
        return Handoff(r.id, address, r.since, r.last_at, self.cipher.decrypt(r.text_enc))
