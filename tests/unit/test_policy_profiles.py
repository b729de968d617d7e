"""Every number of the five profiles, next to the article text it comes from.

Each case quotes the regulation (/work/shared/regulations/*.txt); when a profile file changes a
number, the quote beside the failing case says what the article requires.
"""

from __future__ import annotations

import datetime as dt

import pytest

from intake.model import Category, Channel, Field
from intake.policy import EVALUATION_LEVELS, Limit, PolicyProfile, Unit, load_profile

C = Category


@pytest.fixture(scope="module")
def profiles() -> dict[str, PolicyProfile]:
    return {n: load_profile(n) for n in ("guangzhou", "huizhou", "shaoyang", "guangxi", "quxian")}


def amount(limit: Limit | None) -> tuple[int, str] | None:
    return None if limit is None else (limit.amount, limit.unit.value)


HANDLING = [
    # guangzhou §14: （一）咨询类工单，自收到工单之日起2个工作日内办理并回复；（二）非咨询类工单…10个工作日内
    ("guangzhou", C.CONSULTATION, 2, "咨询类工单，自收到工单之日起2个工作日内办理并回复"),
    ("guangzhou", C.HELP, 10, "非咨询类工单，自收到工单之日起10个工作日内办理并回复"),
    ("guangzhou", C.COMPLAINT, 10, "非咨询类工单，自收到工单之日起10个工作日内办理并回复"),
    ("guangzhou", C.REPORT, 10, "非咨询类工单，自收到工单之日起10个工作日内办理并回复"),
    ("guangzhou", C.SUGGESTION, 10, "非咨询类工单，自收到工单之日起10个工作日内办理并回复"),
    # huizhou §13.1
    ("huizhou", C.CONSULTATION, 2, "咨询类事项，自收到之日起 2个工作日内办结"),
    ("huizhou", C.HELP, 10, "求助、建议类事项，自收到之日起 10个工作日内办结"),
    ("huizhou", C.SUGGESTION, 10, "求助、建议类事项，自收到之日起 10个工作日内办结"),
    ("huizhou", C.COMPLAINT, 15, "投诉、举报类事项，自收到之日起 15个工作日内办结"),
    ("huizhou", C.REPORT, 15, "投诉、举报类事项，自收到之日起 15个工作日内办结"),
    # shaoyang §14
    ("shaoyang", C.CONSULTATION, 1, "咨询类事项（转办事项类），自签收后 1个工作日内办结"),
    ("shaoyang", C.HELP, 5, "求助、投诉、举报和建议意见类转办事项，自签收后 5 个工作日内办结"),
    ("shaoyang", C.COMPLAINT, 5, "求助、投诉、举报和建议意见类转办事项，自签收后 5 个工作日内办结"),
    ("shaoyang", C.REPORT, 5, "求助、投诉、举报和建议意见类转办事项，自签收后 5 个工作日内办结"),
    ("shaoyang", C.SUGGESTION, 5, "求助、投诉、举报和建议意见类转办事项，自签收后 5 个工作日内办结"),
    # guangxi §26.2
    ("guangxi", C.CONSULTATION, 2, "咨询类事项，在 2 个工作日内办结并答复"),
    ("guangxi", C.HELP, 3, "求助类事项，在 3 个工作日内办结并答复"),
    ("guangxi", C.SUGGESTION, 5, "建议类事项，在 5 个工作日内办结并答复"),
    ("guangxi", C.COMPLAINT, 10, "投诉类事项，在 10 个工作日内办结并答复"),
    ("guangxi", C.REPORT, 10, "举报类事项，在 10 个工作日内办结并答复"),
    # quxian §11.2
    ("quxian", C.CONSULTATION, 2, "咨询类工单办理时限为 2 个工作日"),
    ("quxian", C.HELP, 3, "求助、意见建议类工单办理时限为 3 个工作日"),
    ("quxian", C.SUGGESTION, 3, "求助、意见建议类工单办理时限为 3 个工作日"),
    ("quxian", C.COMPLAINT, 5, "投诉、举报类工单办理时限为 5 个工作日"),
    ("quxian", C.REPORT, 5, "投诉、举报类工单办理时限为 5 个工作日"),
]


@pytest.mark.parametrize(("name", "category", "days", "quote"), HANDLING)
def test_handling_limits(
    profiles: dict[str, PolicyProfile], name: str, category: C, days: int, quote: str
) -> None:
    assert amount(profiles[name].limits(category).handling) == (days, "wd"), quote


