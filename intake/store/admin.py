"""Restrictions of abusive senders (huizhou §8) and the audit log of agents' actions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    func,
    insert,
    select,
    update,
)

from intake.model import Address
from intake.store.schema import (
    audit_log,
    restrictions,
)
from intake.store.unit import StoreBase


class AdminStore(StoreBase):
    """The ``restrictions`` and ``audit_log`` tables."""

    def restrict(self, address: Address, until: datetime, reason: str) -> int:
        with self._write() as conn:
            pk = conn.execute(
                insert(restrictions).values(
                    address_key=self.address_key(address),
                    channel=address.channel.value,
                    since=self.clock.now(),
                    until=until,
                    reason=reason,
                )
            ).inserted_primary_key
        assert pk is not None
        return int(pk[0])

    def restricted_until(self, address: Address, now: datetime) -> datetime | None:
        with self._read() as conn:
            until = conn.execute(
                select(func.max(restrictions.c.until)).where(
                    restrictions.c.address_key == self.address_key(address),
                    restrictions.c.lifted_at.is_(None),
                    restrictions.c.until > now,
                )
            ).scalar_one_or_none()
        return until

    def active_restriction_keys(self, now: datetime) -> list[tuple[str, datetime]]:
        with self._read() as conn:
            rows = conn.execute(
                select(restrictions.c.address_key, restrictions.c.until).where(
                    restrictions.c.lifted_at.is_(None), restrictions.c.until > now
                )
            ).all()
        return [(r.address_key, r.until) for r in rows]

    def active_restrictions(self, now: datetime) -> list[dict[str, Any]]:
        with self._read() as conn:
            rows = conn.execute(
                select(restrictions)
                .where(restrictions.c.lifted_at.is_(None), restrictions.c.until > now)
                .order_by(restrictions.c.id.desc())
            ).all()
        return [
            {
                "id": r.id,
                "channel": r.channel,
                "since": r.since.isoformat(),
                "until": r.until.isoformat(),
                "reason": r.reason,
            }
            for r in rows
        ]

    def lift_restriction(self, restriction_id: int, agent: str) -> bool:
        with self._write() as conn:
            res = conn.execute(
                update(restrictions)
                .where(restrictions.c.id == restriction_id, restrictions.c.lifted_at.is_(None))
                .values(lifted_at=self.clock.now(), lifted_by=agent)
            )
        return bool(res.rowcount)

    def audit_count(self, action: str, target: str, since: datetime) -> int:
        """Audit rows of ``action`` on ``target`` since ``since`` (e.g. failed checks today)."""
        with self._read() as conn:
            query = (
                select(func.count())
                .select_from(audit_log)
                .where(audit_log.c.target == target, audit_log.c.action == action, audit_log.c.at >= since)
            )
            return int(conn.execute(query).scalar_one())

    def audit(self, actor: str, action: str, target: str | None = None, detail: str | None = None) -> None:
        if detail is not None:  # PostgreSQL's text holds no NUL (a fuzzed reveal reason had one: 500)
            detail = detail.replace("\x00", "\ufffd")
        with self._write() as conn:
            conn.execute(
                insert(audit_log).values(
                    at=self.clock.now(), actor=actor, action=action, target=target, detail=detail
                )
            )
