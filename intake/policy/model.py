"""What a policy profile says, as frozen values (ARCHITECTURE.md "Policies").

Every number carries the article it comes from (``source``), and every rule a city is silent on
says which fallback it uses (``fallback`` and ``reason``), so an agent can always answer
"why this deadline?".
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

from intake.errors import InvalidInput
from intake.model import Category, Channel, Field
from intake.policy.calendar import WorkCalendar

EVALUATION_LEVELS: tuple[str, ...] = ("非常满意", "满意", "基本满意", "不满意", "非常不满意")

Silence = Literal["satisfied", "not_evaluated"]


class Unit(StrEnum):
    """How a limit is counted."""

    WORKDAYS = "wd"  # statutory working days, counted from the day after the start (民法典 §201)
    NATURAL_DAYS = "nd"  # elapsed time, N x 24 h from the start
    HOURS = "h"
    MINUTES = "min"
    ORIGINAL = "original"  # N x the original handling period (extensions, re-handling)

    @property
    def label(self) -> str:
        return _UNIT_LABELS[self]


_UNIT_LABELS = {
    Unit.WORKDAYS: "个工作日",
    Unit.NATURAL_DAYS: "个自然日",
    Unit.HOURS: "小时",
    Unit.MINUTES: "分钟",
    Unit.ORIGINAL: "倍原办理时限",
}


class ClockStart(StrEnum):
    """What starts the handling clock (DIGEST "clock starts")."""

    ON_RECEIPT = "on_receipt"  # the unit receives the ticket (huizhou §13, quxian §11.2)
    ON_SIGNING = "on_signing"  # the unit signs for it (shaoyang §14)
    NEXT_WORKDAY_AFTER_DISPATCH = "next_workday_after_dispatch"  # guangxi §26.2
    NEXT_WORKDAY_0000_AFTER_LAST_DISPATCH = "next_workday_0000_after_last_dispatch"  # guangzhou §15


class ReturnFrom(StrEnum):
    """When the window to return a misrouted ticket starts."""

    RECEIPT = "receipt"
    SIGNING = "signing"


@dataclass(frozen=True, slots=True)
class Limit:
    """A period: ``amount`` of ``unit``, with the article it comes from."""

    amount: int
    unit: Unit
    source: str

    def __str__(self) -> str:
        if self.unit is Unit.ORIGINAL:
            return "同原办理时限" if self.amount == 1 else f"{self.amount}倍原办理时限"
        if self.unit is Unit.WORKDAYS and self.amount == 0:
            return "当日"
        return f"{self.amount}{self.unit.label}"

    @property
    def short(self) -> str:
        """Compact form for tables: ``10 WD``, ``24 h``, ``3 ND``."""
        names = {Unit.WORKDAYS: "WD", Unit.NATURAL_DAYS: "ND", Unit.HOURS: "h", Unit.MINUTES: "min"}
        if self.unit is Unit.ORIGINAL:
            return "= original" if self.amount == 1 else f"{self.amount}x original"
        if self.unit is Unit.WORKDAYS and self.amount == 0:
            return "same day"
        return f"{self.amount} {names[self.unit]}"

    def as_timedelta(self) -> dt.timedelta:
        """Elapsed time for natural days, hours and minutes; working days have none."""
        if self.unit is Unit.NATURAL_DAYS:
            return dt.timedelta(days=self.amount)
        if self.unit is Unit.HOURS:
            return dt.timedelta(hours=self.amount)
        if self.unit is Unit.MINUTES:
            return dt.timedelta(minutes=self.amount)
        raise ValueError(f"{self} is not an elapsed time")

    def scaled(self, original: Limit) -> Limit:
        """Resolve an ``original``-relative limit against the original period."""
        if self.unit is not Unit.ORIGINAL:
            return self
        return Limit(original.amount * self.amount, original.unit, f"{self.source}; {original.source}")


@dataclass(frozen=True, slots=True)
class Basis:
    """Where a rule comes from: the city's own article, or a named fallback and why."""

    source: str | None = None
    fallback: str | None = None
    reason: str | None = None

    def __str__(self) -> str:
        if self.fallback is None:
            return self.source or ""
        own = f"{self.source}; " if self.source else ""
        return f"{own}fallback {self.fallback} ({self.reason})"


