"""Tickets with their numbers, events and evaluations; personal fields encrypted here."""

from __future__ import annotations

import binascii
import json
import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, Literal

from cryptography.exceptions import InvalidTag
from sqlalchemy import (
    ColumnElement,
    Connection,
    Row,
    and_,
    bindparam,
    or_,
    select,
    update,
)

from intake.errors import NotFound
from intake.feed import feed_pending
from intake.model import (
    SHANGHAI,
    Address,
    Channel,
    Field,
    PlaceTicket,
    StoredEvent,
    StoredTicket,
    Supervision,
    TicketBrief,
    TicketDraft,
    TicketStatus,
)
from intake.phones import normalize_phone
from intake.store.messages import MessageStore
from intake.store.schema import (
    evaluations,
    messages_in,
    ticket_events,
    tickets,
)
from intake.store.statements import (
    FAST_NEXT_NUMBER,
    FAST_NUMBER_AND_STATUS,
    OPEN_AT_PLACE,
    ticket_update,
)

log = logging.getLogger(__name__)
CONTACT_FIELDS = (Field.NAME, Field.PHONE, Field.ID_NUMBER, Field.HOME_ADDRESS)


class TicketStore(MessageStore):
    """The ``tickets``, ``counters``, ``ticket_events`` and ``evaluations`` tables."""

    def get_tickets(self, ids: Sequence[int]) -> list[StoredTicket]:
        q = select(tickets).where(tickets.c.id.in_(list(ids))).order_by(tickets.c.id)
        with self._read() as c:
            return [self._ticket(r) for r in c.execute(q).all()]

    def _split_values(self, values: Mapping[Field, str]) -> tuple[str | None, str | None]:
        contact = {f.value: v for f, v in values.items() if f in CONTACT_FIELDS}
        other = {f.value: v for f, v in values.items() if f not in CONTACT_FIELDS}
        return (
            self.cipher.encrypt_json(contact) if contact else None,
            self.cipher.encrypt_json(other) if other else None,
        )

    def phone_key(self, phone: str) -> str | None:
        """The blind index of a phone written any usual way (None: not a phone number)."""
        e164 = normalize_phone(phone)
        return self.cipher.blind_index(f"phone:{e164}") if e164 else None

    def create_ticket(self, draft: TicketDraft) -> int:
        now = self.clock.now()
        contact_enc, fields_enc = self._split_values(draft.values)
        on_phone = draft.address.channel in (Channel.SMS, Channel.PHONE)
        phone = draft.values.get(Field.PHONE) or (draft.address.value if on_phone else None)
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
            "phone_key": self.phone_key(phone) if phone else None,
            "created_at": now,
            "updated_at": now,
            "version": 1,
            "reason": draft.reason,
            "supplement_due_at": draft.supplement_due_at,
        }
        with self._write() as c:  # a new ticket conflicts with nothing (its number comes later)
            return self._held(c).add(tickets, values)

    def update_ticket(self, ticket_id: int, **changes: Any) -> None:
        """Update columns; ``values=`` (a Field→str mapping) replaces the encrypted fields."""
        row: dict[str, Any] = {"updated_at": self.clock.now()}
        for k, v in changes.items():
            if k == "values":
                row["contact_enc"], row["fields_enc"] = self._split_values(v)
                if v.get(Field.PHONE):
                    row["phone_key"] = self.phone_key(v[Field.PHONE])
            elif k == "hidden":
                row["hidden_fields"] = ",".join(sorted(f.value for f in v))
            elif k == "status":
                row["status"] = TicketStatus(v).value
            else:
                row[k] = v
        with self._write() as c:
            held = self._held(c).held(tickets, ticket_id)
            if held is not None:  # a ticket created in this group commit: change the held row
                held.update(row)
                held["version"] += 1
                return
            # One statement per column set, built once and executed with bound values.
            columns = tuple(sorted(row))
            stmt = self._ticket_updates.get(columns)
            if stmt is None:
                stmt = self._ticket_updates[columns] = ticket_update(*columns)
            self._fast(c, stmt, {**row, "ticket_id_": ticket_id}, touches=(tickets, ticket_id))

    def claim_status(self, ticket_id: int, was: TicketStatus, to: TicketStatus, **values: Any) -> bool:
        """Move a ticket from ``was`` to ``to`` in one conditional UPDATE: True for the one caller
        whose UPDATE matched (a timer fires once even with several workers)."""
        with self._write() as conn:
            res = conn.execute(
                update(tickets)
                .where(tickets.c.id == ticket_id, tickets.c.status == was.value)
                .values(status=to.value, updated_at=self.clock.now(), version=tickets.c.version + 1, **values)
            )
            return bool(res.rowcount)

    def lock_status(self, ticket_id: int) -> TicketStatus:
        """The ticket's status, its row locked until the unit of work commits (FOR UPDATE where
        it exists)."""
        with self._write() as conn:
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

    def _next_number(self, conn: Connection, when: datetime) -> str:
        """A human-friendly, sortable number unique across processes: ``20261121-000123``.

        One counter row per Shanghai day, bumped with an atomic upsert in the caller's
        transaction, so two processes never draw the same number.
        """
        day = when.astimezone(SHANGHAI).strftime("%Y%m%d")
        [row] = self._fast(
            conn, FAST_NEXT_NUMBER, {"name_": f"ticket:{day}"}, inserts="counters", touches="nothing held"
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
        with self._write() as conn:
            found = self._fast(
                conn, FAST_NUMBER_AND_STATUS, {"ticket_id_": ticket_id}, touches=(tickets, ticket_id)
            )
            current = found[0] if found else None
            if current is None:
                raise NotFound(f"ticket {ticket_id} not found")
            if current.number is not None:
                return str(current.number)
            number = self._next_number(conn, now)
            self.update_ticket(
                ticket_id,
                number=number,
                status=TicketStatus.REGISTERED,
                registered_at=now,
                deadline=deadline,
                deadline_provisional=deadline_provisional,
                supplement_due_at=None,
                **dict(extra or {}),
            )
            self.add_event(ticket_id, "registered", actor, {})
            # Numbering and this job commit together, and only here: the key cannot be taken.
            job = ("dispatch", f"dispatch:{ticket_id}", {"ticket_id": ticket_id})
            self._add_fresh_outbox(self._held(conn), *job)
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
            supervision=None
            if r.supervision_opened_at is None
            else Supervision(
                r.supervision_opened_at,
                r.supervision_due,
                r.supervision_reason or "",
                r.supervision_by or "system",
                bool(r.supervision_extended),
                r.supervision_answered_at,
            ),
            review=r.review,
        )

    def get_ticket(self, ticket_id: int) -> StoredTicket:
        return self._one_ticket(tickets.c.id == ticket_id, ticket_id)

    def find_ticket(self, number: str) -> StoredTicket:
        return self._one_ticket(tickets.c.number == number, number)

    def _one_ticket(self, where: ColumnElement[bool], named: int | str) -> StoredTicket:
        with self._read() as conn:
            r = conn.execute(select(tickets).where(where)).first()
        if r is None:
            raise NotFound(f"ticket {named} not found")
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
        unit: str | None = None,
        limit: int = 100,
        numbered_only: bool = True,
    ) -> list[StoredTicket]:
        conds: list[ColumnElement[bool]] = []
        if unit is not None:
            conds.append(tickets.c.unit == unit)
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
            rows = self._fast(conn, OPEN_AT_PLACE, values, touches=held)
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

    def add_event(
        self,
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
            "feed_pending": feed_pending(type_),
        }
        with self._write() as conn:
            if key is None:
                self._held(conn).add(ticket_events, values)
                return True
            return self._insert_new(conn, ticket_events, values, "idempotency_key") is not None

    def ticket_of_event(self, key: str) -> int | None:
        """The ticket of the event stored with this idempotency key, if any."""
        with self._read() as conn:
            found = conn.execute(
                select(ticket_events.c.ticket_id).where(ticket_events.c.idempotency_key == key)
            ).scalar_one_or_none()
        return None if found is None else int(found)

    def event_id(self, key: str) -> int | None:
        """The id of the event stored with this idempotency key, if any."""
        with self._read() as conn:
            found = conn.execute(
                select(ticket_events.c.id).where(ticket_events.c.idempotency_key == key)
            ).scalar_one_or_none()
        return None if found is None else int(found)

    def get_event(self, event_id: int) -> tuple[int, StoredEvent]:
        """(ticket id, event)."""
        with self._read() as conn:
            r = conn.execute(select(ticket_events).where(ticket_events.c.id == event_id)).first()
        if r is None:
            raise NotFound(f"event {event_id} not found")
        return r.ticket_id, StoredEvent(r.id, r.type, r.actor, r.at, json.loads(r.data))

    def events(self, ticket_id: int) -> list[StoredEvent]:
        q = select(ticket_events).where(ticket_events.c.ticket_id == ticket_id).order_by(ticket_events.c.id)
        with self._read() as c:
            rows = c.execute(q).all()
        return [StoredEvent(r.id, r.type, r.actor, r.at, self._event_data(r.data)) for r in rows]

    def events_of(self, ticket_ids: Sequence[int]) -> dict[int, list[StoredEvent]]:
        """``events()`` of several tickets in one query."""
        out: dict[int, list[StoredEvent]] = {i: [] for i in ticket_ids}
        if not ticket_ids:
            return out
        with self._read() as conn:
            rows = conn.execute(
                select(ticket_events)
                .where(ticket_events.c.ticket_id.in_(list(ticket_ids)))
                .order_by(ticket_events.c.id)
            ).all()
        for r in rows:
            out[r.ticket_id].append(StoredEvent(r.id, r.type, r.actor, r.at, self._event_data(r.data)))
        return out

    def _event_data(self, raw: str) -> dict[str, Any]:
        """An event's data with its encrypted text (a citizen's supplement) readable as ``text``."""
        data: dict[str, Any] = json.loads(raw)
        if "text_enc" in data:
            data["text"] = self.cipher.decrypt(data.pop("text_enc"))
        return data

    def record_evaluation(self, ticket_id: int, round_: int, level: str | None, source: str) -> bool:
        """One evaluation per ticket and round: False when that round was already recorded."""
        values = {
            "ticket_id": ticket_id,
            "round": round_,
            "level": level,
            "at": self.clock.now(),
            "source": source,
        }
        with self._write() as conn:
            return self._insert_new(conn, evaluations, values, ("ticket_id", "round")) is not None

    def evaluation(self, ticket_id: int) -> tuple[str | None, int] | None:
        with self._read() as conn:
            r = conn.execute(
                select(evaluations.c.level, evaluations.c.round)
                .where(evaluations.c.ticket_id == ticket_id)
                .order_by(evaluations.c.round.desc())
                .limit(1)
            ).first()
        return None if r is None else (r.level, r.round)