def test_shaoyang_complex_matters(profiles: dict[str, PolicyProfile]) -> None:
    """shaoyang §14.3: 情况复杂、难度较大的应在10个工作日内办结."""
    for category in (C.HELP, C.COMPLAINT, C.REPORT, C.SUGGESTION):
        assert amount(profiles["shaoyang"].limits(category).handling_complex) == (10, "wd")


@pytest.mark.parametrize(
    ("name", "dispatch", "sign", "ret", "clock", "quote"),
    [
        (
            "guangzhou",
            (1, "wd"),
            (2, "wd"),
            (2, "wd"),
            "next_workday_0000_after_last_dispatch",
            "§13 自登记工单之日起1个工作日内转派; §16 自收到工单之日起2个工作日内核查…申请退回; "
            "§15 从工单最后一次转派至承办单位的下一个工作日0时起",
        ),
        (
            "huizhou",
            (1, "wd"),
            (1, "wd"),
            (1, "wd"),
            "on_receipt",
            "§13.1 在 1个工作日内确认签收受理; §13.2 应在 1个工作日内说明理由; 自收到之日起 "
            "(dispatch: guangzhou fallback)",
        ),
        (
            "shaoyang",
            (2, "h"),
            (1, "wd"),
            (0, "wd"),
            "on_signing",
            "§13 受理后应在 2个小时内进行工单转派…1个工作日内进行签收…在签收当日将交办件…退回; §14 自签收后",
        ),
        (
            "guangxi",
            (24, "h"),
            None,
            (1, "wd"),
            "next_workday_after_dispatch",
            "§25.2 应在 24 小时内转派; §26.3 在签收后 1 个工作日内退单; §26.2 自派单的下一工作日起计算",
        ),
        (
            "quxian",
            (1, "wd"),
            (1, "wd"),
            (1, "wd"),
            "on_receipt",
            "§11.1 在 1 个工作日内进行转办; §11.2 接到工单 1 个工作日内签收…1 个工作日内退回",
        ),
    ],
)
def test_dispatch_sign_return_and_clock_start(
    profiles: dict[str, PolicyProfile],
    name: str,
    dispatch: tuple[int, str],
    sign: tuple[int, str] | None,
    ret: tuple[int, str],
    clock: str,
    quote: str,
) -> None:
    limits = profiles[name].limits(C.COMPLAINT)
    assert amount(limits.dispatch) == dispatch, quote
    assert amount(limits.sign) == sign, quote
    assert amount(limits.return_limit) == ret, quote
    assert limits.clock_start.value == clock, quote


def test_shaoyang_site_check_return() -> None:
    """shaoyang §13: 需经现场核实确认不属于本单位职责…应自签收后2个工作日内申请退回."""
    assert amount(load_profile("shaoyang").limits(C.COMPLAINT).return_site_check) == (2, "wd")


def test_urgent_classes(profiles: dict[str, PolicyProfile]) -> None:
    hz = profiles["huizhou"]
    # huizhou §13.3: 1个小时内抵达现场…在1个自然日内答复; 一般紧急…1个自然日内抵达现场…3个自然日内答复
    assert amount(hz.limits(C.COMPLAINT, "major").on_site) == (1, "h")
    assert amount(hz.limits(C.COMPLAINT, "major").handling) == (1, "nd")
    assert amount(hz.limits(C.HELP, "general").on_site) == (1, "nd")
    assert amount(hz.limits(C.HELP, "general").handling) == (3, "nd")
    # huizhou §13: 涉及重大紧急…以及一般紧急…的，原则上不得申请延期
    assert not hz.limits(C.HELP, "general").extendable
    gx = profiles["guangxi"]
    # guangxi §26.2.7: 承办单位应在 30 分钟内签收诉求工单，24 小时内办结答复; §26.3 突发类工单…30 分钟内退单
    assert amount(gx.limits(C.HELP, "emergency").sign) == (30, "min")
    assert amount(gx.limits(C.HELP, "emergency").handling) == (24, "h")
    assert amount(gx.limits(C.HELP, "emergency").return_limit) == (30, "min")
    qx = profiles["quxian"]
    # quxian §11.4: 特殊事项…3小时内反馈初步响应意见，2个工作日内反馈处理进度; 特殊紧急…2小时…1个工作日
    assert amount(qx.limits(C.HELP, "special").first_response) == (3, "h")
    assert amount(qx.limits(C.HELP, "special").progress) == (2, "wd")
    assert amount(qx.limits(C.HELP, "special_urgent").first_response) == (2, "h")
    assert amount(qx.limits(C.HELP, "special_urgent").progress) == (1, "wd")
    # shaoyang §20: 对油烟、噪音等扰民工单，应做到接到转派工单后1个小时内到达现场
    assert amount(profiles["shaoyang"].limits(C.COMPLAINT, "disturbance").on_site) == (1, "h")
    # guangzhou §14.3 defers to national/provincial rules: no urgent class, and the profile says why
    assert profiles["guangzhou"].urgent_classes == ()
    assert profiles["guangzhou"].urgent_basis.fallback == "none"


