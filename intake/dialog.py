"""The intake dialog as a pure function: (state, message, context) → replies, new state, actions.

(Long because every stage of the conversation is a function here, next to the others, so that a
turn reads top to bottom in one module; a file per stage would add to the files a turn crosses.)

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

import hmac
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from intake import texts
from intake.model import TICKET_NUMBER_IN_TEXT, Category, Channel, Field, Reply, TicketStatus

MAX_CHARS = 5000
DETAILS = 6  # an answer to a question (yes/no, buttons) this long may describe the matter
PRAISE_NOTED = "praise.noted"  # the rule id a praise is kept under where the profile has no 表扬


class Stage(StrEnum):
    IDLE = "idle"
    CONFIRM_CATEGORY = "confirm_category"  # "您是要投诉…吗？" 是/不是; choices = (the guess, the others…)
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
    PERSON = "person"  # "转人工": a person asked for


@dataclass(frozen=True, slots=True)
class Understood:
    """What text understanding found in one message (see intake/understanding.py)."""

    text: str  # normalised
    category: Category | None = None  # the best guess; taken as it is only when ``confident``
    confident: bool = False
    confirm: bool = False  # not sure: ask "是…吗？" about ``category`` before taking it
    candidates: tuple[Category, ...] = ()  # every category, most likely first (buttons after 不是)
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
    kind: str  # emergency | out_of_scope | abuse | urgent | caution
    rule_id: str
    reply: str
    status: TicketStatus | None = None
    urgent_class: str | None = None
    caution: str = ""  # said first when a life may be at risk and the request goes on


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

    def required_fields(self, category: Category, content: str = "") -> Sequence[Field]:
        """The fields to register ``category`` with, a real-name matter's items included."""
        ...

    def real_name_matter(self, text: str) -> str | None: ...

    def supplement_window(self, channel: Channel) -> timedelta: ...

    def supplements_allowed(self) -> int:
        """Supplements accepted on an online channel before an incomplete request is closed."""
        ...

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
    known: Mapping[Field, str] = field(
        default_factory=dict
    )  # what the channel itself tells (an SMS sender's number)
    # A ticket named by its number that this sender did not file (查询进度 <number> from another
    # device or channel): looked up only when asked (CONTRACT.md "Web chat").
    named_ticket: Callable[[str], NamedTicket | None] = field(default=lambda _number: None)
    # The conversation waits for, or talks with, a person (an open hand-off): the bot is quiet.
    with_agent: bool = False
    # The ticket a mail's thread names (our subject tag or Message-ID in In-Reply-To).
    thread_ticket: str | None = None


@dataclass(frozen=True, slots=True)
class NamedTicket:
    """What progress by number may use of a ticket filed elsewhere: its summary, shown only once
    the asker proves it is theirs, and the last four digits of the phone it carries to prove it
    with (compared, never shown). ``locked`` after too many wrong tries today."""

    summary: TicketSummary
    phone_tail: str | None
    locked: bool = False


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
    supplements: int = 0  # incomplete supplements given so far (guangzhou §12.2)
    # A withdrawal or evaluation asked for by mail, waiting for its code to come back (issue 18):
    # {"code", "kind" (withdraw | evaluate), "number", "level", "until" (ISO time)}.
    mail_code: Mapping[str, str] | None = None
    # Progress asked by the number of a ticket filed elsewhere, waiting for the last four digits
    # of its phone: {"number", "tries"}.
    verify: Mapping[str, str] | None = None
    misses: int = 0  # messages in a row the bot did not understand (MAX_MISSES: a person takes over)
    # A draft closed for missing items (guangzhou §12.2), kept until its window ends so that a
    # refile with those items starts from it: {"category", "values": {field: value}, "missing":
    # [field], "until" (ISO time)}.
    refile: Mapping[str, Any] | None = None

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
            "supplements": self.supplements,
            "mail_code": dict(self.mail_code) if self.mail_code else None,
            "verify": dict(self.verify) if self.verify else None,
            "misses": self.misses,
            "refile": dict(self.refile) if self.refile else None,
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
            supplements=int(data.get("supplements") or 0),
            mail_code={str(k): str(v) for k, v in data["mail_code"].items()}
            if data.get("mail_code")
            else None,
            verify={str(k): str(v) for k, v in data["verify"].items()} if data.get("verify") else None,
            misses=int(data.get("misses") or 0),
            refile=dict(data["refile"]) if data.get("refile") else None,
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
    confirmed: bool = False  # by a code mailed to the address on record (email only, issue 18)


