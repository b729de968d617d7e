"""Long polling for local use without a public URL: ``python -m channels.telegram_poll``.

A small loop: ``getUpdates`` through a PTB ``Bot`` at ``TELEGRAM_API_BASE``, each update stored
with :func:`channels.telegram_webhook.store_update` exactly as the webhook stores it, and only
then confirmed to Telegram (the next call's ``offset``), so an update is never lost between the
two (RELIABILITY.md §4). The worker processes and answers them as in webhook mode.

Updates are fetched through ``do_api_request`` so the raw JSON is stored as Telegram sent it
(PTB's ``Update.to_dict`` adds defaults and drops nothing, but is not the same bytes).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import warnings
from collections.abc import Callable
from typing import Any

from telegram import Bot
from telegram.error import NetworkError, RetryAfter, TelegramError, TimedOut

from channels.telegram_send import build_bot, classify
from channels.telegram_webhook import StoredUpdate, store_update
from intake.errors import ConfigError
from intake.logs import setup_logging
from intake.runtime import build_runtime
from intake.settings import from_env
from intake.store.sql import SqlStore

log = logging.getLogger(__name__)
POLL_TIMEOUT = 25  # seconds Telegram may hold a getUpdates open
ERROR_PAUSE = 3.0


async def fetch_updates(bot: Bot, offset: int | None, poll_seconds: int) -> list[dict[str, Any]]:
    """One ``getUpdates``; ``offset`` confirms every update before it."""
    params: dict[str, Any] = {"timeout": poll_seconds, "limit": 100}
    if offset is not None:
        params["offset"] = offset
    with warnings.catch_warnings():  # PTB suggests get_updates; here the raw JSON is the point
        warnings.simplefilter("ignore")
        result = await bot.do_api_request(
            "getUpdates", api_kwargs=params, read_timeout=poll_seconds + 10, write_timeout=10
        )
    return [u for u in result if isinstance(u, dict)] if isinstance(result, list) else []


async def poll_once(
    bot: Bot, store: SqlStore, offset: int | None, *, poll_seconds: int = POLL_TIMEOUT
) -> tuple[int | None, list[StoredUpdate]]:
    """Fetch and store one batch; returns the next offset and what became of each update.

    If storing fails, the offset stays at the failed update, so the next call fetches it again.
    """
    stored: list[StoredUpdate] = []
    for update in await fetch_updates(bot, offset, poll_seconds):
        uid = update.get("update_id")
        result = await asyncio.to_thread(
            store_update, store, update, store.clock.now(), bot_username=bot.username
        )
        stored.append(result)
        if result.callback_query_id:
            try:
                await bot.answer_callback_query(result.callback_query_id)
            except TelegramError as exc:  # best effort: the choice itself is stored
                log.warning("answerCallbackQuery failed: %s", type(exc).__name__)
        if isinstance(uid, int) and not isinstance(uid, bool):
            offset = max(offset or 0, uid + 1)
    return offset, stored


async def run(
    bot: Bot,
    store: SqlStore,
    stop: asyncio.Event,
    *,
    poll_seconds: int = POLL_TIMEOUT,
    on_batch: Callable[[list[StoredUpdate]], object] | None = None,
) -> None:
    """Poll until ``stop`` is set. The webhook is removed first: Telegram refuses getUpdates
    while one is set (pending updates are kept, not dropped)."""
    await bot.delete_webhook(drop_pending_updates=False)
    offset: int | None = None
    while not stop.is_set():
        try:
            offset, batch = await poll_once(bot, store, offset, poll_seconds=poll_seconds)
        except RetryAfter as exc:
            await _pause(stop, classify(exc).retry_after or ERROR_PAUSE)
            continue
        except (TimedOut, NetworkError) as exc:
            log.warning("getUpdates failed: %s", exc)
            await _pause(stop, ERROR_PAUSE)
            continue
        except Exception:
            log.exception("storing an update failed; it will be fetched again")
            await _pause(stop, ERROR_PAUSE)
            continue
        if on_batch is not None and batch:
            on_batch(batch)


async def _pause(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except TimeoutError:
        pass


async def _main() -> None:
    settings = from_env()
    if not settings.telegram_token:
        raise ConfigError("TELEGRAM_TOKEN is not set")
    runtime = build_runtime(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    bot = build_bot(settings.telegram_token, settings.telegram_api_base, read_timeout=POLL_TIMEOUT + 10)
    try:
        async with bot:
            log.info("polling %s as @%s", settings.telegram_api_base, bot.username)
            await run(bot, runtime.store, stop)
    finally:
        runtime.close()


def main() -> None:
    setup_logging("telegram-poll")
    asyncio.run(_main())


if __name__ == "__main__":
    main()
