"""Back-office events (CONTRACT.md): validated against the ticket's state, recorded with who and
when, idempotent when repeated, and handed to the notifier through the outbox in the same
transaction."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from intake.duties import Duties
from intake.errors import InvalidInput, InvalidTransition
from intake.history import CLOCK_RESTARTED
from intake.lifecycle import transition
from intake.model import StoredEvent, StoredTicket, TicketStatus
from intake.policy import DeadlineView, PolicyProfile
from intake.store.sql import SqlStore

MAX_RESULT_CHARS = 2000
DIFFICULT_QUEUE = "疑难工单协调"
RETURN_REVIEW_QUEUE = "退回待审核"  # returns the hotline reviews (guangzhou §17)


class LifecyclePolicy(Protocol):
    profile: PolicyProfile  # [returns] and [evaluation] decide what an event may do

    def check_extension(self, ticket: StoredTicket, new_deadline: datetime, now: datetime) -> None:
        """Raise Conflict when the profile allows no (further) extension of this length."""
        ...

    def evaluation_window_end(self, ticket: StoredTicket, completed_at: datetime) -> datetime | None: ...

    def view(
        self, ticket: StoredTicket, events: Sequence[StoredEvent], now: datetime
    ) -> DeadlineView | None: ...


def _key(number: str, event_type: str, data: Mapping[str, Any]) -> str:
    digest = hashlib.sha256(json.dumps(data, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:16]
    return f"{event_type}:{number}:{digest}"


def _text(data: Mapping[str, Any], name: str, *, required: bool) -> str | None:
    value = data.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"'{name}' must be a non-empty string")
    if len(value) > MAX_RESULT_CHARS:
        raise InvalidInput(f"'{name}' is longer than {MAX_RESULT_CHARS} characters")
    return value.strip()


# A unit's part in the hotline's duties (issue 21): no change of status
DUTY_EVENTS = ("objection", "supervision_answered", CLOCK_RESTARTED)
SUPERVISION_ENDS = ("completed", "returned", "withdrawn")  # the unit is done with the supervised matter


class EventService:
    def __init__(self, store: SqlStore, policy: LifecyclePolicy, duties: Duties | None = None) -> None:
        self.store = store
        self.policy = policy
        self.duties = duties

    def apply(self, number: str, data: Mapping[str, Any], actor: str) -> tuple[StoredTicket, bool]:
        """Apply one event; returns the ticket and whether anything changed (False: a repeat)."""
        event_type = data.get("type")
        if not isinstance(event_type, str):
            raise InvalidInput(
                "'type' must be one of signed, returned, extension_approved, completed, withdrawn, "
                "objection, supervision_answered, clock_restarted"
            )
        ticket = self.store.find_ticket(number)
        payload = {k: v for k, v in data.items() if k not in ("type", "actor")}
        # Checked whatever the type: a field of the wrong shape is an error, never ignored.
        for name in ("reason", "result"):
            if payload.get(name) is not None and not isinstance(payload[name], str):
                raise InvalidInput(f"'{name}' must be a string")
        if payload.get("new_deadline") is not None:
            _parse_time(payload["new_deadline"])
        key = _key(number, event_type, payload)
        now = self.store.clock.now()
        changes: dict[str, Any] = {}
        record: dict[str, Any] = {}
        with self.store.tx():
            status = self.store.lock_status(ticket.id)
            # A repeat of the same event with the same data changes nothing (idempotent).
            if self.store.event_id(key) is not None:
                return self.store.get_ticket(ticket.id), False
            if event_type in DUTY_EVENTS:
                self._duty_event(self.store.get_ticket(ticket.id), event_type, payload, actor, now, key)
                return self.store.get_ticket(ticket.id), True
            if event_type == "returned" and self._withdrawal_pending(ticket.id):
                # huizhou §17: after dispatch the unit returns a withdrawn ticket to the hotline,
                # which ends it: the return carries out the citizen's withdrawal
                event_type = "withdrawn"
            t = transition(
                status,
                event_type,
                returns=ticket.returns,
                rehandling=ticket.rehandling_round > 0 and status is TicketStatus.REHANDLING,
                difficult_after=self.policy.profile.returns.difficult_after,
                rehandling_extendable=self.policy.profile.evaluation.rehandling_extendable,
            )
            changes["status"] = t.status
            if event_type == "returned":
                record["reason"] = _text(payload, "reason", required=True)
                changes["returns"] = ticket.returns + 1
                changes["unit"] = None
                if t.difficult:
                    # guangzhou §18: returned by [returns] difficult_after units → difficult-ticket
                    # coordination, a queue agents work by hand (listed with the manual routing queue).
                    record["difficult"] = True
                    changes["unit"] = DIFFICULT_QUEUE
                elif self.policy.profile.returns.reviewed:
                    # guangzhou §17: the hotline reviews the return before the ticket goes on
                    # (channels/desk.py: an agent routes it elsewhere, or back to this unit).
                    record["review"] = True
                    changes["unit"] = RETURN_REVIEW_QUEUE
            elif event_type == "extension_approved":
                record["reason"] = _text(payload, "reason", required=True)
                new_deadline = _parse_time(payload.get("new_deadline"))
                if ticket.deadline is not None and new_deadline <= ticket.deadline:
                    raise InvalidTransition("new_deadline must be later than the current deadline")
                self.policy.check_extension(ticket, new_deadline, now)
                record["new_deadline"] = new_deadline.isoformat()
                record["previous_deadline"] = ticket.deadline.isoformat() if ticket.deadline else None
                changes["deadline"] = new_deadline
                changes["extensions"] = ticket.extensions + 1
            elif event_type == "completed":
                record["result_enc"] = self.store.cipher.encrypt(
                    _text(payload, "result", required=True) or ""
                )
                changes["evaluation_due_at"] = self.policy.evaluation_window_end(ticket, now)
            if (
                ticket.supervision
                and ticket.supervision.answered_at is None
                and event_type in SUPERVISION_ENDS
            ):
                changes["supervision_answered_at"] = now  # a result, a return, a withdrawal end it
            self.store.update_ticket(ticket.id, **changes)
            self.store.add_event(ticket.id, event_type, actor, record, key=key)
            event_id = self.store.event_id(key)
            assert event_id is not None  # stored just above, in this unit of work
            if event_type != "signed":
                self.store.add_outbox("notice", f"notice:{event_id}", {"event_id": event_id})
            if event_type == "returned" and not t.difficult and not record.get("review"):
                # Back to routing by the rules: a fresh dispatch step for this return.
                self.store.add_outbox(
                    "dispatch", f"dispatch:{ticket.id}:r{ticket.returns + 1}", {"ticket_id": ticket.id}
                )
        return self.store.get_ticket(ticket.id), True

    def _withdrawal_pending(self, ticket_id: int) -> bool:
        """The citizen asked to withdraw since the last dispatch, under a profile where the unit
        returns such a ticket to the hotline (``[withdrawal] after_dispatch = "unit_returns"``)."""
        if self.policy.profile.withdrawal.after_dispatch != "unit_returns":
            return False
        asked = False
        for e in self.store.events(ticket_id):
            if e.type == "dispatched":
                asked = False
            elif e.type == "withdrawal_requested":
                asked = True
        return asked

    def _duty_event(
        self,
        t: StoredTicket,
        event_type: str,
        payload: Mapping[str, Any],
        actor: str,
        now: datetime,
        key: str,
    ) -> None:
        """A unit's 甄别 request (``objection``, ``reason``) or its answer to a supervision
        (``supervision_answered``, ``result``), recorded under ``key`` (a repeat is a no-op)."""
        if self.duties is None:
            raise InvalidTransition(f"{event_type} is not handled by this process")
        if event_type == CLOCK_RESTARTED:
            self._restart_clock(t, payload, actor, now)
            return
        if event_type == "objection":
            reason = _text(payload, "reason", required=True) or ""
            evaluation = self.store.evaluation(t.id)  # the standing one: its round is contested
            level, round_ = evaluation if evaluation else (None, 0)
            at = next((e.at for e in reversed(self.store.events(t.id)) if e.type == "evaluated"), None)
            self.duties.object(t, reason, actor, now, level, at, round_, key=key)
        else:
            result = _text(payload, "result", required=True) or ""
            self.duties.answer_supervision(t, result, actor, now, key=key)

    def _restart_clock(self, t: StoredTicket, payload: Mapping[str, Any], actor: str, now: datetime) -> None:
        """guangzhou §20.1: the unit confirms the citizen's added facts affect the matter; the
        handling period counts again from the day it received them (the latest supplement after
        the last dispatch), once per supplement, before the unit submits its result."""
        if not self.policy.profile.supplement.new_facts_restart_clock:
            raise InvalidTransition(f"{self.policy.profile.name} does not restart the clock on new facts")
        if t.status not in (TicketStatus.DISPATCHED, TicketStatus.SIGNED, TicketStatus.EXTENDED):
            raise InvalidTransition(f"a ticket in status {t.status.value!r} cannot restart its clock")
        events = self.store.events(t.id)
        last_dispatch = max((e.at for e in events if e.type == "dispatched"), default=None)
        added = [e for e in events if e.type == "supplemented" and last_dispatch and e.at >= last_dispatch]
        if not added:
            raise InvalidTransition("no facts were added by the citizen since the ticket was dispatched")
        supplement = added[-1]
        record = {"from": supplement.at.isoformat(), "reason": _text(payload, "reason", required=False) or ""}
        key = f"{CLOCK_RESTARTED}:{t.id}:{supplement.id}"
        view = self.policy.view(t, [*events, StoredEvent(0, CLOCK_RESTARTED, actor, now, record)], now)
        deadline = view.handling_deadline if view is not None else None
        if deadline is not None:
            record["deadline"] = deadline.isoformat()
        if not self.store.add_event(t.id, CLOCK_RESTARTED, actor, record, key=key):
            raise InvalidTransition("the clock was restarted for these facts already")
        if deadline is not None:
            self.store.update_ticket(t.id, deadline=deadline)
        event_id = self.store.event_id(key)
        self.store.add_outbox("notice", f"notice:{event_id}", {"event_id": event_id})


def _parse_time(value: Any) -> datetime:
    if not isinstance(value, str):
        raise InvalidInput("'new_deadline' must be an ISO 8601 time with offset")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput("'new_deadline' must be an ISO 8601 time with offset") from None
    if parsed.tzinfo is None:
        raise InvalidInput("'new_deadline' needs a UTC offset, e.g. 2026-12-01T18:00:00+08:00")
    return parsed
