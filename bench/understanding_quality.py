"""How well the product understands citizens' first messages, on the labelled corpus.

    .venv/bin/python bench/understanding_quality.py [--split test|dev|train] [--show N]
    .venv/bin/python bench/understanding_quality.py --folder DIR   # every record of DIR/*.jsonl

Runs the real first turn (intake.corpus.first_reply: the dialog with the shipped rules, text model,
knowledge base and each record's city profile) on every record of the split and prints:

- emergencies: recall per number to call first, the right number first, false emergencies;
- categories (ticket and knowledge-base records): taken right / asked yes-no / six buttons /
  wrong, per-category precision, recall and F1, the confusion matrix (label → decided; "?" =
  buttons or no category);
- out of scope: recognised per reason; local matters refused, other-city refusals of local ones;
- fields a clerk fills: accepted per field (intake.corpus.field_matches);
- cost: understanding + screening per message, CPU µs (median, p99), each text seen once.

The test split is for this report only: thresholds and settings are chosen on dev
(scripts/train_understanding.py). The floors a unit test holds are in
tests/unit/test_understanding_quality.py.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from intake.corpus import CATEGORIES, Met, Record, Report, load, median, percentile, product, score, use_model
from intake.extract.segment import tokens
from intake.extract.text import normalize
from intake.textmodel import TextModel


def cost(records: list) -> tuple[list[float], list[float]]:  # type: ignore[type-arg]
    """CPU µs per message, each text read once (no cache helps): understanding + screening as a
    turn runs them, and the text model's own share (features and dot products; the words it
    reads are jieba's, cut once per text for intake.extract, so they are cut here first)."""
    whole: list[float] = []
    model: list[float] = []
    for i, rec in enumerate(records):
        p = product(rec.city)
        text = rec.text + f" #{i}"  # never seen before, by any cache of the first pass
        t0 = time.process_time_ns()
        u = p.understanding.understand(text)
        p.screening.screen(u.text)
        whole.append((time.process_time_ns() - t0) / 1000)
        fresh = normalize(rec.text + f" ~{i}")
        tokens(fresh)
        t0 = time.process_time_ns()
        model_of = p.screening.screener.model
        assert model_of is not None
        model_of._predict_uncached(fresh)
        model.append((time.process_time_ns() - t0) / 1000)
    return whole, model


def pct(x: float) -> str:
    return f"{100 * x:5.1f} %"


def evaluate(
    split: str = "test", folder: Path | None = None, model: Path | None = None
) -> tuple[list[Record], Report, list[float], list[float]]:
    """The records (``folder``'s, else the split's), their report, and the cost per message:
    understanding + screening, and the text model alone (CPU µs)."""
    if model:
        use_model(TextModel.load(model))
    records = load(("train", "dev", "test"), folder) if folder else load([split])
    for rec in records[:20]:  # load the model, jieba, OpenCC and the profiles before timing
        product(rec.city).understanding.understand(rec.text)
    gc.collect()
    r = score(records)
    micros, model_micros = cost(records)
    return records, r, micros, model_micros


def measure(split: str = "test") -> dict[str, Any]:
    """The headline figures of the split (the ones issue 16 sets targets for)."""
    _, r, micros, model_micros = evaluate(split)
    return {
        "split": split,
        "messages": r.n,
        "emergencies": r.emergencies,
        "emergency_recall": r.emergency_recall,
        "right_number_first": r.right_number_first,
        "false_emergencies": r.false_emergency_rate,
        "category_right": r.category_right,
        "asked_to_choose": r.ask_rate,
        "out_of_scope_recognised": sum(r.out_of_scope_found.values()) / max(1, sum(r.out_of_scope.values())),
        "local_refused_as_other_city": len(r.other_city_refused_local),
        "cost_us_median": median(micros),
        "cost_us_p99": percentile(micros, 0.99),
        "model_us_median": median(model_micros),
        "model_us_p99": percentile(model_micros, 0.99),
        "first_turn_us_median": median(r.micros),
    }


