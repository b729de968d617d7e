"""A mixed crowd of citizens on every channel, each writing down what the product acknowledged.

Every submission carries the id a real client would send again on a retry: the chat page's
``client_id``, the SMS gateway's message ``id``, Telegram's ``update_id``, the mail's Message-ID,
the back office's ``Idempotency-Key``. A submission that gets no acknowledgement (a refused
connection, a reset, a 5xx, an SMTP 4xx) is sent again with the same id, as those clients do,
until it is acknowledged or the load's deadline passes. The :class:`Ledger` keeps, per
submission, whether it was acknowledged: the counts afterwards compare it with SQL.
"""

from __future__ import annotations

import asyncio
import json
import random
import smtplib
import time
from collections import Counter
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import aiohttp

from channels.signing import signed_headers
from chaos.cluster import API_TOKEN, SMS_SECRET, TELEGRAM_SECRET

MAILBOX = "12345@hotline.local"
COMPLAINTS = (  # what, who it is about (when the text names nobody), where
    ("小区楼下烧烤店每晚油烟很大", "", "幸福小区"),
    ("楼上装修每天晚上十点后还在电钻施工", "涉及对象：楼上装修住户，", "江北街道和平里"),
    ("路口的路灯坏了一个多星期没人修", "涉及对象：路灯管理所，", "滨江路与解放路交叉口附近"),
    ("工地夜间施工噪音扰民", "", "东湖路建设工地旁的阳光花园"),
)
# Share of each channel in the crowd (of 20): chat 6, Telegram 3, SMS 4, mail 3, phone 4 (half
# of the phone tickets are then completed by their unit through the back office).
MIX = ("chat",) * 6 + ("telegram",) * 3 + ("sms",) * 4 + ("mail",) * 3 + ("phone",) * 4


@dataclass
class Submission:
    channel: str  # chat, telegram, sms, mail, phone, event
    key: str  # the id a retry carries; for chat, SMS, Telegram and mail the stored native id
    acked: bool = False
    tries: int = 0


@dataclass
class Ledger:
    submissions: list[Submission] = field(default_factory=list)
    conversations: int = 0
    finished: int = 0

    def new(self, channel: str, key: str) -> Submission:
        s = Submission(channel, key)
        self.submissions.append(s)
        return s

    def counts(self) -> Counter[str]:
        return Counter("acked" if s.acked else "unacked" for s in self.submissions)


