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
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

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
from intake.store.schema import messages_in, messages_out, outbox, ticket_events, tickets
from intake.store.tickets import TicketStore

OPEN = tuple(s.value for s in TicketStatus if s.is_open)
PAGE_MAX = 200
NUMBER = re.compile(r"\d{8}-\d{1,6}|\d{8}-?")  # a ticket number, or its start
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
                summaries = conn.execute(
                    select(tickets.c.id, tickets.c.fields_enc).where(and_(*conds)).order_by(*order)
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
            conds.append(tickets.c.phone_key == key)
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

    def conversation(self, t: StoredTicket) -> list[Line]:
        """What the citizen and the hotline said to each other on the ticket's channel address,
        from a little before the ticket was opened, oldest first (masking is the caller's)."""
        since = t.created_at - CONVERSATION_BEFORE
        with self._read() as conn:
            ins = conn.execute(
                select(messages_in.c.text_enc, messages_in.c.received_at, messages_in.c.channel)
                .where(
                    or_(
                        messages_in.c.ticket_id == t.id,
                        and_(messages_in.c.address_key == t.address_key, messages_in.c.received_at >= since),
                    )
                )
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
                    or_(
                        messages_out.c.ticket_id == t.id,
                        and_(messages_out.c.address_key == t.address_key, messages_out.c.created_at >= since),
                    ),
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
    def route_by_agent(self, ticket_id: int, unit: str, agent: str, *, refuses_return: bool = False) -> bool:
        """A ticket not yet dispatched (manual routing, difficult-ticket coordination, a return
        under review) given to ``unit`` by an agent: the unit on the ticket, the agent's event and
        the dispatch step that sends it there, in one transaction. ``refuses_return``: it goes
        back to the unit that returned it, and that return no longer counts (guangzhou §17-18).
        False when it is no longer waiting."""
        with self.tx():
            if self.lock_status(ticket_id) is not TicketStatus.REGISTERED:
                return False
            changes: dict[str, object] = {"unit": unit}
            if refuses_return:
                changes["returns"] = max(0, self.get_ticket(ticket_id).returns - 1)
            self.update_ticket(ticket_id, **changes)
            key = f"routed:{ticket_id}:{uuid.uuid4().hex}"  # each act its own (a clock may stand still)
            data = {"unit": unit, **({"return_rejected": True} if refuses_return else {})}
            self.add_event(ticket_id, "routed", agent, data, key=key)
            event_id = self.event_id(key)
            assert event_id is not None
            self.add_outbox("dispatch", agents_step(ticket_id, event_id), {"ticket_id": ticket_id})
        return True

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


def _page_of(asked: int, total: int, size: int) -> tuple[int, int]:
    pages = max(1, -(-total // size))
    return max(1, min(asked, pages)), pages
