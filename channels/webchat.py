"""Web chat (CONTRACT.md "Web chat"): sessions with a bearer token, messages, polling, a live stream.

In this file's order: the pure token functions, the routes, the sender the notifier uses.
Tokens are bound to their session and to an expiry and compared in constant time
(RELIABILITY.md §9); a token never travels in a URL. Wrong tokens, or guessed session ids, are
counted per address: past ``token_failures_per_address`` in 15 minutes they are answered 429
(channels.throttle, as console logins are; RELIABILITY.md S4).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import redis
import redis.asyncio as aioredis
from aiohttp import web

from channels.auth import bearer
from channels.http_common import (
    METRICS_KEY,
    REQUEST_ID,
    TooManyRequests,
    async_redis,
    in_thread,
    read_json,
    row_id,
)
from channels.throttle import FailureThrottle
from channels.turns import TurnGroups
from intake.crypto import Cipher
from intake.errors import InvalidInput, Unauthorized
from intake.model import AGENT_KIND, Address, Channel, InboundMessage, StoredOutbound, StoredTicket
from intake.service import IntakeService, TurnInput
from intake.store.sql import SqlStore

log = logging.getLogger(__name__)

# Long enough to read the result and answer the survey of a ticket filed here (handling up to
# 15 WD + extensions + the 5-day evaluation window), short enough that an old token dies.
SESSION_TTL = timedelta(days=45)
MAX_BODY = 256 * 1024
CREATE_LIMIT_PER_MINUTE = 30
STREAMS_PER_SESSION = 3  # a citizen with the page open in a few tabs
TOKEN_THROTTLE = FailureThrottle(
    "会话凭证错误次数过多，请 {minutes} 分钟后再试。Too many invalid chat tokens from this address."
)


class StreamGate:
    """Live-update streams held open by this process, capped per session and overall, so that
    streams never take what new chats need: each holds a Redis connection of its own pool."""

    def __init__(self, limit: int, per_session: int = STREAMS_PER_SESSION) -> None:
        self.limit = limit
        self.per_session = per_session
        self.open: Counter[str] = Counter()

    @property
    def total(self) -> int:
        return sum(self.open.values())

    @contextlib.contextmanager
    def admit(self, session_id: str) -> Iterator[None]:
        if self.total >= self.limit:
            raise TooManyRequests(
                "当前在线人数较多，消息会在刷新后显示。Too many live streams now.", after=30
            )
        if self.open[session_id] >= self.per_session:
            raise TooManyRequests("本会话打开的页面过多。Too many live streams for this session.", after=30)
        self.open[session_id] += 1
        try:
            yield
        finally:
            self.open[session_id] -= 1
            if not self.open[session_id]:
                del self.open[session_id]


STREAMS_KEY: web.AppKey[StreamGate] = web.AppKey("streams", StreamGate)


def channel_name(session_id: str) -> str:
    return f"hotline:chat:{session_id}"


# -- pure ---------------------------------------------------------------------------------------
def issue_token(cipher: Cipher, session_id: str, now: datetime) -> str:
    expires = int((now + SESSION_TTL).timestamp())
    return f"{expires}.{cipher.sign(f'chat:{session_id}:{expires}')}"


def check_token(cipher: Cipher, session_id: str, token: str, now: datetime) -> bool:
    expires, _, sig = token.partition(".")
    if not (expires.isascii() and expires.isdigit()) or not sig:
        return False
    if not cipher.verify(f"chat:{session_id}:{expires}", sig):
        return False
    return int(expires) > now.timestamp()


def message_json(m: StoredOutbound, ticket: StoredTicket | None = None) -> dict[str, Any]:
    """A message as the page sees it; a notice about a ticket carries the ticket's state now, so
    the page's ticket card follows dispatch, extension and completion."""
    out: dict[str, Any] = {
        "id": m.id,
        "text": m.text,
        "at": m.created_at.isoformat(),
        "from": "agent" if m.kind == AGENT_KIND else "hotline",  # a person's answer is marked
    }
    if m.choices:
        out["choices"] = list(m.choices)
    if ticket is not None and ticket.number:
        out["ticket"] = {
            "number": ticket.number,
            "status": ticket.status.value,
            "category": ticket.category,
            "deadline": ticket.deadline.isoformat() if ticket.deadline else None,
        }
    return out


