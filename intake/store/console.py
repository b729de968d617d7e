"""What the agents' workspace reads and changes (issue 20, CONTRACT.md "Agents and the console
API"): the queue of open tickets in the order agents work it, a search by number, phone and
words, one ticket's conversation across channels, and the actions that write (routing by hand,
sending a failed message again).

The queue is ordered in SQL by the columns the worker's sweep keeps current (``warning`` and
``deadline``, worker/timers.refresh_deadlines), so the ticket nearest its deadline is on the first
page however many are open; only the page's rows are decrypted. Words are searched in the
decrypted summaries of the open tickets that the other filters leave: they are encrypted at rest,
and no index of them is kept.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, or_, select, update

from intake.model import (
    AGENT_KIND,
    DeliveryState,
    Field,
    StoredEvent,
    StoredOutbound,
    StoredTicket,
    TicketStatus,
)
from intake.routing import agents_step
from intake.store.schema import messages_in, messages_out, outbox, tickets
from intake.store.tickets import TicketStore

OPEN = tuple(s.value for s in TicketStatus if s.is_open)
PAGE_MAX = 200
NUMBER = re.compile(r"[0-9]{8}-[0-9]{0,9}|[0-9]{8}")  # a ticket number, or its start
SUMMARY = (Field.SUBJECT, Field.ADDRESS, Field.CONTENT, Field.DEMAND)
# A conversation is the citizen's messages on the ticket's channel address from a little before
# the ticket was opened (the greeting, the first words) on, at most this many lines.
CONVERSATION_BEFORE = timedelta(minutes=30)
CONVERSATION_MAX = 300
_WARNING_RANK = case((tickets.c.warning == "red", 0), (tickets.c.warning == "yellow", 1), else_=2)


@dataclass(frozen=True, slots=True)
class QueueQuery:
    """One page of the open-ticket queue; every filter None or "" means any."""

    category: str | None = None
    channel: str | None = None
    status: str | None = None
    unit: str | None = None
    warning: str | None = None  # red, yellow, none
    urgent: str | None = None
    text: str | None = None  # a ticket number, a phone, or words of the summary
    page: int = 1
    size: int = 50


@dataclass(frozen=True, slots=True)
class QueuePage:
    tickets: list[StoredTicket]
    events: dict[int, list[StoredEvent]]
    total: int
    page: int
    pages: int
    size: int


@dataclass(frozen=True, slots=True)
class Line:
    """One line of a ticket's conversation."""

    by: str  # citizen, hotline, agent
    channel: str
    text: str
    at: datetime


