"""The intake dialog as a pure function: (state, message, context) → replies, new state, actions.

No I/O here: the service (intake/service.py) loads the state, stores the message first, applies
the actions to SQL and sends the replies. Rules cited: the one-time notice of everything missing
(一次性告知, huizhou §9, guangzhou §12), anonymity (guangzhou §9-10), withdrawal and progress
queries from the same account (guangzhou §9), screening before drafting (issue 7), on-the-spot
answers from the knowledge base (guangzhou §14.1, huizhou §10) and repeats of a handled matter
(guangzhou §24, shaoyang §10.4).

A sender has at most one draft (status ``collecting``) per channel: a draft is only created from
the idle stage, and every path out of a drafting stage either registers or closes it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from intake import texts
from intake.model import Category, Channel, Field, Reply, TicketStatus

MAX_CHARS = 5000


class Stage(StrEnum):
    IDLE = "idle"
    CHOOSE_CATEGORY = "choose_category"
    HIDE_ITEMS = "hide_items"
    REAL_NAME = "real_name"
    COLLECTING = "collecting"  # the one-time prompt went out; the next reply must complete it
    CHOOSE_TICKET = "choose_ticket"
    KB_ANSWERED = "kb_answered"  # answered from the knowledge base; "没解决" registers a ticket
    REPEAT = "repeat"  # told the earlier result of the same matter; new facts register a ticket


class Intent(StrEnum):
    GREETING = "greeting"
    THANKS = "thanks"
    PROGRESS = "progress"
    WITHDRAW = "withdraw"
    CANCEL = "cancel"
    SUPPLEMENT = "supplement"
    ANONYMOUS = "anonymous"


@dataclass(frozen=True, slots=True)
class Understood:
    """What text understanding found in one message (see intake/understanding.py)."""

    text: str  # normalised
    category: Category | None = None
    confident: bool = False
    values: Mapping[Field, str] = field(default_factory=dict)
    intents: frozenset[Intent] = frozenset()
    hide: frozenset[Field] = frozenset()
    invalid_ids: tuple[str, ...] = ()
    has_chinese: bool = True


class Understanding(Protocol):
    def understand(self, text: str) -> Understood: ...

    def fill(self, wanted: Sequence[Field], text: str) -> dict[Field, str]: ...

    def is_meaningless(self, text: str) -> bool: ...


@dataclass(frozen=True, slots=True)
class ScreenOutcome:
    kind: str  # emergency | out_of_scope | abuse | urgent
    rule_id: str
    reply: str
    status: TicketStatus | None = None
    urgent_class: str | None = None


class Screening(Protocol):
    def screen(self, text: str) -> ScreenOutcome | None: ...


@dataclass(frozen=True, slots=True)
class KnowledgeHit:
    """A confident on-the-spot answer to a consultation (guangzhou §14.1)."""

    entry_id: str
    answer: str


class Knowledge(Protocol):
    def answer(self, text: str, now: datetime) -> KnowledgeHit | None:
        """The answer when the knowledge base is confident, else None (a ticket is registered)."""
        ...


class RepeatCheck(Protocol):
    def is_repeat(self, new_text: str, earlier_text: str) -> bool:
        """True when ``new_text`` restates the matter of ``earlier_text`` (guangzhou §24)."""
        ...


@dataclass(frozen=True, slots=True)
class HandledTicket:
    """One of the sender's tickets already handled (completed or closed with a number)."""

    number: str
    content: str
    result: str | None = None


class DialogPolicy(Protocol):
    name: str

    def categories(self) -> Sequence[Category]: ...

    def required_fields(self, category: Category) -> Sequence[Field]: ...

    def real_name_matter(self, text: str) -> str | None: ...

    def supplement_window(self, channel: Channel) -> timedelta: ...

    def rehandling_deadline(
        self, category: str | None, level: str, round_: int, now: datetime
    ) -> datetime | None:
        """When this answer opens a re-handling round, its deadline; else None (guangzhou §28-29)."""
        ...

    def registration_deadline(
        self, category: Category, urgent_class: str | None, channel: Channel, now: datetime
    ) -> tuple[datetime | None, bool]:
        """The handling deadline known at registration, and whether it is provisional."""
        ...


@dataclass(frozen=True, slots=True)
class TicketSummary:
    number: str
    status: TicketStatus
    category: str | None
    deadline: datetime | None
    ref: str = ""  # the short reference shown in an evaluation prompt


