"""Screening: emergencies, out-of-scope matters, abuse, urgent in-scope matters, repeats.

Edge cases decided here (and documented in intake/data/screening.toml):
- 「我想咨询消防验收的流程」 names fire safety, not a fire: an ordinary consultation.
- 「我家小孩发烧了，社区医院几点开门」 asks about opening hours: a consultation, not 120.
- 「投诉法院门口的摊贩占道」 names a court only as a place: a street-vendor complaint, in scope.
- 「劳动仲裁在哪里申请」 asks how to use a procedure: a consultation; a matter already in
  arbitration or litigation is rejected.
- Swearing about a nuisance (「吵得他妈的睡不着」) is not abuse; insulting or threatening the hotline is.
- A planned outage question (「下周会不会停水」) is a consultation; an outage now is urgent.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from intake.assembly import jurisdiction_of
from intake.errors import ConfigError
from intake.extract.text import normalize as understood_form
from intake.model import TicketStatus
from intake.policy import load_profile
from intake.repeats import is_repeat, similar
from intake.screening import DEFAULT_RULES, Jurisdiction, Screener, ScreenKind
from intake.textmodel import TextModel, terms

HUIZHOU = Jurisdiction("惠州市", ("惠城区", "惠阳区", "博罗县", "惠东县", "龙门县", "大亚湾"))


@pytest.fixture(scope="module")
def screener() -> Screener:
    line = load_profile("huizhou").emergency
    return Screener.from_file(  # the rules alone
        jurisdiction=HUIZHOU, model=False, psychological=(line.psychological, line.psychological_label)
    )


@pytest.mark.parametrize(
    ("text", "rule", "numbers"),
    [
        ("楼下着火了，好大的烟，快来人", "emergency.fire", ("119",)),
        ("這裡著火了！", "emergency.fire", ("119",)),
        ("厨房闻到很浓的煤气味，不敢开灯", "emergency.gas_leak", ("119",)),
        # someone unconscious in the gas: the person first (corpus GUIDE.md)
        ("一开门全是煤气味，他躺在沙发上叫不醒", "emergency.gas_casualty", ("120", "119")),
        ("有人在小区门口打架，拿刀砍人", "emergency.crime", ("110",)),
        ("邻居扬言要杀了我，现在就在我家门外", "emergency.crime", ("110",)),
        ("公园里有个老人晕倒了，叫不醒", "emergency.medical", ("120",)),
        # a crash with injured: the more particular situation (traffic) gives the first number
        ("出车祸了，有人受伤流血不止", "emergency.medical", ("122", "120")),
        ("两辆车在十字路口追尾了", "emergency.traffic", ("122",)),
        ("电梯里困了人，出不来", "emergency.trapped", ("119",)),
        ("山洪 学校的学生困在教学楼二楼 一楼全淹了", "emergency.trapped", ("119",)),  # 教学楼: no 教学
        ("桥上有人要跳河", "emergency.self_harm", ("110", "120", "12356")),
        # done behind a locked door: the person first (corpus GUIDE.md)
        ("门缝底下流出来好多血，喊她不应", "emergency.self_harm_done", ("120", "110", "12356")),
        # told without the usual words (round 5 of the corpus: a batch the product had not seen)
        ("电动车充着电炸了，火蹿起好高，楼上还有人", "emergency.fire", ("119",)),
        ("崽把自己关在房里，讲活着冇意思，手里拿着把美工刀", "emergency.self_harm", ("110", "120", "12356")),
        (
            "朋友发了条朋友圈说再见，电话打不通，我好怕她做傻事",
            "emergency.self_harm",
            ("110", "120", "12356"),
        ),
        ("吃完虾面肿到眼都睁唔开 话喉咙好紧 佢以前冇试过敏", "emergency.medical", ("120",)),
        ("my wife water broke, contractions every 3 min, no car", "emergency.medical", ("120",)),
        ("the restaurant kitchen next to my hotel is on fire", "emergency.fire", ("119",)),
        ("my husband drunk, he grabbed my neck just now", "emergency.crime", ("110",)),
        ("工友揸住条铁棍话要同老板同归于尽", "emergency.crime", ("110",)),
        # corpus round 6: a child, a tourist, someone alone in a lift; 我好怕 is fear now, no "if"
        ("我爸爸修插座的时候被电打到了 他倒在厨房不动 我好怕", "emergency.medical", ("120",)),
        ("Hotel room, the shower heater smells like gas, my friend is dizzy", "emergency.gas_leak", ("119",)),
        ("My 6 year old is stuck alone in the hotel elevator between floors", "emergency.trapped", ("119",)),
        ("我在电梯里 电梯不动了 灯灭了 按铃没人理 我好怕", "emergency.trapped", ("119",)),
    ],
)
def test_emergencies_redirect_with_the_right_number_first(
    screener: Screener, text: str, rule: str, numbers: tuple[str, ...]
) -> None:
    decision = screener.screen(text)
    assert decision is not None
    assert decision.kind is ScreenKind.EMERGENCY
    assert decision.rule_id == rule
    assert decision.status is TicketStatus.REDIRECTED
    assert decision.numbers == numbers
    # The reply tells them to call, naming the first number before any other.
    assert decision.reply.startswith("您反映的情况属于紧急事项，请立即拨打" + numbers[0])
    assert "？" not in decision.reply


@pytest.mark.parametrize(
    "text",
    [
        "我想咨询消防验收的流程",
        "楼道里堆满杂物，有火灾隐患，物业不管",
        "我家小孩发烧了，社区医院几点开门",
        "工伤认定怎么申请",
        "投诉法院门口的摊贩占道",
        "交通事故认定书下来了，保险理赔怎么办",
        "小区电梯经常坏，希望物业尽快维修",
        "楼下经常有人打架斗殴，建议加强巡逻",
        "燃气费在哪里交",
        "身份证丢了怎么补办",
    ],
)
def test_ordinary_requests_are_not_screened_out(screener: Screener, text: str) -> None:
    assert screener.screen(text) is None


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("我已经向法院起诉了，想让你们催一下", "out_of_scope.litigation"),
        ("对法院的判决不服，要求重新处理", "out_of_scope.litigation"),
        ("我去年已经去信访局反映过这个事，一直没解决", "out_of_scope.petition"),
        ("人大代表不作为，要求撤换", "out_of_scope.party_npc_cppcc"),
        ("举报村支书收红包", "out_of_scope.discipline"),
        ("法院一直拖着不执行我的案子", "out_of_scope.courts"),
        ("部队训练的噪音太大", "out_of_scope.military"),
        ("我手上有公司的商业秘密要反映", "out_of_scope.secrets"),
        ("深圳南山区一家餐馆卫生很差", "out_of_scope.jurisdiction"),
    ],
)
def test_out_of_scope_is_rejected_with_the_channel_named(screener: Screener, text: str, rule: str) -> None:
    decision = screener.screen(text)
    assert decision is not None
    assert decision.kind is ScreenKind.OUT_OF_SCOPE
    assert decision.rule_id == rule
    assert decision.status is TicketStatus.REJECTED
    assert decision.reason
    assert decision.channel and decision.channel in decision.reply
    assert "不属于12345热线的受理范围" in decision.reply


def test_other_city_reply_names_that_citys_hotline(screener: Screener) -> None:
    decision = screener.screen("深圳南山区一家餐馆卫生很差")
    assert decision is not None
    assert "深圳当地的12345" in decision.reply
    assert "深圳" in decision.reason


@pytest.mark.parametrize(
    "text",
    [
        "劳动仲裁在哪里申请",  # how to use a procedure: a consultation
        # a judgment the other side does not pay, and a local service asked for meanwhile
        "法院判了包工头给我们三万多工钱，他人跑了，想问县里有没有困难救助",
        "我是退役军人，优待证怎么办",  # veterans' services are in scope
        "我在深圳交的社保怎么转到惠州",  # names the own city
        "之前在东莞上班，社保关系怎么转移过来",  # a transfer in, not another city's matter
        "惠阳区淡水街道的路灯坏了",  # own district
    ],
)
def test_in_scope_look_alikes_are_not_rejected(screener: Screener, text: str) -> None:
    assert screener.screen(text) is None


def test_jurisdiction_is_the_callers_parameter() -> None:
    text = "深圳南山区一家餐馆卫生很差"
    assert Screener.from_file().screen(text) is None  # no city given: the rule is off
    shenzhen = Screener.from_file(jurisdiction=Jurisdiction("深圳", ("南山区",)))
    assert shenzhen.screen(text) is None
    decision = Screener.from_file(jurisdiction=HUIZHOU).screen(text)
    assert decision is not None and decision.rule_id == "out_of_scope.jurisdiction"


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("你们都是一群废物", "abuse.insult"),
        ("接线员是个傻逼", "abuse.insult"),
        ("你是ＳＢ吗", "abuse.insult"),
        ("再不处理我就炸了你们政府", "abuse.threat"),
        ("不解决我就跟你们同归于尽", "abuse.threat"),
    ],
)
def test_abuse_is_recognised(screener: Screener, text: str, rule: str) -> None:
    decision = screener.screen(text)
    assert decision is not None
    assert decision.kind is ScreenKind.ABUSE
    assert decision.rule_id == rule
    assert decision.status is None
    assert "文明" in decision.reply


@pytest.mark.parametrize(
    "text", ["楼下装修吵得他妈的睡不着", "楼下的垃圾堆了一个星期", "投诉垃圾车每天早上五点就来收垃圾"]
)
def test_venting_about_a_nuisance_is_not_abuse(screener: Screener, text: str) -> None:
    assert screener.screen(text) is None


@pytest.mark.parametrize(
    ("text", "urgent_kind"),
    [
        ("我们小区突然停水了，到现在还没来水", "utility_outage"),
        ("整栋楼停电了三个小时", "utility_outage"),
        ("家里没有燃气了，做不了饭", "utility_outage"),
        ("化粪池满了，污水往外冒", "sewage_overflow"),
        ("下水道堵了，污水倒灌进店里", "sewage_overflow"),
        ("台风把大树吹倒了，挡住了整条马路", "road_blocked"),
        ("小区门口的井盖丢了，很危险", "hazard"),  # issue 19's finding
        ("路边电箱的电线裸露在外面，小孩经常在旁边玩", "hazard"),
        ("楼顶的广告牌摇摇欲坠，下面就是人行道", "hazard"),
        ("人行道中间塌陷了一个大坑", "hazard"),
    ],
)
def test_urgent_in_scope_matters_are_flagged_not_redirected(
    screener: Screener, text: str, urgent_kind: str
) -> None:
    decision = screener.screen(text)
    assert decision is not None
    assert decision.kind is ScreenKind.URGENT
    assert decision.urgent is True
    assert decision.urgent_kind == urgent_kind
    assert decision.status is None
    assert decision.numbers == ()


@pytest.mark.parametrize(
    ("city", "text", "urgent_class"),
    [
        ("huizhou", "小区门口的井盖丢了，很危险", "general"),  # huizhou §13.3 一般紧急和安全隐患
        ("huizhou", "楼顶的广告牌摇摇欲坠，下面就是人行道", "general"),
        ("guangzhou", "小区门口的井盖丢了，很危险", None),  # guangzhou §14.3 names no class
        ("shaoyang", "小区门口的井盖丢了，很危险", None),  # §20's class is for noise and fumes
        ("guangxi", "我们小区突然停水了，到现在还没来水", "emergency"),  # guangxi §26.2.7
        ("quxian", "我们小区突然停水了，到现在还没来水", None),  # not quxian §11.4's 大面积停水
        ("quxian", "全镇大面积停水了，到现在还没来水", "special"),
    ],
)
def test_the_urgent_class_is_the_profiles_own_or_none(city: str, text: str, urgent_class: str | None) -> None:
    from intake.corpus import product

    screened = product(city).screening.screen(text)
    assert screened is not None
    assert screened.urgent_class == urgent_class


@pytest.mark.parametrize("text", ["下周会不会停水", "停电通知在哪里看", "水费怎么交"])
def test_questions_about_outages_are_not_urgent(screener: Screener, text: str) -> None:
    assert screener.screen(text) is None


def test_emergency_wins_over_abuse_and_scope(screener: Screener) -> None:
    decision = screener.screen("你们这帮废物，楼下着火了！")
    assert decision is not None
    assert decision.kind is ScreenKind.EMERGENCY


def test_every_decision_records_its_rule(screener: Screener) -> None:
    ids = {r.id for kind in ScreenKind for r in screener.rules(kind)}
    assert len(ids) == sum(len(screener.rules(k)) for k in ScreenKind)  # ids are unique
    decision = screener.screen("出车祸了，有人受伤流血不止")
    assert decision is not None
    assert decision.rule_ids == ("emergency.medical", "emergency.traffic")
    assert set(decision.rule_ids) <= ids


def test_rules_are_data_an_operator_can_edit(tmp_path: Path) -> None:
    text = DEFAULT_RULES.read_text(encoding="utf-8")
    edited = text.replace('"(出|发生)(了)?(车祸|交通事故)",', '"(出|发生)(了)?(车祸|交通事故)",\n  "剐蹭",')
    path = tmp_path / "screening.toml"
    path.write_text(edited, encoding="utf-8")
    assert Screener.from_file(model=False).screen("刚才在路上剐蹭了") is None
    decision = Screener.from_file(path, model=False).screen("刚才在路上剐蹭了")
    assert decision is not None and decision.rule_id == "emergency.traffic"


def test_bad_rule_files_fail_loudly(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(
        DEFAULT_RULES.read_text(encoding="utf-8").replace('"救命|救救我",', '"救命|救救我(",', 1),
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match="bad pattern"):
        Screener.from_file(path)
    with pytest.raises(ConfigError, match="cannot read"):
        Screener.from_file(tmp_path / "missing.toml")


SAME_MATTER = [
    (
        "幸福路和建设路交叉口有个大坑，好几辆电动车都摔了，希望尽快修补",
        "建设路与幸福路路口的路面塌了个坑，很危险，麻烦派人来补一下",
    ),
    ("阳光小区3栋楼下的烧烤摊每天晚上吵到凌晨两点", "阳光小区三栋下面烧烤摊噪音太大，半夜还在营业"),
    ("人民路88号的饭店油烟直排，熏得居民不敢开窗", "人民路88号饭店油烟很大，居民窗户都不敢开"),
    ("东湖花园门口的路灯坏了，晚上一片漆黑", "東湖花園門口路燈壞了好幾天"),
]
DIFFERENT_MATTER = [
    (
        "幸福路和建设路交叉口有个大坑，好几辆电动车都摔了，希望尽快修补",
        "幸福路和建设路交叉口的路灯坏了好几天，晚上很黑",
    ),
    ("阳光小区3栋楼下的烧烤摊每天晚上吵到凌晨两点", "阳光小区3栋楼下垃圾堆了一周没人清理"),
    ("人民路88号的饭店油烟直排，熏得居民不敢开窗", "人民路88号门口的人行道被车辆乱停占用"),
    ("东湖花园的路灯坏了", "西湖小区的路灯坏了"),
]


@pytest.mark.parametrize(("a", "b"), SAME_MATTER)
def test_the_same_matter_phrased_differently_is_a_repeat(a: str, b: str) -> None:
    assert is_repeat(b, a)
    assert similar(a, b) == pytest.approx(similar(b, a))


@pytest.mark.parametrize(("a", "b"), DIFFERENT_MATTER)
def test_different_matters_at_one_address_are_not_repeats(a: str, b: str) -> None:
    assert not is_repeat(b, a)


def test_similarity_is_bounded_and_ranks_same_above_different() -> None:
    same = min(similar(a, b) for a, b in SAME_MATTER)
    different = max(similar(a, b) for a, b in DIFFERENT_MATTER)
    assert same > different
    assert all(0.0 <= similar(a, b) <= 1.0 for a, b in SAME_MATTER + DIFFERENT_MATTER)
    assert similar("", "马路上有个坑") == 0.0
    assert similar("幸福路有个大坑", "幸福路有个大坑") == pytest.approx(1.0)


def test_screener_repeat_uses_the_files_threshold(screener: Screener) -> None:
    a, b = SAME_MATTER[0]
    assert screener.is_repeat(b, a)
    assert screener.similar(a, b) == pytest.approx(similar(a, b))
    assert screener.repeat_threshold == pytest.approx(0.35)


# ---- the text model and the rules together, as the product runs them (issue 16) -----------------
@pytest.fixture(scope="module")
def product_screener() -> Screener:
    line = load_profile("guangzhou").emergency
    return Screener.from_file(
        jurisdiction=Jurisdiction("广州市", ("天河区", "越秀区", "海珠区")),
        psychological=(line.psychological, line.psychological_label),
    )


@pytest.mark.parametrize(
    ("text", "first"),
    [
        ("我怀孕八个月，现在肚子剧痛还出血", "120"),
        ("有人站在天桥栏杆外面说要跳下去", "110"),
        ("我老公刚才喝农药了", "120"),
        ("楼道里全是烟，看不到路，我们在15楼", "119"),
        ("他又在打我 我躲在厕所", "110"),
    ],
)
def test_emergencies_told_as_situations_are_redirected(
    product_screener: Screener, text: str, first: str
) -> None:
    decision = product_screener.screen(text)
    assert decision is not None and decision.kind is ScreenKind.EMERGENCY, text
    assert decision.numbers[0] == first
    assert decision.reply.startswith("您反映的情况属于紧急事项，请立即拨打")


@pytest.mark.parametrize("text", ["我不想活了", "有人站在天桥栏杆外面说要跳下去", "我老公刚才喝农药了"])
def test_self_harm_names_the_psychological_line_after_110_and_120(
    product_screener: Screener, text: str
) -> None:
    decision = product_screener.screen(text)
    assert decision is not None and decision.kind is ScreenKind.EMERGENCY
    assert "12356" in decision.numbers and decision.numbers.index("12356") > 0
    assert "12356心理援助热线" in decision.reply


def test_the_psychological_line_is_the_profiles() -> None:
    screener = Screener.from_file(psychological=("12320", "12320卫生热线"))
    decision = screener.screen("我不想活了")
    assert decision is not None and "12320卫生热线" in decision.reply and "12356" not in decision.reply


def test_short_replies_said_in_every_conversation_are_no_emergency(product_screener: Screener) -> None:
    """The model alone does not redirect a few characters (我好累 is tired, not despair); the rules
    still read them (火更大了, 老婆要生了 said on their own or mid-dialog)."""
    for text in ("我好累", "我也不知道", "不知道", "不用了"):
        decision = product_screener.screen(text)
        assert decision is None or decision.kind is not ScreenKind.EMERGENCY, text
    for text, first in (("火更大了", "119"), ("老婆要生了", "120")):
        decision = product_screener.screen(text)
        assert decision is not None and decision.kind is ScreenKind.EMERGENCY, text
        assert decision.numbers[0] == first


@pytest.mark.parametrize(
    "text",
    [
        "去年着火后楼道一直没修好，墙还是黑的，希望物业处理",
        "上个月我爸在小区晕倒，物业的AED是坏的",
        "吵得要死，楼上装修从早到晚",
        "电动车电池着火了用什么灭？",
        "马路中间躺着一只被车撞了的狗",
        "表扬消防员，上周我家着火他们来得很快",
        "阿婆一个人住 屋顶漏水 一落水就滴 佢冇钱修",  # 落水: Cantonese for rain
        "巽寮湾呢个周末可唔可以落水游 有冇水母",  # ... and for going into the water
        "我架车喺停车场自燃，烧到剩个壳，消防嚟淋熄咗，人冇事",
        "老板拖咗我三个月人工，追到我想跳楼",
        "天河区体育东路有个消防栓被车撞歪了，一直在漏水",
        "请问李渡镇啥子时候通天然气哦？我们镇上还在烧罐罐气",
        "我爸在惠城被车撞了，我们已经起诉了司机，现在医药费快顶不住了",
        "Yesterday I saw a man with a knife near the night market, is it safe to go there",
        "刚才楼道有煤气味，燃气公司的人来修好了，但是那根总管十几年没换过",
        "股票跌到我想跳楼咁滞，讲笑啫😂 想问下公积金点样提取",
    ],
)
def test_past_hypothetical_and_figurative_are_not_emergencies(product_screener: Screener, text: str) -> None:
    decision = product_screener.screen(text)
    assert decision is None or decision.kind is not ScreenKind.EMERGENCY, text


@pytest.mark.parametrize(
    "text",
    [
        "北京路步行街有人占道经营",
        "中山大学附属医院门口乱停车",
        "楼下兰州拉面店油烟很大",
        "在吗 想问东莞庄路封路要封到几时",
        "去长沙看病要先备案吗？",
        "我是湖南长沙人，在天河区打工，老板拖欠工资",
        "我们村口有个深圳来的老板开了个厂，天天半夜排黑烟",
        "菜市场里那个长沙过来的卖菜的缺斤少两",
    ],
)
def test_local_places_named_after_other_cities_are_not_refused(product_screener: Screener, text: str) -> None:
    decision = product_screener.screen(text)
    assert decision is None or decision.rule_id != "out_of_scope.jurisdiction", text


def test_a_matter_in_another_city_is_still_referred_there(product_screener: Screener) -> None:
    decision = product_screener.screen("我在深圳龙华区的房子漏水，开发商不管")
    assert decision is not None and decision.rule_id == "out_of_scope.jurisdiction"
    assert "深圳" in decision.reply


def test_a_city_written_without_its_suffix_is_still_the_own_city() -> None:
    guangxi = Screener.from_file(
        jurisdiction=Jurisdiction("广西壮族自治区", ("梧州市", "南宁市")), model=False
    )
    decision = guangxi.screen("梧州长洲区新兴三路成条街冇电，由朝早十点到而家都未有")
    assert decision is None or decision.rule_id != "out_of_scope.jurisdiction"


# ---- [caution]: the numbers first when the model is unsure, and the request goes on (issue 16) ---
def _unsure_model() -> TextModel:
    """A model sure of 大出血 (0.95), unsure of 肚子疼 (0.5), and 0.12 on anything else."""
    return TextModel(
        {
            "heads": {"emergency": {"labels": ["none", "medical/120"], "bias": [2.0, 0.0]}},
            "terms": {"肚子疼": [1.0, 0.0, 2.0], "大出血": [1.0, 0.0, 5.0]},
            "thresholds": {"emergency": 0.8, "caution": 0.3},
        }
    )


@pytest.fixture(scope="module")
def unsure() -> Screener:
    return Screener.from_file(model=_unsure_model())


def test_an_unsure_emergency_names_the_number_and_lets_the_request_go_on(unsure: Screener) -> None:
    decision = unsure.screen("孩子肚子疼得在床上打滚")
    assert decision is not None and decision.kind is ScreenKind.CAUTION
    assert decision.status is None  # nothing is redirected or closed
    assert decision.numbers == ("120",)
    assert decision.reply == "如果现在有人身安全危险，请立即拨打120急救电话。"


def test_a_sure_emergency_is_still_redirected(unsure: Screener) -> None:
    decision = unsure.screen("我老婆大出血了")
    assert decision is not None and decision.kind is ScreenKind.EMERGENCY


@pytest.mark.parametrize("text", ["上个月孩子肚子疼，医院收费不合理", "楼下烧烤店油烟太大"])
def test_past_matters_and_ordinary_requests_get_no_caution(unsure: Screener, text: str) -> None:
    assert unsure.screen(text) is None


def test_a_caution_rides_along_an_urgent_matter() -> None:
    decision = Screener.from_file(model=_unsure_model()).screen("停水三天了，老人肚子疼")
    assert decision is not None and decision.kind is ScreenKind.URGENT
    assert decision.caution == "如果现在有人身安全危险，请立即拨打120急救电话。"


def test_without_a_caution_threshold_nothing_is_cautioned() -> None:
    data = {
        "heads": {"emergency": {"labels": ["none", "medical/120"], "bias": [2.0, 0.0]}},
        "terms": {"肚子疼": [1.0, 0.0, 2.0]},
        "thresholds": {"emergency": 0.8},
    }
    assert Screener.from_file(model=TextModel(data)).screen("孩子肚子疼得在床上打滚") is None


@pytest.mark.parametrize("text", ["你好", "在吗", "谢谢", "好的", "今天吃什么"])
def test_a_few_words_get_no_caution(text: str) -> None:
    """On a few characters the shipped model guesses from noise ("你好" 0.18, "今天吃什么" 0.16 for
    an emergency, above the caution threshold): nothing to name numbers for."""
    line = load_profile("guangzhou").emergency
    screener = Screener.from_file(psychological=(line.psychological, line.psychological_label))
    assert screener.screen(text) is None


@pytest.mark.parametrize(
    "text",
    [
        "高速上好多车连环撞了，有人在喊救命，后面还有车冲过来",  # 救命 names no situation
        "货车刹车失灵冲进路边店铺了，店里有人被压住",  # a crash with someone pinned: 122 before 119
    ],
)
def test_a_crash_names_122_first_whatever_else_is_found(screener: Screener, text: str) -> None:
    decision = screener.screen(text)
    assert decision is not None and decision.kind is ScreenKind.EMERGENCY
    assert decision.numbers[0] == "122", decision.numbers


@pytest.fixture(scope="module")
def guangzhou_rules() -> Screener:
    return Screener.from_file(jurisdiction=jurisdiction_of("guangzhou"), model=False)


@pytest.mark.parametrize(
    "text",
    [
        # put right earlier, happening again now
        "燃气公司说修好了，但现在又闻到很浓的煤气味",
        "一楼的火扑灭了，三楼又烧起来了，还有人在上面",
        "阀门关好了，但是煤气味越来越大，头好晕",
        "报过警，派出所已立案，他现在又拿着刀在我家门口说要砍我",
        "我爸上周已经出院，刚才又晕倒了叫不醒",
        "上次报过警没用，他现在人在我家门口砸门",
        # told briefly, or across a comma
        "桥下有个学生落水，快来",
        "快来人，有辆车掉进河里，司机还在里面",
        "仓库还在烧，水压不够，消防车进不来",
        "他掐我脖子",
        "救救我",
        "The kitchen is on fire, nobody hurt yet but my grandma is still upstairs",
        "Last night he beat me, now he has a knife at the door",
        "my mum collapsed, I don't know how to do CPR",
    ],
)
def test_emergencies_a_review_found_missed_are_redirected(guangzhou_rules: Screener, text: str) -> None:
    decision = guangzhou_rules.screen(text)
    assert decision is not None and decision.kind is ScreenKind.EMERGENCY, text


@pytest.mark.parametrize(
    "text",
    [
        "Can I bring a kitchen knife on the metro?",
        "I need the stroke clinic opening hours",
        "the landlord is not responding to my messages",
        "My car is stuck in the car park because the gate is broken",
        "the website crashed when I paid my water bill",
        "This is my last night in Guangzhou, which bar street is safe?",
        "suicide prevention hotline number please",
        "I fainted last week at the bus stop and nobody helped, I want to complain",
        "楼下大堂停满电动车充电，好怕着火了跑不出去",
        "装修工人拿着锤子一直打墙，吵死了",
        "我想带走孩子去外地读书，需要开什么证明",
        "给市长的信写好了，想问寄到哪里",
        "共享单车倒在路中间不动",
        "孩子喉咙肿了发烧，医院挂号排了三个小时",
        "这个月电费火好大",
        "卖猪肉的揸住把刀，我话要投诉佢秤唔准",
        "停在小区的车被电动车刮了，物业不给调监控",
    ],
)
def test_ordinary_requests_a_review_found_redirected_are_not(guangzhou_rules: Screener, text: str) -> None:
    decision = guangzhou_rules.screen(text)
    assert decision is None or decision.kind is not ScreenKind.EMERGENCY, text


@pytest.mark.parametrize(
    "text",
    [
        "我们天河区的垃圾站臭死了，比深圳差远了",
        "我们海珠区的公交太少了，深圳都比这方便",
        "我番禺的房子漏水，人在深圳上班",
    ],
)
def test_our_own_district_named_beside_another_city_stays_local(guangzhou_rules: Screener, text: str) -> None:
    decision = guangzhou_rules.screen(text)
    assert decision is None or decision.rule_id != "out_of_scope.jurisdiction", text


# ---- a letter that breaks off: its last sentence is read on its own (issue 16) ------------------
LETTER = (
    "尊敬的领导：我想反映我们小区楼下那家烧烤店的问题。这家店从去年开始营业，每天晚上从六点开到凌晨两点，"
    "油烟直接往我们楼上飘，窗户都不敢开，衣服晾在外面全是味道。我们跟老板讲过好几次，他说有执照，"
    "城管来过一次也没有用，过两天又照样摆到人行道上。我家老人有哮喘，孩子明年中考，晚上都睡不好，"
    "希望有关部门管一管，限制营业时间，安装油烟净化设备"
)


def _letter_model() -> TextModel:
    """Sure of 大出血 (a weight of 20) when it is most of what is read; every word of the letter
    is known and says nothing, so read whole the letter dilutes it below the threshold."""
    known = {t: [1.0, 0.0, 0.0] for t in terms(understood_form(LETTER + "先不写了，谢谢"))}
    return TextModel(
        {
            "heads": {"emergency": {"labels": ["none", "medical/120"], "bias": [2.0, 0.0]}},
            "terms": {**known, "大出血": [1.0, 0.0, 20.0]},
            "thresholds": {"emergency": 0.8},
        }
    )


def test_an_emergency_at_the_end_of_a_long_letter_is_found() -> None:
    screener = Screener.from_file(model=_letter_model())
    assert screener.screen(LETTER + "，我老婆大出血了") is None  # one sentence, read whole: diluted
    decision = screener.screen(LETTER + "。先不写了，我老婆大出血了")
    assert decision is not None and decision.kind is ScreenKind.EMERGENCY
    assert decision.numbers[0] == "120"


def test_a_letter_that_ends_quietly_stays_a_request() -> None:
    assert Screener.from_file(model=_letter_model()).screen(LETTER + "。先不写了，谢谢。") is None


# ---- a bare cry for help in an ordinary matter: the number first, and the request goes on ------
def test_a_cry_for_help_the_model_reads_as_ordinary_names_the_number_and_goes_on(unsure: Screener) -> None:
    decision = unsure.screen("救命啊 社保卡密码输错三次锁了 怎么解")
    assert decision is not None and decision.kind is ScreenKind.CAUTION
    assert decision.status is None and decision.numbers == ("110",)


@pytest.mark.parametrize("text", ["救命", "救命！有人拿刀砍人", "救命 我老婆大出血了"])
def test_a_cry_for_help_alone_or_with_a_situation_is_still_redirected(unsure: Screener, text: str) -> None:
    decision = unsure.screen(text)
    assert decision is not None and decision.kind is ScreenKind.EMERGENCY


def test_a_message_that_only_announces_a_request_gets_no_caution() -> None:
    """The model is unsure of anything with 反映 in it (as letters that turn into emergencies
    begin so); a message that says only that a request is coming tells it nothing yet."""
    model = TextModel(
        {
            "heads": {"emergency": {"labels": ["none", "medical/120"], "bias": [2.0, 0.0]}},
            "terms": {"反映": [1.0, 0.0, 2.0], "肚子疼": [1.0, 0.0, 2.0]},
            "thresholds": {"emergency": 0.8, "caution": 0.3},
        }
    )
    screener = Screener.from_file(model=model)
    for text in ("我想反映一个情况", "您好，我要反映个问题。"):
        assert screener.screen(text) is None, text
    decision = screener.screen("我想反映一个情况，孩子肚子疼得在床上打滚")
    assert decision is not None and decision.kind is ScreenKind.CAUTION
