"""An SMS provider over HTTP in the common shape of Chinese SMS platforms (HOTLINE_SMS=http).

Aliyun (SendSms / SmsUp), Tencent Cloud (SendSms / reply callback) and their resellers share one
shape, which this class speaks against ``HOTLINE_SMS_API_URL``:

* **send**: ``POST {api}/send`` with JSON ``{"phone", "content", "sign_name", "template_id",
  "template_param": {"content": ...}, "out_id"}``: the 11-digit mainland number (``+`` and
  country code for others), the approved signature (签名) and template (模板), the whole text
  (the platform splits it and bills per part), and our idempotency key as ``out_id``. The answer
  is ``{"code": "OK", "biz_id": "...", "parts": n}`` or an error code.
* **inbound** (上行短信): the platform pushes ``POST /api/sms/http/inbound`` with a JSON list
  (or one object) of ``{"phone", "content", "msg_id", "send_time", ...}`` and expects
  ``{"code": 0, "msg": "成功"}``; anything else makes it push again later, so each message is
  keyed by ``msg_id``.

Outcomes for the notifier (RELIABILITY.md §6): flow control (``BUSINESS_LIMIT_CONTROL``,
Aliyun's per-number limits; HTTP 429; 5xx; connection refused) → RetryLater; a refused number,
template or signature → PermanentFailure; a timeout after the request left → Uncertain (never
resent automatically, so a citizen never gets a notice twice).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from channels.sms import InboundSms
from channels.sms_text import signed, sms_parts
from intake.errors import InvalidInput, PermanentFailure, RetryLater, Uncertain
from intake.model import StoredOutbound

RETRY_CODES = frozenset({"BUSINESS_LIMIT_CONTROL", "THROTTLED", "SYSTEM_BUSY", "SERVICE_UNAVAILABLE"})
MAX_INBOUND_ITEMS = 100


def provider_phone(e164: str) -> str:
    """The number as the platforms want it: ``13800138000`` for the mainland, else ``+…``."""
    if e164.startswith("+86"):
        return e164[3:]
    return e164


class HttpSmsProvider:
    """Sends and receives SMS through one HTTP platform; see the module docstring for the shape."""

    name = "http"
    webhook_path = "/api/sms/http/inbound"

    def __init__(
        self,
        api_url: str,
        *,
        sign_name: str = "12345热线",
        template_id: str = "HOTLINE_NOTICE",
        timeout: float = 10.0,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self.sign_name = sign_name
        self.template_id = template_id
        self.timeout = timeout
        self.last_parts = 0  # what the platform reported for the last send (billing check)
        # One client for the process: httpx.post() builds a TLS context per call, which was 38 %
        # of the worker's time under `make chaos`. No keep-alive: a connection the platform
        # closed meanwhile would fail after the request was sent and be taken as uncertain.
        self._client = httpx.Client(timeout=timeout, limits=httpx.Limits(max_keepalive_connections=0))

    def send(self, m: StoredOutbound) -> None:
        payload = {
            "phone": provider_phone(m.address.value),
            "content": m.text,
            "sign_name": self.sign_name,
            "template_id": self.template_id,
            "template_param": {"content": m.text},
            "out_id": m.idempotency_key,
        }
        try:
            resp = self._client.post(f"{self.api_url}/send", json=payload)
        except httpx.ConnectError as exc:
            raise RetryLater(f"sms platform unreachable: {type(exc).__name__}", after=60) from None
        except httpx.TimeoutException as exc:
            if isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout):
                raise RetryLater("sms platform did not accept the connection", after=60) from None
            raise Uncertain("sms platform did not answer in time") from None
        except httpx.HTTPError as exc:
            raise Uncertain(f"sms platform connection lost: {type(exc).__name__}") from None
        if resp.status_code == 429 or resp.status_code >= 500:
            raise RetryLater(f"sms platform said HTTP {resp.status_code}", after=60)
        try:
            body = resp.json()
        except ValueError:
            raise Uncertain(f"sms platform answered HTTP {resp.status_code} without JSON") from None
        code = str(body.get("code", "")) if isinstance(body, Mapping) else ""
        if code.upper() == "OK":
            parts = body.get("parts")
            self.last_parts = parts if isinstance(parts, int) else sms_parts(signed(m.text, self.sign_name))
            return
        if code in RETRY_CODES:
            raise RetryLater(f"sms platform flow control: {code}", after=300)
        raise PermanentFailure(f"sms platform refused: {code or resp.status_code}")

    def parse_inbound(self, body: Any) -> Sequence[InboundSms]:
        items = body if isinstance(body, list) else [body]
        if not items or len(items) > MAX_INBOUND_ITEMS:
            raise InvalidInput(f"expected 1 to {MAX_INBOUND_ITEMS} messages")
        out = []
        for item in items:
            if not isinstance(item, Mapping):
                raise InvalidInput("each message must be a JSON object")
            phone, content = item.get("phone"), item.get("content")
            if not isinstance(phone, str) or not isinstance(content, str):
                raise InvalidInput("'phone' and 'content' must be strings")
            msg_id = item.get("msg_id")
            out.append(InboundSms(phone, content, str(msg_id) if msg_id is not None else None))
        return out

    def webhook_ack(self) -> dict[str, Any]:
        return {"code": 0, "msg": "成功"}
