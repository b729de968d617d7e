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

Until then a date in such a year is *provisional*: Monday-Friday count as working days except
the public holidays the law itself fixes (《全国年节及纪念日放假办法》§2: 元旦, 春节, 清明节,
劳动节, 端午节, 中秋节, 国庆节, lunar dates included) and the day off in lieu of one that falls on a
weekend (§6), as the ``holidays`` package computes them (``holidays.China``, on the following
working days). Bridge days and make-up working days exist only in the notice, so every result
that touched such a year stays marked provisional and the worker recomputes it once the file is
there. A known public holiday is never counted as a working day.

Every process sees a new, changed or removed override file without a restart: at most every
``check_every`` seconds, when a calculation is asked for, the calendar compares the folder's
``*.toml`` names, sizes and modification times with what it last read, and reads the folder
again when they differ. A file that is wrong at that moment is logged and the previous reading
stays in use (at start-up the same file stops the process, see :class:`WorkCalendar`).

Counting convention (民法典 §201: the day a period starts is not counted): ``add_workdays(t, n)``
is the end of the n-th working day *after* the calendar date of ``t``. Deadlines are the last
second of that day, ``23:59:59`` Asia/Shanghai, so that the date shown is the date a clerk
writes down; a ticket is overdue when "now" is later than its deadline.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import os
import threading
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import chinese_calendar
import holidays

from intake.errors import ConfigError
from intake.model import SHANGHAI

log = logging.getLogger(__name__)

END_OF_DAY = dt.time(23, 59, 59)

# How often a process looks for a new or changed override file, by default (seconds).
CHECK_EVERY_SECONDS = 30.0

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


class _Reading:
    """One reading of the override folder, and the kind of each day asked about under it.

    A calculation takes one reading and uses it to the end, so a reload in another thread never
    mixes two readings inside one deadline.
    """

    __slots__ = ("kinds", "overrides")

    def __init__(self, overrides: dict[int, YearOverride]) -> None:
        self.overrides = overrides
        self.kinds: dict[dt.date, tuple[bool, bool]] = {}  # every deadline counts days: remember them

    def kind(self, day: dt.date) -> tuple[bool, bool]:
        known = self.kinds.get(day)
        if known is None:
            known = self.kinds[day] = _day_kind(day, self.overrides.get(day.year))
        return known


def _day_kind(day: dt.date, override: YearOverride | None) -> tuple[bool, bool]:
    """``(is_workday, provisional)``: the override file, else the library, else the law's holidays."""
    if override is not None:
        if day in override.workdays:
            return True, False
        if day in override.holidays:
            return False, False
        return day.weekday() < 5, False
    if day.year in _LIBRARY_YEARS:
        return bool(chinese_calendar.is_workday(day)), False
    return day.weekday() < 5 and day not in _statutory_days_off(day.year), True


@functools.cache
def _statutory_days_off(year: int) -> frozenset[dt.date]:
    """The public holidays the law fixes for ``year`` and the weekdays off in lieu of those on a weekend.

    《全国年节及纪念日放假办法》§2 names the days (春节, 清明节, 端午节, 中秋节 by the lunar
    calendar), §6 gives a working day off for one that falls on a Saturday or Sunday; the
    ``holidays`` package computes both from its own data (no download), placing the day in lieu
    on the following working days. Only used for a year neither ``chinesecalendar`` nor an
    override file knows, so the result there is always provisional.
    """
    return frozenset(holidays.country_holidays("CN", years=year))


_Signature = tuple[tuple[str, int, int, int], ...] | None


def _signature(folder: Path) -> _Signature:
    """What identifies the folder's override files without reading them: name, inode, mtime, size."""
    if not folder.is_dir():
        return None
    found = []
    for path in sorted(folder.glob("*.toml")):
        try:
            st = path.stat()
        except OSError:  # removed between listing and stat: the next look sees the change
            continue
        found.append((path.name, st.st_ino, st.st_mtime_ns, st.st_size))
    return tuple(found)


