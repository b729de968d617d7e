"""Tables. Every column that could identify a citizen is encrypted (``*_enc``) or a keyed hash
(``*_key``); see intake/crypto.py. Timestamps are stored in UTC and come back aware."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect

from intake.model import SHANGHAI

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)
# Row ids are Integer: 32 bits on PostgreSQL, which refuses a larger value in a query outright.
MAX_ROW_ID = 2**31 - 1


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware (Asia/Shanghai) datetimes out, UTC on disk on every dialect."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC).astimezone(SHANGHAI)


tickets = Table(
    "tickets",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("number", String(20), unique=True),  # null while the dialog is still collecting
    Column("status", String(24), nullable=False, index=True),
    Column("category", String(8)),
    Column("channel", String(10), nullable=False, index=True),
    Column("address_key", String(64), nullable=False, index=True),
    Column("address_enc", Text, nullable=False),
    Column("policy", String(40), nullable=False),
    Column("urgent_class", String(40)),
    Column("anonymous", Boolean, nullable=False, default=False),
    Column("hidden_fields", String(80), nullable=False, default=""),
    Column("contact_enc", Text),  # JSON {name, phone, id_number, home_address}
    Column("fields_enc", Text),  # JSON {subject, address, content, demand}
    Column("unit", String(80)),
    Column("helper_units", String(200)),
    Column("deadline", UTCDateTime()),
    Column("deadline_provisional", Boolean, nullable=False, default=False),
    Column("supplement_due_at", UTCDateTime()),
    Column("evaluation_due_at", UTCDateTime()),
    Column("extensions", Integer, nullable=False, default=0),
    Column("rehandling_round", Integer, nullable=False, default=0),
    Column("returns", Integer, nullable=False, default=0),
    Column("warning", String(8)),
    # 督办 (issue 21): opened by the overdue sweep, a re-handled ticket still dissatisfied, or an
    # agent; due by the profile's [supervision] limit; extended at most once (shaoyang §24)
    Column("supervision_opened_at", UTCDateTime(), index=True),
    Column("supervision_due", UTCDateTime(), index=True),
    Column("supervision_reason", Text),
    Column("supervision_by", String(80)),
    Column("supervision_extended", Boolean, nullable=False, default=False),
    Column("supervision_answered_at", UTCDateTime()),  # the unit's answer or its result
    # What waits for an agent's review (issue 21): "dissatisfied" (回访 first) or "objection" (甄别)
    Column("review", String(16), index=True),
    Column("reason", Text),  # why it was rejected, redirected or closed (rule id and text)
    Column("cluster", String(20), index=True),  # number of the first ticket of the same matter
    # Keyed hash of the normalised place (intake/clusters.py): near-duplicates by index
    Column("place_key", String(64), index=True),
    # Keyed hash of the citizen's phone (E.164): agents find a caller's tickets (issue 20)
    Column("phone_key", String(64), index=True),
    Column("created_at", UTCDateTime(), nullable=False, index=True),
    Column("registered_at", UTCDateTime()),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("version", Integer, nullable=False, default=1),
    # One sender's tickets by status, every turn: without it SQLite walks the status index over
    # every draft in the city (measured: turns slowed as drafts piled up).
    Index("ix_tickets_sender_status", "address_key", "status"),
)

messages_in = Table(
    "messages_in",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("channel", String(10), nullable=False),
    Column("address_key", String(64), nullable=False, index=True),
    Column("address_enc", Text, nullable=False),
    Column("text_enc", Text, nullable=False),
    Column("raw_enc", Text),  # the native message (mail bytes, update JSON), encrypted
    Column("native_id", String(200)),
    Column("received_at", UTCDateTime(), nullable=False),
    Column("ticket_id", Integer, ForeignKey("tickets.id")),
    Column("flags", String(80), nullable=False, default=""),
    Column("processed_at", UTCDateTime()),
    # what a trusted relay found of the sender: a mail's Authentication-Results (issue 18)
    Column("sender_auth", String(200)),
    # one message per native id per sender (another sender reusing an id is their own message)
    UniqueConstraint("channel", "address_key", "native_id", name="uq_messages_in_sender_native"),
)

messages_out = Table(
    "messages_out",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("idempotency_key", String(200), nullable=False, unique=True),
    Column("channel", String(10), nullable=False),
    Column("address_key", String(64), nullable=False, index=True),
    Column("address_enc", Text, nullable=False),
    Column("text_enc", Text, nullable=False),
    Column("choices", Text),  # JSON list; choices are ours, never personal
    Column("subject", Text),
    Column("kind", String(40), nullable=False),
    Column("ticket_id", Integer, ForeignKey("tickets.id"), index=True),
    Column("state", String(12), nullable=False, index=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", Text),
    Column("provider_id", String(200)),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("next_attempt_at", UTCDateTime()),
    Column("delivered_at", UTCDateTime()),
)

ticket_events = Table(
    "ticket_events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("ticket_id", Integer, ForeignKey("tickets.id"), nullable=False, index=True),
    Column("type", String(32), nullable=False),
    Column("actor", String(80), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Column("data", Text, nullable=False, default="{}"),
    Column("idempotency_key", String(200), unique=True),
    # True until the back-office feed (intake/feed.py) has queued this event for the webhook;
    # null for event types the feed does not carry (issue 21)
    Column("feed_pending", Boolean, index=True),
)

evaluations = Table(
    "evaluations",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("ticket_id", Integer, ForeignKey("tickets.id"), nullable=False),
    Column("round", Integer, nullable=False),
    Column("level", String(8)),  # null: not evaluated / invalid
    Column("at", UTCDateTime(), nullable=False),
    Column("source", String(20), nullable=False),  # citizen, silence
    UniqueConstraint("ticket_id", "round", name="uq_evaluations_ticket_round"),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("job", String(60), nullable=False),
    Column("key", String(200), nullable=False, unique=True),
    Column("payload", Text, nullable=False, default="{}"),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("enqueued_at", UTCDateTime()),
    Column("attempts", Integer, nullable=False, default=0),
    Column("done_at", UTCDateTime()),
    Column("last_error", Text),
    Index("ix_outbox_pending", "done_at", "enqueued_at"),
)

handoffs = Table(  # conversations waiting for a person (issue 19)
    "handoffs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("channel", String(10), nullable=False),
    Column("address_key", String(64), nullable=False, index=True),
    Column("address_enc", Text, nullable=False),
    Column("since", UTCDateTime(), nullable=False),
    Column("last_at", UTCDateTime(), nullable=False),
    Column("text_enc", Text, nullable=False),  # the citizen's latest message
    Column("released_at", UTCDateTime()),
    Column("released_by", String(80)),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("at", UTCDateTime(), nullable=False, index=True),
    Column("actor", String(80), nullable=False),
    Column("action", String(60), nullable=False),
    Column("target", String(80), index=True),
    Column("detail", Text),
)

# The back office's principals (issue 18): a handling unit's tokens, kept as SHA-256 of 256 random
# bits (a fast hash is right for a random token; a KDF is for what people choose), and the
# console's accounts with their Argon2id password hashes.
unit_tokens = Table(
    "unit_tokens",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("unit", String(200), nullable=False, index=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("created_by", String(80), nullable=False),
    Column("revoked_at", UTCDateTime()),
)

accounts = Table(
    "accounts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("login", String(40), nullable=False, unique=True),
    Column("password_hash", Text, nullable=False),
    Column("role", String(20), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("created_by", String(80), nullable=False),
    Column("disabled_at", UTCDateTime()),
)

restrictions = Table(
    "restrictions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("address_key", String(64), nullable=False, index=True),
    Column("channel", String(10), nullable=False),
    Column("since", UTCDateTime(), nullable=False),
    Column("until", UTCDateTime(), nullable=False),
    Column("reason", Text, nullable=False),
    Column("lifted_at", UTCDateTime()),
    Column("lifted_by", String(80)),
)

counters = Table(
    "counters",
    metadata,
    Column("name", String(40), primary_key=True),
    Column("value", Integer, nullable=False),
)