@dataclass(frozen=True, slots=True)
class ToAgent:
    """The conversation goes to (or stays in) the agents' hand-off queue with this message;
    ``asked``: the citizen asked for a person just now (the service tells them their place)."""

    text: str
    asked: bool = False
    failed: bool = False  # the bot did not understand twice in a row (MAX_MISSES)


@dataclass(frozen=True, slots=True)
class NoteFailedCheck:
    """A wrong phone tail given for a ticket's progress: counted (audit log), so a stranger
    cannot try all ten thousand."""

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
    confirmed: bool = False  # by a code mailed to the address on record (email only, issue 18)


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
    | NoteFailedCheck
    | ToAgent
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
    abusive: bool = False  # screening found insults or threats: the service counts a strike (huizhou §8)
    cautioned: str = ""  # the rule that named emergency numbers first while the request went on
    missed: bool = False  # the bot did not understand the message (counted in DialogState.misses)


_LONE_DIGITS = re.compile(r"^\s*[0-9]{1,2}\s*$")
_NOT_HELPFUL = (
    "没用",
    "没有用",
    "没解决",
    "没有解决",
    "未解决",
    "不是这个",
    "不是我问的",
    "不对",
)
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
# The stages in which a draft is open and the citizen is being asked about it.
DRAFTING = frozenset(
    {Stage.CONFIRM_CATEGORY, Stage.CHOOSE_CATEGORY, Stage.HIDE_ITEMS, Stage.REAL_NAME, Stage.COLLECTING}
)


def step(state: DialogState, text: str, ctx: StepContext) -> StepResult:
    """One turn of the dialog. Never raises on any text."""
    if len(text) > MAX_CHARS:
        # Still read the start for an emergency: life first, whatever the length (issue 7).
        urgent = _emergency(state, text[:MAX_CHARS], ctx)
        return urgent or StepResult(state, (Reply(texts.TOO_LONG.format(limit=MAX_CHARS)),))
    if ctx.understanding.is_meaningless(text):  # no words at all: asked for some, not a miss
        return StepResult(state, (Reply(texts.MEANINGLESS),))
    u = ctx.understanding.understand(text)

    # An emergency is redirected in the first reply, whatever the dialog was doing (issue 7).
    urgent = _emergency(state, u.text, ctx)
    if urgent is not None:  # (and a person who has the conversation sees it too)
        return replace(urgent, actions=(*urgent.actions, ToAgent(text))) if ctx.with_agent else urgent
    if ctx.with_agent:  # a person has the conversation: the bot is quiet, the message waits
        return StepResult(state, (), (ToAgent(text),))
    if Intent.PERSON in u.intents:  # "转人工": whatever the bot was doing is kept for later
        return StepResult(state, (), (ToAgent(text, asked=True),))
    screened = ctx.screening.screen(u.text) if ctx.screening else None
    result = _counted(state, _answer(state, u, ctx, screened), text)
    if screened is not None and screened.caution:
        # A life may be at risk: the number to call comes before anything else (issue 16).
        return replace(result, replies=(Reply(screened.caution), *result.replies), cautioned=screened.rule_id)
    return result


MAX_MISSES = 2  # "the bot failing twice" (issue 19): then a person


def _counted(state: DialogState, result: StepResult, text: str) -> StepResult:
    """Misses in a row are counted; at MAX_MISSES the conversation goes to the agents' queue,
    with whatever the bot was doing kept for when it is handed back. An understood message
    starts the count again."""
    if not result.missed:
        if result.state.misses:
            return replace(result, state=replace(result.state, misses=0))
        return result
    misses = state.misses + 1
    if misses >= MAX_MISSES:
        return StepResult(replace(state, misses=0), (), (ToAgent(text, failed=True),))
    return replace(result, state=replace(result.state, misses=misses))


