"""China's cities and counties (intake/places.py) and the jurisdiction rule that reads them
(issue 16: another city's matter named by a district or county is refused, a local one is not)."""

from __future__ import annotations

import pytest

from intake.assembly import jurisdiction_of
from intake.kb.text import normalize
from intake.places import PlaceFinder, Places, default_places
from intake.screening import Screener


def test_the_longest_name_at_the_leftmost_point_is_found() -> None:
    finder = PlaceFinder(["沙坪坝", "沙坪坝区", "重庆"])
    assert list(finder.finditer("重庆沙坪坝区的火车站")) == [(0, 2, "重庆"), (2, 6, "沙坪坝区")]
    assert not PlaceFinder([]).search("重庆")


def test_a_short_name_knows_its_city_and_an_ambiguous_one_does_not() -> None:
    places = Places.parse("宝安\t440306\t深圳市\n白云区\t440111\t广州市\n白云区\t520113\t贵阳市\n")
    assert places.city_of("宝安") == "深圳市"
    assert places.city_of("白云区") is None
    assert places.names_within("4401") == ("白云区",)


def test_the_shipped_list_has_counties_by_their_short_names_but_not_everyday_words() -> None:
    places = default_places()
    assert places.city_of("宝安") == "深圳市"
    assert places.city_of("沙坪坝") == "重庆市"
    assert places.city_of("陵水") is not None  # 陵水黎族自治县: the ethnic part is not the name
    assert places.city_of("中山") == "中山市"  # the city, not 大连's 中山区
    for word in ("公安", "合作", "平安"):  # 公安县, 合作市, 平安区: "找公安" is no place
        assert places.city_of(word) is None
    assert places.city_of("海南区") == "乌海市"
    assert places.city_of("海南") is None  # a province names no city; not 乌海's 海南区 either


@pytest.fixture(scope="module")
def guangzhou() -> Screener:
    return Screener.from_file(jurisdiction=jurisdiction_of("guangzhou"), model=False)


@pytest.mark.parametrize(
    ("text", "city"),
    [
        ("我在宝安西乡租房，退租时房东扣了两千押金", "深圳市"),
        ("沙坪坝火车站出来坐了个黑车，说好五十下车要一百五", "重庆市"),
        ("江门鹤山一个工地欠了我老公四个月工钱", "江门市"),
        ("我在成都春熙路一家服装店买的衣服洗一次就掉色", "成都市"),  # Chengdu's street, not a local one
        ("厚街家具展订的沙发，交了五千订金三个月都没到货", "东莞市"),  # a town: screening.toml names its city
        ("孩子在东安县城读高中，租的房子房东押金不退", "永州市"),  # 东安县 runs on into 县城
    ],
)
def test_another_citys_matter_named_by_its_district_is_refused_with_that_city(
    guangzhou: Screener, text: str, city: str
) -> None:
    decision = guangzhou.screen(text)
    assert decision is not None and decision.rule_id == "out_of_scope.jurisdiction"
    assert city in decision.reply


@pytest.mark.parametrize(
    "text",
    [
        "今天早上三号线在隧道里停了十几分钟，广播也不说怎么回事",  # 隧道里 holds 道里 (Harbin)
        "白云区黄石东路的工地每天晚上施工到十二点",  # 贵阳 has a 白云区 too: the own one wins
        "北京路步行街的垃圾桶满了没人清",
        "中山二横路有个井盖松了",
        "祝你们一路平安，谢谢帮我找回钱包",
        "天河客运站发深圳的夜班大巴，过道摆满小板凳坐人，超载",  # the bus leaves from here
        "体育西路一家叫“深圳服装批发”的店，卖给我的羽绒服全是碎毛",  # a shop named after a city
    ],
)
def test_local_matters_that_contain_another_places_name_are_kept(guangzhou: Screener, text: str) -> None:
    decision = guangzhou.screen(text)
    assert decision is None or decision.rule_id != "out_of_scope.jurisdiction"


