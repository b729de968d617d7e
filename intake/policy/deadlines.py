"""One pure answer to "what are this ticket's deadlines and its warning state now?".

The worker (timers and sweeps), the back-office API (``deadline``, ``deadline_provisional``,
``warning``) and the console (tickets by deadline colour) all call :func:`deadlines`, so they can
never disagree. It takes the ticket's history, the profile, the calendar and "now", and does no I/O.
A deadline that reaches into a year whose holidays are not yet published is ``provisional``;
calling again after the operator adds that year's override file gives the final answer.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

from intake.model import Category, Channel
from intake.policy.calendar import CalendarTime, WorkCalendar
from intake.policy.model import ClockStart, Limit, Limits, PolicyProfile, ReturnFrom, Unit

WarningColour = Literal["yellow", "red"]


class Stage(StrEnum):
    """Which deadline currently matters."""

    DISPATCH = "dispatch"  # registered, waiting to be dispatched to a unit
    SIGN = "sign"  # dispatched, the unit has not signed for it yet
    HANDLING = "handling"
    REHANDLING = "rehandling"
    COMPLETED = "completed"
    WITHDRAWN = "withdrawn"


@dataclass(frozen=True, slots=True)
class ApprovedExtension:
    """An extension the hotline approved, with the new deadline it set."""

    approved_at: dt.datetime
    new_deadline: dt.datetime
    reason: str = ""


@dataclass(frozen=True, slots=True)
class TicketHistory:
    """What happened to a ticket, as far as deadlines care.

    Attributes:
        dispatched_at: dispatches that (re)start the unit's clock, oldest first: the first
            dispatch and every re-dispatch after an approved return (guangzhou §17). A rejected
            return sends the ticket back without a new entry, so the clock does not restart.
        clock_restarted_at: the citizen added facts that change the matter (guangzhou §20).
        completed_at: the latest result submitted; when it is older than
            ``rehandling_started_at`` the ticket is being handled again.
        complex: the unit declared the matter complex (shaoyang §14.3, quxian §11.3).
    """

    category: Category
    registered_at: dt.datetime
    channel: Channel = Channel.WEBCHAT
    urgent_class: str | None = None
    complex: bool = False
    dispatched_at: Sequence[dt.datetime] = ()
    signed_at: dt.datetime | None = None
    clock_restarted_at: dt.datetime | None = None
    extensions: Sequence[ApprovedExtension] = ()
    completed_at: dt.datetime | None = None
    evaluation_prompted_at: dt.datetime | None = None
    rehandling_started_at: dt.datetime | None = None
    withdrawn_at: dt.datetime | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "dispatched_at", tuple(self.dispatched_at))
        object.__setattr__(self, "extensions", tuple(self.extensions))
        for name in (
            "registered_at",
            "signed_at",
            "clock_restarted_at",
            "completed_at",
            "evaluation_prompted_at",
            "rehandling_started_at",
            "withdrawn_at",
        ):
            value = getattr(self, name)
            if value is not None and value.tzinfo is None:
                raise ValueError(f"TicketHistory.{name} must be an aware datetime")
        if any(d.tzinfo is None for d in self.dispatched_at):
            raise ValueError("TicketHistory.dispatched_at must hold aware datetimes")
        if any(e.new_deadline.tzinfo is None or e.approved_at.tzinfo is None for e in self.extensions):
            raise ValueError("TicketHistory.extensions must hold aware datetimes")

    @property
    def last_dispatch(self) -> dt.datetime | None:
        return self.dispatched_at[-1] if self.dispatched_at else None

    @property
    def in_rehandling(self) -> bool:
        started = self.rehandling_started_at
        return started is not None and (self.completed_at is None or self.completed_at < started)

    @property
    def is_completed(self) -> bool:
        return self.completed_at is not None and not self.in_rehandling

    def round_extensions(self) -> tuple[ApprovedExtension, ...]:
        """Extensions of the current round (re-handling starts a new one, guangzhou §29)."""
        start = self.rehandling_started_at
        return tuple(e for e in self.extensions if start is None or e.approved_at >= start)

    def deadline_extensions(self) -> tuple[ApprovedExtension, ...]:
        """The extensions that still set the deadline: a clock restarted on new facts counts the
        period again from then (guangzhou §20), so an extension granted before it no longer
        does (it still counts towards the extensions allowed)."""
        start = self.clock_restarted_at
        return tuple(e for e in self.round_extensions() if start is None or e.approved_at >= start)


@dataclass(frozen=True, slots=True)
class DeadlineView:
    """Every deadline of a ticket now, and the colour it shows (CONTRACT.md ``warning``)."""

    stage: Stage
    dispatch_deadline: dt.datetime | None
    sign_deadline: dt.datetime | None
    return_deadline: dt.datetime | None
    handling_deadline: dt.datetime | None
    original_handling_deadline: dt.datetime | None
    on_site_deadline: dt.datetime | None
    response_deadline: dt.datetime | None
    progress_deadline: dt.datetime | None
    evaluation_prompt_deadline: dt.datetime | None
    evaluation_reply_deadline: dt.datetime | None
    yellow_at: dt.datetime | None
    red_at: dt.datetime | None
    provisional: bool
    warning: WarningColour | None
    overdue: bool  # the deadline shown (``deadline``) has passed, or the result came after it
    sign_overdue: bool  # dispatched and still not signed after the signing limit
    extensions_used: int
    extensions_left: int
    now: dt.datetime = field(repr=False)

    @property
    def deadline(self) -> dt.datetime | None:
        """The deadline the citizen and the agent are shown: handling once it runs, else the step's."""
        if self.handling_deadline is not None:
            return self.handling_deadline
        if self.stage is Stage.SIGN:
            return self.sign_deadline
        return self.dispatch_deadline

    @property
    def next_change_at(self) -> dt.datetime | None:
        """The next moment the warning, overdue flag or a timer changes (for the worker's sweeps)."""
        if self.stage in (Stage.COMPLETED, Stage.WITHDRAWN):
            moments = [self.evaluation_prompt_deadline, self.evaluation_reply_deadline]
        else:
            moments = [
                self.dispatch_deadline if self.stage is Stage.DISPATCH else None,
                self.sign_deadline if self.stage is Stage.SIGN else None,
                self.yellow_at,
                self.handling_deadline,
                self.red_at,
            ]
        future = [m for m in moments if m is not None and m > self.now]
        return min(future) if future else None


