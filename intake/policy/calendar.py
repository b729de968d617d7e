"""China's statutory working-day calendar, with operator overrides for years not yet published.

Every limit counted in working days (工作日) in the five regulations follows the State Council's
yearly holiday notice: public holidays are days off, and the make-up working days (调休) that
fall on a weekend are working days. The calendar library ``chinesecalendar`` carries those
notices; the State Council publishes next year's dates only around November, so for a year the
library does not know an operator adds ``<overrides_dir>/<year>.toml``::

    year = 2027
    source = "国务院办公厅关于2027年部分节假日安排的通知"
    holidays = ["2027-01-01", ...]   # days off (weekdays; weekend days may be listed too)
    workdays = ["2027-02-20", ...]   # make-up working days, each on a Saturday or Sunday

Until then a date in such a year counts Monday-Friday as working days and every result that
touched it is marked provisional, so the worker can recompute it once the file is there.

Counting convention (民法典 §201: the day a period starts is not counted): ``add_workdays(t, n)``
is the end of the n-th working day *after* the calendar date of ``t``. Deadlines are the last
second of that day, ``23:59:59`` Asia/Shanghai, so that the date shown is the date a clerk
writes down; a ticket is overdue when "now" is later than its deadline.
"""

from __future__ import annotations

import datetime as dt
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import chinese_calendar

from intake.errors import ConfigError
from intake.model import SHANGHAI

END_OF_DAY = dt.time(23, 59, 59)

# The library's data range; asked once at import so a library upgrade widens it by itself.
_LIBRARY_YEARS = frozenset(d.year for d in (*chinese_calendar.holidays, *chinese_calendar.workdays))

# A working-day search longer than this means a broken override (a year with no working day).
_MAX_SCAN_DAYS = 3700


@dataclass(frozen=True, slots=True)
class CalendarTime:
    """A computed moment and whether it rests on a year whose holidays are not yet known."""

    at: dt.datetime
    provisional: bool


@dataclass(frozen=True, slots=True)
class YearOverride:
    """One operator-supplied year of holidays and make-up working days."""

    year: int
    source: str
    holidays: frozenset[dt.date]
    workdays: frozenset[dt.date]
    path: Path


def end_of_day(day: dt.date) -> dt.datetime:
    """The last second of ``day`` in Asia/Shanghai: the form every working-day deadline takes."""
    return dt.datetime.combine(day, END_OF_DAY, tzinfo=SHANGHAI)


def start_of_day(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0, 0), tzinfo=SHANGHAI)


def _local_date(moment: dt.datetime) -> dt.date:
    if moment.tzinfo is None:
        raise ValueError("the working-day clock needs an aware datetime")
    return moment.astimezone(SHANGHAI).date()


class WorkCalendar:
    """Working days of mainland China: the library's years plus operator override files.

    Args:
        overrides_dir: folder of ``<year>.toml`` files (``Settings.holidays_dir``); missing or
            ``None`` means no overrides. Every file is validated when the calendar is built, so a
            wrong file stops start-up with one line naming it.
    """

    def __init__(self, overrides_dir: Path | None = None) -> None:
        self._dir = overrides_dir
        self._overrides: dict[int, YearOverride] = {}
        self._kinds: dict[dt.date, tuple[bool, bool]] = {}
        self.reload()

    def reload(self) -> None:
        """Read the override folder again (the worker calls this before recomputing)."""
        overrides = load_overrides(self._dir) if self._dir is not None else {}
        if overrides != self._overrides or not self._kinds:
            self._overrides = overrides
            self._kinds = {}  # every deadline counts days: remember each day's kind until a reload

    @property
    def overrides(self) -> dict[int, YearOverride]:
        return dict(self._overrides)

    def is_known_year(self, year: int) -> bool:
        """True when the year's holidays are published: in the library or in an override file."""
        return year in self._overrides or year in _LIBRARY_YEARS

    def day_kind(self, day: dt.date) -> tuple[bool, bool]:
        """``(is_workday, provisional)`` for one date."""
        known = self._kinds.get(day)
        if known is None:
            known = self._kinds[day] = self._day_kind(day)
        return known

    def _day_kind(self, day: dt.date) -> tuple[bool, bool]:
        override = self._overrides.get(day.year)
        if override is not None:
            if day in override.workdays:
                return True, False
            if day in override.holidays:
                return False, False
            return day.weekday() < 5, False
        if day.year in _LIBRARY_YEARS:
            return bool(chinese_calendar.is_workday(day)), False
        return day.weekday() < 5, True

    def is_workday(self, day: dt.date) -> bool:
        """Whether ``day`` is a statutory working day (weekends only for an unknown year)."""
        return self.day_kind(day)[0]

    def add_workdays(self, start: dt.datetime, n: int) -> CalendarTime:
        """End (23:59:59) of the n-th working day after the date of ``start``.

        ``n == 0`` is the end of ``start``'s own day ("the same day", shaoyang §13).
        """
        if n < 0:
            raise ValueError("n must be >= 0")
        day = _local_date(start)
        provisional = False
        counted = 0
        scanned = 0
        while counted < n:
            day += dt.timedelta(days=1)
            scanned += 1
            if scanned > _MAX_SCAN_DAYS:
                raise ConfigError("working-day calendar: no working day found in ten years")
            work, prov = self.day_kind(day)
            provisional = provisional or prov
            if work:
                counted += 1
        return CalendarTime(end_of_day(day), provisional)

    def subtract_workdays(self, deadline: dt.datetime, n: int) -> CalendarTime:
        """End of the n-th working day before the date of ``deadline`` (yellow cards, huizhou §26)."""
        if n < 0:
            raise ValueError("n must be >= 0")
        day = _local_date(deadline)
        provisional = False
        counted = 0
        scanned = 0
        while counted < n:
            day -= dt.timedelta(days=1)
            scanned += 1
            if scanned > _MAX_SCAN_DAYS:
                raise ConfigError("working-day calendar: no working day found in ten years")
            work, prov = self.day_kind(day)
            provisional = provisional or prov
            if work:
                counted += 1
        return CalendarTime(end_of_day(day), provisional)

    def next_workday_start(self, moment: dt.datetime) -> CalendarTime:
        """00:00 of the first working day after the date of ``moment`` (guangzhou §15)."""
        end = self.add_workdays(moment, 1)
        return CalendarTime(start_of_day(end.at.date()), end.provisional)

    def workdays_between(self, start: dt.date, end: dt.date) -> tuple[int, bool]:
        """Working days in ``(start, end]`` and whether any of them is provisional."""
        count = 0
        provisional = False
        day = start
        while day < end:
            day += dt.timedelta(days=1)
            work, prov = self.day_kind(day)
            provisional = provisional or prov
            count += work
        return count, provisional


