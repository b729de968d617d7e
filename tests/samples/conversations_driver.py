"""Running the conversation table (tests/samples/conversations.py) against a "world".

Two worlds play the same table: ``FakeWorld`` here (the pure ``step()`` with the service's action
semantics kept in memory: no Redis, no SQL) and the integration test's world over the real
IntakeService, SqlStore and Redis. ``check`` asserts every reply and every ticket row the same way
for both, so a difference between the two is a test failure, not a silent drift.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from typing import Any, Protocol

from intake import texts
from intake.assembly import EvaluationReplies, KnowledgePort, ScreeningPort, screener_for
from intake.dialog import (
    CloseDraft,
    DialogState,
    Evaluate,
    HandledTicket,
    NoteRepeat,
    RecordAnswered,
    RecordScreening,
    Register,
    SaveDraft,
    StepContext,
    Supplement,
    TicketSummary,
    ToAgent,
    Withdraw,
    step,
)
from intake.kb import KnowledgeBase
from intake.model import SHANGHAI, Category, Channel, Field, Reply, TicketStatus
from intake.policy import ProfilePolicy, load_profile
from intake.turn import registered_reply, to_agent_reply
from intake.understanding import ExtractUnderstanding
from tests.samples.conversations import Agent, Conversation, Expire, Row, Say

START = datetime(2026, 11, 20, 10, 0, tzinfo=SHANGHAI)
SMS_SENDER = "+8613900000001"  # the pure world's SMS citizen
NUMBER = re.compile(r"\d{8}-\d{6}")


@cache
def policy(name: str) -> ProfilePolicy:
    return ProfilePolicy(load_profile(name))


@cache
def screening(name: str) -> ScreeningPort:
    profile = load_profile(name)
    return ScreeningPort(screener_for(profile), profile)


@cache
def knowledge() -> KnowledgePort:
    return KnowledgePort(KnowledgeBase.load())


UNDERSTANDING = ExtractUnderstanding()


@dataclass
class RowState:
    """One ticket row as the store would hold it."""

    id: int
    status: TicketStatus
    category: str | None = None
    values: dict[Field, str] = field(default_factory=dict)
    hidden: frozenset[Field] = frozenset()
    anonymous: bool = False
    number: str | None = None
    reason: str | None = None
    deadline: datetime | None = None
    due_at: datetime | None = None
    result: str | None = None
    evaluated: int = 0


class World(Protocol):
    def say(self, text: str) -> list[Reply]: ...

    def agent(self, number: str, kind: str, result: str) -> None: ...

    def expire(self, seconds: int) -> None: ...

    def rows(self) -> list[RowState]: ...


class FakeWorld:
    """step() plus an in-memory version of what IntakeService does with the actions."""

    def __init__(self, profile: str, channel: Channel) -> None:
        self.policy = policy(profile)
        self.channel = channel
        self.now = START
        self.state = DialogState()
        self._rows: list[RowState] = []
        self.counter = 0
        self.inbound: list[str] = []  # "stored first"
        self.with_agent = False  # a person has the conversation (an open hand-off)

    def rows(self) -> list[RowState]:
        return list(self._rows)

    def _summaries(self) -> tuple[list[TicketSummary], list[TicketSummary]]:
        wanted = [
            r for r in self._rows if r.number and (r.status.is_open or r.status is TicketStatus.COMPLETED)
        ]
        waiting = sorted(r.id for r in wanted if r.status is TicketStatus.COMPLETED)
        refs = {tid: chr(ord("A") + i) for i, tid in enumerate(waiting)}
        found = [
            TicketSummary(r.number or "", r.status, r.category, r.deadline, refs.get(r.id, ""))
            for r in wanted
        ]
        return [t for t in found if t.status.is_open], [
            t for t in found if t.status is TicketStatus.COMPLETED
        ]

    def _handled(self) -> list[HandledTicket]:
        done = [
            r
            for r in self._rows
            if r.number
            and r.status in (TicketStatus.COMPLETED, TicketStatus.CLOSED)
            and r.values.get(Field.CONTENT)
        ]
        return [HandledTicket(r.number or "", r.values[Field.CONTENT], r.result) for r in reversed(done[-5:])]

    def context(self) -> StepContext:
        open_, waiting = self._summaries()
        return StepContext(
            policy=self.policy,
            understanding=UNDERSTANDING,
            now=self.now,
            channel=self.channel,
            open_tickets=open_,
            screening=screening(self.policy.name),
            awaiting_evaluation=waiting,
            evaluations=EvaluationReplies(),
            knowledge=knowledge(),
            repeats=screening(self.policy.name),
            handled=self._handled(),
            # what the channel itself tells, as intake/turn.py gives it (an SMS sender's number)
            known={Field.PHONE: SMS_SENDER} if self.channel is Channel.SMS else {},
            with_agent=self.with_agent,
        )

    def say(self, text: str) -> list[Reply]:
        self.inbound.append(text)
        result = step(self.state, text, self.context())
        replies = list(result.replies)
        nxt = result.state
        draft_id = nxt.draft_id
        for a in result.actions:
            if isinstance(a, SaveDraft):
                draft_id = self._save(a.state)
                if nxt.stage.value != "idle" and nxt.draft_id is None:
                    nxt = DialogState.from_json({**nxt.to_json(), "draft_id": draft_id})
            elif isinstance(a, Register):
                assert draft_id is not None
                row = self._row(draft_id)
                assert a.state.category is not None
                deadline, _ = self.policy.registration_deadline(
                    a.state.category, a.state.urgent_class, self.channel, self.now
                )
                self.counter += 1
                row.number = f"{self.now.astimezone(SHANGHAI):%Y%m%d}-{self.counter:06d}"
                row.status, row.deadline, row.due_at = TicketStatus.REGISTERED, deadline, None
                view = _View(row.number, a.state.category.value, deadline)
                replies.append(registered_reply(view))  # type: ignore[arg-type]
            elif isinstance(a, CloseDraft):
                if draft_id is not None:
                    self._row(draft_id).status = TicketStatus.CLOSED
                    self._row(draft_id).reason = a.reason
            elif isinstance(a, Withdraw):
                replies.append(self._withdraw(a.number))
            elif isinstance(a, Supplement):
                owned = self._numbered(a.number)
                replies.append(
                    Reply(
                        texts.SUPPLEMENT_RECORDED.format(number=a.number) if owned else texts.NO_OPEN_TICKETS
                    )
                )
            elif isinstance(a, Evaluate):
                reply = self._evaluate(a)
                if reply is not None:
                    replies.append(reply)
            elif isinstance(a, RecordScreening):
                draft_id = self._new(a.status, None, {Field.CONTENT: a.text}).id
                self._row(draft_id).reason = f"rule {a.rule_id}"
            elif isinstance(a, RecordAnswered):
                row = self._new(TicketStatus.CLOSED, Category.CONSULTATION.value, {Field.CONTENT: a.text})
                row.reason = f"kb:{a.entry_id}"
            elif isinstance(a, NoteRepeat):
                pass  # an event on the earlier ticket; no row changes
            elif isinstance(a, ToAgent):
                if (a.asked or a.failed) and not self.with_agent:
                    replies.append(to_agent_reply(0, failed=a.failed))
                self.with_agent = True  # the hand-off queue (intake/store/handoffs.py)
        self.state = nxt
        if not self.channel.has_buttons:  # choices become numbered lines, as intake/turn.py sends them
            replies = [Reply(texts.numbered(r.text, r.choices), r.choices) for r in replies]
        return replies

    def _new(self, status: TicketStatus, category: str | None, values: dict[Field, str]) -> RowState:
        row = RowState(len(self._rows) + 1, status, category, values)
        self._rows.append(row)
        return row

    def _row(self, row_id: int) -> RowState:
        return self._rows[row_id - 1]

    def _numbered(self, number: str) -> RowState | None:
        return next((r for r in self._rows if r.number == number), None)

    def _save(self, s: DialogState) -> int:
        cat = s.category.value if s.category else None
        if s.draft_id is None:
            row = self._new(TicketStatus.COLLECTING, cat, dict(s.values))
        else:
            row = self._row(s.draft_id)
            row.category, row.values = cat, dict(s.values)
        row.hidden, row.anonymous, row.due_at = s.hidden, s.anonymous, s.due_at
        return row.id

    def _withdraw(self, number: str) -> Reply:
        r = self._numbered(number)
        if r is None:
            return Reply(texts.NO_OPEN_TICKETS)
        if not r.status.is_open:
            status = texts.STATUS_WORDS.get(r.status.value, r.status.value)
            return Reply(texts.WITHDRAW_NOT_ALLOWED.format(number=number, status=status))
        r.status = TicketStatus.WITHDRAWN
        return Reply(texts.WITHDRAWN.format(number=number))

    def _evaluate(self, a: Evaluate) -> Reply | None:
        r = self._numbered(a.number)
        if r is None or r.status is not TicketStatus.COMPLETED or a.level is None:
            return None
        r.evaluated += 1
        deadline = self.policy.rehandling_deadline(r.category, a.level, r.evaluated, self.now)
        if deadline is not None:
            r.status = TicketStatus.REHANDLING
            return Reply(
                texts.EVAL_REHANDLING.format(number=r.number, deadline=texts.format_deadline(deadline))
            )
        r.status = TicketStatus.CLOSED
        return Reply(texts.EVAL_THANKS.format(number=r.number, level=a.level))

    def agent(self, number: str, kind: str, result: str) -> None:
        r = self._numbered(number)
        assert r is not None and kind == "completed"
        r.status, r.result = TicketStatus.COMPLETED, result

    def expire(self, seconds: int) -> None:
        """The worker's sweep (worker/timers.expire_drafts): drafts past their window close and the
        dialog state is dropped."""
        self.now += timedelta(seconds=seconds)
        for r in self._rows:
            if r.status is TicketStatus.COLLECTING and r.due_at is not None and r.due_at <= self.now:
                r.status, r.reason = TicketStatus.CLOSED, "supplement window expired"
                self.state = DialogState()


@dataclass(frozen=True)
class _View:
    number: str | None
    category: str | None
    deadline: datetime | None


def play(conv: Conversation, world: World) -> list[list[Reply]]:
    """Play every turn, checking each reply; returns the replies per citizen turn."""
    numbers: list[str] = []
    heard: list[list[Reply]] = []
    for i, turn in enumerate(conv.turns):
        if isinstance(turn, Say):
            replies = world.say(_fill(turn.text, numbers))
            heard.append(replies)
            where = f"{conv.name}, turn {i} {turn.text[:30]!r}"
            got = [r.text for r in replies]
            assert len(replies) == len(turn.expect), (
                f"{where}: expected {len(turn.expect)} replies, got {got}"
            )
            for reply, expected in zip(replies, turn.expect, strict=True):
                for fragment in _fill(expected, numbers).split("&"):
                    assert fragment in reply.text, f"{where}: {fragment!r} not in {reply.text!r}"
            for fragment in turn.never:
                assert all(fragment not in r.text for r in replies), f"{where}: {fragment!r} in {got}"
            for secret in conv.secret:
                assert all(secret not in r.text for r in replies), f"{where}: hidden {secret!r} in a reply"
            numbers[:] = [r.number for r in world.rows() if r.number]
        elif isinstance(turn, Agent):
            world.agent(numbers[turn.ticket - 1], "completed", turn.result)
        elif isinstance(turn, Expire):
            world.expire(turn.seconds)
    check_rows(conv, world.rows())
    return heard


def check_rows(conv: Conversation, rows: list[Any]) -> None:
    got = [(r.status.value, r.category) for r in rows]
    assert len(rows) == len(conv.tickets), f"{conv.name}: expected {len(conv.tickets)} rows, got {got}"
    for n, (row, want) in enumerate(zip(rows, conv.tickets, strict=True), 1):
        where = f"{conv.name}, row {n}"
        _check_row(where, row, want)


def _check_row(where: str, row: Any, want: Row) -> None:
    assert row.status.value == want.status, f"{where}: status {row.status.value} != {want.status}"
    assert row.category == want.category, f"{where}: category {row.category} != {want.category}"
    assert bool(row.number) == want.numbered, f"{where}: numbered {row.number}"
    for name, fragment in want.fields.items():
        value = row.values.get(Field(name), "")
        assert fragment in value, f"{where}: {name}={value!r} lacks {fragment!r}"
    for name in want.absent:
        assert not row.values.get(Field(name)), (
            f"{where}: {name} should be empty, is {row.values.get(Field(name))!r}"
        )
    assert {f.value for f in row.hidden} == set(want.hidden), (
        f"{where}: hidden {set(row.hidden)} != {want.hidden}"
    )
    assert bool(row.anonymous) == want.anonymous, f"{where}: anonymous {row.anonymous}"
    if want.reason is not None:
        assert (row.reason or "").startswith(want.reason), f"{where}: reason {row.reason!r}"


def _fill(text: str, numbers: list[str]) -> str:
    for i, number in enumerate(numbers, 1):
        text = text.replace(f"#{i}", number)
    return text
