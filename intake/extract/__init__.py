"""Understanding a citizen's message the way people write it.

``extract("我要投诉，幸福小区3栋楼下的烧烤店每晚油烟很大，到十二点还吵，希望城管处理")`` gives
category 投诉, subject 烧烤店, address 幸福小区3栋, the description as content and 希望城管处理
as the demand: the registration items of huizhou §9 and guangzhou §11-12. Rules plus jieba's
segmentation; every word list is data in intake/data/*.toml. Everything here is a pure
function of the text and never raises.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from intake.extract.category import classify, found_words
from intake.extract.entities import CLAUSE_END, find_dates, find_name, looks_like_name
from intake.extract.fields import (
    clean_value,
    id_candidates,
    label_words,
    labelled_spans,
    labelled_values,
    numbered_values,
    pattern_values,
)
from intake.extract.fields import parse_field_answer as _parse_field_answer
from intake.extract.intents import detect_intents
from intake.extract.lexicon import Lexicon, WordMatcher, by_identity, default_lexicon, load_lexicon, matcher
from intake.extract.segment import tokens
from intake.extract.text import compact, has_chinese, is_meaningless, normalize, to_simplified
from intake.model import Category, Field
from intake.phones import find_phones

__all__ = [
    "Extraction",
    "Lexicon",
    "default_lexicon",
    "extract",
    "extract_into",
    "fill_fields",
    "has_chinese",
    "is_meaningless",
    "load_lexicon",
    "normalize",
    "parse_field_answer",
    "to_simplified",
    "warm_up",
]

_PERSONAL_CLAUSE = re.compile(r"^(?:我的|本人)?(?:电话|手机|联系电话|联系方式|手机号|身份证号?码?|号码)")
_FILLERS = (
    "您好",
    "你好",
    "请问",
    "我要",
    "我想",
    "想要",
    "我",
    "一下",
    "一个",
    "个",
    "要",
    "想",
    "这里",
    "有",
)


@dataclass(frozen=True, slots=True)
class Extraction:
    """What one message says, as far as rules can tell.

    ``values`` gives the registration fields found; the flags are the dialog's intents.
    """

    text: str  # the normalised message
    category: Category | None = None
    category_confidence: float = 0.0
    category_candidates: tuple[Category, ...] = ()
    confident: bool = False  # confidence reached the threshold in categories.toml
    category_explicit: bool = False  # the citizen named the category ("我要投诉")
    subject: str | None = None
    address: str | None = None
    home_address: str | None = None
    content: str | None = None
    demand: str | None = None
    name: str | None = None
    phones: tuple[str, ...] = ()  # E.164, mobile and landline
    id_numbers: tuple[str, ...] = ()  # valid GB 11643 numbers only
    invalid_id_numbers: tuple[str, ...] = ()  # ID-like numbers that fail the check ("校验不通过")
    dates: tuple[str, ...] = ()  # dates and times as written
    wants_anonymity: bool = False
    hide: frozenset[Field] = field(default_factory=frozenset)  # items named to hide (guangzhou §9)
    withdraw: bool = False
    progress_query: bool = False
    person: bool = False
    cancel: bool = False
    greeting_only: bool = False
    thanks: bool = False
    supplement: bool = False
    has_chinese: bool = False

    @property
    def values(self) -> dict[Field, str]:
        """The registration fields found, keyed by Field, without empty ones."""
        pairs = {
            Field.NAME: self.name,
            Field.PHONE: self.phones[0] if self.phones else None,
            Field.ID_NUMBER: self.id_numbers[0] if self.id_numbers else None,
            Field.HOME_ADDRESS: self.home_address,
            Field.SUBJECT: self.subject,
            Field.ADDRESS: self.address,
            Field.CONTENT: self.content,
            Field.DEMAND: self.demand,
        }
        return {k: v for k, v in pairs.items() if v}


@dataclass(frozen=True, slots=True)
class _ContentWords:
    """The words _content cuts, in the order it cuts them, for one lexicon."""

    declaration: WordMatcher  # category names, greetings, anonymity words, fillers
    personal: WordMatcher  # label words (longest first), name markers, 我的 本人 在 是 为


@by_identity
def _content_words(lex: Lexicon) -> _ContentWords:
    declaration = (
        *(word for cues in lex.cues.values() for word in cues.explicit),
        *lex.intents["greeting"],
        *lex.intents["anonymity"],
        *_FILLERS,
    )
    labels = tuple(word for word, _ in label_words(lex.labels)[0])
    personal = (*labels, *lex.name_markers, "我的", "本人", "在", "是", "为")
    return _ContentWords(matcher(declaration), matcher(personal))


def _cut_in_order(text: str, words: WordMatcher) -> str:
    """``text`` with each word removed in turn (a removal can join the parts of a later word)."""
    for word in words.candidates(text):  # the others can never occur: no removal adds a character
        text = text.replace(word, "")
    return text


def _declaration_only(clause: str, lex: Lexicon) -> bool:
    """True for a clause that only names the category or greets: "我要投诉", "您好"."""
    return len(compact(_cut_in_order(clause, _content_words(lex).declaration))) == 0


_DIGIT_RUN = re.compile(r"[+0-9][0-9\s\-()]{5,}[0-9Xx]")
_CLAUSE_ENDS = re.compile(f"[{re.escape(CLAUSE_END)}]")
_CLAUSES = re.compile(rf"[{re.escape(CLAUSE_END)}\s]+")
_PUNCTUATION_RUN = re.compile(r"([，,。；;])[，,。；;\s]+")
_PHONE_LIKE = re.compile(r"[+0-9][0-9\s\-()]{6,}[0-9Xx]")


def _kept_runs(text: str, keep: list[bool]) -> list[str]:
    """The maximal stretches of ``text`` whose characters are kept."""
    runs: list[str] = []
    start, size = 0, len(text)
    while start < size:
        try:
            stop = keep.index(False, start)
        except ValueError:
            stop = size
        if stop > start:
            runs.append(text[start:stop])
        try:
            start = keep.index(True, stop)
        except ValueError:
            break
    return runs


def _content(text: str, removed: list[tuple[int, int]], lex: Lexicon) -> str | None:
    """The description: the text without the declaration, the demand and personal details.

    ``removed`` spans (demand, name, labelled values) are cut; a clause left with nothing but
    label words, fillers or a phone/ID number goes whole.
    """
    keep = [True] * len(text)
    for a, b in removed:
        keep[max(a, 0) : b] = [False] * (b - max(a, 0))
    words = _content_words(lex)
    start = 0
    ends = [m.start() for m in _CLAUSE_ENDS.finditer(text)]
    for i in (*ends, len(text)):  # each clause with the mark that ends it
        stop = min(i + 1, len(text))
        whole = all(keep[start:i])
        kept = (
            text[start:i]
            if whole
            else "".join(c for c, k in zip(text[start:i], keep[start:i], strict=True) if k)
        )
        rest = _cut_in_order(_DIGIT_RUN.sub("", kept), words.personal)
        touched = rest != kept or not whole
        if kept.strip() and (_declaration_only(kept, lex) or (touched and len(compact(rest)) == 0)):
            keep[start:stop] = [False] * (stop - start)
        start = i + 1
    # (normalised text has no control character, so no run holds the "\x00" the cuts used to be)
    parts = [clean_value(p) for p in _kept_runs(text, keep)]
    content = "，".join(p for p in parts if p)
    content = _PUNCTUATION_RUN.sub(r"\1", content).strip("，,；; ")
    return content if len(compact(content)) >= 2 else None


def implied_demand(text: str, lex: Lexicon) -> str | None:
    """The demand a clerk writes for a problem whose remedy goes without saying ("路灯坏了" →
    尽快维修; the lexicon's [[demand.implied]]), when the citizen stated none."""
    for demand, words in lex.implied_demands:
        if any(w in text for w in words):
            return demand
    return None


def extract(text: str, lexicon: Lexicon | None = None) -> Extraction:
    """Understand one message (normalised first). Never raises on any text."""
    lex = lexicon or default_lexicon()
    t = normalize(text)
    if not t:
        return Extraction(text="")
    guess = classify(t, lex)
    intents = detect_intents(t, lex)
    found, used = pattern_values(t, lex)
    spans = labelled_spans(t, lex)
    labelled = {f: v for f, v, _, _ in reversed(spans)}
    found.update(labelled)
    valid_ids, invalid_ids = id_candidates(t)
    if Field.ADDRESS not in found and Field.HOME_ADDRESS in found and found_words(t, lex.locators, lex):
        found[Field.ADDRESS] = found[Field.HOME_ADDRESS]  # "我住幸福小区，楼下烧烤店很吵"
    removed = [*used.get(Field.DEMAND, ()), *used.get(Field.NAME, ()), *((a, b) for _, _, a, b in spans)]
    content = labelled.get(Field.CONTENT) or _content(t, removed, lex) or found.get(Field.DEMAND)
    phones = find_phones(t)
    return Extraction(
        text=t,
        category=guess.category,
        category_confidence=guess.confidence,
        category_candidates=guess.candidates,
        confident=guess.category is not None and guess.confidence >= lex.confident_at,
        category_explicit=guess.explicit,
        subject=found.get(Field.SUBJECT),
        address=found.get(Field.ADDRESS),
        home_address=found.get(Field.HOME_ADDRESS),
        content=content,
        demand=found.get(Field.DEMAND) or implied_demand(t, lex),
        name=found.get(Field.NAME),
        phones=tuple(phones),
        id_numbers=tuple(valid_ids),
        invalid_id_numbers=tuple(invalid_ids),
        dates=tuple(find_dates(t)),
        wants_anonymity=intents.wants_anonymity,
        hide=intents.hide,
        withdraw=intents.withdraw,
        progress_query=intents.progress_query,
        person=intents.person,
        cancel=intents.cancel,
        greeting_only=intents.greeting_only,
        thanks=intents.thanks,
        supplement=intents.supplement,
        has_chinese=has_chinese(t),
    )


def said_name(text: str) -> str | None:
    """The name a citizen gives in ``text`` by a marker ("我叫王小明", "我姓李", "姓名：…"), else None
    (never a bare leftover, as an answer to "您的称呼" would be)."""
    lex = default_lexicon()
    t = normalize(text)
    labelled = [v for f, v, _, _ in labelled_spans(t, lex) if f is Field.NAME and v]
    if labelled:
        return labelled[0]
    span = find_name(t, lex)
    return span.value if span is not None else None


def fill_fields(wanted: Sequence[Field], text: str, lexicon: Lexicon | None = None) -> dict[Field, str]:
    """Values for the asked fields from one reply to the one-time notice (guangzhou §12).

    In order of trust: "label：value" pairs, answers numbered like the prompt, values recognised
    by their shape (phone, ID, 我叫…, addresses, 希望…), then, when exactly one asked field is
    still open, whatever text is left. Only fields in ``wanted`` are returned.
    """
    lex = lexicon or default_lexicon()
    t = normalize(text)
    if not t or not wanted:
        return {}
    out: dict[Field, str] = {}
    spans = labelled_spans(t, lex)
    numbered = numbered_values(t, wanted)
    found, used_by = pattern_values(t, lex)
    # The citizen's own details are never the answer to another question: "我叫李四" given when
    # asked for the party involved is a name, not the party (issue 16).
    own = (Field.NAME, Field.PHONE, Field.ID_NUMBER)
    used = [(a, b) for _, _, a, b in spans] + [
        s for f, ss in used_by.items() if f in wanted or f in own for s in ss
    ]
    for f, v, _, _ in spans:
        if f in wanted:
            out.setdefault(f, v)
    for f, v in numbered.items():
        out.setdefault(f, v)
    # An address given without saying whose: it is the one that was asked for.
    for a, b in ((Field.ADDRESS, Field.HOME_ADDRESS), (Field.HOME_ADDRESS, Field.ADDRESS)):
        if a in wanted and b not in wanted and a not in found and b in found:
            found[a] = found.pop(b)
            used.extend(used_by.get(b, ()))
    for f, v in found.items():
        if f in wanted and f is not Field.CONTENT:
            out.setdefault(f, v)
    if numbered:
        return out
    clauses = [clean_value(c) for c in _CLAUSES.split(t)]
    if Field.NAME in wanted and Field.NAME not in out:
        name = next((c for c in clauses if looks_like_name(c, lex)), None)
        if name:
            out[Field.NAME] = name
            used.append((t.find(name), t.find(name) + len(name)))
    open_fields = [f for f in wanted if f not in out]
    if len(open_fields) == 1 and open_fields[0] not in (Field.PHONE, Field.ID_NUMBER):
        rest = _leftover(t, used, lex)
        if rest and not (open_fields[0] is Field.ADDRESS and _tells_action(t, used)):
            value = _parse_field_answer(open_fields[0], rest, lex)
            if value:
                out[open_fields[0]] = value
    return out


def _tells_action(text: str, used: list[tuple[int, int]]) -> bool:
    """The words left over hold a verb ("在我们小区乱倒建筑垃圾" tells the matter): not the one
    address asked for, which no place rule recognised in the reply ("学校门口" has no verb).
    The reply's own words, already cut (``tokens`` remembers them)."""
    return any(
        tok.flag.startswith("v") and not any(a <= tok.start < b for a, b in used) for tok in tokens(text)
    )


def _leftover(text: str, used: list[tuple[int, int]], lex: Lexicon) -> str:
    keep = [True] * len(text)
    for a, b in used:
        keep[max(a, 0) : b] = [False] * (b - max(a, 0))
    rest = "".join(c if k else " " for c, k in zip(text, keep, strict=True))
    for phone_like in _PHONE_LIKE.findall(rest):
        rest = rest.replace(phone_like, " ")
    for word in ("我叫", "我是", "电话", "手机", "地址在", "地址", "住在", "身份证", "号码"):
        rest = rest.replace(word, " ")
    parts = [clean_value(p) for p in _CLAUSES.split(rest)]
    return "，".join(p for p in parts if p and has_chinese(p))


def extract_into(
    existing: Mapping[Field, str], text: str, wanted: Sequence[Field] | None = None
) -> dict[Field, str]:
    """``existing`` plus what this reply adds; a labelled value ("地址：…") replaces an old one.

    ``wanted`` defaults to every field still empty in ``existing``.
    """
    merged = {f: v for f, v in existing.items() if v}
    asked = list(wanted) if wanted is not None else [f for f in Field if not merged.get(f)]
    lex = default_lexicon()
    labelled = labelled_values(normalize(text), lex)
    for f, v in fill_fields(asked, text, lex).items():
        merged.setdefault(f, v)
    merged.update(labelled)
    return merged


def parse_field_answer(field_: Field, text: str, lexicon: Lexicon | None = None) -> str | None:
    """The value for one asked field from a reply to that question alone, or None."""
    return _parse_field_answer(field_, normalize(text), lexicon or default_lexicon())


def warm_up() -> None:
    """Load the word lists, the segmenter and the converter now (at start-up), not in a turn.

    Raises:
        ConfigError: a keyword file in intake/data/ is wrong.
    """
    default_lexicon()
    tokens("初始化")
    to_simplified("體")