@pytest.mark.parametrize(
    ("name", "count", "length", "complex_length", "quote"),
    [
        (
            "guangzhou",
            2,
            (1, "original"),
            None,
            "§19 每次延期办理的最长期限与工单首次转派时确定的最长期限一致，延期次数不超过 2 次",
        ),
        (
            "huizhou",
            2,
            (1, "original"),
            None,
            "§13 延期办理不超过 2次，每次延期时限与相应类型事项的办理期限相同",
        ),
        ("shaoyang", 1, (10, "wd"), None, "§14 原则上只能延期 1次，一般不得超过 10 个工作日"),
        (
            "guangxi",
            1,
            (1, "original"),
            None,
            "§26.2.9 延长的时限原则上不得超过原办理时限的 1 倍 (count: shaoyang fallback)",
        ),
        (
            "quxian",
            1,
            (3, "wd"),
            (7, "wd"),
            "§11.3 延期时限一般不超过3个工作日，特别重大、复杂的事项原则上不超过7个工作日",
        ),
    ],
)
def test_extensions(
    profiles: dict[str, PolicyProfile],
    name: str,
    count: int,
    length: tuple[int, str],
    complex_length: tuple[int, str] | None,
    quote: str,
) -> None:
    ext = profiles[name].extensions
    assert ext.max_count == count, quote
    assert amount(ext.length) == length, quote
    assert amount(ext.length_complex) == complex_length, quote


def test_never_extended() -> None:
    # quxian §11.3: 咨询类工单原则上不予延期; huizhou §13: 紧急…原则上不得申请延期
    assert load_profile("quxian").extensions.never_categories == (C.CONSULTATION,)
    assert load_profile("huizhou").extensions.never_urgent
    # huizhou §13: 每次延期时限与相应类型事项的办理期限相同 → exact
    assert load_profile("huizhou").extensions.exact


def test_fallbacks_are_explicit_wherever_a_city_is_silent(profiles: dict[str, PolicyProfile]) -> None:
    # guangxi §26.2.9 names no count; quxian §11.3 names no count
    assert profiles["guangxi"].extensions.basis.fallback == "shaoyang §14"
    assert profiles["quxian"].extensions.basis.fallback == "shaoyang §14"
    # only guangzhou §12 gives supplement numbers
    for name in ("huizhou", "shaoyang", "guangxi", "quxian"):
        assert profiles[name].supplement.basis.fallback == "guangzhou §12"
        assert profiles[name].supplement.basis.reason
    assert profiles["guangzhou"].supplement.basis.fallback is None


def test_supplement_rules_guangzhou_12(profiles: dict[str, PolicyProfile]) -> None:
    """guangzhou §12: 3 次电话联系（每次至少间隔 15 分钟）…

    …自收到通知之日起 3 个自然日内补充…补充 1 次后仍不符合要求的.
    """
    for profile in profiles.values():
        s = profile.supplement
        assert s.window == dt.timedelta(days=3)
        assert s.max_supplements == 1
        assert s.phone_attempts == 3
        assert s.phone_spacing == dt.timedelta(minutes=15)
        assert s.attempts_for(Channel.PHONE) == 3
        assert s.attempts_for(Channel.WEBCHAT) == 1


def test_evaluation(profiles: dict[str, PolicyProfile]) -> None:
    gz = profiles["guangzhou"].evaluation
    # guangzhou §27: 审核通过后24个小时内…5个自然日内…不评价、逾期评价视为未评价
    assert gz.levels == EVALUATION_LEVELS == ("非常满意", "满意", "基本满意", "不满意", "非常不满意")
    assert gz.delay_max == dt.timedelta(hours=24)
    assert gz.reply_window == dt.timedelta(days=5)
    assert gz.silence_means == "not_evaluated"
    # guangzhou §29: 再次办理期限与办理期限相同，再次办理次数为 1 次，承办单位不得退回、延期
    assert gz.rehandling_rounds == 1
    assert amount(gz.rehandling_limit) == (1, "original")
    assert not gz.rehandling_extendable
    assert len(gz.skip_cases) == 6  # §29 (一)-(六)
    assert not gz.withdrawn_evaluated  # §27.2 诉求人撤回诉求的工单不纳入满意度评价
    # guangxi §27.2: 如诉求人 24 小时内未回复，则默认为满意
    gx = profiles["guangxi"].evaluation
    assert gx.reply_window == dt.timedelta(hours=24)
    assert gx.silence_means == "satisfied"
    # shaoyang §17: 重办时限为5个工作日
    assert amount(profiles["shaoyang"].evaluation.rehandling_limit) == (5, "wd")
    # quxian §12.1: 甄别时间原则为收到群众不满意评价后 2 个工作日
    qx = profiles["quxian"].evaluation
    assert amount(qx.unit_objection) == (2, "wd")
    assert qx.rehandling_rounds == 0


