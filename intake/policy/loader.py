"""Read a profile file and refuse it, in one line, if anything is missing or contradictory.

A profile is data (ARCHITECTURE.md "Policies"): adding a city means adding a file. Because the
numbers decide when a citizen is told "overdue", a wrong file must stop start-up rather than
quietly produce other deadlines: every error names the file, the field and the reason, e.g.
``intake/policy/profiles/x.toml: categories.投诉.handling: must be a positive number of working days``.
Unknown keys are errors too, so a typo cannot silently drop a rule.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import tomllib
import unicodedata
from dataclasses import replace
from pathlib import Path
from typing import Any

from intake.errors import ConfigError
from intake.model import Category, Field
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
    PolicyProfile,
    RealName,
    RealNameMatter,
    Records,
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
from intake.policy.reader import PROFILE_NAMES, Node, show

PROFILES_DIR = Path(__file__).resolve().parent / "profiles"
CORE_CATEGORIES = (
    Category.CONSULTATION,
    Category.HELP,
    Category.COMPLAINT,
    Category.REPORT,
    Category.SUGGESTION,
)


def profile_path(name: str, profiles_dir: Path | None = None) -> Path:
    """The file for a profile name, or the path itself when ``name`` ends in ``.toml``."""
    if name.endswith(".toml"):
        return Path(name)
    if name not in PROFILE_NAMES and profiles_dir is None:
        raise ConfigError(f"HOTLINE_POLICY: unknown profile {name!r} (one of {', '.join(PROFILE_NAMES)})")
    return (profiles_dir or PROFILES_DIR) / f"{name}.toml"


@functools.cache
def strictest_keep_years() -> int:
    """The longest period any of the five profiles keeps records for ([records], guangxi §28):
    what is purged after it by default (HOTLINE_RETENTION_DAYS overrides)."""
    return max(read_profile(profile_path(name)).records.keep_years for name in PROFILE_NAMES)


def read_profile(path: Path) -> PolicyProfile:
    """Parse and validate one profile file."""
    where = show(path)
    try:
        raw = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read the profile: {exc.strerror or exc}") from exc
    try:
        data = tomllib.loads(raw)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where}: not valid TOML: {exc}") from exc
    return replace(_build(Node(where, "", data)), path=where)


def _build(top: Node) -> PolicyProfile:
    name = top.req_text("name")
    title = top.req_text("title")
    source = top.req_text("source")
    defaults = top.child("defaults", required=False)
    if defaults is not None:
        defaults.basis()
    cats = top.table("categories")
    rules = tuple(_category(cats, key, defaults) for key in list(cats.data))
    for key in cats.data:
        cats.used.add(key)
    present = {r.category for r in rules}
    for core in CORE_CATEGORIES:
        if core not in present:
            cats.fail(core.value, "missing: every city handles 咨询, 求助, 投诉, 举报 and 意见建议")
    if defaults is not None:
        defaults.done()
    cats.done()
    urgent_node = top.table("urgent")
    urgent_basis = urgent_node.basis()
    urgent = _urgent_classes(urgent_node)
    urgent_node.done()
    extensions = _extensions(top.table("extensions"), present)
    if extensions.never_urgent and any(u.extendable for u in urgent):
        top.fail("extensions.never_urgent", "contradicts an urgent class marked extendable = true")
    profile = PolicyProfile(
        name=name,
        title=title,
        source=source,
        rules=rules,
        urgent_classes=urgent,
        urgent_basis=urgent_basis,
        extensions=extensions,
        supplement=_supplement(top.table("supplement")),
        evaluation=_evaluation(top.table("evaluation")),
        warnings=_warnings(top.table("warnings")),
        supervision=_supervision(top.table("supervision")),
        review=_review(top.table("review")),
        real_name=_real_name(top.table("real_name")),
        returns=_returns(top.table("returns")),
        harassment=_harassment(top.table("harassment")),
        withdrawal=_withdrawal(top.table("withdrawal")),
        emergency=_emergency(top.table("emergency")),
        records=_records(top.table("records")),
    )
    top.done()
    return profile


def _category(cats: Node, key: str, defaults: Node | None) -> CategoryRules:
    try:
        category = Category(key)
    except ValueError:
        cats.fail(key, f"unknown category (one of {', '.join(c.value for c in Category)})")
    node = cats.table(key)

    def inherit(name: str, **kwargs: Any) -> Limit | None:
        base = defaults.limit(name, required=False, **kwargs) if defaults is not None else None
        return node.limit(name, required=False, inherited=base, **kwargs)

    def inherit_choice(name: str, choices: tuple[str, ...]) -> str:
        base = defaults.choice(name, choices, default="") if defaults is not None else ""
        if not node.has(name) and base:
            return base
        return node.choice(name, choices)

    read_and_close = node.flag("read_and_close", default=False)
    handling = node.limit("handling", required=not read_and_close)
    if read_and_close and handling is not None:
        node.fail("handling", "contradicts read_and_close = true (a category read and closed has no limit)")
    if handling is not None and handling.unit is not Unit.WORKDAYS:
        node.fail("handling", "must be a positive number of working days")
    complex_ = node.limit("handling_complex", required=False, units=(Unit.WORKDAYS,))
    if complex_ is not None and handling is not None and complex_.amount < handling.amount:
        node.fail("handling_complex", f"is shorter than handling ({handling.amount} working days)")
    dispatch = inherit("dispatch")
    sign = inherit("sign")
    return_limit = inherit("return", allow_zero=True)
    site = inherit("return_site_check")
    if site is not None and return_limit is None:
        node.fail("return_site_check", "needs a return limit to extend")
    return_from = ReturnFrom(inherit_choice("return_from", tuple(r.value for r in ReturnFrom)))
    clock = ClockStart(inherit_choice("clock_start", tuple(c.value for c in ClockStart)))
    extendable_default = defaults.flag("extendable", default=True) if defaults is not None else True
    extendable = node.flag("extendable", default=extendable_default)
    if read_and_close:
        extendable = False
    tnode = node.table("template")
    required = tnode.fields("required")
    optional = tnode.fields("optional")
    if not required:
        tnode.fail("required", "must list at least one field")
    if Field.CONTENT not in required:
        tnode.fail("required", "must include content: a request without its content cannot be registered")
    overlap = [f.value for f in required if f in optional]
    if overlap:
        tnode.fail("optional", f"{overlap[0]} is also required")
    template = Template(required, optional, tnode.req_text("source"))
    tnode.done()
    basis = node.basis() if node.has("source") or node.has("fallback") else _defaults_basis(defaults, node)
    node.done()
    return CategoryRules(
        category=category,
        template=template,
        dispatch=dispatch,
        sign=sign,
        return_limit=return_limit,
        return_from=return_from,
        return_site_check=site,
        handling=handling,
        handling_complex=complex_,
        clock_start=clock,
        extendable=extendable,
        read_and_close=read_and_close,
        basis=basis,
    )


def _defaults_basis(defaults: Node | None, node: Node) -> Basis:
    if defaults is None:
        node.fail(None, 'must cite its article (source = "city §N")')
    return defaults.basis()


def _patterns(node: Node, key: str, *, required: bool) -> tuple[str, ...]:
    """Regular expressions over a normalised text, themselves NFKC as that text is ("，" is ",")."""
    patterns = tuple(unicodedata.normalize("NFKC", p) for p in node.texts(key, required=required))
    for pattern in patterns:
        try:
            re.compile(pattern)
        except re.error as exc:
            node.fail(key, f"bad pattern {pattern!r} ({exc})")
    return patterns


def _urgent_classes(node: Node) -> tuple[UrgentClass, ...]:
    # [urgent] unless: what rules every class out (the matter over, a question, an outage ahead)
    shared = _patterns(node, "unless", required=False)
    raw = node.raw("classes")
    if raw is None:
        node.fail("classes", "missing (a list, [] when the city names no urgent class)")
    if not isinstance(raw, list):
        node.fail("classes", "must be a list of tables")
    result: list[UrgentClass] = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            node.fail(f"classes[{i}]", "must be a table")
        sub = Node(node.where, f"{node.path}.classes[{i}]", item)
        key = sub.req_text("key")
        if any(u.key == key for u in result):
            sub.fail("key", f"{key!r} is given twice")
        sub.path = f"{node.path}.{key}"
        any_unit = (Unit.WORKDAYS, Unit.NATURAL_DAYS, Unit.HOURS, Unit.MINUTES)
        urgent = UrgentClass(
            key=key,
            title=sub.req_text("title"),
            keywords=_patterns(sub, "keywords", required=True),
            kinds=sub.texts("kinds", required=False),
            sign=sub.limit("sign", required=False, units=any_unit),
            return_limit=sub.limit("return", required=False, units=any_unit),
            on_site=sub.limit("on_site", required=False, units=any_unit),
            first_response=sub.limit("first_response", required=False, units=any_unit),
            progress=sub.limit("progress", required=False, units=any_unit),
            handling=sub.limit("handling", required=False, units=any_unit),
            extendable=sub.flag("extendable"),
            source=sub.req_text("source"),
            unless=shared + _patterns(sub, "unless", required=False),
        )
        limits = (urgent.sign, urgent.on_site, urgent.first_response, urgent.progress, urgent.handling)
        if all(v is None for v in limits):
            sub.fail(None, "an urgent class must set at least one limit")
        if not urgent.keywords and not urgent.kinds:
            sub.fail(None, "names neither keywords nor kinds: no ticket could ever be put in it")
        sub.done()
        result.append(urgent)
    return tuple(result)


def _extensions(node: Node, present: set[Category]) -> Extensions:
    basis = node.basis()
    max_count = node.count("max_count")
    length = node.req_limit("length", units=(Unit.WORKDAYS, Unit.ORIGINAL))
    complex_ = node.limit("length_complex", required=False, units=(Unit.WORKDAYS, Unit.ORIGINAL))
    if complex_ is not None and complex_.unit is length.unit and complex_.amount < length.amount:
        node.fail("length_complex", "is shorter than length")
    exact = node.flag("exact", default=False)
    if exact and length.unit is not Unit.ORIGINAL:
        node.fail("exact", "only an extension equal to the original period can be exact")
    never: list[Category] = []
    for word in node.texts("never_categories", required=False):
        try:
            category = Category(word)
        except ValueError:
            node.fail("never_categories", f"unknown category {word!r}")
        if category not in present:
            node.fail("never_categories", f"{word} is not a category of this profile")
        never.append(category)
    result = Extensions(
        max_count=max_count,
        length=length,
        length_complex=complex_,
        exact=exact,
        never_categories=tuple(never),
        never_urgent=node.flag("never_urgent", default=False),
        citizen_told=node.flag("citizen_told", default=True),
        basis=basis,
    )
    node.done()
    return result


def _elapsed(node: Node, key: str, units: tuple[Unit, ...], *, allow_zero: bool = False) -> dt.timedelta:
    return node.req_limit(key, units=units, allow_zero=allow_zero).as_timedelta()


def _supplement(node: Node) -> SupplementRules:
    basis = node.basis()
    result = SupplementRules(
        window=_elapsed(node, "window", (Unit.NATURAL_DAYS, Unit.HOURS)),
        notices=node.count("notices", minimum=1),
        max_supplements=node.count("max_supplements", minimum=1),
        phone_attempts=node.count("phone_attempts", minimum=1),
        phone_spacing=_elapsed(node, "phone_spacing", (Unit.MINUTES, Unit.HOURS)),
        close_when_refused=node.flag("close_when_refused", default=True),
        basis=basis,
        new_facts_restart_clock=node.flag("new_facts_restart_clock", default=False),
    )
    if not result.close_when_refused:
        # Every regulation closes a request whose citizen will not supplement it (guangzhou §12,
        # huizhou §9); a profile may not promise what the dialog does not do.
        node.fail("close_when_refused", "only true is supported: a refused supplement closes the request")
    node.done()
    return result


def _evaluation(node: Node) -> EvaluationRules:
    basis = node.basis()
    levels = node.texts("levels")
    if levels != EVALUATION_LEVELS:
        node.fail("levels", f"must be exactly {' '.join(EVALUATION_LEVELS)} (CONTRACT.md)")
    rounds = node.count("rehandling_rounds")
    limit = node.limit("rehandling_limit", required=False, units=(Unit.WORKDAYS, Unit.ORIGINAL))
    if rounds > 0 and limit is None:
        node.fail("rehandling_limit", f"missing while rehandling_rounds = {rounds}")
    if rounds == 0 and limit is not None:
        node.fail("rehandling_limit", "contradicts rehandling_rounds = 0")
    skips: list[SkipCase] = []
    raw = node.raw("skip_cases")
    if raw is None:
        raw = []
    if not isinstance(raw, list):
        node.fail("skip_cases", "must be a list of { code, label } tables")
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            node.fail(f"skip_cases[{i}]", "must be a table")
        sub = Node(node.where, f"{node.path}.skip_cases[{i}]", item)
        skips.append(SkipCase(sub.req_text("code"), sub.req_text("label")))
        sub.done()
    result = EvaluationRules(
        levels=levels,
        delay_max=_elapsed(node, "delay_max", (Unit.HOURS, Unit.NATURAL_DAYS, Unit.MINUTES), allow_zero=True),
        reply_window=_elapsed(node, "reply_window", (Unit.HOURS, Unit.NATURAL_DAYS)),
        silence_means="satisfied"
        if node.choice("silence_means", ("satisfied", "not_evaluated")) == "satisfied"
        else "not_evaluated",
        rehandling_rounds=rounds,
        rehandling_limit=limit,
        rehandling_extendable=node.flag("rehandling_extendable", default=False),
        unit_objection=node.limit("unit_objection", required=False, units=(Unit.WORKDAYS,)),
        withdrawn_evaluated=node.flag("withdrawn_evaluated", default=False),
        skip_cases=tuple(skips),
        basis=basis,
    )
    node.done()
    return result


def _warnings(node: Node) -> Warnings:
    basis = node.basis()
    enabled = node.flag("enabled")
    yellow = node.limit("yellow_before", required=enabled, units=(Unit.WORKDAYS,))
    red = node.limit("red_after", required=enabled, units=(Unit.WORKDAYS,))
    if not enabled and (yellow is not None or red is not None):
        node.fail("enabled", "is false but yellow_before/red_after are given")
    sms_unit = node.flag("sms_unit", default=False)
    if sms_unit and not enabled:
        node.fail("sms_unit", "is true but warnings are not enabled")
    node.done()
    return Warnings(enabled, yellow.amount if yellow else 0, red.amount if red else 0, basis, sms_unit)


def _supervision(node: Node) -> Supervision:
    basis = node.basis()
    enabled = node.flag("enabled")
    overdue = node.flag("overdue", default=False)
    after = node.flag("after_rehandling", default=False)
    system = node.limit("system", required=enabled and (overdue or after), units=(Unit.WORKDAYS,))
    agent = node.limit("agent", required=enabled, units=(Unit.WORKDAYS,))
    extension = node.limit("extension", required=False, units=(Unit.WORKDAYS,))
    if not enabled and (overdue or after or any(x is not None for x in (system, agent, extension))):
        node.fail("enabled", "is false but supervision rules are given")
    node.done()
    return Supervision(enabled, overdue, after, system, agent, extension, basis)


def _review(node: Node) -> Review:
    basis = node.basis()
    dissatisfied = node.flag("dissatisfied")
    node.done()
    return Review(dissatisfied, basis)


def _real_name(node: Node) -> RealName:
    basis = node.basis()
    refused = node.choice("refused_means", ("not_registered",))
    raw = node.raw("matters")
    if not isinstance(raw, list):
        node.fail("matters", "must be a list of tables ([] when none)")
    matters: list[RealNameMatter] = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            node.fail(f"matters[{i}]", "must be a table")
        sub = Node(node.where, f"{node.path}.matters[{i}]", item)
        required = sub.fields("required")
        if not required:
            sub.fail("required", "must list the real-name fields")
        matters.append(
            RealNameMatter(sub.req_text("key"), sub.req_text("title"), sub.texts("keywords"), required)
        )
        sub.done()
    node.done()
    assert refused == "not_registered"
    return RealName(tuple(matters), "not_registered", basis)


def _returns(node: Node) -> Returns:
    basis = node.basis()
    difficult_after = node.count("difficult_after", minimum=1)
    reviewed = node.flag("reviewed", default=True)
    node.done()
    return Returns(difficult_after, basis, reviewed)


def _harassment(node: Node) -> Harassment:
    basis = node.basis()
    days = node.count("restriction_days")
    if days == 0 and basis.fallback is None:
        node.fail("restriction_days", '0 (no restriction) needs fallback = "none" and a reason')
    node.done()
    return Harassment(days, basis)


def _emergency(node: Node) -> EmergencyLines:
    basis = node.basis()
    number = node.req_text("psychological_line")
    if not number.isdigit():
        node.fail("psychological_line", "must be a telephone number (digits only)")
    label = node.req_text("psychological_label")
    node.done()
    return EmergencyLines(number, label, basis)


def _records(node: Node) -> Records:
    basis = node.basis()
    years = node.count("keep_years", minimum=1)
    node.done()
    return Records(years, basis)


def _withdrawal(node: Node) -> Withdrawal:
    basis = node.basis()
    after = node.choice("after_dispatch", ("unit_returns", "unit_closes"))
    result = Withdrawal(
        same_identity=node.flag("same_identity"),
        after_dispatch="unit_returns" if after == "unit_returns" else "unit_closes",
        report_may_continue=node.flag("report_may_continue", default=False),
        basis=basis,
    )
    node.done()
    return result
