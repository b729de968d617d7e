"""Finding the registration items in free text: address, party involved, demand, name, dates.

Rules over jieba's words, with the word lists in intake/data/lexicon.toml. Each finder returns
spans (start, end) into the normalised text so the caller can tell what is left for the content.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from intake.extract.lexicon import Lexicon, by_identity, matcher
from intake.extract.segment import Token
from intake.extract.text import occurrences

__all__ = [
    "Span",
    "find_addresses",
    "find_dates",
    "find_demands",
    "find_name",
    "find_subject",
    "looks_like_name",
]

SENTENCE_END = "。！？!?；;\n"
CLAUSE_END = SENTENCE_END + "，,、：:"
_SENTENCE_ENDS = re.compile(f"[{re.escape(SENTENCE_END)}]")
_NUMERAL = "0-9零〇一二三四五六七八九十百千两"
_NUMBER = re.compile(rf"^[{_NUMERAL}]+$")
_CJK_WORD = re.compile(r"^[\u4e00-\u9fff]+$")
_NAME_FLAGS = frozenset({"n", "nr", "nz", "ns", "nt", "nrt", "nrfg", "a", "j", "vn", "ng", "an", "l", "i"})
_MODIFIER_FLAGS = _NAME_FLAGS | {"v", "nrfg", "eng"}
_STOP_WORDS = frozenset(
    {
        "投诉", "举报", "反映", "咨询", "求助", "建议", "表扬", "我要", "我想", "在", "于", "位于", "住",
        "到", "去", "从", "是", "有", "要", "想", "我", "我们", "你们", "他们", "家", "我家", "住在", "的",
        "了", "和", "与", "及", "或", "说", "问", "请问", "地址", "电话", "附近", "希望", "要求", "请求",
        "政府", "这个", "那个", "一家", "一个",
    }
)  # fmt: skip


_ROAD_SECTIONS = frozenset({"东", "西", "南", "北", "中", "东段", "西段", "南段", "北段", "中段"})


@dataclass(frozen=True, slots=True)
class Span:
    start: int
    end: int
    value: str
    home: bool = False  # an address the citizen lives at (住址), not where the matter happens


# -- addresses ------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _Word:
    """What the address and subject rules ask about a word: worked out once per word and lexicon
    (each token is asked several times, and the same words come back in every message)."""

    place: bool  # names a place by itself: 和平路, 天河区, 东风村
    bare_place: bool  # a place word that needs a name before it: 小区, 路, 花园
    unit: bool  # a number with its unit, one jieba word: 3栋, 12号, 三单元
    subject_head: bool  # can head the party involved: 烧烤店, 物业公司, 医生
    free: bool  # neither a stop word nor a locator
    cjk: bool  # Chinese characters only


_MAX_WORDS = 50_000  # words remembered per lexicon before starting over


@by_identity
def _words_seen(lex: Lexicon) -> dict[str, _Word]:
    return {}


def _words(toks: list[Token], lex: Lexicon) -> list[_Word]:
    """The facts of each token's word."""
    seen = _words_seen(lex)
    if len(seen) >= _MAX_WORDS:
        seen.clear()
    return [seen.get(t.word) or seen.setdefault(t.word, _learn(t.word, lex)) for t in toks]


def _learn(word: str, lex: Lexicon) -> _Word:
    return _Word(
        place=_names_place(word, lex),
        bare_place=_needs_name(word, lex),
        unit=_number_with_unit(word, lex),
        subject_head=_heads_subject(word, lex),
        free=word not in _STOP_WORDS and word not in lex.locators,
        cjk=bool(_CJK_WORD.match(word)),
    )


def _place_suffix(word: str, lex: Lexicon) -> str | None:
    """The longest address suffix ending ``word`` (the first in the longest-first list)."""
    return matcher(lex.address_suffixes).suffix_of(word)


def _names_place(word: str, lex: Lexicon) -> bool:
    """和平路, 天河区, 东风村 (not 政府, 超市, 知道)."""
    suffix = _place_suffix(word, lex)
    if suffix is None or word in lex.not_places or word == suffix or not _CJK_WORD.match(word):
        return False
    return not (suffix in lex.weak_suffixes and len(word) < 3)


def _needs_name(word: str, lex: Lexicon) -> bool:
    """小区, 路, 花园: a place word that needs a name before it (幸福小区, 人民路)."""
    return word in lex.address_suffixes or (word in lex.not_places and _place_suffix(word, lex) is not None)


