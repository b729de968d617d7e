"""Deadlines a clerk would compute by hand, for all five profiles, across holidays and make-up days.

Calendar facts used (国务院办公厅 2025 and 2026 holiday notices):
  2025 National Day: Oct 1-8 off, Sun Sep 28 and Sat Oct 11 are working days.
  2026 Spring Festival: Feb 15-23 off, Sat Feb 14 and Sat Feb 28 are working days.
  2026 Qingming: Mon Apr 6 off.  2026 Labour Day: May 1-5 off, Sat May 9 a working day.
  2026 National Day: Oct 1-7 off, Sat Oct 10 a working day.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from intake.errors import Conflict
from intake.model import Category
from intake.policy import (
    PolicyProfile,
    Stage,
    TicketHistory,
    WorkCalendar,
    check_extension,
    deadlines,
    load_profile,
)
from tests.unit.policy_support import at, eod

C = Category


def test_guangzhou_friday_evening_before_spring_festival(
    p: dict[str, PolicyProfile], cal: WorkCalendar
) -> None:
    """guangzhou §13, §15: registered Fri 2026-02-13 19:30, dispatched on the make-up Saturday.

    Dispatch: 1 WD from registration = Sat Feb 14 (make-up day).
    Clock: next working day 00:00 after the last dispatch (Sat 14) = Tue Feb 24 (15-23 are off).
    10 WD: Feb 24, 25, 26, 27, Sat 28 (make-up), Mar 2, 3, 4, 5, 6 → Fri 2026-03-06.
    """
    history = TicketHistory(C.COMPLAINT, at(2026, 2, 13, 19, 30))
    view = deadlines(history, p["guangzhou"], cal, at(2026, 2, 13, 19, 31))
    assert view.stage is Stage.DISPATCH
    assert view.dispatch_deadline == eod(2026, 2, 14)
    assert view.deadline == eod(2026, 2, 14)
    assert view.handling_deadline is None

    dispatched = TicketHistory(C.COMPLAINT, at(2026, 2, 13, 19, 30), dispatched_at=[at(2026, 2, 14, 10, 0)])
    view = deadlines(dispatched, p["guangzhou"], cal, at(2026, 2, 20, 12, 0))
    assert view.handling_deadline == eod(2026, 3, 6)
    assert view.sign_deadline == eod(2026, 2, 25)  # §16: 2 WD to check: Feb 24, 25
    assert view.provisional is False
    assert view.warning is None  # guangzhou has no cards
    assert not view.overdue


def test_guangzhou_dispatched_on_the_friday_evening_itself(
    p: dict[str, PolicyProfile], cal: WorkCalendar
) -> None:
    """Dispatched Fri 20:00 → the clock starts Sat Feb 14 00:00 (make-up), so day 10 is Thu Mar 5."""
    history = TicketHistory(C.COMPLAINT, at(2026, 2, 13, 19, 30), dispatched_at=[at(2026, 2, 13, 20, 0)])
    assert deadlines(history, p["guangzhou"], cal, at(2026, 2, 14)).handling_deadline == eod(2026, 3, 5)


def test_guangzhou_across_national_day(p: dict[str, PolicyProfile], cal: WorkCalendar) -> None:
    """Wed 2026-09-30 17:00: Oct 8 (1), 9, Sat 10 (make-up), 12, 13, 14, 15, 16, 19, 20 (10)."""
    history = TicketHistory(C.HELP, at(2026, 9, 30, 16, 0), dispatched_at=[at(2026, 9, 30, 17, 0)])
    view = deadlines(history, p["guangzhou"], cal, at(2026, 10, 21, 9, 0))
    assert view.handling_deadline == eod(2026, 10, 20)
    assert view.overdue
    assert view.warning is None


def test_huizhou_complaint_across_national_day_2025_with_cards(
    p: dict[str, PolicyProfile], cal: WorkCalendar
) -> None:
    """huizhou §13.1 (15 WD from receipt) and §26 (yellow 1 WD before, red 1 WD after).

    Received Fri 2025-09-26 18:00: Sun 28 (1, make-up), 29, 30, Oct 9, 10, Sat 11 (6, make-up),
    13, 14, 15, 16, 17, 20, 21, 22, 23 (15) → Thu 2025-10-23.
    """
    history = TicketHistory(C.COMPLAINT, at(2025, 9, 26, 17, 0), dispatched_at=[at(2025, 9, 26, 18, 0)])
    hz = p["huizhou"]
    view = deadlines(history, hz, cal, at(2025, 10, 22, 12, 0))
    assert view.handling_deadline == eod(2025, 10, 23)
    assert view.yellow_at == eod(2025, 10, 22)
    assert view.red_at == eod(2025, 10, 24)
    assert view.warning is None
    assert view.next_change_at == eod(2025, 10, 22)

    yellow = deadlines(history, hz, cal, at(2025, 10, 23, 9, 0))
    assert (yellow.warning, yellow.overdue) == ("yellow", False)
    late = deadlines(history, hz, cal, at(2025, 10, 24, 9, 0))
    assert (late.warning, late.overdue) == ("yellow", True)  # overdue, red card only after 1 more WD
    red = deadlines(history, hz, cal, at(2025, 10, 25, 0, 0, 1))
    assert (red.warning, red.overdue) == ("red", True)


def test_huizhou_urgent_class_counts_natural_days(p: dict[str, PolicyProfile], cal: WorkCalendar) -> None:
    """huizhou §13.3: major — on site within 1 h, reply within 1 natural day, even on a holiday."""
    history = TicketHistory(
        C.HELP, at(2026, 10, 1, 8, 0), urgent_class="major", dispatched_at=[at(2026, 10, 1, 8, 10)]
    )
    view = deadlines(history, p["huizhou"], cal, at(2026, 10, 1, 8, 30))
    assert view.on_site_deadline == at(2026, 10, 1, 9, 10)
    assert view.handling_deadline == at(2026, 10, 2, 8, 10)
    assert view.warning == "yellow"  # shorter than the 1 WD margin: yellow from the start


def test_shaoyang_clock_starts_on_signing(p: dict[str, PolicyProfile], cal: WorkCalendar) -> None:
    """shaoyang §13-14: dispatch in 2 h, sign in 1 WD, 5 WD from signing (10 if complex)."""
    sy = p["shaoyang"]
    base = TicketHistory(C.COMPLAINT, at(2026, 3, 9, 9, 0))
    assert deadlines(base, sy, cal, at(2026, 3, 9, 9, 30)).dispatch_deadline == at(2026, 3, 9, 11, 0)

    unsigned = TicketHistory(C.COMPLAINT, at(2026, 3, 9, 9, 0), dispatched_at=[at(2026, 3, 9, 10, 0)])
    view = deadlines(unsigned, sy, cal, at(2026, 3, 9, 12, 0))
    assert view.stage is Stage.SIGN
    assert view.sign_deadline == eod(2026, 3, 10)
    # §13 超过规定退回时限的，视为签收: deemed signed Tue 10 → 11, 12, 13, 16, 17
    assert view.handling_deadline == eod(2026, 3, 17)

    signed = TicketHistory(
        C.COMPLAINT,
        at(2026, 3, 9, 9, 0),
        dispatched_at=[at(2026, 3, 9, 10, 0)],
        signed_at=at(2026, 3, 9, 15, 0),
    )
    view = deadlines(signed, sy, cal, at(2026, 3, 9, 16, 0))
    assert view.stage is Stage.HANDLING
    assert view.handling_deadline == eod(2026, 3, 16)  # 10, 11, 12, 13, 16
    assert view.return_deadline == eod(2026, 3, 9)  # 签收当日退回
    complex_ = TicketHistory(
        C.COMPLAINT,
        at(2026, 3, 9, 9, 0),
        dispatched_at=[at(2026, 3, 9, 10, 0)],
        signed_at=at(2026, 3, 9, 15, 0),
        complex=True,
    )
    assert deadlines(complex_, sy, cal, at(2026, 3, 9, 16, 0)).handling_deadline == eod(2026, 3, 23)


def test_guangxi_next_workday_after_dispatch_over_qingming(
    p: dict[str, PolicyProfile], cal: WorkCalendar
) -> None:
    """guangxi §26.2: dispatched Fri 2026-04-03 17:00; Mon Apr 6 is Qingming → Tue 7 (1), Wed 8 (2)."""
    history = TicketHistory(C.CONSULTATION, at(2026, 4, 3, 16, 0), dispatched_at=[at(2026, 4, 3, 17, 0)])
    view = deadlines(history, p["guangxi"], cal, at(2026, 4, 7, 9, 0))
    assert view.handling_deadline == eod(2026, 4, 8)
    assert view.dispatch_deadline == at(2026, 4, 4, 16, 0)  # §25.2: 24 h
    # guangxi §34 with huizhou §26's timing: yellow once only the last working day is left
    assert view.yellow_at == eod(2026, 4, 7)
    assert view.warning is None
    assert deadlines(history, p["guangxi"], cal, at(2026, 4, 8, 9, 0)).warning == "yellow"


def test_guangxi_emergency(p: dict[str, PolicyProfile], cal: WorkCalendar) -> None:
    """guangxi §26.2.7: sign within 30 min, done within 24 h."""
    history = TicketHistory(
        C.HELP, at(2026, 4, 3, 16, 0), urgent_class="emergency", dispatched_at=[at(2026, 4, 3, 17, 0)]
    )
    view = deadlines(history, p["guangxi"], cal, at(2026, 4, 3, 17, 45))
    assert view.sign_deadline == at(2026, 4, 3, 17, 30)
    assert view.handling_deadline == at(2026, 4, 4, 17, 0)
    assert view.sign_overdue  # not signed within 30 minutes
    assert not view.overdue


def test_quxian_over_labour_day(p: dict[str, PolicyProfile], cal: WorkCalendar) -> None:
    """quxian §11.2: 5 WD from receipt Thu 2026-04-30: May 6, 7, 8, Sat 9 (make-up), Mon 11."""
    history = TicketHistory(C.REPORT, at(2026, 4, 30, 15, 0), dispatched_at=[at(2026, 4, 30, 16, 0)])
    view = deadlines(history, p["quxian"], cal, at(2026, 5, 6, 9, 0))
    assert view.handling_deadline == eod(2026, 5, 11)
    assert view.warning is None


def test_quxian_special_matter_response_times(p: dict[str, PolicyProfile], cal: WorkCalendar) -> None:
    """quxian §11.4: special — first response 3 h, progress 2 WD; handling stays the category's."""
    history = TicketHistory(
        C.HELP, at(2026, 3, 10, 9, 0), urgent_class="special", dispatched_at=[at(2026, 3, 10, 10, 0)]
    )
    view = deadlines(history, p["quxian"], cal, at(2026, 3, 10, 11, 0))
    assert view.response_deadline == at(2026, 3, 10, 13, 0)
    assert view.progress_deadline == eod(2026, 3, 12)
    assert view.handling_deadline == eod(2026, 3, 13)  # 求助 3 WD


