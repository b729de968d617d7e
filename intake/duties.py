"""The hotline centre's own duties around a ticket (issue 21), carried out as the profile says:

- **Warnings** (huizhou §26, guangxi §34): a yellow or red card is an event the unit receives
  through the feed, a line in the ticket's history, and, where the profile asks for it
  (``[warnings] sms_unit``), an SMS to the unit's duty phone (intake/data/routing.toml).
- **Supervision** (督办; guangzhou §25, shaoyang §24): opened by the sweep when a unit runs past
  the deadline, by a dissatisfied answer after re-handling, or by an agent; due by the
  profile's limit for that way; extended once where the profile allows it; an event when due
  passes with the unit still on it.
- **Review** (回访; guangzhou §28, huizhou §25, shaoyang §17, guangxi §27.3): a dissatisfied
  answer waits for an agent, who records the call-back and decides re-handling or closing.
  **甄别** (quxian §12.1, guangzhou §30, shaoyang §25): a unit's objection to a dissatisfied
  result, raised within ``[evaluation] unit_objection``, waits for an agent's decision; an
  upheld one takes the evaluation out of the satisfaction rate (intake/reports.py).

Every step is an event in the ticket's history, and the feed (intake/feed.py) carries it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

from intake import texts
from intake.errors import Conflict, InvalidInput
from intake.feed import feed_body
from intake.model import Address, Channel, StoredTicket, TicketStatus
from intake.policy import PolicyProfile, WorkCalendar
from intake.store.sql import SqlStore

DISSATISFIED = "dissatisfied"
OBJECTION = "objection"
REVIEW_DECISIONS = {DISSATISFIED: ("rehandle", "close"), OBJECTION: ("upheld", "rejected")}
MAX_NOTE_CHARS = 1000


class DutyPolicy(Protocol):
    profile: PolicyProfile
    calendar: WorkCalendar

    def rehandling_deadline(
        self, category: str | None, level: str, round_: int, now: datetime
    ) -> datetime | None: ...


def _note(value: Any, name: str, *, required: bool) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"'{name}' must be a non-empty string")
    if len(value) > MAX_NOTE_CHARS:
        raise InvalidInput(f"'{name}' is longer than {MAX_NOTE_CHARS} characters")
    return value.strip()


class Duties:
    def __init__(
        self, store: SqlStore, policy: DutyPolicy, duty_phones: Mapping[str, str] | None = None
    ) -> None:
        self.store = store
        self.policy = policy
        self.duty_phones = dict(duty_phones or {})

    @property
    def profile(self) -> PolicyProfile:
        return self.policy.profile

    # -- warnings ---------------------------------------------------------------------------

    def warn(self, t: StoredTicket, level: str, deadline: datetime | None) -> bool:
        """A yellow or red card for ``t`` (once per colour and deadline): the event, and the SMS
        to the unit's duty phone where the profile says so. Call inside the unit of work that
        stores the colour. False when this card was given already."""
        when = deadline.isoformat() if deadline else ""
        data = {"level": level, "deadline": when or None}
        if not self.store.add_event(t.id, "warning", "system", data, key=f"warning:{t.id}:{level}:{when}"):
            return False
        phone = self.duty_phones.get(t.unit or "")
        if self.profile.warnings.sms_unit and phone:
            text = texts.UNIT_WARNING[level].format(
                number=t.number, deadline=texts.format_deadline(deadline) if deadline else "—"
            )
            self.store.record_outbound(
                Address(Channel.SMS, phone), text, key=f"unitwarn:{t.id}:{level}:{when}", kind="unit_warning"
            )
        return True

    # -- supervision ------------------------------------------------------------------------

    def open_supervision(
        self, t: StoredTicket, reason: str, now: datetime, agent: str | None = None
    ) -> datetime:
        """Put ``t`` under supervision; returns its due time. Opened by the system, or by the
        ``agent`` with that login (whose limit is the profile's ``agent``). Conflict when the
        profile has none or the ticket is under supervision already."""
        rules = self.profile.supervision
        limit = rules.limit_for(agent is not None) if rules.enabled else None
        if limit is None:
            raise Conflict(f"{self.profile.name} has no supervision opened this way ([supervision])")
        if t.supervision is not None and t.supervision.answered_at is None:
            raise Conflict("the ticket is under supervision already")
        due = self.policy.calendar.add_workdays(now, limit.amount).at
        self.store.update_ticket(
            t.id,
            supervision_opened_at=now,
            supervision_due=due,
            supervision_reason=reason,
            supervision_by="system" if agent is None else f"agent:{agent}",
            supervision_extended=False,
            supervision_answered_at=None,
        )
        self.store.add_event(
            t.id,
            "supervision_opened",
            "system" if agent is None else f"agent:{agent}",
            {
                "due": due.isoformat(),
                "reason": reason,
                "by": "system" if agent is None else "agent",
                "limit": str(limit),
            },
        )
        return due

    def extend_supervision(self, t: StoredTicket, by: str, reason: str) -> datetime:
        """The one extension of a supervision (shaoyang §24: complex matters, ≤ 10 WD)."""
        limit = self.profile.supervision.extension
        if limit is None:
            raise Conflict(f"{self.profile.name} allows no extension of a supervision")
        if t.supervision is None:
            raise Conflict("the ticket is not under supervision")
        if t.supervision.answered_at is not None:
            raise Conflict("the unit has answered the supervision")
        if t.supervision.extended:
            raise Conflict("the supervision was extended once already (shaoyang §24)")
        due = self.policy.calendar.add_workdays(t.supervision.due, limit.amount).at
        self.store.update_ticket(t.id, supervision_due=due, supervision_extended=True)
        self.store.add_event(
            t.id, "supervision_extended", f"agent:{by}", {"due": due.isoformat(), "reason": reason}
        )
        return due

    def answer_supervision(
        self, t: StoredTicket, result: str, actor: str, now: datetime, *, key: str | None = None
    ) -> None:
        """The unit's answer to a supervision (guangzhou §25: 提交办理情况并对逾期作出说明)."""
        if t.supervision is None or t.supervision.answered_at is not None:
            raise Conflict("the ticket has no open supervision to answer")
        self.store.update_ticket(t.id, supervision_answered_at=now)
        self.store.add_event(
            t.id, "supervision_answered", actor, {"result_enc": self.store.cipher.encrypt(result)}, key=key
        )

    # -- review and 甄别 ---------------------------------------------------------------------

    def request_review(
        self, t: StoredTicket, kind: str, data: Mapping[str, Any], actor: str, *, key: str | None = None
    ) -> None:
        """``t`` waits for an agent: a dissatisfied answer to call back, or a unit's objection."""
        self.store.update_ticket(t.id, review=kind, evaluation_due_at=None)
        self.store.add_event(t.id, "review_requested", actor, {"kind": kind, **data}, key=key)

    def object(
        self,
        t: StoredTicket,
        reason: str,
        actor: str,
        now: datetime,
        level: str | None,
        at: datetime | None,
        round_: int,
        *,
        key: str | None = None,
    ) -> None:
        """A unit's 甄别 request against the ticket's dissatisfied evaluation ``level`` of round
        ``round_``, given at ``at``: within ``[evaluation] unit_objection`` working days, once a
        round (intake/reports.py leaves out only the round it was upheld for)."""
        limit = self.profile.evaluation.unit_objection
        if limit is None:
            raise Conflict(f"{self.profile.name} takes no objection to an evaluation ([evaluation])")
        if level not in self.profile.evaluation.dissatisfied_levels or at is None:
            raise Conflict("only a dissatisfied evaluation can be contested")
        if t.review is not None:
            raise Conflict("the ticket is waiting for a review already")
        if now > self.policy.calendar.add_workdays(at, limit.amount).at:
            raise Conflict(f"the objection window ({limit}, {limit.source}) has passed")
        if any(
            e.type == "review_requested" and e.data.get("kind") == OBJECTION and e.data.get("round") == round_
            for e in self.store.events(t.id)
        ):
            raise Conflict("an objection to this evaluation was raised already")
        data = {"reason": reason, "level": level, "round": round_}
        self.request_review(t, OBJECTION, data, actor, key=key)

    def decide(
        self, t: StoredTicket, decision: str, agent: str, data: Mapping[str, Any], now: datetime
    ) -> None:
        """An agent's decision on the review ``t`` waits for; call inside the unit of work that
        locked the ticket. Re-handling tells the citizen the new deadline; closing tells them
        the reason (huizhou §25: 向诉求人解释说明)."""
        kind = t.review
        if kind is None:
            raise Conflict("the ticket is not waiting for a review")
        if kind == DISSATISFIED and t.status is not TicketStatus.COMPLETED:
            raise Conflict(f"a ticket in status {t.status.value!r} cannot be re-handled or closed by review")
        if decision not in REVIEW_DECISIONS[kind]:
            raise InvalidInput(f"'decision' must be one of {', '.join(REVIEW_DECISIONS[kind])}")
        reason = _note(data.get("reason"), "reason", required=decision in ("close", "rejected", "upheld"))
        callback = _note(data.get("callback"), "callback", required=kind == DISSATISFIED)
        record: dict[str, Any] = {"kind": kind, "decision": decision, "reason": reason}
        if callback:
            record["callback"] = callback
        skip = data.get("skip_case")
        if skip is not None:  # the case of guangzhou §29 that skips re-handling
            cases = {c.code: c.label for c in self.profile.evaluation.skip_cases}
            if decision != "close" or not isinstance(skip, str) or skip not in cases:
                raise InvalidInput(f"'skip_case' must be one of {', '.join(cases) or 'none'} when closing")
            record["skip_case"] = skip
            record["reason"] = f"{cases[skip]}：{reason}"
        if kind == OBJECTION:  # the round contested, from the request this decides
            asked = [
                e
                for e in self.store.events(t.id)
                if e.type == "review_requested" and e.data.get("kind") == kind
            ]
            record["round"] = asked[-1].data.get("round") if asked else None
        self.store.update_ticket(t.id, review=None)
        self.store.add_event(t.id, "review_decided", f"agent:{agent}", record)
        if kind == OBJECTION:
            return
        evaluation = self.store.evaluation(t.id)
        level, round_ = evaluation if evaluation is not None else (None, t.rehandling_round + 1)
        if decision == "rehandle":
            deadline = self.policy.rehandling_deadline(t.category, level or "", round_, now)
            if deadline is None:
                raise Conflict("this ticket has no re-handling round left ([evaluation] rehandling_rounds)")
            self.store.update_ticket(
                t.id, status=TicketStatus.REHANDLING, rehandling_round=round_, deadline=deadline
            )
            self.store.add_event(
                t.id, "rehandling", "system", {"round": round_, "deadline": deadline.isoformat()}
            )
            text = texts.EVAL_REHANDLING.format(number=t.number, deadline=texts.format_deadline(deadline))
        else:
            self.store.update_ticket(t.id, status=TicketStatus.CLOSED, reason=f"review: {reason}")
            self.store.add_event(t.id, "closed", "system", {"review": True})
            text = texts.REVIEW_CLOSED.format(number=t.number, reason=reason.rstrip("。."))
        self.store.record_outbound(
            t.address, text, key=f"review:{t.id}:{round_}", kind="review_decided", ticket_id=t.id
        )

    # -- the sweep ----------------------------------------------------------------------------

    def sweep(self, now: datetime, *, feed: bool) -> int:
        """Supervision the clock opens or finds due, then the feed's pending events; returns how
        many things happened. Each step is idempotent: several workers may run it."""
        done = 0
        rules = self.profile.supervision
        if rules.enabled and rules.overdue:
            for ticket_id in self.store.overdue_unsupervised(now):
                with self.store.tx():
                    self.store.lock_status(ticket_id)  # another worker, or an agent, may be at it
                    t = self.store.get_ticket(ticket_id)
                    if t.supervision is None or t.supervision.answered_at is not None:
                        self.open_supervision(t, texts.SUPERVISION_OVERDUE, now)
                        done += 1
        for ticket_id in self.store.supervision_past_due(now):
            t = self.store.get_ticket(ticket_id)
            assert t.supervision is not None
            due = t.supervision.due.isoformat()
            key = f"supervision_due:{t.id}:{due}"
            done += self.store.add_event(t.id, "supervision_due", "system", {"due": due}, key=key)
        while taken := self.store.queue_feed(feed_body if feed else None):
            done += taken
        return done
