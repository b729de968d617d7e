"""Bad input on the HTTP API (RELIABILITY.md T1, T7, S4, S5, S7): every refusal is the contract's
JSON error with a fitting status, nothing refused is stored, nothing accepted is lost or stored
twice, and one session's token never opens another session."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from ipaddress import ip_network
from typing import Any

import aiohttp
import pytest
import redis
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from channels.signing import signed_headers
from channels.web import create_app
from channels.webchat import STREAMS_KEY
from intake.model import Address, Channel
from intake.runtime import Runtime
from intake.store.schema import messages_in
from tests.support.journey import AUTH, SMS_SECRET, Chat, post_sms

Client = Callable[..., Any]
JSON = {"Content-Type": "application/json"}


@pytest.fixture
async def client(aiohttp_client: Client, sqlite_runtime: Runtime) -> TestClient:
    c: TestClient = await aiohttp_client(create_app(sqlite_runtime))
    return c


def inbound_rows(rt: Runtime) -> int:
    with rt.store.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(messages_in)).scalar_one())


async def error_of(resp: Any, status: int) -> str:
    """The contract's error shape, with the status expected; returns the code."""
    assert resp.status == status, await resp.text()
    assert resp.content_type == "application/json"
    body = await resp.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    assert body["error"]["message"] and "Traceback" not in body["error"]["message"]
    code: str = body["error"]["code"]
    return code


def decoded(body: str) -> str:
    """A JSON body with its \\u escapes undone, so a search for Chinese text can hit."""
    return json.dumps(json.loads(body), ensure_ascii=False)


def with_settings(runtime: Runtime, **changes: Any) -> Runtime:
    """The same stores under other settings."""
    return replace(runtime, settings=replace(runtime.settings, **changes))


def allow_new_sessions(redis_client: redis.Redis) -> None:
    """Forget the per-IP creation counter (every test client comes from 127.0.0.1)."""
    for key in redis_client.scan_iter("hotline:rl:*"):
        redis_client.delete(key)


@pytest.mark.parametrize(
    ("path", "auth"),
    [("chat", True), ("/api/sms/inbound", False), ("/api/tickets", True), ("/api/dev/clock", False)],
)
async def test_malformed_json_and_wrong_content_types_are_json_errors(
    client: TestClient, sqlite_runtime: Runtime, path: str, auth: bool
) -> None:
    headers: dict[str, str] = {}
    if path == "chat":
        chat = await Chat(client).open()
        path = f"/api/chat/sessions/{chat.session_id}/messages"
        headers = chat.headers
    elif auth:
        headers = dict(AUTH)
    signed = path == "/api/sms/inbound"  # the gateway's webhook is believed only when signed

    def sign(body: bytes) -> dict[str, str]:
        return signed_headers(SMS_SECRET, body) if signed else {}

    for body in (b"{not json", b'{"text": "\xff\xfe"}', b"[1, 2]", b'"just a string"', b""):
        resp = await client.post(path, data=body, headers={**headers, **JSON, **sign(body)})
        status = 404 if path == "/api/dev/clock" else 400  # the dev clock is off: no such route
        assert await error_of(resp, status) in ("bad_json", "not_found")
    for ctype in ("text/plain", "application/x-www-form-urlencoded", "application/xml"):
        hi = b'{"text": "hi"}'
        resp = await client.post(path, data=hi, headers={**headers, "Content-Type": ctype, **sign(hi)})
        expected = 404 if path == "/api/dev/clock" else 415
        await error_of(resp, expected)
    assert inbound_rows(sqlite_runtime) == 0


async def test_a_1mb_chat_message_is_413_and_not_stored(client: TestClient, sqlite_runtime: Runtime) -> None:
    chat = await Chat(client).open()
    url = f"/api/chat/sessions/{chat.session_id}/messages"
    big = ('{"text": "' + "投" * 350_000 + '"}').encode()
    assert len(big) > 1_000_000
    assert (
        await error_of(await client.post(url, data=big, headers={**chat.headers, **JSON}), 413) == "too_large"
    )
    # Without a Content-Length (chunked), the limit still holds.

    async def chunks() -> Any:
        for i in range(0, len(big), 65536):
            yield big[i : i + 65536]

    resp = await client.post(url, data=chunks(), headers={**chat.headers, **JSON})
    assert await error_of(resp, 413) == "too_large"
    assert inbound_rows(sqlite_runtime) == 0


