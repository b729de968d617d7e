"""May this ticket be extended, and how far?

Rules: guangzhou §19, huizhou §13, shaoyang §14, guangxi §26.2.9, quxian §11.3.

The back office posts ``extension_approved`` with a ``new_deadline``; :func:`check_extension`
refuses what the profile does not allow with a short zh/en reason naming the article, and
:func:`max_extension_deadline` tells the console the latest date it may offer.
"""

from __future__ import annotations

import datetime as dt

from intake.errors import Conflict
from intake.policy.calendar import CalendarTime, WorkCalendar
from intake.policy.deadlines import Accumulator, TicketHistory, deadlines, original_limit
from intake.policy.model import Limit, PolicyProfile


def max_extension_deadline(
    history: TicketHistory, profile: PolicyProfile, calendar: WorkCalendar, now: dt.datetime
) -> CalendarTime | None:
    """The latest new deadline one more extension may set, or ``None`` when none is allowed."""
    try:
        return _allowed(history, profile, calendar, now)
    except Conflict:
        return None


def check_extension(
    history: TicketHistory,
    profile: PolicyProfile,
    calendar: WorkCalendar,
    requested_new_deadline: dt.datetime,
    *,
    now: dt.datetime | None = None,
) -> None:
    """Refuse an extension the profile does not allow (raises :class:`intake.errors.Conflict`).

    Checks, with the article in each message: a category or urgent class never extended
    (quxian §11.3, huizhou §13); the count (guangzhou §19: 2, shaoyang §14: 1); the length
    (each at most the original period, guangzhou §19; at most 10 WD, shaoyang §14; 3 WD, 7 for
    special matters, quxian §11.3); re-handling is not extended (guangzhou §29); and, when
    ``now`` is given, that the request comes before the deadline expires (guangzhou §19).
    A shorter extension than the maximum is always accepted: it only helps the citizen.
    """
    if requested_new_deadline.tzinfo is None:
        raise ValueError("requested_new_deadline must be an aware datetime")
    moment = now or requested_new_deadline
    allowed = _allowed(history, profile, calendar, moment)
    view = deadlines(history, profile, calendar, moment)
    current = view.handling_deadline
    assert current is not None  # _allowed refuses a ticket without a running handling clock
    if now is not None and now > current:
        raise Conflict(
            f"办理期限已过，须在期限届满前申请延期（{profile.extensions.basis}）/ "
            f"an extension must be requested before the deadline {current.isoformat()} expires"
        )
    if requested_new_deadline <= current:
        raise Conflict(
            f"新的办理期限须晚于当前期限 {current:%Y-%m-%d %H:%M} / "
            f"the new deadline must be later than the current one ({current.isoformat()})"
        )
    if requested_new_deadline > allowed.at:
        raise Conflict(
            f"延期超过允许的最长期限，最迟可延至 {allowed.at:%Y-%m-%d %H:%M}（{_length(history, profile)}）/ "
            f"the extension is longer than allowed; the latest new deadline is {allowed.at.isoformat()}"
        )


def _length(history: TicketHistory, profile: PolicyProfile) -> Limit:
    ext = profile.extensions
    if history.complex and ext.length_complex is not None:
        return ext.length_complex
    return ext.length


def _allowed(
    history: TicketHistory, profile: PolicyProfile, calendar: WorkCalendar, now: dt.datetime
) -> CalendarTime:
    ext = profile.extensions
    limits = profile.limits(history.category, history.urgent_class)
    rules = profile.category_rules(history.category)
    if history.withdrawn_at is not None or history.is_completed:
        raise Conflict("工单已办结或已撤回，不能延期 / the ticket is completed or withdrawn")
    if history.in_rehandling and not profile.evaluation.rehandling_extendable:
        raise Conflict(
            f"再次办理的工单不得延期（{profile.evaluation.basis}）/ a re-handled ticket cannot be extended"
        )
    if history.category in ext.never_categories or not rules.extendable:
        raise Conflict(
            f"{history.category.value}类工单不予延期（{ext.basis}）/ "
            f"this category ({history.category.value}) is never extended"
        )
    if history.urgent_class is not None and not limits.extendable:
        title = profile.urgent(history.urgent_class).title
        raise Conflict(
            f"{title}原则上不得延期（{profile.urgent(history.urgent_class).source}）/ "
            f"urgent matters of this class are not extended"
        )
    used = len(history.round_extensions())
    if used >= ext.max_count:
        raise Conflict(
            f"延期次数已达上限（{ext.max_count}次，{ext.basis}）/ "
            f"extension limit reached ({ext.max_count} allowed)"
        )
    view = deadlines(history, profile, calendar, now)
    current = view.handling_deadline
    original = original_limit(history, limits)
    if current is None or original is None:
        raise Conflict("工单尚未转派至承办单位，不能延期 / the ticket has not been dispatched to a unit yet")
    length = _length(history, profile).scaled(original)
    acc = Accumulator(calendar)
    at = acc.add(current, length)
    return CalendarTime(at, acc.provisional or view.provisional)
