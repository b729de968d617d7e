"""SMS: one gateway interface, the stub of CONTRACT.md and a real-world provider behind it.

A provider is one class (:class:`SmsProvider`): it sends a stored outbound row (raising the
notifier's RetryLater / PermanentFailure / Uncertain) and, when it pushes replies to us, parses
its own inbound webhook. ``HOTLINE_SMS`` picks it: ``stub`` (this module; the only stub the
product has) or ``http`` (:mod:`channels.sms_http`, the common shape of Chinese SMS platforms).

Inbound SMS is stored before the gateway is answered (RELIABILITY.md "acknowledgement point"),
keyed by the provider's message id when it gives one, so a webhook retried by the provider is
stored once. Sender numbers are normalised (``13800138000``, ``+86 138 0013 8000`` and
``0086…`` are one sender; guangzhou §9 "the same number").

The stub "sends" by marking the outbound row delivered; ``GET /api/sms/outbox`` lists what it
sent, oldest first: the whole text of each message, as the handset shows it, with ``parts``,
the number of SMS the network carries and providers bill (70 Chinese characters in one part,
67 per part once concatenated; :func:`channels.sms_text.split_sms`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from aiohttp import web

from channels.auth import require_token
from channels.http_common import in_thread, parse_json, read_body
from channels.signing import verify
from channels.sms_text import normalize_sender, signed, sms_parts
from channels.turns import TurnGroups
from intake.errors import ConfigError, InvalidInput
from intake.model import Address, Channel, DeliveryState, InboundMessage, StoredOutbound
from intake.service import IntakeService, TurnInput
from intake.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class InboundSms:
    """One SMS as a provider's webhook reported it (number not yet normalised)."""

    sender: str
    text: str
    native_id: str | None = None


class SmsProvider(Protocol):
    """What a provider implements; the notifier calls ``send``, the web process mounts
    ``webhook_path`` and hands each body to ``parse_inbound``."""

    name: str

    @property
    def webhook_path(self) -> str | None: ...

    def send(self, m: StoredOutbound) -> None: ...

    def parse_inbound(self, body: Any) -> Sequence[InboundSms]: ...

    def webhook_ack(self) -> dict[str, Any]: ...


class SmsStubSender:
    """The stub provider: accepts every message (the notifier records it as delivered)."""

    name = "stub"
    webhook_path: str | None = None  # the stub's inbound is CONTRACT.md's POST /api/sms/inbound

    def send(self, m: StoredOutbound) -> None:
        return None

    def parse_inbound(self, body: Any) -> Sequence[InboundSms]:
        return [_contract_inbound(body)]

    def webhook_ack(self) -> dict[str, Any]:
        return {"accepted": True}


def sms_provider(settings: Settings) -> SmsProvider:
    """The provider HOTLINE_SMS names (one per process; built by the notifier and the web app)."""
    if settings.sms == "stub":
        return SmsStubSender()
    if settings.sms == "http":
        from channels.sms_http import HttpSmsProvider

        if not settings.sms_api_url:
            raise ConfigError("HOTLINE_SMS_API_URL: required with HOTLINE_SMS=http")
        return HttpSmsProvider(settings.sms_api_url, sign_name=settings.sms_signature)
    raise ConfigError(f"HOTLINE_SMS: unknown gateway {settings.sms!r}")


def _named(sms: InboundSms, signature: str, index: int = 0) -> InboundSms:
    """``sms`` with an id: its provider's, else its signature's (and its place in a batch). A
    signed request replayed inside the signing window is then the same message, stored once."""
    if sms.native_id is not None:
        return sms
    return replace(sms, native_id=f"sig-{signature[:40]}-{index}")


def _contract_inbound(data: Any) -> InboundSms:
    if not isinstance(data, Mapping):
        raise InvalidInput("请求内容应为 JSON 对象。The body must be a JSON object.", code="bad_json")
    sender, text = data.get("from"), data.get("text")
    if not isinstance(sender, str) or not isinstance(text, str):
        raise InvalidInput("需要 from 和 text 字段。Fields 'from' and 'text' must be strings.")
    native_id = data.get("id")
    if isinstance(native_id, int) and not isinstance(native_id, bool):
        native_id = str(native_id)  # some gateways number their messages
    if native_id is not None and not isinstance(native_id, str):
        # never ignored quietly: without it a resent message would be stored twice
        raise InvalidInput("id 应为字符串。The field 'id' must be a string.")
    return InboundSms(sender, text, native_id)


class SmsRoutes:
    """The SMS routes of the web process: CONTRACT.md's inbound (always), the stub outbox (stub
    only, for the back office's token) and the configured provider's own webhook (when it has
    one). Whoever posts an SMS speaks for that phone (withdraws, evaluates), so every inbound
    request is signed with ``secret`` (channels.signing) and nothing unsigned is stored."""

    def __init__(
        self,
        service: IntakeService,
        provider: SmsProvider | None = None,
        *,
        secret: str,
        admin_token: str,
        signature: str = "",
    ) -> None:
        self.service = service
        self.signature = signature
        self.provider = provider
        self.turns = TurnGroups(service)
        self.secret = secret
        self.admin_token = admin_token

    async def _signed(self, request: web.Request, max_bytes: int) -> tuple[Any, str]:
        """The JSON of a signed request and its signature; 401 before anything is parsed."""
        body = await read_body(request, max_bytes=max_bytes)
        signature = verify(self.secret, request.headers, body)
        return parse_json(request, body), signature

    def routes(self, app: web.Application, *, stub: bool) -> None:
        app.router.add_post("/api/sms/inbound", self.inbound)
        if stub:
            app.router.add_get("/api/sms/outbox", self.outbox)
            return
        if self.provider is not None and self.provider.webhook_path:
            app.router.add_post(self.provider.webhook_path, self.provider_inbound)

    async def _accept(self, request: web.Request, sms: InboundSms) -> None:
        phone = normalize_sender(sms.sender)
        if phone is None:
            raise InvalidInput("无法识别的手机号码。'from' is not a phone number.", code="bad_phone")
        if len(sms.text) > 2000:
            raise InvalidInput("短信过长。'text' is longer than 2000 characters.")
        msg = InboundMessage(Address(Channel.SMS, phone), sms.text, self.service.clock.now(), sms.native_id)
        await self.turns.handle(request, TurnInput(msg))  # grouped with other turns (channels/turns.py)

    async def inbound(self, request: web.Request) -> web.Response:
        data, signature = await self._signed(request, 16 * 1024)
        await self._accept(request, _named(_contract_inbound(data), signature))
        return web.json_response({"accepted": True})

    async def provider_inbound(self, request: web.Request) -> web.Response:
        assert self.provider is not None
        data, signature = await self._signed(request, 256 * 1024)
        batch = [_named(sms, signature, i) for i, sms in enumerate(self.provider.parse_inbound(data))]
        # A platform's batch goes into one group; one sender's messages keep their order.
        outcomes = await asyncio.gather(
            *(self._accept(request, sms) for sms in batch), return_exceptions=True
        )
        for out in outcomes:
            if isinstance(out, BaseException):
                raise out
        return web.json_response(self.provider.webhook_ack())

    async def outbox(self, request: web.Request) -> web.Response:
        require_token(request, self.admin_token)  # what the hotline sent a citizen is theirs
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
                        "text": signed(m.text, self.signature),
                        "parts": sms_parts(signed(m.text, self.signature)),
                        "at": (m.delivered_at or m.created_at).isoformat(),
                    }
                    for m in rows
                ]
            }
        )