async def test_a_large_but_allowed_chat_message_is_kept_and_answered_politely(
    client: TestClient, sqlite_runtime: Runtime
) -> None:
    """Under the body limit but over what the dialog reads: the whole text is stored, and the
    citizen is asked, in Chinese, to send it in shorter parts (no ticket is drafted from half)."""
    chat = await Chat(client).open()
    text = "小区楼下烧烤店油烟很大。" * 6000  # ~216 KB of UTF-8, under the 256 KB limit
    body = json.dumps({"text": text}, ensure_ascii=False).encode()  # not \uXXXX: 6 bytes a character
    resp = await client.post(
        f"/api/chat/sessions/{chat.session_id}/messages", data=body, headers={**chat.headers, **JSON}
    )
    assert resp.status == 200, await resp.text()
    answer = await resp.json()
    assert [r["text"] for r in answer["replies"]] == [
        "您发送的内容过长（超过5000字），请精简后分条发送，谢谢。"
    ]
    assert answer["ticket"] is None
    assert inbound_rows(sqlite_runtime) == 1
    stored = sqlite_runtime.store.inbound_texts(Address(Channel.WEBCHAT, chat.session_id))
    assert [t for _, t, _ in stored] == [text]


async def test_a_bad_after_is_400_for_every_shape_of_digit(client: TestClient) -> None:
    """Found by schemathesis: "²" passes str.isdigit() but not int(), and a 20-digit id is past
    SQL's integers; both were 500s."""
    chat = await Chat(client).open()
    url = f"/api/chat/sessions/{chat.session_id}/messages"
    for after in ("²", "①", "-1", "1.5", "9" * 20, str(2**31), "x"):  # ids are 32-bit on PostgreSQL
        assert await error_of(await client.get(url, params={"after": after}, headers=chat.headers), 400)
    for after in ("0", str(2**31 - 1)):
        assert (await client.get(url, params={"after": after}, headers=chat.headers)).status == 200


async def test_static_files_are_a_fixed_set(client: TestClient) -> None:
    """Found by schemathesis: a file name over 255 bytes was a 500 from aiohttp's static route."""
    assert (await client.get("/chat/widget.js")).status == 200
    for name in ("x" * 300, "秘" * 200, "..%2Fstatic.py", "%2E%2E%2F%2E%2E%2Fpyproject.toml", "index"):
        assert (await client.get(f"/chat/{name}")).status == 404, name
        assert (await client.get(f"/console/static/{name}")).status == 404, name


async def test_unknown_sessions_and_bad_tokens_are_401(client: TestClient, sqlite_runtime: Runtime) -> None:
    chat = await Chat(client).open()
    unknown = secrets.token_urlsafe(16)
    for session, headers in [
        (unknown, chat.headers),
        (chat.session_id, {}),
        (chat.session_id, {"Authorization": "Bearer "}),
        (chat.session_id, {"Authorization": "Basic " + chat.headers["Authorization"].split()[1]}),
        (chat.session_id, {"Authorization": chat.headers["Authorization"] + "x"}),
        (chat.session_id, {"Authorization": "Bearer 99999999999.AAAA"}),
        (chat.session_id, {"Authorization": "Bearer " + "A" * 5000}),
    ]:
        url = f"/api/chat/sessions/{session}/messages"
        assert (
            await error_of(await client.post(url, json={"text": "你好"}, headers=headers), 401)
            == "unauthorized"
        )
        await error_of(await client.get(url, headers=headers), 401)
    assert inbound_rows(sqlite_runtime) == 0


async def test_a_token_never_opens_another_session(
    aiohttp_client: Client, sqlite_runtime: Runtime, redis_client: redis.Redis
) -> None:
    """RELIABILITY.md S4: 1 000+ (token A, session B) pairs, all 401, none leaks a byte of B.
    They all come from the test's one address, so its guessing throttle is lifted here
    (test_token_guessing_is_throttled_to_429 is the throttle's)."""
    rt = with_settings(sqlite_runtime, chat_token_failures_per_address=1_000_000)
    client: TestClient = await aiohttp_client(create_app(rt))
    chats = []
    for i in range(33):  # 33 × 32 = 1 056 ordered pairs
        if i % 25 == 0:
            allow_new_sessions(redis_client)
        chat = await Chat(client).open()
        await chat.say(f"请问居住证怎么办理？暗号{i:03d}")
        chats.append(chat)
    rows_before = inbound_rows(sqlite_runtime)
    pairs = [(a, b) for a in chats for b in chats if a is not b]
    assert len(pairs) >= 1000

    async def attempt(a: Chat, b: Chat, n: int) -> None:
        base = f"/api/chat/sessions/{b.session_id}"
        kind = n % 3
        if kind == 0:
            resp = await client.get(f"{base}/messages?after=0", headers=a.headers)
        elif kind == 1:
            resp = await client.get(f"{base}/history", headers=a.headers)
        else:
            resp = await client.post(f"{base}/messages", json={"text": "撤回"}, headers=a.headers)
        text = decoded(await resp.text())
        assert resp.status == 401, text
        assert "暗号" not in text and b.session_id not in text

    for start in range(0, len(pairs), 64):
        await asyncio.gather(
            *(attempt(a, b, start + j) for j, (a, b) in enumerate(pairs[start : start + 64]))
        )
    assert inbound_rows(sqlite_runtime) == rows_before  # nothing was said in anyone's name
    own = await client.get(f"/api/chat/sessions/{chats[0].session_id}/history", headers=chats[0].headers)
    assert own.status == 200 and "暗号000" in decoded(await own.text())  # the check can see B's data


