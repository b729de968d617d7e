"""Resident identity card numbers (公民身份号码, GB 11643-1999).

An 18-character number: a 6-digit region code, an 8-digit birth date, a 3-digit sequence and a
check character computed with ISO 7064 MOD 11-2 (``0``-``9`` or ``X``). The dialog checks it at
once so it can say "身份证号码校验不通过" instead of registering a typo (huizhou §9 keeps the ID
among the items an anonymous citizen may hide, so a wrong one is worse than none).
"""

from __future__ import annotations

import re
from datetime import date

__all__ = ["check_character", "find_id_candidates", "find_ids", "is_valid_id", "normalize_id"]

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"  # index = weighted sum mod 11

# First two digits: provinces (GB/T 2260), 71 Taiwan, 81 Hong Kong, 82 Macao, 83 residence permits
# for Taiwan residents (2018).
_PROVINCES = frozenset(
    {11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46}
    | {50, 51, 52, 53, 54, 61, 62, 63, 64, 65, 71, 81, 82, 83}
)
_SHAPE = re.compile(r"[0-9]{17}[0-9X]")
# A run of 15-19 digits (an optional trailing X) not glued to other digits or letters: the shapes
# people type when they mean an ID, typos included.
_CANDIDATE = re.compile(r"(?<![0-9A-Za-z])[0-9]{14,18}[0-9Xx](?![0-9A-Za-z])")
_MIN_YEAR = 1900
_WIDE_X = {"ｘ": "x", "Ｘ": "X"}


def normalize_id(s: str) -> str:
    """Strip blanks and turn a trailing ``x`` into ``X``; digits stay as typed (full-width → ASCII)."""
    return _fold_digits("".join(c for c in s if not c.isspace())).upper()


def check_character(first17: str) -> str:
    """The ISO 7064 MOD 11-2 check character of the first 17 digits.

    Raises:
        ValueError: ``first17`` is not 17 ASCII digits.
    """
    if len(first17) != 17 or not first17.isascii() or not first17.isdigit():
        raise ValueError("the check character needs exactly 17 digits")
    total = sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True))
    return _CHECK[total % 11]


def is_valid_id(s: str, *, today: date | None = None) -> bool:
    """True when ``s`` is an 18-character GB 11643 number with a correct check character.

    Also checks that the province code exists and the birth date is a real calendar date from
    1900 on (and not after ``today`` when one is given; the function itself reads no clock).
    Lower-case ``x`` is accepted. Never raises.
    """
    n = normalize_id(s)
    if not _SHAPE.fullmatch(n):
        return False
    if int(n[:2]) not in _PROVINCES:
        return False
    try:
        born = date(int(n[6:10]), int(n[10:12]), int(n[12:14]))
    except ValueError:
        return False
    if born.year < _MIN_YEAR or (today is not None and born > today):
        return False
    return check_character(n[:17]) == n[17]


def find_id_candidates(text: str) -> tuple[list[str], list[str]]:
    """Split ID-like numbers in ``text`` into (valid, invalid), each normalised and in order.

    Invalid ones are 15-19 character runs that fail the check, so the dialog can ask again
    ("身份证号码校验不通过"). Only 18-character runs or runs next to the word 身份证 count as IDs;
    other long digit runs (order numbers, meter readings) are left alone.
    """
    valid: list[str] = []
    invalid: list[str] = []
    folded = _fold_digits(text)
    mentions_id = "身份证" in folded or "证件号" in folded
    for m in _CANDIDATE.finditer(folded):
        value = m.group(0).upper()
        if is_valid_id(value):
            if value not in valid:
                valid.append(value)
        elif (len(value) == 18 or mentions_id) and value not in invalid:
            invalid.append(value)
    return valid, invalid


def find_ids(text: str) -> list[str]:
    """Valid ID numbers in free text, normalised (upper-case ``X``), without duplicates."""
    return find_id_candidates(text)[0]


def _fold_digits(text: str) -> str:
    """Unicode decimal digits (and full-width X) as ASCII; the length is kept, so spans still match."""
    if text.isascii():
        return text
    return "".join(str(int(c)) if c.isdecimal() else _WIDE_X.get(c, c) for c in text)
