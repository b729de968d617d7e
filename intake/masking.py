"""Masked forms of personal data, and a log filter that never lets a phone or an ID through.

Shapes: name ``张*`` and phone ``138****8000`` (CONTRACT.md); ID first 1 + last 2, the middle
never visible (RELIABILITY.md decision 3, Hutool's choice). Every citizen's data is confidential
(guangxi §22, quxian §17, guangzhou §43), and the party complained about must never learn who
complained (shaoyang §23), so logs and screens only ever see these forms.

Decisions:
- Names keep the first character and show one ``*`` per remaining character, whatever the
  length: ``张三`` → ``张*``, ``王小明`` → ``王**``, ``欧阳娜娜`` → ``欧***``. A compound surname
  (欧阳, 司马) is shown by its first character only, so the mask never tells a two-character
  surname from a given name. A one-character name becomes ``*``.
- Phones: a Chinese mobile in any format → ``138****8000``; a landline keeps its area code and
  the last 4 digits of an 8-digit local number (3 of a 7-digit one): ``020-****5678``; anything
  else keeps at most the last 4 digits.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

import phonenumbers

from intake.idcard import _fold_digits
from intake.model import TICKET_NUMBER_IN_TEXT
from intake.phones import normalize_phone, split_landline

__all__ = [
    "MaskingFilter",
    "anonymise",
    "mask_address",
    "mask_email",
    "mask_id",
    "mask_name",
    "mask_own_home",
    "mask_phone",
    "redact",
]

_STAR = "*"


def mask_name(name: str) -> str:
    """First character, then one ``*`` per remaining character (blanks dropped)."""
    chars = [c for c in name.strip() if not c.isspace()]
    if not chars:
        return ""
    if len(chars) == 1:
        return _STAR
    return chars[0] + _STAR * (len(chars) - 1)


def _digits(s: str) -> str:
    return "".join(c for c in _fold_digits(s) if "0" <= c <= "9")


def mask_phone(phone: str) -> str:
    """``138****8000`` for a mobile in any format (E.164 included); ``020-****5678`` for a landline."""
    e164 = normalize_phone(phone)
    if e164 is not None:
        if e164.startswith("+86"):
            landline = split_landline(e164)
            if landline is not None:
                area, local = landline
                keep = 4 if len(local) >= 8 else 3
                return f"{area}-{_STAR * (len(local) - keep)}{local[-keep:]}"
            national = e164[3:]
            if len(national) == 11:
                return f"{national[:3]}****{national[-4:]}"
            return _STAR * (len(national) - 4) + national[-4:]
        national = phonenumbers.national_significant_number(phonenumbers.parse(e164))
        return "+" + _STAR * max(len(national) - 4, 4) + national[-4:]
    digits = _digits(phone)
    for prefix in ("0086", "86"):  # a country code in front of an 11-digit number
        if len(digits) == len(prefix) + 11 and digits.startswith(prefix) and digits[len(prefix)] == "1":
            digits = digits[len(prefix) :]
    if len(digits) == 11:
        return f"{digits[:3]}****{digits[-4:]}"
    if len(digits) >= 8:
        return _STAR * (len(digits) - 4) + digits[-4:]
    return _STAR * max(len(digits), 4)


def mask_id(id_number: str) -> str:
    """First character and last two: ``1***************5X``; short input becomes all ``*``."""
    value = "".join(c for c in _fold_digits(id_number) if not c.isspace()).upper()
    if len(value) < 8:
        return _STAR * len(value)
    return value[0] + _STAR * (len(value) - 3) + value[-2:]


def mask_email(email: str) -> str:
    """``z***@example.com``: the first character of the local part, the domain kept."""
    value = email.strip()
    local, at, domain = value.rpartition("@")
    if not at or not local:
        return _STAR * min(max(len(value), 3), 8)
    return f"{local[0]}***@{domain}"


_ADDRESS_KEEP_END = re.compile(r"(?:省|自治区|市|区|县|旗|镇|乡|街道|路|街|大道|巷|村|小区|花园|苑|社区)")


def mask_address(address: str) -> str:
    """Keep the area a reader needs for routing, hide the door.

    ``幸福小区3栋2单元301室`` → ``幸福小区*********``.

    Everything from the first digit on is hidden. Without digits, the part up to the last place
    word (路, 村, 小区 …) in the first half is kept; with none, only the first two characters.
    """
    value = address.strip()
    if not value:
        return ""
    folded = _fold_digits(value)
    first_digit = next((i for i, c in enumerate(folded) if c.isdigit()), None)
    if first_digit is not None and first_digit > 0:
        keep = first_digit
    else:
        half = value[: max(len(value) // 2, 1)]
        ends = [m.end() for m in _ADDRESS_KEEP_END.finditer(half)]
        keep = ends[-1] if ends else min(2, len(value) - 1)
    return value[:keep] + _STAR * (len(value) - keep)


# -- free text -----------------------------------------------------------------------------
_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]{1,64}@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+")
# IDs first (15-18 digits, optional X), so no phone pattern eats their middle.
_ID_LIKE = re.compile(r"(?<![0-9A-Za-z])[0-9]{15,17}[0-9Xx]?(?![0-9A-Za-z])")
_MOBILE = re.compile(
    r"(?<![0-9+])(?:(?:\+|00)\s?86[\s\-]?|86[\s\-]?)?1[3-9][0-9](?:[\s\-]?[0-9]){8}(?![0-9])"
)
_LANDLINE = re.compile(
    r"(?<![0-9])(?:(?:\+|00)\s?86[\s\-]?)?\(?0[1-9][0-9]{1,2}\)?[\s\-]?[0-9]{3,4}[\s\-]?[0-9]{4}(?![0-9])"
)
_INTERNATIONAL = re.compile(r"(?<![0-9])\+[1-9][0-9](?:[\s\-]?[0-9]){6,13}(?![0-9])")
# Digit groups joined by blanks or dashes, 11 digits or more: a number in a shape the patterns
# above do not know. Plain runs (ticket numbers, amounts) are left readable.
_LONG_DIGITS = re.compile(r"(?<![0-9])(?=[0-9]+[\s\-][0-9])[0-9]+(?:[\s\-]?[0-9]){10,}(?![0-9])")


HIDDEN = "***"
# What places an anonymous citizen themself, not the matter: "我就住在楼上4楼401", "我家在3栋".
_OWN_PLACE = re.compile(
    r"(?:我|本人|俺|我们)(?:就|也|都|一直|现在)?(?:住在|住的是|住喺|家住|家在|家就在|住(?=[^，。！？!?,;；\n]{0,8}(?:栋|幢|楼|号|室|单元|小区|村|苑)))(?:[^，。！？!?,;；\n]{1,40})"
)
# ... and as owner or tenant: "我是401的业主", "本人系3栋502住户".
_OWN_FLAT = re.compile(r"(?:我|本人)(?:是|系|作为)?[^，。！？!?,;；\n]{0,12}(?:业主|住户|租户|房东)")
_OWN_NAME = re.compile(
    r"(?:我叫|我姓|本人叫|本人姓|名字叫|我的名字是|姓名[:：]?)\s*(?:[\u4e00-\u9fff]{1,4}|[A-Za-z·]{1,20})"
)


def anonymise(text: str) -> str:
    """Free text of an anonymous citizen as a unit may see it (issue 18, CONTRACT.md): every phone,
    ID and email gone whole (not masked: a masked number still narrows who it is), and the
    citizen's own name, home and flat where the text says they are theirs. The place of the
    matter stays ("3栋楼下的烧烤店", "楼上502装修"): the unit needs it to act."""
    if not text:
        return text
    try:
        text = _OWN_PLACE.sub(HIDDEN, text)
        text = _OWN_NAME.sub(HIDDEN, text)
        text = _OWN_FLAT.sub(HIDDEN, text)
        return _redact(text, whole=True)
    except Exception:  # never leak on a bug: no digit at all then
        return "".join(_STAR if c.isdigit() else c for c in text)


def mask_own_home(text: str) -> str:
    """Free text of a named citizen: their own home and flat, where the text says they are theirs
    ("我就住在楼上4楼401", "我是幸福路10号2103室的业主"), masked as their home address is
    (``mask_address``: ``我就住在楼上*****``). CONTRACT.md masks the citizen's own address and room
    number inside the content for a named citizen too; the unit reaches them through the revealed
    contact. The place of the matter and a neighbour's flat stay. Never raises."""
    if not text:
        return text
    try:
        text = _OWN_PLACE.sub(lambda m: mask_address(m.group(0)), text)
        return _OWN_FLAT.sub(lambda m: mask_address(m.group(0)), text)
    except Exception:  # never leak on a bug: no digit at all then
        return "".join(_STAR if c.isdigit() else c for c in text)


