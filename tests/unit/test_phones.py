"""One key per phone number, whatever way it was written (guangzhou §9: "the same number")."""

from __future__ import annotations

import random

import pytest

from intake.phones import (
    _matched,
    _runs_between_chinese,
    find_phones,
    is_mobile,
    normalize_phone,
    split_landline,
)


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


def _generated_texts(n: int, seed: int) -> list[str]:
    """Chat-like texts: Chinese, Chinese punctuation, and digit runs of every length and shape,
    sometimes beside what phone numbers are written with (spaces, +, -, brackets, letters, %)."""
    rng = random.Random(seed)
    words = ["电话", "我住", "栋", "单元", "号楼", "联系", "地址", "幸福小区", "希望尽快处理", "手机"]
    quiet = ["，", "。", "：", "；", "！", "？", "、", ""]
    noisy = [" ", "+", "-", "/", ":", "(", ")", "（", "）", "x", "ext", "%", "¥", "～", "转", "a", "."]

    def run() -> str:
        kind = rng.randrange(6)
        if kind == 0:  # a mobile-shaped run, valid or not
            return "1" + "".join(rng.choice("0123456789") for _ in range(10))
        if kind == 1:  # a landline with its area code
            return rng.choice(["010", "020", "0755", "0739", "021"]) + f"{rng.randrange(10**7, 10**8)}"
        if kind == 2:  # with a country code or the international prefix
            return rng.choice(["86", "0086", "+86"]) + "1" + "".join(rng.choice("3456789") for _ in range(10))
        if kind == 3:  # full-width digits
            return "".join(chr(0xFF10 + int(d)) for d in f"1{rng.randrange(3, 10)}{rng.randrange(10**9):09d}")
        return "".join(rng.choice("0123456789") for _ in range(rng.randrange(1, 23)))

    texts = []
    for _ in range(n):
        parts = []
        for _ in range(rng.randrange(1, 5)):
            parts.append(rng.choice(words))
            parts.append(rng.choice(quiet if rng.random() < 0.8 else noisy))
            parts.append(run())
            parts.append(rng.choice(quiet if rng.random() < 0.8 else noisy))
        texts.append("".join(parts))
    return texts


def test_the_quick_read_of_digits_between_chinese_agrees_with_the_matcher() -> None:
    # Checked once by hand on every 7-digit prefix 1000000-1999999 (a random suffix each, between
    # Chinese): no difference. Here a fresh sample of shapes each run.
    seed = random.randrange(1 << 30)
    texts = _generated_texts(20_000, seed)
    quick = 0
    for text in texts:
        read = _runs_between_chinese(text)
        if read is not None:
            quick += 1
            assert read == _matched(text), (seed, text)
        assert find_phones(text) == list(_matched(text)), (seed, text)
    # the quick read takes the common message; anything near phone punctuation goes to the matcher
    assert quick > len(texts) // 40
    assert quick < len(texts)
    assert _runs_between_chinese("电话13800138000，住12栋") == ("+8613800138000",)
    assert _runs_between_chinese("电话138 0013 8000") is None
    assert _runs_between_chinese("电话13800138000x12") is None
    assert _runs_between_chinese("电话０２０１２３４５６７８") is None
