"""``POST /api/telegram/webhook``: verified by the secret header, the raw update stored with its
processing outbox row before ``200`` (RELIABILITY.md §4: Telegram never resends after a 2xx),
deduplicated by update id as set membership (§5). The dialog runs in the worker."""

from __future__ import annotations

import json
import logging

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


def as_inbound(parsed: InboundMessage | Command | CallbackChoice) -> InboundMessage:
    if isinstance(parsed, CallbackChoice):
        return parsed.message
    if isinstance(parsed, Command):
        text = COMMAND_TEXT.get(parsed.name, parsed.text)
        if parsed.name == "withdraw" and parsed.args:
            text = f"撤回 {' '.join(parsed.args)}"
        return InboundMessage(parsed.address, text, parsed.received_at, native_id=str(parsed.update_id))
    return parsed


class TelegramWebhook:
    def __init__(self, store: SqlStore, secret: str | None, enabled: bool) -> None:
        self.store = store
        self.secret = secret or ""
        self.enabled = enabled

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/api/telegram/webhook", self.webhook)

    async def webhook(self, request: web.Request) -> web.Response:
        if not self.enabled:
            raise NotFound("Telegram is not configured")
        if not self.secret or not verify_secret(request.headers, self.secret):
            raise Unauthorized("bad or missing X-Telegram-Bot-Api-Secret-Token")
        data = await read_json(request, max_bytes=MAX_UPDATE_BYTES)
        now = self.store.clock.now()
        parsed = parse_update(data, now)
        raw = json.dumps(data, ensure_ascii=False)
        if isinstance(parsed, Ignored):
            if parsed.note and parsed.address is not None and parsed.update_id is not None:
                await in_thread(request, self._note, parsed, raw)
            return web.json_response({"ok": True})
        msg = as_inbound(parsed)
        if msg.native_id is None:
            uid = update_id_of(data)
            msg = InboundMessage(
                msg.address, msg.text, msg.received_at, native_id=str(uid), attachments=msg.attachments
            )
        await in_thread(request, self.store.save_inbound, msg, raw=raw, job="telegram_inbound")
        return web.json_response({"ok": True})

    def _note(self, ignored: Ignored, raw: str) -> None:
        """Store the update, and queue the short note the parser chose (stickers, groups...)."""
        assert ignored.address is not None and ignored.note is not None
        msg = InboundMessage(ignored.address, "", self.store.clock.now(), native_id=str(ignored.update_id))
        message_id, new = self.store.save_inbound(msg, raw=raw, flags=f"ignored:{ignored.reason}")
        if not new:
            return
        with self.store.tx() as conn:
            oid, created = self.store.record_outbound(
                ignored.address, ignored.note, key=f"reply:{message_id}:0", kind="note", conn=conn
            )
            if created:
                self.store.add_outbox(conn, "deliver", f"deliver:{oid}", {"outbound_id": oid})
