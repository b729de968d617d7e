"""Each profile's urgent classes, read on the labelled corpus (issue 21).

A class is what its article names: huizhou §13.3 (重大紧急和重大安全隐患; 一般紧急和安全隐患),
shaoyang §20 (油烟、噪音等扰民), guangxi §26.2.7 (突发事件), quxian §11.4 (特殊事项; 特殊紧急事项);
guangzhou §14.3 names none. The inputs are messages of intake/data/corpus/ by id (GUIDE.md there),
each a city's own, and a few written here. A matter told as over, a question about the rules or an
outage announced ahead gets no class. Chat tickets and phone tickets take the class from the same
``ScreeningPort.urgent_class_of`` (the phone side: tests/integration/test_phone_tickets.py).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest

from intake.assembly import ScreeningPort
from intake.corpus import Record, load, product
from intake.dialog import DialogState, step
from intake.errors import ConfigError
from intake.model import Channel
from intake.policy import PROFILE_NAMES, PROFILES_DIR, load_profile


@cache
def port(city: str) -> ScreeningPort:
    return product(city).screening


@cache
def records() -> dict[str, Record]:
    return {r.id: r for r in load()}


def class_of(record_id: str) -> str | None:
    record = records()[record_id]
    return port(record.city).urgent_class_of(record.text)


@pytest.mark.parametrize(
    ("record_id", "urgent_class"),
    [
        # huizhou §13.3 重大紧急和重大安全隐患: on site within 1 hour
        ("hlp-0027", "major"),  # 河堤脚下往外冒水，怕是管涌
        ("em7-0194", "major"),  # 山坡裂了一条好长的缝，还在往下掉泥巴
        ("hlp-0368", "major"),  # 山泥傾瀉 (traditional characters)
        # huizhou §13.3 一般紧急和安全隐患: on site within 1 natural day
        ("em2-0291", "general"),  # 井盖不见了
        ("em1-0342", "general"),  # 湖边的护栏断了一大截
        ("hlp-0003", "general"),  # 大树倒咗拦住半边路
        ("os8-0103", "general"),  # 污水井冒水
        ("hlp-0255", "general"),  # 停水一天了，也没个通知
        ("f5b-0067", "general"),  # 成片停电，成条街都黑晒
        # shaoyang §20 油烟、噪音等扰民: on site within 1 hour
        ("os5-0196", "disturbance"),  # 火锅店油烟机直接对着居民楼
        ("f8c-0086", "disturbance"),  # 烧烤吵到凌晨，油烟往窗户里灌
        ("cmp-0004", "disturbance"),  # 广场舞噪音 (a letter)
        ("cmp-0234", "disturbance"),  # 麻将馆通宵打，吵得要命
        ("cmp-0228", "disturbance"),  # 音响一天放到晚
        # guangxi §26.2.7 突发事件: signed within 30 minutes, finished within 24 hours
        ("hlp-0133", "emergency"),  # 自来水管爆了，附近一片都没水了
        ("f5d-0086", "emergency"),  # 停电，整条街黑麻麻
        ("hlp-0132", "emergency"),  # 大树被台风刮倒，把整条路都横住了
        ("hlp-0229", "emergency"),  # 山体滑坡，埋了一段村道
        ("hlp-0286", "emergency"),  # 风暴潮，海水漫过海堤进村
        # quxian §11.4 特殊事项: 大面积停水、停电、停气及环境污染
        ("hlp-0358", "special"),  # 全村停电
        ("em2-0274", "special"),  # 这一片从早上就停气了
        ("rep-0359", "special"),  # 屠宰场的血水往渠江里放
        ("f5b-0139", "special"),  # 洗砂的泥浆水直接排到江里
        ("em3-0411", "special"),  # 炸鱼，死鱼浮了一片
        # quxian §11.4 特殊紧急事项: 突发自然灾害…
        ("hlp-0116", "special_urgent"),  # 滑坡了，后山垮下来
        ("hlp-0018", "special_urgent"),  # 河水涨起来漫进村了
        ("hlp-0327", "special_urgent"),  # 地震，土墙房子都裂了
        ("e12-0348", "special_urgent"),  # 路被昨天的塌方堵了
    ],
)
def test_a_matter_its_article_names_takes_its_class(record_id: str, urgent_class: str) -> None:
    assert class_of(record_id) == urgent_class


@pytest.mark.parametrize(
    "record_id",
    [
        "hlp-0143",  # huizhou: 物业 turned off the water over a fee dispute
        "em6-0223",  # huizhou: 停水第二天就修好了，速度快 (praise)
        "f5a-0169",  # huizhou: a burst pipe in the flat (the household's own)
        "em3-0349",  # huizhou: a factory's fumes; §13.3 names no pollution
        "em1-0344",  # shaoyang: 停水三天 — §20 asks 第一时间 and sets no period: no class
        "em2-0268",  # shaoyang: wires hanging low — a hazard, not §20's nuisance
        "hlp-0046",  # shaoyang: a flood — §12.2 routes it and sets no period
        "oos-0540",  # shaoyang: the fumes are gone now, thanks to 城管
        "f5c-0109",  # shaoyang: 吵了几句 is a quarrel, not noise
        "em3-0344",  # guangxi: a pothole waiting to be fixed is no 突发事件
        "hlp-0047",  # guangxi: a septic tank overflowing is no 突发事件
        "tk1-0172",  # guangxi: 上周六停电一整天, the loss asked for now
        "em5-0186",  # guangxi: 是地震吗 — a question
        "hlp-0185",  # guangxi: the kitchen's own pipe
        "f5d-0057",  # quxian: 停水 of a morning is not 大面积停水
        "hlp-0024",  # quxian: 老街停电一上午 is not 大面积停电
        "hlp-0117",  # quxian: a public toilet overflowing
        "em3-0408",  # quxian: a broken guardrail is no 突发事件
        "e12-0341",  # quxian: 洪水一周年 — a flood a year ago
    ],
)
def test_an_ordinary_matter_takes_no_class(record_id: str) -> None:
    assert class_of(record_id) is None


@pytest.mark.parametrize(
    ("city", "text", "urgent_class"),
    [
        # the findings of issue 21
        ("huizhou", "人民路口有个井盖缺失，很危险", "general"),
        ("huizhou", "井盖缺失", "general"),
        ("shaoyang", "楼下烧烤店油烟太大了，熏得窗户都不敢开", "disturbance"),
        ("shaoyang", "工地半夜施工噪音很大，吵得睡不着", "disturbance"),
        ("shaoyang", "我们小区突然停水了，到现在还没来水", None),
        ("quxian", "我们小区突然停水了，到现在还没来水", None),
        ("quxian", "全镇大面积停水了，到现在还没来水", "special"),
        ("guangxi", "我们小区突然停水了，到现在还没来水", "emergency"),
        ("guangzhou", "我们小区突然停水了，到现在还没来水", None),
        # over, a question, announced ahead, relief afterwards
        ("huizhou", "小区门口的井盖已经补上了", None),
        ("huizhou", "明天计划停水，什么时候恢复供水？", None),
        ("huizhou", "小区什么时候来水", None),
        ("guangxi", "下周会不会停水", None),
        ("guangxi", "停电通知在哪里看", None),
        ("guangxi", "昨天停电了，现在已经来电了", None),
        ("shaoyang", "噪音扰民归哪个部门管？", None),
        ("shaoyang", "晚上几点以后装修算扰民？", None),
        ("shaoyang", "之前反映的油烟问题已经解决了，谢谢", None),
        ("quxian", "下周大面积停水吗", None),
        ("quxian", "自然灾害救助怎么申请", None),
    ],
)
def test_over_asked_or_ahead_takes_no_class(city: str, text: str, urgent_class: str | None) -> None:
    assert port(city).urgent_class_of(text) == urgent_class


def test_guangzhou_names_no_class() -> None:
    """guangzhou §14.3 leaves tickets assigned by the state or province to their own rules."""
    assert load_profile("guangzhou").urgent_classes == ()
    urgent = [r for r in records().values() if r.city == "guangzhou" and r.urgent]
    assert len(urgent) > 100
    assert [r.id for r in urgent if port("guangzhou").urgent_class_of(r.text)] == []


def test_consultations_take_no_class() -> None:
    """Every question of the corpus (kb, and tickets labelled 咨询) is in no class, in every city."""
    questions = [
        r for r in records().values() if r.kind == "kb" or (r.kind == "ticket" and r.category == "咨询")
    ]
    assert len(questions) > 1000
    assert [r.id for r in questions if port(r.city).urgent_class_of(r.text)] == []


@pytest.mark.parametrize("name", PROFILE_NAMES)
def test_every_class_cites_its_article(name: str) -> None:
    profile = load_profile(name)
    for urgent in profile.urgent_classes:
        limits = (urgent.sign, urgent.return_limit, urgent.on_site, urgent.first_response, urgent.progress)
        assert urgent.source.startswith(f"{name} §")
        assert all(x.source.startswith(f"{name} §") for x in (*limits, urgent.handling) if x is not None)
        assert urgent.source.removeprefix(f"{name} ") in str(profile.urgent_basis)  # [urgent] source


def test_the_dialog_registers_a_nuisance_in_its_class() -> None:
    """No screening rule flags 油烟 or 噪音: the profile's words alone put the draft in shaoyang
    §20's class."""
    parts = product("shaoyang")
    result = step(
        DialogState(),
        "双清区东风路88号楼下烧烤店每晚油烟很大，熏得窗户都不敢开",
        parts.context(Channel.WEBCHAT),
    )
    assert result.state.urgent_class == "disturbance"


def test_a_class_pattern_that_does_not_compile_is_refused(tmp_path: Path) -> None:
    text = (PROFILES_DIR / "huizhou.toml").read_text(encoding="utf-8")
    assert '"马蜂|胡蜂' in text
    path = tmp_path / "x.toml"
    path.write_text(text.replace('"马蜂|胡蜂', '"(马蜂|胡蜂', 1), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"urgent\.general\.keywords: bad pattern"):
        load_profile(str(path))


def test_a_kind_screening_does_not_know_is_refused(tmp_path: Path) -> None:
    text = (PROFILES_DIR / "huizhou.toml").read_text(encoding="utf-8")
    path = tmp_path / "x.toml"
    path.write_text(text.replace('"sewage_overflow"', '"sewage"', 1), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"urgent\.general\.kinds: \['sewage'\]"):
        ScreeningPort(port("huizhou").screener, load_profile(str(path)))
