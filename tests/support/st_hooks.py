"""Schemathesis hooks for tests/integration/test_schemathesis.py (loaded by ``st run`` through
SCHEMATHESIS_HOOKS): real credentials for every operation that needs them, so the fuzzing
reaches the handlers and not only the 401 in front of them.

The chat routes get one live session and its token, the back office the API token, Telegram's
webhook its secret header, the console a logged-in agent's cookie and CSRF token (logged in
again every second, since a fuzzed logout ends the session), the SMS webhook a signature over
the very bytes sent (a requests auth hook, which sees the prepared body).
"""

from __future__ import annotations

import os
from typing import Any

import requests
import schemathesis

from channels.signing import signed_headers

BASE = os.environ.get("ST_BASE", "http://127.0.0.1:8080")
COOKIE = "__Host-hotline_console"
_chat: dict[str, str] = {}
UNSIGNED = "to-be-signed"
FUZZ_PASSWORD = "fuzz-agent-password-0123"
_account: list[str] = []
_unit: list[str] = []


def _chat_session() -> dict[str, str]:
    if not _chat:
        resp = requests.post(f"{BASE}/api/chat/sessions", timeout=10)
        resp.raise_for_status()
        _chat.update(resp.json())
    return _chat


class _SignBody(requests.auth.AuthBase):
    """Signs the prepared request's body as the SMS gateway does (CONTRACT.md "SMS") where the
    auth below asked for it; a request schemathesis sends with its own credentials, to check that
    auth is not ignored, keeps them."""

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        if any(r.headers.get(h) != UNSIGNED for h in ("X-Hotline-Signature", "X-Hotline-Timestamp")):
            return r  # a case that drops or changes a credential on purpose
        body = r.body or b""
        raw = body.encode() if isinstance(body, str) else body
        r.headers.update(signed_headers(os.environ["HOTLINE_SMS_SECRET"], raw))
        return r


@schemathesis.hook
def before_call(ctx: Any, case: Any, kwargs: dict[str, Any]) -> None:
    if case.operation.path == "/api/sms/inbound":
        kwargs["auth"] = _SignBody()


def _unit_token() -> str:
    if not _unit:
        resp = requests.post(
            f"{BASE}/api/units/fuzz-unit/tokens",
            headers={"Authorization": f"Bearer {os.environ['HOTLINE_API_TOKEN']}"},
            timeout=10,
        )
        resp.raise_for_status()
        _unit.append(resp.json()["token"])
    return _unit[0]


@schemathesis.auth(refresh_interval=1)
class HotlineAuth:
    def get(self, case: Any, ctx: Any) -> dict[str, str]:
        if not _account:
            made = requests.post(
                f"{BASE}/api/agents",
                json={"login": "fuzz", "password": FUZZ_PASSWORD, "role": "supervisor"},
                headers={"Authorization": f"Bearer {os.environ['HOTLINE_API_TOKEN']}"},
                timeout=10,
            )
            assert made.status_code in (201, 409), made.text
            _account.append("fuzz")
        resp = requests.post(
            f"{BASE}/api/console/login", json={"login": "fuzz", "password": FUZZ_PASSWORD}, timeout=10
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
        elif path == "/api/sms/inbound":
            # signed by _SignBody once the body is bytes
            headers["X-Hotline-Signature"] = headers["X-Hotline-Timestamp"] = UNSIGNED
        elif path == "/api/telegram/webhook":
            headers["X-Telegram-Bot-Api-Secret-Token"] = os.environ["TELEGRAM_WEBHOOK_SECRET"]
        elif path.endswith("/contact"):  # a unit's own route: that unit's token
            headers["Authorization"] = f"Bearer {_unit_token()}"
        elif path.startswith(("/api/tickets", "/api/units", "/api/agents")) or path.endswith("/outbox"):
            headers["Authorization"] = f"Bearer {os.environ['HOTLINE_API_TOKEN']}"
        case.headers = headers