def test_deadline_into_an_unknown_year_is_provisional_until_the_override(
    p: dict[str, PolicyProfile], cal: WorkCalendar, tmp_path: Path
) -> None:
    """Thu 2026-12-24: Dec 25, 28, 29, 30, 31, then 2027 unknown: 元旦 Jan 1 off all the same
    (the law fixes it), 4, 5, 6, 7, 8; the test override makes Sat Jan 2 a make-up working day → Jan 7."""
    history = TicketHistory(C.COMPLAINT, at(2026, 12, 24, 9, 0), dispatched_at=[at(2026, 12, 24, 10, 0)])
    view = deadlines(history, p["guangzhou"], cal, at(2026, 12, 25, 9, 0))
    assert view.handling_deadline == eod(2027, 1, 8)
    assert view.provisional

    (tmp_path / "2027.toml").write_text(
        'year = 2027\nsource = "test data"\nholidays = ["2027-01-01"]\nworkdays = ["2027-01-02"]\n',
        encoding="utf-8",
    )
    profile = load_profile("guangzhou", calendar_overrides=tmp_path)
    view = deadlines(history, profile, profile.calendar, at(2026, 12, 25, 9, 0))
    assert view.handling_deadline == eod(2027, 1, 7)
    assert not view.provisional


def test_rehandling_has_its_own_limit_and_no_extension(
    p: dict[str, PolicyProfile], cal: WorkCalendar
) -> None:
    """guangzhou §29: same limit as the original, no extension; shaoyang §17: 5 WD."""
    history = TicketHistory(
        C.COMPLAINT,
        at(2026, 2, 13, 19, 30),
        dispatched_at=[at(2026, 2, 14, 10, 0)],
        completed_at=at(2026, 3, 4, 10, 0),
        rehandling_started_at=at(2026, 3, 16, 9, 0),
    )
    view = deadlines(history, p["guangzhou"], cal, at(2026, 3, 17, 9, 0))
    assert view.stage is Stage.REHANDLING
    assert view.handling_deadline == eod(2026, 3, 30)  # Mar 17..20, 23..27, 30
    assert view.extensions_left == 0
    with pytest.raises(Conflict, match="再次办理的工单不得延期"):
        check_extension(history, p["guangzhou"], cal, eod(2026, 4, 3), now=at(2026, 3, 17, 9, 0))
    sy = deadlines(history, p["shaoyang"], cal, at(2026, 3, 17, 9, 0))
    assert sy.handling_deadline == eod(2026, 3, 23)  # 17, 18, 19, 20, 23


