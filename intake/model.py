"""The vocabulary every layer shares: channels, addresses, messages, ticket words.

The string values are fixed by CONTRACT.md; outside test suites compare against them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")


class Channel(StrEnum):
    """The ways a citizen reaches the hotline (CONTRACT.md "Channel words")."""

    WEBCHAT = "webchat"
    TELEGRAM = "telegram"
    EMAIL = "email"
    SMS = "sms"
    PHONE = "phone"

    @property
    def is_online(self) -> bool:
        """Online channels get one written notice for missing information (guangzhou §12)."""
        return self is not Channel.PHONE

    @property
    def is_live(self) -> bool:
        """A conversation: the citizen answers the bot's questions as they come (web chat,
        Telegram, SMS). A request taken this way is not a supplement to one the hotline reviewed
        (guangzhou §12, huizhou §9 count those: a mail); the bot asks again, as a clerk would."""
        return self in (Channel.WEBCHAT, Channel.TELEGRAM, Channel.SMS)

    @property
    def replies_in_response(self) -> bool:
        """The channel shows the replies in the response to the citizen's own request (web chat);
        elsewhere they are sent afterwards, each by its delivery job."""
        return self is Channel.WEBCHAT

    @property
    def sender_proven(self) -> bool:
        """Whether the channel itself proves who sent a message (a signed SMS webhook, a chat
        session's token, Telegram's account). A mail's From: proves nothing: withdrawing or
        evaluating by mail waits for a code sent back to the address (intake.confirm)."""
        return self is not Channel.EMAIL

    @property
    def carries_phone(self) -> bool:
        """The address is the citizen's phone number (an SMS sender, a phone caller)."""
        return self in (Channel.SMS, Channel.PHONE)

    @property
    def merges_notices(self) -> bool:
        """Each notice is a paid SMS or a separate mail: registration and a dispatch a moment
        later are told in one (issue 19). Chat shows the number at once, the unit when known."""
        return self in (Channel.SMS, Channel.EMAIL)

    @property
    def has_buttons(self) -> bool:
        """Choices are buttons here; elsewhere (SMS, mail, a phone caller's SMS) they are numbered
        lines in the text (intake.texts.numbered)."""
        return self in (Channel.WEBCHAT, Channel.TELEGRAM)


class Category(StrEnum):
    """The regulations' own category words (guangzhou §45, guangxi §25)."""

    CONSULTATION = "咨询"
    HELP = "求助"
    COMPLAINT = "投诉"
    REPORT = "举报"
    SUGGESTION = "意见建议"
    PRAISE = "表扬"


class TicketStatus(StrEnum):
    """Status words of CONTRACT.md, exactly."""

    COLLECTING = "collecting"
    AWAITING_SUPPLEMENT = "awaiting_supplement"
    REGISTERED = "registered"
    DISPATCHED = "dispatched"
    SIGNED = "signed"
    EXTENDED = "extended"
    COMPLETED = "completed"
    REHANDLING = "rehandling"
    CLOSED = "closed"
    WITHDRAWN = "withdrawn"
    REJECTED = "rejected"
    REDIRECTED = "redirected"

    @property
    def is_open(self) -> bool:
        """A ticket the citizen can still add to, query or withdraw."""
        return self in _OPEN_STATUSES


_OPEN_STATUSES = frozenset(
    {
        TicketStatus.REGISTERED,
        TicketStatus.DISPATCHED,
        TicketStatus.SIGNED,
        TicketStatus.EXTENDED,
        TicketStatus.REHANDLING,
    }
)


class Field(StrEnum):
    """Registration fields of a category template (huizhou §9, guangzhou §11-12)."""

    NAME = "name"  # 称呼/姓名
    PHONE = "phone"  # 联系电话
    ID_NUMBER = "id_number"  # 身份证号
    HOME_ADDRESS = "home_address"  # the citizen's own address
    SUBJECT = "subject"  # 涉事主体 (unit, shop, person involved)
    ADDRESS = "address"  # 事发地址 (where it happens)
    CONTENT = "content"  # 具体情况
    DEMAND = "demand"  # 诉求要求

    @property
    def label(self) -> str:
        """The short zh-CN name used in prompts to the citizen."""
        return FIELD_LABELS[self]

    @property
    def is_personal(self) -> bool:
        """Personal items the citizen may ask to hide (guangzhou §9)."""
        return self in PERSONAL_FIELDS


FIELD_LABELS: dict[Field, str] = {
    Field.NAME: "您的称呼",
    Field.PHONE: "联系电话",
    Field.ID_NUMBER: "身份证号码",
    Field.HOME_ADDRESS: "您的住址",
    Field.SUBJECT: "涉及的单位或对象",
    Field.ADDRESS: "事发地址",
    Field.CONTENT: "具体情况",
    Field.DEMAND: "您的诉求",
}

# A ticket number: the registration day and that day's sequence, at least six digits
# (intake/store/tickets.py formats it "{YYYYMMDD}-{n:06d}"). The one spelling; other patterns embed
# TICKET_NUMBER.
# ASCII digits only ([0-9], not \d): the same pattern serves the OpenAPI document.
TICKET_NUMBER = "[0-9]{8}-[0-9]{6,9}"
# A ticket number inside a citizen's or a mail's text, not part of a longer run of digits.
TICKET_NUMBER_IN_TEXT = re.compile(rf"(?<![0-9])({TICKET_NUMBER})(?![0-9])")

PERSONAL_FIELDS = frozenset({Field.NAME, Field.PHONE, Field.ID_NUMBER, Field.HOME_ADDRESS})