def _answer(
    state: DialogState, u: Understood, ctx: StepContext, screened: ScreenOutcome | None
) -> StepResult:
    """The reply to a message that is no emergency, by the stage the dialog is at."""
    if Intent.CANCEL in u.intents and state.stage is Stage.REAL_NAME:
        return _reset(state, texts.REAL_NAME_DECLINED, CloseDraft("real name required and declined"))
    if Intent.CANCEL in u.intents and state.stage is not Stage.IDLE:
        return _reset(state, texts.CANCELLED, CloseDraft("cancelled by the citizen"))
    if state.verify is not None:
        checked = _on_phone_tail(state, u, ctx)
        if checked is not None:
            return checked
        state = replace(state, verify=None)  # the citizen moved on
    if Intent.PROGRESS in u.intents and not _answers_prompt(state, u, ctx):
        return _progress(state, u, ctx)
    if Intent.WITHDRAW in u.intents:
        withdrawn = _on_withdraw(state, u, ctx)
        if withdrawn is not None:
            return withdrawn
    if Intent.ANONYMOUS in u.intents and state.stage in DRAFTING and not state.anonymous:
        # "我要匿名" at any point before registration is honoured (issue 18); what to hide is
        # asked before the ticket is registered (_continue).
        state = replace(state, anonymous=True, hide_answered=False)

    if state.stage is Stage.IDLE and ctx.awaiting_evaluation and ctx.evaluations is not None:
        answered = _on_evaluation(state, u, ctx)
        if answered is not None:
            return answered
    if state.stage is Stage.CONFIRM_CATEGORY:
        return _on_confirm(state, u, ctx)
    if state.stage is Stage.CHOOSE_CATEGORY:
        return _on_category(state, u, ctx)
    if state.stage is Stage.HIDE_ITEMS:
        return _on_hide(state, u, ctx)
    if state.stage is Stage.REAL_NAME:
        return _on_real_name(state, u, ctx)
    if state.stage is Stage.COLLECTING:
        return _on_supplement(state, u, ctx)
    if state.stage is Stage.CHOOSE_TICKET:
        return _on_ticket_choice(state, u, ctx, screened)
    if state.stage is Stage.KB_ANSWERED:
        return _after_kb_answer(state, u, ctx, screened)
    if state.stage is Stage.REPEAT:
        return _after_repeat(state, u, ctx, screened)
    return _new_request(DialogState(), u, ctx, screened, refile=_refiling(state, u, ctx))


def _refiling(state: DialogState, u: Understood, ctx: StepContext) -> DialogState | None:
    """The draft closed for missing items, when this message refiles it within its window: it
    gives one of the items that were missing, names no other party or place, and tells no
    matter of its own beyond them. None otherwise (a new matter is a new request)."""
    kept = state.refile
    if not kept or ctx.now >= datetime.fromisoformat(kept["until"]) or not kept.get("category"):
        return None
    old = {Field(k): v for k, v in kept["values"].items()}
    missing = {Field(f) for f in kept["missing"]}
    given = {f: v for f, v in u.values.items() if v}
    if not missing & set(given):
        return None
    if any(f in given and f in old and given[f] != old[f] for f in (Field.SUBJECT, Field.ADDRESS)):
        return None
    told = given.get(Field.CONTENT, "")
    items = [v for f, v in given.items() if f is not Field.CONTENT]
    if told and not any(told in v or v in told for v in items) and len(told) > REFILE_ASIDE:
        return None
    return DialogState(category=Category(kept["category"]), values=old)


REFILE_ASIDE = 20  # characters of text beyond the items a refile may carry ("麻烦尽快处理")


def _emergency(state: DialogState, text: str, ctx: StepContext) -> StepResult | None:
    screened = ctx.screening.screen(text) if ctx.screening else None
    if screened is None or screened.kind != "emergency":
        return None
    status = screened.status or TicketStatus.REDIRECTED
    return StepResult(state, (Reply(screened.reply),), (RecordScreening(status, screened.rule_id, text),))


def _answers_prompt(state: DialogState, u: Understood, ctx: StepContext) -> bool:
    """A reply to the one-time prompt that happens to mention progress is still the reply; so is
    a ticket's number chosen from the buttons (it would read as progress asked by number)."""
    if state.stage is Stage.CHOOSE_TICKET:
        return any(c in u.text for c in state.choices)
    return state.stage is Stage.COLLECTING and bool(_filled(state, u, ctx))


def _filled(state: DialogState, u: Understood, ctx: StepContext) -> dict[Field, str]:
    """Values the reply gives for the asked fields. With one field open, understanding takes the
    whole reply as its value; a greeting, thanks, a digit or a progress query is not that value."""
    found = {f: v for f, v in ctx.understanding.fill(state.asked, u.text).items() if v}
    whole = _plain(u.text)
    if found and all(_plain(v) == whole for v in found.values()):
        control = {Intent.GREETING, Intent.THANKS, Intent.PROGRESS, Intent.WITHDRAW, Intent.CANCEL}
        if control & u.intents or _LONE_DIGITS.match(u.text) or not u.has_chinese:
            return {}
    if Field.SUBJECT in state.asked and Field.SUBJECT not in found and (unknown := _unknown_party(u.text)):
        found[Field.SUBJECT] = unknown  # "不知道是谁倒的": the citizen's words, as a clerk writes them
    return found


_UNKNOWN = re.compile(
    r"[^，。,.；;！!？?\n]*(?:不知道|不清楚|不晓得|唔知|唔清楚|不认识|没看清)[^，。,.；;！!？?\n]*"
)