def test_completed_withdrawn_and_praise(p: dict[str, PolicyProfile], cal: WorkCalendar) -> None:
    late = TicketHistory(
        C.COMPLAINT,
        at(2025, 9, 26, 17, 0),
        dispatched_at=[at(2025, 9, 26, 18, 0)],
        completed_at=at(2025, 10, 24, 10, 0),
    )
    view = deadlines(late, p["huizhou"], cal, at(2025, 11, 10, 9, 0))
    assert view.stage is Stage.COMPLETED
    assert view.overdue  # completed after Oct 23
    assert view.warning is None
    assert view.evaluation_prompt_deadline == at(2025, 10, 25, 10, 0)

    withdrawn = TicketHistory(
        C.COMPLAINT,
        at(2025, 9, 26, 17, 0),
        dispatched_at=[at(2025, 9, 26, 18, 0)],
        withdrawn_at=at(2025, 9, 29),
    )
    view = deadlines(withdrawn, p["huizhou"], cal, at(2025, 11, 10, 9, 0))
    assert (view.stage, view.warning, view.overdue) == (Stage.WITHDRAWN, None, False)
    assert view.evaluation_prompt_deadline is None

    praise = TicketHistory(C.PRAISE, at(2026, 3, 9, 9, 0), dispatched_at=[at(2026, 3, 9, 10, 0)])
    view = deadlines(praise, p["guangzhou"], cal, at(2026, 3, 20, 9, 0))
    assert view.handling_deadline is None
    assert view.warning is None