async def test_token_guessing_is_throttled_to_429(
    aiohttp_client: Client, sqlite_runtime: Runtime, redis_client: redis.Redis
) -> None:
    """RELIABILITY.md S4: wrong tokens for a session, or a token for guessed session ids, from
    one address: past HOTLINE_CHAT_TOKEN_FAILURES_PER_ADDRESS failures each guess is 429 (a polite
    JSON error with Retry-After), counted as refused on /metrics, and nothing of the session
    leaks. The session's own token still works, from another address or from the guesser's (a
    carrier NAT's citizens share one): a token is an HMAC nobody guesses, and the throttle must
    not let a guesser lock a whole address out of the chat."""
    # behind a proxy, so the test can come from two addresses
    rt = with_settings(sqlite_runtime, trusted_proxies=(ip_network("127.0.0.1/32"),))
    limit = rt.settings.chat_token_failures_per_address
    client: TestClient = await aiohttp_client(create_app(rt))
    guesser = {"X-Forwarded-For": "198.51.100.7"}
    citizen = {"X-Forwarded-For": "203.0.113.9"}
    chat = await Chat(client).open()
    said = await client.post(
        f"/api/chat/sessions/{chat.session_id}/messages",
        json={"text": "请问居住证怎么办理？暗号777"},
        headers={**chat.headers, **citizen},
    )
    assert said.status == 200
    rows = inbound_rows(sqlite_runtime)
    expires = chat.headers["Authorization"].split()[1].split(".")[0]

    def guess(n: int) -> tuple[str, str, dict[str, str]]:
        if n % 2:  # a wrong token for the real session
            token = f"{expires}.{secrets.token_urlsafe(32)}"
            return (
                "POST",
                f"/api/chat/sessions/{chat.session_id}/messages",
                {"Authorization": f"Bearer {token}"},
            )
        # a guessed session id, with a real token (of another session)
        return "GET", f"/api/chat/sessions/{secrets.token_urlsafe(16)}/history", chat.headers

    statuses = []
    for n in range(limit + 20):
        method, url, auth = guess(n)
        resp = await client.request(method, url, json={"text": "撤回"}, headers={**auth, **guesser})
        text = decoded(await resp.text())
        assert "暗号" not in text, text
        statuses.append(resp.status)
        if resp.status == 429:
            assert await error_of(resp, 429) == "rate_limited"
            assert "次数过多" in text and "分钟后" in text, text
            assert 0 < int(resp.headers["Retry-After"]) <= 15 * 60
    assert statuses == [401] * limit + [429] * 20
    assert inbound_rows(sqlite_runtime) == rows  # nothing was said in the session's name
    for where in (citizen, guesser):
        own = await client.get(
            f"/api/chat/sessions/{chat.session_id}/history", headers={**chat.headers, **where}
        )
        assert own.status == 200 and "暗号777" in decoded(await own.text())
    # the guesser's next wrong token is still 429; another address's first one is a plain 401
    method, url, auth = guess(1)
    assert await error_of(await client.request(method, url, json={}, headers={**auth, **guesser}), 429)
    assert await error_of(await client.request(method, url, json={}, headers={**auth, **citizen}), 401)
    metrics = await (await client.get("/metrics")).text()
    throttled = [
        line
        for line in metrics.splitlines()
        if line.startswith("hotline_refused_requests_total{") and "throttled" in line
    ]
    assert sum(float(line.rsplit(" ", 1)[1]) for line in throttled) == 21, throttled


async def test_a_session_creation_flood_gets_429_json(client: TestClient, redis_client: redis.Redis) -> None:
    allow_new_sessions(redis_client)
    statuses = [(await client.post("/api/chat/sessions")).status for _ in range(30)]
    assert statuses == [201] * 30
    flood = [await client.post("/api/chat/sessions") for _ in range(10)]
    for resp in flood:
        assert await error_of(resp, 429) == "rate_limited"


async def test_three_hundred_session_creations_at_once_are_answered_201_or_429_never_500(
    client: TestClient, redis_client: redis.Redis
) -> None:
    """RELIABILITY.md S5 at once rather than in turn: more requests in flight than the Redis pool
    has connections."""
    allow_new_sessions(redis_client)
    url = client.make_url("/api/chat/sessions")
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:  # all at once

        async def create() -> int:
            async with http.post(url) as resp:
                await resp.read()
                return resp.status

        statuses = Counter(await asyncio.gather(*(create() for _ in range(300))))
    assert statuses == {201: 30, 429: 270}, statuses