def _unknown_party(text: str) -> str | None:
    """The clause in which the citizen says they do not know who is responsible (GUIDE: the
    subject of an unknown offender is the citizen's own words)."""
    m = _UNKNOWN.search(text)
    return m.group(0).strip() if m else None


def _plain(text: str) -> str:
    return re.sub(r"\W", "", text)


def _reset(state: DialogState, message: str, *actions: Action) -> StepResult:
    return StepResult(
        DialogState(), (Reply(message),), (SaveDraft(state), *actions) if state.draft_id else ()
    )


def _progress(state: DialogState, u: Understood, ctx: StepContext) -> StepResult:
    """Progress from the same account at any point (guangzhou §9); a draft in progress is kept
    and its pending question repeated, so the citizen can go on where they were. A number named
    that this account did not file is shown once the last four digits of its phone are given;
    the question is the same whether the number exists or not."""
    keep = state if state.stage in DRAFTING else DialogState()
    named = TICKET_NUMBER_IN_TEXT.search(u.text)
    if named is not None:
        number = named.group(0)
        own = [t for t in (*ctx.open_tickets, *ctx.awaiting_evaluation) if t.number == number]
        if not own:
            asking = replace(keep, verify={"number": number, "tries": "0"})
            return StepResult(asking, (Reply(texts.ASK_PHONE_TAIL.format(number=number)),))
        reply = progress_reply(own)
    else:
        reply = progress_reply(ctx.open_tickets)
    return StepResult(keep, (reply, *_pending_question(keep)))


_PHONE_TAIL = re.compile(r"\s*(\d{4})\s*")
MAX_TAIL_TRIES = 3


def _on_phone_tail(state: DialogState, u: Understood, ctx: StepContext) -> StepResult | None:
    """The four digits asked for by ``_progress``; anything else leaves the check behind."""
    assert state.verify is not None
    m = _PHONE_TAIL.fullmatch(u.text)
    if m is None:
        return None
    number, tries = state.verify["number"], int(state.verify.get("tries", "0")) + 1
    found = ctx.named_ticket(number)
    after = replace(state, verify=None)
    if found is not None and found.locked:
        return StepResult(after, (Reply(texts.PHONE_TAIL_LOCKED), *_pending_question(after)))
    if found is not None and found.phone_tail and hmac.compare_digest(found.phone_tail, m.group(1)):
        return StepResult(after, (progress_reply([found.summary]), *_pending_question(after)))
    note = (NoteFailedCheck(number),)
    if tries >= MAX_TAIL_TRIES:
        return StepResult(after, (Reply(texts.PHONE_TAIL_FAILED), *_pending_question(after)), note)
    again = replace(state, verify={"number": number, "tries": str(tries)})
    return StepResult(again, (Reply(texts.PHONE_TAIL_WRONG.format(left=MAX_TAIL_TRIES - tries)),), note)


def _pending_question(state: DialogState) -> tuple[Reply, ...]:
    if state.stage is Stage.COLLECTING:
        return (Reply(texts.ask_missing(list(state.asked))),)
    if state.stage is Stage.CONFIRM_CATEGORY:
        return (_confirm_question(state),)
    if state.stage is Stage.CHOOSE_CATEGORY:
        return (Reply(texts.ASK_CATEGORY, state.choices),)
    if state.stage is Stage.HIDE_ITEMS:
        return (Reply(texts.ASK_HIDE, state.choices),)
    if state.stage is Stage.REAL_NAME:
        return (Reply(texts.REAL_NAME_REQUIRED.format(matter="该事项"), state.choices),)
    return ()


def progress_reply(tickets: Sequence[TicketSummary]) -> Reply:
    if not tickets:
        return Reply(texts.NO_OPEN_TICKETS)
    lines = []
    for t in tickets:
        deadline = ""
        if t.deadline is not None:  # an estimate until a unit has it (issue 19: one deadline)
            told = texts.format_deadline(t.deadline)
            deadline = f"，预计{told}前答复" if t.status is TicketStatus.REGISTERED else f"，答复期限{told}"
        lines.append(
            texts.PROGRESS_LINE.format(
                number=t.number,
                category=t.category or "",
                status=texts.STATUS_WORDS.get(t.status.value, t.status.value),
                deadline=deadline,
            )
        )
    return Reply("\n".join(lines))


