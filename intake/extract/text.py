"""Text clean-up before understanding: one form for what citizens type many ways."""

from __future__ import annotations

import functools
import re
import unicodedata
from typing import Any

__all__ = [
    "chinese_count",
    "compact",
    "has_chinese",
    "is_meaningless",
    "normalize",
    "occurrences",
    "to_simplified",
]

# Chinese punctuation is kept as typed (agents read the content); NFKC would make it ASCII.
_KEEP = re.compile(r"([，：；？！（）])")
_DROP_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})
_KEEP_CONTROLS = frozenset({"\n", "\t", "\r"})
_BLANKS = re.compile(r"[^\S\n]+")
_NEWLINES = re.compile(r" ?\n[\s]*")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ebef]")
# [^\W_] is exactly the characters whose Unicode category is a letter (L*) or a number (N*): both
# come from the same character database (checked over every code point).
_NOT_LETTER_OR_DIGIT = re.compile(r"[\W_]+")
# Whole texts remembered: a turn normalises and converts the same message several times
# (is_meaningless, understand, screening, the knowledge base).
_CACHED_TEXTS = 256


@functools.cache
def _converter() -> Any:
    import opencc  # imported lazily: loading its dictionaries costs a few milliseconds

    return opencc.OpenCC("tw2sp")


def to_simplified(text: str) -> str:
    """Traditional → mainland simplified with OpenCC's ``tw2sp`` profile: characters and wording
    (我要投訴 → 我要投诉, 這裡著火了 → 这里着火了, 網路 → 网络)."""
    if text.isascii():
        return text
    return _to_simplified(text)


@functools.lru_cache(maxsize=_CACHED_TEXTS)
def _to_simplified(text: str) -> str:
    try:
        out = str(_converter().convert(text))
        # tw2sp's character table chains a few variants (薴 → 苧 → 苎, 麼 → 么 → 幺): convert until
        # nothing changes, so that a normalised text normalises to itself.
        for _ in range(3):
            again = str(_converter().convert(out))
            if again == out:
                break
            out = again
        return out
    except Exception:  # a converter failure must not stop intake: the text stays as it was
        return text


def normalize(text: str) -> str:
    """The one form of a citizen's text that understanding works on.

    NFKC (full-width digits and letters → ASCII, but Chinese punctuation kept), control and
    invisible format characters removed, traditional → simplified, blanks collapsed to one space
    and blank lines to one line break. Never raises, whatever the input.
    """
    if not text:
        return ""
    return _normalize(text)


@functools.lru_cache(maxsize=_CACHED_TEXTS)
def _normalize(text: str) -> str:
    s = text.encode("utf-8", "ignore").decode("utf-8")  # drops lone surrogates
    if not s.isascii():  # NFKC leaves ASCII as it is
        s = "".join(
            unicodedata.normalize("NFKC", part) if i % 2 == 0 else part
            for i, part in enumerate(_KEEP.split(s))
        )
    # A printable text has no character of the dropped categories (C*, which are all non-printable).
    if not s.isprintable():
        s = "".join(c for c in s if c in _KEEP_CONTROLS or unicodedata.category(c) not in _DROP_CATEGORIES)
    s = s.replace("\r\n", "\n").replace("\r", "\n")
    s = to_simplified(s)
    s = _BLANKS.sub(" ", s)
    s = _NEWLINES.sub("\n", s)
    return s.strip()


def chinese_count(text: str) -> int:
    """How many Chinese characters the text has (digits and letters describe no matter alone)."""
    return len(_CJK.findall(text))


def has_chinese(text: str) -> bool:
    """True when the text has at least one Chinese character."""
    return _CJK.search(text) is not None


def compact(text: str) -> str:
    """Letters and digits only, lower-case: how long a message "really" is."""
    return _NOT_LETTER_OR_DIGIT.sub("", text.lower())


def occurrences(text: str, word: str) -> list[int]:
    """Where each non-overlapping occurrence of ``word`` starts, left to right (as re.finditer)."""
    out: list[int] = []
    at = text.find(word)
    while at >= 0:
        out.append(at)
        at = text.find(word, at + max(len(word), 1))
    return out


def is_meaningless(text: str) -> bool:
    """True for a message with no letter or digit at all: empty, blanks, emoji, punctuation.

    The dialog answers those with one polite line instead of starting a request.
    """
    return not compact(normalize(text))