class Evaluations(Protocol):
    def parse(self, text: str) -> tuple[str | None, str | None]:
        """(reference named, level word) of a satisfaction reply; None where absent."""
        ...


@dataclass(frozen=True, slots=True)
class StepContext:
    policy: DialogPolicy
    understanding: Understanding
    now: datetime
    channel: Channel
    open_tickets: Sequence[TicketSummary] = ()
    screening: Screening | None = None
    awaiting_evaluation: Sequence[TicketSummary] = ()
    evaluations: Evaluations | None = None
    knowledge: Knowledge | None = None
    repeats: RepeatCheck | None = None
    handled: Sequence[HandledTicket] = ()  # newest first


@dataclass(frozen=True, slots=True)
class DialogState:
    stage: Stage = Stage.IDLE
    draft_id: int | None = None
    category: Category | None = None
    values: Mapping[Field, str] = field(default_factory=dict)
    anonymous: bool = False
    hidden: frozenset[Field] = frozenset()
    hide_answered: bool = False
    real_name_confirmed: bool = False
    asked: tuple[Field, ...] = ()
    urgent_class: str | None = None
    due_at: datetime | None = None
    pending_action: str | None = None
    choices: tuple[str, ...] = ()
    eval_reasked: bool = False
    kb_entry: str | None = None
    repeat_of: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "stage": self.stage.value,
            "draft_id": self.draft_id,
            "category": self.category.value if self.category else None,
            "values": {k.value: v for k, v in self.values.items()},
            "anonymous": self.anonymous,
            "hidden": sorted(f.value for f in self.hidden),
            "hide_answered": self.hide_answered,
            "real_name_confirmed": self.real_name_confirmed,
            "asked": [f.value for f in self.asked],
            "urgent_class": self.urgent_class,
            "due_at": self.due_at.isoformat() if self.due_at else None,
            "pending_action": self.pending_action,
            "choices": list(self.choices),
            "eval_reasked": self.eval_reasked,
            "kb_entry": self.kb_entry,
            "repeat_of": self.repeat_of,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DialogState:
        return cls(
            stage=Stage(data.get("stage", "idle")),
            draft_id=data.get("draft_id"),
            category=Category(data["category"]) if data.get("category") else None,
            values={Field(k): v for k, v in (data.get("values") or {}).items()},
            anonymous=bool(data.get("anonymous")),
            hidden=frozenset(Field(x) for x in data.get("hidden") or ()),
            hide_answered=bool(data.get("hide_answered")),
            real_name_confirmed=bool(data.get("real_name_confirmed")),
            asked=tuple(Field(x) for x in data.get("asked") or ()),
            urgent_class=data.get("urgent_class"),
            due_at=datetime.fromisoformat(data["due_at"]) if data.get("due_at") else None,
            pending_action=data.get("pending_action"),
            choices=tuple(data.get("choices") or ()),
            eval_reasked=bool(data.get("eval_reasked")),
            kb_entry=data.get("kb_entry"),
            repeat_of=data.get("repeat_of"),
        )


# -- actions the service applies ------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class SaveDraft:
    """Create or update the SQL draft (status collecting) from this state."""

    state: DialogState


@dataclass(frozen=True, slots=True)
class Register:
    """Register the draft of this state: number, deadline, dispatch outbox row (one transaction)."""

    state: DialogState


@dataclass(frozen=True, slots=True)
class CloseDraft:
    reason: str


@dataclass(frozen=True, slots=True)
class Withdraw:
    number: str


@dataclass(frozen=True, slots=True)
class Supplement:
    number: str
    text: str


@dataclass(frozen=True, slots=True)
class RecordScreening:
    """Keep a redirected or rejected request as a ticket row with the rule that fired."""

    status: TicketStatus
    rule_id: str
    text: str


@dataclass(frozen=True, slots=True)
class Evaluate:
    """A satisfaction answer (CONTRACT.md); ``level`` None records an invalid answer."""

    number: str
    level: str | None


@dataclass(frozen=True, slots=True)
class RecordAnswered:
    """A consultation answered from the knowledge base: kept as a closed, unnumbered ticket row
    with reason ``kb:<entry id>`` so agents can audit it (guangzhou §14.1)."""

    entry_id: str
    text: str


@dataclass(frozen=True, slots=True)
class NoteRepeat:
    """The citizen raised a handled matter again with no new facts: an event on the earlier
    ticket, no new ticket (guangzhou §24)."""

    number: str
    text: str