@dataclass(frozen=True, slots=True)
class Template:
    """Registration fields of one category (huizhou §9, guangzhou §11-12)."""

    required: tuple[Field, ...]
    optional: tuple[Field, ...]
    source: str

    @property
    def fields(self) -> tuple[Field, ...]:
        return self.required + self.optional


@dataclass(frozen=True, slots=True)
class CategoryRules:
    """One category's limits and template."""

    category: Category
    template: Template
    dispatch: Limit | None  # registration -> dispatch to a unit
    sign: Limit | None  # the unit signs for it
    return_limit: Limit | None  # the unit returns a misrouted ticket
    return_from: ReturnFrom
    return_site_check: Limit | None  # longer return window when a site check is needed (shaoyang §13)
    handling: Limit | None  # None only for a category read and closed (praise)
    handling_complex: Limit | None  # complex matters (shaoyang §14.3)
    clock_start: ClockStart
    extendable: bool
    read_and_close: bool  # praise: read and closed (guangzhou §23.1)
    basis: Basis


@dataclass(frozen=True, slots=True)
class UrgentClass:
    """An urgent class with its own, shorter limits (huizhou §13.3, shaoyang §20, guangxi §26.2.7,
    quxian §11.4).

    A ticket is put in it by the words of its matter (``keywords``) or, when no class's words
    name the matter, by the urgent kind screening found (``kinds``); ``unless`` rules the class
    out either way: the matter told as over, a question about it, an outage announced ahead
    (issue 21). ``keywords`` and ``unless`` are regular expressions over the text as screening
    normalises it (NFKC, simplified, lower case: "，" is ",").
    """

    key: str
    title: str
    keywords: tuple[str, ...]
    # the urgent kinds of intake/data/screening.toml this class takes (hazard, utility_outage,
    # road_blocked, sewage_overflow) when no keyword of its own names the matter
    kinds: tuple[str, ...]
    sign: Limit | None
    return_limit: Limit | None
    on_site: Limit | None
    first_response: Limit | None
    progress: Limit | None
    handling: Limit | None  # None: the category's handling limit still applies
    extendable: bool
    source: str
    unless: tuple[str, ...] = ()

    def names(self, clean: str) -> bool:
        """Whether one of its keywords occurs in ``clean`` (a normalised text)."""
        return bool(self.keywords) and _any_of(self.keywords).search(clean) is not None

    def ruled_out(self, clean: str) -> bool:
        """Whether one of its ``unless`` patterns occurs in ``clean`` (a normalised text)."""
        return bool(self.unless) and _any_of(self.unless).search(clean) is not None


@functools.cache
def _any_of(patterns: tuple[str, ...]) -> re.Pattern[str]:
    """The patterns as one alternation, compiled once: a text is scanned once per list, not once
    per pattern (every first message meets them: intake.assembly.ScreeningPort)."""
    return re.compile("|".join(f"(?:{p})" for p in patterns))


@dataclass(frozen=True, slots=True)
class Limits:
    """The limits that apply to one ticket: its category merged with its urgent class."""

    category: Category
    urgent_class: str | None
    dispatch: Limit | None
    sign: Limit | None
    return_limit: Limit | None
    return_from: ReturnFrom
    return_site_check: Limit | None
    handling: Limit | None
    handling_complex: Limit | None
    clock_start: ClockStart
    on_site: Limit | None
    first_response: Limit | None
    progress: Limit | None
    extendable: bool


@dataclass(frozen=True, slots=True)
class Extensions:
    """How a unit may extend (guangzhou §19, huizhou §13, shaoyang §14, guangxi §26.2.9, quxian §11.3)."""

    max_count: int
    length: Limit  # the most each extension may add; Unit.ORIGINAL = relative to the original period
    length_complex: Limit | None  # quxian §11.3: special, complex matters
    exact: bool  # huizhou §13: each extension equals the original period
    never_categories: tuple[Category, ...]
    never_urgent: bool  # huizhou §13: urgent matters are not extended
    citizen_told: bool
    basis: Basis


