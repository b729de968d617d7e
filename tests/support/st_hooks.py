"""Schemathesis hooks for tests/integration/test_schemathesis.py (loaded by ``st run`` through
SCHEMATHESIS_HOOKS): real credentials for every operation that needs them, so the fuzzing
reaches the handlers and not only the 401 in front of them.

The chat routes get one live session and its token, the back office the API token, Telegram's
webhook its secret header, the console a logged-in agent's cookie and CSRF token (logged in
again every second, since a fuzzed logout ends the session).
"""

from __future__ import annotations

import os
from typing import Any

import requests
import schemathesis

BASE = os.environ.get("ST_BASE", "http://127.0.0.1:8080")
COOKIE = "__Host-hotline_console"
_chat: dict[str, str] = {}


def _chat_session() -> dict[str, str]:
    if not _chat:
        resp = requests.post(f"{BASE}/api/chat/sessions", timeout=10)
        resp.raise_for_status()
        _chat.update(resp.json())
    return _chat


@schemathesis.auth(refresh_interval=1)
class HotlineAuth:
    def get(self, case: Any, ctx: Any) -> dict[str, str]:
        resp = requests.post(
            f"{BASE}/api/console/login",
            json={"agent": "fuzz", "password": os.environ["HOTLINE_CONSOLE_PASSWORD"]},
            timeout=10,
        )
        resp.raise_for_status()
        return {"cookie": resp.cookies[COOKIE], "csrf": resp.json()["csrf"]}

    def set(self, case: Any, data: dict[str, str], ctx: Any) -> None:
        path: str = case.operation.path
        headers = case.headers if case.headers is not None else {}
        if path.startswith("/api/chat/sessions/"):
            chat = _chat_session()
            case.path_parameters = {**(case.path_parameters or {}), "session_id": chat["session_id"]}
            headers["Authorization"] = f"Bearer {chat['token']}"
        elif path.startswith("/api/console/") and path != "/api/console/login":
            headers["Cookie"] = f"{COOKIE}={data['cookie']}"
            headers["X-CSRF-Token"] = data["csrf"]
        elif path == "/api/telegram/webhook":
            headers["X-Telegram-Bot-Api-Secret-Token"] = os.environ["TELEGRAM_WEBHOOK_SECRET"]
        elif path.startswith("/api/tickets"):
            headers["Authorization"] = f"Bearer {os.environ['HOTLINE_API_TOKEN']}"
        case.headers = headers
