"""The OpenAPI document at /api/openapi.json: it names every route the app registers (and no
other), and every request example in it is accepted by the running app with the documented
success status, so the document cannot drift from the code silently."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from aiohttp import web
from aiohttp.test_utils import TestClient

from channels.signing import signed_headers
from channels.telegram_parse import SECRET_HEADER
from channels.web import create_app
from intake.runtime import Runtime, build_runtime
from tests.conftest import make_settings
from tests.support.journey import AUTH, SMS_SECRET, drain

Client = Callable[..., Any]
SECRET = "openapi-test-secret_0123456789"
METHODS = ("get", "post", "put", "patch", "delete")


@pytest.fixture
def api_runtime(
    tmp_path: Path, sqlite_db: str, redis_url: str, redis_client: redis.Redis
) -> Iterator[Runtime]:
    """Every optional part on: stub SMS and mail outboxes, Telegram, the dev clock."""
    settings = make_settings(
        tmp_path,
        sqlite_db,
        redis_url,
        dev_clock=True,
        telegram_token="7000000001:AAH-openapi-test-token_000000000000",
        telegram_webhook_secret=SECRET,
        telegram_api_base="http://127.0.0.1:9",  # nothing is delivered in this test
    )
    rt = build_runtime(settings)
    yield rt
    rt.close()


@pytest.fixture
async def client(aiohttp_client: Client, api_runtime: Runtime) -> TestClient:
    c: TestClient = await aiohttp_client(create_app(api_runtime))
    return c


async def get_document(client: TestClient) -> dict[str, Any]:
    resp = await client.get("/api/openapi.json")
    assert resp.status == 200
    doc: dict[str, Any] = await resp.json()
    return doc


def registered(app: web.Application) -> set[tuple[str, str]]:
    """(path, method) of every route, static folders as ``<prefix>/{filename}``; HEAD comes with GET."""
    out = set()
    for route in app.router.routes():
        resource = route.resource
        assert resource is not None
        path = resource.canonical
        if isinstance(resource, web.StaticResource):
            path = path.rstrip("/") + "/{filename}"
        if route.method == "HEAD":
            continue
        out.add((path, route.method.lower()))
    return out


async def test_every_registered_route_is_documented_and_nothing_else(client: TestClient) -> None:
    doc = await get_document(client)
    assert doc["openapi"].startswith("3.")
    documented = {(path, m) for path, item in doc["paths"].items() for m in item if m in METHODS}
    routes = registered(client.server.app)  # type: ignore[union-attr]
    assert routes - documented == set(), "routes missing from the document"
    assert documented - routes == set(), "documented paths the app does not serve"
    ids = [op["operationId"] for item in doc["paths"].values() for m, op in item.items() if m in METHODS]
    assert len(ids) == len(set(ids))


def _refs_resolve(node: Any, doc: dict[str, Any]) -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            target: Any = doc
            for part in ref.removeprefix("#/").split("/"):
                target = target[part]
        for value in node.values():
            _refs_resolve(value, doc)
    elif isinstance(node, list):
        for value in node:
            _refs_resolve(value, doc)


async def test_every_error_is_described_as_the_contracts_json(client: TestClient) -> None:
    doc = await get_document(client)
    _refs_resolve(doc, doc)
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method not in METHODS:
                continue
            assert any(s.startswith("2") or s.startswith("3") for s in op["responses"]), (path, method)
            for status, response in op["responses"].items():
                if status.startswith("4") and path.startswith("/api"):
                    schema = response["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/Error"}, (path, method, status)


def _success(op: dict[str, Any]) -> int:
    return min(int(s) for s in op["responses"] if s[0] in "23")


def _runnable(op: dict[str, Any]) -> bool:
    """An operation whose example can be sent as it stands (console ones need an agent login)."""
    if op.get("x-streaming") or op.get("x-needs-state"):
        return False
    if op["operationId"].startswith("console"):
        return False  # the console's own tests log an agent in
    body = op.get("requestBody")
    return body is None or "example" in body["content"]["application/json"]


async def test_every_example_is_accepted_with_the_documented_status(
    client: TestClient, api_runtime: Runtime
) -> None:
    doc = await get_document(client)
    context: dict[str, str] = {}
    created = await client.post("/api/chat/sessions")
    session = await created.json()
    context["session_id"] = session["session_id"]
    tokens = {"chatToken": session["token"], "apiToken": AUTH["Authorization"].split(" ", 1)[1]}

    operations = [
        (path, method, op)
        for path, item in doc["paths"].items()
        for method, op in item.items()
        if method in METHODS and _runnable(op)
    ]
    # The webhook last: its update would otherwise be delivered (nowhere) by the drain below.
    operations.sort(key=lambda o: o[2]["operationId"] == "telegramWebhook")
    ran = []
    for path, method, op in operations:
        params = [*doc["paths"][path].get("parameters", []), *op.get("parameters", [])]
        url = path
        query = {}
        skip = False
        for p in params:
            value = context.get(p["name"], p.get("example"))
            if value is None:
                skip = skip or p["in"] == "path"
                continue
            if p["in"] == "path":
                url = url.replace("{" + p["name"] + "}", str(value))
            elif p["in"] == "query":
                query[p["name"]] = str(value)
        if skip:
            continue
        headers: dict[str, str] = {}
        for requirement in op.get("security", []):
            for scheme in requirement:
                if scheme == "telegramSecret":
                    headers[SECRET_HEADER] = SECRET
                elif scheme in tokens:
                    headers["Authorization"] = f"Bearer {tokens[scheme]}"
        body = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("example")
        raw = None if body is None else json.dumps(body, ensure_ascii=False).encode()
        if any("smsSignature" in requirement for requirement in op.get("security", [])):
            assert raw is not None
            headers = signed_headers(SMS_SECRET, raw)
        if op["operationId"] == "postTicketEvent":
            drain(api_runtime)  # the phone ticket is dispatched before a unit signs it
        resp = await client.request(
            method.upper(),
            url,
            params=query,
            data=raw,
            headers={**headers, **({"Content-Type": "application/json"} if body is not None else {})},
            allow_redirects=False,
        )
        text = await resp.text()
        assert resp.status == _success(op), (op["operationId"], resp.status, text[:300])
        if resp.content_type == "application/json":
            answer = json.loads(text)
            if op["operationId"] == "createTicket":
                context["number"] = answer["number"]
            documented = op["responses"][str(resp.status)].get("content", {}).get("application/json", {})
            if "example" in documented and op["operationId"] not in ("devClock", "healthz"):
                assert answer == documented["example"], op["operationId"]
        ran.append(op["operationId"])
    for wanted in ("postChatMessage", "smsInbound", "telegramWebhook", "createTicket", "postTicketEvent"):
        assert wanted in ran
