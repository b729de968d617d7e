"""Masked forms: what agents, units and logs see instead of the citizen's data (RELIABILITY P3, S6)."""

from __future__ import annotations

import logging
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from intake.idcard import check_character
from intake.masking import (
    MaskingFilter,
    anonymise,
    mask_address,
    mask_email,
    mask_id,
    mask_name,
    mask_own_home,
    mask_phone,
    redact,
)

CJK = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5)


@pytest.mark.parametrize(
    ("name", "masked"),
    [
        ("张三", "张*"),
        ("王小明", "王**"),
        ("欧阳娜娜", "欧***"),
        ("司马相如", "司***"),
        ("王", "*"),
        ("", ""),
    ],
)
def test_name_shape(name: str, masked: str) -> None:
    assert mask_name(name) == masked


@settings(max_examples=100)
@given(st.text(CJK, min_size=2, max_size=6))
def test_name_mask_shows_only_the_first_character(name: str) -> None:
    masked = mask_name(name)
    assert masked == name[0] + "*" * (len(name) - 1)


@pytest.mark.parametrize(
    ("phone", "masked"),
    [
        ("13800138000", "138****8000"),
        ("+8613800138000", "138****8000"),
        ("+86 138 0013 8000", "138****8000"),
        ("0086-138-0013-8000", "138****8000"),
        ("１３８００１３８０００", "138****8000"),
        ("020-12345678", "020-****5678"),
        ("(0755)12345678", "0755-****5678"),
    ],
)
def test_phone_shape_whatever_the_format(phone: str, masked: str) -> None:
    assert mask_phone(phone) == masked


MOBILES = st.builds(
    lambda second, rest: f"1{second}{rest}",
    st.sampled_from("3456789"),
    st.text(string.digits, min_size=9, max_size=9),
)


def _formats(national: str) -> list[str]:
    return [
        national,
        f"+86{national}",
        f"+86 {national[:3]} {national[3:7]} {national[7:]}",
        f"0086{national}",
        f"86-{national[:3]}-{national[3:7]}-{national[7:]}",
    ]


@settings(max_examples=150)
@given(MOBILES)
def test_phone_mask_never_shows_the_middle_four(national: str) -> None:
    for written in _formats(national):
        masked = mask_phone(written)
        assert masked == f"{national[:3]}****{national[-4:]}", written
        assert masked[3:7] == "****"


@st.composite
def ids(draw: st.DrawFn) -> str:
    body = draw(st.text(string.digits, min_size=17, max_size=17))
    return body + check_character(body)


@settings(max_examples=150)
@given(ids())
def test_id_mask_keeps_first_one_and_last_two(number: str) -> None:
    masked = mask_id(number)
    assert masked == number[0] + "*" * 15 + number[-2:]
    assert mask_id(number.lower()) == masked.upper()


def test_id_mask_example_and_short_input() -> None:
    assert mask_id("11010519491231002x") == "1***************2X"
    assert mask_id("12345") == "*****"


def test_email_and_address_masks() -> None:
    assert mask_email("zhangsan@example.com") == "z***@example.com"
    assert "zhangsan" not in mask_email("zhangsan@example.com")
    assert mask_address("幸福小区3栋2单元301室") == "幸福小区*********"
    masked = mask_address("广州市天河区和平路")
    assert masked.startswith("广州市") and "和平" not in masked


def test_redact_free_text() -> None:
    text = (
        "我叫王小明，电话13800138000，座机020-12345678，身份证11010519491231002X，"
        "邮箱 wang.xm@qq.com，另一个 +86 139 1234 5678，全角１３６００１３６０００"
    )
    out = redact(text)
    for secret in (
        "13800138000",
        "0013",
        "12345678",
        "1101051949123100",
        "wang.xm",
        "1234 5678",
        "１３６００",
    ):
        assert secret not in out
    assert "138****8000" in out
    assert "1***************2X" in out
    assert "王小明" in out  # names in free text are the dialog's job, not a regex's


def test_redact_hides_an_id_without_its_check_digit_and_keeps_plain_words() -> None:
    assert "11010519491231002" not in redact("号码11010519491231002")
    assert redact("工单已登记，请耐心等待") == "工单已登记，请耐心等待"


