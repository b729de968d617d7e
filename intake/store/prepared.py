"""Prepared statements for a hot path, private to the store: Core statements compiled once per
dialect and run on the open unit of work's DBAPI connection (``StoreBase._fast``), or in a
transaction of their own on a pooled one (``StoreBase._raw_tx``).

The dispatch job is one short transaction of six statements per ticket. Through SQLAlchemy's
execution machinery (connection, transaction and execution objects, events, result set-up)
they cost several times what SQLite itself spends on them (bench/dispatch_bench.py). The SQL
text, the parameter order and the type conversion (e.g. ``UTCDateTime``) are still SQLAlchemy's
own, taken from the compiled statement, so a row written here reads back through the ordinary
store exactly as if Core had written it.

Limits: no expanding (``IN``) parameters, and an insert names every column that has a
Python-side default (Core computes those per execution; this path would leave them out).
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Dialect, TypeDecorator
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.sql.expression import ClauseElement

_Processor = Callable[[Any], Any] | None


class RawTx:
    """An open write transaction on one DBAPI connection (``StoreBase._raw_tx``, ``StoreBase._fast``)."""

    __slots__ = ("_cursor", "connection", "dialect")

    def __init__(self, connection: PoolProxiedConnection, dialect: Dialect) -> None:
        self.connection = connection
        self.dialect = dialect
        self._cursor: Any = None

    def cursor(self) -> Any:
        if self._cursor is None:
            self._cursor = self.connection.cursor()
        return self._cursor

    def execute(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> Any:
        """Run one statement; a driver error comes out as SQLAlchemy's (``DBAPIError``), and a
        lost connection is invalidated so the pool does not hand it out again."""
        return self._run("execute", sql, params)

    def executemany(self, sql: str, params: Sequence[Sequence[Any] | Mapping[str, Any]]) -> None:
        """One statement for many parameter sets; errors as in ``execute``."""
        self._run("executemany", sql, params)

    def _run(self, method: str, sql: str, params: Any) -> Any:
        cursor = self.cursor()
        try:
            getattr(cursor, method)(sql, params)
        except self.dialect.loaded_dbapi.Error as exc:
            lost = self.dialect.is_disconnect(exc, self.connection.dbapi_connection, cursor)
            if lost:
                self.connection.invalidate(exc)
            raise DBAPIError.instance(
                sql,
                params,
                exc,
                self.dialect.loaded_dbapi.Error,
                hide_parameters=True,
                connection_invalidated=lost,
                dialect=self.dialect,
            ) from exc
        return cursor

    def commit(self) -> None:
        self.close_cursor()
        try:
            self.connection.commit()
        except self.dialect.loaded_dbapi.Error as exc:
            raise DBAPIError.instance(
                "COMMIT", None, exc, self.dialect.loaded_dbapi.Error, dialect=self.dialect
            ) from exc

    def rollback(self) -> None:
        self.close_cursor()
        if self.connection.is_valid:  # an invalidated connection has nothing left to roll back
            self.connection.rollback()

    def release(self) -> None:
        """Back to the pool (which resets it), or discarded when it was invalidated."""
        self.close_cursor()
        self.connection.close()

    def close_cursor(self) -> None:
        """Done with the cursor (also on its own: a RawTx over a connection the caller keeps)."""
        if self._cursor is not None:
            cursor, self._cursor = self._cursor, None
            try:
                cursor.close()
            except self.dialect.loaded_dbapi.Error:
                pass  # the connection is gone; the pool deals with it


class Prepared:
    """One statement for one dialect: ``run(tx, values)`` returns the rows of a SELECT or a
    RETURNING as named tuples (the column names), else an empty list."""

    __slots__ = ("binds", "named", "results", "row", "sql")

    def __init__(self, stmt: ClauseElement, dialect: Dialect) -> None:
        compiled: Any = stmt.compile(dialect=dialect)
        prefetch = [*compiled.insert_prefetch, *compiled.update_prefetch]
        if prefetch:
            raise ValueError(f"give a value for {[c.name for c in prefetch]} (columns with a default)")
        self.sql: str = compiled.string
        by_name = {name: bp for bp, name in compiled.bind_names.items()}
        names = list(compiled.positiontup or ()) if compiled.positional else list(by_name)
        binds: list[tuple[str, bool, Any, _Processor]] = []
        for name in names:
            bp = by_name[name]
            if bp.expanding:
                raise ValueError(f"{name}: expanding parameters are not supported here")
            proc = _bind_processor(bp.type, dialect)
            # a parameter the caller names (bindparam("x")), or a literal the statement carries
            binds.append((name, bp.required, None if bp.required else bp.effective_value, proc))
        self.binds = tuple(binds)
        self.named = not compiled.positional
        columns = list(getattr(stmt, "exported_columns", ()))
        converts = (c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns)
        # (position, conversion) of the columns the driver's value is not final for
        self.results = tuple((i, p) for i, p in enumerate(converts) if p is not None)
        self.row: Any = namedtuple("Row", [c.name for c in columns]) if columns else None

    def params(self, values: Mapping[str, Any]) -> list[Any] | dict[str, Any]:
        out = []
        for name, required, fixed, proc in self.binds:
            value = values[name] if required else fixed
            out.append(value if proc is None else proc(value))
        if self.named:
            return {b[0]: v for b, v in zip(self.binds, out, strict=True)}
        return out

    def run_many(self, tx: RawTx, rows: Sequence[Mapping[str, Any]]) -> None:
        tx.executemany(self.sql, [self.params(r) for r in rows])

    def run(self, tx: RawTx, values: Mapping[str, Any]) -> list[Any]:
        cursor = tx.execute(self.sql, self.params(values))
        if self.row is None:
            return []
        out = []
        for r in cursor.fetchall():
            row = list(r)
            for i, convert in self.results:
                row[i] = convert(row[i])
            out.append(self.row._make(row))
        return out


# The last datetime each conversion saw, and its result: one step binds the same "now" to
# several columns (updated_at, at, created_at, done_at …). A datetime is immutable, so the same
# object always converts to the same value.
_LAST_DATETIME: dict[tuple[str, str], tuple[datetime, Any]] = {}


def _bind_processor(type_: Any, dialect: Dialect) -> _Processor:
    convert: _Processor = type_.dialect_impl(dialect).bind_processor(dialect)
    base = type_.impl_instance if isinstance(type_, TypeDecorator) else type_
    if convert is None or not isinstance(base, DateTime):
        return convert
    key = (dialect.name, repr(type_))

    def remembered(value: Any) -> Any:
        last = _LAST_DATETIME.get(key)
        if last is not None and last[0] is value:
            return last[1]
        out = convert(value)
        if value is not None:
            _LAST_DATETIME[key] = (value, out)
        return out

    return remembered


class PreparedSet:
    """A statement built and compiled once per dialect, on first use."""

    def __init__(self, build: Callable[[Dialect], ClauseElement]) -> None:
        self._build = build
        self._by_dialect: dict[str, Prepared] = {}

    def run(self, tx: RawTx, values: Mapping[str, Any]) -> list[Any]:
        found = self._by_dialect.get(tx.dialect.name)
        if found is None:
            found = self._by_dialect[tx.dialect.name] = Prepared(self._build(tx.dialect), tx.dialect)
        return found.run(tx, values)

    def run_many(self, tx: RawTx, rows: Sequence[Mapping[str, Any]]) -> None:
        """The statement once per row of ``rows`` (an INSERT or UPDATE: no rows come back)."""
        found = self._by_dialect.get(tx.dialect.name)
        if found is None:
            found = self._by_dialect[tx.dialect.name] = Prepared(self._build(tx.dialect), tx.dialect)
        found.run_many(tx, rows)
