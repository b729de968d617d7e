"""What the policy tests share: Shanghai times and the five loaded profiles."""

from __future__ import annotations

import datetime as dt

import pytest

from intake.model import SHANGHAI
from intake.policy import PROFILE_NAMES, PolicyProfile, WorkCalendar, load_profile


def at(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> dt.datetime:
    return dt.datetime(y, mo, d, h, mi, s, tzinfo=SHANGHAI)


def eod(y: int, m: int, d: int) -> dt.datetime:
    """The last second of a day: where a working-day deadline falls."""
    return at(y, m, d, 23, 59, 59)


@pytest.fixture(scope="module")
def cal() -> WorkCalendar:
    return WorkCalendar(None)


@pytest.fixture(scope="module")
def p() -> dict[str, PolicyProfile]:
    return {n: load_profile(n) for n in PROFILE_NAMES}
