"""Issue 16's floors on the corpus's test split, and the corpus and model kept honest.

Quality on a fixed split is deterministic (the same corpus, rules and model give the same figures),
so these are tests, not benchmarks; bench/understanding_quality.py prints every figure. The test
split is never used to tune anything (intake/data/corpus/GUIDE.md).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from intake.corpus import CORPUS, Record, Report, load, product, score
from intake.extract.text import normalize
from intake.textmodel import default_model

ROOT = Path(__file__).resolve().parents[2]


def _script(name: str):  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def test_split() -> list[Record]:
    return load(["test"])


@pytest.fixture(scope="module")
def report(test_split: list[Record]) -> Report:
    return score(test_split)


def test_the_corpus_is_large_varied_and_well_formed(capsys: pytest.CaptureFixture[str]) -> None:
    check = _script("corpus_check")
    assert check.main([]) == 0, capsys.readouterr().out
    records = load()
    assert len(records) >= 3000
    kinds = {r.kind for r in records}
    assert kinds == {"emergency", "out_of_scope", "kb", "ticket"}
    assert {r.situation for r in records if r.kind == "emergency"} >= {
        "medical", "self_harm", "fire", "gas", "violence", "trapped", "drowning", "traffic",
    }  # fmt: skip
    assert {r.style for r in records} == {"short", "medium", "letter"}
    assert {r.urgent for r in records if r.urgent} >= {
        "utility_outage", "sewage_overflow", "road_blocked", "safety_hazard", "pollution", "disaster",
    }  # fmt: skip
    letters = [r for r in records if r.style == "letter"]
    assert all(200 <= len(r.text) <= 900 for r in letters)


def test_every_record_has_its_split_written_in_it() -> None:
    lines = [line for path in CORPUS.glob("*.jsonl") for line in path.read_text("utf-8").splitlines() if line]
    assert all('"split": "' in line for line in lines)
    splits = {r.split for r in load()}
    assert splits == {"train", "dev", "test"}


def test_the_shipped_model_was_trained_from_this_corpus() -> None:
    train = _script("train_understanding")
    assert default_model().corpus_digest == train.corpus_digest(), "run make model"


# Issue 16's targets on the test split, and the floors this corpus, rules and model reach today.
# Where a floor is below its target the issue is not done: the figures may rise, never fall.
# Measured 2026-12-07, fifth session (11 452 records, test 1 393; corpus rounds 5–9, which have
# no record in test): 96.1 %, 87.6 %, 0.6 %, 1.4 %, 94.0 %, 0.1 %, 85.3 %, local matters refused
# 0.7 % (the neighbours' towns in the place list: other cities 75.9 %, were 60.2 %; a letter's last
# sentence read on its own; round 9 and balanced category weights. With round 8 only, right number
# first was 88.6 % — retraining with round 9 moved three first numbers; the floor stays 0.875).
# (Earlier that day 95.4 %, 87.6 %, 0.7 %, 1.5 %, 93.8 %, 0.2 %, 77.0 %, 0.7 %; before a review
# 77.7 %: "我们天河区的垃圾站…比深圳差" is ours, so a home town needs 我是/我系. 2026-12-06: 94.1 %,
# 85.9 %, 0.6 %, 1.4 %, 92.9 %, 0.0 %, 69.4 %, 0.7 %.)
# An emergency counts as found when the first reply names a number to call: it stops the request
# (redirected) or, where the model is unsure, comes first while the request goes on ([caution]).
#                                  target
EMERGENCY_RECALL = 0.96  #          1.00
RIGHT_NUMBER_FIRST = 0.875  #        1.00
FALSE_EMERGENCIES = 0.01  #         0.01 (met)
CAUTIONS = 0.03  #                  (others told the numbers: the price of that recall)
CATEGORY_RIGHT = 0.94  #            0.95
ASKED_TO_CHOOSE = 0.10  #           0.10 (met)
OUT_OF_SCOPE_FOUND = 0.83  #          all
LOCAL_REFUSED = 0.01  #             (the price of that recall: a local matter refused)
# The whole conversation (issue 19), played by intake.corpus.converse. 2026-12-07 on test: median
# 2 messages, 14.0 % asked for an item the message held (it was 36.8 % on dev before implied
# demands, pointed parties and the new roles; 15.9 % on dev after).
MEDIAN_TURNS = 2  #                 2 (met)
ASKED_WHAT_WAS_SAID = 0.18  #       0


def test_emergencies_are_redirected_with_the_right_number_first(report: Report) -> None:
    assert report.emergencies >= 200
    assert report.emergency_recall >= EMERGENCY_RECALL, report.missed
    assert report.right_number_first >= RIGHT_NUMBER_FIRST, report.wrong_first


def test_false_emergencies_stay_at_or_below_one_percent(report: Report) -> None:
    assert report.false_emergency_rate <= FALSE_EMERGENCIES, report.false_emergencies


def test_few_other_citizens_are_told_the_emergency_numbers(report: Report) -> None:
    assert report.caution_rate <= CAUTIONS, report.cautioned


def test_the_category_is_right_on_the_first_message(report: Report) -> None:
    assert report.category_right >= CATEGORY_RIGHT, report.wrong[:20]
    assert report.ask_rate <= ASKED_TO_CHOOSE


def test_local_matters_are_never_refused_as_another_citys(report: Report) -> None:
    assert report.other_city_refused_local == []


def test_few_local_matters_are_refused_as_out_of_scope(report: Report) -> None:
    assert len(report.refused_local) <= LOCAL_REFUSED * report.tickets, report.refused_local


def test_out_of_scope_matters_are_recognised(report: Report) -> None:
    found = sum(report.out_of_scope_found.values()) / sum(report.out_of_scope.values())
    assert found >= OUT_OF_SCOPE_FOUND, dict(report.out_of_scope_found)


def test_self_harm_names_the_profiles_psychological_line(test_split: list[Record]) -> None:
    """Every message recognised as self-harm names 12356 after 110/120; most self-harm messages are
    recognised as such (others are redirected under another situation, e.g. a poisoning)."""
    decisions = [
        product(r.city).screening.screener.screen(normalize(r.text))
        for r in test_split
        if r.situation == "self_harm"
    ]
    as_self_harm = [d for d in decisions if d is not None and any("self_harm" in i for i in d.rule_ids)]
    assert len(as_self_harm) >= 0.5 * len(decisions)  # 22 of 40 on 2026-12-06
    assert all("12356" in d.numbers and d.numbers[0] != "12356" for d in as_self_harm)


def test_most_citizens_get_their_number_within_two_messages(report: Report) -> None:
    assert report.turns and sorted(report.turns)[len(report.turns) // 2] <= MEDIAN_TURNS
    assert len(report.no_number) <= 0.06 * (len(report.turns) + len(report.no_number)), report.no_number


def test_few_citizens_are_asked_for_what_they_said(report: Report) -> None:
    asked = {line.split()[0] for line in report.asked_said_examples}
    assert len(asked) <= ASKED_WHAT_WAS_SAID * (len(report.turns) + len(report.no_number)), sorted(asked)[:20]