def _on_withdraw(state: DialogState, u: Understood, ctx: StepContext) -> StepResult | None:
    """Withdrawal from the same account (guangzhou §9, §23; huizhou §17). A number named in the
    message picks that ticket; while drafting, "撤回" without a number drops the draft."""
    named = TICKET_NUMBER_IN_TEXT.search(u.text)
    keep = state if state.stage in DRAFTING else DialogState()
    if named is not None:
        return StepResult(keep, (), (Withdraw(named.group(0)),))
    if state.stage in DRAFTING:
        return _reset(state, texts.CANCELLED, CloseDraft("withdrawn by the citizen while drafting"))
    if state.stage in (Stage.KB_ANSWERED, Stage.REPEAT):
        # "问题解决了" right after an answer is thanks, not the withdrawal of another ticket.
        return StepResult(DialogState(), (Reply(texts.THANKS),))
    return _withdraw(ctx)


def _withdraw(ctx: StepContext) -> StepResult:
    tickets = list(ctx.open_tickets)
    if not tickets:
        return StepResult(DialogState(), (Reply(texts.NO_OPEN_TICKETS),))
    if len(tickets) == 1:
        return StepResult(DialogState(), (), (Withdraw(tickets[0].number),))
    choices = tuple(t.number for t in tickets)
    return StepResult(
        DialogState(stage=Stage.CHOOSE_TICKET, pending_action="withdraw", choices=choices),
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


def _on_ticket_choice(
    state: DialogState, u: Understood, ctx: StepContext, screened: ScreenOutcome | None
) -> StepResult:
    chosen = _pick(u.text, state.choices)
    if chosen is not None:
        return StepResult(DialogState(), (), (Withdraw(chosen),))
    if _is_substantive(u) and len(u.text) > 8:
        return _new_request(DialogState(), u, ctx, screened)  # they moved on to a new matter
    return StepResult(state, (Reply(texts.ASK_WHICH_TICKET.format(action="撤回"), state.choices),))


def _pick(text: str, choices: Sequence[str]) -> str | None:
    """A choice by its text, a unique part of it, or its 1-based position. Never a guess."""
    t = text.strip()
    if t in choices:
        return t
    if t.isdigit() and 1 <= int(t) <= len(choices) and not any(t in c for c in choices):
        return choices[int(t) - 1]
    hits = [c for c in choices if t and (t in c or c in t)]
    return hits[0] if len(hits) == 1 else None


def _tells_matter(content: str, ctx: StepContext) -> bool:
    """The draft's content says what happened, not only which kind of request it is ("我要举报")."""
    return bool(content) and Field.CONTENT in ctx.understanding.understand(content).values


def _is_substantive(u: Understood) -> bool:
    """A matter rather than small talk: a confident category or a place, party or demand
    ("谢谢" leans to 表扬 but is thanks, not praise)."""
    confident = u.category is not None and u.confident
    return confident or bool({Field.ADDRESS, Field.SUBJECT, Field.DEMAND} & set(u.values))


def _new_request(
    state: DialogState,
    u: Understood,
    ctx: StepContext,
    screened: ScreenOutcome | None,
    refile: DialogState | None = None,
) -> StepResult:
    if screened is not None and screened.kind in ("out_of_scope", "abuse"):
        status = screened.status or TicketStatus.REJECTED
        return StepResult(
            state,
            (Reply(screened.reply),),
            (RecordScreening(status, screened.rule_id, u.text),),
            abusive=screened.kind == "abuse",
        )
    substantive = _is_substantive(u)
    if not substantive:
        if _LONE_DIGITS.match(u.text):
            return StepResult(state, (Reply(texts.STRAY_DIGIT),))
        if not u.has_chinese:
            return StepResult(state, (Reply(texts.NOT_CHINESE),))
        if Intent.THANKS in u.intents:
            return StepResult(state, (Reply(texts.THANKS),))
        if Intent.GREETING in u.intents:
            return StepResult(state, (Reply(texts.WELCOME),))
    numbers = [t.number for t in ctx.open_tickets]
    if ctx.thread_ticket in numbers and substantive:
        # A reply in the thread of the sender's own open ticket continues it (CONTRACT.md
        # "Email"); a thread naming someone else's ticket is a new request, never merged.
        return StepResult(state, (), (Supplement(str(ctx.thread_ticket), u.text),))
    if Intent.SUPPLEMENT in u.intents and ctx.open_tickets:
        named = TICKET_NUMBER_IN_TEXT.search(u.text)
        number = named.group(0) if named and named.group(0) in numbers else numbers[-1]
        return StepResult(state, (), (Supplement(number, u.text),))
    answered = _knowledge_answer(u, ctx)
    if answered is not None:
        return answered
    if refile is not None:  # the items a closed draft lacked: it goes on from where it was
        values: dict[Field, str] = dict(refile.values)
        values.update({f: v for f, v in u.values.items() if v and f is not Field.CONTENT})
        for f, v in ctx.known.items():
            values.setdefault(f, v)
        draft = replace(refile, values=values, due_at=ctx.now + ctx.policy.supplement_window(ctx.channel))
        return _continue(draft, ctx, (Reply(texts.REFILED),))
    if not substantive and len(u.text) < 6:
        return StepResult(state, (Reply(texts.WELCOME),))
    repeated = _repeat_of(u.text, ctx)
    if repeated is not None:
        return StepResult(
            DialogState(stage=Stage.REPEAT, values={Field.CONTENT: u.text}, repeat_of=repeated.number),
            (Reply(_repeat_text(repeated)),),
            (NoteRepeat(repeated.number, u.text),),
        )
    return _draft(u, ctx, screened)


def _draft(
    u: Understood, ctx: StepContext, screened: ScreenOutcome | None, content: str | None = None
) -> StepResult:
    values = dict(u.values)
    if content is not None:
        values[Field.CONTENT] = content
    values.setdefault(Field.CONTENT, u.text)
    for f, v in ctx.known.items():  # an SMS sender is not asked for the number they text from
        values.setdefault(f, v)
    new = DialogState(
        category=u.category if u.confident else None,
        values=values,
        anonymous=Intent.ANONYMOUS in u.intents,
        hidden=u.hide,
        hide_answered=bool(u.hide),
        urgent_class=screened.urgent_class if screened is not None else None,
        # An abandoned draft closes too: the window also runs while the dialog asks (guangzhou §12).
        due_at=ctx.now + ctx.policy.supplement_window(ctx.channel),
    )
    praise = u.category is Category.PRAISE and (u.confident or u.confirm)
    if praise and Category.PRAISE not in ctx.policy.categories():
        # A city without a 表扬 category still hears the thanks: read, passed on and closed (as
        # guangzhou §23 does with its own 表扬), not six buttons none of which fit.
        return StepResult(
            DialogState(),
            (Reply(texts.PRAISE_NOTED),),
            (RecordScreening(TicketStatus.CLOSED, PRAISE_NOTED, u.text),),
        )
    if new.category is None or new.category not in ctx.policy.categories():
        offered = _offered(u, ctx)
        if u.confirm and u.category in offered:  # unsure: one yes/no question about the best guess
            guess = u.category.value
            nxt = replace(
                new, stage=Stage.CONFIRM_CATEGORY, choices=(guess, *(c for c in offered if c != guess))
            )
            return StepResult(nxt, (_confirm_question(nxt),), (SaveDraft(nxt),))
        nxt = replace(new, stage=Stage.CHOOSE_CATEGORY, choices=offered)
        return StepResult(nxt, (Reply(texts.ASK_CATEGORY, offered),), (SaveDraft(nxt),))
    return _continue(new, ctx, ())


def _offered(u: Understood, ctx: StepContext) -> tuple[str, ...]:
    """The profile's categories as buttons, the likeliest first when the model has an opinion."""
    offered = ctx.policy.categories()
    ranked = [c for c in u.candidates if c in offered]
    return tuple(c.value for c in (*ranked, *(c for c in offered if c not in ranked)))


def _confirm_question(state: DialogState) -> Reply:
    return Reply(texts.CONFIRM_CATEGORY.format(what=texts.CATEGORY_MEANING[state.choices[0]]), texts.YES_NO)


def _on_confirm(state: DialogState, u: Understood, ctx: StepContext) -> StepResult:
    """The answer to "您是要投诉…吗？": 是 takes the guess, 不是 offers the other categories, a
    category named outright is taken, anything else asks again."""
    answer = texts.yes_or_no(u.text)
    named = _pick(u.text, state.choices) if answer is None and not u.text.strip().isdigit() else None
    if answer is True or named is not None:
        category = Category(named or state.choices[0])
        return _continue(replace(state, category=category, choices=()), ctx, ())
    if answer is False:
        nxt = replace(state, stage=Stage.CHOOSE_CATEGORY, choices=state.choices[1:])
        return StepResult(nxt, (Reply(texts.ASK_OTHER_CATEGORY, nxt.choices),), (SaveDraft(nxt),))
    # More details instead of a yes or no: read with what was said first, they may settle it.
    said = state.values.get(Field.CONTENT, "")
    both = ctx.understanding.understand(f"{said}，{u.text}") if said else u
    if (
        len(u.text) >= DETAILS
        and both.confident
        and both.category is not None
        and both.category.value in state.choices
    ):
        values = dict(state.values)
        for f, v in u.values.items():
            if f is not Field.CONTENT:
                values.setdefault(f, v)
        return _continue(replace(state, category=both.category, values=values, choices=()), ctx, ())
    return StepResult(state, (Reply(texts.CONFIRM_NOT_UNDERSTOOD), _confirm_question(state)), missed=True)


def _knowledge_answer(u: Understood, ctx: StepContext) -> StepResult | None:
    """A consultation the knowledge base answers with confidence is answered at once and closed
    as answered online (guangzhou §14.1, huizhou §10); complaints, reports, help requests and
    anonymous requests always go on to a ticket."""
    if ctx.knowledge is None or Intent.ANONYMOUS in u.intents or not u.has_chinese:
        return None
    if u.category not in (None, Category.CONSULTATION):
        return None
    hit = ctx.knowledge.answer(u.text, ctx.now)
    if hit is None:
        return None
    state = DialogState(stage=Stage.KB_ANSWERED, values={Field.CONTENT: u.text}, kb_entry=hit.entry_id)
    return StepResult(
        state, (Reply(texts.KB_ANSWER.format(answer=hit.answer)),), (RecordAnswered(hit.entry_id, u.text),)
    )


def _after_kb_answer(
    state: DialogState, u: Understood, ctx: StepContext, screened: ScreenOutcome | None
) -> StepResult:
    """ "没用/没解决/不是这个/转人工" after an answer registers the consultation as usual, with the
    one-time prompt if something is missing; anything else is a new turn."""
    if not any(w in u.text for w in _NOT_HELPFUL):
        return _new_request(DialogState(), u, ctx, screened)
    question = state.values.get(Field.CONTENT, "")
    asked = ctx.understanding.understand(question)
    values = dict(asked.values)
    values[Field.CONTENT] = question
    draft = DialogState(
        category=Category.CONSULTATION,
        values=values,
        due_at=ctx.now + ctx.policy.supplement_window(ctx.channel),
    )
    if Category.CONSULTATION not in ctx.policy.categories():
        choices = tuple(c.value for c in ctx.policy.categories())
        nxt = replace(draft, category=None, stage=Stage.CHOOSE_CATEGORY, choices=choices)
        return StepResult(nxt, (Reply(texts.ASK_CATEGORY, choices),), (SaveDraft(nxt),))
    return _continue(draft, ctx, (Reply(texts.KB_TO_TICKET),))


def _repeat_of(text: str, ctx: StepContext) -> HandledTicket | None:
    if ctx.repeats is None:
        return None
    for earlier in ctx.handled:
        if earlier.content and ctx.repeats.is_repeat(text, earlier.content):
            return earlier
    return None


def _repeat_text(t: HandledTicket) -> str:
    result = t.result or texts.REPEAT_NO_RESULT
    return texts.REPEAT.format(number=t.number, result=result)


def _after_repeat(
    state: DialogState, u: Understood, ctx: StepContext, screened: ScreenOutcome | None
) -> StepResult:
    """After the earlier result was given (guangzhou §24): new facts register a new ticket with
    both texts; the same words again get the same answer; thanks or a greeting end it."""
    earlier = state.values.get(Field.CONTENT, "")
    idle_talk = Intent.THANKS in u.intents or Intent.GREETING in u.intents or len(u.text) < 6
    if not _is_substantive(u) and idle_talk:
        return _new_request(DialogState(), u, ctx, screened)
    if _plain(u.text) in _plain(earlier):
        number = state.repeat_of or ""
        found = next((t for t in ctx.handled if t.number == number), HandledTicket(number, earlier))
        return StepResult(state, (Reply(_repeat_text(found)),))
    combined = f"{earlier}；{texts.NEW_FACTS}{u.text}"
    return _draft(ctx.understanding.understand(combined), ctx, screened, content=combined)


def _on_category(state: DialogState, u: Understood, ctx: StepContext) -> StepResult:
    chosen = _pick(u.text, state.choices)
    # Words written instead of a button: taken when they describe the matter ("是噪音扰民的事"),
    # not a two-word aside ("不知道") the model cannot read much into.
    described = u.confident and len(u.text) >= DETAILS and u.category in ctx.policy.categories()
    understood = u.category if described else None
    category = Category(chosen) if chosen else understood
    if category is None:
        return StepResult(state, (Reply(texts.CATEGORY_NOT_UNDERSTOOD, state.choices),), missed=True)
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
    if "取消" in u.text or u.text.strip() in {"不", "否", "不用了", "2"}:
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
        state,
        (Reply(texts.REAL_NAME_REQUIRED.format(matter="该事项"), texts.REAL_NAME_CHOICES),),
        missed=True,
    )