def _number_with_unit(word: str, lex: Lexicon) -> bool:
    """3栋, 12号, 三单元 when jieba kept them as one word."""
    units = matcher(lex.address_units)
    size = len(word)
    return any(
        n < size and word[size - n :] in units.members and _NUMBER.match(word[: size - n])
        for n in units.lengths
    )


def _heads_subject(word: str, lex: Lexicon) -> bool:
    if word in lex.subject_words:
        return True
    # the first of (*subject_suffixes, *roles) that ends the word decides
    suffix = matcher(lex.subject_suffixes).suffix_of(word)
    if suffix is None:
        suffix = matcher(lex.roles).suffix_of(word)
    if suffix is None:
        return False
    return len(word) > len(suffix) or len(suffix) >= 2


def _is_modifier(tok: Token, facts: _Word) -> bool:
    """A word that can name what follows it (幸福 in 幸福小区); ``facts`` are the token word's."""
    return tok.flag in _MODIFIER_FLAGS and facts.free and (facts.cjk or tok.flag == "eng")


def find_addresses(text: str, toks: list[Token], lex: Lexicon) -> list[Span]:
    """Addresses such as 幸福小区3栋, 广州市天河区和平路12号, 东风村, 人民路88号."""
    spans: list[Span] = []
    facts = _words(toks, lex)
    i = 0
    n = len(toks)
    while i < n:
        start_i = None
        if facts[i].place:
            start_i = i
            if len(toks[i].word) <= 2 and i > 0 and _is_modifier(toks[i - 1], facts[i - 1]):
                start_i = i - 1  # 人民|中路, 江南|西路: jieba cut the road's name from its section
        elif facts[i].bare_place and i > 0 and _is_modifier(toks[i - 1], facts[i - 1]):
            start_i = i - 1
            if (
                start_i > 0
                and _is_modifier(toks[start_i - 1], facts[start_i - 1])
                and "v" not in (toks[start_i].flag, toks[start_i - 1].flag)
                and len(toks[start_i - 1].word) + len(toks[start_i].word) <= 6
            ):
                start_i -= 1
        if start_i is None:
            i += 1
            continue
        j = i + 1
        while j < n:
            w = toks[j].word
            if w in lex.locators:
                break
            if facts[j].place or facts[j].bare_place or facts[j].unit:
                j += 1
                continue
            if (_NUMBER.match(w) or (toks[j].flag == "eng" and len(w) <= 2)) and j + 1 < n:
                nxt = toks[j + 1].word
                if nxt in lex.address_units or nxt in ("-", "—"):
                    j += 2
                    continue
                if _NUMBER.match(w) and j + 1 < n and nxt[:1] in lex.address_units:
                    j += 2
                    continue
            if _NUMBER.match(w) and toks[j - 1].word in ("-", "—"):
                j += 1
                continue
            if w in _ROAD_SECTIONS and j + 1 < n and (facts[j + 1].unit or _NUMBER.match(toks[j + 1].word)):
                j += 1  # 江南大道中50号, 解放路北3号: the road's section, then its number
                continue
            followed_by_place = j + 1 < n and (facts[j + 1].bare_place or facts[j + 1].place)
            if _is_modifier(toks[j], facts[j]) and followed_by_place:
                j += 2
                continue
            break
        start, end = toks[start_i].start, toks[j - 1].end
        value = text[start:end].strip("-— ")
        if len(value) >= 2:
            before = text[max(0, start - 6) : start]
            home = before.endswith(lex.home_markers)
            spans.append(Span(start, end, value, home))
        i = j
    return spans


