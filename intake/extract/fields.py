"""Filling registration fields from a reply: "地址：…" labels, numbered answers, or plain text.

The one-time notice lists everything missing (huizhou §9, guangzhou §12) and the citizen answers
in one message, often as "我叫王小明，电话13800138000，地址在幸福小区3栋" or as numbered lines.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence

from intake.extract.entities import (
    CLAUSE_END,
    find_addresses,
    find_demands,
    find_name,
    find_subject,
)
from intake.extract.lexicon import Lexicon, WordMatcher, by_identity, matcher
from intake.extract.segment import tokens
from intake.extract.text import has_chinese, occurrences
from intake.idcard import find_id_candidates
from intake.model import Field
from intake.phones import find_phones, normalize_phone

__all__ = [
    "clean_value",
    "labelled_spans",
    "labelled_values",
    "numbered_values",
    "parse_field_answer",
    "pattern_values",
]

_SEPARATOR = re.compile(r"\s*(?:[:：]|是|为|在|叫)\s*")
_TRIM = " \t\n，,。.；;：:、！!？?~～-—"
_NUMBERED = re.compile(r"(?:^|(?<=[\s，,；;。]))([1-9])\s*[.、．)）]\s*")


# An ID-like number is 14 to 18 digits and a digit or X (idcard._CANDIDATE): a text without 14
# digits in a row holds none, and find_id_candidates (which folds every digit first) is skipped.
_ID_DIGITS = re.compile(r"\d{14}")


@functools.lru_cache(maxsize=256)
def id_candidates(text: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``find_id_candidates(text)`` as tuples, remembered: extract reads the same text twice."""
    if _ID_DIGITS.search(text) is None:
        return (), ()
    valid, invalid = find_id_candidates(text)
    return tuple(valid), tuple(invalid)


def clean_value(value: str) -> str:
    return value.strip(_TRIM)


@by_identity
def label_words(labels: Mapping[Field, tuple[str, ...]]) -> tuple[tuple[tuple[str, Field], ...], WordMatcher]:
    """Every label word with its field, longest first, and a matcher of the words (a lexicon's labels)."""
    pairs = sorted(((w, f) for f, ws in labels.items() for w in ws), key=lambda p: len(p[0]), reverse=True)
    return tuple(pairs), matcher(tuple(w for w, _ in pairs))


def _label_hits(text: str, lex: Lexicon) -> list[tuple[int, int, Field, bool]]:
    """(label start, value start, field, has colon) for every label followed by a separator."""
    words, any_label = label_words(lex.labels)
    if not any_label.occurs_in(text):
        return []
    taken = [False] * len(text)
    hits: list[tuple[int, int, Field, bool]] = []
    for word, field in words:
        for start in occurrences(text, word):
            end = start + len(word)
            if any(taken[start:end]):
                continue
            sep = _SEPARATOR.match(text, end)
            if sep is None or sep.end() >= len(text):
                continue
            taken[start:end] = [True] * (end - start)
            hits.append((start, sep.end(), field, ":" in sep.group(0) or "：" in sep.group(0)))
    return sorted(hits)


def labelled_spans(text: str, lex: Lexicon) -> list[tuple[Field, str, int, int]]:
    """(field, value, start, end) for values written after a label: "地址：幸福小区3栋", "电话是138…"."""
    hits = _label_hits(text, lex)
    out: list[tuple[Field, str, int, int]] = []
    for k, (label_start, value_start, field, colon) in enumerate(hits):
        limit = hits[k + 1][0] if k + 1 < len(hits) else len(text)
        long_value = colon and field in (Field.CONTENT, Field.DEMAND)
        ends = "\n；;" if long_value else CLAUSE_END
        end = next((i for i in range(value_start, limit) if text[i] in ends), limit)
        checked = _checked(field, clean_value(text[value_start:end]))
        if checked:
            out.append((field, checked, label_start, end))
    return out


def labelled_values(text: str, lex: Lexicon) -> dict[Field, str]:
    """The first labelled value of each field."""
    out: dict[Field, str] = {}
    for field, value, _, _ in labelled_spans(text, lex):
        out.setdefault(field, value)
    return out


def numbered_values(text: str, wanted: Sequence[Field]) -> dict[Field, str]:
    """Answers numbered like the prompt's list ("1. 王小明 2. 13800138000")."""
    marks = list(_NUMBERED.finditer(text))
    if len(wanted) < 2 or len(marks) < 2:
        return {}
    out: dict[Field, str] = {}
    for k, m in enumerate(marks):
        index = int(m.group(1)) - 1
        end = marks[k + 1].start() if k + 1 < len(marks) else len(text)
        if 0 <= index < len(wanted):
            value = _checked(wanted[index], clean_value(text[m.end() : end]))
            if value:
                out.setdefault(wanted[index], value)
    return out


_NAME_END = re.compile(r"\s|\d|电话|手机|联系|号码")


def _checked(field: Field, value: str) -> str | None:
    """A value fit for the field, or None: phones must parse; IDs are kept as typed for the check."""
    if not value:
        return None
    if field is Field.PHONE:
        return normalize_phone(value) or next(iter(find_phones(value)), None)
    if field is Field.NAME:  # "联系人：黄先生 138 2615 0947": the name stops before the number
        return _NAME_END.split(value, maxsplit=1)[0] or None
    if field is Field.ID_NUMBER:
        valid, invalid = id_candidates(value)
        both = valid or invalid
        return both[0] if both else None
    return value


def pattern_values(text: str, lex: Lexicon) -> tuple[dict[Field, str], dict[Field, list[tuple[int, int]]]]:
    """Values recognised by their shape, and the spans each field used."""
    out: dict[Field, str] = {}
    used: dict[Field, list[tuple[int, int]]] = {}
    phones = find_phones(text)
    if phones:
        out[Field.PHONE] = phones[0]
    valid, _ = id_candidates(text)
    if valid:
        out[Field.ID_NUMBER] = valid[0]
    name = find_name(text, lex)
    if name is not None:
        out[Field.NAME] = name.value
        used[Field.NAME] = [(name.start, name.end)]
    toks = tokens(text)
    demands = find_demands(text, lex)
    if demands:
        out[Field.DEMAND] = "；".join(d.value for d in demands)
        used[Field.DEMAND] = [(d.start, d.end) for d in demands]
    addresses = find_addresses(text, toks, lex)
    for span in addresses:
        field = Field.HOME_ADDRESS if span.home else Field.ADDRESS
        if field not in out:
            out[field] = span.value
            used[field] = [(span.start, span.end)]
    subject = find_subject(text, toks, lex, [(d.start, d.end) for d in demands], addresses)
    if subject is not None:
        out[Field.SUBJECT] = subject.value
        used[Field.SUBJECT] = [(subject.start, subject.end)]
    return out, used


def parse_field_answer(field: Field, text: str, lex: Lexicon) -> str | None:
    """The value for one asked field from a reply that answers only it ("幸福小区3栋", "王小明")."""
    labelled = labelled_values(text, lex).get(field)
    if labelled:
        return labelled
    value = clean_value(text)
    if not value:
        return None
    if field in (Field.PHONE, Field.ID_NUMBER):
        return _checked(field, value)
    if field is Field.NAME:
        span = find_name(value, lex)
        if span is not None:
            return span.value
        return (
            value if len(value) <= 10 and (has_chinese(value) or value.replace(" ", "").isalpha()) else None
        )
    if not has_chinese(value) and not any(c.isalpha() for c in value):
        return None
    return value
