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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threshold", type=float, default=None, help="override the lexicon's threshold")
    parser.add_argument("--now", type=date.fromisoformat, default=None, help="evaluation day")
    parser.add_argument("--sweep", action="store_true", help="also print a threshold sweep")
    parser.add_argument("-v", "--verbose", action="store_true", help="list every miss and wrong answer")
    args = parser.parse_args(argv)

    questions, evaluated_on = load_questions()
    day = args.now or evaluated_on
    now = datetime(day.year, day.month, day.day, 10, 0, tzinfo=SHANGHAI)
    started = time.perf_counter()
    kb = KnowledgeBase.load(threshold=args.threshold)
    loaded = time.perf_counter()
    q = evaluate(kb, questions, now)
    took = time.perf_counter() - loaded
    nones = q.total - q.answerable
    print(
        f"kb_quality: {len(kb.entries)} entries, {q.total} questions ({nones} expect none), "
        f"threshold {kb.threshold:.2f}, evaluated on {day}"
    )
    print(f"  answered on the spot: {q.answered}, correct: {q.correct}")
    print(f"  precision {q.precision:.3f} (floor {PRECISION_FLOOR})")
    print(f"  recall    {q.recall:.3f} (floor {RECALL_FLOOR})")
    print(f"  load {loaded - started:.2f}s, {1000 * took / q.total:.1f} ms per question")
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
    ok = q.precision >= PRECISION_FLOOR and q.recall >= RECALL_FLOOR
    if not ok:
        print("kb_quality: FLOOR MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