def messages_json(store: SqlStore, rows: list[StoredOutbound]) -> list[dict[str, Any]]:
    found: dict[int, StoredTicket | None] = {}
    for m in rows:
        if m.ticket_id is not None and m.ticket_id not in found:
            found[m.ticket_id] = store.get_ticket(m.ticket_id)
    return [message_json(m, found.get(m.ticket_id) if m.ticket_id is not None else None) for m in rows]


# -- routes -------------------------------------------------------------------------------------


class WebChat:
    def __init__(
        self,
        service: IntakeService,
        redis_url: str,
        *,
        max_streams: int = 500,
        token_failures_per_address: int = 50,
    ) -> None:
        self.service = service
        self.token_failures_per_address = token_failures_per_address
        self.store = service.store
        self.redis_url = redis_url
        self.aredis: aioredis.Redis | None = None
        self.stream_redis: aioredis.Redis | None = None  # the streams' own pool: never the chat's
        self.gate = StreamGate(max_streams)
        self.turns = TurnGroups(service)

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/api/chat/sessions", self.create_session)
        app.router.add_post("/api/chat/sessions/{session_id}/messages", self.post_message)
        app.router.add_get("/api/chat/sessions/{session_id}/messages", self.list_messages)
        app.router.add_get("/api/chat/sessions/{session_id}/history", self.history)
        app.router.add_get("/api/chat/sessions/{session_id}/stream", self.stream)
        app[STREAMS_KEY] = self.gate
        app.cleanup_ctx.append(self._redis_ctx)

    async def _redis_ctx(self, app: web.Application) -> Any:
        self.aredis = async_redis(self.redis_url)
        self.stream_redis = aioredis.Redis.from_url(self.redis_url, max_connections=self.gate.limit + 4)
        yield
        await self.aredis.aclose()
        await self.stream_redis.aclose()

    async def _auth(self, request: web.Request) -> str:
        """The session id of the request if its token is that session's; 401 otherwise, or 429
        from an address with too many wrong tokens lately. A good token touches no Redis."""
        assert self.aredis is not None
        session_id = request.match_info["session_id"]
        token = bearer(request)
        if not token:
            raise Unauthorized("缺少会话凭证。Missing bearer token.")
        if not check_token(self.store.cipher, session_id, token, self.service.clock.now()):
            key = f"hotline:rl:chat-token:{request.remote or 'unknown'}"
            await TOKEN_THROTTLE.failed(self.aredis, (key,), limit=self.token_failures_per_address)
            raise Unauthorized("会话凭证无效或已过期，请刷新页面重新开始。Invalid or expired token.")
        return session_id

    async def create_session(self, request: web.Request) -> web.Response:
        assert self.aredis is not None
        ip = request.remote or "unknown"
        key = f"hotline:rl:chat-create:{ip}"
        async with self.aredis.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, 60, nx=True)
            count, _ = await pipe.execute()
        if int(count) > CREATE_LIMIT_PER_MINUTE:
            raise TooManyRequests("请求过于频繁，请稍后再试。Too many new sessions; try again in a minute.")
        session_id = secrets.token_urlsafe(16)
        token = issue_token(self.store.cipher, session_id, self.service.clock.now())
        return web.json_response({"session_id": session_id, "token": token}, status=201)

    async def post_message(self, request: web.Request) -> web.Response:
        session_id = await self._auth(request)
        data = await read_json(request, max_bytes=MAX_BODY)
        text = data.get("text")
        if not isinstance(text, str):
            raise InvalidInput("请填写消息内容。The field 'text' must be a string.")
        client_id = data.get("client_id")
        if client_id is not None and not (isinstance(client_id, str) and REQUEST_ID.fullmatch(client_id)):
            raise InvalidInput(
                "client_id 应为 1–100 个字母、数字或 ._:-。'client_id': 1–100 letters, digits or ._:-"
            )
        # The same client_id twice in a session is one message with the same replies (a page that
        # retried after a lost answer); keyed with the session, so no other session can collide.
        native = f"{session_id}:{client_id}" if client_id is not None else None
        msg = InboundMessage(Address(Channel.WEBCHAT, session_id), text, self.service.clock.now(), native)
        result = await self.turns.handle(request, TurnInput(msg))
        request.app[METRICS_KEY].inbound.labels("webchat").inc()
        if result.ticket is not None and result.ticket.number and result.ticket.status.value == "registered":
            request.app[METRICS_KEY].tickets.labels("webchat").inc()
        replies = [
            {"id": r.id, "text": r.text, **({"choices": list(r.choices)} if r.choices else {})}
            for r in result.replies
        ]
        return web.json_response(
            {"replies": replies, "ticket": result.ticket.to_json() if result.ticket else None}
        )

    async def list_messages(self, request: web.Request) -> web.Response:
        session_id = await self._auth(request)
        after = _after(request)
        address = Address(Channel.WEBCHAT, session_id)
        rows = await in_thread(request, self.store.outbound_for, address, after_id=after)
        return web.json_response({"messages": await in_thread(request, messages_json, self.store, rows)})

    async def history(self, request: web.Request) -> web.Response:
        """Both sides of the conversation, for restoring the page after a reload."""
        session_id = await self._auth(request)
        address = Address(Channel.WEBCHAT, session_id)
        inbound = await in_thread(request, self.store.inbound_texts, address, 200)
        outbound = await in_thread(request, self.store.outbound_for, address)
        items = [{"from": "citizen", "text": t, "at": at.isoformat(), "key": f"i{i}"} for i, t, at in inbound]
        shown = await in_thread(request, messages_json, self.store, outbound)
        items += [{**j, "key": f"o{j['id']}"} for j in shown]
        items.sort(key=lambda x: (x["at"], x["key"]))
        return web.json_response({"messages": items})

    async def stream(self, request: web.Request) -> web.StreamResponse:
        """Server-Sent Events: what arrives for this session after ``after``, then live. At most
        ``STREAMS_PER_SESSION`` per session and ``max_streams`` per process (429 beyond: the page
        tries again with back-off, and each message's answer still carries its replies), each on
        the streams' own Redis pool."""
        session_id = await self._auth(request)
        after = _after(request)
        with self.gate.admit(session_id):
            return await self._stream(request, session_id, after)

    async def _stream(self, request: web.Request, session_id: str, after: int) -> web.StreamResponse:
        assert self.stream_redis is not None
        resp = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-cache",
                "X-Accel-Buffering": "no",
            }
        )
        await resp.prepare(request)
        pubsub = self.stream_redis.pubsub()
        await pubsub.subscribe(channel_name(session_id))
        try:
            address = Address(Channel.WEBCHAT, session_id)
            missed = await in_thread(request, self.store.outbound_for, address, after_id=after)
            for j in await in_thread(request, messages_json, self.store, missed):
                await _sse(resp, j)
                after = max(after, j["id"])
            while True:
                item = await pubsub.get_message(ignore_subscribe_messages=True, timeout=15.0)
                if item is None:
                    await resp.write(b": keep-alive\n\n")
                    continue
                data = json.loads(item["data"])
                if data.get("id", 0) > after:
                    after = data["id"]
                    await _sse(resp, data)
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            await pubsub.unsubscribe()
            await pubsub.aclose()
        return resp


def _after(request: web.Request) -> int:
    raw = request.query.get("after", "0")
    after = row_id(raw)
    if after is None:
        raise InvalidInput("after 必须是消息编号。'after' must be a message id.")
    return after


async def _sse(resp: web.StreamResponse, data: dict[str, Any]) -> None:
    payload = json.dumps(data, ensure_ascii=False)
    await resp.write(f"id: {data['id']}\nevent: message\ndata: {payload}\n\n".encode())


# -- sender -------------------------------------------------------------------------------------
class WebchatSender:
    """Delivery to a web-chat session: the row is already in SQL (the page reads it on
    reconnect); publishing pushes it to any open page at once."""

    def __init__(self, redis_client: redis.Redis, store: SqlStore) -> None:
        self.redis = redis_client
        self.store = store

    def send(self, m: StoredOutbound) -> None:
        ticket = self.store.get_ticket(m.ticket_id) if m.ticket_id is not None else None
        self.redis.publish(
            channel_name(m.address.value), json.dumps(message_json(m, ticket), ensure_ascii=False)
        )