NO_DIGITS = st.text(st.characters(exclude_categories=("Nd", "Cs")), max_size=20)


@settings(max_examples=100)
@given(MOBILES, NO_DIGITS, NO_DIGITS)
def test_redact_never_leaks_a_mobile_in_any_context(national: str, before: str, after: str) -> None:
    for written in _formats(national):
        out = redact(f"{before} {written} {after}")
        assert national not in out
        assert national[3:] not in out  # the last 8 digits


def test_masking_filter_redacts_message_args_and_traceback(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("test.masking")
    handler_filter = MaskingFilter()
    caplog.handler.addFilter(handler_filter)
    try:
        with caplog.at_level(logging.INFO, logger="test.masking"):
            logger.info("citizen %s called from %s", "11010519491231002X", "+8613800138000")
            try:
                raise ValueError("bad phone 13912345678")
            except ValueError:
                logger.exception("failed for 13800138000")
    finally:
        caplog.handler.removeFilter(handler_filter)
    text = caplog.text
    assert "13800138000" not in text and "8613800138000" not in text
    assert "11010519491231002X" not in text
    assert "13912345678" not in text
    assert "138****8000" in text and "1***************2X" in text and "139****5678" in text


def test_masking_filter_survives_bad_format_args() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "%d items for %s", ("many",), None)
    assert MaskingFilter().filter(record)
    assert isinstance(record.msg, str)
    assert record.args is None


@pytest.mark.parametrize(
    ("text", "gone", "kept"),
    [
        ("我就住在楼上4楼401，楼下烧烤店油烟很大", ["401", "4楼"], ["楼下烧烤店"]),
        ("本人系3栋502业主，楼上602漏水", ["502"], ["楼上602漏水"]),  # the neighbour's flat stays
        ("有事打我电话139 1234 4321", ["139", "4321"], ["有事打我电话"]),
        ("我叫王秀英，身份证440106199001011234", ["王秀英", "1234"], []),
        ("我住院了，医院收费不合理", [], ["我住院了"]),  # 住院 is no home
        ("天河区华景新城2单元302的住户装修很吵", [], ["2单元302"]),  # whom they report
    ],
)
def test_anonymise_removes_what_points_at_the_citizen_and_keeps_the_matter(
    text: str, gone: list[str], kept: list[str]
) -> None:
    out = anonymise(text)
    for g in gone:
        assert g not in out, (g, out)
    for k in kept:
        assert k in out, (k, out)


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("我就住在楼上4楼401，楼下烧烤店油烟很大", "我就住在楼上*****，楼下烧烤店油烟很大"),
        ("我是幸福路10号2103室的业主，楼上漏水", "我是幸福路***********，楼上漏水"),
        ("本人系3栋502业主，楼上602漏水", "本人系*******，楼上602漏水"),  # the neighbour's flat stays
        ("我家在幸福路***2103，电话已留", "我家在幸福路*******，电话已留"),  # after the contact's own mask
        ("天河区华景新城2单元302的住户装修很吵", "天河区华景新城2单元302的住户装修很吵"),  # whom they report
        ("我住院了，医院收费不合理", "我住院了，医院收费不合理"),  # 住院 is no home
    ],
)
def test_a_named_citizens_own_home_and_flat_are_masked_and_the_matter_kept(text: str, masked: str) -> None:
    """CONTRACT.md: the citizen's own address and room number inside the content are masked for a
    named citizen too (S6 found "我是幸福路10号2103室的业主" shown in clear to the unit)."""
    assert mask_own_home(text) == masked


def test_a_ticket_number_is_kept_while_the_phone_beside_it_is_masked() -> None:
    """The hotline's own number is no one's personal data: an agent reading a reply or a log
    line must see which ticket it was (it looked like a long run of digits and was starred)."""
    text = "您的诉求已登记，工单号：20261207-000123。联系电话13800138000"
    assert redact(text) == "您的诉求已登记，工单号：20261207-000123。联系电话138****8000"
    assert anonymise(text).startswith("您的诉求已登记，工单号：20261207-000123。")
    assert "13800138000" not in anonymise(text)