class Accumulator:
    """Collects the provisional flag of every calendar computation."""

    def __init__(self, calendar: WorkCalendar) -> None:
        self.calendar = calendar
        self.provisional = False

    def take(self, value: CalendarTime) -> dt.datetime:
        self.provisional = self.provisional or value.provisional
        return value.at

    def add(self, start: dt.datetime, limit: Limit) -> dt.datetime:
        """``start`` plus a limit: working days end at 23:59:59 of the n-th day after start's date."""
        if limit.unit is Unit.WORKDAYS:
            return self.take(self.calendar.add_workdays(start, limit.amount))
        return start + limit.as_timedelta()

    def handling(self, start: dt.datetime, limit: Limit, rule: ClockStart) -> dt.datetime:
        """Apply a clock rule; "next working day" rules count that day as day one (guangzhou §15)."""
        if limit.unit is Unit.WORKDAYS and rule in (
            ClockStart.NEXT_WORKDAY_AFTER_DISPATCH,
            ClockStart.NEXT_WORKDAY_0000_AFTER_LAST_DISPATCH,
        ):
            anchor = self.take(self.calendar.next_workday_start(start))
            return self.take(self.calendar.add_workdays(anchor, limit.amount - 1))
        return self.add(start, limit)


def original_limit(history: TicketHistory, limits: Limits) -> Limit | None:
    if history.complex and limits.handling_complex is not None:
        return limits.handling_complex
    return limits.handling


