"""The working-day clock: statutory holidays, make-up days, unknown years and override files."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import holidays
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from intake.errors import ConfigError
from intake.model import SHANGHAI
from intake.policy import CalendarTime, WorkCalendar


def at(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> dt.datetime:
    return dt.datetime(y, mo, d, h, mi, s, tzinfo=SHANGHAI)


def eod(y: int, m: int, d: int) -> dt.datetime:
    return at(y, m, d, 23, 59, 59)


@pytest.fixture(scope="module")
def cal() -> WorkCalendar:
    return WorkCalendar(None)


OVERRIDE_2027 = """\
year = 2027
source = "test data standing in for the State Council's 2027 notice"
holidays = ["2027-01-01", "2027-02-08", "2027-02-09", "2027-02-10", "2027-02-11", "2027-02-12"]
workdays = ["2027-02-20"]
"""


def test_make_up_saturdays_are_working_days(cal: WorkCalendar) -> None:
    # 2026 notice: 2月14日（周六）、2月28日（周六）、10月10日（周六）上班
    for day in (dt.date(2026, 2, 14), dt.date(2026, 2, 28), dt.date(2026, 10, 10), dt.date(2026, 9, 20)):
        assert day.weekday() >= 5
        assert cal.is_workday(day)
    assert not cal.is_workday(dt.date(2026, 2, 21))  # an ordinary Saturday


def test_golden_week_and_spring_festival_are_days_off(cal: WorkCalendar) -> None:
    for d in range(1, 8):
        assert not cal.is_workday(dt.date(2026, 10, d)), f"2026-10-0{d} is National Day holiday"
    for d in (16, 17, 18, 19, 20, 23):
        assert not cal.is_workday(dt.date(2026, 2, d)), f"2026-02-{d} is Spring Festival holiday"
    assert cal.is_workday(dt.date(2026, 10, 8))


def test_count_starts_the_day_after_and_ends_at_the_last_second(cal: WorkCalendar) -> None:
    # Registered Tuesday 2026-03-10 15:00: day 1 is Wednesday 11th, day 2 Thursday 12th.
    result = cal.add_workdays(at(2026, 3, 10, 15, 0), 2)
    assert result.at == eod(2026, 3, 12)
    assert not result.provisional
    assert cal.add_workdays(at(2026, 3, 10, 15, 0), 0).at == eod(2026, 3, 10)


def test_friday_evening_before_spring_festival_counts_the_make_up_saturday(cal: WorkCalendar) -> None:
    # Fri 2026-02-13 20:00 → Sat 14 (make-up, 1), then the holiday 15-23, Tue 24 (2), Wed 25 (3).
    assert cal.add_workdays(at(2026, 2, 13, 20, 0), 3).at == eod(2026, 2, 25)
    assert cal.next_workday_start(at(2026, 2, 13, 20, 0)).at == at(2026, 2, 14, 0, 0)


def test_across_national_day(cal: WorkCalendar) -> None:
    # Wed 2026-09-30 17:00: Oct 1-7 off; Thu 8 (1), Fri 9 (2), Sat 10 make-up (3), Mon 12 (4), Tue 13 (5).
    assert cal.add_workdays(at(2026, 9, 30, 17, 0), 5).at == eod(2026, 10, 13)
    assert cal.next_workday_start(at(2026, 9, 30, 17, 0)).at == at(2026, 10, 8, 0, 0)


def test_subtract_is_the_mirror_of_add(cal: WorkCalendar) -> None:
    # One working day before Thu 2026-10-08 is Wed 2026-09-30 (the golden week is skipped).
    assert cal.subtract_workdays(eod(2026, 10, 8), 1).at == eod(2026, 9, 30)


def test_unknown_year_keeps_the_laws_holidays_off_and_is_provisional(cal: WorkCalendar) -> None:
    """2027 is in neither chinesecalendar nor an override file: the holidays the law fixes
    (《全国年节及纪念日放假办法》§2, lunar ones included) and the weekdays off in lieu of those on a
    weekend (§6) are days off; the year's bridge and make-up days are unknown, so it is provisional."""
    assert not cal.is_known_year(2027)
    assert cal.is_known_year(2026)
    # Thu 2026-12-31 + 1 WD: Fri 2027-01-01 is 元旦, then the weekend.
    result = cal.add_workdays(at(2026, 12, 31, 10, 0), 1)
    assert result.at == eod(2027, 1, 4)
    assert result.provisional
    assert cal.day_kind(dt.date(2027, 1, 1)) == (False, True)
    assert cal.day_kind(dt.date(2027, 1, 5)) == (True, True)
    assert not cal.is_workday(dt.date(2027, 1, 2))  # a Saturday is still a Saturday
    # 春节 2027: 除夕 Fri Feb 5, 初一-初三 Sat 6 - Mon 8; Sat and Sun given back on Tue 9, Wed 10.
    for d in (5, 8, 9, 10):
        assert not cal.is_workday(dt.date(2027, 2, d)), f"2027-02-{d:02} is a Spring Festival day off"
    assert cal.is_workday(dt.date(2027, 2, 4)) and cal.is_workday(dt.date(2027, 2, 11))
    for d in (1, 4, 5):  # 国庆节 Fri Oct 1 - Sun Oct 3, Sat and Sun given back on Mon 4, Tue 5
        assert not cal.is_workday(dt.date(2027, 10, d))
    assert not cal.is_workday(dt.date(2027, 9, 15))  # 中秋节 (lunar 8/15), a Wednesday


