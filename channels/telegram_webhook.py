"""``POST /api/telegram/webhook``: verified by the secret header, the raw update stored with its
processing outbox row before ``200`` (RELIABILITY.md §4: Telegram never resends after a 2xx),
deduplicated by update id as set membership (§5). The dialog runs in the worker.

:func:`store_update` is the one way an update enters the product: the webhook calls it, and so
does the long-polling loop (:mod:`channels.telegram_poll`), so both modes store, deduplicate
and answer exactly alike.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiohttp import web

from channels.http_common import in_thread, read_json
from channels.telegram_parse import (
    CallbackChoice,
    Command,
    Ignored,
    parse_update,
    update_id_of,
    verify_secret,
)
from intake.errors import NotFound, Unauthorized
from intake.model import InboundMessage
from intake.store.sql import SqlStore

log = logging.getLogger(__name__)
MAX_UPDATE_BYTES = 2 * 1024 * 1024

# Commands of CONTRACT.md, said the way the dialog understands them.
COMMAND_TEXT = {"start": "你好", "status": "查询进度", "cancel": "取消", "withdraw": "撤回"}
INBOUND_JOB = "telegram_inbound"


def as_inbound(parsed: InboundMessage | Command | CallbackChoice) -> InboundMessage:
    if isinstance(parsed, CallbackChoice):
        return parsed.message
    if isinstance(parsed, Command):
        text = COMMAND_TEXT.get(parsed.name, parsed.text)
        if parsed.name == "withdraw" and parsed.args:
            text = f"撤回 {' '.join(parsed.args)}"
        return InboundMessage(parsed.address, text, parsed.received_at, native_id=str(parsed.update_id))
    return parsed


@dataclass(frozen=True, slots=True)
class StoredUpdate:
    """What became of one update.

    Attributes:
        outcome: ``stored`` (new message, queued for the dialog), ``noted`` (stored with the
            parser's short note queued), ``duplicate`` (seen before: nothing new was written),
            ``ignored`` (silence by design: nothing to store).
        message_id: the inbound row, when there is one.
        callback_query_id: a pressed button's query, to be answered so its spinner stops.
    """

    outcome: str
    message_id: int | None = None
    callback_query_id: str | None = None


def store_update(
    store: SqlStore, data: dict[str, Any], now: datetime, *, bot_username: str | None = None
) -> StoredUpdate:
    """Store one update durably (blocking); the caller acknowledges it to Telegram only after.

    The raw JSON is kept as received; the update id is the message's native id, so a replayed
    update (same id) returns the first row and queues nothing again (RELIABILITY.md T2).
    """
    parsed = parse_update(data, now, bot_username=bot_username)
    raw = json.dumps(data, ensure_ascii=False)
    if isinstance(parsed, Ignored):
        if parsed.note and parsed.address is not None and parsed.update_id is not None:
            return _note(store, parsed, raw)
        return StoredUpdate("ignored", callback_query_id=parsed.callback_query_id)
    msg = as_inbound(parsed)
    if msg.native_id is None:
        msg = InboundMessage(
            msg.address,
            msg.text,
            msg.received_at,
            native_id=str(update_id_of(data)),
            attachments=msg.attachments,
        )
    message_id, new = store.save_inbound(msg, raw=raw, job=INBOUND_JOB)
    query = parsed.callback_query_id if isinstance(parsed, CallbackChoice) else None
    return StoredUpdate("stored" if new else "duplicate", message_id, query)


def _note(store: SqlStore, ignored: Ignored, raw: str) -> StoredUpdate:
    """Store the update, and queue the short note the parser chose (stickers, edits...)."""
    assert ignored.address is not None and ignored.note is not None
    msg = InboundMessage(ignored.address, "", store.clock.now(), native_id=str(ignored.update_id))
    message_id, new = store.save_inbound(msg, raw=raw, flags=f"ignored:{ignored.reason}")
    if not new:
        return StoredUpdate("duplicate", message_id, ignored.callback_query_id)
    with store.tx():
        store.record_outbound(ignored.address, ignored.note, key=f"reply:{message_id}:0", kind="note")
    return StoredUpdate("noted", message_id, ignored.callback_query_id)


class TelegramWebhook:
    def __init__(self, store: SqlStore, secret: str | None, enabled: bool) -> None:
        self.store = store
        self.secret = secret or ""
        self.enabled = enabled

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/api/telegram/webhook", self.webhook)

    async def webhook(self, request: web.Request) -> web.Response:
        """Answer 200 only once the update is in SQL. A pressed button is answered in the same
        response (the Bot API lets a webhook reply carry one method call), which costs no extra
        request and stops the button's spinner at once."""
        if not self.enabled:
            raise NotFound("Telegram is not configured")
        if not self.secret or not verify_secret(request.headers, self.secret):
            raise Unauthorized("bad or missing X-Telegram-Bot-Api-Secret-Token")
        data = await read_json(request, max_bytes=MAX_UPDATE_BYTES)
        result = await in_thread(request, store_update, self.store, data, self.store.clock.now())
        if result.callback_query_id:
            return web.json_response(
                {"method": "answerCallbackQuery", "callback_query_id": result.callback_query_id}
            )
        return web.json_response({"ok": True})
