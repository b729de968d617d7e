"""The store's SQL prepared once per dialect (intake/store/prepared.py), for the statements a dialog
turn and a dispatch run many times. Read by the store's family modules only (intake/store/*.py):
no caller outside the store sees a statement.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import (
    Dialect,
    bindparam,
    literal_column,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from intake.model import TicketStatus
from intake.store.prepared import PreparedSet
from intake.store.schema import (
    counters,
    messages_in,
    messages_out,
    outbox,
    ticket_events,
    tickets,
)

MARK_DONE = (
    update(outbox)
    .where(outbox.c.key == bindparam("key_"))
    .values(done_at=bindparam("done_at", type_=outbox.c.done_at.type), last_error=bindparam("last_error"))
)


def fast_upsert(table: Any, columns: Sequence[str], key: str | tuple[str, ...]) -> PreparedSet:
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


def ticket_update(*columns: str) -> PreparedSet:
    return PreparedSet(
        lambda _d: (
            update(tickets)
            .where(tickets.c.id == bindparam("ticket_id_"))
            .values({c: bindparam(c, type_=tickets.c[c].type) for c in columns})
            .values(version=tickets.c.version + 1)
        )
    )


def words_in(column: Any, words: Sequence[str]) -> Any:
    """``column IN ('a', 'b')`` written into the SQL (a prepared statement takes no list
    parameter); only for the product's own status words."""
    assert all(w.replace("_", "").isalnum() and w.isascii() for w in words), words
    return column.in_([literal_column(f"'{w}'") for w in words])


OPEN_AT_PLACE = PreparedSet(
    lambda _d: (
        select(tickets.c.id, tickets.c.number, tickets.c.cluster, tickets.c.address_key, tickets.c.fields_enc)
        .where(
            tickets.c.category == bindparam("category_"),
            tickets.c.place_key == bindparam("place_key_"),
            tickets.c.number.is_not(None),
            words_in(tickets.c.status, [s.value for s in TicketStatus if s.is_open]),
            tickets.c.created_at >= bindparam("since_", type_=tickets.c.created_at.type),
        )
        # SQLite has no statistics to prefer the place index over the status one by itself.
        .with_hint(tickets, "INDEXED BY ix_tickets_place_key", "sqlite")
        .order_by(tickets.c.id)
        .limit(bindparam("limit_"))
    )
)
FAST_NUMBER_AND_STATUS = PreparedSet(
    lambda _d: select(tickets.c.number, tickets.c.status).where(tickets.c.id == bindparam("ticket_id_"))
)


def next_number_stmt(dialect: Dialect) -> Any:
    dialect_insert = postgresql.insert if dialect.name == "postgresql" else sqlite.insert
    return (
        dialect_insert(counters)
        .values(name=bindparam("name_"), value=1)
        .on_conflict_do_update(index_elements=["name"], set_={"value": counters.c.value + 1})
        .returning(counters.c.value)
    )


FAST_NEXT_NUMBER = PreparedSet(next_number_stmt)
EVENT_JSON = json.JSONEncoder(ensure_ascii=False, default=str)
FAST_LOCK_TICKET = PreparedSet(
    lambda _d: select(tickets).where(tickets.c.id == bindparam("ticket_id_")).with_for_update()
)
FAST_EVENTS = PreparedSet(
    lambda _d: (
        select(ticket_events)
        .where(ticket_events.c.ticket_id == bindparam("ticket_id_"))
        .order_by(ticket_events.c.id)
    )
)
FAST_DISPATCH_TICKET = ticket_update(
    "status", "unit", "helper_units", "deadline", "deadline_provisional", "updated_at"
)
FAST_TICKET_UNIT = ticket_update("unit", "updated_at")
FAST_EVENT = fast_upsert(
    ticket_events,
    ("ticket_id", "type", "actor", "at", "data", "idempotency_key", "feed_pending"),
    "idempotency_key",
)
FAST_OUTBOUND = fast_upsert(
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
FAST_OUTBOX = fast_upsert(outbox, ("job", "key", "payload", "created_at", "attempts"), "key")
INBOUND_COLUMNS = (
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
# A native id (Message-ID, provider id, update id) is one message per sender: another sender
# reusing it sends their own message (issue 18), not a repeat of someone else's.
NATIVE_KEY = ("channel", "address_key", "native_id")
FAST_INBOUND = fast_upsert(messages_in, INBOUND_COLUMNS, NATIVE_KEY)


def native_of(row: Mapping[str, Any]) -> dict[str, Any]:
    """What finds the first row of a ``messages_in`` row's native id from its sender."""
    return {"channel_": row["channel"], "address_key_": row["address_key"], "native_id_": row["native_id"]}


FAST_INBOUND_BY_NATIVE = PreparedSet(
    lambda _d: select(messages_in.c.id).where(
        messages_in.c.channel == bindparam("channel_"),
        messages_in.c.address_key == bindparam("address_key_"),
        messages_in.c.native_id == bindparam("native_id_"),
    )
)
FAST_MARK_DONE = PreparedSet(lambda _d: MARK_DONE)
