"""Measure the knowledge base's on-the-spot answers on the labelled question set.

precision = correct answers / answers given (a wrong answer is worse than a ticket: floor 0.95);
recall    = correct answers / questions that have an entry (floor 0.70).

Usage: python bench/kb_quality.py [--threshold X] [--now YYYY-MM-DD] [--sweep] [-v]
Exits 1 when a floor is missed, so `make bench` fails on a regression.
"""

from __future__ import annotations

import argparse
import sys
import time
import tomllib
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from intake.kb import KnowledgeBase  # noqa: E402
from intake.model import SHANGHAI  # noqa: E402

SAMPLES = ROOT / "tests" / "samples" / "kb_questions.toml"
PRECISION_FLOOR = 0.95
RECALL_FLOOR = 0.70


@dataclass(frozen=True)
class Outcome:
    text: str
    expect: str
    got: str | None
    confidence: float


@dataclass(frozen=True)
class Quality:
    precision: float
    recall: float
    answered: int
    correct: int
    answerable: int
    total: int
    outcomes: tuple[Outcome, ...]


def load_questions(path: Path = SAMPLES) -> tuple[list[tuple[str, str]], date]:
    """The labelled (text, expected id or "none") pairs and the day they are evaluated on."""
    with path.open("rb") as fh:
        data = tomllib.load(fh)
    return [(q["text"], q["expect"]) for q in data["q"]], data["evaluated_on"]


def evaluate(kb: KnowledgeBase, questions: list[tuple[str, str]], now: datetime) -> Quality:
    """Ask every question; count answers, correct answers and answerable questions."""
    outcomes = []
    for text, expect in questions:
        ans = kb.answer(text, now)
        outcomes.append(Outcome(text, expect, ans.entry_id if ans else None, ans.confidence if ans else 0.0))
    answered = [o for o in outcomes if o.got is not None]
    correct = sum(1 for o in answered if o.got == o.expect)
    answerable = sum(1 for o in outcomes if o.expect != "none")
    return Quality(
        precision=correct / len(answered) if answered else 1.0,
        recall=correct / answerable if answerable else 1.0,
        answered=len(answered),
        correct=correct,
        answerable=answerable,
        total=len(outcomes),
        outcomes=tuple(outcomes),
    )


@dataclass(frozen=True)
class Run:
    kb: KnowledgeBase
    questions: list[tuple[str, str]]
    now: datetime
    quality: Quality
    load_seconds: float
    seconds: float


def run(threshold: float | None = None, day: date | None = None) -> Run:
    """Load the knowledge base (with ``threshold`` if given) and ask every labelled question
    as on ``day`` (default: the day the set names)."""
    questions, evaluated_on = load_questions()
    day = day or evaluated_on
    now = datetime(day.year, day.month, day.day, 10, 0, tzinfo=SHANGHAI)
    started = time.perf_counter()
    kb = KnowledgeBase.load(threshold=threshold)
    loaded = time.perf_counter()
    q = evaluate(kb, questions, now)
    return Run(kb, questions, now, q, loaded - started, time.perf_counter() - loaded)


def figures(r: Run) -> dict[str, Any]:
    q = r.quality
    return {
        "entries": len(r.kb.entries),
        "questions": q.total,
        "expect_none": q.total - q.answerable,
        "threshold": r.kb.threshold,
        "evaluated_on": r.now.date().isoformat(),
        "answered": q.answered,
        "correct": q.correct,
        "precision": q.precision,
        "recall": q.recall,
        "precision_floor": PRECISION_FLOOR,
        "recall_floor": RECALL_FLOOR,
        "ok": q.precision >= PRECISION_FLOOR and q.recall >= RECALL_FLOOR,
        "load_seconds": r.load_seconds,
        "ms_per_question": 1000 * r.seconds / q.total,
    }


def measure(threshold: float | None = None, day: date | None = None) -> dict[str, Any]:
    return figures(run(threshold, day))


def report(fig: dict[str, Any]) -> None:
    print(
        f"kb_quality: {fig['entries']} entries, {fig['questions']} questions "
        f"({fig['expect_none']} expect none), "
        f"threshold {fig['threshold']:.2f}, evaluated on {fig['evaluated_on']}"
    )
    print(f"  answered on the spot: {fig['answered']}, correct: {fig['correct']}")
    print(f"  precision {fig['precision']:.3f} (floor {PRECISION_FLOOR})")
    print(f"  recall    {fig['recall']:.3f} (floor {RECALL_FLOOR})")
    print(f"  load {fig['load_seconds']:.2f}s, {fig['ms_per_question']:.1f} ms per question")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threshold", type=float, default=None, help="override the lexicon's threshold")
    parser.add_argument("--now", type=date.fromisoformat, default=None, help="evaluation day")
    parser.add_argument("--sweep", action="store_true", help="also print a threshold sweep")
    parser.add_argument("-v", "--verbose", action="store_true", help="list every miss and wrong answer")
    args = parser.parse_args(argv)

    r = run(args.threshold, args.now)
    fig = figures(r)
    report(fig)
    kb, q, questions, now = r.kb, r.quality, r.questions, r.now
    if args.sweep:
        print("  threshold  precision  recall  answered")
        for step in range(30, 90, 5):
            t = step / 100
            kb.threshold = t
            s = evaluate(kb, questions, now)
            print(f"  {t:9.2f}  {s.precision:9.3f}  {s.recall:6.3f}  {s.answered:8d}")
        kb.threshold = args.threshold if args.threshold is not None else kb.threshold
    if args.verbose:
        for o in q.outcomes:
            if o.got != (None if o.expect == "none" else o.expect):
                label = "WRONG" if o.got is not None else "MISS "
                print(f"  {label} {o.confidence:.2f} expect={o.expect} got={o.got}  {o.text}")
    ok = bool(fig["ok"])
    if not ok:
        print("kb_quality: FLOOR MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