class WorkCalendar:
    """Working days of mainland China: the library's years plus operator override files.

    Args:
        overrides_dir: folder of ``<year>.toml`` files (``Settings.holidays_dir``); missing or
            ``None`` means no overrides. Every file is validated when the calendar is built, so a
            wrong file stops start-up with one line naming it.
        check_every: seconds between two looks at the folder (``Settings.holidays_check_seconds``);
            a look happens only when a calculation is asked for, and costs one ``stat`` per file.
            ``0`` looks before every calculation.
        monotonic: the seconds clock of those looks (tests pass a fake one).
    """

    def __init__(
        self,
        overrides_dir: Path | None = None,
        *,
        check_every: float = CHECK_EVERY_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if check_every < 0:
            raise ValueError("check_every must be >= 0")
        self._dir = overrides_dir
        self._check_every = check_every
        self._monotonic = monotonic
        self._lock = threading.Lock()  # web requests compute deadlines in threads: one look at a time
        self._reading = _Reading({})
        self._seen: _Signature = None
        self._looked_at = monotonic()
        self.reload()

    def reload(self) -> None:
        """Read the override folder now.

        Every process also does this by itself when a file is added, changed or removed (see the
        module docstring), so nobody has to call it; an explicit call raises on a wrong file.

        Raises:
            intake.errors.ConfigError: one line naming the file, the field and the reason.
        """
        with self._lock:
            self._read(_signature(self._dir) if self._dir is not None else None)

    def _read(self, signature: _Signature) -> None:
        """Read the folder (the lock is held); the signature is taken before, so a file written
        meanwhile is read again at the next look."""
        overrides = load_overrides(self._dir) if self._dir is not None else {}
        self._seen = signature
        self._looked_at = self._monotonic()
        if overrides != self._reading.overrides:
            self._reading = _Reading(overrides)

    def _current(self) -> _Reading:
        """The reading to calculate with, after a look at the folder when one is due."""
        if self._dir is not None:
            now = self._monotonic()
            if not 0 <= now - self._looked_at < self._check_every:  # due, or the clock went back
                self._look(now)
        return self._reading

    def _look(self, now: float) -> None:
        if not self._lock.acquire(blocking=False):
            return  # another thread is looking right now; its result is used from the next call
        try:
            self._looked_at = now
            assert self._dir is not None
            signature = _signature(self._dir)
            if signature == self._seen:
                return
            before = sorted(self._reading.overrides)
            try:
                self._read(signature)
            except ConfigError as exc:
                self._seen = signature  # not again until the file changes once more
                log.error("holiday overrides not reloaded, the previous ones stay in use: %s", exc.message)
                return
            log.info(
                "holiday overrides reloaded: years %s (before: %s)", sorted(self._reading.overrides), before
            )
        finally:
            self._lock.release()

    @property
    def overrides(self) -> dict[int, YearOverride]:
        return dict(self._current().overrides)

    def is_known_year(self, year: int) -> bool:
        """True when the year's holidays are published: in the library or in an override file."""
        return year in self._current().overrides or year in _LIBRARY_YEARS

    def day_kind(self, day: dt.date) -> tuple[bool, bool]:
        """``(is_workday, provisional)`` for one date."""
        return self._current().kind(day)

    def is_workday(self, day: dt.date) -> bool:
        """Whether ``day`` is a statutory working day (provisionally so in an unknown year)."""
        return self.day_kind(day)[0]

    def add_workdays(self, start: dt.datetime, n: int) -> CalendarTime:
        """End (23:59:59) of the n-th working day after the date of ``start``.

        ``n == 0`` is the end of ``start``'s own day ("the same day", shaoyang §13).
        """
        return self._count(start, n, 1)

    def subtract_workdays(self, deadline: dt.datetime, n: int) -> CalendarTime:
        """End of the n-th working day before the date of ``deadline`` (yellow cards, huizhou §26)."""
        return self._count(deadline, n, -1)

    def _count(self, moment: dt.datetime, n: int, step: int) -> CalendarTime:
        if n < 0:
            raise ValueError("n must be >= 0")
        reading = self._current()
        day = _local_date(moment)
        provisional = False
        counted = 0
        scanned = 0
        while counted < n:
            day += dt.timedelta(days=step)
            scanned += 1
            if scanned > _MAX_SCAN_DAYS:
                raise ConfigError("working-day calendar: no working day found in ten years")
            work, prov = reading.kind(day)
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
        reading = self._current()
        count = 0
        provisional = False
        day = start
        while day < end:
            day += dt.timedelta(days=1)
            work, prov = reading.kind(day)
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
