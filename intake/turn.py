"""One turn, read top to bottom: what a citizen's message meets between the sender's lock and
the commit (intake/service.py takes the lock and opens the unit of work around it).
(Long because the turn is read in one place, issue 17: what it sees, decides, writes, then does.)

1. ``seen``: what the step may look at — the sender's open tickets, those waiting for an
   evaluation, whether a draft or a handled ticket exists;
2. ``step``: the pure dialog (intake/dialog.py) decides the replies, the next state and the
   actions, reading the text through ``Understanding`` and ``Screening``;
3. ``commit``: inside the open unit of work, the message is stored, each action applied
   (``_apply``: a draft saved, a ticket registered with its number and dispatch job, a withdrawal,
   a supplement, an evaluation, a failed progress check, a screened or answered request kept for
   agents), and the replies stored — delivered already when the channel shows them in its own
   response (web chat), else each with its delivery job;
4. ``after``: once committed, an abusive message counts towards the sender's restriction.
A sender the guard stops meets ``refused`` instead: stored and marked, never lost."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, overload

from intake import texts
from intake.clock import Clock
from intake.clusters import Clusters
from intake.confirm import ask_for_code, needs_code, with_mail_code
from intake.dialog import (
    DRAFTING,
    CloseDraft,
    DialogPolicy,
    DialogState,
    Evaluate,
    Evaluations,
    HandledTicket,
    Knowledge,
    NoteFailedCheck,
    NoteRepeat,
    RecordAnswered,
    RecordScreening,
    Register,
    RepeatCheck,
    SaveDraft,
    Screening,
    Stage,
    StepContext,
    StepResult,
    Supplement,
    TicketSummary,
    ToAgent,
    Understanding,
    Withdraw,
    missing_fields,
    step,
)
from intake.duties import DISSATISFIED, Duties
from intake.errors import NotFound
from intake.evaluation import evaluation_refs
from intake.guard import SenderGuard
from intake.model import (
    REGISTERED_KIND,
    REGISTRATION_HOLD,
    Address,
    Category,
    Channel,
    DeliveryState,
    Field,
    InboundMessage,
    Reply,
    StoredTicket,
    TicketDraft,
    TicketStatus,
)
from intake.progress import named_ticket, note_failed_check
from intake.store.sql import SqlStore

REPEAT_LOOKBACK = 5  # how many of the sender's handled tickets a new request is compared with


@dataclass(frozen=True, slots=True)
class SentReply:
    id: int
    text: str
    choices: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class TicketView:
    number: str | None
    status: TicketStatus
    category: str | None
    deadline: datetime | None

    def to_json(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "status": self.status.value,
            "category": self.category,
            "deadline": self.deadline.isoformat() if self.deadline else None,
        }


@dataclass(frozen=True, slots=True)
class IntakeResult:
    message_id: int
    replies: tuple[SentReply, ...]
    ticket: TicketView | None
    duplicate: bool = False


class Lazy(Sequence[HandledTicket]):
    """A sequence read from SQL only if the dialog looks at it (most turns never do)."""

    def __init__(self, load: Callable[[], list[HandledTicket]]) -> None:
        self._load = load
        self._items: list[HandledTicket] | None = None

    def _all(self) -> list[HandledTicket]:
        if self._items is None:
            self._items = self._load()
        return self._items

    def __len__(self) -> int:
        return len(self._all())

    @overload
    def __getitem__(self, i: int) -> HandledTicket: ...

    @overload
    def __getitem__(self, i: slice) -> Sequence[HandledTicket]: ...

    def __getitem__(self, i: int | slice) -> HandledTicket | Sequence[HandledTicket]:
        return self._all()[i]


@dataclass(frozen=True, slots=True)
class SenderTickets:
    mine: list[TicketSummary]  # open, or completed and waiting for an evaluation
    has_draft: bool
    has_handled: bool  # completed or closed with a number: what a repeat is compared with
    with_agent: bool = False  # an open hand-off: a person has the conversation


_HANDLED = (TicketStatus.COMPLETED, TicketStatus.CLOSED)
# Rows a turn reads: drafts, open tickets, those waiting for an evaluation. Closed ones only
# tell that a handled ticket exists (a sender's history grows without bound; a turn must not).
_LOOKED_AT = (TicketStatus.COLLECTING, *(s for s in TicketStatus if s.is_open), TicketStatus.COMPLETED)


@dataclass(frozen=True, slots=True)
class TurnInput:
    """One inbound message for ``handle_many``: ``stored_id`` when a channel stored it already
    (mail, SMS, Telegram: a worker handles it), ``raw`` its native form."""

    msg: InboundMessage
    stored_id: int | None = None
    raw: str | None = None


# Statuses in which a unit holds the ticket: a withdrawal is then the unit's to carry out.
WITH_A_UNIT = (TicketStatus.DISPATCHED, TicketStatus.SIGNED, TicketStatus.EXTENDED, TicketStatus.REHANDLING)


class TurnTaker:
    """One citizen's turn, from what it may look at to the rows it leaves (module docstring)."""

    def __init__(
        self,
        store: SqlStore,
        policy: DialogPolicy,
        understanding: Understanding,
        clock: Clock,
        screening: Screening | None = None,
        evaluations: Evaluations | None = None,
        knowledge: Knowledge | None = None,
        repeats: RepeatCheck | None = None,
        guard: SenderGuard | None = None,
        clusters: Clusters | None = None,
        duties: Duties | None = None,
    ) -> None:
        self.store = store
        self.policy = policy
        self.duties = duties  # review before re-handling, supervision after it (issue 21)
        self.understanding = understanding
        self.clock = clock
        self.screening = screening
        self.evaluations = evaluations
        self.knowledge = knowledge
        self.repeats = repeats
        self.guard = guard
        self.clusters = clusters

    def seen(self, keys: list[str]) -> dict[str, SenderTickets]:
        """What each sender's turn may look at, for many senders in two queries: the open tickets
        and those waiting for an evaluation, and whether a draft or a handled ticket exists (so
        a sender without one costs no further query). Closed tickets are counted, never read."""
        out = {}
        closed = self.store.senders_with(keys, TicketStatus.CLOSED)
        agents = self.store.with_agent(keys)
        for key, found in self.store.ticket_briefs(keys, _LOOKED_AT).items():
            numbered = [t for t in found if t.number]
            refs = evaluation_refs(numbered)
            out[key] = SenderTickets(
                mine=[
                    TicketSummary(t.number or "", t.status, t.category, t.deadline, ref=refs.get(t.id, ""))
                    for t in numbered
                    if t.status.is_open or t.status is TicketStatus.COMPLETED
                ],
                has_draft=any(t.status is TicketStatus.COLLECTING for t in found),
                has_handled=key in closed or any(t.status in _HANDLED for t in numbered),
                with_agent=key in agents,
            )
        return out

    def step(
        self, msg: InboundMessage, state: DialogState | None, seen: SenderTickets, now: datetime
    ) -> StepResult:
        """The pure dialog step, given what it may look at (nothing is written here)."""
        mine = seen.mine
        if state is None and not seen.has_draft:
            state = DialogState()  # Redis lost nothing worth rebuilding: no draft in SQL
        known = {Field.PHONE: msg.address.value} if msg.address.channel is Channel.SMS else {}
        ctx = StepContext(
            policy=self.policy,
            understanding=self.understanding,
            now=now,
            channel=msg.address.channel,
            open_tickets=[t for t in mine if t.status.is_open],
            awaiting_evaluation=[t for t in mine if t.status is TicketStatus.COMPLETED],
            screening=self.screening,
            evaluations=self.evaluations,
            knowledge=self.knowledge,
            repeats=self.repeats,
            handled=Lazy(lambda: self._handled(msg.address))
            if self.repeats is not None and seen.has_handled
            else (),
            known=known,
            named_ticket=lambda number: named_ticket(self.store, number, now),
            with_agent=seen.with_agent,
            thread_ticket=msg.thread_ticket,
        )
        start = state or self._rebuild(msg.address)
        return with_mail_code(msg, state, now, lambda: step(start, msg.text, ctx))

    def _handled(self, address: Address) -> list[HandledTicket]:
        """The sender's latest handled tickets, newest first, with the result the unit gave (the
        ``completed`` event): what a repeat is answered with (guangzhou §24)."""
        done = [
            t
            for t in self.store.tickets_for(
                address, [TicketStatus.COMPLETED, TicketStatus.CLOSED], numbered=True, newest=REPEAT_LOOKBACK
            )
            if t.fields.get(Field.CONTENT)
        ]
        handled = []
        for t in reversed(done[-REPEAT_LOOKBACK:]):
            results = [
                e for e in self.store.events(t.id) if e.type == "completed" and e.data.get("result_enc")
            ]
            result = self.store.cipher.decrypt(str(results[-1].data["result_enc"])) if results else None
            handled.append(HandledTicket(t.number or "", t.fields[Field.CONTENT], result))
        return handled

    def _rebuild(self, address: Address) -> DialogState:
        """Redis lost the state: continue from the SQL draft, asking at most once more."""
        drafts = self.store.tickets_for(address, [TicketStatus.COLLECTING])
        if not drafts:
            return DialogState()
        d = drafts[-1]
        state = DialogState(
            draft_id=d.id,
            category=Category(d.category) if d.category else None,
            values={**d.contact, **d.fields},
            anonymous=d.anonymous,
            hidden=d.hidden,
            hide_answered=d.anonymous,
            urgent_class=d.urgent_class,
            due_at=d.supplement_due_at,
        )
        if state.category is None:
            choices = tuple(c.value for c in self.policy.categories())
            return replace(state, stage=Stage.CHOOSE_CATEGORY, choices=choices)
        return replace(state, stage=Stage.COLLECTING, asked=tuple(missing_fields(state, self.policy)))

    def commit(
        self, item: TurnInput, result: StepResult, now: datetime
    ) -> tuple[IntakeResult, DialogState | None]:
        """Inside the open transaction: the message, the draft or ticket, the replies,
        "processed". Returns the result and the state to keep (None: leave it)."""
        msg, stored_id = item.msg, item.stored_id
        # Reply keys come from the message's id: new for a message stored now, and for a stored
        # one not yet handled (checked under the sender's lock), since replies and "processed"
        # commit together.
        fresh = True
        if stored_id is None and msg.native_id is not None:
            # A native id may have been seen before (a replayed update): look before acting.
            stored_id, new = self.store.save_inbound(msg, raw=item.raw, processed=True)
            if not new:  # answered as the first time (a chat message sent again with its client_id)
                return self._again(stored_id), None
            saved_first = True
        else:
            saved_first = False
        replies, ticket, next_state, ticket_id = self._apply(msg.address, result, now, msg.thread_ticket)
        if stored_id is None:
            stored_id, _ = self.store.save_inbound(msg, raw=item.raw, processed=True, ticket_id=ticket_id)
        elif ticket_id is not None or not saved_first:
            self.store.mark_inbound(stored_id, ticket_id=ticket_id)
        sent = self._send(
            msg.address, stored_id, replies, ticket_id=ticket_id, fresh=fresh, subject=msg.subject
        )
        return IntakeResult(stored_id, sent, ticket), next_state

    def _again(self, stored_id: int) -> IntakeResult:
        """A message stored and answered before: the same replies and its ticket as it is now."""
        rows, ticket_id = self.store.replies_to(stored_id)
        replies = tuple(SentReply(m.id, m.text, m.choices) for m in rows)
        ticket = None
        if ticket_id is not None:
            t = self.store.get_ticket(ticket_id)
            ticket = TicketView(t.number, t.status, t.category, t.deadline)
        return IntakeResult(stored_id, replies, ticket, duplicate=True)

    def _apply(
        self, address: Address, result: StepResult, now: datetime, thread: str | None = None
    ) -> tuple[list[Reply], TicketView | None, DialogState, int | None]:
        replies = list(result.replies)
        next_state = result.state
        ticket: TicketView | None = None
        draft_id: int | None = next_state.draft_id
        actions = result.actions
        for n, action in enumerate(actions):
            if isinstance(action, SaveDraft):
                if action.state.draft_id is not None and _registers(actions, n + 1, action.state):
                    draft_id = action.state.draft_id  # the registering statement writes its fields
                    continue
                draft_id = self._save_draft(address, action.state)
                if next_state.stage is not Stage.IDLE and next_state.draft_id is None:
                    next_state = replace(next_state, draft_id=draft_id)
                ticket = TicketView(None, TicketStatus.COLLECTING, _cat(action.state), None)
            elif isinstance(action, Register):
                assert draft_id is not None
                ticket = self._register(draft_id, action.state, address, now)
                replies.append(registered_reply(ticket))
            elif isinstance(action, CloseDraft):
                if draft_id is not None:
                    self.store.update_ticket(draft_id, status=TicketStatus.CLOSED, reason=action.reason)
                ticket = None
            elif isinstance(action, Withdraw | Evaluate) and needs_code(address, action):
                ask, next_state = ask_for_code(action, thread, next_state, now)
                replies.append(ask)
            elif isinstance(action, Withdraw):
                replies.append(self._withdraw(address, action.number))
            elif isinstance(action, NoteFailedCheck):
                note_failed_check(self.store, address, action.number)
            elif isinstance(action, ToAgent):
                handoff = self.store.hand_off(address, action.text, now)
                if action.asked or action.failed:
                    ahead = self.store.handoffs_ahead(handoff)
                    replies.append(to_agent_reply(ahead, failed=action.failed))
            elif isinstance(action, Supplement):
                replies.append(self._supplement(address, action))
            elif isinstance(action, Evaluate):
                reply = self._evaluate(address, action)
                if reply is not None:
                    replies.append(reply)
            elif isinstance(action, RecordScreening):
                draft = TicketDraft(
                    channel=address.channel,
                    address=address,
                    policy=self.policy.name,
                    status=action.status,
                    values={Field.CONTENT: action.text},
                    reason=f"rule {action.rule_id}",
                )
                draft_id = self.store.create_ticket(draft)
            elif isinstance(action, RecordAnswered):
                draft_id = self._record_answered(address, action)
            elif isinstance(action, NoteRepeat):
                self._note_repeat(address, action)
        if next_state.stage is Stage.IDLE or next_state == DialogState():
            ticket = ticket if ticket is not None and ticket.number else None
        elif ticket is None and next_state.stage in DRAFTING and next_state.draft_id is not None:
            # Still asking (a progress query or a re-asked question in between): the draft so far.
            ticket = TicketView(None, TicketStatus.COLLECTING, _cat(next_state), None)
        return replies, ticket, next_state, draft_id

    def _save_draft(self, address: Address, s: DialogState) -> int:
        if s.draft_id is None:
            draft = TicketDraft(
                channel=address.channel,
                address=address,
                policy=self.policy.name,
                category=_cat(s),
                urgent_class=s.urgent_class,
                anonymous=s.anonymous,
                hidden=s.hidden,
                values=dict(s.values),
                supplement_due_at=s.due_at,
            )
            return self.store.create_ticket(draft)
        self.store.update_ticket(s.draft_id, supplement_due_at=s.due_at, **_draft_columns(s))
        return s.draft_id

    def _register(self, ticket_id: int, s: DialogState, address: Address, now: datetime) -> TicketView:
        """Number the draft, with its fields as the dialog holds them, its place key and its
        cluster in the same statement (one UPDATE for the whole registration). ``now`` is the
        group's time: the registrations of one group share their deadline computations."""
        assert s.category is not None
        deadline, provisional = self.policy.registration_deadline(
            s.category, s.urgent_class, address.channel, now
        )
        extra: dict[str, Any] = _draft_columns(s)
        if self.clusters is not None:
            # The near-duplicate search works from the fields the dialog holds, not from a row.
            key = extra["place_key"] = self.clusters.key_of(s.values)
            cluster = self.clusters.find(
                ticket_id, s.category.value, self.store.address_key(address), s.values, key, now
            )
            if cluster is not None:
                extra["cluster"] = cluster
        number = self.store.register(
            ticket_id, deadline=deadline, deadline_provisional=provisional, extra=extra
        )
        return TicketView(number, TicketStatus.REGISTERED, s.category.value, deadline)

    def _record_answered(self, address: Address, action: RecordAnswered) -> int:
        """A consultation answered online: a closed row without a number, reason ``kb:<entry>``,
        so agents see what was answered and with which entry (guangzhou §14.1, §33-36)."""
        draft = TicketDraft(
            channel=address.channel,
            address=address,
            policy=self.policy.name,
            status=TicketStatus.CLOSED,
            category=Category.CONSULTATION.value,
            values={Field.CONTENT: action.text},
            reason=f"kb:{action.entry_id}",
        )
        with self.store.tx():
            ticket_id = self.store.create_ticket(draft)
            self.store.add_event(ticket_id, "answered_online", "system", {"entry_id": action.entry_id})
        return ticket_id

    def _note_repeat(self, address: Address, action: NoteRepeat) -> None:
        """The same matter raised again with no new facts: kept on the earlier ticket (guangzhou §24)."""
        t = self._owned(address, action.number)
        if t is None:
            return
        with self.store.tx():
            data = {"text_enc": self.store.cipher.encrypt(action.text)}
            self.store.add_event(t.id, "repeat_raised", "citizen", data)

    def _owned(self, address: Address, number: str) -> StoredTicket | None:
        try:
            t = self.store.find_ticket(number)
        except NotFound:
            return None
        return t if t.address_key == self.store.address_key(address) else None

    def _withdraw(self, address: Address, number: str) -> Reply:
        """Withdrawal from the account that filed it (guangzhou §9, §23; huizhou §17)."""
        t = self._owned(address, number)
        if t is None:
            return Reply(texts.NO_OPEN_TICKETS)
        if not t.status.is_open:
            status = texts.STATUS_WORDS.get(t.status.value, t.status.value)
            return Reply(texts.WITHDRAW_NOT_ALLOWED.format(number=number, status=status))
        if t.status in WITH_A_UNIT:
            # After dispatch the unit ends it (guangzhou §23.2; huizhou §17: returns it): the
            # request goes to the unit, and a report may still be verified (§23.2).
            report = t.category == Category.REPORT.value
            may_continue = self.duties is None or self.duties.profile.withdrawal.report_may_continue
            with self.store.tx():
                data = {"report": report}
                # once per dispatch: a ticket returned and sent to another unit may be asked again
                dispatches = [e.id for e in self.store.events(t.id) if e.type == "dispatched"]
                key = f"withdrawal:{t.id}:{dispatches[-1] if dispatches else 0}"
                self.store.add_event(t.id, "withdrawal_requested", "citizen", data, key=key)
            text = texts.WITHDRAWAL_REQUESTED.format(number=number, unit=t.unit or "承办单位")
            return Reply(text + (texts.WITHDRAWN_REPORT_MAY_CONTINUE if report and may_continue else ""))
        with self.store.tx():
            self.store.update_ticket(t.id, status=TicketStatus.WITHDRAWN)
            self.store.add_event(t.id, "withdrawn", "citizen", {}, key=f"withdrawn:{t.id}")
        return Reply(texts.WITHDRAWN.format(number=number))

    def _supplement(self, address: Address, action: Supplement) -> Reply:
        t = self._owned(address, action.number)
        if t is None:
            return Reply(texts.NO_OPEN_TICKETS)
        with self.store.tx():
            data = {"text_enc": self.store.cipher.encrypt(action.text)}
            self.store.add_event(t.id, "supplemented", "citizen", data)
        return Reply(texts.SUPPLEMENT_RECORDED.format(number=action.number))

    def _evaluate(self, address: Address, action: Evaluate) -> Reply | None:
        """Record the answer for this round; a first dissatisfied answer opens the one
        re-handling round the profile allows, otherwise the ticket closes (guangzhou §27-29)."""
        t = self._owned(address, action.number)
        if t is None or t.status is not TicketStatus.COMPLETED:
            return None
        round_ = t.rehandling_round + 1
        now = self.clock.now()
        with self.store.tx():
            # the silence timer may close it this very moment (worker.timers): decide under the lock
            if self.store.lock_status(t.id) is not TicketStatus.COMPLETED:
                return None
            if action.level is None:
                # CONTRACT.md: an answer outside the options, after one re-ask, counts as invalid;
                # the round is over, so nothing more is asked (guangzhou §28).
                self.store.record_evaluation(t.id, round_, None, "invalid")
                self.store.add_event(t.id, "evaluation_invalid", "citizen", {"round": round_})
                self.store.update_ticket(t.id, status=TicketStatus.CLOSED)
                self.store.add_event(t.id, "closed", "system", {"invalid": True})
                return None
            if not self.store.record_evaluation(t.id, round_, action.level, "citizen"):
                return Reply(texts.EVAL_ALREADY.format(number=t.number))
            self.store.add_event(t.id, "evaluated", "citizen", {"level": action.level, "round": round_})
            deadline = self.policy.rehandling_deadline(t.category, action.level, round_, now)
            duties = self.duties
            if deadline is not None and duties is not None and duties.profile.review.dissatisfied:
                # the hotline calls back and decides first (guangzhou §28, huizhou §25)
                duties.request_review(t, DISSATISFIED, {"level": action.level, "round": round_}, "citizen")
                return Reply(texts.EVAL_REVIEW.format(number=t.number))
            if deadline is not None:
                self.store.update_ticket(
                    t.id,
                    status=TicketStatus.REHANDLING,
                    rehandling_round=round_,
                    deadline=deadline,
                )
                self.store.add_event(t.id, "rehandling", "system", {"round": round_})
                return Reply(
                    texts.EVAL_REHANDLING.format(number=t.number, deadline=texts.format_deadline(deadline))
                )
            self.store.update_ticket(t.id, status=TicketStatus.CLOSED)
            self.store.add_event(t.id, "closed", "system", {"level": action.level})
            if (
                duties is not None
                and round_ > 1
                and action.level in duties.profile.evaluation.dissatisfied_levels
                and duties.profile.supervision.after_rehandling
            ):
                # still dissatisfied after re-handling → supervision (shaoyang §24.3)
                duties.open_supervision(self.store.get_ticket(t.id), texts.SUPERVISION_AFTER_REHANDLING, now)
        return Reply(texts.EVAL_THANKS.format(number=t.number, level=action.level))

    def _send(
        self,
        address: Address,
        message_id: int,
        replies: Sequence[Reply],
        *,
        ticket_id: int | None,
        first: int = 0,
        fresh: bool = False,
        subject: str | None = None,
    ) -> tuple[SentReply, ...]:
        # Web chat shows the replies in its own response: stored as delivered there; elsewhere
        # each is queued for delivery on the citizen's channel.
        state = DeliveryState.DELIVERED if address.channel.replies_in_response else DeliveryState.PENDING
        sent = []
        for i, reply in enumerate(replies, first):
            # A registration by SMS or mail waits a moment for its dispatch: one message tells both.
            merge = reply.kind == REGISTERED_KIND and address.channel.merges_notices
            key = f"reply:{message_id}:{i}"
            text = reply.text if address.channel.has_buttons else texts.numbered(reply.text, reply.choices)
            oid, _ = self.store.record_outbound(
                address,
                text,
                key=key,
                kind=reply.kind,
                ticket_id=ticket_id,
                choices=reply.choices,
                subject=subject,
                state=state,
                fresh=fresh,
                hold_until=self.clock.now() + REGISTRATION_HOLD if merge else None,
            )
            sent.append(SentReply(oid, text, reply.choices))
        return tuple(sent)

    def refused(
        self,
        msg: InboundMessage,
        stored_id: int | None,
        raw: str | None,
        flag: str,
        reply: str | None,
    ) -> IntakeResult:
        """A restricted or flooding sender: stored and marked, never lost (issue 7); one short
        note at the start of a flood, silence after."""
        with self.store.tx():
            if stored_id is None:
                stored_id, new = self.store.save_inbound(msg, raw=raw, flags=flag)
                if not new:
                    return IntakeResult(stored_id, (), None, duplicate=True)
            self.store.mark_inbound(stored_id, flags=flag)
            sent = self._send(
                msg.address,
                stored_id,
                [Reply(reply)] if reply else [],
                ticket_id=None,
                subject=msg.subject,
            )
        return IntakeResult(stored_id, sent, None)

    def after(
        self, msg: InboundMessage, result: StepResult, done: IntakeResult, now: datetime
    ) -> IntakeResult:
        """After the commit: an abusive message counts towards the restriction (huizhou §8)."""
        if self.guard is None or not result.abusive:
            return done
        notice = self.guard.strike(msg.address, now)
        if notice is None:
            return done
        more = self._send(
            msg.address,
            done.message_id,
            [Reply(notice)],
            ticket_id=None,
            first=len(done.replies),
            subject=msg.subject,
        )
        return replace(done, replies=done.replies + more)