Action = (
    SaveDraft
    | Register
    | CloseDraft
    | Withdraw
    | Supplement
    | RecordScreening
    | Evaluate
    | RecordAnswered
    | NoteRepeat
)


@dataclass(frozen=True, slots=True)
class StepResult:
    state: DialogState
    replies: tuple[Reply, ...] = ()
    actions: tuple[Action, ...] = ()


_LONE_DIGITS = re.compile(r"^\s*[0-9]{1,2}\s*$")
_HIDE_WORDS: dict[str, frozenset[Field]] = {
    "全部": frozenset({Field.NAME, Field.PHONE, Field.ID_NUMBER, Field.HOME_ADDRESS}),
    "姓名": frozenset({Field.NAME}),
    "名字": frozenset({Field.NAME}),
    "电话": frozenset({Field.PHONE}),
    "手机": frozenset({Field.PHONE}),
    "身份证": frozenset({Field.ID_NUMBER}),
    "住址": frozenset({Field.HOME_ADDRESS}),
    "地址": frozenset({Field.HOME_ADDRESS}),
}


def step(state: DialogState, text: str, ctx: StepContext) -> StepResult:
    """One turn of the dialog. Never raises on any text."""
    if len(text) > MAX_CHARS:
        return StepResult(state, (Reply(texts.TOO_LONG.format(limit=MAX_CHARS)),))
    if ctx.understanding.is_meaningless(text):
        return StepResult(state, (Reply(texts.MEANINGLESS),))
    u = ctx.understanding.understand(text)

    # An emergency is redirected in the first reply, whatever the dialog was doing (issue 7).
    screened = ctx.screening.screen(u.text) if ctx.screening else None
    if screened is not None and screened.kind == "emergency":
        status = screened.status or TicketStatus.REDIRECTED
        return StepResult(
            state, (Reply(screened.reply),), (RecordScreening(status, screened.rule_id, u.text),)
        )

    if Intent.CANCEL in u.intents and state.stage is not Stage.IDLE:
        return _reset(state, texts.CANCELLED, CloseDraft("cancelled by the citizen"))
    if Intent.PROGRESS in u.intents and state.stage in (Stage.IDLE, Stage.CHOOSE_TICKET):
        return StepResult(replace(state, stage=Stage.IDLE, choices=()), (progress_reply(ctx.open_tickets),))
    if Intent.WITHDRAW in u.intents and state.stage in (Stage.IDLE, Stage.CHOOSE_TICKET):
        return _withdraw(state, ctx)

    if state.stage is Stage.IDLE and ctx.awaiting_evaluation and ctx.evaluations is not None:
        answered = _on_evaluation(state, u, ctx)
        if answered is not None:
            return answered
    if state.stage is Stage.CHOOSE_CATEGORY:
        return _on_category(state, u, ctx)
    if state.stage is Stage.HIDE_ITEMS:
        return _on_hide(state, u, ctx)
    if state.stage is Stage.REAL_NAME:
        return _on_real_name(state, u, ctx)
    if state.stage is Stage.COLLECTING:
        return _on_supplement(state, u, ctx)
    if state.stage is Stage.CHOOSE_TICKET:
        return _on_ticket_choice(state, u, ctx)
    return _new_request(state, u, ctx, screened)


def _reset(state: DialogState, message: str, *actions: Action) -> StepResult:
    return StepResult(
        DialogState(), (Reply(message),), (SaveDraft(state), *actions) if state.draft_id else ()
    )


def progress_reply(tickets: Sequence[TicketSummary]) -> Reply:
    if not tickets:
        return Reply(texts.NO_OPEN_TICKETS)
    lines = []
    for t in tickets:
        deadline = f"，答复期限{texts.format_deadline(t.deadline)}" if t.deadline else ""
        lines.append(
            texts.PROGRESS_LINE.format(
                number=t.number,
                category=t.category or "",
                status=texts.STATUS_WORDS.get(t.status.value, t.status.value),
                deadline=deadline,
            )
        )
    return Reply("\n".join(lines))


def _withdraw(state: DialogState, ctx: StepContext) -> StepResult:
    tickets = list(ctx.open_tickets)
    if not tickets:
        return StepResult(state, (Reply(texts.NO_OPEN_TICKETS),))
    if len(tickets) == 1:
        return StepResult(DialogState(), (), (Withdraw(tickets[0].number),))
    choices = tuple(t.number for t in tickets)
    return StepResult(
        replace(state, stage=Stage.CHOOSE_TICKET, pending_action="withdraw", choices=choices),
        (Reply(texts.ASK_WHICH_TICKET.format(action="撤回"), choices),),
    )


