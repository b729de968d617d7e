"""SMS segments as a citizen's phone receives them, and one key per sender number."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from channels.sms_text import (
    GSM7_MULTI,
    GSM7_SINGLE,
    UCS2_MULTI,
    UCS2_SINGLE,
    is_gsm7,
    normalize_sender,
    sms_parts,
    split_sms,
)


def _units(part: str, gsm7: bool) -> int:
    if gsm7:
        return sum(2 if c in "\f^{}\\[~]|€" else 1 for c in part)
    return len(part.encode("utf-16-le")) // 2


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("", 0),
        ("a", 1),
        ("a" * 160, 1),
        ("a" * 161, 2),
        ("a" * 306, 2),
        ("a" * 307, 3),
        ("中" * 70, 1),
        ("中" * 71, 2),
        ("中" * 134, 2),
        ("中" * 135, 3),
        ("a" * 159 + "中", 3),  # one Chinese character makes the whole message UCS-2
        ("😀" * 35, 1),  # 70 UCS-2 units
        ("😀" * 36, 2),
        ("€" * 80, 1),  # extension characters cost two septets
        ("€" * 81, 2),
        ("您好，您反映的路灯问题已受理，编号20261121-000123，我们将在5个工作日内答复。", 1),
    ],
)
def test_sms_parts(text: str, parts: int) -> None:
    assert sms_parts(text) == parts


def test_gsm7_detection() -> None:
    assert is_gsm7("Hello @ £5 {ok}")
    assert not is_gsm7("您好")
    assert not is_gsm7("😀")


def test_long_chinese_text_splits_at_67() -> None:
    parts = split_sms("路" * 140)
    assert [len(p) for p in parts] == [67, 67, 6]


def test_emoji_is_never_cut_in_half() -> None:
    text = "中" * 66 + "😀" + "中" * 10  # the emoji would straddle unit 67
    parts = split_sms(text)
    assert parts[0] == "中" * 66
    assert parts[1].startswith("😀")
    assert "".join(parts) == text


def test_extension_character_stays_with_its_escape() -> None:
    text = "a" * 152 + "€" + "b" * 10
    parts = split_sms(text)
    assert parts[0] == "a" * 152
    assert parts[1].startswith("€")


@settings(max_examples=150, deadline=None)
@given(
    st.text(
        alphabet=st.one_of(
            st.sampled_from("abcXYZ 0123@£{}[]~€^\n"),
            st.sampled_from("路灯不亮您好，。😀🙏"),
            st.characters(codec="utf-8", exclude_categories=("Cs",)),
        ),
        max_size=500,
    )
)
def test_split_invariants(text: str) -> None:
    parts = split_sms(text)
    assert "".join(parts) == text
    assert len(parts) == sms_parts(text)
    gsm7 = is_gsm7(text)
    if len(parts) == 1:
        assert _units(parts[0], gsm7) <= (GSM7_SINGLE if gsm7 else UCS2_SINGLE)
    else:
        for part in parts:
            assert part
            assert _units(part, gsm7) <= (GSM7_MULTI if gsm7 else UCS2_MULTI)
        # greedy: every part but the last is full enough that the next character did not fit
        limit = GSM7_MULTI if gsm7 else UCS2_MULTI
        for part, nxt in itertools.pairwise(parts):
            assert _units(part + nxt[0], gsm7) > limit


@pytest.mark.parametrize(
    "raw", ["13800138000", "+86 138 0013 8000", "0086 13800138000", "86-138-0013-8000", "+8613800138000"]
)
def test_one_sender_however_written(raw: str) -> None:
    assert normalize_sender(raw) == "+8613800138000"


@pytest.mark.parametrize("raw", [None, "", "abc", "10086", "12345", "1" * 100])
def test_not_a_citizen_number(raw: str | None) -> None:
    assert normalize_sender(raw) is None