def test_warnings(profiles: dict[str, PolicyProfile]) -> None:
    # huizhou §26: 办理期限期满前1个工作日…黄牌预警; 期满后1个工作日…红牌警告
    hz = profiles["huizhou"].warnings
    assert (hz.enabled, hz.yellow_before, hz.red_after) == (True, 1, 1)
    # guangxi §34 names the cards without timing: huizhou's, said explicitly
    gx = profiles["guangxi"].warnings
    assert (gx.enabled, gx.basis.fallback) == (True, "huizhou §26")
    for name in ("guangzhou", "shaoyang", "quxian"):
        assert not profiles[name].warnings.enabled
        assert profiles[name].warnings.basis.fallback == "none"


def test_harassment_and_withdrawal(profiles: dict[str, PolicyProfile]) -> None:
    # huizhou §8: 实行 30个自然日内限制占用 12345电话资源的措施
    assert profiles["huizhou"].harassment_restriction_days == 30
    for name in ("guangzhou", "shaoyang", "guangxi", "quxian"):
        assert profiles[name].harassment_restriction_days == 0
        assert profiles[name].harassment.basis.reason
    # huizhou §17: 事项工单已转派至承办单位的，由承办单位退回至 12345 热线
    assert profiles["huizhou"].withdrawal.after_dispatch == "unit_returns"
    # guangzhou §9: 使用反映诉求时的电话号码或者账号…撤回诉求; §23.2 撤回举报类工单…可以继续核实和办理
    assert profiles["guangzhou"].withdrawal.same_identity
    assert profiles["guangzhou"].withdrawal.report_may_continue


def test_praise_is_read_and_closed_where_named(profiles: dict[str, PolicyProfile]) -> None:
    # guangzhou §23.1 表扬类工单，承办单位应当在阅处后结束工单; guangxi §25.1 and shaoyang §9.3 name praise
    for name in ("guangzhou", "guangxi", "shaoyang"):
        rules = profiles[name].category_rules(C.PRAISE)
        assert rules.read_and_close
        assert rules.handling is None
    for name in ("huizhou", "quxian"):
        assert C.PRAISE not in profiles[name].categories


def test_templates_and_real_name(profiles: dict[str, PolicyProfile]) -> None:
    gz = profiles["guangzhou"]
    complaint = gz.template(C.COMPLAINT)
    # huizhou §9 / guangzhou §11-12: 事项分类、称呼、联系方式、涉事主体和地址、事项内容及诉求要求
    assert {Field.SUBJECT, Field.ADDRESS, Field.CONTENT, Field.DEMAND, Field.PHONE} <= set(complaint.required)
    assert len(gz.template(C.CONSULTATION).required) < len(complaint.required)
    # guangzhou §10: 查询本人信息; 纠纷调解、侵权行为投诉 need name, ID number and contact
    for text, key in (
        ("我想查询本人社保缴费记录", "own_information"),
        ("邻里纠纷需要调解", "dispute_mediation"),
        ("有人冒用我的身份证，侵权投诉", "infringement_complaint"),
    ):
        matter = gz.real_name_matter_for(text)
        assert matter is not None and matter.key == key, text
        assert set(matter.required) == {Field.NAME, Field.ID_NUMBER, Field.PHONE}
    assert gz.real_name_matter_for("小区门口路灯不亮") is None
    assert gz.real_name.refused_means == "not_registered"


def test_every_limit_cites_an_article(profiles: dict[str, PolicyProfile]) -> None:
    for profile in profiles.values():
        for category in profile.categories:
            limits = profile.limits(category)
            for limit in (limits.dispatch, limits.sign, limits.return_limit, limits.handling):
                if limit is not None:
                    assert "§" in limit.source, (profile.name, category, limit)
                    assert limit.unit is not Unit.ORIGINAL