def _on_evaluation(state: DialogState, u: Understood, ctx: StepContext) -> StepResult | None:
    """Digits or words answer the pending evaluation; the answer is never guessed between two
    tickets; anything else gets one short re-ask, then counts as invalid (CONTRACT.md)."""
    assert ctx.evaluations is not None
    pending = list(ctx.awaiting_evaluation)
    ref, level = ctx.evaluations.parse(u.text)
    if level is not None:
        named = [t for t in pending if ref is not None and t.ref == ref]
        if named:
            return StepResult(replace(state, eval_reasked=False), (), (Evaluate(named[0].number, level),))
        if len(pending) == 1 and ref is None:
            return StepResult(replace(state, eval_reasked=False), (), (Evaluate(pending[0].number, level),))
        lines = "\n".join(f"{t.ref}：工单{t.number}" for t in pending)
        return StepResult(state, (Reply(texts.EVAL_WHICH.format(lines=lines, ref=pending[0].ref)),))
    substantive = u.category is not None and u.confident and len(u.text) > 8
    if substantive:
        return None  # a new request, not an answer
    if not state.eval_reasked:
        return StepResult(replace(state, eval_reasked=True), (Reply(texts.EVAL_REASK),))
    actions = tuple(Evaluate(t.number, None) for t in pending)
    return StepResult(replace(state, eval_reasked=False), (Reply(texts.EVAL_INVALID),), actions)


def _on_ticket_choice(state: DialogState, u: Understood, ctx: StepContext) -> StepResult:
    chosen = _pick(u.text, state.choices)
    if chosen is None:
        return StepResult(state, (Reply(texts.ASK_WHICH_TICKET.format(action="撤回"), state.choices),))
    return StepResult(DialogState(), (), (Withdraw(chosen),))


def _pick(text: str, choices: Sequence[str]) -> str | None:
    """A choice by its text, a unique part of it, or its 1-based position. Never a guess."""
    t = text.strip()
    if t in choices:
        return t
    if t.isdigit() and 1 <= int(t) <= len(choices) and not any(t in c for c in choices):
        return choices[int(t) - 1]
    hits = [c for c in choices if t and (t in c or c in t)]
    return hits[0] if len(hits) == 1 else None


def _new_request(
    state: DialogState, u: Understood, ctx: StepContext, screened: ScreenOutcome | None
) -> StepResult:
    if screened is not None and screened.kind in ("out_of_scope", "abuse"):
        status = screened.status or TicketStatus.REJECTED
        return StepResult(
            state, (Reply(screened.reply),), (RecordScreening(status, screened.rule_id, u.text),)
        )
    substantive = u.category is not None or bool({Field.ADDRESS, Field.SUBJECT, Field.DEMAND} & set(u.values))
    if not substantive:
        if _LONE_DIGITS.match(u.text):
            return StepResult(state, (Reply(texts.STRAY_DIGIT),))
        if not u.has_chinese:
            return StepResult(state, (Reply(texts.NOT_CHINESE),))
        if Intent.THANKS in u.intents:
            return StepResult(state, (Reply(texts.THANKS),))
        if Intent.GREETING in u.intents or len(u.text) < 6:
            return StepResult(state, (Reply(texts.WELCOME),))
    if Intent.SUPPLEMENT in u.intents and ctx.open_tickets:
        latest = ctx.open_tickets[-1]
        return StepResult(state, (), (Supplement(latest.number, u.text),))

    values = dict(u.values)
    values.setdefault(Field.CONTENT, u.text)
    new = DialogState(
        category=u.category if u.confident else None,
        values=values,
        anonymous=Intent.ANONYMOUS in u.intents,
        hidden=u.hide,
        hide_answered=bool(u.hide),
        urgent_class=screened.urgent_class if screened is not None else None,
    )
    if new.category is None or new.category not in ctx.policy.categories():
        choices = tuple(c.value for c in ctx.policy.categories())
        return StepResult(
            replace(new, stage=Stage.CHOOSE_CATEGORY, choices=choices),
            (Reply(texts.ASK_CATEGORY, choices),),
            (SaveDraft(new),),
        )
    return _continue(new, ctx, ())