# -- the party involved ------------------------------------------------------------------------
def find_subject(
    text: str,
    toks: list[Token],
    lex: Lexicon,
    skip: list[tuple[int, int]],
    addresses: list[Span] | None = None,
) -> Span | None:
    """The unit, shop or person involved (涉事主体): 烧烤店, 阳光物业公司, 李医生.

    Words inside ``skip`` (the demand, where "希望城管处理" names who should act) are ignored;
    a candidate that is not part of an address is preferred. ``addresses`` are
    ``find_addresses(text, toks, lex)`` when the caller already has them.
    """
    found: list[tuple[bool, Span]] = []
    if addresses is None:
        addresses = find_addresses(text, toks, lex)
    places = [(s.start, s.end) for s in addresses]
    facts = _words(toks, lex)
    for i, tok in enumerate(toks):
        if any(a <= tok.start < b for a, b in skip) or not facts[i].subject_head:
            continue
        k = i
        is_property = tok.word.startswith(("物业", "业委会", "居委会", "村委会"))
        while k > 0 and i - k < 3:
            prev = toks[k - 1]
            place = facts[k - 1].place or facts[k - 1].bare_place
            if (
                prev.word in ("某某", "某")
                or (_is_modifier(prev, facts[k - 1]) and prev.flag != "v" and not place)
                or (is_property and (place or _is_modifier(prev, facts[k - 1])))
            ):
                k -= 1
            else:
                break
        end = tok.end
        if i + 2 < len(toks) and toks[i + 1].word in ("的", "嘅") and facts[i + 2].subject_head:
            continue  # "12路公交车的王师傅": the person is the party, found next
        for nxt in toks[i + 1 : i + 3]:  # 派出所民警, XX快递公司
            if nxt.word not in lex.roles and nxt.word not in lex.subject_suffixes:
                break
            end = nxt.end
        start = toks[k].start
        in_address = any(a <= start and end <= b for a, b in places)
        found.append((in_address, Span(start, end, text[start:end])))
    if not found:
        return _pointed_party(text, skip, places)
    outside = [s for in_addr, s in found if not in_addr]
    return (outside or [s for _, s in found])[0]


# A party named by pointing at it, as people speak: "楼上那家", "对面那个厂", "东门那家烧烤",
# "嗰队跳舞嘅", "有家奶茶店", "有人在河边烧垃圾" (unknown, said so). The noun phrase runs to the
# first word that starts what the party does (在/用/天天/乱…), a particle or a pause.
_STOP = (
    r"在|喺|用|把|将|给|畀|从|又|还|都|就|也|天天|每天|每晚|晚晚|日日|成日|成晚|半夜|经常|总是|一直|乱|"
    r"的|嘅|咗|了|[，。,.!！?？、；;：:\s]|$"
)
_POINTED = re.compile(
    r"(?P<near>楼上|楼下|隔壁|对面|旁边)?(?P<that>[那这嗰呢])(?P<m>家|间|个|队|些|伙|户|台|辆|只|位|帮|班)"
    rf"(?P<np>[\u4e00-\u9fffA-Za-z]{{0,8}}?)(?={_STOP})"
)
_THERE_IS = re.compile(
    r"有(?P<m>人|个人|户人|伙人|一伙|一帮|几个人|家|间|个|辆|台|伙|帮|群|几台|几辆|只)"
    rf"(?P<np>[\u4e00-\u9fffA-Za-z]{{0,8}}?)(?={_STOP})"
)
_PEOPLE = ("人", "个人", "户人", "伙人", "几个人")
_NOT_PARTY = re.compile(
    r"^(时候|时|天|晚|次|样|边|里|月|年|礼拜|星期|阵|段|路口|地方|问题|事|情况|建议|想法|疑问|要求|诉求|意见|请求)"
)


def _pointed_party(text: str, skip: list[tuple[int, int]], places: list[tuple[int, int]]) -> Span | None:
    """A party pointed at rather than named (see _POINTED), outside the demand and addresses."""
    for pattern in (_POINTED, _THERE_IS):
        for m in pattern.finditer(text):
            if any(a <= m.start() < b for a, b in (*skip, *places)):
                continue
            np = m.group("np")
            if _NOT_PARTY.match(np):
                continue
            people = pattern is _THERE_IS and m.group("m") in _PEOPLE
            household = pattern is _POINTED and m.group("m") in ("家", "户") and m.group("near")
            if np or people or household:
                return Span(m.start(), m.end(), m.group(0))
    return None


# -- demand -------------------------------------------------------------------------------------
def _sentences(text: str) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    start = 0
    for m in _SENTENCE_ENDS.finditer(text):
        out.append((start, m.start()))
        start = m.start() + 1
    out.append((start, len(text)))
    return [(a, b) for a, b in out if b > a]


def _clause_start(text: str, i: int) -> bool:
    return i == 0 or text[i - 1] in CLAUSE_END or text[i - 1] == " "


# "希望城管处理，电话138…": the citizen's own details that follow are not part of the demand
_DETAILS_AFTER = re.compile(r"[，,；;、\s]+(?:我的|本人)?(?:电话|手机|联系|我叫|姓名|地址|身份证)")


