#!/usr/bin/env python3
"""Print the README's table of policy profiles, generated from the profile files themselves.

    python scripts/policy_table.py                  # print the Markdown table
    python scripts/policy_table.py --check README.md   # exit 1 if the README's block differs
    python scripts/policy_table.py --write README.md   # rewrite the block in place

The block sits between ``<!-- policy-table:start -->`` and ``<!-- policy-table:end -->``. The
files are read through intake.policy's own loader, so a table that builds is a table of profiles
that load; the README cannot drift from the data.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from intake.errors import ConfigError  # noqa: E402
from intake.model import Category  # noqa: E402
from intake.policy import PROFILE_NAMES, ClockStart, PolicyProfile, load_profile  # noqa: E402
from intake.policy.model import Limit, Unit  # noqa: E402

START = "<!-- policy-table:start -->"
END = "<!-- policy-table:end -->"

_CLOCK = {
    ClockStart.ON_RECEIPT: "on receipt",
    ClockStart.ON_SIGNING: "on signing",
    ClockStart.NEXT_WORKDAY_AFTER_DISPATCH: "next WD after dispatch",
    ClockStart.NEXT_WORKDAY_0000_AFTER_LAST_DISPATCH: "next WD 00:00 after last dispatch",
}
_CATEGORIES = (
    Category.CONSULTATION,
    Category.HELP,
    Category.COMPLAINT,
    Category.REPORT,
    Category.SUGGESTION,
)


def _limit(limit: Limit | None) -> str:
    return limit.short if limit is not None else "—"


def _hours(seconds: float) -> str:
    hours = int(seconds // 3600)
    if hours >= 48 and hours % 24 == 0:
        return f"{hours // 24} ND"
    return f"{hours} h"


def _handling(profile: PolicyProfile, category: Category) -> str:
    rules = profile.category_rules(category)
    text = _limit(rules.handling)
    if rules.handling_complex is not None:
        text += f" ({rules.handling_complex.amount} complex)"
    return text


def _extensions(profile: PolicyProfile) -> str:
    ext = profile.extensions
    if ext.length.unit is Unit.ORIGINAL:
        length = "= original" if ext.exact else "≤ original"
    else:
        length = f"≤ {ext.length.short}"
        if ext.length_complex is not None:
            length += f" ({ext.length_complex.short} complex)"
    never = [c.value for c in ext.never_categories] + (["urgent"] if ext.never_urgent else [])
    text = f"{ext.max_count} × {length}"
    if never:
        text += f"; never {', '.join(never)}"
    return text


def _urgent(profile: PolicyProfile) -> str:
    parts = []
    for urgent in profile.urgent_classes:
        limits = [
            f"{name} {limit.short}"
            for name, limit in (
                ("sign", urgent.sign),
                ("on site", urgent.on_site),
                ("response", urgent.first_response),
                ("progress", urgent.progress),
                ("reply", urgent.handling),
            )
            if limit is not None
        ]
        parts.append(f"{urgent.key}: {', '.join(limits)}")
    return "; ".join(parts) or "—"


def _evaluation(profile: PolicyProfile) -> str:
    ev = profile.evaluation
    silence = "satisfied" if ev.silence_means == "satisfied" else "not evaluated"
    text = f"reply {_hours(ev.reply_window.total_seconds())}, silence = {silence}"
    if ev.rehandling_rounds and ev.rehandling_limit is not None:
        text += f"; {ev.rehandling_rounds} re-handling ({ev.rehandling_limit.short})"
    else:
        text += "; no re-handling"
    return text


def _warnings(profile: PolicyProfile) -> str:
    w = profile.warnings
    if not w.enabled:
        return "—"
    text = f"yellow −{w.yellow_before} WD, red +{w.red_after} WD"
    return text + "; SMS to the unit" if w.sms_unit else text


def _supervision(profile: PolicyProfile) -> str:
    s = profile.supervision
    if not s.enabled:
        return "—"
    opened = [
        w for w, on in (("overdue", s.overdue), ("dissatisfied after re-handling", s.after_rehandling)) if on
    ]
    parts = []
    if opened and s.system is not None:
        parts.append(f"{' or '.join(opened)}: {s.system.short}")
    if s.agent is not None:
        parts.append(f"agent: {s.agent.short}")
    if s.extension is not None:
        parts.append(f"+{s.extension.short} once")
    basis = "" if s.basis.fallback is None else f" (fallback {s.basis.fallback.split()[0]})"
    return "; ".join(parts) + basis


def _review(profile: PolicyProfile) -> str:
    parts = [
        "dissatisfied → call-back, agent decides"
        if profile.review.dissatisfied
        else "dissatisfied → no review"
    ]
    objection = profile.evaluation.unit_objection
    if objection is not None:
        parts.append(f"甄别 within {objection.short}")
    return "; ".join(parts)


def table(profiles_dir: Path | None = None) -> str:
    """The Markdown table of the five profiles, one row each."""
    header = [
        "profile",
        *(c.value for c in _CATEGORIES),
        "clock starts",
        "dispatch",
        "sign",
        "extensions",
        "urgent",
        "warnings",
        "supervision",
        "review",
        "evaluation",
    ]
    lines = [
        "<!-- generated by scripts/policy_table.py from intake/policy/profiles/*.toml; do not edit -->",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
    ]
    for name in PROFILE_NAMES:
        p = load_profile(name, profiles_dir=profiles_dir)
        complaint = p.category_rules(Category.COMPLAINT)
        row = [
            p.name,
            *(_handling(p, c) for c in _CATEGORIES),
            _CLOCK[complaint.clock_start],
            _limit(complaint.dispatch),
            _limit(complaint.sign),
            _extensions(p),
            _urgent(p),
            _warnings(p),
            _supervision(p),
            _review(p),
            _evaluation(p),
        ]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"


def _split(text: str, path: Path) -> tuple[str, str, str]:
    start = text.find(START)
    end = text.find(END)
    if start < 0 or end < 0 or end < start:
        raise SystemExit(f"{path}: markers {START} … {END} not found")
    head = text[: start + len(START)]
    return head, text[start + len(START) : end], text[end:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--check", type=Path, metavar="README", help="exit 1 if the README's table differs")
    group.add_argument("--write", type=Path, metavar="README", help="rewrite the README's table")
    parser.add_argument("--profiles-dir", type=Path, default=None, help="read profiles from this folder")
    args = parser.parse_args(argv)
    try:
        generated = table(args.profiles_dir)
    except ConfigError as exc:
        print(exc.message, file=sys.stderr)
        return 2
    target: Path | None = args.check or args.write
    if target is None:
        sys.stdout.write(generated)
        return 0
    text = target.read_text(encoding="utf-8")
    head, block, tail = _split(text, target)
    wanted = "\n" + generated
    if args.check:
        if block.strip() != wanted.strip():
            print(f"{target}: the policy table is out of date; run scripts/policy_table.py --write {target}")
            return 1
        print(f"{target}: the policy table is up to date")
        return 0
    target.write_text(head + wanted + tail, encoding="utf-8")
    print(f"{target}: policy table written")
    return 0


if __name__ == "__main__":
    sys.exit(main())