@dataclass(frozen=True, slots=True)
class SupplementRules:
    """Missing information, told once (guangzhou §12, huizhou §9)."""

    window: dt.timedelta  # online channels: time to reply to the one notice
    notices: int  # online channels: notices sent
    max_supplements: int  # online channels: supplements accepted before closing
    phone_attempts: int  # phone: calls before closing
    phone_spacing: dt.timedelta  # phone: at least this long between calls
    close_when_refused: bool
    basis: Basis
    # New facts the unit confirms affect the matter restart the handling clock (guangzhou §20)
    new_facts_restart_clock: bool = False

    def attempts_for(self, channel: Channel) -> int:
        """Contacts to try on this channel before closing the ticket."""
        return self.notices if channel.is_online else self.phone_attempts


@dataclass(frozen=True, slots=True)
class SkipCase:
    """A reason a dissatisfied ticket does not go back for re-handling (guangzhou §29)."""

    code: str
    label: str


@dataclass(frozen=True, slots=True)
class EvaluationRules:
    """Satisfaction evaluation (guangzhou §27-30, guangxi §27.2, shaoyang §17, quxian §12)."""

    levels: tuple[str, ...]
    delay_max: dt.timedelta  # prompt sent at most this long after the result is approved
    reply_window: dt.timedelta
    silence_means: Silence
    rehandling_rounds: int
    rehandling_limit: Limit | None  # Unit.ORIGINAL: the same as the original handling limit
    rehandling_extendable: bool
    unit_objection: Limit | None  # the unit may contest a dissatisfied result within this period
    withdrawn_evaluated: bool
    skip_cases: tuple[SkipCase, ...]
    basis: Basis

    @property
    def dissatisfied_levels(self) -> tuple[str, ...]:
        return self.levels[3:]


@dataclass(frozen=True, slots=True)
class Warnings:
    """Yellow and red cards (huizhou §26, guangxi §34)."""

    enabled: bool
    yellow_before: int  # working days before the deadline
    red_after: int  # working days after the deadline
    basis: Basis
    sms_unit: bool = False  # also an SMS to the unit's duty phone (guangxi §34 短信预警)


@dataclass(frozen=True, slots=True)
class Supervision:
    """督办: the hotline presses a unit with its own deadline (guangzhou §25, shaoyang §24).

    Opened by the system when a ticket runs past its deadline (``overdue``) or is still
    dissatisfied after re-handling (``after_rehandling``), or by an agent's decision; each way has
    its own limit, and ``extension`` (shaoyang §24) may be granted once."""

    enabled: bool
    overdue: bool
    after_rehandling: bool
    system: Limit | None  # limit of a supervision the system opened
    agent: Limit | None  # limit of one an agent opened
    extension: Limit | None
    basis: Basis

    def limit_for(self, by_agent: bool) -> Limit | None:
        return self.agent if by_agent else (self.system or self.agent)


@dataclass(frozen=True, slots=True)
class Review:
    """The hotline reviews before it acts: a dissatisfied evaluation is called back (回访) and
    an agent decides re-handling or closing (guangzhou §28, huizhou §25, guangxi §27.3); a
    unit's objection to a dissatisfied result (甄别) is decided by an agent (the limit to raise
    it is [evaluation] unit_objection: quxian §12.1, guangzhou §30, shaoyang §25)."""

    dissatisfied: bool
    basis: Basis


@dataclass(frozen=True, slots=True)
class Withdrawal:
    """Withdrawing a request (huizhou §17, guangzhou §9 and §23)."""

    same_identity: bool  # with the phone number or account used to file (guangzhou §9)
    after_dispatch: Literal["unit_returns", "unit_closes"]
    report_may_continue: bool  # guangzhou §23.2: a withdrawn report may still be verified
    basis: Basis


@dataclass(frozen=True, slots=True)
class RealNameMatter:
    """A matter registered only under the citizen's real name (guangzhou §10)."""

    key: str
    title: str
    keywords: tuple[str, ...]
    required: tuple[Field, ...]

    def matches(self, text: str) -> bool:
        return any(word in text for word in self.keywords)


@dataclass(frozen=True, slots=True)
class RealName:
    matters: tuple[RealNameMatter, ...]
    refused_means: Literal["not_registered"]
    basis: Basis