def find_demands(text: str, lex: Lexicon) -> list[Span]:
    """What the citizen asks for: from 希望/要求/请… to the end of that sentence (诉求要求)."""
    spans: list[Span] = []
    if "请" not in text and not matcher(lex.demand_starts).occurs_in(text):
        return spans
    for a, b in _sentences(text):
        sentence = text[a:b]
        best: int | None = None
        for word in lex.demand_starts:
            for at in occurrences(sentence, word):
                if len(word) == 1 and not _clause_start(sentence, at):
                    continue
                if sentence[at + len(word) : at + len(word) + 1] in CLAUSE_END:
                    continue  # "我有个建议，希望…": the demand is what follows
                if best is None or at < best:
                    best = at
                break
        for at in occurrences(sentence, "请"):
            if best is not None and at >= best:
                break
            word_here = sentence[max(0, at - 1) : at + 2]
            if any(x in word_here for x in lex.not_after_qing):
                continue
            if _clause_start(sentence, at) or sentence[max(0, at - 2) : at] in ("麻烦", "恳请"):
                best = at
                break
        if best is not None:
            said = _DETAILS_AFTER.split(sentence[best:], maxsplit=1)[0]
            value = said.strip(" ，,。")
            if len(value) >= 2:
                spans.append(Span(a + best, a + best + len(said), value))
    return spans


# -- name -----------------------------------------------------------------------------------
def looks_like_name(candidate: str, lex: Lexicon) -> bool:
    """2-4 Chinese characters starting with a known surname, or a surname with a title (王先生)."""
    if not _CJK_WORD.match(candidate):
        return False
    body = candidate
    for title in lex.titles:
        if body.endswith(title) and len(body) > len(title):
            body = body[: -len(title)]
            break
    if any(s in body for s in ("小区", "社区", "公司", "居民", "业主", "路", "街", "村", "市", "县")):
        return False
    if body[:2] in lex.compound_surnames:
        return 2 <= len(body) <= 5 if body != candidate else True
    if body[0] not in lex.surnames:
        return False
    return 2 <= len(body) <= 4 or (body != candidate and len(body) == 1)


def find_name(text: str, lex: Lexicon) -> Span | None:
    """The citizen's name or 称呼 after 我叫, 我是, 姓名: or 我姓."""
    for marker in lex.family_markers:
        for at in occurrences(text, marker):
            marker_end = at + len(marker)
            rest = text[marker_end : marker_end + 6]
            surname = rest[:2] if rest[:2] in lex.compound_surnames else rest[:1]
            if not surname or (surname not in lex.surnames and surname not in lex.compound_surnames):
                continue
            after = rest[len(surname) :]
            title = next((t for t in lex.titles if after.startswith(t)), "")
            value = surname + title
            return Span(at, marker_end + len(value), value)
    for marker in lex.name_markers:
        for at in occurrences(text, marker):
            start = at + len(marker)
            while start < len(text) and text[start] in ":：是 ":
                start += 1
            end = start
            while end < len(text) and end - start < 6 and _CJK_WORD.match(text[end]):
                end += 1
            candidate = text[start:end]
            for stop in lex.name_stops:
                cut = candidate.find(stop, 1)
                if cut > 0:
                    candidate = candidate[:cut]
            if looks_like_name(candidate, lex):
                return Span(at, start + len(candidate), candidate)
    titled = _TITLED_BY_ROLE.search(text)  # "我是…9栋的业主刘女士"
    if titled is not None and looks_like_name(titled.group(1), lex):
        return Span(titled.start(1), titled.end(1), titled.group(1))
    return find_signature(text, lex)


# "……谢谢！\n住户 何女士 187 0203 6654", "业主代表：杨建军 电话：152 8181 6630": a letter signed at its end.
_SIGNED_PHONE = re.compile(r"(?:联系)?(?:电话|手机|方式)?[：:\s]*\+?\d[\d\s-]{6,}$")
# Who signs a letter: "住户 何女士", "业主代表：杨建军", "业主刘女士" mid-text.
_SIGNING_ROLES = ("联系人", "代表", "住户", "家属", "家长", "市民", "村民", "居民", "业主", "租户")
_TITLED_BY_ROLE = re.compile("(?:" + "|".join(_SIGNING_ROLES) + r")([\u4e00-\u9fff]{1,2}(?:先生|女士|小姐))")
_SIGNED_NAME = re.compile(r"[\u4e00-\u9fff]{2,6}$")
_DIGIT = "[0-9〇零一二三四五六七八九十]"
_DATE_LINE = re.compile(  # "2026年11月20日", "2026.11.20", "二〇二六年十一月"
    rf"(?:[0-9]{{4}}|[〇零一二三四五六七八九]{{4}})\s*[年./-]\s*{_DIGIT}{{1,3}}\s*[月./-]?(?:\s*{_DIGIT}{{1,3}}\s*[日号]?)?"
)
_SIGNED_BY = re.compile("(" + "|".join((*_SIGNING_ROLES, "员工", "职工", "署名", "签名")) + r")[：:\s]*$")


