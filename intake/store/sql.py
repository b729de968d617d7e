"""SqlStore: the one gateway to the system of record.

Personal data is encrypted here and nowhere else; callers hand in and get back plain values.
Every write that must reach the queue writes its outbox row in the same transaction
(ARCHITECTURE.md "Stores").
"""

from __future__ import annotations

import binascii
import functools
import json
import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from contextvars import ContextVar
from datetime import datetime, timedelta
from typing import Any, Literal

from cryptography.exceptions import InvalidTag
from sqlalchemy import (
    ColumnElement,
    Connection,
    Dialect,
    Engine,
    Row,
    Table,
    and_,
    bindparam,
    func,
    insert,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from intake.clock import Clock
from intake.crypto import Cipher
from intake.errors import NotFound
from intake.masking import redact
from intake.model import (
    SHANGHAI,
    Address,
    Channel,
    DeliveryState,
    Field,
    InboundMessage,
    OutboxJob,
    PlaceTicket,
    StoredEvent,
    StoredOutbound,
    StoredTicket,
    TicketBrief,
    TicketDraft,
    TicketStatus,
)
from intake.store import buffer
from intake.store.prepared import PreparedSet, RawTx
from intake.store.schema import (
    audit_log,
    counters,
    evaluations,
    messages_in,
    messages_out,
    outbox,
    restrictions,
    ticket_events,
    tickets,
)

log = logging.getLogger(__name__)
ADDRESS_KEYS_KEPT = 4096
_CURRENT: ContextVar[Connection | None] = ContextVar("hotline_sql_transaction", default=None)
OUTBOX_MAX_ATTEMPTS = 10
_MARK_DONE = (
    update(outbox)
    .where(outbox.c.key == bindparam("key_"))
    .values(done_at=bindparam("done_at", type_=outbox.c.done_at.type), last_error=bindparam("last_error"))
)
CONTACT_FIELDS = (Field.NAME, Field.PHONE, Field.ID_NUMBER, Field.HOME_ADDRESS)


class SqlStore:
    def __init__(self, engine: Engine, cipher: Cipher, clock: Clock) -> None:
        self.engine = engine
        self.cipher = cipher
        self.clock = clock
        self._writer = engine.execution_options(sqlite_immediate=True)
        self._upserts: dict[tuple[str, str | tuple[str, ...], tuple[str, ...]], PreparedSet] = {}
        self._ticket_updates: dict[tuple[str, ...], PreparedSet] = {}
        self._briefs_stmt: Any = None
        self._senders_stmt: Any = None
        self._address_keys: dict[Address, str] = {}
        buffer.install(engine)

    @contextmanager
    def tx(self) -> Iterator[Connection]:
        """A write transaction (on SQLite it takes the write lock at BEGIN).

        Inside an open one, every store call of this thread joins it: a whole dialog turn (the
        message, the draft, the ticket, the replies) commits once, or not at all.
        """
        with self._transaction(buffered=False) as conn:
            yield conn

    @contextmanager
    def batch(self) -> Iterator[Connection]:
        """A write transaction with group commit (intake/store/buffer.py): fresh rows are held
        and written together before the next statement or at the commit. Many dialog turns
        share one (IntakeService.handle_many); inside an open transaction it simply joins it."""
        with self._transaction(buffered=True) as conn:
            yield conn

    @contextmanager
    def _transaction(self, *, buffered: bool) -> Iterator[Connection]:
        current = _CURRENT.get()
        if current is not None:
            yield current
            return
        with self._writer.begin() as conn:
            token = _CURRENT.set(conn)
            buf = None
            if buffered:
                buf = conn.info[buffer.INFO_KEY] = buffer.RowBuffer(conn)
            try:
                yield conn
                if buf is not None:
                    buf.flush()
            finally:
                if buf is not None:
                    conn.info.pop(buffer.INFO_KEY, None)
                _CURRENT.reset(token)

    @staticmethod
    def _buffered(conn: Connection) -> buffer.RowBuffer | None:
        return buffer.current(conn)

    def _fast(
        self,
        conn: Connection,
        stmt: PreparedSet,
        values: Mapping[str, Any],
        *,
        inserts: str | None = None,
        touches: tuple[Table, int] | Literal["nothing held"] | None = None,
    ) -> list[Any]:
        """A prepared statement on the open transaction's own DBAPI connection: the same SQL,
        parameters and conversions as Core's (intake/store/prepared.py), without SQLAlchemy's
        per-statement execution machinery, which cost several times SQLite's own work on a
        dialog turn's dozen statements.

        Held rows go first, as before any statement, unless the caller says what the statement
        touches: one row (table, id), flushed only when it or an update of its table is held,
        or "nothing held" (a table no row is ever held for, or rows that cannot be held). After
        an insert (``inserts``: its table) the group-commit buffer draws that table's ids anew."""
        buf = self._buffered(conn)
        if buf is not None and (touches is None or (touches != "nothing held" and buf.touches(*touches))):
            buf.flush()
        tx = RawTx(conn.connection, conn.dialect)
        try:
            return stmt.run(tx, values)
        finally:
            tx.close_cursor()
            if buf is not None and inserts is not None:
                buf.after_foreign_insert(inserts)

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        """A connection for reading: the open transaction of this thread when there is one, so a
        read sees what the turn wrote so far."""
        current = _CURRENT.get()
        if current is not None:
            yield current
            return
        with self.engine.connect() as conn:
            yield conn

    # -- addresses ---------------------------------------------------------------------------
    def address_key(self, address: Address) -> str:
        """The sender's blind index. A turn asks for it several times (grouping, locks, the
        guard, its rows): the last few thousand are kept in memory, never stored."""
        key = self._address_keys.get(address)
        if key is None:
            if len(self._address_keys) >= ADDRESS_KEYS_KEPT:
                self._address_keys.clear()
            key = self._address_keys[address] = self.cipher.blind_index(
                f"{address.channel.value}:{address.value}"
            )
        return key

    # -- health --------------------------------------------------------------------------------
    def ping(self) -> None:
        with self._read() as conn:
            conn.execute(select(1)).scalar_one()

    # -- inbound -------------------------------------------------------------------------------
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
        with self.tx() as conn:
            buf = self._buffered(conn)
            if buf is not None and msg.native_id is None:  # nothing it could be a repeat of
                held = buf.add(messages_in, values)
                if job is not None:
                    self._add_fresh_outbox(buf, job, f"{job}:{held}", {"message_id": held})
                return held, True
            new_id = self._insert_new(conn, messages_in, values, ("channel", "native_id"))
            if new_id is None:
                [found] = self._fast(conn, _FAST_INBOUND_BY_NATIVE, _native_of(values))
                return int(found.id), False
            if job is not None:
                # Processed later by a worker; the outbox row commits with the message.
                self.add_outbox(conn, job, f"{job}:{new_id}", {"message_id": new_id})
            return int(new_id), True

    def save_inbound_raw(
        self, tx: RawTx, msg: InboundMessage, *, raw: str, flags: str, job: str
    ) -> tuple[int, bool]:
        """``save_inbound`` with a job, for a channel's hot path (the smtp process stores every
        mail before its 250): the same rows through prepared statements in a ``raw_tx``."""
        values = self._inbound_row(msg, raw, flags, None, None)
        new = _FAST_INBOUND.run(tx, values)
        if not new:  # its native id was seen before (M5): the first row
            [found] = _FAST_INBOUND_BY_NATIVE.run(tx, _native_of(values))
            return int(found.id), False
        new_id = int(new[0].id)
        _FAST_OUTBOX.run(tx, self._outbox_row(job, f"{job}:{new_id}", {"message_id": new_id}))
        return new_id, True

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
        with self.tx() as conn:
            buf = self._buffered(conn)
            if buf is not None:
                buf.update(messages_in, message_id, values)
            else:
                conn.execute(update(messages_in).where(messages_in.c.id == message_id).values(**values))

    def get_inbound(self, message_id: int) -> tuple[InboundMessage, str | None]:
        """The stored message and its raw native form."""
        with self._read() as conn:
            r = conn.execute(select(messages_in).where(messages_in.c.id == message_id)).first()
        if r is None:
            raise NotFound(f"inbound message {message_id} not found")
        msg = InboundMessage(
            address=Address(Channel(r.channel), self.cipher.decrypt(r.address_enc)),
            text=self.cipher.decrypt(r.text_enc),
            received_at=r.received_at,
            native_id=r.native_id,
        )
        return msg, self.cipher.decrypt_opt(r.raw_enc)

    def get_inbound_many(self, message_ids: Sequence[int]) -> dict[int, tuple[InboundMessage, str | None]]:
        """Several stored messages in one query (a worker's group of mails or updates)."""
        if not message_ids:
            return {}
        with self._read() as conn:
            rows = conn.execute(select(messages_in).where(messages_in.c.id.in_(list(message_ids)))).all()
        out = {}
        for r in rows:
            msg = InboundMessage(
                address=Address(Channel(r.channel), self.cipher.decrypt(r.address_enc)),
                text=self.cipher.decrypt(r.text_enc),
                received_at=r.received_at,
                native_id=r.native_id,
            )
            out[r.id] = (msg, self.cipher.decrypt_opt(r.raw_enc))
        missing = set(message_ids) - set(out)
        if missing:
            raise NotFound(f"inbound messages {sorted(missing)} not found")
        return out

    def set_inbound_many(self, parsed: Sequence[tuple[int, Address, str]]) -> None:
        """``set_inbound`` for many messages (id, sender, text) in one statement."""
        if not parsed:
            return
        stmt = (
            update(messages_in)
            .where(messages_in.c.id == bindparam("id_"))
            .values(address_key=bindparam("k"), address_enc=bindparam("a"), text_enc=bindparam("t"))
        )
        rows = [
            {
                "id_": mid,
                "k": self.address_key(address),
                "a": self.cipher.encrypt(address.value),
                "t": self.cipher.encrypt(text),
            }
            for mid, address, text in parsed
        ]
        with self.tx() as conn:
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

    def set_inbound(self, message_id: int, address: Address, text: str) -> None:
        """After a worker parsed the raw message: its sender and text, encrypted as always."""
        with self.tx() as conn:
            conn.execute(
                update(messages_in)
                .where(messages_in.c.id == message_id)
                .values(
                    address_key=self.address_key(address),
                    address_enc=self.cipher.encrypt(address.value),
                    text_enc=self.cipher.encrypt(text),
                )
            )

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

    # -- outbound ------------------------------------------------------------------------------
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
        conn: Connection | None = None,
        fresh: bool = False,
    ) -> tuple[int, bool]:
        """Store a message to send, keyed for idempotency. Returns (id, newly_stored).

        A new pending message gets its delivery job (an outbox row) in the same transaction: a
        message is stored before any send, and none is stored without a job that sends it.
        ``fresh``: the caller knows the key is new (made from a row of this transaction), so in
        a group-commit transaction the row is held and written with the others.
        """
        now = self.clock.now()
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
            "next_attempt_at": now if state is DeliveryState.PENDING else None,
            "delivered_at": now if state is DeliveryState.DELIVERED else None,
        }
        with self.tx() if conn is None else nullcontext(conn) as c:
            buf = self._buffered(c) if fresh else None
            if buf is not None:
                values.update(attempts=0, last_error=None, provider_id=None)
                oid = buf.add(messages_out, values)
                if state is DeliveryState.PENDING:
                    self._add_fresh_outbox(buf, "deliver", f"deliver:{oid}", {"outbound_id": oid})
                return oid, True
            oid, new = self._insert_outbound(c, values)
            if new and state is DeliveryState.PENDING:
                self.add_outbox(c, "deliver", f"deliver:{oid}", {"outbound_id": oid})
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

    def _insert_new(
        self, conn: Connection, table: Any, values: dict[str, Any], key: str | tuple[str, ...]
    ) -> int | None:
        """``INSERT … ON CONFLICT (key) DO NOTHING RETURNING id``: the new row's id, or None when
        the key (a column, or the columns of a unique index) is there already. The statement is
        built once per dialect, table and column set and executed with bound values (building
        it every time cost a fifth of a dispatch)."""
        # Core fills a column's Python-side default per execution; a prepared insert names it.
        values = {**buffer.scalar_defaults(table), **values}
        cache_key = (table.name, key, tuple(values))
        stmt = self._upserts.get(cache_key)
        if stmt is None:
            stmt = self._upserts[cache_key] = _fast_upsert(table, tuple(values), key)
        rows = self._fast(conn, stmt, values, inserts=table.name)
        return int(rows[0].id) if rows else None

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
        self, conn: Connection, items: Sequence[tuple[Address, str, str, str, int | None]]
    ) -> dict[str, int]:
        """Store many messages at once: (address, text, key, kind, ticket id) each; a key already
        stored is left alone. Returns key → id of the rows created now (for a fan-out: one
        statement per chunk instead of one transaction per message)."""
        if not items:
            return {}
        now = self.clock.now()
        rows = [
            self._pending_outbound(address, text, key, kind, ticket_id, now)
            for address, text, key, kind, ticket_id in items
        ]
        keys = [r["idempotency_key"] for r in rows]
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

    def mark_delivered_many(self, conn: Connection, ids: Sequence[int]) -> int:
        """Settle many pending rows as delivered in one statement; settled rows stay as they are."""
        if not ids:
            return 0
        res = conn.execute(
            update(messages_out)
            .where(messages_out.c.id.in_(list(ids)), messages_out.c.state == DeliveryState.PENDING.value)
            .values(
                state=DeliveryState.DELIVERED.value,
                attempts=messages_out.c.attempts + 1,
                delivered_at=self.clock.now(),
            )
        )
        return int(res.rowcount)

    def defer(self, conn: Connection, outbound_id: int, retry_at: datetime, error: str) -> None:
        """A pending row that was refused for now: counted as an attempt, retried at ``retry_at``."""
        conn.execute(
            update(messages_out)
            .where(messages_out.c.id == outbound_id, messages_out.c.state == DeliveryState.PENDING.value)
            .values(attempts=messages_out.c.attempts + 1, last_error=error, next_attempt_at=retry_at)
        )

    def get_tickets(self, ids: Sequence[int], *, conn: Connection | None = None) -> list[StoredTicket]:
        q = select(tickets).where(tickets.c.id.in_(list(ids))).order_by(tickets.c.id)
        if conn is not None:
            return [self._ticket(r) for r in conn.execute(q).all()]
        with self._read() as c:
            return [self._ticket(r) for r in c.execute(q).all()]

    def outbox_payload(self, key: str) -> Mapping[str, Any]:
        with self._read() as conn:
            raw = conn.execute(select(outbox.c.payload).where(outbox.c.key == key)).scalar_one_or_none()
        if raw is None:
            raise NotFound(f"outbox row {key} not found")
        payload: Mapping[str, Any] = json.loads(raw)
        return payload

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

    def outbound_by_state(self, state: DeliveryState, limit: int = 100) -> list[StoredOutbound]:
        with self._read() as conn:
            rows = conn.execute(
                select(messages_out)
                .where(messages_out.c.state == state.value)
                .order_by(messages_out.c.id)
                .limit(limit)
            ).all()
        return [self._outbound(r) for r in rows]

    def due_outbound(self, now: datetime, limit: int = 500) -> list[int]:
        with self._read() as conn:
            rows = conn.execute(
                select(messages_out.c.id)
                .where(
                    messages_out.c.state == DeliveryState.PENDING.value,
                    or_(messages_out.c.next_attempt_at.is_(None), messages_out.c.next_attempt_at <= now),
                )
                .order_by(messages_out.c.id)
                .limit(limit)
            ).all()
        return [r.id for r in rows]

    def mark_delivery(
        self,
        outbound_id: int,
        state: DeliveryState,
        *,
        error: str | None = None,
        provider_id: str | None = None,
        retry_at: datetime | None = None,
    ) -> bool:
        """Record a delivery attempt. Only a pending row changes: a second worker finishing the
        same message finds it already settled and does nothing (never delivered twice)."""
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
        with self.tx() as conn:
            res = conn.execute(
                update(messages_out)
                .where(
                    messages_out.c.id == outbound_id,
                    messages_out.c.state == DeliveryState.PENDING.value,
                )
                .values(**values)
            )
            return bool(res.rowcount)

    # -- tickets -------------------------------------------------------------------------------
    def _split_values(self, values: Mapping[Field, str]) -> tuple[str | None, str | None]:
        contact = {f.value: v for f, v in values.items() if f in CONTACT_FIELDS}
        other = {f.value: v for f, v in values.items() if f not in CONTACT_FIELDS}
        return (
            self.cipher.encrypt_json(contact) if contact else None,
            self.cipher.encrypt_json(other) if other else None,
        )

    def create_ticket(self, draft: TicketDraft, *, conn: Connection | None = None) -> int:
        now = self.clock.now()
        contact_enc, fields_enc = self._split_values(draft.values)
        values = {
            "status": draft.status.value,
            "category": draft.category,
            "channel": draft.channel.value,
            "address_key": self.address_key(draft.address),
            "address_enc": self.cipher.encrypt(draft.address.value),
            "policy": draft.policy,
            "urgent_class": draft.urgent_class,
            "anonymous": draft.anonymous,
            "hidden_fields": ",".join(sorted(f.value for f in draft.hidden)),
            "contact_enc": contact_enc,
            "fields_enc": fields_enc,
            "created_at": now,
            "updated_at": now,
            "version": 1,
            "reason": draft.reason,
            "supplement_due_at": draft.supplement_due_at,
        }
        with self.tx() if conn is None else nullcontext(conn) as c:
            buf = self._buffered(c)
            if buf is not None:  # a new ticket conflicts with nothing (its number comes later)
                return buf.add(tickets, values)
            pk = c.execute(insert(tickets).values(**values)).inserted_primary_key
        assert pk is not None
        return int(pk[0])

    def update_ticket(self, ticket_id: int, *, conn: Connection | None = None, **changes: Any) -> None:
        """Update columns; ``values=`` (a Field→str mapping) replaces the encrypted fields."""
        row: dict[str, Any] = {"updated_at": self.clock.now()}
        for k, v in changes.items():
            if k == "values":
                row["contact_enc"], row["fields_enc"] = self._split_values(v)
            elif k == "hidden":
                row["hidden_fields"] = ",".join(sorted(f.value for f in v))
            elif k == "status":
                row["status"] = TicketStatus(v).value
            else:
                row[k] = v
        with self.tx() if conn is None else nullcontext(conn) as c:
            buf = self._buffered(c)
            held = buf.held(tickets, ticket_id) if buf is not None else None
            if held is not None:  # a ticket created in this group commit: change the held row
                held.update(row)
                held["version"] += 1
                return
            # One statement per column set, built once and executed with bound values.
            columns = tuple(sorted(row))
            stmt = self._ticket_updates.get(columns)
            if stmt is None:
                stmt = self._ticket_updates[columns] = _ticket_update(*columns)
            self._fast(c, stmt, {**row, "ticket_id_": ticket_id}, touches=(tickets, ticket_id))

    def claim_status(self, ticket_id: int, was: TicketStatus, to: TicketStatus, **values: Any) -> bool:
        """Move a ticket from ``was`` to ``to`` in one conditional UPDATE: True for the one caller
        whose UPDATE matched (a timer fires once even with several workers)."""
        with self.tx() as conn:
            res = conn.execute(
                update(tickets)
                .where(tickets.c.id == ticket_id, tickets.c.status == was.value)
                .values(status=to.value, updated_at=self.clock.now(), version=tickets.c.version + 1, **values)
            )
            return bool(res.rowcount)

    def lock_status(self, conn: Connection, ticket_id: int) -> TicketStatus:
        """The ticket's status, its row locked until ``conn`` commits (FOR UPDATE where it exists)."""
        status = conn.execute(
            select(tickets.c.status).where(tickets.c.id == ticket_id).with_for_update()
        ).scalar_one()
        return TicketStatus(status)

    def ticket_ids(
        self,
        status: TicketStatus | Sequence[TicketStatus],
        *,
        due: str | None = None,
        now: datetime | None = None,
    ) -> list[int]:
        """Tickets in ``status`` (one or several), oldest first; with ``due`` (a deadline column:
        supplement_due_at, evaluation_due_at), only those whose ``due`` passed by ``now``."""
        wanted = [status] if isinstance(status, TicketStatus) else list(status)
        where: list[ColumnElement[bool]] = [tickets.c.status.in_([s.value for s in wanted])]
        if due is not None:
            column = tickets.c[due]
            where += [column.is_not(None), column <= (now or self.clock.now())]
        with self._read() as conn:
            return list(conn.execute(select(tickets.c.id).where(*where).order_by(tickets.c.id)).scalars())

    def next_number(self, conn: Connection, when: datetime) -> str:
        """A human-friendly, sortable number unique across processes: ``20261121-000123``.

        One counter row per Shanghai day, bumped with an atomic upsert in the caller's
        transaction, so two processes never draw the same number.
        """
        day = when.astimezone(SHANGHAI).strftime("%Y%m%d")
        [row] = self._fast(
            conn, _FAST_NEXT_NUMBER, {"name_": f"ticket:{day}"}, inserts="counters", touches="nothing held"
        )
        return f"{day}-{int(row.value):06d}"

    def register(
        self,
        ticket_id: int,
        *,
        deadline: datetime | None,
        deadline_provisional: bool,
        actor: str = "citizen",
        extra: Mapping[str, Any] | None = None,
    ) -> str:
        """Give a draft its number, status ``registered``, the event and the dispatch outbox row,
        all in one transaction (ARCHITECTURE.md step 3)."""
        now = self.clock.now()
        with self.tx() as conn:
            found = self._fast(
                conn, _FAST_NUMBER_AND_STATUS, {"ticket_id_": ticket_id}, touches=(tickets, ticket_id)
            )
            current = found[0] if found else None
            if current is None:
                raise NotFound(f"ticket {ticket_id} not found")
            if current.number is not None:
                return str(current.number)
            number = self.next_number(conn, now)
            self.update_ticket(
                ticket_id,
                conn=conn,
                number=number,
                status=TicketStatus.REGISTERED,
                registered_at=now,
                deadline=deadline,
                deadline_provisional=deadline_provisional,
                supplement_due_at=None,
                **dict(extra or {}),
            )
            self.add_event(conn, ticket_id, "registered", actor, {})
            # Numbering and this job commit together, and only here: the key cannot be taken.
            job = ("dispatch", f"dispatch:{ticket_id}", {"ticket_id": ticket_id})
            buf = self._buffered(conn)
            if buf is not None:
                self._add_fresh_outbox(buf, *job)
            else:
                self.add_outbox(conn, *job)
        return number

    def _open_json(self, token: str | None, ticket_id: int) -> dict[str, str]:
        """Decrypted JSON of a ticket, or {} when the row cannot be read (a wrong key, a damaged
        value): one bad row must not take the API or the console down; the log says which."""
        try:
            value = self.cipher.decrypt_json(token)
        except (ValueError, InvalidTag, binascii.Error):
            log.error("ticket %s: personal fields cannot be decrypted (wrong key or damaged row)", ticket_id)
            return {}
        return dict(value or {})

    def _ticket(self, r: Row[Any]) -> StoredTicket:
        contact = self._open_json(r.contact_enc, r.id)
        other = self._open_json(r.fields_enc, r.id)
        return StoredTicket(
            id=r.id,
            number=r.number,
            status=TicketStatus(r.status),
            category=r.category,
            channel=Channel(r.channel),
            address=Address(Channel(r.channel), self.cipher.decrypt(r.address_enc)),
            policy=r.policy,
            urgent_class=r.urgent_class,
            address_key=r.address_key,
            anonymous=bool(r.anonymous),
            hidden=frozenset(Field(x) for x in r.hidden_fields.split(",") if x),
            contact={Field(k): v for k, v in contact.items()},
            fields={Field(k): v for k, v in other.items()},
            unit=r.unit,
            helper_units=tuple(x for x in (r.helper_units or "").split(",") if x),
            deadline=r.deadline,
            deadline_provisional=bool(r.deadline_provisional),
            supplement_due_at=r.supplement_due_at,
            evaluation_due_at=r.evaluation_due_at,
            extensions=r.extensions,
            rehandling_round=r.rehandling_round,
            returns=r.returns,
            warning=r.warning,
            reason=r.reason,
            cluster=r.cluster,
            created_at=r.created_at,
            registered_at=r.registered_at,
            updated_at=r.updated_at,
            version=r.version,
        )

    def get_ticket(self, ticket_id: int) -> StoredTicket:
        with self._read() as conn:
            r = conn.execute(select(tickets).where(tickets.c.id == ticket_id)).first()
        if r is None:
            raise NotFound(f"ticket {ticket_id} not found")
        return self._ticket(r)

    def find_ticket(self, number: str) -> StoredTicket:
        with self._read() as conn:
            r = conn.execute(select(tickets).where(tickets.c.number == number)).first()
        if r is None:
            raise NotFound(f"ticket {number} not found")
        return self._ticket(r)

    def ticket_briefs(
        self, address_keys: Sequence[str], statuses: Iterable[TicketStatus]
    ) -> dict[str, list[TicketBrief]]:
        """Tickets of many senders in these statuses, in one query, oldest first per sender,
        without the personal columns (nothing to decrypt): numbered ones, and drafts (status
        ``collecting``). What a dialog turn needs to know of a sender's tickets."""
        if not address_keys:
            return {}
        stmt = self._briefs_stmt
        if stmt is None:
            stmt = self._briefs_stmt = (
                select(
                    tickets.c.id,
                    tickets.c.address_key,
                    tickets.c.number,
                    tickets.c.status,
                    tickets.c.category,
                    tickets.c.deadline,
                )
                .where(
                    tickets.c.address_key.in_(bindparam("keys", expanding=True)),
                    tickets.c.status.in_(bindparam("statuses", expanding=True)),
                    or_(tickets.c.number.is_not(None), tickets.c.status == TicketStatus.COLLECTING.value),
                )
                .order_by(tickets.c.id)
            )
        out: dict[str, list[TicketBrief]] = {k: [] for k in address_keys}
        with self._read() as conn:
            rows = conn.execute(
                stmt, {"keys": list(set(address_keys)), "statuses": [x.value for x in statuses]}
            ).all()
        for r in rows:
            out[r.address_key].append(
                TicketBrief(r.id, r.number, TicketStatus(r.status), r.category, r.deadline)
            )
        return out

    def senders_with(self, address_keys: Sequence[str], status: TicketStatus) -> set[str]:
        """Which of these senders have a numbered ticket in ``status`` (one index-only query,
        however many such tickets each has)."""
        if not address_keys:
            return set()
        stmt = self._senders_stmt
        if stmt is None:
            stmt = self._senders_stmt = (
                select(tickets.c.address_key)
                .where(
                    tickets.c.address_key.in_(bindparam("keys", expanding=True)),
                    tickets.c.status == bindparam("status"),
                    tickets.c.number.is_not(None),
                )
                .distinct()
            )
        with self._read() as conn:
            rows = conn.execute(stmt, {"keys": list(set(address_keys)), "status": status.value})
            return {str(k) for k in rows.scalars()}

    def processed_ids(self, message_ids: Sequence[int]) -> set[int]:
        """Which of these inbound messages a committed turn has handled already."""
        if not message_ids:
            return set()
        with self._read() as conn:
            rows = conn.execute(
                select(messages_in.c.id).where(
                    messages_in.c.id.in_(list(message_ids)), messages_in.c.processed_at.is_not(None)
                )
            ).scalars()
            return {int(x) for x in rows}

    def tickets_for(
        self,
        address: Address,
        statuses: Iterable[TicketStatus] | None = None,
        *,
        numbered: bool = False,
        newest: int | None = None,
    ) -> list[StoredTicket]:
        """One sender's tickets, oldest first; ``numbered``: registered ones only (not drafts nor
        questions answered online); ``newest``: only the last N."""
        q = select(tickets).where(tickets.c.address_key == self.address_key(address))
        if statuses is not None:
            q = q.where(tickets.c.status.in_([s.value for s in statuses]))
        if numbered:
            q = q.where(tickets.c.number.is_not(None))
        q = q.order_by(tickets.c.id.desc())
        if newest is not None:
            q = q.limit(newest)
        with self._read() as conn:
            rows = conn.execute(q).all()
        return [self._ticket(r) for r in reversed(rows)]

    def list_tickets(
        self,
        *,
        status: str | None = None,
        channel: str | None = None,
        since: datetime | None = None,
        before_id: int | None = None,
        limit: int = 100,
        numbered_only: bool = True,
    ) -> list[StoredTicket]:
        conds: list[ColumnElement[bool]] = []
        if numbered_only:
            conds.append(tickets.c.number.is_not(None))
        if status:
            conds.append(tickets.c.status == status)
        if channel:
            conds.append(tickets.c.channel == channel)
        if since:
            conds.append(tickets.c.created_at >= since)
        if before_id:
            conds.append(tickets.c.id < before_id)
        q = select(tickets).where(and_(*conds)).order_by(tickets.c.id.desc()).limit(limit)
        with self._read() as conn:
            rows = conn.execute(q).all()
        return [self._ticket(r) for r in rows]

    def open_at_place(
        self, category: str, place_key: str, since: datetime, limit: int = 200
    ) -> Iterator[PlaceTicket]:
        """Registered, still-open tickets of one category about one place (its keyed hash),
        created since ``since``, oldest first: the near-duplicate search reads a handful of rows
        by the place index, not the city's open tickets. Only what the comparison needs is read,
        and each ticket's fields are decrypted only when the caller comes to it, so a search
        that stops early pays for what it read."""
        values = {"category_": category, "place_key_": place_key, "since_": since, "limit_": limit}
        with self._read() as conn:
            # A held ticket is nearly always a new draft, and the search looks at numbered ones.
            buf = self._buffered(conn)
            held: Literal["nothing held"] | None = (
                "nothing held" if buf is None or not buf.holds_where(tickets, "number") else None
            )
            rows = self._fast(conn, _OPEN_AT_PLACE, values, touches=held)
        return (
            PlaceTicket(
                r.id,
                r.number,
                r.cluster,
                r.address_key,
                {Field(k): v for k, v in self._open_json(r.fields_enc, r.id).items()},
            )
            for r in rows
        )

    def unkeyed_open(self, limit: int) -> list[StoredTicket]:
        """Open numbered tickets without a place key (registered before places were keyed)."""
        with self._read() as conn:
            rows = conn.execute(
                select(tickets)
                .where(
                    tickets.c.place_key.is_(None),
                    tickets.c.number.is_not(None),
                    tickets.c.status.in_([s.value for s in TicketStatus if s.is_open]),
                )
                .order_by(tickets.c.id)
                .limit(limit)
            ).all()
        return [self._ticket(r) for r in rows]

    def place_key(self, place: str) -> str:
        """The keyed hash a place is looked up by (never the place itself: it can be a home)."""
        return self.cipher.blind_index("place:" + place)

    # -- events --------------------------------------------------------------------------------
    def add_event(
        self,
        conn: Connection,
        ticket_id: int,
        type_: str,
        actor: str,
        data: Mapping[str, Any],
        *,
        key: str | None = None,
    ) -> bool:
        """Append an event; with a key, a repeat is a no-op (returns False)."""
        values = {
            "ticket_id": ticket_id,
            "type": type_,
            "actor": actor,
            "at": self.clock.now(),
            "data": json.dumps(dict(data), ensure_ascii=False, default=str),
            "idempotency_key": key,
        }
        if key is None:
            buf = self._buffered(conn)
            if buf is not None:
                buf.add(ticket_events, values)
            else:
                conn.execute(insert(ticket_events).values(**values))
            return True
        return self._insert_new(conn, ticket_events, values, "idempotency_key") is not None

    def event_exists(self, conn: Connection, key: str) -> bool:
        found = conn.execute(select(ticket_events.c.id).where(ticket_events.c.idempotency_key == key)).first()
        return found is not None

    def last_event_id(self, conn: Connection, key: str) -> int:
        return int(
            conn.execute(
                select(ticket_events.c.id).where(ticket_events.c.idempotency_key == key)
            ).scalar_one()
        )

    def get_event(self, event_id: int) -> tuple[int, StoredEvent]:
        """(ticket id, event)."""
        with self._read() as conn:
            r = conn.execute(select(ticket_events).where(ticket_events.c.id == event_id)).first()
        if r is None:
            raise NotFound(f"event {event_id} not found")
        return r.ticket_id, StoredEvent(r.id, r.type, r.actor, r.at, json.loads(r.data))

    def events(self, ticket_id: int, *, conn: Connection | None = None) -> list[StoredEvent]:
        q = select(ticket_events).where(ticket_events.c.ticket_id == ticket_id).order_by(ticket_events.c.id)
        if conn is not None:
            rows = conn.execute(q).all()
        else:
            with self._read() as c:
                rows = c.execute(q).all()
        return [StoredEvent(r.id, r.type, r.actor, r.at, json.loads(r.data)) for r in rows]

    # -- evaluations ---------------------------------------------------------------------------
    def record_evaluation(
        self, conn: Connection, ticket_id: int, round_: int, level: str | None, source: str
    ) -> bool:
        values = {
            "ticket_id": ticket_id,
            "round": round_,
            "level": level,
            "at": self.clock.now(),
            "source": source,
        }
        try:
            with conn.begin_nested():
                conn.execute(insert(evaluations).values(**values))
        except IntegrityError:
            return False
        return True

    def evaluation(self, ticket_id: int) -> tuple[str | None, int] | None:
        with self._read() as conn:
            r = conn.execute(
                select(evaluations.c.level, evaluations.c.round)
                .where(evaluations.c.ticket_id == ticket_id)
                .order_by(evaluations.c.round.desc())
                .limit(1)
            ).first()
        return None if r is None else (r.level, r.round)

    # -- outbox --------------------------------------------------------------------------------
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

    def add_outbox(self, conn: Connection, job: str, key: str, payload: Mapping[str, Any]) -> bool:
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
                    outbox.c.attempts < max_attempts,
                    or_(outbox.c.enqueued_at.is_(None), outbox.c.enqueued_at < now - stale_after),
                )
                .order_by(outbox.c.id)
                .limit(limit)
            ).all()
        return [OutboxJob(r.id, r.job, r.key, json.loads(r.payload), r.attempts) for r in rows]

    def outbox_error(self, key: str, error: str) -> None:
        with self.tx() as conn:
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

    def mark_enqueued(self, ids: Sequence[int]) -> None:
        if not ids:
            return
        with self.tx() as conn:
            conn.execute(
                update(outbox)
                .where(outbox.c.id.in_(list(ids)))
                .values(enqueued_at=self.clock.now(), attempts=outbox.c.attempts + 1)
            )

    def mark_done_many(self, keys: Sequence[str]) -> None:
        if not keys:
            return
        now = self.clock.now()
        with self.tx() as conn:
            conn.execute(_MARK_DONE, [{"key_": k, "done_at": now, "last_error": None} for k in keys])

    def mark_done(self, key: str, *, conn: Connection | None = None, error: str | None = None) -> None:
        with self.tx() if conn is None else nullcontext(conn) as c:
            c.execute(_MARK_DONE, {"key_": key, "done_at": self.clock.now(), "last_error": error})

    # -- restrictions (huizhou §8) ------------------------------------------------------------
    def restrict(self, address: Address, until: datetime, reason: str) -> int:
        with self.tx() as conn:
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
        with self.tx() as conn:
            res = conn.execute(
                update(restrictions)
                .where(restrictions.c.id == restriction_id, restrictions.c.lifted_at.is_(None))
                .values(lifted_at=self.clock.now(), lifted_by=agent)
            )
        return bool(res.rowcount)

    # -- audit ---------------------------------------------------------------------------------
    def audit(self, actor: str, action: str, target: str | None = None, detail: str | None = None) -> None:
        with self.tx() as conn:
            conn.execute(
                insert(audit_log).values(
                    at=self.clock.now(), actor=actor, action=action, target=target, detail=detail
                )
            )

    # -- dispatch fast path ----------------------------------------------------------------------
    # The dispatch job (worker/dispatch.py) is one short write transaction per ticket. It runs on
    # the pooled DBAPI connection with statements prepared once (intake/store/prepared.py): the
    # same SQL, parameters and type conversion as Core, without Core's per-statement machinery,
    # which cost more than SQLite's own work (bench/dispatch_bench.py).

    @contextmanager
    def raw_tx(self) -> Iterator[RawTx]:
        """A write transaction for the methods below: committed when the block ends, rolled back
        when it raises. Never inside ``tx()`` (on SQLite each would wait for the other's lock)."""
        if _CURRENT.get() is not None:
            raise RuntimeError("raw_tx() inside an open store transaction")
        tx = RawTx(self.engine.raw_connection(), self.engine.dialect)
        try:
            if tx.dialect.name == "sqlite":
                tx.execute("BEGIN IMMEDIATE")  # a writer takes the lock up front, as tx() does
            yield tx
            tx.commit()
        except BaseException:
            tx.rollback()
            raise
        finally:
            tx.release()

    def lock_ticket(self, tx: RawTx, ticket_id: int) -> StoredTicket | None:
        """The ticket, its row locked for the transaction (FOR UPDATE on PostgreSQL; on SQLite
        BEGIN IMMEDIATE holds the write lock already), or None."""
        rows = _FAST_LOCK_TICKET.run(tx, {"ticket_id_": ticket_id})
        return self._ticket(rows[0]) if rows else None

    def locked_events(self, tx: RawTx, ticket_id: int) -> list[StoredEvent]:
        """``events()`` inside a ``raw_tx``."""
        rows = _FAST_EVENTS.run(tx, {"ticket_id_": ticket_id})
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
        _FAST_DISPATCH_TICKET.run(
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
            new = _FAST_OUTBOUND.run(tx, self._pending_outbound(address, text, key, kind, ticket_id, now))
            if new:  # a repeat finds the message stored, and its job with it
                oid = int(new[0].id)
                _FAST_OUTBOX.run(tx, self._outbox_row("deliver", f"deliver:{oid}", {"outbound_id": oid}))
        self.close_step(tx, step_key, now)

    def record_manual_routing(
        self, tx: RawTx, ticket_id: int, *, step_key: str, now: datetime, queue: str
    ) -> None:
        """No rule matched: the ticket waits in the manual ``queue`` agents see; the step is done."""
        _FAST_TICKET_UNIT.run(tx, {"ticket_id_": ticket_id, "unit": queue, "updated_at": now})
        self._fast_event(tx, ticket_id, "manual_routing", {"queue": queue}, f"manual:{step_key}", now)
        self.close_step(tx, step_key, now)

    def close_step(self, tx: RawTx, key: str, now: datetime) -> None:
        """``mark_done`` inside a ``raw_tx``."""
        _FAST_MARK_DONE.run(tx, {"key_": key, "done_at": now, "last_error": None})

    def _fast_event(
        self, tx: RawTx, ticket_id: int, type_: str, data: Mapping[str, Any], key: str, now: datetime
    ) -> None:
        _FAST_EVENT.run(
            tx,
            {
                "ticket_id": ticket_id,
                "type": type_,
                "actor": "system",
                "at": now,
                "data": _EVENT_JSON.encode(dict(data)),  # as add_event writes it
                "idempotency_key": key,
            },
        )


@functools.cache
def _fast_upsert(table: Any, columns: Sequence[str], key: str | tuple[str, ...]) -> PreparedSet:
    """``INSERT … ON CONFLICT (key) DO NOTHING RETURNING id``, prepared."""

    def build(dialect: Dialect) -> Any:
        dialect_insert = postgresql.insert if dialect.name == "postgresql" else sqlite.insert
        return (
            dialect_insert(table)
            .values({c: bindparam(c, type_=table.c[c].type) for c in columns})
            .on_conflict_do_nothing(index_elements=[key] if isinstance(key, str) else list(key))
            .returning(table.c.id)
        )

    return PreparedSet(build)


def _ticket_update(*columns: str) -> PreparedSet:
    return PreparedSet(
        lambda _d: (
            update(tickets)
            .where(tickets.c.id == bindparam("ticket_id_"))
            .values({c: bindparam(c, type_=tickets.c[c].type) for c in columns})
            .values(version=tickets.c.version + 1)
        )
    )


def _words_in(column: Any, words: Sequence[str]) -> Any:
    """``column IN ('a', 'b')`` written into the SQL (a prepared statement takes no list
    parameter); only for the product's own status words."""
    assert all(w.replace("_", "").isalnum() and w.isascii() for w in words), words
    return column.in_([literal_column(f"'{w}'") for w in words])


_OPEN_AT_PLACE = PreparedSet(
    lambda _d: (
        select(tickets.c.id, tickets.c.number, tickets.c.cluster, tickets.c.address_key, tickets.c.fields_enc)
        .where(
            tickets.c.category == bindparam("category_"),
            tickets.c.place_key == bindparam("place_key_"),
            tickets.c.number.is_not(None),
            _words_in(tickets.c.status, [s.value for s in TicketStatus if s.is_open]),
            tickets.c.created_at >= bindparam("since_", type_=tickets.c.created_at.type),
        )
        # SQLite has no statistics to prefer the place index over the status one by itself.
        .with_hint(tickets, "INDEXED BY ix_tickets_place_key", "sqlite")
        .order_by(tickets.c.id)
        .limit(bindparam("limit_"))
    )
)
_FAST_NUMBER_AND_STATUS = PreparedSet(
    lambda _d: select(tickets.c.number, tickets.c.status).where(tickets.c.id == bindparam("ticket_id_"))
)


def _next_number_stmt(dialect: Dialect) -> Any:
    dialect_insert = postgresql.insert if dialect.name == "postgresql" else sqlite.insert
    return (
        dialect_insert(counters)
        .values(name=bindparam("name_"), value=1)
        .on_conflict_do_update(index_elements=["name"], set_={"value": counters.c.value + 1})
        .returning(counters.c.value)
    )


_FAST_NEXT_NUMBER = PreparedSet(_next_number_stmt)
_EVENT_JSON = json.JSONEncoder(ensure_ascii=False, default=str)
_FAST_LOCK_TICKET = PreparedSet(
    lambda _d: select(tickets).where(tickets.c.id == bindparam("ticket_id_")).with_for_update()
)
_FAST_EVENTS = PreparedSet(
    lambda _d: (
        select(ticket_events)
        .where(ticket_events.c.ticket_id == bindparam("ticket_id_"))
        .order_by(ticket_events.c.id)
    )
)
_FAST_DISPATCH_TICKET = _ticket_update(
    "status", "unit", "helper_units", "deadline", "deadline_provisional", "updated_at"
)
_FAST_TICKET_UNIT = _ticket_update("unit", "updated_at")
_FAST_EVENT = _fast_upsert(
    ticket_events, ("ticket_id", "type", "actor", "at", "data", "idempotency_key"), "idempotency_key"
)
_FAST_OUTBOUND = _fast_upsert(
    messages_out,
    (
        "idempotency_key",
        "channel",
        "address_key",
        "address_enc",
        "text_enc",
        "choices",
        "subject",
        "kind",
        "ticket_id",
        "state",
        "attempts",
        "created_at",
        "next_attempt_at",
        "delivered_at",
    ),
    "idempotency_key",
)
_FAST_OUTBOX = _fast_upsert(outbox, ("job", "key", "payload", "created_at", "attempts"), "key")
_INBOUND_COLUMNS = (
    "channel",
    "address_key",
    "address_enc",
    "text_enc",
    "raw_enc",
    "native_id",
    "received_at",
    "flags",
    "processed_at",
    "ticket_id",
)
_FAST_INBOUND = _fast_upsert(messages_in, _INBOUND_COLUMNS, ("channel", "native_id"))


def _native_of(row: Mapping[str, Any]) -> dict[str, Any]:
    """What finds the first row of a ``messages_in`` row's native id."""
    return {"channel_": row["channel"], "native_id_": row["native_id"]}


_FAST_INBOUND_BY_NATIVE = PreparedSet(
    lambda _d: select(messages_in.c.id).where(
        messages_in.c.channel == bindparam("channel_"), messages_in.c.native_id == bindparam("native_id_")
    )
)
_FAST_MARK_DONE = PreparedSet(lambda _d: _MARK_DONE)
