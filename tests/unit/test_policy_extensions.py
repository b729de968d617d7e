"""Extensions: count, length, categories and urgent classes never extended, timing.

guangzhou §19, huizhou §13, shaoyang §14, guangxi §26.2.9, quxian §11.3. Calendar facts: 2026
Spring Festival Feb 15-23 off with Sat Feb 14 and Sat Feb 28 working days.
"""

from __future__ import annotations

import pytest

from intake.errors import Conflict
from intake.model import Category
from intake.policy import (
    ApprovedExtension,
    CalendarTime,
    PolicyProfile,
    TicketHistory,
    WorkCalendar,
    check_extension,
    deadlines,
    max_extension_deadline,
)
from tests.unit.policy_support import at, eod

C = Category


def test_extension_replaces_the_deadline_and_counts(p: dict[str, PolicyProfile], cal: WorkCalendar) -> None:
    """guangzhou §19: ≤ 2 extensions, each ≤ the original 10 WD, counted from the current deadline."""
    gz = p["guangzhou"]
    history = TicketHistory(C.COMPLAINT, at(2026, 2, 13, 19, 30), dispatched_at=[at(2026, 2, 14, 10, 0)])
    now = at(2026, 3, 2, 10, 0)
    # from Fri Mar 6: Mar 9..13 and 16..20 → Fri Mar 20 is the longest allowed
    limit = max_extension_deadline(history, gz, cal, now)
    assert limit is not None and limit.at == eod(2026, 3, 20)
    check_extension(history, gz, cal, eod(2026, 3, 20), now=now)
    with pytest.raises(Conflict, match="2026-03-20"):
        check_extension(history, gz, cal, eod(2026, 3, 23), now=now)
    with pytest.raises(Conflict, match="晚于当前期限"):
        check_extension(history, gz, cal, eod(2026, 3, 5), now=now)
    with pytest.raises(Conflict, match="期限届满前"):
        check_extension(history, gz, cal, eod(2026, 3, 20), now=at(2026, 3, 7, 9, 0))

    once = TicketHistory(
        C.COMPLAINT,
        at(2026, 2, 13, 19, 30),
        dispatched_at=[at(2026, 2, 14, 10, 0)],
        extensions=[ApprovedExtension(at(2026, 3, 2, 11, 0), eod(2026, 3, 20))],
    )
    view = deadlines(once, gz, cal, at(2026, 3, 10, 9, 0))
    assert view.handling_deadline == eod(2026, 3, 20)
    assert view.original_handling_deadline == eod(2026, 3, 6)
    assert (view.extensions_used, view.extensions_left) == (1, 1)
    twice = TicketHistory(
        C.COMPLAINT,
        at(2026, 2, 13, 19, 30),
        dispatched_at=[at(2026, 2, 14, 10, 0)],
        extensions=[
            ApprovedExtension(at(2026, 3, 2, 11, 0), eod(2026, 3, 20)),
            ApprovedExtension(at(2026, 3, 18, 11, 0), eod(2026, 4, 3)),
        ],
    )
    with pytest.raises(Conflict, match="延期次数已达上限（2次"):
        check_extension(twice, gz, cal, eod(2026, 4, 10), now=at(2026, 4, 1, 9, 0))
    assert max_extension_deadline(twice, gz, cal, at(2026, 4, 1, 9, 0)) is None


def test_never_extended_categories_and_urgent_classes(p: dict[str, PolicyProfile], cal: WorkCalendar) -> None:
    consult = TicketHistory(C.CONSULTATION, at(2026, 3, 9, 9, 0), dispatched_at=[at(2026, 3, 9, 10, 0)])
    with pytest.raises(Conflict, match="咨询类工单不予延期"):  # quxian §11.3
        check_extension(consult, p["quxian"], cal, eod(2026, 3, 12), now=at(2026, 3, 10, 9, 0))
    urgent = TicketHistory(
        C.HELP, at(2026, 3, 9, 9, 0), urgent_class="general", dispatched_at=[at(2026, 3, 9, 10, 0)]
    )
    with pytest.raises(Conflict, match="不得延期"):  # huizhou §13
        check_extension(urgent, p["huizhou"], cal, at(2026, 3, 14, 10, 0), now=at(2026, 3, 10, 9, 0))