def missing_fields(state: DialogState, policy: DialogPolicy) -> list[Field]:
    """The one-time prompt is a function of data: the template's required fields not yet given
    and not hidden by the citizen (guangzhou §9, §12), plus what the profile's real-name matter
    requires (guangzhou §10: name, ID number and phone in every profile today)."""
    if state.category is None:
        return []
    required = policy.required_fields(state.category, state.values.get(Field.CONTENT, ""))
    return [f for f in required if not state.values.get(f) and f not in state.hidden]


def _continue(state: DialogState, ctx: StepContext, before: tuple[Reply, ...]) -> StepResult:
    if state.anonymous and not state.real_name_confirmed:
        # guangzhou §10: a real-name matter is never registered anonymously, whatever was hidden.
        matter = ctx.policy.real_name_matter(state.values.get(Field.CONTENT, ""))
        if matter:
            nxt = replace(state, stage=Stage.REAL_NAME, choices=texts.REAL_NAME_CHOICES)
            reply = Reply(texts.REAL_NAME_REQUIRED.format(matter=matter), texts.REAL_NAME_CHOICES)
            return StepResult(nxt, (*before, reply), (SaveDraft(nxt),))
    if state.anonymous and not state.hide_answered:
        nxt = replace(state, stage=Stage.HIDE_ITEMS, choices=texts.HIDE_CHOICES)
        replies = (*before, Reply(texts.HIDE_WARNING), Reply(texts.ASK_HIDE, texts.HIDE_CHOICES))
        return StepResult(nxt, replies, (SaveDraft(nxt),))
    missing = missing_fields(state, ctx.policy)
    if not missing:
        return StepResult(DialogState(), before, (SaveDraft(state), Register(state)))
    due = ctx.now + ctx.policy.supplement_window(ctx.channel)
    nxt = replace(state, stage=Stage.COLLECTING, asked=tuple(missing), due_at=due, choices=())
    return StepResult(nxt, (*before, Reply(texts.ask_missing(missing))), (SaveDraft(nxt),))