REGISTERED_KIND = "registered"  # the kind of a registration notice (messages_out.kind)
# How long a registration notice by SMS or mail waits for its dispatch to be told in one message.
REGISTRATION_HOLD = timedelta(minutes=3)


class DeliveryState(StrEnum):
    """Outbound delivery outcomes (RELIABILITY.md §6: delivered, failed, uncertain)."""

    PENDING = "pending"
    # Stored, sent when released: a registration notice waits up to REGISTRATION_HOLD for the
    # dispatch, so one SMS or mail tells both (issue 19); the sweep releases it after that.
    HELD = "held"
    # Claimed by one worker until ``next_attempt_at`` (its lease) while the provider is called: no
    # other worker sends it meanwhile, and a claim that outlives its lease (the worker died between
    # the provider's accept and our record) becomes UNCERTAIN, never sent again by itself.
    SENDING = "sending"
    DELIVERED = "delivered"
    FAILED = "failed"
    UNCERTAIN = "uncertain"


@dataclass(frozen=True, slots=True)
class Address:
    """Where a citizen is reached: a web-chat session id, a chat id, an email, an E.164 phone."""

    channel: Channel
    value: str


@dataclass(frozen=True, slots=True)
class Attachment:
    """A reference to a stored attachment; the bytes stay where the channel put them."""

    filename: str
    content_type: str
    ref: str


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """One message from a citizen, with nothing channel-specific left in it."""

    address: Address
    text: str
    received_at: datetime
    native_id: str | None = None
    attachments: tuple[Attachment, ...] = ()
    thread_ticket: str | None = None  # ticket number the channel found in the thread (mail subject tag)
    # What a trusted relay in front of the channel found of the sender (mail: its
    # Authentication-Results, e.g. "dkim=pass spf=pass dmarc=fail"); None when none said anything.
    sender_auth: str | None = None
    subject: str | None = None  # a mail's subject: our replies keep it ("Re: …")


@dataclass(frozen=True, slots=True)
class Reply:
    """A reply the dialog wants sent; ``choices`` degrade to numbered lines on text-only channels."""

    text: str
    choices: tuple[str, ...] = ()
    kind: str = "reply"  # "registered": the notice a dispatch soon after may merge into


# ---- what the system of record keeps, as the rest of the product reads it ---------------------
# (intake/store/ writes and reads them; every layer passes them around)


@dataclass(frozen=True, slots=True)
class StoredTicket:
    id: int
    number: str | None
    status: TicketStatus
    category: str | None
    channel: Channel
    address: Address
    policy: str
    urgent_class: str | None
    address_key: str
    anonymous: bool
    hidden: frozenset[Field]
    contact: Mapping[Field, str]
    fields: Mapping[Field, str]
    unit: str | None
    helper_units: tuple[str, ...]
    deadline: datetime | None
    deadline_provisional: bool
    supplement_due_at: datetime | None
    evaluation_due_at: datetime | None
    extensions: int
    rehandling_round: int
    returns: int
    warning: str | None
    reason: str | None
    created_at: datetime
    registered_at: datetime | None
    cluster: str | None
    updated_at: datetime
    version: int
    supervision: Supervision | None = None
    review: str | None = None  # "dissatisfied" or "objection" while an agent's review waits


@dataclass(frozen=True, slots=True)
class Supervision:
    """督办 on a ticket (issue 21): why, since when, due when, and whether it was extended."""

    opened_at: datetime
    due: datetime
    reason: str
    by: str  # "system" or the agent's login
    extended: bool
    answered_at: datetime | None = None  # the unit's answer (or its result) after it opened


@dataclass(frozen=True, slots=True)
class PlaceTicket:
    """What the near-duplicate search compares of another open ticket (intake/clusters.py)."""

    id: int
    number: str
    cluster: str | None
    address_key: str
    fields: Mapping[Field, str]  # the non-contact fields only


@dataclass(frozen=True, slots=True)
class StoredEvent:
    id: int
    type: str
    actor: str
    at: datetime
    data: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class StoredOutbound:
    id: int
    idempotency_key: str
    address: Address
    text: str
    choices: tuple[str, ...]
    subject: str | None
    kind: str
    ticket_id: int | None
    state: DeliveryState
    attempts: int
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None
    next_attempt_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class OutboxJob:
    id: int
    job: str
    key: str
    payload: Mapping[str, Any]
    attempts: int
    last_error: str | None = None


AGENT_KIND = "agent"  # the kind of an outbound message a person (an agent) wrote


@dataclass(frozen=True, slots=True)
class Handoff:
    """A conversation waiting for a person (CONTRACT.md "Agents and the console API"): the
    citizen asked for one; the bot stays quiet until an agent releases it."""

    id: int
    address: Address
    since: datetime
    last_at: datetime
    text: str  # the citizen's latest message


@dataclass(frozen=True, slots=True)
class TicketBrief:
    id: int
    number: str | None
    status: TicketStatus
    category: str | None
    deadline: datetime | None


@dataclass(slots=True)
class TicketDraft:
    """What the dialog hands to the store to create or update a ticket row."""

    channel: Channel
    address: Address
    policy: str
    status: TicketStatus = TicketStatus.COLLECTING
    category: str | None = None
    urgent_class: str | None = None
    anonymous: bool = False
    hidden: frozenset[Field] = frozenset()
    values: dict[Field, str] = field(default_factory=dict)
    reason: str | None = None
    supplement_due_at: datetime | None = None
