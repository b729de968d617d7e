"""Knowledge-base entries (知识点) and their validity periods.

guangzhou §33-35: units publish knowledge points and set a validity period on each: policies and
regulations at most 5 years, service guides at most 1 year, the wording of a specific answer at most
6 months. An expired point is never served to a citizen (huizhou §19-21, shaoyang §22 keep it current).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date
from enum import StrEnum


class EntryKind(StrEnum):
    """What an entry is, which fixes how long it may stay valid (guangzhou §35)."""

    POLICY = "policy"  # 政策法规: ≤ 5 years
    GUIDE = "guide"  # 办事指南: ≤ 1 year
    WORDING = "wording"  # 具体事项答复口径: ≤ 6 months

    @property
    def max_months(self) -> int:
        """The longest validity period this kind allows, in months."""
        return _MAX_MONTHS[self]


_MAX_MONTHS = {EntryKind.POLICY: 60, EntryKind.GUIDE: 12, EntryKind.WORDING: 6}

MAX_ANSWER_CHARS = 200


def add_months(start: date, months: int) -> date:
    """``start`` plus ``months`` calendar months, clamped to the month's last day (31 Aug + 6 → 28/29 Feb)."""
    index = start.month - 1 + months
    year, month = start.year + index // 12, index % 12 + 1
    day = min(start.day, calendar.monthrange(year, month)[1])
    return date(year, month, day)


def latest_expiry(kind: EntryKind, reviewed_on: date) -> date:
    """The last allowed ``expires_on`` for a ``kind`` entry reviewed on ``reviewed_on`` (guangzhou §35)."""
    return add_months(reviewed_on, kind.max_months)


@dataclass(frozen=True, slots=True)
class Entry:
    """One knowledge point: the questions it answers, the answer, who owns it, and until when it holds.

    ``expires_on`` is the last day the entry may be served.
    """

    id: str
    kind: EntryKind
    questions: tuple[str, ...]
    answer: str
    unit: str
    basis: str
    reviewed_on: date
    expires_on: date
    keywords: tuple[str, ...] = ()
    source: str = ""

    def is_valid_on(self, day: date) -> bool:
        """True while ``day`` lies within [reviewed_on, expires_on]."""
        return self.reviewed_on <= day <= self.expires_on

    def is_expired_on(self, day: date) -> bool:
        """True once ``day`` is past ``expires_on``: the unit must review it (guangzhou §35-36)."""
        return day > self.expires_on


@dataclass(frozen=True, slots=True)
class KBAnswer:
    """An on-the-spot answer to a consultation (guangzhou §14.1), with what an agent needs to audit it."""

    entry_id: str
    answer: str
    confidence: float
    unit: str
    basis: str
    expires_on: date
    matched_question: str