def test_guangxi_evaluation_window(p: dict[str, PolicyProfile], cal: WorkCalendar) -> None:
    """guangxi §27.2: SMS on completion; 24 h of silence counts as satisfied."""
    history = TicketHistory(
        C.HELP,
        at(2026, 3, 9, 9, 0),
        dispatched_at=[at(2026, 3, 9, 10, 0)],
        completed_at=at(2026, 3, 11, 15, 0),
        evaluation_prompted_at=at(2026, 3, 11, 15, 1),
    )
    view = deadlines(history, p["guangxi"], cal, at(2026, 3, 11, 16, 0))
    assert view.evaluation_prompt_deadline == at(2026, 3, 11, 15, 0)
    assert view.evaluation_reply_deadline == at(2026, 3, 12, 15, 1)
    assert view.next_change_at == at(2026, 3, 12, 15, 1)


def test_redispatch_after_return_and_added_facts_restart_the_clock(
    p: dict[str, PolicyProfile], cal: WorkCalendar
) -> None:
    """guangzhou §17 (approved return → 从承办单位收到之日起重新计算) and §20 (追加情况 → 重新计算)."""
    redispatched = TicketHistory(
        C.HELP, at(2026, 3, 9, 9, 0), dispatched_at=[at(2026, 3, 9, 10, 0), at(2026, 3, 11, 10, 0)]
    )
    view = deadlines(redispatched, p["guangzhou"], cal, at(2026, 3, 12, 9, 0))
    assert view.handling_deadline == eod(2026, 3, 25)  # from Mar 12: 12,13,16..20,23,24,25
    added = TicketHistory(
        C.HELP,
        at(2026, 3, 9, 9, 0),
        dispatched_at=[at(2026, 3, 9, 10, 0)],
        clock_restarted_at=at(2026, 3, 13, 10, 0),
    )
    view = deadlines(added, p["guangzhou"], cal, at(2026, 3, 13, 11, 0))
    assert view.handling_deadline == eod(2026, 3, 27)  # from Mar 16: 16..20, 23..27


def test_naive_now_is_refused(p: dict[str, PolicyProfile], cal: WorkCalendar) -> None:
    history = TicketHistory(C.HELP, at(2026, 3, 9, 9, 0))
    with pytest.raises(ValueError, match="aware"):
        deadlines(history, p["guangzhou"], cal, dt.datetime(2026, 3, 9, 9, 0))


@pytest.mark.parametrize(
    ("name", "signed", "expected", "by_hand"),
    [
        ("guangzhou", None, eod(2026, 3, 5), "§15 clock from Sat 14 00:00; 10 WD: 14, 24-27, 28, Mar 2-5"),
        ("huizhou", None, eod(2026, 3, 12), "§13.1 15 WD from receipt: 14, 24-27, 28, Mar 2-6, 9-12"),
        ("shaoyang", at(2026, 2, 14, 9, 0), eod(2026, 2, 28), "§14 5 WD from signing Sat 14: 24-27, Sat 28"),
        ("guangxi", None, eod(2026, 3, 5), "§26.2 from the next WD (Sat 14): 14, 24-27, 28, Mar 2-5"),
        ("quxian", None, eod(2026, 2, 27), "§11.2 5 WD from receipt: 14, 24, 25, 26, 27"),
    ],
)
def test_friday_evening_complaint_before_spring_festival_in_every_city(
    p: dict[str, PolicyProfile],
    cal: WorkCalendar,
    name: str,
    signed: dt.datetime | None,
    expected: dt.datetime,
    by_hand: str,
) -> None:
    """Registered and dispatched Fri 2026-02-13 evening; Sat 14 and Sat 28 are make-up working days."""
    history = TicketHistory(
        C.COMPLAINT, at(2026, 2, 13, 19, 30), dispatched_at=[at(2026, 2, 13, 20, 0)], signed_at=signed
    )
    view = deadlines(history, p[name], cal, at(2026, 2, 14, 9, 30))
    assert view.handling_deadline == expected, by_hand
    assert not view.provisional
