"""Policy profiles (one TOML file per city) and the statutory working-day clock.

Typical use at start-up::

    profile = load_profile(settings.policy, calendar_overrides=settings.holidays_dir)
    view = deadlines(history, profile, profile.calendar, clock.now())
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from intake.policy.adapter import ProfilePolicy
from intake.policy.calendar import CHECK_EVERY_SECONDS, CalendarTime, WorkCalendar, YearOverride, end_of_day
from intake.policy.deadlines import (
    ApprovedExtension,
    DeadlineView,
    Stage,
    TicketHistory,
    deadlines,
)
from intake.policy.extensions import check_extension, max_extension_deadline
from intake.policy.loader import PROFILES_DIR, profile_path, read_profile
from intake.policy.model import (
    EVALUATION_LEVELS,
    Basis,
    CategoryRules,
    ClockStart,
    EmergencyLines,
    EvaluationRules,
    Extensions,
    Harassment,
    Limit,
    Limits,
    PolicyProfile,
    RealName,
    RealNameMatter,
    ReturnFrom,
    Returns,
    Review,
    SkipCase,
    Supervision,
    SupplementRules,
    Template,
    Unit,
    UrgentClass,
    Warnings,
    Withdrawal,
)
from intake.policy.reader import PROFILE_NAMES

__all__ = [
    "EVALUATION_LEVELS",
    "PROFILES_DIR",
    "PROFILE_NAMES",
    "ApprovedExtension",
    "Basis",
    "CalendarTime",
    "CategoryRules",
    "ClockStart",
    "DeadlineView",
    "EmergencyLines",
    "EvaluationRules",
    "Extensions",
    "Harassment",
    "Limit",
    "Limits",
    "PolicyProfile",
    "ProfilePolicy",
    "RealName",
    "RealNameMatter",
    "ReturnFrom",
    "Returns",
    "Review",
    "SkipCase",
    "Stage",
    "Supervision",
    "SupplementRules",
    "Template",
    "TicketHistory",
    "Unit",
    "UrgentClass",
    "Warnings",
    "Withdrawal",
    "WorkCalendar",
    "YearOverride",
    "check_extension",
    "deadlines",
    "end_of_day",
    "load_profile",
    "max_extension_deadline",
    "profile_path",
    "read_profile",
]


def load_profile(
    name: str,
    *,
    profiles_dir: Path | None = None,
    calendar_overrides: Path | None = None,
    calendar_check_every: float = CHECK_EVERY_SECONDS,
) -> PolicyProfile:
    """Load and validate a profile by name (guangzhou, huizhou, ...) or by a path to a ``.toml``.

    ``calendar_overrides`` (``Settings.holidays_dir``) is read and validated here as well, so a
    bad holiday file stops start-up together with a bad profile; the calendar built from it is
    ``profile.calendar``, and it looks for new or changed files every ``calendar_check_every``
    seconds (``Settings.holidays_check_seconds``).

    Raises:
        intake.errors.ConfigError: one line naming the file, the field and the reason.
    """
    profile = read_profile(profile_path(name, profiles_dir))
    return replace(profile, calendar=WorkCalendar(calendar_overrides, check_every=calendar_check_every))