def _on_supplement(state: DialogState, u: Understood, ctx: StepContext) -> StepResult:
    """The supplements the profile allows (guangzhou §12.2: one): complete → register; else ask
    again while the profile allows, then close. In a live conversation (Channel.is_live) nothing
    is closed: what was said is kept and what is still missing asked again.
    A greeting, thanks or a stray digit is not that supplement: the prompt is repeated."""
    found = _filled(state, u, ctx)
    if state.anonymous and not state.hide_answered:
        # Anonymity asked for in this message: not the one supplement; what to hide comes first.
        return _continue(replace(state, values={**state.values, **found}), ctx, ())
    if not found and not _is_substantive(u):
        idle_talk = Intent.GREETING in u.intents or Intent.THANKS in u.intents
        if idle_talk or _LONE_DIGITS.match(u.text) or not u.has_chinese:
            return StepResult(state, _pending_question(state))
    if _is_substantive(u) and not _tells_matter(state.values.get(Field.CONTENT, ""), ctx):
        found[Field.CONTENT] = u.text  # "我要举报" then the facts: the facts are the content
    state = replace(state, values={**state.values, **found}, supplements=state.supplements + 1)
    still = missing_fields(state, ctx.policy)
    if not still:
        return StepResult(DialogState(), (), (SaveDraft(state), Register(state)))
    if ctx.channel.is_live:  # a conversation still being taken: ask again, keep everything
        nxt = replace(state, asked=tuple(still))
        hint = texts.UNKNOWN_SUBJECT_HINT if Field.SUBJECT in still else ""
        return StepResult(
            nxt,
            (Reply(texts.ASK_LIVE_MISSING.format(items=texts.joined(still)) + hint),),
            (SaveDraft(nxt),),
            missed=not found and not _is_substantive(u),  # nothing of what was asked, twice: a person
        )
    allowed = ctx.policy.supplements_allowed()
    if state.supplements < allowed:  # the profile allows another (max_supplements)
        nxt = replace(state, asked=tuple(still))
        ask = texts.ASK_STILL_MISSING.format(items=texts.joined(still), left=allowed - state.supplements)
        return StepResult(nxt, (Reply(ask),), (SaveDraft(nxt),))
    until = state.due_at or ctx.now + ctx.policy.supplement_window(ctx.channel)
    message = texts.STILL_MISSING.format(
        items=texts.joined(still), times=texts.times(allowed), until=texts.format_deadline(until)
    )
    kept = {  # a refile within the window starts from this draft (issue 19)
        "category": state.category.value if state.category else None,
        "values": {f.value: v for f, v in state.values.items()},
        "missing": [f.value for f in still],
        "until": until.isoformat(),
    }
    return StepResult(
        DialogState(refile=kept),
        (Reply(message),),
        (SaveDraft(state), CloseDraft(f"missing: {','.join(still)}")),
    )