def find_signature(text: str, lex: Lexicon) -> Span | None:
    """The name a letter is signed with, in its last line: with a title (何女士), a phone after it
    (on its line, or alone on the next: "欧阳春花\n手机 139 …"), or a role before it (业主代表：,
    家属) — a bare last word may be 谢谢 (谢 is a surname). A date line at the very end is read past."""
    body = text.rstrip(" \n。.！!")
    phone_below = False
    for _ in range(2):  # "…\n欧阳春花\n手机 139 1234 5678\n2026年11月20日"
        nl = body.rfind("\n")
        last = body[nl + 1 :].strip()
        if nl < 0 or not (_DATE_LINE.fullmatch(last) or _SIGNED_PHONE.fullmatch(last)):
            break
        phone_below = phone_below or _SIGNED_PHONE.fullmatch(last) is not None
        body = body[:nl].rstrip(" \n。.！!")
    cut = max(body.rfind(c) for c in "\n。！!；;，,?？")
    line = body[cut + 1 :]
    if len(line) > (12 if phone_below else 40):  # a phone below a line of text signs nothing
        return None
    bare = _SIGNED_PHONE.sub("", line)
    phoned = bare != line or phone_below
    bare = bare.rstrip(" ：:，,")
    found = _SIGNED_NAME.search(bare)
    if found is None:
        return None
    candidate, before = found.group(0), bare[: found.start()]
    role = _SIGNED_BY.search(before) is not None
    for word in _SIGNING_ROLES:
        if candidate.startswith(word):  # "住户何女士": no space between
            candidate, role = candidate[len(word) :], True
    titled = any(candidate.endswith(t) for t in lex.titles)
    if not (titled or phoned or role) or not looks_like_name(candidate, lex):
        return None
    start = cut + 1 + found.start() + (found.end() - found.start() - len(candidate))
    return Span(start, start + len(candidate), candidate)


# -- dates and times ------------------------------------------------------------------------
_N = "[0-9零〇一二三四五六七八九十两]"
_DATE_PATTERNS = re.compile(
    "|".join(
        [
            r"[0-9]{4}[-/.][0-9]{1,2}[-/.][0-9]{1,2}日?",
            rf"(?:[0-9]{{4}}|{_N}{{4}})年(?:{_N}{{1,3}}月(?:{_N}{{1,3}}[日号])?)?",
            rf"{_N}{{1,3}}月(?:份|{_N}{{1,3}}[日号])?",
            r"(?:大前天|前天|昨天|今天|明天|后天|今晚|昨晚|今早|昨日|今日|上周|本周|这周|下周|上个月|这个月|本月"
            r"|每天|每晚|每周|每日|天天|周末|节假日|最近|近期)",
            r"(?:周|星期|礼拜)[一二三四五六日天]",
            rf"(?:凌晨|早上|上午|中午|下午|傍晚|晚上|半夜|深夜|夜里|夜间){_N}{{1,3}}[点时](?:半|{_N}{{1,3}}分?)?(?:钟)?",
            r"[0-9]{1,2}[点时](?:半|[0-9]{1,2}分?)?",
            r"[0-9]{1,2}:[0-5][0-9]",
            r"(?:十[一二]?|[二两]十[一二三四]?)[点时](?:半)?",
            r"(?:凌晨|早上|上午|中午|下午|傍晚|晚上|半夜|深夜|夜里|夜间)",
        ]
    )
)


def find_dates(text: str) -> list[str]:
    """Dates and times as written (2024年5月1日, 昨天, 每晚, 晚上十点, 22:30), in order."""
    return list(dict.fromkeys(m.group(0) for m in _DATE_PATTERNS.finditer(text)))[:20]
