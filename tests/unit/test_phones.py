"""One key per phone number, whatever way it was written (guangzhou §9: "the same number")."""

from __future__ import annotations

import pytest

from intake.phones import find_phones, is_mobile, normalize_phone, split_landline


@pytest.mark.parametrize(
    "written",
    [
        "13800138000",
        "138 0013 8000",
        "138-0013-8000",
        "+86 138 0013 8000",
        "+8613800138000",
        "0086 138 0013 8000",
        "86-138-0013-8000",
        "8613800138000",
        "１３８００１３８０００",
    ],
)
def test_every_form_of_a_mobile_is_one_number(written: str) -> None:
    assert normalize_phone(written) == "+8613800138000"


@pytest.mark.parametrize(
    ("written", "e164"),
    [
        ("020-12345678", "+862012345678"),
        ("(0755)12345678", "+8675512345678"),
        ("（0755）12345678", "+8675512345678"),
        ("010 8888 6666", "+861088886666"),
    ],
)
def test_landlines_keep_their_area_code(written: str, e164: str) -> None:
    assert normalize_phone(written) == e164


@pytest.mark.parametrize("written", ["12345", "110", "95588", "12345678", "1380013800", "abc", "", "1" * 80])
def test_service_numbers_and_junk_are_not_contact_numbers(written: str) -> None:
    assert normalize_phone(written) is None


def test_find_phones_in_a_message() -> None:
    text = (
        "我叫王小明，电话13800138000，座机020-12345678，身份证110101199003074514，"
        "另一个 +86 139 1234 5678。拨打12345"
    )
    assert find_phones(text) == ["+8613800138000", "+862012345678", "+8613912345678"]


def test_mobile_and_landline_helpers() -> None:
    assert is_mobile("+8613800138000")
    assert not is_mobile("+862012345678")
    assert split_landline("+862012345678") == ("020", "12345678")
    assert split_landline("+8613800138000") is None