def load_overrides(folder: Path) -> dict[int, YearOverride]:
    """Read and validate every ``*.toml`` in ``folder``; a missing folder means none."""
    if not folder.is_dir():
        return {}
    result: dict[int, YearOverride] = {}
    for path in sorted(folder.glob("*.toml")):
        override = _read_override(path)
        if override.year in result:
            other = result[override.year].path.name
            raise ConfigError(f"{_show(path)}: year: {override.year} is already given by {other}")
        result[override.year] = override
    return result


def _show(path: Path) -> str:
    try:
        rel = os.path.relpath(path)
    except ValueError:  # pragma: no cover - another drive on Windows
        return str(path)
    return str(path) if rel.startswith("..") else rel


def _read_override(path: Path) -> YearOverride:
    where = _show(path)
    try:
        data: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{where}: not a readable TOML file: {exc}") from exc
    unknown = sorted(set(data) - {"year", "source", "holidays", "workdays"})
    if unknown:
        raise ConfigError(f"{where}: {unknown[0]}: unknown key (expected year, source, holidays, workdays)")
    year = data.get("year")
    if not isinstance(year, int) or isinstance(year, bool) or not 2000 <= year <= 2200:
        raise ConfigError(f"{where}: year: must be a four-digit year")
    if path.stem.isdigit() and int(path.stem) != year:
        raise ConfigError(f"{where}: year: {year} does not match the file name")
    source = data.get("source")
    if not isinstance(source, str) or not source.strip():
        raise ConfigError(f"{where}: source: must name the State Council notice the dates come from")
    holidays = _dates(where, "holidays", data.get("holidays"), year)
    workdays = _dates(where, "workdays", data.get("workdays"), year)
    if not holidays:
        raise ConfigError(f"{where}: holidays: must list the year's public holidays")
    if dt.date(year, 1, 1) not in holidays:
        raise ConfigError(f"{where}: holidays: must include {year}-01-01 (元旦)")
    both = sorted(holidays & workdays)
    if both:
        raise ConfigError(f"{where}: workdays: {both[0]} is also listed as a holiday")
    for day in sorted(workdays):
        if day.weekday() < 5:
            raise ConfigError(
                f"{where}: workdays: {day} is a weekday; make-up working days fall on Saturday or Sunday"
            )
    return YearOverride(year, source.strip(), frozenset(holidays), frozenset(workdays), path)


def _dates(where: str, key: str, value: object, year: int) -> set[dt.date]:
    if value is None:
        raise ConfigError(f"{where}: {key}: missing (a list of dates, may be empty for workdays)")
    if not isinstance(value, list):
        raise ConfigError(f"{where}: {key}: must be a list of dates")
    result: set[dt.date] = set()
    for item in value:
        if isinstance(item, dt.date) and not isinstance(item, dt.datetime):
            day = item
        elif isinstance(item, str):
            try:
                day = dt.date.fromisoformat(item)
            except ValueError:
                raise ConfigError(f"{where}: {key}: {item!r} is not a date (YYYY-MM-DD)") from None
        else:
            raise ConfigError(f"{where}: {key}: {item!r} is not a date (YYYY-MM-DD)")
        if day.year != year:
            raise ConfigError(f"{where}: {key}: {day} is outside {year}")
        if day in result:
            raise ConfigError(f"{where}: {key}: {day} is listed twice")
        result.add(day)
    return result