class Crowd:
    """``conversations`` citizens spread over ``seconds``; ``run()`` returns when each has
    finished or given up at ``give_up_after`` seconds from the start."""

    def __init__(
        self,
        base: str,
        smtp_port: int,
        conversations: int,
        seconds: float,
        *,
        seed: int,
        give_up_after: float,
    ) -> None:
        self.base = base
        self.smtp_port = smtp_port
        self.n = conversations
        self.seconds = seconds
        self.rng = random.Random(seed)
        self.run_id = f"{seed:x}{int(time.time()) % 100000:05d}"
        self.ledger = Ledger()
        self.deadline = 0.0
        self.give_up_after = give_up_after
        self.mail_slots = asyncio.Semaphore(4)  # SMTP clients at once, each in a thread

    async def run(self) -> Ledger:
        self.deadline = time.monotonic() + self.give_up_after
        connector = aiohttp.TCPConnector(limit=64)
        timeout = aiohttp.ClientTimeout(total=15)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
            self.http = http
            tasks = []
            for i in range(self.n):
                await asyncio.sleep(self.seconds / self.n)
                channel = MIX[self.rng.randrange(len(MIX))]
                tasks.append(asyncio.create_task(self._citizen(i, channel)))
                self.ledger.conversations += 1
            await asyncio.gather(*tasks)
        return self.ledger

    async def _citizen(self, i: int, channel: str) -> None:
        try:
            await getattr(self, f"_{channel}")(i)
        finally:
            self.ledger.finished += 1

    # one retrying submission -----------------------------------------------------------------
    async def _submit(self, s: Submission, attempt: Any) -> Any:
        """Call ``attempt()`` until it returns an acknowledgement (not None) or time runs out."""
        pause = 0.5
        while time.monotonic() < self.deadline:
            s.tries += 1
            try:
                result = await attempt()
            except (TimeoutError, aiohttp.ClientError, OSError, smtplib.SMTPException):
                result = None
            if result is not None:
                s.acked = True
                return result
            await asyncio.sleep(pause + self.rng.random())
            pause = min(pause * 2, 5.0)
        return None

    async def _post(self, path: str, body: bytes, headers: dict[str, str], ok: tuple[int, ...]) -> Any:
        async with self.http.post(self.base + path, data=body, headers=headers) as resp:
            if resp.status in ok:
                return await resp.json()
            await resp.read()
            return None

    # the channels -------------------------------------------------------------------------------
    def _what(self, i: int) -> tuple[str, str]:
        what, who, where = COMPLAINTS[i % len(COMPLAINTS)]
        first = f"我要投诉，{what}"
        details = f"电话139{i % 100_000_000:08d}，{who}地址：{where}{i % 97 + 1}栋，希望尽快处理"
        return first, details

    def _ip(self, i: int) -> str:
        return f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"

    async def _chat(self, i: int) -> None:
        forwarded = {"X-Forwarded-For": self._ip(i)}
        opened = Submission("chat-session", f"{i}")
        session = await self._submit(opened, lambda: self._post("/api/chat/sessions", b"", forwarded, (201,)))
        if session is None:
            return
        headers = {
            **forwarded,
            "Authorization": f"Bearer {session['token']}",
            "Content-Type": "application/json",
        }
        for k, text in enumerate(self._what(i)):
            client_id = f"c{self.run_id}-{i}-{k}"
            s = self.ledger.new("chat", f"{session['session_id']}:{client_id}")
            body = json.dumps({"text": text, "client_id": client_id}, ensure_ascii=False).encode()
            path = f"/api/chat/sessions/{session['session_id']}/messages"
            if await self._submit(s, lambda p=path, b=body: self._post(p, b, headers, (200,))) is None:
                return

    async def _sms(self, i: int) -> None:
        phone = f"+86137{i % 100_000_000:08d}"
        for k, text in enumerate(self._what(i)):
            msg_id = f"sms-{self.run_id}-{i}-{k}"
            s = self.ledger.new("sms", msg_id)
            payload = {"from": phone, "text": text, "id": msg_id}
            body = json.dumps(payload, ensure_ascii=False).encode()

            async def attempt(b: bytes = body) -> Any:  # signed afresh each try, as a gateway does
                headers = {"Content-Type": "application/json", **signed_headers(SMS_SECRET, b)}
                return await self._post("/api/sms/inbound", b, headers, (200,))

            if await self._submit(s, attempt) is None:
                return
            await asyncio.sleep(0.3)

    async def _telegram(self, i: int) -> None:
        chat_id = 8_000_000_000 + i
        headers = {"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET}
        for k, text in enumerate(self._what(i)):
            update_id = 100_000_000 + i * 4 + k
            s = self.ledger.new("telegram", str(update_id))
            update = {
                "update_id": update_id,
                "message": {
                    "message_id": 10 + k,
                    "from": {"id": chat_id, "is_bot": False, "first_name": "市民"},
                    "chat": {"id": chat_id, "first_name": "市民", "type": "private"},
                    "date": int(time.time()),
                    "text": text,
                },
            }
            body = json.dumps(update, ensure_ascii=False).encode()
            if (
                await self._submit(s, lambda b=body: self._post("/api/telegram/webhook", b, headers, (200,)))
                is None
            ):
                return
            await asyncio.sleep(0.3)

    async def _mail(self, i: int) -> None:
        first, details = self._what(i)
        sender = f"citizen{i}.{self.run_id}@example.cn"
        msg = EmailMessage()
        msg["From"] = sender
        msg["To"] = MAILBOX
        msg["Subject"] = "投诉"
        msg["Message-ID"] = f"<chaos.{self.run_id}.{i}@example.cn>"
        msg.set_content(f"{first}。{details}。\n\n市民")
        raw = msg.as_bytes()
        s = self.ledger.new("mail", str(msg["Message-ID"]))

        def send() -> Any:
            with smtplib.SMTP("127.0.0.1", self.smtp_port, timeout=15) as client:
                refused = client.sendmail(sender, [MAILBOX], raw)  # raises unless 250
                return {} if not refused else None

        async def attempt() -> Any:
            async with self.mail_slots:
                return await asyncio.to_thread(send)

        await self._submit(s, attempt)

    async def _phone(self, i: int) -> None:
        what, _, where = COMPLAINTS[i % len(COMPLAINTS)]
        key = f"phone-{self.run_id}-{i}"
        s = self.ledger.new("phone", key)
        ticket = {
            "channel": "phone",
            "phone": f"136{i % 100_000_000:08d}",
            "name": "张三",
            "anonymous": False,
            "category": "投诉",
            "subject": "相关商户",
            "content": f"来电反映：{what}（来电记录 {key}）",
            "address": f"{where}{i % 97 + 1}栋",
            "demand": "希望尽快处理",
        }
        headers = {
            "Authorization": f"Bearer {API_TOKEN}",
            "Content-Type": "application/json",
            "Idempotency-Key": key,
        }
        body = json.dumps(ticket, ensure_ascii=False).encode()
        created = await self._submit(s, lambda: self._post("/api/tickets", body, headers, (200, 201)))
        if created is None or i % 2:
            return
        # the unit finishes half of them: the back office posts the result once dispatched
        number = created["number"]
        auth = {"Authorization": f"Bearer {API_TOKEN}"}
        while time.monotonic() < self.deadline:
            try:
                async with self.http.get(f"{self.base}/api/tickets/{number}", headers=auth) as resp:
                    if resp.status == 200 and (await resp.json())["status"] == "dispatched":
                        break
            except (TimeoutError, aiohttp.ClientError):
                pass
            await asyncio.sleep(1.0)
        else:
            return
        event = self.ledger.new("event", number)
        result = {"type": "completed", "result": "已约谈商户并整改，问题已解决。"}
        ev_headers = {**auth, "Content-Type": "application/json", "Idempotency-Key": f"done-{key}"}
        ev_body = json.dumps(result, ensure_ascii=False).encode()
        path = f"/api/tickets/{number}/events"
        await self._submit(event, lambda: self._post(path, ev_body, ev_headers, (200, 201)))