def redact(text: str) -> str:
    """Mask every phone number, ID number and email address found in free text.

    Used for log lines and for screens that show message text to people who must not see the
    citizen's data. Unicode digits (full-width ``１３８…``) are found too; any other run of 11 or
    more digits is masked as well, so a number in an unusual format never slips through.
    Never raises.
    """
    if not text:
        return text
    try:
        return _redact(text)
    except Exception:  # a redaction bug must not leak the text: hide every digit instead
        return "".join(_STAR if c.isdigit() else c for c in text)


def _redact(text: str, *, whole: bool = False) -> str:
    """``whole``: every found value replaced by HIDDEN instead of masked."""
    folded = _fold_digits(text)
    spans: list[tuple[int, int, str]] = []
    taken = [False] * len(folded)

    def claim(pattern: re.Pattern[str], masker: Callable[[str], str] | None) -> None:
        for m in pattern.finditer(folded):
            start, end = m.span()
            if any(taken[start:end]):
                continue
            for i in range(start, end):
                taken[i] = True
            if masker is not None:
                spans.append((start, end, HIDDEN if whole else masker(m.group(0))))

    claim(TICKET_NUMBER_IN_TEXT, None)  # the hotline's own numbers, never personal: kept
    claim(_EMAIL, mask_email)
    claim(_ID_LIKE, mask_id)
    claim(_MOBILE, mask_phone)
    claim(_LANDLINE, mask_phone)
    claim(_INTERNATIONAL, mask_phone)
    claim(_LONG_DIGITS, _mask_digits)
    if not spans:
        return text
    out: list[str] = []
    pos = 0
    for start, end, masked in sorted(spans):
        out.append(text[pos:start])
        out.append(masked)
        pos = end
    out.append(text[pos:])
    return "".join(out)


def _mask_digits(s: str) -> str:
    digits = _digits(s)
    return _STAR * (len(digits) - 4) + digits[-4:]


class MaskingFilter(logging.Filter):
    """Redacts each record's message, arguments and traceback text before any handler sees it.

    Attach it to handlers (``handler.addFilter(MaskingFilter())``) so records from every logger,
    including libraries', pass through it (STYLE.md: personal data masked by one helper).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # bad %-args: keep what can be shown, masked
            message = f"{record.msg!s} {record.args!r}"
        record.msg = redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True
