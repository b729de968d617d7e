"""Phone numbers as the hotline stores them: E.164 (``+8613800138000``).

The same mobile arrives as ``13800138000``, ``+86 138 0013 8000``, ``0086 138…`` or ``86-138…``;
landlines as ``020-12345678`` or ``(0755)12345678``. Withdrawal and progress queries must come
"from the same number" (guangzhou §9), so every form has to become one key. Parsing is left to
``phonenumbers`` (Google's libphonenumber metadata), which knows China's number plan.
"""

from __future__ import annotations

import functools
import re

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumber, PhoneNumberFormat, PhoneNumberType

__all__ = ["find_phones", "is_mobile", "normalize_phone", "split_landline"]

_REGION = "CN"
_MAX_INPUT = 64  # a phone field longer than this is not a phone number
_BARE_86 = re.compile(r"^\s*86[\s\-.]*(1[3-9][0-9](?:[\s\-.]?[0-9]){8})\s*$")
# No valid number in libphonenumber's metadata is written with fewer digits, country code included
# (Austria, Germany, Iran: 2 + 4). The matcher only reads decimal digits (\d), so a text with fewer
# holds no phone number and is not handed to it: most chat messages are answered by this check.
_MIN_DIGITS = 6
_ENOUGH_DIGITS = re.compile(rf"\d(?:\D*\d){{{_MIN_DIGITS - 1}}}")
_DIGIT_RUN = re.compile(r"\d+")
# Characters a digit run may touch for the matcher to take that run alone, exactly as written:
# Chinese characters and the Chinese punctuation that is not phone punctuation (brackets and
# dashes are, and join runs). Latin letters, spaces, "+", "-", "/", ":" … send the text to the
# matcher.
_QUIET_PUNCTUATION = frozenset("，。：；！？、")
_ACCEPTED_TYPES = frozenset(
    {
        PhoneNumberType.MOBILE,
        PhoneNumberType.FIXED_LINE,
        PhoneNumberType.FIXED_LINE_OR_MOBILE,
        PhoneNumberType.TOLL_FREE,
        PhoneNumberType.UAN,
        PhoneNumberType.VOIP,
        PhoneNumberType.PERSONAL_NUMBER,
    }
)


def _parse(s: str) -> phonenumbers.PhoneNumber | None:
    if not s or len(s) > _MAX_INPUT:
        return None
    bare = _BARE_86.match(s)
    candidate = "+86" + bare.group(1) if bare else s
    try:
        number = phonenumbers.parse(candidate, _REGION)
    except NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    if phonenumbers.number_type(number) not in _ACCEPTED_TYPES:
        return None
    return number


def normalize_phone(s: str) -> str | None:
    """The E.164 form of a phone number written any usual way, or None when it is not one.

    Numbers without a country code are read as Chinese; short service numbers (110, 12345,
    95588) are not contact numbers and give None. Never raises.
    """
    if not isinstance(s, str):  # what the parser would refuse anyway; the cache needs a str
        return None
    return _normalize_phone(s)


@functools.lru_cache(maxsize=1024)
def _normalize_phone(s: str) -> str | None:
    try:
        number = _parse(s)
    except Exception:  # phonenumbers on hostile input: treat as "not a number", never crash
        return None
    if number is None:
        return None
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def is_mobile(e164: str) -> bool:
    """True for a Chinese mobile number in E.164 (the only kind that can receive our SMS)."""
    return bool(re.fullmatch(r"\+861[3-9][0-9]{9}", e164))


def split_landline(e164: str) -> tuple[str, str] | None:
    """(area code with its leading 0, local number) of a Chinese landline, else None."""
    try:
        number = phonenumbers.parse(e164, _REGION)
    except NumberParseException:
        return None
    if number.country_code != 86 or is_mobile(e164):
        return None
    national = phonenumbers.national_significant_number(number)
    area_len = phonenumbers.length_of_geographical_area_code(number)
    if area_len <= 0:
        return None
    return "0" + national[:area_len], national[area_len:]


def find_phones(text: str) -> list[str]:
    """Every phone number in free text, as E.164, in order of appearance, without duplicates.

    Full-width digits count (``phonenumbers`` folds them). Digits inside a longer run, such as
    an 18-digit ID number, are not taken for a phone.
    """
    if not isinstance(text, str):
        return []
    return list(_find_phones(text))


@functools.lru_cache(maxsize=256)
def _find_phones(text: str) -> tuple[str, ...]:
    """find_phones, remembered: a turn reads the same text more than once (understanding, fill)."""
    if _ENOUGH_DIGITS.search(text) is None:
        return ()
    quick = _runs_between_chinese(text)
    return quick if quick is not None else _matched(text)


def _matched(text: str) -> tuple[str, ...]:
    """The phone numbers libphonenumber's matcher finds in ``text``, as E.164, first seen first."""
    found: list[str] = []
    try:
        matches = list(phonenumbers.PhoneNumberMatcher(text, _REGION, leniency=phonenumbers.Leniency.VALID))
    except Exception:  # never let a library corner case break intake
        return ()
    for match in matches:
        # The matcher parsed and validated it (Leniency.VALID): only the kind is left to check,
        # with no second parse of the raw string.
        if phonenumbers.number_type(match.number) not in _ACCEPTED_TYPES:
            continue
        e164 = phonenumbers.format_number(match.number, PhoneNumberFormat.E164)
        if e164 not in found:
            found.append(e164)
    return tuple(found)


def _quiet(c: str) -> bool:
    return "\u4e00" <= c <= "\u9fff" or c in _QUIET_PUNCTUATION


def _runs_between_chinese(text: str) -> tuple[str, ...] | None:
    """What the matcher finds in a text whose ASCII digit runs all stand between Chinese
    characters or Chinese punctuation (``电话13800138000，住12栋``), found without it; None when
    the matcher has to read the text.

    Such a run is a candidate on its own, with nothing to join it to, no extension, date or
    time shape, and no letter beside it, so the matcher's verdict is that of the bare digits:
    a run under six digits is never a number, and an 11-digit run starting with 1 is the
    Chinese number it spells when libphonenumber calls that valid and of an accepted type. Any
    other run goes to the matcher. Checked against the matcher on generated texts
    (tests/unit/test_phones.py). The matcher reads a message with one mobile in about 60 µs;
    this takes about 10."""
    found: list[str] = []
    end = len(text)
    for m in _DIGIT_RUN.finditer(text):
        run = m.group()
        start, stop = m.span()
        if (
            not run.isascii()
            or (start and not _quiet(text[start - 1]))
            or (stop < end and not _quiet(text[stop]))
        ):
            return None
        if len(run) < _MIN_DIGITS:
            continue
        if len(run) != 11 or run[0] != "1":
            return None
        number = PhoneNumber(country_code=86, national_number=int(run))
        # +86 is one region's: a type other than UNKNOWN is libphonenumber's "valid".
        if phonenumbers.number_type(number) in _ACCEPTED_TYPES:
            e164 = "+86" + run
            if e164 not in found:
                found.append(e164)
    return tuple(found)
