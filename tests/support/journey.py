"""Helpers for end-to-end tests: drain the real RQ queues in-process, talk to the real app."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient

from channels.signing import signed_headers
from intake.principals import Principals
from intake.runtime import Runtime
from worker.__main__ import HotlineWorker
from worker.context import set_runtime
from worker.relay import QUEUES, relay_once

API_TOKEN = "test-token-0123456789"
AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
SMS_SECRET = "test-sms-secret-0123456789"
AGENT_PASSWORD = "agent-password-0123456789"


async def console_login(
    client: TestClient, runtime: Runtime, login: str = "a017", role: str = "agent"
) -> ClientResponse:
    """An account created as the centre does (intake.principals), then logged in to the console."""
    principals = Principals(runtime.store)
    if runtime.store.account(login) is None:
        principals.create_account(login, AGENT_PASSWORD, role, "test")
    resp: ClientResponse = await client.post(
        "/api/console/login", json={"login": login, "password": AGENT_PASSWORD}
    )
    return resp


async def post_sms(
    client: TestClient,
    payload: Any,
    *,
    path: str = "/api/sms/inbound",
    secret: str = SMS_SECRET,
    now: float | None = None,
) -> ClientResponse:
    """POST an SMS webhook as the gateway does: the JSON body (or raw bytes) signed with the
    shared secret (CONTRACT.md "SMS")."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload, ensure_ascii=False).encode()
    headers = {"Content-Type": "application/json", **signed_headers(secret, body, now)}
    resp: ClientResponse = await client.post(path, data=body, headers=headers)
    return resp


def drain(runtime: Runtime, rounds: int = 4) -> None:
    """What the worker process does, run to quiescence: relay the outbox, work the queues."""
    set_runtime(runtime)
    for _ in range(rounds):
        if relay_once(runtime.store, runtime.redis) == 0:
            break
        HotlineWorker(list(QUEUES), connection=runtime.redis).work(burst=True, logging_level="WARNING")


class Chat:
    """A citizen in the web chat, through the public API."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.session_id = ""
        self.headers: dict[str, str] = {}
        self.last_id = 0

    async def open(self) -> Chat:
        resp = await self.client.post("/api/chat/sessions")
        assert resp.status == 201
        body = await resp.json()
        self.session_id = body["session_id"]
        self.headers = {"Authorization": f"Bearer {body['token']}"}
        return self

    async def say(self, text: str) -> dict[str, Any]:
        resp = await self.client.post(
            f"/api/chat/sessions/{self.session_id}/messages", json={"text": text}, headers=self.headers
        )
        assert resp.status == 200, await resp.text()
        body: dict[str, Any] = await resp.json()
        for r in body["replies"]:
            self.last_id = max(self.last_id, r["id"])
        return body

    async def later(self) -> list[dict[str, Any]]:
        resp = await self.client.get(
            f"/api/chat/sessions/{self.session_id}/messages?after={self.last_id}", headers=self.headers
        )
        assert resp.status == 200
        messages: list[dict[str, Any]] = (await resp.json())["messages"]
        for m in messages:
            self.last_id = max(self.last_id, m["id"])
        return messages


def texts(body: dict[str, Any]) -> str:
    return "\n".join(r["text"] for r in body["replies"])
