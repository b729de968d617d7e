"""Telegram, outbound: one message through a PTB ``Bot``, paced, with a classified outcome.

Telegram's ``sendMessage`` has no idempotency key, so the sender never retries by itself: every
failure is classified once and the notifier decides (RELIABILITY.md §6).

* **delivered** — Telegram answered with the message (its id is kept);
* **retry_later** — nothing was sent: 429 ``RetryAfter`` (the chat is then held back for
  ``retry_after`` seconds), connection refused, connect or pool timeout;
* **failed** — never deliverable as it stands: the citizen blocked the bot (403), chat not
  found or another 400;
* **uncertain** — the request may have reached Telegram (read/write timeout, connection dropped
  mid-answer, 5xx): never resent automatically, shown to agents instead.

Pacing (:class:`SendLimiter`) follows Telegram's published limits: about 30 messages a second
overall, one a second per chat with bursts of at most 3, 20 a minute in a group. PTB's
``AIORateLimiter`` is not used: it paces only group chats per chat and needs an ``ExtBot``.
The limiter is per process; several sending processes each keep their own pace.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum

import httpx
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, MessageEntity
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.request import HTTPXRequest

from channels.telegram_parse import MAX_TEXT_CHARS, encode_choice
from intake.errors import PermanentFailure, RetryLater, Uncertain

log = logging.getLogger(__name__)

NOT_SENT_RETRY_SECONDS = 10.0  # connection refused / connect timeout: nothing reached Telegram
BAD_TOKEN_RETRY_SECONDS = 300.0  # a wrong token is an operator's fix, not the message's fault


def build_bot(token: str, api_base: str, *, read_timeout: float = 10.0, connect_timeout: float = 5.0) -> Bot:
    """A PTB ``Bot`` talking to ``api_base`` (``TELEGRAM_API_BASE``: Telegram or a local stand-in).

    PTB appends the token to ``base_url``: requests go to ``{api_base}/bot{token}/{method}``.
    The caller owns its life cycle (``async with bot:`` or ``initialize``/``shutdown``).
    """
    base = api_base.rstrip("/")
    request = HTTPXRequest(
        connection_pool_size=64,
        read_timeout=read_timeout,
        write_timeout=read_timeout,
        connect_timeout=connect_timeout,
    )
    return Bot(token, base_url=f"{base}/bot", base_file_url=f"{base}/file/bot", request=request)


class Outcome(StrEnum):
    DELIVERED = "delivered"
    RETRY_LATER = "retry_later"
    FAILED = "failed"
    UNCERTAIN = "uncertain"


@dataclass(frozen=True, slots=True)
class DeliveryOutcome:
    """What became of one send; ``reason`` is for agents and logs, never shown to citizens."""

    kind: Outcome
    message_id: int | None = None
    retry_after: float | None = None
    reason: str = ""

    @classmethod
    def delivered(cls, message_id: int) -> DeliveryOutcome:
        return cls(Outcome.DELIVERED, message_id=message_id)

    @classmethod
    def retry_later(cls, after: float, reason: str) -> DeliveryOutcome:
        return cls(Outcome.RETRY_LATER, retry_after=max(float(after), 0.0), reason=reason)

    @classmethod
    def failed(cls, reason: str) -> DeliveryOutcome:
        return cls(Outcome.FAILED, reason=reason)

    @classmethod
    def uncertain(cls, reason: str) -> DeliveryOutcome:
        return cls(Outcome.UNCERTAIN, reason=reason)

    def raise_unless_delivered(self) -> None:
        """Map to the classified errors the notifier's ``deliver`` expects (intake/errors.py)."""
        if self.kind is Outcome.RETRY_LATER:
            raise RetryLater(self.reason, after=self.retry_after or NOT_SENT_RETRY_SECONDS)
        if self.kind is Outcome.FAILED:
            raise PermanentFailure(self.reason)
        if self.kind is Outcome.UNCERTAIN:
            raise Uncertain(self.reason)