def test_a_far_year_counts_its_fixed_holidays_too(cal: WorkCalendar) -> None:
    # Mon 2035-04-30 + 1 WD: Tue May 1 and Wed May 2 are 劳动节, so Thu May 3.
    result = cal.add_workdays(at(2035, 4, 30, 9, 0), 1)
    assert result == CalendarTime(eod(2035, 5, 3), provisional=True)


def test_override_file_makes_a_year_known_and_final(tmp_path: Path) -> None:
    (tmp_path / "2027.toml").write_text(OVERRIDE_2027, encoding="utf-8")
    cal = WorkCalendar(tmp_path)
    assert cal.is_known_year(2027)
    result = cal.add_workdays(at(2026, 12, 31, 10, 0), 1)
    assert result.at == eod(2027, 1, 4)  # Jan 1 off, then the weekend
    assert not result.provisional
    assert cal.is_workday(dt.date(2027, 2, 20))  # the make-up Saturday


def test_reload_picks_up_a_file_added_later(tmp_path: Path) -> None:
    """The explicit reload still reads the folder at once (and raises on a wrong file)."""
    cal = WorkCalendar(tmp_path, check_every=3600)
    assert cal.add_workdays(at(2026, 12, 31, 10, 0), 1).provisional
    (tmp_path / "2027.toml").write_text(OVERRIDE_2027, encoding="utf-8")
    cal.reload()
    assert not cal.add_workdays(at(2026, 12, 31, 10, 0), 1).provisional


class Ticker:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# Thu 2027-02-04 + 3 WD. Provisionally: 除夕 Fri 5, the weekend, 8-10 off; Thu 11, Fri 12, Mon 15.
# Under OVERRIDE_2027 (test data: Fri 5 a working day, Feb 8-12 off): Fri 5, Mon 15, Tue 16.
SPRING_START = at(2027, 2, 4, 9, 0)
PROVISIONAL = CalendarTime(eod(2027, 2, 15), provisional=True)
FINAL = CalendarTime(eod(2027, 2, 16), provisional=False)


def test_an_override_file_is_used_without_a_reload_within_the_check_interval(tmp_path: Path) -> None:
    ticker = Ticker()
    cal = WorkCalendar(tmp_path, check_every=30, monotonic=ticker)
    assert cal.add_workdays(SPRING_START, 3) == PROVISIONAL

    (tmp_path / "2027.toml").write_text(OVERRIDE_2027, encoding="utf-8")
    ticker.now += 29  # looks at the folder at most every 30 s
    assert cal.add_workdays(SPRING_START, 3) == PROVISIONAL
    ticker.now += 1
    assert cal.add_workdays(SPRING_START, 3) == FINAL
    assert cal.is_known_year(2027)

    # changed in place: Fri Feb 5 becomes a day off as well → Mon 15, Tue 16, Wed 17
    changed = OVERRIDE_2027.replace('holidays = ["2027-01-01", ', 'holidays = ["2027-01-01", "2027-02-05", ')
    (tmp_path / "2027.toml").write_text(changed, encoding="utf-8")
    ticker.now += 30
    assert cal.add_workdays(SPRING_START, 3) == CalendarTime(eod(2027, 2, 17), provisional=False)

    (tmp_path / "2027.toml").unlink()  # removed: provisional again
    ticker.now += 30
    assert cal.add_workdays(SPRING_START, 3) == PROVISIONAL
    assert not cal.is_known_year(2027)


def test_with_no_interval_every_calculation_looks(tmp_path: Path) -> None:
    cal = WorkCalendar(tmp_path, check_every=0)
    assert cal.add_workdays(SPRING_START, 3) == PROVISIONAL
    (tmp_path / "2027.toml").write_text(OVERRIDE_2027, encoding="utf-8")
    assert cal.add_workdays(SPRING_START, 3) == FINAL


