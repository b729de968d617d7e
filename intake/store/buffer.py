"""Group commit: fresh rows held in the open transaction and written with one executemany per
table, just before the next statement runs or at the commit.

Only inserts that cannot conflict are buffered (a new ticket, an event without a key, a message
without a native id, a reply keyed by a message stored in the same transaction), so holding them
changes no result. Their ids are drawn up front: on SQLite from ``max(id)`` under the write lock
the transaction holds since ``BEGIN IMMEDIATE``; on PostgreSQL from the table's own sequence. Any
other statement on the connection flushes the buffer first, so reads see every row written
before them, in order (RELIABILITY.md: a turn commits whole or not at all).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Table, bindparam, event, func, insert, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.sql.dml import Insert

from intake.store.schema import messages_in, messages_out, outbox, ticket_events, tickets

INFO_KEY = "hotline_buffer"
# Parents before children (foreign keys are enforced on SQLite too).
FLUSH_ORDER = (tickets, ticket_events, messages_in, messages_out, outbox)
_TOPS = select(*(select(func.coalesce(func.max(t.c.id), 0)).scalar_subquery() for t in FLUSH_ORDER))
PG_CHUNK = 16  # ids drawn from a PostgreSQL sequence at a time; unused ones are gaps


class RowBuffer:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.rows: dict[str, list[dict[str, Any]]] = {}
        self.updates: list[tuple[Table, int, dict[str, Any]]] = []
        self._next: dict[str, int] = {}  # SQLite: the next free id per table
        self._pool: dict[str, list[int]] = {}  # PostgreSQL: ids drawn from the sequence
        self.flushing = False

    def add(self, table: Table, row: dict[str, Any]) -> int:
        """Hold one row; returns the id it will have."""
        new_id = self._draw(table)
        self.rows.setdefault(table.name, []).append({"id": new_id, **row})
        return new_id

    def update(self, table: Table, row_id: int, values: dict[str, Any]) -> None:
        """Hold an update of one row by id (written after the held inserts, in order)."""
        self.updates.append((table, row_id, values))

    def _draw(self, table: Table) -> int:
        name = table.name
        if self.conn.dialect.name == "postgresql":
            pool = self._pool.setdefault(name, [])
            if not pool:
                seq = self.conn.execute(
                    select(func.nextval(func.pg_get_serial_sequence(name, "id"))).select_from(
                        func.generate_series(1, PG_CHUNK)
                    )
                ).scalars()
                pool.extend(sorted(seq, reverse=True))
            return pool.pop()
        if name not in self._next:
            # Every table's top id in one statement: the write lock is ours, nobody else inserts.
            tops = self.conn.execute(_TOPS).one()
            for t, top in zip(FLUSH_ORDER, tops, strict=True):
                self._next.setdefault(t.name, int(top) + 1)
        new_id = self._next[name]
        self._next[name] = new_id + 1
        return new_id

    def flush(self) -> None:
        if (not self.rows and not self.updates) or self.flushing:
            return
        pending, self.rows = self.rows, {}
        updates, self.updates = self.updates, []
        self.flushing = True
        try:
            for table in FLUSH_ORDER:
                rows = pending.pop(table.name, None)
                if rows:
                    for group in _by_columns(rows):
                        self.conn.execute(insert(table), group)
            assert not pending, f"no flush order for {sorted(pending)}"
            # Consecutive updates of one table and column set go in one executemany.
            run: list[dict[str, Any]] = []
            shape: tuple[Table, tuple[str, ...]] | None = None
            for table, row_id, values in updates:
                this = (table, tuple(values))
                if this != shape and run:
                    self.conn.execute(_update_stmt(*shape), run)  # type: ignore[misc]
                    run = []
                shape = this
                run.append({"id_": row_id, **values})
            if run and shape is not None:
                self.conn.execute(_update_stmt(*shape), run)
        finally:
            self.flushing = False

    def after_foreign_insert(self, table_name: str | None) -> None:
        """Another statement inserted with the database's own ids: draw again from max(id)."""
        if table_name is None:
            self._next.clear()
        else:
            self._next.pop(table_name, None)


_UPDATES: dict[tuple[str, tuple[str, ...]], Any] = {}


def _update_stmt(table: Table, columns: tuple[str, ...]) -> Any:
    stmt = _UPDATES.get((table.name, columns))
    if stmt is None:
        stmt = _UPDATES[(table.name, columns)] = (
            update(table)
            .where(table.c.id == bindparam("id_"))
            .values({c: bindparam(c, type_=table.c[c].type) for c in columns})
        )
    return stmt


def _by_columns(rows: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """executemany wants one column set; keep the order of rows within each set."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault(tuple(r), []).append(r)
    return list(groups.values())


def current(conn: Connection) -> RowBuffer | None:
    buf = conn.info.get(INFO_KEY)
    return buf if isinstance(buf, RowBuffer) else None


def install(engine: Engine) -> None:
    """Flush a connection's buffer before any other statement it runs (once per engine)."""
    if engine.__dict__.get("_hotline_buffer_hook"):
        return
    engine.__dict__["_hotline_buffer_hook"] = True

    @event.listens_for(engine, "before_execute")
    def _before(conn: Connection, clause: Any, *_args: Any) -> None:
        buf = conn.info.get(INFO_KEY)
        if not isinstance(buf, RowBuffer) or buf.flushing:
            return
        buf.flush()
        # Updates and deletes never raise max(id); an insert or raw SQL may.
        if isinstance(clause, Insert):
            buf.after_foreign_insert(clause.table.name)
        elif isinstance(clause, str):
            buf.after_foreign_insert(None)
