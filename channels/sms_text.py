"""SMS text as the network carries it: segment counting, splitting, and sender numbers.

A message is GSM-7 when every character is in the GSM 03.38 default alphabet (or its
extension table, which costs two septets), else UCS-2 — one Chinese character makes the whole
message UCS-2. One part holds 160 GSM-7 septets or 70 UCS-2 units; a concatenated message
loses room to its header, leaving 153 / 67 per part. Characters outside the BMP (emoji) take
two UCS-2 units and are never cut in half; an extension character's escape is never separated
from it. Providers (Aliyun) bill per part, so the notifier counts parts before it sends.
"""

from __future__ import annotations

from intake.phones import normalize_phone

__all__ = [
    "GSM7_MULTI",
    "GSM7_SINGLE",
    "UCS2_MULTI",
    "UCS2_SINGLE",
    "is_gsm7",
    "normalize_sender",
    "signed",
    "sms_parts",
    "split_sms",
]

GSM7_SINGLE = 160
GSM7_MULTI = 153
UCS2_SINGLE = 70
UCS2_MULTI = 67

# GSM 03.38 default alphabet (3GPP TS 23.038 §6.2.1), and the extension table reached by ESC.
_GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")


def is_gsm7(text: str) -> bool:
    """True when the whole text fits the GSM-7 alphabet (then 160 characters fit one part)."""
    return all(c in _GSM7_BASIC or c in _GSM7_EXTENSION for c in text)


def _cost(ch: str, gsm7: bool) -> int:
    if gsm7:
        return 2 if ch in _GSM7_EXTENSION else 1
    return 2 if ord(ch) > 0xFFFF else 1


def split_sms(text: str) -> list[str]:
    """The parts a phone would send ``text`` as; ``"".join(parts) == text``. Empty text → ``[]``.

    Cuts are made at unit boundaries, as handsets do (the receiving phone joins the parts), but
    never inside a surrogate pair or between an extension character and its escape.
    """
    if not text:
        return []
    gsm7 = is_gsm7(text)
    single, multi = (GSM7_SINGLE, GSM7_MULTI) if gsm7 else (UCS2_SINGLE, UCS2_MULTI)
    costs = [_cost(c, gsm7) for c in text]
    if sum(costs) <= single:
        return [text]
    parts: list[str] = []
    start = 0
    used = 0
    for i, cost in enumerate(costs):
        if used + cost > multi:
            parts.append(text[start:i])
            start, used = i, 0
        used += cost
    parts.append(text[start:])
    return parts


def signed(text: str, signature: str) -> str:
    """The text as the handset shows it: the hotline's signature in 【】 first (carriers require
    an approved 签名 on every message; the platform adds it, and it counts towards the parts)."""
    return f"【{signature}】{text}" if signature else text


def sms_parts(text: str) -> int:
    """How many parts (billed messages) ``text`` takes; 0 for empty text."""
    return len(split_sms(text))


def normalize_sender(raw: str | None) -> str | None:
    """The sender's number in E.164 (``+8613800138000``) however the gateway wrote it, or None.

    ``13800138000``, ``+86 138 0013 8000``, ``0086 13800138000`` and ``86-138-0013-8000`` are one
    sender, so a citizen's SMS dialog and their tickets stay together (guangzhou §9: queries and
    withdrawals come "from the same number"). Short service codes (``10086``) give None.
    """
    if not raw:
        return None
    cleaned = raw.strip()
    if cleaned.startswith("00"):
        cleaned = "+" + cleaned[2:].lstrip()
    return normalize_phone(cleaned)
