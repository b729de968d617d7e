"""Group commit: fresh rows held in the open transaction and written with one executemany per
table, just before the next statement runs or at the commit.

Only inserts that cannot conflict are buffered (a new ticket, an event without a key, a message
without a native id, a reply keyed by a message stored in the same transaction, a registration's
dispatch job), so holding them changes no result. Their ids are drawn up front: on SQLite from
``max(id)`` under the write lock the transaction holds since ``BEGIN IMMEDIATE``; on PostgreSQL
from the table's own sequence. Any other statement on the connection flushes the buffer first,
so reads see every row written before them, in order (RELIABILITY.md: a turn commits whole or not
at all). The store's own prepared statements say what they touch (``SqlStore._fast``): one that
touches no held row runs without a flush, and an update of a held row changes the held row.

The rows go in one prepared ``executemany`` per table and column set (intake/store/prepared.py):
through Core's execution machinery the flushes of a group of dialog turns cost more than
SQLite's own work on them.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Table, bindparam, event, func, insert, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.sql.dml import Insert

from intake.store.prepared import PreparedSet, RawTx
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
        self._held: dict[str, dict[int, dict[str, Any]]] = {}  # the same rows by table and id
        self.updates: list[tuple[Table, int, dict[str, Any]]] = []
        self._next: dict[str, int] = {}  # SQLite: the next free id per table
        self._pool: dict[str, list[int]] = {}  # PostgreSQL: ids drawn from the sequence
        self.flushing = False

    def add(self, table: Table, row: dict[str, Any]) -> int:
        """Hold one row; returns the id it will have."""
        new_id = self._draw(table)
        held = {"id": new_id, **row}
        self.rows.setdefault(table.name, []).append(held)
        self._held.setdefault(table.name, {})[new_id] = held
        return new_id

    def update(self, table: Table, row_id: int, values: dict[str, Any]) -> None:
        """Hold an update of one row by id (written after the held inserts, in order)."""
        self.updates.append((table, row_id, values))

    def held(self, table: Table, row_id: int) -> dict[str, Any] | None:
        """The held (not yet written) row of ``table`` with this id, to be changed in place by
        an update of it; None when the row is not held here."""
        return self._held.get(table.name, {}).get(row_id)

    def holds_where(self, table: Table, column: str) -> bool:
        """Whether a held row of ``table`` has a value in ``column`` (or an update is held for
        the table): what a search on that column must see written first."""
        held = self._held.get(table.name, {}).values()
        return any(r.get(column) is not None for r in held) or self._updates_of(table)

    def touches(self, table: Table, row_id: int) -> bool:
        """Whether a statement on this one row of ``table`` could see anything held: the row
        itself, or a held update of the table."""
        return row_id in self._held.get(table.name, ()) or self._updates_of(table)

    def _updates_of(self, table: Table) -> bool:
        return any(t is table for t, _, _ in self.updates)

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
        self._held = {}
        self.flushing = True
        tx = RawTx(self.conn.connection, self.conn.dialect)
        try:
            for table in FLUSH_ORDER:
                rows = pending.pop(table.name, None)
                if rows:
                    for columns, group in _by_columns(table, rows):
                        _insert_stmt(table, columns).run_many(tx, group)
            assert not pending, f"no flush order for {sorted(pending)}"
            # Consecutive updates of one table and column set go in one executemany.
            run: list[dict[str, Any]] = []
            shape: tuple[Table, tuple[str, ...]] | None = None
            for table, row_id, values in updates:
                this = (table, tuple(values))
                if this != shape and run:
                    _update_stmt(*shape).run_many(tx, run)  # type: ignore[misc]
                    run = []
                shape = this
                run.append({"id_": row_id, **values})
            if run and shape is not None:
                _update_stmt(*shape).run_many(tx, run)
        finally:
            tx.close_cursor()
            self.flushing = False

    def after_foreign_insert(self, table_name: str | None) -> None:
        """Another statement inserted with the database's own ids: draw again from max(id)."""
        if table_name is None:
            self._next.clear()
        else:
            self._next.pop(table_name, None)


_INSERTS: dict[tuple[str, tuple[str, ...]], PreparedSet] = {}
_UPDATES: dict[tuple[str, tuple[str, ...]], PreparedSet] = {}


def _insert_stmt(table: Table, columns: tuple[str, ...]) -> PreparedSet:
    stmt = _INSERTS.get((table.name, columns))
    if stmt is None:
        values = {c: bindparam(c, type_=table.c[c].type) for c in columns}
        stmt = _INSERTS[(table.name, columns)] = PreparedSet(lambda _d: insert(table).values(values))
    return stmt


def _update_stmt(table: Table, columns: tuple[str, ...]) -> PreparedSet:
    stmt = _UPDATES.get((table.name, columns))
    if stmt is None:
        values = {c: bindparam(c, type_=table.c[c].type) for c in columns}
        stmt = _UPDATES[(table.name, columns)] = PreparedSet(
            lambda _d: update(table).where(table.c.id == bindparam("id_")).values(values)
        )
    return stmt


def _by_columns(
    table: Table, rows: list[dict[str, Any]]
) -> list[tuple[tuple[str, ...], list[dict[str, Any]]]]:
    """executemany wants one column set: a column a row leaves out takes its scalar default
    (a prepared insert names every column; Core would fill them per execution). The order of
    rows within each set is kept."""
    defaults = scalar_defaults(table)
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for r in rows:
        missing = [c for c in defaults if c not in r]
        full = {**{c: defaults[c] for c in missing}, **r} if missing else r
        groups.setdefault(tuple(full), []).append(full)
    return list(groups.items())


_DEFAULTS: dict[str, dict[str, Any]] = {}


def scalar_defaults(table: Table) -> dict[str, Any]:
    """The scalar ``default=`` of each column of ``table`` (schema.py has no other kind)."""
    found = _DEFAULTS.get(table.name)
    if found is None:
        found = {}
        for c in table.columns:
            default: Any = c.default
            if default is not None:
                if not default.is_scalar:
                    raise TypeError(f"{table.name}.{c.name}: only scalar defaults can be held")
                found[c.name] = default.arg
        _DEFAULTS[table.name] = found
    return found


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
