"""Understanding first messages written the way people write them (huizhou §9, guangzhou §11-12, §45)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from intake.extract import extract, extract_into, fill_fields, is_meaningless, normalize, parse_field_answer
from intake.model import Category, Field

C = Category

# (message, expected attributes). Only the attributes named are checked; "category" also
# requires the guess to be confident, so the dialog would not ask.
CASES: list[tuple[str, dict[str, Any]]] = [
    # 投诉
    (
        "我要投诉，幸福小区3栋楼下的烧烤店每晚油烟很大，到十二点还吵，希望城管处理",
        {
            "category": C.COMPLAINT,
            "subject": "烧烤店",
            "address": "幸福小区3栋",
            "demand": "希望城管处理",
            "content": "幸福小区3栋楼下的烧烤店每晚油烟很大，到十二点还吵",
        },
    ),
    (
        "我要投訴，和平路12號的麵包店每天早上五點就開機器，太吵了",
        {"category": C.COMPLAINT, "subject": "面包店", "address": "和平路12号"},
    ),
    (
        "投诉阳光物业公司，电梯坏了一个月都不修，要求物业尽快维修",
        {"category": C.COMPLAINT, "subject": "阳光物业公司", "demand": "要求物业尽快维修"},
    ),
    (
        "深圳市南山区科技园的某某科技有限公司拖欠工资三个月，请劳动部门帮忙追讨",
        {
            "category": C.COMPLAINT,
            "subject": "某某科技有限公司",
            "address": "深圳市南山区科技园",
            "demand": "请劳动部门帮忙追讨",
        },
    ),
    (
        "我家住在人民路88号，隔壁的美味餐厅半夜装修，吵得睡不着",
        {
            "category": C.COMPLAINT,
            "subject": "美味餐厅",
            "home_address": "人民路88号",
            "address": "人民路88号",
        },
    ),
    (
        "投诉XX快递公司，快递员态度恶劣，乱扔包裹。联系人：张女士，手机(0755)12345678",
        {"category": C.COMPLAINT, "subject": "XX快递公司", "name": "张女士", "phones": ("+8675512345678",)},
    ),
    (
        "我姓李，住在朝阳区建国路88号，楼下KTV噪音扰民，每天晚上10点到凌晨2点",
        {"category": C.COMPLAINT, "name": "李", "subject": "KTV", "home_address": "朝阳区建国路88号"},
    ),
    ("我要投诉！！！物业乱收费", {"category": C.COMPLAINT, "subject": "物业", "content": "物业乱收费"}),
    (
        "我住在绿地新城7幢1单元，楼上邻居每天半夜拖椅子，吵得睡不着，希望社区协调",
        {
            "category": C.COMPLAINT,
            "home_address": "绿地新城7幢1单元",
            "subject": "邻居",
            "demand": "希望社区协调",
        },
    ),
    (
        "投诉：锦绣花园小区门口的水果店占道经营，电话１３８００１３８０００",
        {
            "category": C.COMPLAINT,
            "subject": "水果店",
            "address": "锦绣花园小区",
            "phones": ("+8613800138000",),
        },
    ),
    # 举报
    ("举报东风村有人在河边偷排废水，味道很臭", {"category": C.REPORT, "address": "东风村"}),
    (
        "我要举报，建设路的一家网吧接纳未成年人上网，要求依法查处",
        {"category": C.REPORT, "subject": "网吧", "address": "建设路", "demand": "要求依法查处"},
    ),
    (
        "实名举报，光明街道某工地夜间施工，没有许可证",
        {"category": C.REPORT, "subject": "某工地", "address": "光明街道"},
    ),
    (
        "华强北路的一家手机店卖假货，我要举报",
        {"category": C.REPORT, "subject": "手机店", "address": "华强北路"},
    ),
    (
        "今天下午3点在沿江路看到渣土车乱倒渣土",
        {"category": C.REPORT, "address": "沿江路", "dates": ("今天", "下午3点")},
    ),
    ("檢舉：某某化工廠晚上偷排廢氣", {"category": C.REPORT, "subject": "某某化工厂"}),
    # 咨询
    ("请问办理居住证需要什么材料？", {"category": C.CONSULTATION, "subject": None, "demand": None}),
    (
        "咨询一下，新生儿医保在哪里办理，需要带什么",
        {"category": C.CONSULTATION, "content": "新生儿医保在哪里办理，需要带什么"},
    ),
    ("我想问一下公租房的申请条件是什么", {"category": C.CONSULTATION}),
    ("不是投诉，只是咨询一下燃气公司的上班时间", {"category": C.CONSULTATION, "subject": "燃气公司"}),
    ("请问社保卡丢了怎么补办，在哪办？", {"category": C.CONSULTATION}),
    # 求助
    (
        "求助，我家停水两天了，地址是幸福小区5栋2单元301室，希望尽快恢复供水",
        {
            "category": C.HELP,
            "address": "幸福小区5栋2单元301室",
            "demand": "希望尽快恢复供水",
            "content": "我家停水两天了",
        },
    ),
    (
        "我们村的路灯坏了很久，晚上很黑，请帮忙修一下。地址：石门镇大坪村",
        {"category": C.HELP, "address": "石门镇大坪村", "demand": "请帮忙修一下"},
    ),
    ("求助：家里老人走失了，穿蓝色衣服，在解放大道附近", {"category": C.HELP, "address": "解放大道"}),
    (
        "帮帮忙，我家下水道堵塞，污水都冒出来了，在长安镇新安村三组",
        {"category": C.HELP, "address": "长安镇新安村三组"},
    ),
    ("我家停电了，求助，地址是北京路100号", {"category": C.HELP, "address": "北京路100号"}),
    # 意见建议
    (
        "建议在解放大道和中山路路口增设红绿灯，现在过马路太危险",
        {"category": C.SUGGESTION, "address": "解放大道"},
    ),
    (
        "我有个建议，希望地铁3号线延长运营时间到晚上12点",
        {"category": C.SUGGESTION, "demand": "希望地铁3号线延长运营时间到晚上12点", "dates": ("晚上12点",)},
    ),
    ("希望政府在我们小区附近多设几个公交站，出行太不方便了", {"category": C.SUGGESTION, "address": None}),
    ("提个意见，市民中心的停车场收费太乱，建议优化管理", {"category": C.SUGGESTION}),
    # 表扬
    (
        "表扬一下幸福社区的李医生，服务态度非常好，非常负责",
        {"category": C.PRAISE, "subject": "李医生", "address": "幸福社区"},
    ),
    ("我要表扬12路公交车的王师傅，拾金不昧，把钱包还给了我", {"category": C.PRAISE, "subject": "王师傅"}),
    ("感谢派出所民警帮我找回了电动车，为他们点赞", {"category": C.PRAISE, "subject": "派出所民警"}),
    # personal data
    (
        "我叫王小明，电话13800138000，地址在幸福小区3栋",
        {"name": "王小明", "phones": ("+8613800138000",), "address": "幸福小区3栋", "category": None},
    ),
    (
        "联系电话：020-12345678，身份证号：11010519491231002X",
        {"phones": ("+862012345678",), "id_numbers": ("11010519491231002X",), "content": None},
    ),
    (
        "我的身份证是110105194912310021，电话0086 138 0013 8000",
        {"id_numbers": (), "invalid_id_numbers": ("110105194912310021",), "phones": ("+8613800138000",)},
    ),
    ("座机（0755）12345678，手机+86 139 1234 5678", {"phones": ("+8675512345678", "+8613912345678")}),
    # intents
    ("你好", {"greeting_only": True, "category": None}),
    ("您好，在吗？", {"greeting_only": True}),
    ("谢谢", {"thanks": True, "greeting_only": False}),
    ("查询进度", {"progress_query": True}),
    ("我上次反映的问题办得怎么样了", {"progress_query": True}),
    ("我要撤诉，问题已经解决了", {"withdraw": True}),
    ("不用处理了", {"withdraw": True}),
    ("取消", {"cancel": True, "withdraw": False}),
    ("取消投诉", {"cancel": True, "withdraw": True}),
    (
        "我要匿名投诉，不要透露我的电话和住址，锦绣花园小区门口的水果店占道经营",
        {
            "category": C.COMPLAINT,
            "wants_anonymity": True,
            "hide": frozenset({Field.PHONE, Field.HOME_ADDRESS}),
        },
    ),
    (
        "保密，全部信息都不要公开",
        {
            "wants_anonymity": True,
            "hide": frozenset(Field(f) for f in ("name", "phone", "id_number", "home_address")),
        },
    ),
    ("我要匿名", {"wants_anonymity": True, "hide": frozenset()}),
    ("不需要匿名，可以公开", {"wants_anonymity": False}),
    ("hello, can anyone help me?", {"has_chinese": False, "category": None}),
]


def test_there_are_enough_cases_across_all_categories() -> None:
    categories = {exp.get("category") for _, exp in CASES}
    assert set(Category) <= categories
    assert len(CASES) >= 40


@pytest.mark.parametrize(("message", "expected"), CASES, ids=[m[:16] for m, _ in CASES])
def test_extract(message: str, expected: dict[str, Any]) -> None:
    got = extract(message)
    for attr, value in expected.items():
        assert getattr(got, attr) == value, f"{attr}: {getattr(got, attr)!r}"
    if expected.get("category") is not None:
        assert got.confident
        assert got.category_candidates[0] == expected["category"]


def test_unclear_message_offers_candidates_without_a_confident_guess() -> None:
    got = extract("小区门口的路灯不亮了，物业乱收费")
    assert not got.confident
    assert {Category.HELP, Category.COMPLAINT} <= set(got.category_candidates)


def test_values_are_the_registration_fields() -> None:
    got = extract("我要投诉，幸福小区3栋楼下的烧烤店油烟很大，希望城管处理。我叫王小明，电话13800138000")
    assert got.values == {
        Field.NAME: "王小明",
        Field.PHONE: "+8613800138000",
        Field.SUBJECT: "烧烤店",
        Field.ADDRESS: "幸福小区3栋",
        Field.CONTENT: "幸福小区3栋楼下的烧烤店油烟很大",
        Field.DEMAND: "希望城管处理",
    }


# -- later turns -------------------------------------------------------------------------------
def test_fill_from_a_sentence() -> None:
    wanted = [Field.NAME, Field.PHONE, Field.ADDRESS]
    assert fill_fields(wanted, "我叫王小明，电话13800138000，地址在幸福小区3栋") == {
        Field.NAME: "王小明",
        Field.PHONE: "+8613800138000",
        Field.ADDRESS: "幸福小区3栋",
    }


def test_fill_from_numbered_lines_like_the_prompt() -> None:
    wanted = [Field.NAME, Field.PHONE, Field.DEMAND]
    got = fill_fields(wanted, "1. 王小明\n2. 138 0013 8000\n3. 尽快处理，还我们安静")
    assert got == {Field.NAME: "王小明", Field.PHONE: "+8613800138000", Field.DEMAND: "尽快处理，还我们安静"}


def test_fill_from_labels() -> None:
    wanted = [Field.ADDRESS, Field.CONTENT, Field.DEMAND]
    got = fill_fields(wanted, "地址：人民路8号\n具体情况：路灯坏了，晚上很黑\n诉求：尽快修好")
    assert got == {Field.ADDRESS: "人民路8号", Field.CONTENT: "路灯坏了，晚上很黑", Field.DEMAND: "尽快修好"}


def test_fill_unlabelled_parts_and_a_compound_surname() -> None:
    wanted = [Field.NAME, Field.PHONE, Field.HOME_ADDRESS]
    got = fill_fields(wanted, "欧阳娜娜，13912345678，天河区体育西路101号")
    assert got == {
        Field.NAME: "欧阳娜娜",
        Field.PHONE: "+8613912345678",
        Field.HOME_ADDRESS: "天河区体育西路101号",
    }


def test_fill_one_open_field_takes_the_rest_of_the_reply() -> None:
    assert fill_fields([Field.DEMAND], "尽快处理，还我们安静") == {Field.DEMAND: "尽快处理，还我们安静"}
    assert fill_fields([Field.SUBJECT, Field.DEMAND], "是楼下的美味餐厅，希望尽快处理") == {
        Field.SUBJECT: "美味餐厅",
        Field.DEMAND: "希望尽快处理",
    }


def test_fill_never_invents_a_phone() -> None:
    assert fill_fields([Field.PHONE], "电话是12345") == {}
    assert fill_fields([Field.PHONE], "不方便留") == {}


def test_extract_into_keeps_old_values_and_adds_new_ones() -> None:
    existing = {Field.SUBJECT: "烧烤店", Field.CONTENT: "油烟很大"}
    merged = extract_into(existing, "我叫王小明，电话13800138000，地址在幸福小区3栋")
    assert merged[Field.SUBJECT] == "烧烤店"
    assert merged[Field.NAME] == "王小明"
    assert merged[Field.PHONE] == "+8613800138000"
    assert merged[Field.ADDRESS] == "幸福小区3栋"
    assert extract_into(merged, "地址：幸福小区4栋")[Field.ADDRESS] == "幸福小区4栋"


@pytest.mark.parametrize(
    ("field", "reply", "value"),
    [
        (Field.PHONE, "+86 138-0013-8000", "+8613800138000"),
        (Field.PHONE, "没有", None),
        (Field.ID_NUMBER, "11010519491231002x", "11010519491231002X"),
        (Field.NAME, "我叫张三", "张三"),
        (Field.NAME, "王先生", "王先生"),
        (Field.ADDRESS, "人民公园东门", "人民公园东门"),
        (Field.DEMAND, "。。。", None),
    ],
)
def test_parse_field_answer(field: Field, reply: str, value: str | None) -> None:
    assert parse_field_answer(field, reply) == value


# -- normalisation -----------------------------------------------------------------------------
def test_normalize() -> None:
    assert normalize("我要投訴，電話：１３８００１３８０００") == "我要投诉，电话：13800138000"
    assert normalize("  a\u200b\x00b \t\t c\r\n\r\n\n d ") == "ab c\nd"
    assert normalize("\ud800坏") == "坏"


@pytest.mark.parametrize(
    ("text", "meaningless"),
    [
        ("", True),
        ("   ", True),
        ("😀😀👍", True),
        ("。。。！？", True),
        ("嗯", False),
        ("1", False),
        ("ok", False),
    ],
)
def test_is_meaningless(text: str, meaningless: bool) -> None:
    assert is_meaningless(text) is meaningless


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=300))
def test_extract_and_normalize_never_raise_on_any_unicode(text: str) -> None:
    normalized = normalize(text)
    assert normalize(normalized) == normalized
    got = extract(text)
    assert got.text == normalized
    fill_fields(list(Field), text)


@pytest.mark.parametrize(
    "text",
    [
        "测" * 20000,
        "😀" * 5000,
        "".join(chr(c) for c in range(32)) * 10,
        "hello world " * 500,
        "\ud800\udfff",
        "１" * 3000,
    ],
)
def test_extract_survives_extreme_inputs(text: str) -> None:
    got = extract(text)
    assert isinstance(got.text, str)


@pytest.mark.parametrize("text", ["薴", "麼", "苧薴麻", "這麼多"])
def test_normalising_twice_changes_nothing_where_opencc_chains_variants(text: str) -> None:
    """Found by the property test above: tw2sp turns 薴 into 苧 and 苧 into 苎."""
    once = normalize(text)
    assert normalize(once) == once


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("……请相关部门尽快处理。谢谢！\n住户 何女士 187 0203 6654", "何女士"),
        ("4、定期向业主通报进展。\n业主代表：杨建军 电话：152 8181 6630", "杨建军"),
        ("请领导帮我们问一下。谢谢！罗小兵 152 7390 6628", "罗小兵"),
        ("我是海珠区南田路华海花园5栋的业主，姓伍。上周三晚上……", "伍"),
        ("我是惠城区东江新城丽水湾花园9栋的业主刘女士。因为……", "刘女士"),
        ("我住荔湾区逢源路，改造工期一拖再拖，请督促施工单位。\n关伯", "关伯"),  # 伯: a title
        ("楼下烧烤店油烟太大了，麻烦处理一下。谢谢", None),  # 谢 is a surname; 谢谢 is no name
        # the name alone on its line, the phone and the date below it
        ("希望城管查处。\n\n谢谢！\n\n欧阳春花\n手机 139 1234 5678\n2026年11月20日", "欧阳春花"),
        ("希望城管查处。\n张伟\n联系电话：13912345678", "张伟"),
        ("楼下烧烤店每晚油烟很大\n电话13912345678", None),  # a line of text above a phone signs nothing
    ],
)
def test_a_signed_letter_or_a_title_after_a_role_names_the_citizen(text: str, name: str | None) -> None:
    assert extract(text).name == name
