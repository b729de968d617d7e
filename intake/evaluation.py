"""The citizen's satisfaction reply, read (CONTRACT.md "Satisfaction evaluation").

The prompt offers exactly ``1 非常满意 2 满意 3 基本满意 4 不满意 5 非常不满意``. A reply of the digit or
the words selects an option; anything else gets one short re-ask and counts as invalid. The
result feeds the handling unit's assessment and, when the citizen is dissatisfied, a follow-up
(回访), so this parser prefers "I don't know" (``None`` → re-ask) to a guess.

Rules, in the order they are applied (each one has a row in tests/unit/test_evaluation.py):

* Text is NFKC-folded (full-width ``２`` → ``2``, ``①`` → ``1``), a handful of traditional
  characters are folded to simplified (``滿意`` → ``满意``), whitespace is removed.
* A **digit is the option number**, never a score: ``1`` is 非常满意 and ``5`` is 非常不满意. A
  digit written *as a score* (``5分``, ``5星``, ``10分``) is ``None``: on a score scale 5 is the
  best, on our option list it is the worst, so reading either way would be a guess.
* Only a lone digit ``1``–``5`` counts. ``0``, ``6``–``9`` and two-digit runs (``12``, ``1 2``
  written together) are ``None``; runs of three or more digits (``12345``, a ticket or phone
  number) and quantities (``1天就修好了``, ``3号楼``) are not an answer and are ignored.
* The option words are found longest first, so ``非常不满意`` is not read as ``不满意`` or ``满意``.
* Mild negation (``不太满意``, ``不是很满意``, ``不怎么满意``, ``没那么满意``, ``有点不满意``) is
  ``不满意``: it states dissatisfaction, only politely, and it is the mildest negative option.
  Reading it as 基本满意 would turn a complaint into a positive mark.
* Strong intensifiers that mean "非常" (``十分``, ``特别``, ``极其``, ``超级``, ``万分``, ``太…了``)
  raise ``满意``/``不满意`` to ``非常满意``/``非常不满意``.
* Weak or vague degree words (``很``, ``挺``, ``蛮``, ``比较``, ``还算``, ``相当``, ``一般``)
  sit between two options (很满意: 满意 or 非常满意?), so they give ``None``.
* Everything found must agree: ``1 非常满意`` is 非常满意, ``满意也不满意`` and ``1 2`` are ``None``.
* Replies longer than :data:`MAX_ANSWER_CHARS` are a new matter, not an answer: ``None``.

Several tickets awaiting an answer: the prompt labels each with a short reference and the
citizen puts it in front of (or after) the answer. References are a **letter** (``A`` … ``Z``,
the recommended label: it cannot be mistaken for an option digit), counted only at either end
of the reply or right before an answer (so "满意，A区的灯修好了" names no ticket), or a **number
with a marker** (``#3``, ``3号``, ``第3件``): a bare number would collide with the option digits.
``A 2``, ``A2``, ``a：满意``, ``#3 1``, ``3号 满意`` all work; two different references in one reply
give ``(None, None)``. :func:`ref_label` makes the labels and :func:`ref_index` maps a reference
back to the position in the prompt's list; the caller re-asks when that position was not listed.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from enum import StrEnum

from intake.model import StoredTicket, TicketBrief, TicketStatus

__all__ = [
    "MAX_ANSWER_CHARS",
    "PROMPT_OPTIONS",
    "Level",
    "is_dissatisfied",
    "parse_evaluation",
    "parse_evaluation_with_ref",
    "ref_index",
    "ref_label",
]

PROMPT_OPTIONS = "1 非常满意 2 满意 3 基本满意 4 不满意 5 非常不满意"
MAX_ANSWER_CHARS = 200


class Level(StrEnum):
    """The five options, in the prompt's order; the value is the contract's word."""

    VERY_SATISFIED = "非常满意"
    SATISFIED = "满意"
    BASICALLY_SATISFIED = "基本满意"
    DISSATISFIED = "不满意"
    VERY_DISSATISFIED = "非常不满意"

    @property
    def digit(self) -> int:
        """The option number shown in the prompt (1 … 5)."""
        return _ORDER.index(self) + 1

    @classmethod
    def from_digit(cls, digit: int) -> Level:
        """The option with that number. Raises ValueError outside 1 … 5."""
        if not 1 <= digit <= len(_ORDER):
            raise ValueError(f"no option {digit}")
        return _ORDER[digit - 1]


_ORDER: tuple[Level, ...] = (
    Level.VERY_SATISFIED,
    Level.SATISFIED,
    Level.BASICALLY_SATISFIED,
    Level.DISSATISFIED,
    Level.VERY_DISSATISFIED,
)


def is_dissatisfied(level: Level | None) -> bool:
    """True for 不满意 and 非常不满意: the answers that call for a follow-up visit."""
    return level in (Level.DISSATISFIED, Level.VERY_DISSATISFIED)


# Traditional (and Japanese) forms of the characters that occur in answers.
_TO_SIMPLIFIED = str.maketrans(
    {
        "滿": "满",
        "満": "满",
        "號": "号",
        "個": "个",
        "極": "极",
        "較": "较",
        "夠": "够",
        "還": "还",
        "別": "别",
        "萬": "万",
        "為": "为",
        "點": "点",
        "麼": "么",
        "沒": "没",
        "謝": "谢",
        "於": "于",
        "實": "实",
        "對": "对",
        "說": "说",
        "這": "这",
        "樣": "样",
    }
)

# Longest first: 非常不满意 must win over 不满意 and 满意.
_WORD = re.compile(r"非常不满意|非常满意|基本上?满意|不满意|满意")
_WORD_LEVEL = {
    "非常不满意": Level.VERY_DISSATISFIED,
    "非常满意": Level.VERY_SATISFIED,
    "基本满意": Level.BASICALLY_SATISFIED,
    "基本上满意": Level.BASICALLY_SATISFIED,
    "不满意": Level.DISSATISFIED,
    "满意": Level.SATISFIED,
}
_MILD_NEGATION = re.compile(
    r"(?:不太|不大|不怎么|不是很|不是太|不是特别|不很|不够|不算|没那么|没有那么|没多)$"
)
_MILDLY = re.compile(r"(?:有点|有些|有一点|稍微|稍|略微|略)$")  # 有点不满意: the mildest negative
_DOUBLE_NEGATION = re.compile(r"(?:不是|没有|没|并非|并不是|并不)$")
_STRONG = re.compile(r"(?:十分|特别|极其|极为|极度|超级|万分|太|极|超)$")
_VAGUE = re.compile(r"(?:很|挺|蛮|比较|较为|较|还算|还|相当|算是|一般|有点|有些|稍微)$")
_DIGIT_RUN = re.compile(r"\d+")
_WHITESPACE = re.compile(r"\s+")
# A number followed by one of these is a date, time or amount ("1天就修好了"), not an answer.
_QUANTITY_AFTER = re.compile(
    r"^(?:分钟|月|日|号|点|天|次|个|年|元|块|周|小时|栋|楼|层|单元|室|人|辆|岁|米|公里)"
)
_SCORE_AFTER = re.compile(r"^(?:分|星|颗星|points?|pts?|stars?)", re.I)


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).translate(_TO_SIMPLIFIED).lower()


def _normalize(text: str) -> str:
    return _WHITESPACE.sub("", _fold(text))


def _word_level(word: str, before: str) -> Level | None:
    """The option a word selects given the degree word just before it; None when ambiguous."""
    level = _WORD_LEVEL[word]
    if level is Level.SATISFIED:
        if _MILD_NEGATION.search(before):
            return Level.DISSATISFIED
        if _DOUBLE_NEGATION.search(before) or before.endswith("不"):
            return None
    if level is Level.DISSATISFIED:
        if _DOUBLE_NEGATION.search(before):
            return None  # 没有不满意, 并不是不满意: no option says that
        if _MILDLY.search(before):
            return Level.DISSATISFIED
    if level in (Level.SATISFIED, Level.DISSATISFIED):
        if _STRONG.search(before):
            return Level.VERY_SATISFIED if level is Level.SATISFIED else Level.VERY_DISSATISFIED
        if _VAGUE.search(before):
            return None  # 很满意: 满意 or 非常满意? not ours to guess
        return level
    if _DOUBLE_NEGATION.search(before) or before.endswith("不"):
        return None  # 不非常满意, 不是基本满意
    return level


def _word_levels(text: str) -> list[Level | None]:
    """Each option word found (longest first), adjusted by the degree word just before it."""
    return [_word_level(m.group(0), text[max(0, m.start() - 4) : m.start()]) for m in _WORD.finditer(text)]


def _digit_levels(text: str) -> list[Level | None]:
    """The option digits in the text; a score-like or out-of-range number is None."""
    found: list[Level | None] = []
    for m in _DIGIT_RUN.finditer(text):
        run, after = m.group(0), text[m.end() :]
        if len(run) >= 3 or _QUANTITY_AFTER.match(after):
            continue  # 12345, a ticket or phone number, "1天": not an answer
        if _SCORE_AFTER.match(after) or len(run) == 2 or run not in "12345":
            found.append(None)
            continue
        found.append(Level.from_digit(int(run)))
    return found


def parse_evaluation(text: str) -> Level | None:
    """The option a free-text satisfaction reply selects, or None when it selects none or is
    ambiguous (the caller then re-asks once, CONTRACT.md). Never raises."""
    if not isinstance(text, str):
        return None
    norm = _normalize(text)
    if not norm or len(norm) > MAX_ANSWER_CHARS:
        return None
    found = _word_levels(norm) + _digit_levels(norm)
    if not found:
        return None
    if None in found or len(set(found)) != 1:
        return None
    return found[0]


# A reference: a letter standing alone (A2, a：满意), "#3", "3号", "第3件" / "第三件".
_CN_NUMERAL = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10}
_REF = re.compile(
    r"(?<![a-z])#?([a-z])(?![a-z])"
    r"|#(\d{1,2})(?!\d)"
    r"|(?<!\d)(\d{1,2})(?:号|號)"
    r"|第(\d{1,2}|[一二三四五六七八九十])(?:件|个|单|号|项|条)?"
)


_WORDISH = re.compile(r"[^\W_]")
_ANSWER_AFTER = re.compile(r"\s*[:：.、]?\s*(?:\d|非常|满意|基本|不满意)")


def parse_evaluation_with_ref(text: str) -> tuple[str | None, Level | None]:
    """(reference, option) of a reply to a prompt that lists several tickets.

    The reference comes back normalized: an upper-case letter (``"A"``) or a number string
    (``"3"``); None when the reply names none (then the option is read from the whole text) or
    names two different ones (then nothing is guessed: ``(None, None)``).
    """
    if not isinstance(text, str):
        return None, None
    folded = _fold(text)
    if len(folded) > 2 * MAX_ANSWER_CHARS:
        return None, None
    refs: list[str] = []
    spans: list[tuple[int, int]] = []
    for m in _REF.finditer(folded):
        letter, hashed, numbered, ordinal = m.groups()
        if letter:
            # a letter is a reference at either end of the reply ("A 2", "满意 B") or right before
            # an answer ("A1 B2"), so that "满意，A区的灯修好了" does not name ticket A
            at_end = not _WORDISH.search(folded[: m.start()]) or not _WORDISH.search(folded[m.end() :])
            if not at_end and not _ANSWER_AFTER.match(folded, m.end()):
                continue
            refs.append(letter.upper())
        elif hashed or numbered:
            refs.append(str(int(hashed or numbered)))
        elif ordinal:
            refs.append(str(_CN_NUMERAL.get(ordinal) or int(ordinal)))
        spans.append(m.span())
    if not refs:
        return None, parse_evaluation(folded)
    if len(set(refs)) != 1:
        return None, None
    rest = folded
    for start, end in reversed(spans):
        rest = rest[:start] + " " + rest[end:]
    return refs[0], parse_evaluation(rest)


def ref_label(index: int) -> str:
    """The reference shown for the ``index``-th (0-based) ticket in a prompt: A, B, … Z."""
    if not 0 <= index < 26:
        raise ValueError("a prompt lists at most 26 tickets")
    return chr(ord("A") + index)


def ref_index(ref: str) -> int | None:
    """0-based position in the prompt's list for a reference from the parser ("A" or "1" → 0)."""
    if len(ref) == 1 and "A" <= ref <= "Z":
        return ord(ref) - ord("A")
    if ref.isdigit() and 1 <= int(ref) <= 99:
        return int(ref) - 1
    return None


def evaluation_refs(tickets: Sequence[StoredTicket | TicketBrief]) -> dict[int, str]:
    """A, B, C… for one sender's tickets waiting for an evaluation, oldest first: the short
    reference shown in the prompt when several wait on one channel (CONTRACT.md, issue 6)."""
    waiting = sorted(t.id for t in tickets if t.status is TicketStatus.COMPLETED)[:26]
    return {tid: chr(ord("A") + i) for i, tid in enumerate(waiting)}