def test_a_wrong_file_written_later_keeps_the_last_good_reading(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """At start-up a wrong file stops the process; later, deadlines go on with what was read
    before, the error is logged once, and the corrected file is picked up."""
    (tmp_path / "2027.toml").write_text(OVERRIDE_2027, encoding="utf-8")
    cal = WorkCalendar(tmp_path, check_every=0)
    assert cal.add_workdays(SPRING_START, 3) == FINAL

    (tmp_path / "2027.toml").write_text(
        OVERRIDE_2027.replace('"2027-02-20"', '"2027-02-20", "2027-02-22"'), encoding="utf-8"
    )
    with caplog.at_level(logging.ERROR, logger="intake.policy.calendar"):
        assert cal.add_workdays(SPRING_START, 3) == FINAL
        assert cal.add_workdays(SPRING_START, 3) == FINAL
    (record,) = caplog.records  # once, not on every calculation
    assert "2027.toml: workdays: 2027-02-22 is a weekday" in record.getMessage()
    with pytest.raises(ConfigError, match="2027-02-22 is a weekday"):
        cal.reload()  # an explicit reload still says so

    (tmp_path / "2027.toml").write_text(OVERRIDE_2027.replace(', "2027-02-12"', ""), encoding="utf-8")
    # Feb 12 back to work: Fri 5, Fri 12, Mon 15
    assert cal.add_workdays(SPRING_START, 3) == CalendarTime(eod(2027, 2, 15), provisional=False)


def test_missing_overrides_folder_is_no_overrides(tmp_path: Path) -> None:
    assert not WorkCalendar(tmp_path / "absent").is_known_year(2027)


@pytest.mark.parametrize(
    ("text", "field", "reason"),
    [
        (OVERRIDE_2027.replace('"2027-02-20"', '"2027-02-22"'), "workdays", "is a weekday"),
        (OVERRIDE_2027.replace('"2027-02-20"', '"2028-02-19"'), "workdays", "outside 2027"),
        (OVERRIDE_2027.replace('"2027-01-01", ', ""), "holidays", "2027-01-01"),
        (OVERRIDE_2027.replace("source = ", "# source = "), "source", "State Council"),
        (OVERRIDE_2027.replace('"2027-02-20"', '"2027-02-20", "2027-02-20"'), "workdays", "twice"),
        (OVERRIDE_2027.replace('"2027-02-20"', '"2027-2-30"'), "workdays", "not a date"),
        (OVERRIDE_2027.replace("year = 2027", "year = 2028"), "year", "file name"),
        (OVERRIDE_2027 + 'workdays2 = "x"\n', "workdays2", "unknown key"),
        ("year = 2027\n[broken", "", "not a readable TOML"),
    ],
)
def test_bad_override_stops_start_up_with_one_line(
    tmp_path: Path, text: str, field: str, reason: str
) -> None:
    (tmp_path / "2027.toml").write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        WorkCalendar(tmp_path)
    message = info.value.message
    assert "\n" not in message
    assert "2027.toml" in message
    assert f": {field}:" in message or not field
    assert reason in message


def test_overlapping_holiday_and_workday_is_refused(tmp_path: Path) -> None:
    text = OVERRIDE_2027.replace('workdays = ["2027-02-20"]', 'workdays = ["2027-02-20", "2027-02-08"]')
    (tmp_path / "2027.toml").write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match="2027-02-08 is also listed as a holiday"):
        WorkCalendar(tmp_path)


@pytest.mark.parametrize("year", range(2010, 2027))
def test_library_agrees_with_a_second_source(cal: WorkCalendar, year: int) -> None:
    """chinesecalendar and holidays.China must agree on every day of the covered years."""
    second = holidays.country_holidays("CN", years=year)
    day = dt.date(year, 1, 1)
    disagreements = []
    while day.year == year:
        if cal.is_workday(day) != second.is_working_day(day):
            disagreements.append(day)
        day += dt.timedelta(days=1)
    assert disagreements == []


@settings(max_examples=60, deadline=None)
@given(
    start=st.datetimes(min_value=dt.datetime(2024, 1, 1), max_value=dt.datetime(2026, 6, 30)),
    n=st.integers(min_value=1, max_value=20),
)
def test_deadline_is_a_working_day_n_working_days_later(start: dt.datetime, n: int) -> None:
    cal = WorkCalendar(None)
    aware = start.replace(tzinfo=SHANGHAI)
    result = cal.add_workdays(aware, n)
    assert cal.is_workday(result.at.date())
    count, provisional = cal.workdays_between(aware.date(), result.at.date())
    assert count == n
    assert not provisional
    assert cal.subtract_workdays(result.at, n).at.date() <= aware.date()
    # "next working day 00:00, that day counted as day one" is the same deadline
    anchor = cal.next_workday_start(aware).at
    assert cal.add_workdays(anchor, n - 1).at == result.at


def test_naive_datetimes_are_refused(cal: WorkCalendar) -> None:
    with pytest.raises(ValueError, match="aware"):
        cal.add_workdays(dt.datetime(2026, 3, 10, 9, 0), 1)
