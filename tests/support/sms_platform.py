"""A STAND-IN for a Chinese SMS platform's send API (the shape channels.sms_http speaks): a tiny
aiohttp server in its own thread and event loop, recording each send. It is not a provider and
not part of the product; tests point HOTLINE_SMS_API_URL at it.

``refuse_next`` makes the next sends answer ``BUSINESS_LIMIT_CONTROL`` (flow control);
``bad_numbers`` answers ``MOBILE_NUMBER_ILLEGAL`` for those numbers; ``delay`` answers late (after
recording the send, as a platform that got the request but whose answer was lost).
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from channels.sms_text import sms_parts
from tests.support.mail_sink import free_port


@dataclass
class Sent:
    phone: str
    content: str
    sign_name: str
    template_id: str
    out_id: str
    parts: int


@dataclass
class SmsPlatformStandIn:
    port: int = field(default_factory=free_port)
    sent: list[Sent] = field(default_factory=list)
    refuse_next: int = 0
    refused: int = 0
    bad_numbers: set[str] = field(default_factory=set)
    delay: float = 0.0  # seconds before answering (after recording): a slow platform
    failing: bool = False  # an outage: every send answers HTTP 500, nothing is recorded

    def __post_init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="sms-standin", daemon=True)
        self._runner: web.AppRunner | None = None
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    async def _send(self, request: web.Request) -> web.Response:
        data: dict[str, Any] = await request.json()
        with self._lock:
            if self.failing:
                self.refused += 1
                return web.json_response({"code": "SYSTEM_ERROR", "message": "系统错误"}, status=500)
            if self.refuse_next > 0:
                self.refuse_next -= 1
                self.refused += 1
                return web.json_response({"code": "BUSINESS_LIMIT_CONTROL", "message": "触发流控"})
            if data.get("phone") in self.bad_numbers:
                return web.json_response({"code": "MOBILE_NUMBER_ILLEGAL", "message": "号码格式错误"})
            # billed as the handset receives it: the signature in 【】 first, then the text
            parts = sms_parts(f"【{data.get('sign_name', '')}】{data.get('content', '')}")
            self.sent.append(
                Sent(
                    str(data.get("phone")),
                    str(data.get("content")),
                    str(data.get("sign_name")),
                    str(data.get("template_id")),
                    str(data.get("out_id")),
                    parts,
                )
            )
            n = len(self.sent)
        if self.delay:
            await asyncio.sleep(self.delay)
        return web.json_response({"code": "OK", "biz_id": f"biz-{n}", "parts": parts, "message": "OK"})

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_post("/v1/send", self._send)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    def to(self, phone: str) -> list[Sent]:
        with self._lock:
            return [s for s in self.sent if s.phone == phone]

    def __enter__(self) -> SmsPlatformStandIn:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