def test_a_county_hotline_refuses_its_prefectures_other_districts_but_not_its_province() -> None:
    quxian = Screener.from_file(jurisdiction=jurisdiction_of("quxian"), model=False)
    decision = quxian.screen("通川区一家眼镜店给我娃儿配的眼镜度数差了一百度")
    assert decision is not None and "达州市" in decision.reply
    kept = quxian.screen("四川省的新农合今年交多少钱，渠县在哪里交")
    assert kept is None or kept.rule_id != "out_of_scope.jurisdiction"


@pytest.mark.parametrize(
    ("text", "home", "elsewhere"),
    [
        # the writer's home town is no sign that the matter is local
        ("我是海珠区的一名家长，女儿在深圳南山租的房子押金不退", False, "深圳市"),
        ("我系番禺市桥人，而家喺深圳龙岗布吉租咗间屋返工，房东成日断水", False, "深圳市"),
        ("我们是白云区的，一家五口去清远英德那个漂流，救生衣都是烂的", False, "清远市"),
        # "我们X的" without a copula is ours, not where we are from
        ("我们天河区的垃圾站臭死了，比深圳差远了", True, "深圳市"),
        # the own city as the register a service is asked of, or as where the matter is
        ("车喺佛山上嘅牌，我系广州户口，过户要两个人一齐去车管所吗", True, "佛山市"),
        ("我人在佛山上班，天河区的房子楼上漏水到我家", True, "佛山市"),
    ],
)
def test_a_home_town_does_not_make_another_citys_matter_local(
    guangzhou: Screener, text: str, home: bool, elsewhere: str
) -> None:
    assert guangzhou.places_named(text) == (elsewhere, home)


def test_a_persons_given_name_is_no_district() -> None:
    """秀英 is a district of 海口 and a woman's name: 杨|秀英 (a surname, then the name) is a person."""
    quxian = Screener.from_file(jurisdiction=jurisdiction_of("quxian"), model=False)
    assert quxian.places_named("能不能请人帮我办一哈？我叫杨秀英，电话是侄儿的") == (None, False)


@pytest.mark.parametrize(
    ("hotline", "text", "city"),
    [
        # a name inside or right after an own place is part of it: 渠北镇 holds 锦州's 北镇,
        # 大亚湾西区 is 大亚湾's west, not 攀枝花's 西区
        ("quxian", "渠北镇的 在达州城头通川区一家健身房办了张卡，老板跑了", "达州市"),
        ("huizhou", "家住大亚湾西区，去大梅沙停车场停了两个钟收一百二", "深圳市"),
        # a town the rules name with its city is another city's for the others…
        ("huizhou", "我博罗园洲的，在新塘一间牛仔裤厂做车位，加班费只算八蚊一个钟", "广州市"),
        # …and a county written without its peoples' name is still found
        ("shaoyang", "城步儒林镇的，国庆带细伢子去龙胜看梯田，停车场收了一百块", "桂林市"),
    ],
)
def test_the_place_found_is_the_one_the_writer_means(hotline: str, text: str, city: str) -> None:
    screener = Screener.from_file(jurisdiction=jurisdiction_of(hotline), model=False)
    place, _ = screener.places_named(normalize(text))
    assert place == city


@pytest.mark.parametrize(
    ("hotline", "text"),
    [
        ("guangzhou", "增城新塘镇一间牛仔裤厂拖欠我们三个月工资"),  # 新塘 is Guangzhou's own town
        ("huizhou", "家住大亚湾西区，楼下烧烤店每晚油烟很大"),
        ("quxian", "渠北镇街上新开的烧烤摊天天开到半夜"),
        # a name in quotes is a shop's; a visitor says where they came from
        ("huizhou", "大亚湾澳头有间「汕尾海鲜大排档」，食完结账一斤花蟹收我三百八"),
        ("guangxi", "我是长沙来北海旅游的，昨晚在侨港风情街一家海鲜店吃饭被宰"),
        ("quxian", "我是广安来渠县打工的，厂里扣了我一个月工资不发"),  # came here to work (dev os8-0275)
        ("guangzhou", "我们几个都是湛江来广州读书的，宿舍楼下工地半夜还在打桩"),
    ],
)
def test_an_own_town_is_never_another_city(hotline: str, text: str) -> None:
    screener = Screener.from_file(jurisdiction=jurisdiction_of(hotline), model=False)
    assert screener.places_named(normalize(text)) == (None, False)
