"""Messages in and out: every inbound message stored before anything else can fail, every
outbound one with its delivery state, retries and idempotency key.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    Row,
    bindparam,
    func,
    insert,
    or_,
    select,
    update,
)

from intake.errors import NotFound
from intake.model import (
    Address,
    Channel,
    DeliveryState,
    InboundMessage,
    StoredOutbound,
)
from intake.store.outbox import OutboxStore
from intake.store.schema import (
    messages_in,
    messages_out,
)
from intake.store.statements import (
    FAST_INBOUND,
    FAST_INBOUND_BY_NATIVE,
    FAST_OUTBOX,
    NATIVE_KEY,
    native_of,
)

# Rows a delivery outcome may still be recorded on: waiting, or claimed by the worker sending them.
_UNSETTLED = (DeliveryState.PENDING.value, DeliveryState.SENDING.value)
PURGED = "purged"  # the flags of a message whose text and raw form the retention sweep removed


class MessageStore(OutboxStore):
    """The ``messages_in`` and ``messages_out`` tables."""

    def save_inbound(
        self,
        msg: InboundMessage,
        *,
        raw: str | None = None,
        flags: str = "",
        job: str | None = None,
        processed: bool = False,
        ticket_id: int | None = None,
    ) -> tuple[int, bool]:
        """Store a message before anything else can fail. Returns (id, newly_stored).

        A native id seen before (a replayed Telegram update, a resent mail) returns the first
        row, so a retry never stores a message twice (RELIABILITY.md T2, M5). With ``job``, an
        outbox row for that job is written in the same transaction.
        """
        # stored inside the turn that handles it: processed when (and only if) the turn commits
        values = self._inbound_row(msg, raw, flags, self.clock.now() if processed else None, ticket_id)
        with self._write() as conn:
            if msg.native_id is None:  # nothing it could be a repeat of
                buf = self._held(conn)
                held = buf.add(messages_in, values)
                if job is not None:
                    self._add_fresh_outbox(buf, job, f"{job}:{held}", {"message_id": held})
                return held, True
            new_id = self._insert_new(conn, messages_in, values, NATIVE_KEY)
            if new_id is None:
                [found] = self._fast(conn, FAST_INBOUND_BY_NATIVE, native_of(values))
                return int(found.id), False
            if job is not None:
                # Processed later by a worker; the outbox row commits with the message.
                self.add_outbox(job, f"{job}:{new_id}", {"message_id": new_id})
            return int(new_id), True

    def save_inbound_mails(
        self, mails: Sequence[tuple[InboundMessage, str]], *, flags: str, job: str
    ) -> list[tuple[int, bool]]:
        """``save_inbound`` with a job for each (message, raw text), all in one transaction of
        their own, for a channel's hot path (the smtp process stores every mail before its 250):
        the same rows, through prepared statements on the pooled connection."""
        with self._raw_tx() as tx:
            out = []
            for msg, raw in mails:
                values = self._inbound_row(msg, raw, flags, None, None)
                new = FAST_INBOUND.run(tx, values)
                if not new:  # its native id was seen before (M5): the first row
                    [found] = FAST_INBOUND_BY_NATIVE.run(tx, native_of(values))
                    out.append((int(found.id), False))
                    continue
                new_id = int(new[0].id)
                FAST_OUTBOX.run(tx, self._outbox_row(job, f"{job}:{new_id}", {"message_id": new_id}))
                out.append((new_id, True))
        return out

    def _inbound_row(
        self,
        msg: InboundMessage,
        raw: str | None,
        flags: str,
        processed_at: datetime | None,
        ticket_id: int | None,
    ) -> dict[str, Any]:
        """A ``messages_in`` row, every column named (Core, executemany and prepared alike)."""
        return {
            "channel": msg.address.channel.value,
            "address_key": self.address_key(msg.address),
            "address_enc": self.cipher.encrypt(msg.address.value),
            "text_enc": self.cipher.encrypt(msg.text),
            "raw_enc": self.cipher.encrypt_opt(raw),
            "native_id": msg.native_id,
            "received_at": msg.received_at,
            "flags": flags,
            "processed_at": processed_at,
            "ticket_id": ticket_id,
        }

    def mark_inbound(
        self, message_id: int, *, ticket_id: int | None = None, flags: str | None = None
    ) -> None:
        values: dict[str, Any] = {"processed_at": self.clock.now()}
        if ticket_id is not None:
            values["ticket_id"] = ticket_id
        if flags is not None:
            values["flags"] = flags
        with self._write() as conn:
            self._held(conn).update(messages_in, message_id, values)

    def get_inbound(self, message_id: int) -> tuple[InboundMessage, str | None]:
        """The stored message and its raw native form."""
        with self._read() as conn:
            r = conn.execute(select(messages_in).where(messages_in.c.id == message_id)).first()
        if r is None:
            raise NotFound(f"inbound message {message_id} not found")
        return self._inbound_of(r), self.cipher.decrypt_opt(r.raw_enc)

    def _inbound_of(self, r: Any) -> InboundMessage:
        return InboundMessage(
            address=Address(Channel(r.channel), self.cipher.decrypt(r.address_enc)),
            text=self.cipher.decrypt(r.text_enc),
            received_at=r.received_at,
            native_id=r.native_id,
            sender_auth=r.sender_auth,
        )

    def get_inbound_many(self, message_ids: Sequence[int]) -> dict[int, tuple[InboundMessage, str | None]]:
        """Several stored messages in one query (a worker's group of mails or updates)."""
        if not message_ids:
            return {}
        with self._read() as conn:
            rows = conn.execute(select(messages_in).where(messages_in.c.id.in_(list(message_ids)))).all()
        out = {}
        for r in rows:
            out[r.id] = (self._inbound_of(r), self.cipher.decrypt_opt(r.raw_enc))
        missing = set(message_ids) - set(out)
        if missing:
            raise NotFound(f"inbound messages {sorted(missing)} not found")
        return out

    def set_inbound_many(self, parsed: Sequence[tuple[int, InboundMessage]]) -> None:
        """After a worker parsed raw messages: each one's sender, text and what a trusted relay
        found of the sender (``sender_auth``), encrypted as always, in one statement."""
        if not parsed:
            return
        stmt = (
            update(messages_in)
            .where(messages_in.c.id == bindparam("id_"))
            .values(
                address_key=bindparam("k"),
                address_enc=bindparam("a"),
                text_enc=bindparam("t"),
                sender_auth=bindparam("auth"),
            )
        )
        rows = [
            {
                "id_": mid,
                "k": self.address_key(msg.address),
                "a": self.cipher.encrypt(msg.address.value),
                "t": self.cipher.encrypt(msg.text),
                "auth": msg.sender_auth,
            }
            for mid, msg in parsed
        ]
        with self._write() as conn:
            conn.execute(stmt, rows)

    def latest_native_ids(self, address: Address, limit: int = 10) -> list[str]:
        """Native ids (mail Message-IDs) of this sender's messages, newest first: a mail thread."""
        with self._read() as conn:
            rows = conn.execute(
                select(messages_in.c.native_id)
                .where(
                    messages_in.c.address_key == self.address_key(address),
                    messages_in.c.native_id.is_not(None),
                )
                .order_by(messages_in.c.id.desc())
                .limit(limit)
            ).all()
        return [r.native_id for r in rows]

    def latest_subject(self, address: Address) -> str | None:
        """The subject of our latest mail to this address that had one: the citizen's thread."""
        with self._read() as conn:
            return conn.execute(
                select(messages_out.c.subject)
                .where(
                    messages_out.c.address_key == self.address_key(address),
                    messages_out.c.subject.is_not(None),
                )
                .order_by(messages_out.c.id.desc())
                .limit(1)
            ).scalar()

    def inbound_texts(self, address: Address, limit: int = 50) -> list[tuple[int, str, datetime]]:
        with self._read() as conn:
            rows = conn.execute(
                select(messages_in.c.id, messages_in.c.text_enc, messages_in.c.received_at)
                .where(messages_in.c.address_key == self.address_key(address))
                .order_by(messages_in.c.id.desc())
                .limit(limit)
            ).all()
        return [(r.id, self.cipher.decrypt(r.text_enc), r.received_at) for r in reversed(rows)]

    def count_inbound(self) -> int:
        with self._read() as conn:
            return int(conn.execute(select(func.count()).select_from(messages_in)).scalar_one())

    def record_outbound(
        self,
        address: Address,
        text: str,
        *,
        key: str,
        kind: str,
        ticket_id: int | None = None,
        choices: Sequence[str] = (),
        subject: str | None = None,
        state: DeliveryState = DeliveryState.PENDING,
        fresh: bool = False,
        hold_until: datetime | None = None,
    ) -> tuple[int, bool]:
        """Store a message to send, keyed for idempotency. Returns (id, newly_stored).

        A new pending message gets its delivery job (an outbox row) in the same transaction: a
        message is stored before any send, and none is stored without a job that sends it.
        ``fresh``: the caller knows the key is new (made from a row of this transaction), so in
        a group-commit transaction the row is held and written with the others.
        ``hold_until``: stored HELD, without a job, until released (``release_held``).
        """
        now = self.clock.now()
        if hold_until is not None:
            state = DeliveryState.HELD
        values = {
            "idempotency_key": key,
            "channel": address.channel.value,
            "address_key": self.address_key(address),
            "address_enc": self.cipher.encrypt(address.value),
            "text_enc": self.cipher.encrypt(text),
            "choices": json.dumps(list(choices), ensure_ascii=False) if choices else None,
            "subject": subject,
            "kind": kind,
            "ticket_id": ticket_id,
            "state": state.value,
            "created_at": now,
            "next_attempt_at": hold_until or (now if state is DeliveryState.PENDING else None),
            "delivered_at": now if state is DeliveryState.DELIVERED else None,
        }
        with self._write() as c:
            if fresh:
                buf = self._held(c)
                values.update(attempts=0, last_error=None, provider_id=None)
                oid = buf.add(messages_out, values)
                if state is DeliveryState.PENDING:
                    self._add_fresh_outbox(buf, "deliver", f"deliver:{oid}", {"outbound_id": oid})
                return oid, True
            oid, new = self._insert_outbound(c, values)
            if new and state is DeliveryState.PENDING:
                self.add_outbox("deliver", f"deliver:{oid}", {"outbound_id": oid})
        return oid, new

    def _pending_outbound(
        self, address: Address, text: str, key: str, kind: str, ticket_id: int | None, now: datetime
    ) -> dict[str, Any]:
        """A ``messages_out`` row waiting for its first try (every column named: it goes through
        prepared statements and executemany as well as Core)."""
        return {
            "idempotency_key": key,
            "channel": address.channel.value,
            "address_key": self.address_key(address),
            "address_enc": self.cipher.encrypt(address.value),
            "text_enc": self.cipher.encrypt(text),
            "choices": None,
            "subject": None,
            "kind": kind,
            "ticket_id": ticket_id,
            "state": DeliveryState.PENDING.value,
            "attempts": 0,
            "created_at": now,
            "next_attempt_at": now,
            "delivered_at": None,
        }

    def _insert_outbound(self, conn: Connection, values: dict[str, Any]) -> tuple[int, bool]:
        new_id = self._insert_new(conn, messages_out, values, "idempotency_key")
        if new_id is not None:
            return int(new_id), True
        existing = conn.execute(
            select(messages_out.c.id).where(messages_out.c.idempotency_key == values["idempotency_key"])
        ).scalar_one()
        return int(existing), False

    def _outbound(self, r: Row[Any]) -> StoredOutbound:
        return StoredOutbound(
            id=r.id,
            idempotency_key=r.idempotency_key,
            address=Address(Channel(r.channel), self.cipher.decrypt(r.address_enc)),
            text=self.cipher.decrypt(r.text_enc),
            choices=tuple(json.loads(r.choices)) if r.choices else (),
            subject=r.subject,
            kind=r.kind,
            ticket_id=r.ticket_id,
            state=DeliveryState(r.state),
            attempts=r.attempts,
            last_error=r.last_error,
            created_at=r.created_at,
            delivered_at=r.delivered_at,
            next_attempt_at=r.next_attempt_at,
        )

    def record_outbound_many(
        self, items: Sequence[tuple[Address, str, str, str, int | None]], *, claimed_until: datetime
    ) -> dict[str, int]:
        """Store many messages at once, claimed for the caller's sends until ``claimed_until``
        (see ``claim_delivery``): (address, text, key, kind, ticket id) each; a key already
        stored is left alone. Returns key → id of the rows created now (for a fan-out: one
        statement per chunk instead of one transaction per message)."""
        if not items:
            return {}
        now = self.clock.now()
        rows = [
            {
                **self._pending_outbound(address, text, key, kind, ticket_id, now),
                "state": DeliveryState.SENDING.value,
                "next_attempt_at": claimed_until,
            }
            for address, text, key, kind, ticket_id in items
        ]
        keys = [r["idempotency_key"] for r in rows]
        with self._write() as conn:
            existing = set(
                conn.execute(
                    select(messages_out.c.idempotency_key).where(messages_out.c.idempotency_key.in_(keys))
                ).scalars()
            )
            fresh = [r for r in rows if r["idempotency_key"] not in existing]
            if fresh:
                conn.execute(insert(messages_out), fresh)
            created = conn.execute(
                select(messages_out.c.idempotency_key, messages_out.c.id).where(
                    messages_out.c.idempotency_key.in_([r["idempotency_key"] for r in fresh])
                )
            ).all()
        return {k: i for k, i in created}

    def mark_delivered_many(self, ids: Sequence[int]) -> int:
        """Settle many pending rows as delivered in one statement; settled rows stay as they are."""
        if not ids:
            return 0
        with self._write() as conn:
            res = conn.execute(
                update(messages_out)
                .where(messages_out.c.id.in_(list(ids)), messages_out.c.state.in_(_UNSETTLED))
                .values(
                    state=DeliveryState.DELIVERED.value,
                    attempts=messages_out.c.attempts + 1,
                    delivered_at=self.clock.now(),
                )
            )
        return int(res.rowcount)

    def defer(self, outbound_id: int, retry_at: datetime, error: str) -> None:
        """A pending row that was refused for now: counted as an attempt, retried at ``retry_at``."""
        with self._write() as conn:
            conn.execute(
                update(messages_out)
                .where(messages_out.c.id == outbound_id, messages_out.c.state.in_(_UNSETTLED))
                .values(
                    state=DeliveryState.PENDING.value,
                    attempts=messages_out.c.attempts + 1,
                    last_error=error,
                    next_attempt_at=retry_at,
                )
            )

    def claim_delivery(self, outbound_id: int, lease_until: datetime) -> bool:
        """Take a pending row that is due for this worker until ``lease_until``, before the
        provider is called; False when another worker has it or it is not due."""
        return outbound_id in self.claim_deliveries([outbound_id], lease_until)

    def claim_deliveries(self, outbound_ids: Sequence[int], lease_until: datetime) -> set[int]:
        """``claim_delivery`` for several rows in one statement: the ids this worker now holds."""
        if not outbound_ids:
            return set()
        now = self.clock.now()
        with self._write() as conn:
            rows = conn.execute(
                update(messages_out)
                .where(
                    messages_out.c.id.in_(list(outbound_ids)),
                    messages_out.c.state == DeliveryState.PENDING.value,
                    or_(messages_out.c.next_attempt_at.is_(None), messages_out.c.next_attempt_at <= now),
                )
                .values(state=DeliveryState.SENDING.value, next_attempt_at=lease_until)
                .returning(messages_out.c.id)
            ).scalars()
            return set(rows)

    def lapsed_claims(self, outbound_id: int | None = None) -> list[int]:
        """Claims that outlived their lease (all, or the one of ``outbound_id``): the worker that
        held them stopped (notifier.deliver.settle_lapsed decides what became of each)."""
        which = [] if outbound_id is None else [messages_out.c.id == outbound_id]
        with self._read() as conn:
            rows = conn.execute(
                select(messages_out.c.id).where(
                    *which,
                    messages_out.c.state == DeliveryState.SENDING.value,
                    messages_out.c.next_attempt_at <= self.clock.now(),
                )
            ).scalars()
            return list(rows)

    def settle_lapsed(
        self, *, delivered: Sequence[int] = (), released: Sequence[int] = (), uncertain: Sequence[int] = ()
    ) -> None:
        """Lapsed claims settled in one transaction, each only while it is still a lapsed claim:
        ``delivered`` (the provider took it), ``released`` (never handed to a provider: pending
        again, sent by the next worker), ``uncertain`` (handed over, no answer recorded: for an
        agent to check, never sent again by itself, RELIABILITY.md §6)."""
        now = self.clock.now()
        lapsed = (messages_out.c.state == DeliveryState.SENDING.value, messages_out.c.next_attempt_at <= now)
        changes: list[tuple[Sequence[int], dict[str, Any]]] = [
            (
                delivered,
                {
                    "state": DeliveryState.DELIVERED.value,
                    "attempts": messages_out.c.attempts + 1,
                    "delivered_at": now,
                    "next_attempt_at": None,
                },
            ),
            (released, {"state": DeliveryState.PENDING.value, "next_attempt_at": None}),
            (
                uncertain,
                {
                    "state": DeliveryState.UNCERTAIN.value,
                    "last_error": "the worker stopped while sending; not sent again (check with the citizen)",
                },
            ),
        ]
        with self._write() as conn:
            for ids, values in changes:
                if ids:
                    conn.execute(
                        update(messages_out).where(messages_out.c.id.in_(list(ids)), *lapsed).values(**values)
                    )

    def purge_messages(self, received_before: datetime, limit: int = 500) -> int:
        """Retention (issue 18): what citizens sent before ``received_before`` loses its text and
        raw form (the ticket, its fields and events stay: they are the archived record). Returns
        how many were purged; a sweep calls it until none are left."""
        with self._write() as conn:
            ids = list(
                conn.execute(
                    select(messages_in.c.id)
                    .where(messages_in.c.received_at < received_before, messages_in.c.flags != PURGED)
                    .limit(limit)
                ).scalars()
            )
            if ids:
                conn.execute(
                    update(messages_in)
                    .where(messages_in.c.id.in_(ids))
                    .values(raw_enc=None, text_enc=self.cipher.encrypt(""), flags=PURGED)
                )
        return len(ids)

    def get_outbound(self, outbound_id: int) -> StoredOutbound:
        with self._read() as conn:
            r = conn.execute(select(messages_out).where(messages_out.c.id == outbound_id)).first()
        if r is None:
            raise NotFound(f"outbound message {outbound_id} not found")
        return self._outbound(r)

    def outbound_for(
        self, address: Address, *, after_id: int = 0, states: Iterable[DeliveryState] | None = None
    ) -> list[StoredOutbound]:
        """Messages to one address after an id, oldest first (web-chat polling, stub outboxes)."""
        q = select(messages_out).where(
            messages_out.c.address_key == self.address_key(address), messages_out.c.id > after_id
        )
        if states is not None:
            q = q.where(messages_out.c.state.in_([s.value for s in states]))
        with self._read() as conn:
            rows = conn.execute(q.order_by(messages_out.c.id)).all()
        return [self._outbound(r) for r in rows]

    def replies_to(self, message_id: int) -> tuple[list[StoredOutbound], int | None]:
        """The replies a stored inbound message was answered with, in order, and the ticket it
        was linked to: what a message sent again (the same ``client_id``) is answered with."""
        with self._read() as conn:
            rows = conn.execute(
                select(messages_out)
                .where(messages_out.c.idempotency_key.like(f"reply:{message_id}:%"))
                .order_by(messages_out.c.id)
            ).all()
            ticket_id = conn.execute(
                select(messages_in.c.ticket_id).where(messages_in.c.id == message_id)
            ).scalar_one_or_none()
        return [self._outbound(r) for r in rows], ticket_id

    def outbound_by_state(self, state: DeliveryState, limit: int = 100) -> list[StoredOutbound]:
        with self._read() as conn:
            rows = conn.execute(
                select(messages_out)
                .where(messages_out.c.state == state.value)
                .order_by(messages_out.c.id)
                .limit(limit)
            ).all()
        return [self._outbound(r) for r in rows]

    def mark_delivery(
        self,
        outbound_id: int,
        state: DeliveryState,
        *,
        error: str | None = None,
        provider_id: str | None = None,
        retry_at: datetime | None = None,
    ) -> bool:
        """Record a delivery attempt. Only a pending or claimed row changes: a second worker
        finishing the same message finds it already settled and does nothing (never twice)."""
        now = self.clock.now()
        values: dict[str, Any] = {
            "state": state.value,
            "attempts": messages_out.c.attempts + 1,
            "last_error": error,
            "next_attempt_at": retry_at,
        }
        if provider_id is not None:
            values["provider_id"] = provider_id
        if state is DeliveryState.DELIVERED:
            values["delivered_at"] = now
        with self._write() as conn:
            res = conn.execute(
                update(messages_out)
                .where(messages_out.c.id == outbound_id, messages_out.c.state.in_(_UNSETTLED))
                .values(**values)
            )
            return bool(res.rowcount)
