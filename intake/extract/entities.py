"""Finding the registration items in free text: address, party involved, demand, name, dates.

Rules over jieba's words, with the word lists in intake/data/lexicon.toml. Each finder returns
spans (start, end) into the normalised text so the caller can tell what is left for the content.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from intake.extract.lexicon import Lexicon
from intake.extract.segment import Token

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
_NUMERAL = "0-9零〇一二三四五六七八九十百千两"
_NUMBER = re.compile(rf"^[{_NUMERAL}]+$")
_CJK_WORD = re.compile(r"^[\u4e00-\u9fff]+$")
_NAME_FLAGS = frozenset({"n", "nr", "nz", "ns", "nt", "nrt", "nrfg", "a", "j", "vn", "ng", "an", "l", "i"})
_STOP_WORDS = frozenset(
    {
        "投诉", "举报", "反映", "咨询", "求助", "建议", "表扬", "我要", "我想", "在", "于", "位于", "住",
        "到", "去", "从", "是", "有", "要", "想", "我", "我们", "你们", "他们", "家", "我家", "住在", "的",
        "了", "和", "与", "及", "或", "说", "问", "请问", "地址", "电话", "附近", "希望", "要求", "请求",
        "政府", "这个", "那个", "一家", "一个",
    }
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Span:
    start: int
    end: int
    value: str
    home: bool = False  # an address the citizen lives at (住址), not where the matter happens


# -- addresses ------------------------------------------------------------------------------
def _place_suffix(word: str, lex: Lexicon) -> str | None:
    return next((s for s in lex.address_suffixes if word.endswith(s)), None)


def _is_place(word: str, lex: Lexicon) -> bool:
    """A word that names a place by itself: 和平路, 天河区, 东风村 (not 政府, 超市, 知道)."""
    suffix = _place_suffix(word, lex)
    if suffix is None or word in lex.not_places or word == suffix or not _CJK_WORD.match(word):
        return False
    return not (suffix in lex.weak_suffixes and len(word) < 3)


def _is_bare_place(word: str, lex: Lexicon) -> bool:
    """A place word that needs a name before it: 小区, 路, 花园 (幸福小区, 人民路)."""
    return word in lex.address_suffixes or (word in lex.not_places and _place_suffix(word, lex) is not None)


def _is_modifier(tok: Token, lex: Lexicon) -> bool:
    return (
        tok.flag in _NAME_FLAGS | {"v", "nrfg", "eng"}
        and tok.word not in _STOP_WORDS
        and tok.word not in lex.locators
        and (bool(_CJK_WORD.match(tok.word)) or tok.flag == "eng")
    )


def _unit_after_number(word: str, lex: Lexicon) -> bool:
    """True for 3栋, 12号, 三单元 when jieba kept them as one word."""
    for unit in lex.address_units:
        if word.endswith(unit) and len(word) > len(unit) and _NUMBER.match(word[: -len(unit)]):
            return True
    return False


def find_addresses(text: str, toks: list[Token], lex: Lexicon) -> list[Span]:
    """Addresses such as 幸福小区3栋, 广州市天河区和平路12号, 东风村, 人民路88号."""
    spans: list[Span] = []
    i = 0
    n = len(toks)
    while i < n:
        tok = toks[i]
        start_i = None
        if _is_place(tok.word, lex):
            start_i = i
        elif _is_bare_place(tok.word, lex) and i > 0 and _is_modifier(toks[i - 1], lex):
            start_i = i - 1
            if (
                start_i > 0
                and _is_modifier(toks[start_i - 1], lex)
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
            if _is_place(w, lex) or _is_bare_place(w, lex) or _unit_after_number(w, lex):
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
            if (
                _is_modifier(toks[j], lex)
                and j + 1 < n
                and (_is_bare_place(toks[j + 1].word, lex) or _is_place(toks[j + 1].word, lex))
            ):
                j += 2
                continue
            break
        start, end = toks[start_i].start, toks[j - 1].end
        value = text[start:end].strip("-— ")
        if len(value) >= 2:
            before = text[max(0, start - 6) : start]
            home = any(before.endswith(m) for m in lex.home_markers)
            spans.append(Span(start, end, value, home))
        i = j
    return spans


# -- the party involved ------------------------------------------------------------------------
def _subject_head(word: str, lex: Lexicon) -> bool:
    if word in lex.subject_words:
        return True
    for suffix in (*lex.subject_suffixes, *lex.roles):
        if word.endswith(suffix):
            return len(word) > len(suffix) or len(suffix) >= 2
    return False


def find_subject(text: str, toks: list[Token], lex: Lexicon, skip: list[tuple[int, int]]) -> Span | None:
    """The unit, shop or person involved (涉事主体): 烧烤店, 阳光物业公司, 李医生.

    Words inside ``skip`` (the demand, where "希望城管处理" names who should act) are ignored;
    a candidate that is not part of an address is preferred.
    """
    found: list[tuple[bool, Span]] = []
    addresses = [(s.start, s.end) for s in find_addresses(text, toks, lex)]
    for i, tok in enumerate(toks):
        if any(a <= tok.start < b for a, b in skip) or not _subject_head(tok.word, lex):
            continue
        k = i
        is_property = tok.word.startswith(("物业", "业委会", "居委会", "村委会"))
        while k > 0 and i - k < 3:
            prev = toks[k - 1]
            place = _is_place(prev.word, lex) or _is_bare_place(prev.word, lex)
            if (
                prev.word in ("某某", "某")
                or (_is_modifier(prev, lex) and prev.flag != "v" and not place)
                or (is_property and (place or _is_modifier(prev, lex)))
            ):
                k -= 1
            else:
                break
        end = tok.end
        for nxt in toks[i + 1 : i + 3]:  # 派出所民警, XX快递公司
            if nxt.word not in lex.roles and nxt.word not in lex.subject_suffixes:
                break
            end = nxt.end
        start = toks[k].start
        in_address = any(a <= start and end <= b for a, b in addresses)
        found.append((in_address, Span(start, end, text[start:end])))
    if not found:
        return None
    outside = [s for in_addr, s in found if not in_addr]
    return (outside or [s for _, s in found])[0]


# -- demand -------------------------------------------------------------------------------------
def _sentences(text: str) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    start = 0
    for i, c in enumerate(text):
        if c in SENTENCE_END:
            out.append((start, i))
            start = i + 1
    out.append((start, len(text)))
    return [(a, b) for a, b in out if b > a]


def _clause_start(text: str, i: int) -> bool:
    return i == 0 or text[i - 1] in CLAUSE_END or text[i - 1] == " "


def find_demands(text: str, lex: Lexicon) -> list[Span]:
    """What the citizen asks for: from 希望/要求/请… to the end of that sentence (诉求要求)."""
    spans: list[Span] = []
    for a, b in _sentences(text):
        sentence = text[a:b]
        best: int | None = None
        for word in lex.demand_starts:
            for m in re.finditer(re.escape(word), sentence):
                if len(word) == 1 and not _clause_start(sentence, m.start()):
                    continue
                if best is None or m.start() < best:
                    best = m.start()
                break
        for m in re.finditer("请", sentence):
            if best is not None and m.start() >= best:
                break
            word_here = sentence[max(0, m.start() - 1) : m.start() + 2]
            if any(x in word_here for x in lex.not_after_qing):
                continue
            if _clause_start(sentence, m.start()) or sentence[max(0, m.start() - 2) : m.start()] in (
                "麻烦",
                "恳请",
            ):
                best = m.start()
                break
        if best is not None:
            value = sentence[best:].strip(" ，,。")
            if len(value) >= 2:
                spans.append(Span(a + best, b, value))
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
        for m in re.finditer(re.escape(marker), text):
            rest = text[m.end() : m.end() + 6]
            surname = rest[:2] if rest[:2] in lex.compound_surnames else rest[:1]
            if not surname or (surname not in lex.surnames and surname not in lex.compound_surnames):
                continue
            after = rest[len(surname) :]
            title = next((t for t in lex.titles if after.startswith(t)), "")
            value = surname + title
            return Span(m.start(), m.end() + len(value), value)
    for marker in lex.name_markers:
        for m in re.finditer(re.escape(marker), text):
            start = m.end()
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
                return Span(m.start(), start + len(candidate), candidate)
    return None


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
