"""Phone tickets typed in by agents (CONTRACT.md ``POST /api/tickets``): the same templates, the
same anonymity rules and the same missing-field check as the dialog; the caller hears back by SMS."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Mapping
from typing import Any, Protocol

from intake import texts
from intake.dialog import DialogPolicy
from intake.errors import Conflict, InvalidInput
from intake.model import (
    REGISTERED_KIND,
    REGISTRATION_HOLD,
    Address,
    Category,
    Channel,
    Field,
    StoredTicket,
    TicketDraft,
    TicketStatus,
)
from intake.phones import normalize_phone
from intake.policy import Basis, SupplementRules
from intake.store.sql import SqlStore

_TEXT_FIELDS = (
    Field.NAME,
    Field.ID_NUMBER,
    Field.HOME_ADDRESS,
    Field.SUBJECT,
    Field.ADDRESS,
    Field.CONTENT,
    Field.DEMAND,
)
MAX_FIELD_CHARS = 5000


class MissingFields(InvalidInput):
    code = "missing_fields"
    status = 422


class RealNameRequired(InvalidInput):
    code = "real_name_required"
    status = 422


class UrgentClasses(Protocol):
    """The profile's urgent class of a matter, as the dialog finds it (intake.assembly.ScreeningPort)."""

    def urgent_class_of(self, text: str) -> str | None: ...


class _RepeatedRequest(Exception):
    """The request's Idempotency-Key is already stored (an earlier copy, or one at the same time)."""