def test_shaoyang_and_quxian_extension_lengths(p: dict[str, PolicyProfile], cal: WorkCalendar) -> None:
    signed = TicketHistory(
        C.HELP, at(2026, 3, 9, 9, 0), dispatched_at=[at(2026, 3, 9, 10, 0)], signed_at=at(2026, 3, 9, 15, 0)
    )
    # shaoyang §14: ≤ 10 WD after Mon Mar 16 → Mon Mar 30
    limit = max_extension_deadline(signed, p["shaoyang"], cal, at(2026, 3, 12, 9, 0))
    assert limit is not None and limit.at == eod(2026, 3, 30)
    received = TicketHistory(C.HELP, at(2026, 3, 9, 9, 0), dispatched_at=[at(2026, 3, 9, 10, 0)])
    # quxian §11.3: 3 WD after Thu Mar 12 → Tue Mar 17; 7 WD for complex → Mon Mar 23
    limit = max_extension_deadline(received, p["quxian"], cal, at(2026, 3, 10, 9, 0))
    assert limit is not None and limit.at == eod(2026, 3, 17)
    complex_ = TicketHistory(
        C.HELP, at(2026, 3, 9, 9, 0), dispatched_at=[at(2026, 3, 9, 10, 0)], complex=True
    )
    limit = max_extension_deadline(complex_, p["quxian"], cal, at(2026, 3, 10, 9, 0))
    assert limit is not None and limit.at == eod(2026, 3, 23)


def test_guangxi_extension_is_at_most_the_original_period(
    p: dict[str, PolicyProfile], cal: WorkCalendar
) -> None:
    """guangxi §26.2.9: 延长的时限原则上不得超过原办理时限的1倍 — 10 WD complaint → ≤ 10 WD more."""
    history = TicketHistory(C.COMPLAINT, at(2026, 3, 9, 9, 0), dispatched_at=[at(2026, 3, 9, 10, 0)])
    view = deadlines(history, p["guangxi"], cal, at(2026, 3, 10, 9, 0))
    assert view.handling_deadline == eod(2026, 3, 23)  # from Mar 10: 10..13, 16..20, 23
    limit = max_extension_deadline(history, p["guangxi"], cal, at(2026, 3, 10, 9, 0))
    assert limit is not None and limit.at == eod(2026, 4, 7)  # Mar 24..27, 30, 31, Apr 1, 2, 3, 7 (Apr 6 off)


def test_completed_tickets_are_not_extended(p: dict[str, PolicyProfile], cal: WorkCalendar) -> None:
    done = TicketHistory(
        C.HELP,
        at(2026, 3, 9, 9, 0),
        dispatched_at=[at(2026, 3, 9, 10, 0)],
        completed_at=at(2026, 3, 10, 9, 0),
    )
    with pytest.raises(Conflict, match="已办结"):
        check_extension(done, p["guangzhou"], cal, eod(2026, 3, 30))
    fresh = TicketHistory(C.HELP, at(2026, 3, 9, 9, 0))
    with pytest.raises(Conflict, match="尚未转派"):
        check_extension(fresh, p["guangzhou"], cal, eod(2026, 3, 30))


def test_extension_maximum_never_counts_new_year_2027_as_a_working_day(
    p: dict[str, PolicyProfile], cal: WorkCalendar
) -> None:
    """guangzhou §19: at most the original 10 WD from the current deadline, Thu 2026-12-24:
    Dec 25, 28-31, then 2027, a year chinesecalendar does not know and no override file gives
    yet; 元旦 (Fri Jan 1) is a day off all the same, so Jan 4-8. Counting it would end on Jan 7."""
    gz = p["guangzhou"]
    history = TicketHistory(C.COMPLAINT, at(2026, 12, 10, 9, 0), dispatched_at=[at(2026, 12, 10, 10, 0)])
    now = at(2026, 12, 15, 9, 0)
    assert deadlines(history, gz, cal, now).handling_deadline == eod(2026, 12, 24)
    assert max_extension_deadline(history, gz, cal, now) == CalendarTime(eod(2027, 1, 8), provisional=True)
    check_extension(history, gz, cal, eod(2027, 1, 8), now=now)
    with pytest.raises(Conflict, match="2027-01-08"):
        check_extension(history, gz, cal, eod(2027, 1, 11), now=now)