def classify(exc: TelegramError) -> DeliveryOutcome:
    """Decide from a PTB error whether the message may have left (RELIABILITY.md §6)."""
    cause = exc.__cause__
    reason = f"{type(exc).__name__}: {exc.message}"
    if isinstance(exc, RetryAfter):
        return DeliveryOutcome.retry_later(_seconds(exc), reason)
    if isinstance(exc, TimedOut):
        # PTB wraps every httpx timeout; only connect and pool timeouts happen before sending.
        if isinstance(cause, httpx.ConnectTimeout | httpx.PoolTimeout) or "was *not* sent" in exc.message:
            return DeliveryOutcome.retry_later(NOT_SENT_RETRY_SECONDS, reason)
        return DeliveryOutcome.uncertain(reason)
    if isinstance(exc, Forbidden | BadRequest | ChatMigrated):
        return DeliveryOutcome.failed(reason)
    if isinstance(exc, InvalidToken | Conflict):
        return DeliveryOutcome.retry_later(BAD_TOKEN_RETRY_SECONDS, reason)
    if isinstance(exc, NetworkError) and isinstance(cause, httpx.ConnectError):
        return DeliveryOutcome.retry_later(NOT_SENT_RETRY_SECONDS, reason)
    # Dropped connections, 5xx answers, unreadable answers: Telegram may have sent it.
    return DeliveryOutcome.uncertain(reason)


def _seconds(exc: RetryAfter) -> float:
    with warnings.catch_warnings():  # the int form is deprecated while PTB migrates (v22.2)
        warnings.simplefilter("ignore")
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def keyboard(choices: Sequence[str]) -> InlineKeyboardMarkup | None:
    """One button per row; its data maps back to the full choice text (``decode_choice``)."""
    if not choices:
        return None
    rows = [
        [InlineKeyboardButton(text, callback_data=encode_choice(i, text))] for i, text in enumerate(choices)
    ]
    return InlineKeyboardMarkup(rows)


# Numbers a citizen may be told to call: the emergency lines (110, 119, 120, 122), the 12xxx
# public-service lines (12345, 12356…), and full phone numbers (a mobile, or a landline with its
# area code). Telegram links these for a tap to call only when the message marks them (a bot
# cannot send tel: links; issue 19). By shape, so a line a profile names needs no list here.
_CALLABLE = re.compile(r"(?<![\d-])(?:11[09]|12[02]|12\d{3}|1[3-9]\d{9}|0\d{2,3}-?\d{7,8})(?![\d-])")


def phone_entities(text: str) -> list[MessageEntity]:
    """``phone_number`` entities (offsets in UTF-16 code units, as the Bot API counts them) for
    every number in ``text`` a citizen could tap to call."""
    out = []
    for m in _CALLABLE.finditer(text):
        offset = len(text[: m.start()].encode("utf-16-le", "surrogatepass")) // 2
        out.append(MessageEntity(MessageEntity.PHONE_NUMBER, offset, len(m.group(0))))
    return out


class _Bucket:
    """GCRA (a token bucket kept as one timestamp): ``rate`` per second, bursts of ``burst``."""

    __slots__ = ("interval", "tat", "tolerance")

    def __init__(self, rate: float, burst: int) -> None:
        self.interval = 1.0 / rate
        self.tolerance = (max(burst, 1) - 1) * self.interval
        self.tat = float("-inf")

    def wait(self, now: float) -> float:
        return max(0.0, self.tat - self.tolerance - now)

    def commit(self, now: float) -> None:
        self.tat = max(self.tat, now) + self.interval

    def idle(self, now: float) -> bool:
        return self.tat <= now


@dataclass(slots=True)
class _ChatPace:
    bucket: _Bucket
    group: _Bucket | None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    blocked_until: float = float("-inf")


