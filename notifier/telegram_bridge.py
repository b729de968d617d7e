"""The Telegram sender (async, python-telegram-bot) behind the notifier's synchronous port.

One event loop thread per process holds one initialised Bot and one rate limiter, so pacing
(≤ 30/s overall, ≤ 1/s per chat) holds across every job this worker runs.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from telegram.error import TelegramError

from channels.telegram_send import TelegramSender, build_bot
from intake.errors import RetryLater, Uncertain
from intake.model import StoredOutbound

SEND_TIMEOUT = 60.0


class SyncTelegramSender:
    def __init__(
        self, token: str, api_base: str, *, key_param: str | None = None, read_timeout: float = 10.0
    ) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="telegram-loop", daemon=True)
        self._thread.start()
        self._bot = build_bot(token, api_base, read_timeout=read_timeout)
        self._sender = TelegramSender(self._bot, key_param=key_param)
        self._ready = False

    def _run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(SEND_TIMEOUT)

    def _ensure_ready(self) -> None:
        """Initialise the Bot (getMe) on first use, not at construction: the worker builds every
        channel's sender together, and an unreachable Telegram must not stop SMS or mail."""
        if self._ready:
            return
        try:
            self._run(self._bot.initialize())
        except (TelegramError, TimeoutError) as exc:
            raise RetryLater(f"Telegram not reachable: {type(exc).__name__}", after=30) from None
        self._ready = True

    def send(self, m: StoredOutbound) -> None:
        self._ensure_ready()
        try:
            outcome = self._run(
                self._sender.send(m.address.value, m.text, m.choices, idempotency_key=m.idempotency_key)
            )
        except TimeoutError:
            raise Uncertain("no answer from the Telegram sender in time") from None
        outcome.raise_unless_delivered()

    def close(self) -> None:
        try:
            if self._ready:
                self._run(self._bot.shutdown())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)
