"""The store's unit of work (intake/store/sql.py composes the families of tables on it)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Literal

from sqlalchemy import (
    Connection,
    Engine,
    Table,
    select,
)

from intake.clock import Clock
from intake.crypto import Cipher
from intake.model import Address
from intake.store import buffer
from intake.store.prepared import PreparedSet, RawTx
from intake.store.statements import fast_upsert

ADDRESS_KEYS_KEPT = 4096
_CURRENT: ContextVar[Connection | None] = ContextVar("hotline_sql_transaction", default=None)


class StoreBase:
    """What every family of tables shares: the engine, the cipher and the clock; the one unit
    of work (``tx``) that every store call of the thread joins; reads that see it; and, private
    to the store, the statements run on its connection without Core's per-statement machinery
    (``_fast``) and a transaction of prepared statements alone (``_raw_tx``)."""

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
    def tx(self) -> Iterator[None]:
        """The store's one unit of work: a write transaction that every store call of this
        thread joins until the block ends, so what happens inside commits once, or not at all
        (a dialog turn: the message, the draft, the ticket, the replies; a group of turns:
        IntakeService.handle_many). A store call outside one opens its own.

        Inside, fresh rows are held and written together (group commit, intake/store/buffer.py)
        before the next statement that could see them or at the commit; on SQLite the write
        lock is taken at BEGIN."""
        with self._write():
            yield

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """The open unit of work's connection, or a new unit of work for this call alone; either
        holds its fresh rows in a RowBuffer (``_held``)."""
        current = _CURRENT.get()
        if current is not None:
            yield current
            return
        with self._writer.begin() as conn:
            token = _CURRENT.set(conn)
            buf = conn.info[buffer.INFO_KEY] = buffer.RowBuffer(conn)
            try:
                yield conn
                buf.flush()
            finally:
                conn.info.pop(buffer.INFO_KEY, None)
                _CURRENT.reset(token)

    @contextmanager
    def _raw_tx(self) -> Iterator[RawTx]:
        """A unit of work on the pooled DBAPI connection, for a method whose every statement is
        prepared (a mail stored before its 250: MessageStore.save_inbound_mails), committed when
        the block ends, rolled back when it raises. Never inside ``tx()`` (on SQLite each would
        wait for the other's lock)."""
        if _CURRENT.get() is not None:
            raise RuntimeError("a prepared-statement transaction inside an open store transaction")
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

    @staticmethod
    def _buffered(conn: Connection) -> buffer.RowBuffer | None:
        """The rows a connection holds: a unit of work's, or None for a plain read."""
        return buffer.current(conn)

    @staticmethod
    def _held(conn: Connection) -> buffer.RowBuffer:
        """The rows of the unit of work ``conn`` belongs to (every ``_write`` has them)."""
        buf = buffer.current(conn)
        assert buf is not None, "a write outside the store's unit of work"
        return buf

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

    def ping(self) -> None:
        with self._read() as conn:
            conn.execute(select(1)).scalar_one()

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
            stmt = self._upserts[cache_key] = fast_upsert(table, tuple(values), key)
        rows = self._fast(conn, stmt, values, inserts=table.name)
        return int(rows[0].id) if rows else None