def _on_category(state: DialogState, u: Understood, ctx: StepContext) -> StepResult:
    chosen = _pick(u.text, state.choices)
    category = Category(chosen) if chosen else (u.category if u.category in ctx.policy.categories() else None)
    if category is None:
        return StepResult(state, (Reply(texts.CATEGORY_NOT_UNDERSTOOD, state.choices),))
    values = dict(state.values)
    if chosen is None:  # they wrote more than the choice: keep what it adds
        for f, v in u.values.items():
            values.setdefault(f, v)
    return _continue(replace(state, category=category, values=values, choices=()), ctx, ())


def _on_hide(state: DialogState, u: Understood, ctx: StepContext) -> StepResult:
    hidden: set[Field] = set()
    for word, fields in _HIDE_WORDS.items():
        if word in u.text:
            hidden |= fields
    if not hidden:
        hidden = set(_HIDE_WORDS["全部"])
    state = replace(state, hidden=frozenset(hidden), hide_answered=True, choices=())
    confirm = Reply(texts.HIDE_CONFIRMED.format(items=texts.joined(sorted(hidden, key=list(Field).index))))
    return _continue(state, ctx, (confirm,))


def _on_real_name(state: DialogState, u: Understood, ctx: StepContext) -> StepResult:
    if "取消" in u.text or u.text.strip() in {"不", "否", "不用了"}:
        return _reset(state, texts.REAL_NAME_DECLINED, CloseDraft("real name required and declined"))
    if "继续" in u.text or "实名" in u.text or u.text.strip() in {"是", "好", "好的", "可以", "1"}:
        state = replace(
            state,
            anonymous=False,
            hidden=frozenset(),
            hide_answered=True,
            real_name_confirmed=True,
            choices=(),
        )
        return _continue(state, ctx, ())
    return StepResult(
        state, (Reply(texts.REAL_NAME_REQUIRED.format(matter="该事项"), texts.REAL_NAME_CHOICES),)
    )


def missing_fields(state: DialogState, policy: DialogPolicy) -> list[Field]:
    """The one-time prompt is a function of data: the template's required fields not yet given
    and not hidden by the citizen (guangzhou §9, §12)."""
    if state.category is None:
        return []
    return [
        f for f in policy.required_fields(state.category) if not state.values.get(f) and f not in state.hidden
    ]


def _continue(state: DialogState, ctx: StepContext, before: tuple[Reply, ...]) -> StepResult:
    if state.anonymous and not state.hide_answered:
        matter = ctx.policy.real_name_matter(state.values.get(Field.CONTENT, ""))
        if matter and not state.real_name_confirmed:
            nxt = replace(state, stage=Stage.REAL_NAME, choices=texts.REAL_NAME_CHOICES)
            reply = Reply(texts.REAL_NAME_REQUIRED.format(matter=matter), texts.REAL_NAME_CHOICES)
            return StepResult(nxt, (*before, reply), (SaveDraft(nxt),))
        nxt = replace(state, stage=Stage.HIDE_ITEMS, choices=texts.HIDE_CHOICES)
        replies = (*before, Reply(texts.HIDE_WARNING), Reply(texts.ASK_HIDE, texts.HIDE_CHOICES))
        return StepResult(nxt, replies, (SaveDraft(nxt),))
    missing = missing_fields(state, ctx.policy)
    if not missing:
        return StepResult(DialogState(), before, (SaveDraft(state), Register(state)))
    due = ctx.now + ctx.policy.supplement_window(ctx.channel)
    nxt = replace(state, stage=Stage.COLLECTING, asked=tuple(missing), due_at=due, choices=())
    return StepResult(
        nxt, (*before, Reply(texts.ASK_MISSING.format(items=texts.missing_list(missing)))), (SaveDraft(nxt),)
    )


def _on_supplement(state: DialogState, u: Understood, ctx: StepContext) -> StepResult:
    """The one supplement the rules allow (guangzhou §12): complete → register; else close."""
    values = dict(state.values)
    for f, v in ctx.understanding.fill(state.asked, u.text).items():
        if v:
            values[f] = v
    state = replace(state, values=values)
    still = missing_fields(state, ctx.policy)
    if not still:
        return StepResult(DialogState(), (), (SaveDraft(state), Register(state)))
    message = texts.STILL_MISSING.format(items=texts.joined(still))
    return StepResult(
        DialogState(), (Reply(message),), (SaveDraft(state), CloseDraft(f"missing: {','.join(still)}"))
    )
