"""The satisfaction reply: what a citizen types and which option gets recorded."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from intake.evaluation import (
    PROMPT_OPTIONS,
    Level,
    is_dissatisfied,
    parse_evaluation,
    parse_evaluation_with_ref,
    ref_index,
    ref_label,
)

V1, V2, V3, V4, V5 = (
    Level.VERY_SATISFIED,
    Level.SATISFIED,
    Level.BASICALLY_SATISFIED,
    Level.DISSATISFIED,
    Level.VERY_DISSATISFIED,
)

CASES = [
    # the digits of the prompt
    ("1", V1),
    ("2", V2),
    ("3", V3),
    ("4", V4),
    ("5", V5),
    ("２", V2),  # full-width
    ("①", V1),  # circled
    (" 3 ", V3),
    ("3。", V3),
    ("选4", V4),
    ("1、", V1),
    # the words
    ("非常满意", V1),
    ("满意", V2),
    ("基本满意", V3),
    ("基本上满意", V3),
    ("不满意", V4),
    ("非常不满意", V5),
    ("滿意", V2),  # traditional
    ("非常滿意", V1),
    ("不滿意", V4),
    # words with courtesy, punctuation, emoji around them
    ("满意！谢谢", V2),
    ("非常满意，辛苦了", V1),
    ("  满意😊 ", V2),
    ("👍非常满意👍", V1),
    ("不满意，问题根本没解决", V4),
    ("满意，感谢12345热线", V2),  # the hotline's name is not an answer
    ("1天就修好了，满意", V2),  # a quantity is not an answer
    ("我对处理结果不满意", V4),
    # digit and word together must agree
    ("1 非常满意", V1),
    ("4不满意", V4),
    # degree words
    ("不太满意", V4),  # mild negation: the mildest negative option
    ("不是很满意", V4),
    ("不怎么满意", V4),
    ("有点不满意", V4),
    ("太满意了", V1),
    ("十分满意", V1),
    ("特别不满意", V5),
    ("超级满意", V1),
    # ambiguous or not an answer: re-ask
    ("很满意", None),  # 满意 or 非常满意?
    ("比较满意", None),  # 满意 or 基本满意?
    ("很不满意", None),
    ("满意也不满意", None),
    ("1 2", None),
    ("1，2", None),
    ("12", None),
    ("1 不满意", None),
    ("5分", None),  # a score, where 5 is the best: the opposite of option 5
    ("5星", None),
    ("10分", None),
    ("0", None),
    ("6", None),
    ("9", None),
    ("没有不满意", None),
    ("还行", None),
    ("一般", None),
    ("问题没解决", None),
    ("你好", None),
    ("", None),
    ("   ", None),
    ("👍", None),
    ("12345", None),
    ("20261121-000123", None),
    ("ok", None),
    ("满意" + "，" * 300, None),  # a long message is a new matter, not an answer
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_parse_evaluation(text: str, expected: Level | None) -> None:
    assert parse_evaluation(text) is expected


def test_at_least_forty_cases() -> None:
    assert len(CASES) >= 40
    assert sum(1 for _, level in CASES if level is None) >= 15


def test_prompt_lists_exactly_the_contract_options() -> None:
    assert PROMPT_OPTIONS == "1 非常满意 2 满意 3 基本满意 4 不满意 5 非常不满意"
    rebuilt = " ".join(f"{level.digit} {level.value}" for level in Level)
    assert rebuilt == PROMPT_OPTIONS


def test_every_option_of_the_prompt_parses_back() -> None:
    for level in Level:
        assert parse_evaluation(str(level.digit)) is level
        assert parse_evaluation(level.value) is level
        assert Level.from_digit(level.digit) is level


def test_from_digit_rejects_out_of_range() -> None:
    with pytest.raises(ValueError):
        Level.from_digit(6)


def test_is_dissatisfied() -> None:
    assert [is_dissatisfied(level) for level in Level] == [False, False, False, True, True]
    assert is_dissatisfied(None) is False


REF_CASES = [
    ("A 2", ("A", V2)),
    ("A2", ("A", V2)),
    ("a：满意", ("A", V2)),
    ("Ｂ　不满意", ("B", V4)),  # full-width letter and space
    ("#3 1", ("3", V1)),
    ("3号 满意", ("3", V2)),
    ("3号满意", ("3", V2)),
    ("第2件 非常满意", ("2", V1)),
    ("第二件 非常满意", ("2", V1)),
    ("C 5分", ("C", None)),
    ("满意", (None, V2)),  # names no ticket
    ("4", (None, V4)),
    ("A1 B2", (None, None)),  # two tickets in one reply: nothing is guessed
    ("#1 #2 满意", (None, None)),
    ("A", ("A", None)),
    ("满意 B", ("B", V2)),
    ("满意，A区的路灯修好了", (None, V2)),  # a letter inside a sentence names no ticket
    ("你好", (None, None)),
]


@pytest.mark.parametrize(("text", "expected"), REF_CASES)
def test_parse_evaluation_with_ref(text: str, expected: tuple[str | None, Level | None]) -> None:
    assert parse_evaluation_with_ref(text) == expected


def test_ref_labels_round_trip() -> None:
    labels = [ref_label(i) for i in range(26)]
    assert labels[:3] == ["A", "B", "C"]
    assert [ref_index(label) for label in labels] == list(range(26))
    assert ref_index("1") == 0
    assert ref_index("12") == 11
    assert ref_index("?") is None
    with pytest.raises(ValueError):
        ref_label(26)


def test_reply_to_a_labelled_prompt_selects_that_ticket() -> None:
    tickets = ["20261121-000123", "20261121-000124", "20261121-000125"]
    prompt_refs = {ref_label(i): number for i, number in enumerate(tickets)}
    ref, level = parse_evaluation_with_ref("b 4")
    assert ref is not None
    index = ref_index(ref)
    assert index is not None
    assert prompt_refs[ref] == tickets[index] == "20261121-000124"
    assert level is Level.DISSATISFIED


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_never_raises_and_returns_an_option_or_none(text: str) -> None:
    assert parse_evaluation(text) in (*Level, None)
    ref, level = parse_evaluation_with_ref(text)
    assert level in (*Level, None)
    assert ref is None or ref_index(ref) is not None


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(list(Level)), st.text(alphabet="，。！ 　😊👍谢谢辛苦了", max_size=8))
def test_option_word_with_courtesy_around_it(level: Level, noise: str) -> None:
    assert parse_evaluation(level.value + noise) is level
    assert parse_evaluation(noise + level.value) is level