@dataclass(frozen=True, slots=True)
class Returns:
    """Tickets returned by units (guangzhou §18)."""

    difficult_after: int  # returned by this many units → difficult-ticket coordination
    basis: Basis
    # The hotline reviews a return before the ticket goes on (guangzhou §17, huizhou §16,
    # shaoyang §13): approved, an agent routes it to another unit and its clock restarts;
    # refused, it goes back to the unit that returned it and the clock runs on.
    reviewed: bool = True


@dataclass(frozen=True, slots=True)
class Harassment:
    restriction_days: int  # natural days; 0 = no restriction
    basis: Basis


@dataclass(frozen=True, slots=True)
class Records:
    """How long what citizens sent is kept (guangxi §28: reply records at least 3 years); after
    it, raw mail and message texts are purged (issue 18)."""

    keep_years: int
    basis: Basis


@dataclass(frozen=True)
class EmergencyLines:
    """Numbers the emergency reply names besides 110/119/120/122 (issue 16): the line for a
    citizen at risk of harming themselves, read by the screening (intake/screening.py)."""

    psychological: str  # e.g. 12356, the national psychological assistance line
    psychological_label: str  # how the reply names it
    basis: Basis


@dataclass(frozen=True)
class PolicyProfile:
    """One city's rules, loaded from ``intake/policy/profiles/<name>.toml``."""

    name: str
    title: str
    source: str
    rules: tuple[CategoryRules, ...]
    urgent_classes: tuple[UrgentClass, ...]
    urgent_basis: Basis
    extensions: Extensions
    supplement: SupplementRules
    evaluation: EvaluationRules
    warnings: Warnings
    supervision: Supervision
    review: Review
    real_name: RealName
    returns: Returns
    harassment: Harassment
    withdrawal: Withdrawal
    emergency: EmergencyLines
    records: Records
    path: str = field(default="", compare=False)
    calendar: WorkCalendar = field(default_factory=WorkCalendar, compare=False, repr=False)

    @property
    def categories(self) -> tuple[Category, ...]:
        return tuple(r.category for r in self.rules)

    @property
    def harassment_restriction_days(self) -> int:
        return self.harassment.restriction_days

    def category_rules(self, category: Category | str) -> CategoryRules:
        for rules in self.rules:
            if rules.category == category:
                return rules
        raise InvalidInput(f"{self.name}: no category {category!r}")

    def template(self, category: Category | str) -> Template:
        return self.category_rules(category).template

    def urgent(self, key: str) -> UrgentClass:
        for urgent in self.urgent_classes:
            if urgent.key == key:
                return urgent
        raise InvalidInput(f"{self.name}: no urgent class {key!r}")

    def real_name_matter_for(self, text: str) -> RealNameMatter | None:
        """The first real-name matter whose keywords occur in ``text`` (guangzhou §10)."""
        for matter in self.real_name.matters:
            if matter.matches(text):
                return matter
        return None

    def limits(self, category: Category | str, urgent_class: str | None = None) -> Limits:
        """The category's limits, with an urgent class's shorter ones laid over them."""
        rules = self.category_rules(category)
        urgent = self.urgent(urgent_class) if urgent_class is not None else None
        extendable = rules.extendable
        if urgent is not None:
            extendable = extendable and urgent.extendable and not self.extensions.never_urgent
        return Limits(
            category=rules.category,
            urgent_class=urgent_class,
            dispatch=rules.dispatch,
            sign=(urgent.sign if urgent and urgent.sign else rules.sign),
            return_limit=(urgent.return_limit if urgent and urgent.return_limit else rules.return_limit),
            return_from=rules.return_from,
            return_site_check=None if urgent and urgent.return_limit else rules.return_site_check,
            handling=(urgent.handling if urgent and urgent.handling else rules.handling),
            handling_complex=None if urgent and urgent.handling else rules.handling_complex,
            clock_start=(ClockStart.ON_RECEIPT if urgent and urgent.handling else rules.clock_start),
            on_site=urgent.on_site if urgent else None,
            first_response=urgent.first_response if urgent else None,
            progress=urgent.progress if urgent else None,
            extendable=extendable,
        )