def deadlines(
    history: TicketHistory, profile: PolicyProfile, calendar: WorkCalendar, now: dt.datetime
) -> DeadlineView:
    """Every deadline of ``history`` under ``profile``, and its warning state at ``now``.

    Rules, in the words of the regulations:
      * dispatch: from registration (guangzhou §13, quxian §11.1, shaoyang §13, guangxi §25.2);
      * signing and returns: from the unit's receipt, or from signing where the city says so;
      * handling: from the category's clock start; shaoyang §13 deems an unsigned ticket signed
        when its signing limit runs out, so its handling deadline is known from dispatch on;
      * an approved extension replaces the deadline with its ``new_deadline``;
      * re-handling runs its own limit from the moment it starts (guangzhou §29, shaoyang §17);
      * warnings (huizhou §26): yellow from ``yellow_before`` working days before the deadline,
        red once ``red_after`` working days have passed after it; cities without warnings give
        ``None`` (their profiles say so, with the reason).
    """
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    limits = profile.limits(history.category, history.urgent_class)
    acc = Accumulator(calendar)

    dispatch_deadline = acc.add(history.registered_at, limits.dispatch) if limits.dispatch else None
    receipt = history.last_dispatch
    sign_deadline = acc.add(receipt, limits.sign) if receipt and limits.sign else None

    return_start = receipt if limits.return_from is ReturnFrom.RECEIPT else history.signed_at
    return_deadline = None
    if return_start is not None and limits.return_limit is not None:
        return_deadline = acc.add(return_start, limits.return_limit)

    on_site = acc.add(receipt, limits.on_site) if receipt and limits.on_site else None
    response = acc.add(receipt, limits.first_response) if receipt and limits.first_response else None
    progress = acc.add(receipt, limits.progress) if receipt and limits.progress else None

    original = original_limit(history, limits)
    clock_from: dt.datetime | None = None
    if receipt is not None:
        if limits.clock_start is ClockStart.ON_SIGNING:
            clock_from = history.signed_at or sign_deadline or receipt
        else:
            clock_from = receipt
        if history.clock_restarted_at is not None and history.clock_restarted_at > clock_from:
            clock_from = history.clock_restarted_at

    original_deadline = None
    handling_deadline = None
    if original is not None and clock_from is not None:
        original_deadline = acc.handling(clock_from, original, limits.clock_start)
        handling_deadline = original_deadline
    rehandling_limit = profile.evaluation.rehandling_limit
    if history.rehandling_started_at is not None and original is not None and rehandling_limit is not None:
        rule = limits.clock_start
        if rule is ClockStart.ON_SIGNING:
            rule = ClockStart.ON_RECEIPT
        handling_deadline = acc.handling(
            history.rehandling_started_at, rehandling_limit.scaled(original), rule
        )
        clock_from = history.rehandling_started_at
    round_extensions = history.round_extensions()
    setting = history.deadline_extensions()
    if handling_deadline is not None and setting:
        handling_deadline = setting[-1].new_deadline

    evaluation = profile.evaluation
    prompt_deadline = None
    reply_deadline = None
    if history.is_completed and history.completed_at is not None and history.withdrawn_at is None:
        prompt_deadline = history.completed_at + evaluation.delay_max
        if history.evaluation_prompted_at is not None:
            reply_deadline = history.evaluation_prompted_at + evaluation.reply_window

    if history.withdrawn_at is not None:
        stage = Stage.WITHDRAWN
    elif history.is_completed:
        stage = Stage.COMPLETED
    elif history.in_rehandling:
        stage = Stage.REHANDLING
    elif receipt is None:
        stage = Stage.DISPATCH
    elif history.signed_at is None and sign_deadline is not None:
        stage = Stage.SIGN
    else:
        stage = Stage.HANDLING

    yellow_at = None
    red_at = None
    warning: WarningColour | None = None
    overdue = False
    sign_overdue = False
    if stage is Stage.COMPLETED:
        overdue = bool(
            handling_deadline and history.completed_at and history.completed_at > handling_deadline
        )
    elif stage is not Stage.WITHDRAWN:
        shown = handling_deadline or (dispatch_deadline if stage is Stage.DISPATCH else sign_deadline)
        overdue = shown is not None and now > shown
        sign_overdue = stage is Stage.SIGN and sign_deadline is not None and now > sign_deadline
        if profile.warnings.enabled and handling_deadline is not None:
            yellow_at = acc.take(
                calendar.subtract_workdays(handling_deadline, profile.warnings.yellow_before)
            )
            if clock_from is not None and yellow_at < clock_from:
                yellow_at = clock_from  # a limit shorter than the yellow margin is yellow at once
            red_at = acc.take(calendar.add_workdays(handling_deadline, profile.warnings.red_after))
            if now > red_at:
                warning = "red"
            elif now > yellow_at:
                warning = "yellow"

    max_count = profile.extensions.max_count
    used = len(round_extensions)
    return DeadlineView(
        stage=stage,
        dispatch_deadline=dispatch_deadline,
        sign_deadline=sign_deadline,
        return_deadline=return_deadline,
        handling_deadline=handling_deadline,
        original_handling_deadline=original_deadline,
        on_site_deadline=on_site,
        response_deadline=response,
        progress_deadline=progress,
        evaluation_prompt_deadline=prompt_deadline,
        evaluation_reply_deadline=reply_deadline,
        yellow_at=yellow_at,
        red_at=red_at,
        provisional=acc.provisional,
        warning=warning,
        overdue=overdue,
        sign_overdue=sign_overdue,
        extensions_used=used,
        extensions_left=max(0, max_count - used) if _extendable(history, profile) else 0,
        now=now,
    )


def _extendable(history: TicketHistory, profile: PolicyProfile) -> bool:
    limits = profile.limits(history.category, history.urgent_class)
    if history.in_rehandling and not profile.evaluation.rehandling_extendable:
        return False
    return limits.extendable and history.category not in profile.extensions.never_categories