class PhoneIntake:
    def __init__(
        self,
        store: SqlStore,
        policy: DialogPolicy,
        urgent: UrgentClasses | None = None,
        supplement: SupplementRules | None = None,
    ) -> None:
        self.store = store
        self.policy = policy
        self.urgent = urgent
        # the profile's [supplement]: call-backs for what a call left out (guangzhou §12.1)
        self.supplement = supplement or SupplementRules(
            window=dt.timedelta(days=3),
            notices=1,
            max_supplements=1,
            phone_attempts=3,
            phone_spacing=dt.timedelta(minutes=15),
            close_when_refused=True,
            basis=Basis(source="guangzhou §12"),
        )

    def create(self, data: Mapping[str, Any], agent: str, request_key: str | None = None) -> StoredTicket:
        """Register the call; with ``request_key`` (the back office's Idempotency-Key) a repeat
        of the request by the same caller is the ticket the first one made, never a second."""
        event_key = f"request:{agent}:{request_key}" if request_key else None
        try:  # checked in full every time: a repeat with a body that is not valid is refused
            return self._create(data, agent, event_key)
        except _RepeatedRequest:  # the same request, committed before or by a copy at the same time
            assert event_key is not None
            earlier = self.store.ticket_of_event(event_key)
            assert earlier is not None
            return self.store.get_ticket(earlier)

    def _create(self, data: Mapping[str, Any], agent: str, event_key: str | None) -> StoredTicket:
        if data.get("channel", "phone") != "phone":
            raise InvalidInput("'channel' must be \"phone\" for a ticket an agent types in")
        category_word = data.get("category")
        if not isinstance(category_word, str) or category_word not in {
            c.value for c in self.policy.categories()
        }:
            names = "、".join(c.value for c in self.policy.categories())
            raise InvalidInput(f"'category' must be one of {names}")
        category = Category(str(category_word))
        anonymous = data.get("anonymous", False)
        if not isinstance(anonymous, bool):
            raise InvalidInput("'anonymous' must be true or false")
        values = _typed_fields(data)
        raw_phone = data.get("phone")
        if raw_phone is not None:
            if not isinstance(raw_phone, str):
                raise InvalidInput("'phone' must be a string", code="bad_phone")
            phone = normalize_phone(raw_phone)
            if phone is None:
                raise InvalidInput("'phone' is not a phone number", code="bad_phone")
            values[Field.PHONE] = phone
        hidden = self._hidden(data, anonymous)
        if anonymous:
            matter = self.policy.real_name_matter(values.get(Field.CONTENT, ""))
            if matter:  # guangzhou §10
                raise RealNameRequired(texts.REAL_NAME_REQUIRED.format(matter=matter).split("是否")[0])
        missing = self._missing(category, values, hidden)
        task = data.get("await_supplement", False)
        if not isinstance(task, bool):
            raise InvalidInput("'await_supplement' must be true or false")
        reachable = bool(values.get(Field.PHONE)) and Field.PHONE not in hidden
        if missing and not (task and reachable):
            raise MissingFields(
                f"缺少：{texts.joined(missing)}。Missing: {', '.join(f.value for f in missing)}"
            )
        draft = TicketDraft(
            channel=Channel.PHONE,
            address=self._reach(values.get(Field.PHONE), hidden),
            policy=self.policy.name,
            status=TicketStatus.AWAITING_SUPPLEMENT if missing else TicketStatus.COLLECTING,
            category=category.value,
            anonymous=anonymous,
            hidden=hidden,
            values=values,
            urgent_class=self._urgent_class(values),
        )
        with self.store.tx():
            ticket_id = self.store.create_ticket(draft)
            if event_key is not None and not self.store.add_event(
                ticket_id, "received", f"agent:{agent}", {"channel": "phone"}, key=event_key
            ):
                raise _RepeatedRequest  # rolls the new ticket back
            if missing:
                # guangzhou §12.1: the hotline calls the caller back for what is missing, told at
                # once; three calls at least 15 minutes apart (the console's call-back tasks)
                data_ = {"missing": [f.value for f in missing]}
                self.store.add_event(ticket_id, "supplement_task", f"agent:{agent}", data_)
                return self.store.get_ticket(ticket_id)
            # one unit of work: a call is never left half registered, and never registered twice
            return self._register(ticket_id, category, values, hidden, agent)

    def _missing(
        self, category: Category, values: Mapping[Field, str], hidden: frozenset[Field]
    ) -> list[Field]:
        required = self.policy.required_fields(category, values.get(Field.CONTENT, ""))
        return [f for f in required if not values.get(f) and f not in hidden]

    def _urgent_class(self, values: Mapping[Field, str]) -> str | None:
        """The same urgent class as the matter would get in a chat (huizhou §13.3, shaoyang §20,
        guangxi §26.2.7, quxian §11.4): the caller's words as the agent typed them."""
        matter = "，".join(v for v in (values.get(Field.SUBJECT), values.get(Field.CONTENT)) if v)
        return self.urgent.urgent_class_of(matter) if self.urgent is not None and matter else None

    def call_back(self, ticket_id: int, data: Mapping[str, Any], agent: str) -> StoredTicket:
        """One call to a caller whose request waits for missing information (guangzhou §12.1):
        ``no_answer`` (at least ``phone_spacing`` after the last; the ``phone_attempts``-th closes
        the ticket), ``refused`` (closes it), or ``supplied`` with the items given (registered
        when complete, closed when still not). Every call is an event with the agent's name."""
        outcome = data.get("outcome")
        if outcome not in ("no_answer", "refused", "supplied"):
            raise InvalidInput("'outcome' must be no_answer, refused or supplied")
        given = _typed_fields(data)
        if outcome == "supplied" and not given:
            raise InvalidInput("请填写市民补充的内容。Give the items the caller supplied.")
        rules = self.supplement
        now = self.store.clock.now()
        with self.store.tx():
            t = self.store.get_ticket(ticket_id)  # NotFound (404) when there is no such row
            if (
                self.store.lock_status(ticket_id) is not TicketStatus.AWAITING_SUPPLEMENT
                or t.channel is not Channel.PHONE
            ):
                raise Conflict("这个来电不在等待补充。The call does not wait for a supplement.")
            t = self.store.get_ticket(ticket_id)
            calls = [e for e in self.store.events(ticket_id) if e.type == "supplement_call"]
            if calls and now < calls[-1].at + rules.phone_spacing:
                minutes = int(rules.phone_spacing.total_seconds() // 60)
                raise Conflict(f"两次联系至少间隔 {minutes} 分钟（{rules.basis}）。Call again later.")
            attempt = len(calls) + 1
            self.store.add_event(
                ticket_id, "supplement_call", f"agent:{agent}", {"attempt": attempt, "outcome": outcome}
            )
            values = dict({**t.fields, **t.contact})
            if outcome == "supplied":
                values.update(given)
                self.store.update_ticket(ticket_id, values=values)
                if not self._missing(Category(t.category or ""), values, t.hidden):
                    urgent = self._urgent_class(values)
                    self.store.update_ticket(ticket_id, urgent_class=urgent)
                    return self._register(ticket_id, Category(t.category or ""), values, t.hidden, agent)
                return self._close(t, texts.PHONE_SUPPLEMENT_STILL_MISSING)
            if outcome == "refused":
                return self._close(t, texts.PHONE_SUPPLEMENT_REFUSED)
            if attempt >= rules.phone_attempts:
                return self._close(
                    t,
                    texts.PHONE_SUPPLEMENT_NO_ANSWER.format(
                        n=attempt, minutes=int(rules.phone_spacing.total_seconds() // 60)
                    ),
                )
        return self.store.get_ticket(ticket_id)

    def _close(self, t: StoredTicket, reason: str) -> StoredTicket:
        """The request ends with its reason noted, and the caller is told by SMS that they may
        call again with complete information (guangzhou §12)."""
        self.store.update_ticket(t.id, status=TicketStatus.CLOSED, reason=reason)
        self.store.add_event(t.id, "closed", "system", {"reason": reason})
        phone = t.contact.get(Field.PHONE)
        if phone and Field.PHONE not in t.hidden:
            text = texts.PHONE_SUPPLEMENT_CLOSED.format(reason=reason)
            self.store.record_outbound(
                Address(Channel.SMS, phone),
                text,
                key=f"phoneclosed:{t.id}",
                kind="draft_expired",
                ticket_id=t.id,
            )
        return self.store.get_ticket(t.id)

    def _register(
        self,
        ticket_id: int,
        category: Category,
        values: Mapping[Field, str],
        hidden: frozenset[Field],
        agent: str,
    ) -> StoredTicket:
        t = self.store.get_ticket(ticket_id)
        urgent_class = t.urgent_class
        now = self.store.clock.now()
        deadline, provisional = self.policy.registration_deadline(category, urgent_class, Channel.PHONE, now)
        number = self.store.register(
            ticket_id, deadline=deadline, deadline_provisional=provisional, actor=agent
        )
        phone = values.get(Field.PHONE)
        if phone and Field.PHONE not in hidden:
            ack = texts.REGISTERED if deadline else texts.REGISTERED_NO_DEADLINE
            text = ack.format(
                number=number,
                category=category.value,
                deadline=texts.format_deadline(deadline) if deadline else "",
            )
            self.store.record_outbound(  # held a moment: its dispatch is told in the same SMS
                Address(Channel.SMS, phone),
                text,
                key=f"ack:{ticket_id}",
                kind=REGISTERED_KIND,
                ticket_id=ticket_id,
                hold_until=now + REGISTRATION_HOLD,
            )
        return self.store.get_ticket(ticket_id)

    @staticmethod
    def _reach(phone: str | None, hidden: frozenset[Field]) -> Address:
        """Where the caller is reached: their number by SMS, the channel every later notice takes.

        Keyed as an SMS sender, so when the caller texts back (an evaluation, a progress query,
        a withdrawal) the dialog finds this ticket as theirs (guangzhou §9: "from the same
        number"). A hidden number is never used to reach them, so it is not the address at all:
        a caller who hid it (or gave none) gets an opaque one that no gateway can deliver to.
        """
        if phone and Field.PHONE not in hidden:
            return Address(Channel.SMS, phone)
        return Address(Channel.PHONE, f"unreachable:{secrets.token_hex(8)}")

    @staticmethod
    def _hidden(data: Mapping[str, Any], anonymous: bool) -> frozenset[Field]:
        """What the caller asked to hide (guangzhou §9); anonymous with no list hides everything."""
        raw = data.get("hide")
        if raw is None:
            return (
                frozenset({Field.NAME, Field.PHONE, Field.ID_NUMBER, Field.HOME_ADDRESS})
                if anonymous
                else frozenset()
            )
        if not isinstance(raw, list) or not all(isinstance(x, str) for x in raw):
            raise InvalidInput("'hide' must be a list of: name, phone, id_number, home_address")
        try:
            fields = frozenset(Field(x) for x in raw)
        except ValueError:
            raise InvalidInput("'hide' must be a list of: name, phone, id_number, home_address") from None
        if not all(f.is_personal for f in fields):
            raise InvalidInput("only personal items can be hidden: name, phone, id_number, home_address")
        return fields


def _typed_fields(data: Mapping[str, Any]) -> dict[Field, str]:
    """The text fields an agent typed (trimmed, empty ones left out), each checked for its shape."""
    values: dict[Field, str] = {}
    for f in _TEXT_FIELDS:
        v = data.get(f.value)
        if v is None:
            continue
        if not isinstance(v, str) or len(v) > MAX_FIELD_CHARS:
            raise InvalidInput(f"'{f.value}' must be a string of at most {MAX_FIELD_CHARS} characters")
        if v.strip():
            values[f] = v.strip()
    return values
