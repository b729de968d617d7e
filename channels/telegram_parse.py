"""Telegram, inbound: a pure parser from the Bot API's update JSON to our vocabulary.

No I/O and no PTB objects: the webhook handler stores the raw update (RELIABILITY.md, "acknowledge
only after a durable write"), then calls :func:`parse_update` on the same dict. Plain dict
parsing is used on purpose instead of ``telegram.Update.de_json``: a hostile or truncated update
must come back as ``Ignored("malformed")``, never as an exception (RELIABILITY.md T7).

Decisions (documented here so the webhook and the tests agree):

* **Groups and supergroups.** Nothing said in a group becomes a message: a complaint in front of
  other members would expose the citizen's personal information (guangzhou §43, guangxi §22).
  The bot answers :data:`GROUP_NOTE` only when it is addressed there (a command, an @mention or a
  reply to the bot); otherwise it stays silent so a group is never flooded.
* **Channel posts** are always silent: a note would be broadcast to the whole channel.
* **Edited messages** are not processed again (the dialog already consumed the original, and
  feeding the edit would record the same answer twice); the citizen gets :data:`EDITED_NOTE`
  asking them to send the correction as a new message.
* **Photos and documents with a caption** become the caption's text plus an attachment reference
  (``telegram:file:<file_id>``); stickers, voice, media without caption get :data:`TEXT_ONLY_NOTE`.
* **Texts longer than Telegram allows** (4 096 characters) cannot come from Telegram itself; they
  get :data:`TOO_LONG_NOTE` and are not processed.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeGuard

from intake.model import Address, Attachment, Channel, InboundMessage

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 (a header name, not a secret)
MAX_TEXT_CHARS = 4096  # Bot API limit for a message text (captions: 1 024)
CALLBACK_DATA_MAX_BYTES = 64  # Bot API limit for InlineKeyboardButton.callback_data
KNOWN_COMMANDS = frozenset({"start", "status", "withdraw", "cancel"})  # CONTRACT.md "Telegram"

GROUP_NOTE = "请私聊机器人提交诉求，以保护您的个人信息。"
EDITED_NOTE = "已收到您修改后的消息。修改不会更新已发送的内容，如需更正或补充，请直接发送一条新消息。"
TEXT_ONLY_NOTE = "目前只能处理文字消息，请用文字描述您的诉求。图片可附带文字说明一并发送。"
TOO_LONG_NOTE = "消息过长，请分几条发送，每条不超过 4096 字。"
STALE_CHOICE_NOTE = "该选项已失效，请直接发送文字回复。"

# Content a person sent on purpose but that carries no text we can use: answered with a note.
_NON_TEXT_CONTENT = (
    "sticker",
    "voice",
    "audio",
    "video_note",
    "animation",
    "video",
    "photo",
    "document",
    "location",
    "venue",
    "contact",
    "poll",
    "dice",
    "game",
    "story",
)
_COMMAND = re.compile(r"/([A-Za-z0-9_]{1,64})(?:@([A-Za-z0-9_]{1,64}))?(?=\s|$)(.*)", re.DOTALL)
_CHOICE = re.compile(r"(\d{1,3}):([0-9a-f]{8}):(.*)", re.DOTALL)


class IgnoreReason(StrEnum):
    """Why an update produced no inbound message (for logs, metrics and tests)."""

    MALFORMED = "malformed"
    GROUP = "group"
    CHANNEL = "channel"
    EDITED = "edited"
    NO_TEXT = "no_text"
    TOO_LONG = "too_long"
    EMPTY = "empty"
    FROM_BOT = "from_bot"
    OTHER_BOT = "other_bot"
    STALE_CHOICE = "stale_choice"
    BLOCKED = "blocked"  # the citizen blocked the bot (my_chat_member → kicked)
    UNSUPPORTED = "unsupported"  # service messages, inline queries, polls, chat-member changes ...


@dataclass(frozen=True, slots=True)
class Command:
    """A bot command (``/withdraw 20261121-000123``); ``name`` is lower-case without the slash."""

    name: str
    args: tuple[str, ...]
    address: Address
    received_at: datetime
    update_id: int
    text: str

    @property
    def known(self) -> bool:
        """One of the commands of CONTRACT.md; anything else may be answered with help."""
        return self.name in KNOWN_COMMANDS


@dataclass(frozen=True, slots=True)
class CallbackChoice:
    """A press on an inline keyboard button: the choice's text, as if the citizen had typed it.

    The handler answers ``callback_query_id`` (it stops the button's spinner) and may remove the
    keyboard from ``keyboard_message_id`` so the same choice is not pressed twice.
    """

    message: InboundMessage
    callback_query_id: str
    keyboard_message_id: int | None


@dataclass(frozen=True, slots=True)
class Ignored:
    """Nothing to process. ``note`` (zh-CN) goes to ``address`` when set; otherwise silence."""

    reason: IgnoreReason
    note: str | None = None
    address: Address | None = None
    update_id: int | None = None
    callback_query_id: str | None = None  # still answered, so the button stops spinning


ParsedUpdate = InboundMessage | Command | CallbackChoice | Ignored


def verify_secret(headers: Mapping[str, str], expected: str) -> bool:
    """True only if the webhook's secret header equals ``expected`` (constant time).

    A missing header, a missing configured secret or a non-string value is False, never an
    exception (RELIABILITY.md §9: PTB itself compares with ``!=``).
    """
    if not expected:
        return False
    given = headers.get(SECRET_HEADER)
    if given is None:  # plain dicts are case-sensitive; aiohttp's headers are not
        wanted = SECRET_HEADER.lower()
        given = next((v for k, v in headers.items() if isinstance(k, str) and k.lower() == wanted), None)
    if not isinstance(given, str):
        return False
    return hmac.compare_digest(
        given.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass")
    )


def update_id_of(data: object) -> int | None:
    """The update's id (deduplicated as set membership, RELIABILITY.md §5), if well-formed."""
    value = data.get("update_id") if isinstance(data, dict) else None
    return value if _is_int(value) and value >= 0 else None


def parse_update(data: object, received_at: datetime, *, bot_username: str | None = None) -> ParsedUpdate:
    """Turn one update into an inbound message, a command, a button choice, or ``Ignored``.

    Args:
        data: the update as decoded from the webhook's JSON body (or from ``getUpdates``).
        received_at: when the webhook received it (the dialog's clock, not Telegram's ``date``).
        bot_username: the bot's own username, to tell commands and mentions meant for it.

    Returns:
        Never raises: anything not shaped like a Bot API update is ``Ignored(MALFORMED)``.
    """
    try:
        return _parse(data, received_at, (bot_username or "").lstrip("@").lower())
    except (TypeError, ValueError, KeyError, AttributeError, IndexError, RecursionError, OverflowError):
        return Ignored(IgnoreReason.MALFORMED, update_id=update_id_of(data))


def encode_choice(index: int, text: str) -> str:
    """``callback_data`` for choice number ``index``: ``"<index>:<hash8>:<text prefix>"``.

    The Bot API allows 64 bytes. The hash is of the whole choice text, so :func:`decode_choice`
    can check the button's own text (full length) or, for a short choice, the prefix itself.
    """
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    head = f"{index}:{digest}:"
    return head + _truncate_utf8(text, CALLBACK_DATA_MAX_BYTES - len(head.encode()))


def decode_choice(data: str, keyboard: object) -> str | None:
    """The choice text behind ``callback_data``, or None when it cannot be trusted.

    First the button carrying this data on the message's own keyboard (Telegram sends it back
    with the callback); if the message is too old to be included, the prefix when it is the whole
    text (checked against the hash).
    """
    m = _CHOICE.fullmatch(data)
    if m is None:
        return None
    digest = m.group(2)
    if isinstance(keyboard, dict):
        rows = keyboard.get("inline_keyboard")
        for row in rows if isinstance(rows, list) else ():
            for button in row if isinstance(row, list) else ():
                if not isinstance(button, dict) or button.get("callback_data") != data:
                    continue
                text = button.get("text")
                if isinstance(text, str) and _digest(text) == digest:
                    return text
    prefix = m.group(3)
    return prefix if prefix and _digest(prefix) == digest else None


def _parse(data: object, received_at: datetime, bot_username: str) -> ParsedUpdate:
    update_id = update_id_of(data)
    if update_id is None or not isinstance(data, dict):
        return Ignored(IgnoreReason.MALFORMED)
    if "message" in data:
        return _message(data["message"], update_id, received_at, bot_username)
    if "edited_message" in data:
        return _edited(data["edited_message"], update_id, bot_username)
    if "callback_query" in data:
        return _callback(data["callback_query"], update_id, received_at)
    if "channel_post" in data or "edited_channel_post" in data:
        return Ignored(IgnoreReason.CHANNEL, update_id=update_id)
    if "my_chat_member" in data:
        return _chat_member(data["my_chat_member"], update_id)
    return Ignored(IgnoreReason.UNSUPPORTED, update_id=update_id)


def _message(msg: object, update_id: int, received_at: datetime, bot_username: str) -> ParsedUpdate:
    chat = _chat(msg)
    if chat is None or not isinstance(msg, dict):
        return Ignored(IgnoreReason.MALFORMED, update_id=update_id)
    chat_id, chat_type = chat
    address = Address(Channel.TELEGRAM, str(chat_id))
    sender = msg.get("from")
    if isinstance(sender, dict) and sender.get("is_bot") is True:
        return Ignored(IgnoreReason.FROM_BOT, update_id=update_id)
    if chat_type in ("group", "supergroup"):
        note = GROUP_NOTE if _addressed_to_bot(msg, bot_username) else None
        return Ignored(IgnoreReason.GROUP, note, address if note else None, update_id)
    if chat_type == "channel":
        return Ignored(IgnoreReason.CHANNEL, update_id=update_id)
    if chat_type != "private":
        return Ignored(IgnoreReason.MALFORMED, update_id=update_id)

    text = msg.get("text")
    if isinstance(text, str):
        return _text(text, address, update_id, received_at, bot_username)
    caption = msg.get("caption")
    attachment = _attachment(msg)
    if isinstance(caption, str) and caption.strip() and attachment is not None:
        if len(caption) > MAX_TEXT_CHARS:
            return Ignored(IgnoreReason.TOO_LONG, TOO_LONG_NOTE, address, update_id)
        return InboundMessage(address, caption, received_at, str(update_id), (attachment,))
    if any(key in msg for key in _NON_TEXT_CONTENT):
        return Ignored(IgnoreReason.NO_TEXT, TEXT_ONLY_NOTE, address, update_id)
    return Ignored(IgnoreReason.UNSUPPORTED, update_id=update_id)  # service messages: silence


def _text(
    text: str, address: Address, update_id: int, received_at: datetime, bot_username: str
) -> ParsedUpdate:
    if len(text) > MAX_TEXT_CHARS:
        return Ignored(IgnoreReason.TOO_LONG, TOO_LONG_NOTE, address, update_id)
    if not text.strip():
        return Ignored(IgnoreReason.EMPTY, update_id=update_id)
    m = _COMMAND.match(text)
    if m is not None:
        name, target, rest = m.group(1).lower(), m.group(2), m.group(3)
        if target and bot_username and target.lower() != bot_username:
            return Ignored(IgnoreReason.OTHER_BOT, update_id=update_id)
        return Command(name, tuple(rest.split()), address, received_at, update_id, text)
    return InboundMessage(address, text, received_at, str(update_id))


def _edited(msg: object, update_id: int, bot_username: str) -> Ignored:
    chat = _chat(msg)
    if chat is None:
        return Ignored(IgnoreReason.MALFORMED, update_id=update_id)
    if chat[1] != "private":
        return Ignored(
            IgnoreReason.GROUP if chat[1] != "channel" else IgnoreReason.CHANNEL, update_id=update_id
        )
    return Ignored(IgnoreReason.EDITED, EDITED_NOTE, Address(Channel.TELEGRAM, str(chat[0])), update_id)


def _callback(query: object, update_id: int, received_at: datetime) -> ParsedUpdate:
    if not isinstance(query, dict) or not isinstance(query.get("id"), str) or not query["id"]:
        return Ignored(IgnoreReason.MALFORMED, update_id=update_id)
    query_id: str = query["id"]
    sender = query.get("from")
    if not isinstance(sender, dict) or not _is_int(sender.get("id")):
        return Ignored(IgnoreReason.MALFORMED, update_id=update_id, callback_query_id=query_id)
    msg = query.get("message")
    chat = _chat(msg) if msg is not None else (sender["id"], "private")
    if chat is None or not isinstance(msg, dict | None):
        return Ignored(IgnoreReason.MALFORMED, update_id=update_id, callback_query_id=query_id)
    if chat[1] != "private":
        return Ignored(IgnoreReason.GROUP, update_id=update_id, callback_query_id=query_id)
    address = Address(Channel.TELEGRAM, str(chat[0]))
    data = query.get("data")
    keyboard = msg.get("reply_markup") if msg is not None else None
    choice = decode_choice(data, keyboard) if isinstance(data, str) else None
    if choice is None:
        return Ignored(IgnoreReason.STALE_CHOICE, STALE_CHOICE_NOTE, address, update_id, query_id)
    message_id = msg.get("message_id") if msg is not None else None
    return CallbackChoice(
        InboundMessage(address, choice, received_at, str(update_id)),
        query_id,
        message_id if _is_int(message_id) else None,
    )


def _chat_member(change: object, update_id: int) -> Ignored:
    chat = _chat(change)
    new = change.get("new_chat_member") if isinstance(change, dict) else None
    if chat is not None and chat[1] == "private" and isinstance(new, dict) and new.get("status") == "kicked":
        return Ignored(IgnoreReason.BLOCKED, address=None, update_id=update_id)
    return Ignored(IgnoreReason.UNSUPPORTED, update_id=update_id)


def _chat(obj: object) -> tuple[int, str] | None:
    chat = obj.get("chat") if isinstance(obj, dict) else None
    if not isinstance(chat, dict):
        return None
    chat_id, chat_type = chat.get("id"), chat.get("type")
    if not _is_int(chat_id) or not isinstance(chat_type, str):
        return None
    return chat_id, chat_type


def _attachment(msg: dict[str, Any]) -> Attachment | None:
    """A reference to the largest photo size or the document; bytes stay at Telegram."""
    photo = msg.get("photo")
    if isinstance(photo, list):
        sizes = [
            p for p in photo if isinstance(p, dict) and isinstance(p.get("file_id"), str) and p["file_id"]
        ]
        if sizes:
            best = sizes[-1]  # Telegram lists sizes smallest first
            name = f"telegram-photo-{_safe_name(best.get('file_unique_id'), 'photo')}.jpg"
            return Attachment(name, "image/jpeg", f"telegram:file:{best['file_id']}")
    doc = msg.get("document")
    if isinstance(doc, dict) and isinstance(doc.get("file_id"), str) and doc["file_id"]:
        mime = doc.get("mime_type")
        filename = doc.get("file_name")
        return Attachment(
            filename if isinstance(filename, str) and filename else "telegram-document",
            mime if isinstance(mime, str) and mime else "application/octet-stream",
            f"telegram:file:{doc['file_id']}",
        )
    return None


def _addressed_to_bot(msg: dict[str, Any], bot_username: str) -> bool:
    """A group message meant for the bot: a command, an @mention of it, or a reply to it."""
    text = msg.get("text") if isinstance(msg.get("text"), str) else msg.get("caption")
    if not isinstance(text, str):
        return False
    m = _COMMAND.match(text)
    if m is not None:
        return not (m.group(2) and bot_username and m.group(2).lower() != bot_username)
    if bot_username and f"@{bot_username}" in text.lower():
        return True
    reply_to = msg.get("reply_to_message")
    sender = reply_to.get("from") if isinstance(reply_to, dict) else None
    return (
        isinstance(sender, dict)
        and sender.get("is_bot") is True
        and (not bot_username or str(sender.get("username", "")).lower() == bot_username)
    )


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:8]


def _truncate_utf8(text: str, max_bytes: int) -> str:
    raw = text.encode("utf-8", "surrogatepass")[: max(max_bytes, 0)]
    return raw.decode("utf-8", "ignore")


def _safe_name(value: object, default: str) -> str:
    if isinstance(value, str) and re.fullmatch(r"[A-Za-z0-9_-]{1,64}", value):
        return value
    return default