class SendLimiter:
    """Paces sends per chat and overall, inside one process and one event loop.

    Sends to one chat are serialised (they also arrive in order); the per-chat and overall
    budgets are charged at the moment the request leaves, so waiting for one never lets the
    other burst. A chat that got a 429 is held back until its ``retry_after`` has passed.
    """

    def __init__(
        self,
        *,
        per_chat_rate: float = 1.0,
        per_chat_burst: int = 3,
        overall_rate: float = 30.0,
        group_per_minute: float = 20.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        max_idle_chats: int = 4096,
    ) -> None:
        self._per_chat = (per_chat_rate, per_chat_burst)
        self._group_rate = group_per_minute / 60.0
        self._overall = _Bucket(overall_rate, 1)
        self._overall_lock = asyncio.Lock()
        self._chats: dict[str, _ChatPace] = {}
        self._clock = clock
        self._sleep = sleep
        self._sweep_at = max_idle_chats

    def block(self, chat_key: str, seconds: float) -> None:
        """Hold a chat back after Telegram's 429 (its ``retry_after``)."""
        pace = self._pace(chat_key)
        pace.blocked_until = max(pace.blocked_until, self._clock() + seconds)

    @asynccontextmanager
    async def slot(self, chat_key: str) -> AsyncIterator[float]:
        """Wait for the right to send; yields 0.0, or the seconds the chat is still held back
        (then the caller must not send)."""
        pace = self._pace(chat_key)
        async with pace.lock:
            held = pace.blocked_until - self._clock()
            if held > 0:
                yield held
                return
            await self._sleep(
                max(pace.bucket.wait(self._clock()), pace.group.wait(self._clock()) if pace.group else 0)
            )
            async with self._overall_lock:
                await self._sleep(self._overall.wait(self._clock()))
                now = self._clock()
                self._overall.commit(now)
                pace.bucket.commit(now)
                if pace.group:
                    pace.group.commit(now)
            yield 0.0

    def _pace(self, chat_key: str) -> _ChatPace:
        pace = self._chats.get(chat_key)
        if pace is None:
            if len(self._chats) >= self._sweep_at:
                self._forget_idle()
            is_group = chat_key.startswith("-")  # groups, supergroups and channels have negative ids
            pace = _ChatPace(_Bucket(*self._per_chat), _Bucket(self._group_rate, 1) if is_group else None)
            self._chats[chat_key] = pace
        return pace

    def _forget_idle(self) -> None:
        """Drop chats whose state equals a fresh one, so memory stays bounded."""
        now = self._clock()
        for key in [
            k
            for k, p in self._chats.items()
            if not p.lock.locked()
            and p.bucket.idle(now)
            and (p.group is None or p.group.idle(now))
            and p.blocked_until <= now
        ]:
            del self._chats[key]
        self._sweep_at = max(self._sweep_at, 2 * len(self._chats))


class TelegramSender:
    """Sends texts (with optional inline-keyboard choices) and reports a :class:`DeliveryOutcome`.

    Args:
        bot: an initialised PTB ``Bot`` (see :func:`build_bot`); its life cycle stays the caller's.
        limiter: pacing shared by every send of this process.
        key_param: only against the local Bot API stand-in: also send the idempotency key as this
            extra parameter, so tests can check that no key was received twice. Off for Telegram.
    """

    def __init__(self, bot: Bot, *, limiter: SendLimiter | None = None, key_param: str | None = None) -> None:
        self.bot = bot
        self.limiter = limiter or SendLimiter()
        self._key_param = key_param

    async def send(
        self, chat_id: str, text: str, choices: Sequence[str] = (), *, idempotency_key: str
    ) -> DeliveryOutcome:
        """Send once; never retried here, whatever happens (RELIABILITY.md §6)."""
        if not text.strip():
            return DeliveryOutcome.failed("empty text")
        if len(text.encode("utf-16-le", "surrogatepass")) // 2 > MAX_TEXT_CHARS:
            return DeliveryOutcome.failed(f"text longer than {MAX_TEXT_CHARS} characters")
        target: int | str = int(chat_id) if chat_id.lstrip("-").isdigit() else chat_id
        extra = {self._key_param: idempotency_key} if self._key_param else None
        async with self.limiter.slot(chat_id) as held:
            if held > 0:
                outcome = DeliveryOutcome.retry_later(held, "flood control: chat held back after a 429")
            else:
                try:
                    message = await self.bot.send_message(
                        chat_id=target,
                        text=text,
                        reply_markup=keyboard(choices),
                        entities=phone_entities(text) or None,
                        api_kwargs=extra,
                    )
                except TelegramError as exc:
                    outcome = classify(exc)
                    if isinstance(exc, RetryAfter):
                        self.limiter.block(chat_id, outcome.retry_after or 0.0)
                else:
                    outcome = DeliveryOutcome.delivered(message.message_id)
        log.info("telegram send %s: %s %s", idempotency_key, outcome.kind.value, outcome.reason)
        return outcome

    async def answer_callback(self, callback_query_id: str, text: str | None = None) -> bool:
        """Stop the pressed button's spinner. Best effort: a failure here loses nothing."""
        try:
            return await self.bot.answer_callback_query(callback_query_id, text=text)
        except TelegramError as exc:
            log.warning("answerCallbackQuery failed: %s", type(exc).__name__)
            return False

    async def clear_keyboard(self, chat_id: str, message_id: int) -> bool:
        """Remove the buttons of an answered question, so the same choice is not sent twice."""
        try:
            await self.bot.edit_message_reply_markup(
                chat_id=chat_id, message_id=message_id, reply_markup=None
            )
        except TelegramError as exc:
            log.warning("editMessageReplyMarkup failed: %s", type(exc).__name__)
            return False
        return True