async def test_replayed_sms_is_stored_once_and_every_accepted_message_exactly_once(
    client: TestClient, sqlite_runtime: Runtime
) -> None:
    sms = {"from": "+8613800138000", "text": "请问居住证怎么办理？", "id": "provider-msg-1"}
    for _ in range(5):
        resp = await post_sms(client, sms)
        assert resp.status == 200 and await resp.json() == {"accepted": True}
    assert inbound_rows(sqlite_runtime) == 1

    # A ledger of concurrent chat messages: each acknowledged nonce is stored exactly once.
    chats = [await Chat(client).open() for _ in range(8)]
    nonces = {f"n{i:04d}": chats[i % 8] for i in range(64)}

    async def say(nonce: str, chat: Chat) -> tuple[str, int]:
        resp = await client.post(
            f"/api/chat/sessions/{chat.session_id}/messages",
            json={"text": f"请问居住证怎么办理？{nonce}"},
            headers=chat.headers,
        )
        return nonce, resp.status

    results = await asyncio.gather(*(say(n, c) for n, c in nonces.items()))
    acknowledged = [n for n, status in results if status == 200]
    assert len(acknowledged) == len(nonces)
    stored: list[str] = []
    for chat in chats:
        address = Address(Channel.WEBCHAT, chat.session_id)
        stored += [t for _, t, _ in sqlite_runtime.store.inbound_texts(address, 200)]
    for nonce in acknowledged:
        assert sum(nonce in t for t in stored) == 1, nonce


async def test_errors_on_unknown_routes_and_methods_are_json(client: TestClient) -> None:
    assert await error_of(await client.get("/api/nothing-here"), 404) == "not_found"
    wrong = await client.delete("/api/chat/sessions")
    assert await error_of(wrong, 405) == "method_not_allowed"
    assert wrong.headers["Allow"] == "POST"  # RFC 9110: a 405 names the methods there are
    wrong = await client.request("TRACE", "/api/tickets", headers=AUTH)
    assert await error_of(wrong, 405) == "method_not_allowed"
    assert set(wrong.headers["Allow"].split(",")) == {"GET", "HEAD", "POST"}
    assert await error_of(await client.get("/api/tickets/20261120-999999", headers=AUTH), 404)
    assert await error_of(await client.get("/api/tickets?status=nonsense", headers=AUTH), 400)
    assert await error_of(await client.get("/api/tickets?since=yesterday", headers=AUTH), 400)
    assert await error_of(await client.get("/api/sms/outbox?to=not-a-phone", headers=AUTH), 400)
    assert await error_of(await client.get("/api/chat/sessions/x/messages?after=-1"), 401)


async def test_a_flood_of_live_streams_leaves_new_chats_at_201(
    aiohttp_client: Client, sqlite_runtime: Runtime, redis_client: redis.Redis
) -> None:
    """Issue 18: 100 streams from one chat session exhausted the Redis pool new chats use, and
    every new chat failed with 500 while /healthz stayed green."""
    allow_new_sessions(redis_client)
    app = create_app(sqlite_runtime)
    client: TestClient = await aiohttp_client(app)
    chats = [await Chat(client).open() for _ in range(3)]
    app[STREAMS_KEY].limit = 100  # a small process, so the overall cap is reached too

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as browser:

        async def stream(chat: Chat) -> aiohttp.ClientResponse:
            url = client.make_url(f"/api/chat/sessions/{chat.session_id}/stream")
            return await browser.get(url, headers=chat.headers)

        one_session = await asyncio.gather(*(stream(chats[0]) for _ in range(150)))
        assert sorted(r.status for r in one_session) == [200] * 3 + [429] * 147
        assert all(int(r.headers["Retry-After"]) > 0 for r in one_session if r.status == 429)
        many = [await Chat(client).open() for _ in range(20)]
        allow_new_sessions(redis_client)  # 30 new chats a minute from one address
        many += [await Chat(client).open() for _ in range(20)]
        spread = await asyncio.gather(*(stream(c) for c in many for _ in range(3)))
        assert sum(r.status == 200 for r in spread) == 97 and sum(r.status == 429 for r in spread) == 23
        allow_new_sessions(redis_client)
        statuses = [(await client.post("/api/chat/sessions")).status for _ in range(20)]
        assert statuses == [201] * 20
        said = await chats[1].say("你好")  # and a chat goes on
        assert said["replies"]
        health = await (await client.get("/healthz")).json()
        assert health["ok"] is True and health["streams"] == {"open": 100, "max": 100, "saturated": True}
        for r in (*one_session, *spread):
            r.close()