class ConsoleStore(TicketStore):
    def queue_page(self, q: QueueQuery) -> QueuePage:
        """Open, numbered tickets matching ``q``: red, yellow, then nearest deadline first."""
        size = max(1, min(q.size, PAGE_MAX))
        conds = self._queue_filters(q)
        words = self._words(q.text)
        order = (_WARNING_RANK, tickets.c.deadline.is_(None), tickets.c.deadline, tickets.c.id)
        with self._read() as conn:
            if words:  # encrypted at rest: the summaries the other filters leave, read here
                # (not an anonymous citizen's: their words may name them, and the page masks them)
                summaries = conn.execute(
                    select(tickets.c.id, tickets.c.fields_enc)
                    .where(*conds, tickets.c.anonymous.is_(False))
                    .order_by(*order)
                ).all()
                ids = [r.id for r in summaries if self._mentions(r.fields_enc, r.id, words)]
                total = len(ids)
                page, pages = _page_of(q.page, total, size)
                chosen = ids[(page - 1) * size : page * size]
                found = {t.id: t for t in self.get_tickets(chosen)}
                page_tickets = [found[i] for i in chosen if i in found]
            else:
                total = int(
                    conn.execute(select(func.count()).select_from(tickets).where(and_(*conds))).scalar_one()
                )
                page, pages = _page_of(q.page, total, size)
                rows = conn.execute(
                    select(tickets).where(and_(*conds)).order_by(*order).limit(size).offset((page - 1) * size)
                ).all()
                page_tickets = [self._ticket(r) for r in rows]
        return QueuePage(page_tickets, self.events_of([t.id for t in page_tickets]), total, page, pages, size)

    def _queue_filters(self, q: QueueQuery) -> list[ColumnElement[bool]]:
        conds: list[ColumnElement[bool]] = [tickets.c.number.is_not(None)]
        conds.append(tickets.c.status == q.status if q.status else tickets.c.status.in_(OPEN))
        for column, value in (
            (tickets.c.category, q.category),
            (tickets.c.channel, q.channel),
            (tickets.c.unit, q.unit),
            (tickets.c.urgent_class, q.urgent),
        ):
            if value:
                conds.append(column == value)
        if q.warning == "none":
            conds.append(tickets.c.warning.is_(None))
        elif q.warning:
            conds.append(tickets.c.warning == q.warning)
        text = (q.text or "").strip()
        if text and NUMBER.fullmatch(text):
            conds.append(tickets.c.number.startswith(text, autoescape=True))
        elif text and (key := self.phone_key(text)) is not None:
            # never tells who an anonymous citizen is, nor whose hidden phone it is
            conds += [
                tickets.c.phone_key == key,
                tickets.c.anonymous.is_(False),
                ~tickets.c.hidden_fields.contains(Field.PHONE.value, autoescape=True),
            ]
        return conds

    def _words(self, text: str | None) -> list[str]:
        """The words to look for in summaries: none when the text is a number or a phone."""
        text = (text or "").strip()
        if not text or NUMBER.fullmatch(text) or self.phone_key(text) is not None:
            return []
        return [w.lower() for w in text.split()][:5]

    def _mentions(self, fields_enc: str | None, ticket_id: int, words: Sequence[str]) -> bool:
        fields = self._open_json(fields_enc, ticket_id)
        summary = " ".join(str(fields.get(f.value, "")) for f in SUMMARY).lower()
        return all(w in summary for w in words)

    def queue_stats(self) -> dict[str, int]:
        """Open, numbered tickets in all: how many, and how many red and yellow."""
        with self._read() as conn:
            rows = conn.execute(
                select(tickets.c.warning, func.count())
                .where(tickets.c.number.is_not(None), tickets.c.status.in_(OPEN))
                .group_by(tickets.c.warning)
            ).all()
        by = {w: int(n) for w, n in rows}
        return {"red": by.get("red", 0), "yellow": by.get("yellow", 0), "open": sum(by.values())}

    def conversation(self, t: StoredTicket) -> list[Line]:
        """What the citizen and the hotline said to each other about this ticket, oldest first
        (masking is the caller's): the messages linked to it, and on its channel address those
        linked to no ticket from a little before it was opened until the sender's next ticket
        (never another ticket's: an anonymous one and a named one of one sender stay apart)."""
        with self._read() as conn:
            before, after = conn.execute(
                select(
                    select(func.max(tickets.c.created_at))
                    .where(tickets.c.address_key == t.address_key, tickets.c.id < t.id)
                    .scalar_subquery(),
                    select(func.min(tickets.c.created_at))
                    .where(tickets.c.address_key == t.address_key, tickets.c.id > t.id)
                    .scalar_subquery(),
                )
            ).one()
            since = t.created_at - CONVERSATION_BEFORE
            if before is not None:
                since = max(since, before)

            def around(table: Any, at: Any) -> ColumnElement[bool]:
                window = [table.c.address_key == t.address_key, table.c.ticket_id.is_(None), at >= since]
                if after is not None:
                    window.append(at < after)
                return or_(table.c.ticket_id == t.id, and_(*window))

            ins = conn.execute(
                select(messages_in.c.text_enc, messages_in.c.received_at, messages_in.c.channel)
                .where(around(messages_in, messages_in.c.received_at))
                .order_by(messages_in.c.id)
                .limit(CONVERSATION_MAX)
            ).all()
            outs = conn.execute(
                select(
                    messages_out.c.text_enc,
                    messages_out.c.created_at,
                    messages_out.c.channel,
                    messages_out.c.kind,
                )
                .where(
                    around(messages_out, messages_out.c.created_at),
                    messages_out.c.state != DeliveryState.HELD.value,
                )
                .order_by(messages_out.c.id)
                .limit(CONVERSATION_MAX)
            ).all()
        lines = [Line("citizen", r.channel, self.cipher.decrypt(r.text_enc), r.received_at) for r in ins]
        lines += [
            Line(
                "agent" if r.kind == AGENT_KIND else "hotline",
                r.channel,
                self.cipher.decrypt(r.text_enc),
                r.created_at,
            )
            for r in outs
        ]
        lines.sort(key=lambda line: line.at)
        return lines[-CONVERSATION_MAX:]

    def cluster_members(self, t: StoredTicket, limit: int = 50) -> list[StoredTicket]:
        """The other tickets of the same matter (intake/clusters.py), oldest first."""
        key = t.cluster or t.number  # a cluster is named by the number of its first ticket
        if key is None:
            return []
        with self._read() as conn:
            rows = conn.execute(
                select(tickets)
                .where(
                    or_(tickets.c.cluster == key, tickets.c.number == key),
                    tickets.c.id != t.id,
                    tickets.c.number.is_not(None),
                )
                .order_by(tickets.c.id)
                .limit(limit)
            ).all()
        return [self._ticket(r) for r in rows]

    def failed_deliveries_of(self, ticket_id: int) -> list[StoredOutbound]:
        with self._read() as conn:
            rows = conn.execute(
                select(messages_out)
                .where(
                    messages_out.c.ticket_id == ticket_id,
                    messages_out.c.state.in_([DeliveryState.FAILED.value, DeliveryState.UNCERTAIN.value]),
                )
                .order_by(messages_out.c.id)
            ).all()
        return [self._outbound(r) for r in rows]

    def numbers_of(self, ticket_ids: Sequence[int]) -> dict[int, str | None]:
        if not ticket_ids:
            return {}
        with self._read() as conn:
            rows = conn.execute(
                select(tickets.c.id, tickets.c.number).where(tickets.c.id.in_(list(ticket_ids)))
            )
        return {r.id: r.number for r in rows}

    # -- actions ------------------------------------------------------------------------------
    def route_by_agent(
        self, ticket_id: int, unit: str, agent: str, *, waiting: Collection[str], review: str
    ) -> tuple[bool, bool]:
        """A ticket left to a person (its unit is one of the ``waiting`` queues: manual routing,
        difficult coordination, ``review`` of a return) given to ``unit`` by an agent: the unit on
        the ticket, the agent's event and the dispatch step that sends it there, in one
        transaction, decided on the locked row. Routed back to the unit whose return is under
        review, the return is refused: that return no longer counts (guangzhou §17-18), and the
        dispatch will not restart the clock. Returns (routed, refused); (False, False) when it
        no longer waits (another agent was first)."""
        with self.tx():
            if self.lock_status(ticket_id) is not TicketStatus.REGISTERED:
                return False, False
            t = self.get_ticket(ticket_id)
            if t.unit not in waiting:
                return False, False
            refuses = t.unit == review and unit == returned_by(self.events(ticket_id))
            changes: dict[str, object] = {"unit": unit}
            if refuses:
                changes["returns"] = max(0, t.returns - 1)
            self.update_ticket(ticket_id, **changes)
            key = f"routed:{ticket_id}:{uuid.uuid4().hex}"  # each act its own (a clock may stand still)
            data = {"unit": unit, **({"return_rejected": True} if refuses else {})}
            self.add_event(ticket_id, "routed", agent, data, key=key)
            event_id = self.event_id(key)
            assert event_id is not None
            self.add_outbox("dispatch", agents_step(ticket_id, event_id), {"ticket_id": ticket_id})
        return True, refuses

    def merge_into_cluster(self, ticket_id: int, cluster: str, agent: str, now: datetime) -> None:
        """A ticket joined to the cluster of the matter it repeats, with the agent's event."""
        with self.tx():
            self.update_ticket(ticket_id, cluster=cluster)
            key = f"merged:{ticket_id}:{cluster}"
            self.add_event(ticket_id, "merged", agent, {"cluster": cluster}, key=key)

    def retry_delivery(self, outbound_id: int) -> bool:
        """A failed or uncertain message sent again (an agent checked it did not arrive): pending
        with its attempts back and a fresh delivery job. False when it is not failed/uncertain."""
        with self.tx(), self._write() as conn:
            changed = conn.execute(
                update(messages_out)
                .where(
                    messages_out.c.id == outbound_id,
                    messages_out.c.state.in_([DeliveryState.FAILED.value, DeliveryState.UNCERTAIN.value]),
                )
                .values(state=DeliveryState.PENDING.value, attempts=0, next_attempt_at=None)
            ).rowcount
            if not changed:
                return False
            retries = conn.execute(
                select(func.count())
                .select_from(outbox)
                .where(outbox.c.key.startswith(f"deliver:{outbound_id}:retry"))
            ).scalar_one()
            self.add_outbox(
                "deliver", f"deliver:{outbound_id}:retry{int(retries) + 1}", {"outbound_id": outbound_id}
            )
        return True


def returned_by(events: Sequence[StoredEvent]) -> str | None:
    """The unit of the last dispatch before the latest return: whose return is under review."""
    last: str | None = None
    unit: str | None = None
    for e in events:
        if e.type == "dispatched":
            last = str(e.data.get("unit") or "") or None
        elif e.type == "returned":
            unit = last
    return unit


def _page_of(asked: int, total: int, size: int) -> tuple[int, int]:
    pages = max(1, -(-total // size))
    return max(1, min(asked, pages)), pages