def to_agent_reply(ahead: int, *, failed: bool = False) -> Reply:
    """The citizen who asked for a person (or whom the bot failed twice) is told so, and how
    many wait before them."""
    wait = texts.TO_AGENT_AHEAD.format(ahead=ahead) if ahead else texts.TO_AGENT_FIRST
    lead = texts.BOT_FAILED_LEAD if failed else texts.TO_AGENT_LEAD
    return Reply(texts.TO_AGENT.format(lead=lead, wait=wait))


def registered_reply(t: TicketView) -> Reply:
    """What a citizen is told when their request is registered: the number, and its deadline."""
    if t.deadline is None:
        return Reply(
            texts.REGISTERED_NO_DEADLINE.format(number=t.number, category=t.category), kind=REGISTERED_KIND
        )
    return Reply(
        texts.REGISTERED.format(
            number=t.number, category=t.category, deadline=texts.format_deadline(t.deadline)
        ),
        kind=REGISTERED_KIND,
    )


def _draft_columns(s: DialogState) -> dict[str, Any]:
    """The ticket columns a draft takes from the dialog (its deadline for a supplement aside)."""
    return {
        "category": _cat(s),
        "urgent_class": s.urgent_class,
        "anonymous": s.anonymous,
        "hidden": s.hidden,
        "values": dict(s.values),
    }


def _registers(actions: Sequence[object], n: int, state: DialogState) -> bool:
    """Whether ``actions[n]`` registers the draft of ``state`` (as the dialog emits it)."""
    nxt = actions[n] if n < len(actions) else None
    return isinstance(nxt, Register) and nxt.state == state


def _cat(s: DialogState) -> str | None:
    return s.category.value if s.category else None
