"""Test support: a local stand-in of the Telegram Bot API, served by aiohttp on loopback.

The real Bot API is unreachable in tests, so the real PTB ``Bot`` (``base_url`` =
``f"{stand_in.api_base}/bot"``) talks to this instead. It answers with the Bot API's own JSON
shapes (``{"ok": true, "result": ...}``, ``{"ok": false, "error_code", "description",
"parameters"}``) so PTB de-serialises them as it would Telegram's, records every call, and can
be told to misbehave the ways RELIABILITY.md tests need: 429 with ``retry_after``, a read
timeout *after* the message was recorded (the ambiguous case), refused connections, a citizen
who blocked the bot, an unknown chat.

It is test support only: nothing in the product imports it.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

TEST_TOKEN = "7000000001:AAH-stand-in-token_for_tests_only0"

_JSON_PARAMS = frozenset(
    {"reply_markup", "allowed_updates", "entities", "link_preview_options", "reply_parameters"}
)
_INT_PARAMS = frozenset({"chat_id", "message_id", "offset", "limit", "timeout", "user_id", "cache_time"})
_BOOL_PARAMS = frozenset({"drop_pending_updates", "show_alert", "disable_notification"})


@dataclass
class Call:
    """One request as the stand-in saw it: ``at`` is ``time.monotonic()`` on arrival."""

    method: str
    params: dict[str, Any]
    at: float
    outcome: str = "ok"  # ok | retry_after | stalled | forbidden | chat_not_found | unauthorized | ...


class BotApiStandIn:
    """The Bot API on ``127.0.0.1:<random port>``; use as ``async with BotApiStandIn() as api``.

    Attributes:
        calls: every request received, in order.
        messages: every message "sent to a chat" (as Message dicts), including those whose
            answer was then withheld by :meth:`stall_next_sends`.
        webhook: the last ``setWebhook`` parameters, or None.
    """

    def __init__(self, token: str = TEST_TOKEN, *, username: str = "hotline_test_bot") -> None:
        self.token = token
        self.bot_id = int(token.split(":", 1)[0])
        self.username = username
        self.calls: list[Call] = []
        self.messages: list[dict[str, Any]] = []
        self.webhook: dict[str, Any] | None = None
        self.blocked_chats: set[int] = set()
        self.unknown_chats: set[int] = set()
        self.failing = False  # an outage while set: every sendMessage gets 429 (retry_after 5)
        self._retry_after: list[int] = []
        self._stalls: list[float] = []
        self._updates: list[dict[str, Any]] = []
        self._update_added = asyncio.Event()
        self._closing = asyncio.Event()
        self._next_message_id = 100
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None
        self.port = 0

    # life cycle -----------------------------------------------------------------------------
    async def start(self) -> None:
        app = web.Application(client_max_size=2 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app, shutdown_timeout=0.5, access_log=None)
        await self._runner.setup()
        await self._listen()

    async def stop(self) -> None:
        self._closing.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> BotApiStandIn:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def api_base(self) -> str:
        """The value for ``TELEGRAM_API_BASE``."""
        return f"http://127.0.0.1:{self.port}"

    # faults -----------------------------------------------------------------------------------
    def fail_next_sends(self, count: int, *, retry_after: int) -> None:
        """The next ``count`` sendMessage calls get 429 with ``parameters.retry_after``."""
        self._retry_after.extend([retry_after] * count)

    def stall_next_sends(self, count: int, *, seconds: float) -> None:
        """The next ``count`` messages are recorded as sent, then the answer waits ``seconds``
        (past the client's read timeout): the client cannot know the message went out."""
        self._stalls.extend([seconds] * count)

    async def refuse_connections(self) -> None:
        """Stop listening and close idle keep-alive connections: new requests are refused."""
        if self._site is not None:
            await self._site.stop()
            self._site = None
        if self._runner is not None and self._runner.server is not None:
            for conn in self._runner.server.connections:
                conn.force_close()
                if conn.transport is not None:
                    conn.transport.close()
        await asyncio.sleep(0.05)

    async def accept_connections(self) -> None:
        if self._site is None:
            await self._listen()

    # updates for long polling -----------------------------------------------------------------
    def queue_update(self, update: dict[str, Any]) -> None:
        """Serve ``update`` to the next ``getUpdates`` (polling mode)."""
        self._updates.append(update)
        self._update_added.set()

    # views for assertions ---------------------------------------------------------------------
    def calls_to(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def messages_to(self, chat_id: int | str) -> list[dict[str, Any]]:
        return [m for m in self.messages if str(m["chat"]["id"]) == str(chat_id)]

    # the API ----------------------------------------------------------------------------------
    async def _listen(self) -> None:
        assert self._runner is not None
        self._site = web.TCPSite(self._runner, "127.0.0.1", self.port, reuse_address=True)
        await self._site.start()
        if not self.port:
            server = self._site._server
            assert server is not None
            self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await _params(request)
        call = Call(method, params, time.monotonic())
        self.calls.append(call)
        if request.match_info["token"] != self.token:
            call.outcome = "unauthorized"
            return _error(401, "Unauthorized")
        handler = getattr(self, f"_api_{method.lower()}", None)
        if handler is None:
            call.outcome = "not_found"
            return _error(404, "Not Found: method not found")
        return await handler(call)

    async def _api_getme(self, call: Call) -> web.Response:
        return _ok(self._bot_user() | {"can_join_groups": True, "can_read_all_group_messages": False})

    async def _api_sendmessage(self, call: Call) -> web.Response:
        chat_id, text = call.params.get("chat_id"), call.params.get("text")
        if not isinstance(chat_id, int) or not isinstance(text, str) or not text:
            call.outcome = "bad_request"
            return _error(400, "Bad Request: message text is empty")
        if self._retry_after or self.failing:
            call.outcome = "retry_after"
            seconds = self._retry_after.pop(0) if self._retry_after else 5
            return _error(429, f"Too Many Requests: retry after {seconds}", {"retry_after": seconds})
        if chat_id in self.blocked_chats:
            call.outcome = "forbidden"
            return _error(403, "Forbidden: bot was blocked by the user")
        if chat_id in self.unknown_chats:
            call.outcome = "chat_not_found"
            return _error(400, "Bad Request: chat not found")
        message = self._message(chat_id, text, call.params.get("reply_markup"), call.params.get("entities"))
        self.messages.append(message)
        if self._stalls:
            call.outcome = "stalled"
            try:
                await asyncio.wait_for(self._closing.wait(), self._stalls.pop(0))
            except TimeoutError:
                pass
        return _ok(message)

    async def _api_answercallbackquery(self, call: Call) -> web.Response:
        if not call.params.get("callback_query_id"):
            call.outcome = "bad_request"
            return _error(
                400, "Bad Request: query is too old and response timeout expired or query ID is invalid"
            )
        return _ok(True)

    async def _api_editmessagereplymarkup(self, call: Call) -> web.Response:
        chat_id, message_id = call.params.get("chat_id"), call.params.get("message_id")
        for message in self.messages:
            if message["chat"]["id"] == chat_id and message["message_id"] == message_id:
                markup = call.params.get("reply_markup")
                if markup:
                    message["reply_markup"] = markup
                else:
                    message.pop("reply_markup", None)
                return _ok(message | {"edit_date": int(time.time())})
        call.outcome = "bad_request"
        return _error(400, "Bad Request: message to edit not found")

    async def _api_setwebhook(self, call: Call) -> web.Response:
        self.webhook = dict(call.params)
        if call.params.get("drop_pending_updates"):
            self._updates.clear()
        return web.json_response({"ok": True, "result": True, "description": "Webhook was set"})

    async def _api_deletewebhook(self, call: Call) -> web.Response:
        self.webhook = None
        if call.params.get("drop_pending_updates"):
            self._updates.clear()
        return web.json_response({"ok": True, "result": True, "description": "Webhook was deleted"})

    async def _api_getwebhookinfo(self, call: Call) -> web.Response:
        url = (self.webhook or {}).get("url", "")
        return _ok({"url": url, "has_custom_certificate": False, "pending_update_count": len(self._updates)})

    async def _api_getupdates(self, call: Call) -> web.Response:
        if self.webhook is not None:
            call.outcome = "conflict"
            return _error(
                409, "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook first"
            )
        offset = call.params.get("offset") or 0
        limit = min(max(call.params.get("limit") or 100, 1), 100)
        timeout = float(call.params.get("timeout") or 0)
        deadline = time.monotonic() + timeout
        while True:
            if offset:  # confirms everything before it, as Telegram does
                self._updates = [u for u in self._updates if u["update_id"] >= offset]
            if self._updates or time.monotonic() >= deadline or self._closing.is_set():
                return _ok(self._updates[:limit])
            self._update_added.clear()
            try:
                await asyncio.wait_for(self._update_added.wait(), max(deadline - time.monotonic(), 0.0))
            except TimeoutError:
                pass

    # shapes -----------------------------------------------------------------------------------
    def _bot_user(self) -> dict[str, Any]:
        return {"id": self.bot_id, "is_bot": True, "first_name": "12345热线", "username": self.username}

    def _message(self, chat_id: int, text: str, markup: Any, entities: Any = None) -> dict[str, Any]:
        self._next_message_id += 1
        if chat_id < 0:
            chat: dict[str, Any] = {"id": chat_id, "title": "测试群", "type": "supergroup"}
        else:
            chat = {"id": chat_id, "first_name": "市民", "type": "private"}
        message = {
            "message_id": self._next_message_id,
            "from": self._bot_user(),
            "chat": chat,
            "date": int(time.time()),
            "text": text,
        }
        if isinstance(markup, dict) and markup.get("inline_keyboard"):
            message["reply_markup"] = markup
        if isinstance(entities, list) and entities:  # as Telegram returns them: kept with the text
            message["entities"] = entities
        return message


def _ok(result: Any) -> web.Response:
    return web.json_response({"ok": True, "result": result})


def _error(status: int, description: str, parameters: dict[str, Any] | None = None) -> web.Response:
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if parameters:
        body["parameters"] = parameters
    return web.json_response(body, status=status)


async def _params(request: web.Request) -> dict[str, Any]:
    """Parameters as Telegram reads them: query string, form, multipart or JSON body."""
    raw: dict[str, Any] = dict(request.query)
    if request.content_type == "application/json":
        body = await request.json()
        raw.update(body if isinstance(body, dict) else {})
        return raw
    if request.can_read_body:
        form = await request.post()
        raw.update({k: v for k, v in form.items() if isinstance(v, str)})
    return {k: _decode(k, v) for k, v in raw.items()}


def _decode(name: str, value: str) -> Any:
    try:
        if name in _JSON_PARAMS:
            return json.loads(value)
        if name in _INT_PARAMS:
            return int(value)
        if name in _BOOL_PARAMS:
            return value.lower() in ("true", "1")
    except ValueError:
        return value
    return value


def sent_texts(messages: Iterable[dict[str, Any]]) -> list[str]:
    """The texts of recorded messages, in order."""
    return [m["text"] for m in messages]
