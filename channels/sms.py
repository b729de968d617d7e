"""SMS: the stub gateway of CONTRACT.md (a named stub: the only stub the product has).

``POST /api/sms/inbound`` stores the message before answering; replies go out through the
gateway. The stub "sends" by marking the outbound row delivered; ``GET /api/sms/outbox`` lists
what it sent, oldest first.
"""

from __future__ import annotations

import logging

from aiohttp import web

from channels.http_common import in_thread, read_json
from channels.sms_text import normalize_sender
from intake.errors import InvalidInput
from intake.model import Address, Channel, DeliveryState, InboundMessage
from intake.service import IntakeService
from intake.store.sql import StoredOutbound

log = logging.getLogger(__name__)


class SmsStubSender:
    """The stub provider: accepts every message. Delivery is recorded by the notifier."""

    def send(self, m: StoredOutbound) -> None:
        return None


class SmsRoutes:
    def __init__(self, service: IntakeService) -> None:
        self.service = service

    def routes(self, app: web.Application, *, stub: bool) -> None:
        app.router.add_post("/api/sms/inbound", self.inbound)
        if stub:
            app.router.add_get("/api/sms/outbox", self.outbox)

    async def inbound(self, request: web.Request) -> web.Response:
        data = await read_json(request, max_bytes=16 * 1024)
        sender, text = data.get("from"), data.get("text")
        if not isinstance(sender, str) or not isinstance(text, str):
            raise InvalidInput("需要 from 和 text 字段。Fields 'from' and 'text' must be strings.")
        phone = normalize_sender(sender)
        if phone is None:
            raise InvalidInput("无法识别的手机号码。'from' is not a phone number.", code="bad_phone")
        native_id = data.get("id") if isinstance(data.get("id"), str) else None
        msg = InboundMessage(Address(Channel.SMS, phone), text, self.service.clock.now(), native_id=native_id)
        await in_thread(request, self.service.handle, msg, inline=False)
        return web.json_response({"accepted": True})

    async def outbox(self, request: web.Request) -> web.Response:
        to = request.query.get("to", "")
        phone = normalize_sender(to)
        if phone is None:
            raise InvalidInput("to 不是有效的手机号码。'to' must be a phone number.", code="bad_phone")
        store = self.service.store
        rows: list[StoredOutbound] = []
        for channel in (Channel.SMS, Channel.PHONE):
            rows += await in_thread(
                request, store.outbound_for, Address(channel, phone), states=[DeliveryState.DELIVERED]
            )
        rows.sort(key=lambda m: (m.delivered_at or m.created_at, m.id))
        return web.json_response(
            {
                "messages": [
                    {
                        "id": m.id,
                        "to": m.address.value,
                        "text": m.text,
                        "at": (m.delivered_at or m.created_at).isoformat(),
                    }
                    for m in rows
                ]
            }
        )