def report(fig: dict[str, Any]) -> None:
    """The headline figures (``main`` prints the whole report)."""
    print(f"understanding quality, {fig['split']} split, {fig['messages']} messages:")
    print(
        f"  emergency recall {pct(fig['emergency_recall'])}, "
        f"right number first {pct(fig['right_number_first'])}, "
        f"false emergencies {pct(fig['false_emergencies'])}"
    )
    print(f"  category right {pct(fig['category_right'])}, asked to choose {pct(fig['asked_to_choose'])}")
    print(
        f"  out of scope recognised {pct(fig['out_of_scope_recognised'])}, local matters refused as another "
        f"city's {fig['local_refused_as_other_city']}"
    )
    print(
        f"  understanding + screening CPU µs: median {fig['cost_us_median']:.0f}, "
        f"p99 {fig['cost_us_p99']:.0f} "
        f"(text model: median {fig['model_us_median']:.0f})"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", default="test", choices=("train", "dev", "test"))
    ap.add_argument("--show", type=int, default=8, help="examples of each kind of mistake to print")
    ap.add_argument("--model", type=Path, help="another model file (default: the shipped one)")
    ap.add_argument(
        "--folder", type=Path, help="score every record of another folder (a batch the model never saw)"
    )
    args = ap.parse_args()
    records, r, micros, model_micros = evaluate(args.split, args.folder, args.model)
    where = f"{args.folder} (all records)" if args.folder else f"{args.split} split"

    def row(label: str, value: str, note: str = "") -> None:
        print(f"{label:<30}{value}{'  ' + note if note else ''}")

    def share(part: int, whole: int) -> str:
        return f"{pct(part / max(1, whole))}  ({part}/{whole})"

    found = sum(r.emergency_found.values())
    print(f"# Understanding quality — {where}, {r.n} messages (bench/understanding_quality.py)")
    print(f"\n## Emergencies ({r.emergencies})")
    row("recall", share(found, r.emergencies), "(told a number to call in the first reply)")
    row("  request stopped", share(r.redirected, r.emergencies), "(redirected)")
    row("  named first, request on", share(found - r.redirected, r.emergencies), "([caution])")
    for number in sorted(r.emergency_total):
        row(f"  first number {number}", share(r.emergency_found[number], r.emergency_total[number]))
    row("right number first", share(r.right_first, r.emergencies))
    row("false emergencies", share(len(r.false_emergencies), r.non_emergencies), "(redirected)")
    row("others told the numbers", share(len(r.cautioned), r.non_emergencies), "(request went on)")
    print(f"\n## Categories, first message ({r.tickets} ticket and knowledge-base messages)")
    row("right", share(r.right, r.tickets), "(taken, confirmed guess or answered; label or also)")
    row("  taken without asking", share(r.met[Met.TAKEN], r.tickets))
    row("  yes/no question", share(r.met[Met.CONFIRM], r.tickets))
    row("  answered (kb)", share(r.met[Met.ANSWERED], r.tickets))
    row("asked to choose", share(r.met[Met.BUTTONS], r.tickets))
    row("wrong", share(len(r.wrong), r.tickets))
    print("\n| category | precision | recall | F1 | n |")
    print("|---|---|---|---|---|")
    for c, (p, rec_, f, n) in r.prf().items():
        print(f"| {c} | {p:.3f} | {rec_:.3f} | {f:.3f} | {n} |")
    cols = [*CATEGORIES, "?"]
    print("\nconfusion (rows: label, columns: decided; ? = buttons or none)")
    print("        " + "".join(f"{c:>6}" for c in cols))
    for lab in CATEGORIES:
        print(f"{lab:6}" + "".join(f"{r.confusion[(lab, c)]:>8}" for c in cols))
    print(f"\n## Out of scope ({sum(r.out_of_scope.values())})")
    for reason, n in sorted(r.out_of_scope.items()):
        row(f"  {reason}", share(r.out_of_scope_found[reason], n))
    row("local matters refused", str(len(r.refused_local)))
    row("  as another city's", str(len(r.other_city_refused_local)))
    print("\n## Fields a clerk fills (ticket records with the field labelled)")
    for name in ("subject", "address", "demand", "name", "phone"):
        row(f"  {name}", share(r.field_right[name], r.field_total[name]))
    tickets = sum(1 for rec in records if rec.kind == "ticket")
    print(f"\n## The whole conversation ({tickets} ticket messages; intake.corpus.converse)")
    row("median messages to number", f"{median(r.turns):.0f}", "(the first message counts; target ≤ 2)")
    row("  number in one message", share(sum(1 for t in r.turns if t == 1), tickets))
    row("  in two", share(sum(1 for t in r.turns if t == 2), tickets))
    row("  in three or more", share(sum(1 for t in r.turns if t >= 3), tickets))
    row("  no number", share(len(r.no_number), tickets), "(redirected, refused, answered or closed)")
    asked_again = len({line.split()[0] for line in r.asked_said_examples})
    row("asked for what was said", share(asked_again, tickets), "(an item the message held)")
    for name in ("subject", "address", "demand", "name", "phone"):
        row(f"  {name}", share(r.asked_said[name], r.field_total[name] or 1))
    print("\n## Cost per message (CPU µs, each text new)")
    row(
        "text model (classifier)",
        f"median {median(model_micros):5.0f}, p99 {percentile(model_micros, 0.99):6.0f}",
    )
    row("understanding + screening", f"median {median(micros):5.0f}, p99 {percentile(micros, 0.99):6.0f}")
    row("whole first turn (wall)", f"median {median(r.micros):5.0f}")
    for title, items in (
        ("missed emergencies", r.missed),
        ("wrong number first", r.wrong_first),
        ("false emergencies", r.false_emergencies),
        ("others told the numbers first", r.cautioned),
        ("wrong categories", r.wrong),
        ("local matters refused", r.refused_local),
        ("out of scope, not recognised", r.out_of_scope_missed),
        ("asked for what was said", r.asked_said_examples),
        ("tickets that got no number", r.no_number),
    ):
        if items and args.show:
            print(f"\n{title}:")
            for line in items[: args.show]:
                print("  " + line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
