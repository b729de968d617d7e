"""GB 11643 ID numbers: the check character, and what a typo does (RELIABILITY P3)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from intake.idcard import check_character, find_id_candidates, find_ids, is_valid_id

PROVINCES = [11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46, 50, 51]


@st.composite
def valid_ids(draw: st.DrawFn) -> str:
    province = draw(st.sampled_from(PROVINCES))
    rest_of_region = draw(st.integers(0, 9999))
    born = draw(st.dates(min_value=date(1900, 1, 1), max_value=date(2024, 12, 31)))
    sequence = draw(st.integers(0, 999))
    first17 = f"{province:02d}{rest_of_region:04d}{born:%Y%m%d}{sequence:03d}"
    return first17 + check_character(first17)


@pytest.mark.parametrize("number", ["11010519491231002X", "11010519491231002x", "440524199001010018"])
def test_known_good_numbers_are_accepted(number: str) -> None:
    assert is_valid_id(number)


@pytest.mark.parametrize(
    ("number", "why"),
    [
        ("110105194912310021", "wrong check digit"),
        ("11010519491231002", "17 characters"),
        ("1101051949123100211", "19 characters"),
        ("990105194912310028", "no such province"),
        ("110105194902300021", "30 February"),
        ("110105180001010011", "born before 1900"),
        ("11010519491231002Y", "letter other than X"),
        ("", "empty"),
    ],
)
def test_bad_numbers_are_rejected(number: str, why: str) -> None:
    assert not is_valid_id(number), why


def test_future_birth_date_is_rejected_when_today_is_given() -> None:
    today = date(2024, 6, 1)
    first17 = f"110105{today + timedelta(days=1):%Y%m%d}001"
    number = first17 + check_character(first17)
    assert is_valid_id(number)
    assert not is_valid_id(number, today=today)


@settings(max_examples=200)
@given(valid_ids())
def test_generated_valid_ids_are_accepted_with_either_x(number: str) -> None:
    assert is_valid_id(number)
    assert is_valid_id(number.lower())


@settings(max_examples=100)
@given(valid_ids(), st.data())
def test_every_single_character_mutation_is_rejected(number: str, data: st.DataObject) -> None:
    position = data.draw(st.integers(0, 17))
    alphabet = "0123456789X" if position == 17 else "0123456789"
    replacement = data.draw(st.sampled_from([c for c in alphabet if c != number[position]]))
    mutated = number[:position] + replacement + number[position + 1 :]
    assert not is_valid_id(mutated)


def test_all_mutations_of_one_number_are_rejected() -> None:
    number = "11010519491231002X"
    mutations = [
        number[:i] + c + number[i + 1 :]
        for i in range(18)
        for c in ("0123456789X" if i == 17 else "0123456789")
        if c != number[i]
    ]
    assert len(mutations) == 17 * 9 + 10
    assert not any(is_valid_id(m) for m in mutations)


def test_find_in_free_text_splits_valid_and_invalid() -> None:
    text = "我的身份证号码是１１０１０５１９４９１２３１００２ｘ，我妻子的是110105194912310021"
    valid, invalid = find_id_candidates(text)
    assert valid == ["11010519491231002X"]
    assert invalid == ["110105194912310021"]
    assert find_ids("订单号20240501123456，电话13800138000") == []
