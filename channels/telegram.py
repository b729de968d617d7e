"""Telegram channel: the pure update parser and the outbound sender, under one name.

The parser lives in :mod:`channels.telegram_parse`, the sender in :mod:`channels.telegram_send`;
import either from here. The webhook route (``POST /api/telegram/webhook``) calls
:func:`verify_secret`, stores the raw update, then :func:`parse_update`.
"""

from __future__ import annotations

from channels.telegram_parse import (
    EDITED_NOTE,
    GROUP_NOTE,
    KNOWN_COMMANDS,
    SECRET_HEADER,
    STALE_CHOICE_NOTE,
    TEXT_ONLY_NOTE,
    TOO_LONG_NOTE,
    CallbackChoice,
    Command,
    Ignored,
    IgnoreReason,
    ParsedUpdate,
    decode_choice,
    encode_choice,
    parse_update,
    update_id_of,
    verify_secret,
)
from channels.telegram_send import (
    DeliveryOutcome,
    Outcome,
    SendLimiter,
    TelegramSender,
    build_bot,
    classify,
    keyboard,
)

__all__ = [
    "EDITED_NOTE",
    "GROUP_NOTE",
    "KNOWN_COMMANDS",
    "SECRET_HEADER",
    "STALE_CHOICE_NOTE",
    "TEXT_ONLY_NOTE",
    "TOO_LONG_NOTE",
    "CallbackChoice",
    "Command",
    "DeliveryOutcome",
    "IgnoreReason",
    "Ignored",
    "Outcome",
    "ParsedUpdate",
    "SendLimiter",
    "TelegramSender",
    "build_bot",
    "classify",
    "decode_choice",
    "encode_choice",
    "keyboard",
    "parse_update",
    "update_id_of",
    "verify_secret",
]
