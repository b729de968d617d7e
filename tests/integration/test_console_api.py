"""The console's sessions (RELIABILITY.md S2) and its queue, through the real app."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import redis
from aiohttp.test_utils import TestClient
from rq import Queue
from rq.job import JobStatus
from rq.registry import FailedJobRegistry
from sqlalchemy import select, update

from channels.console import ABSOLUTE, COOKIE, IDLE, QUEUE_NAMES
from channels.web import create_app
from intake.assembly import build_services
from intake.clock import ManualClock
from intake.model import Address, Channel, DeliveryState
from intake.principals import Principals
from intake.runtime import Runtime, build_runtime
from intake.store.schema import audit_log, metadata, outbox
from intake.store.sql import OUTBOX_MAX_ATTEMPTS
from tests.conftest import make_settings
from tests.support.journey import AGENT_PASSWORD, AUTH, Chat, console_login, drain

Client = Callable[..., Any]


async def login(client: TestClient, runtime: Runtime, password: str = AGENT_PASSWORD) -> Any:
    if runtime.store.account("a017") is None:
        Principals(runtime.store).create_account("a017", AGENT_PASSWORD, "agent", "test")
    return await client.post("/api/console/login", json={"login": "a017", "password": password})


async def test_login_sets_a_hardened_cookie_and_the_queue_needs_it(
    aiohttp_client: Client, sqlite_runtime: Runtime
) -> None:
    client: TestClient = await aiohttp_client(create_app(sqlite_runtime))
    assert (await client.get("/api/console/queue")).status == 401
    assert (await login(client, sqlite_runtime, "wrong-password-123")).status == 401
    resp = await login(client, sqlite_runtime)
    assert resp.status == 200
    header = resp.headers["Set-Cookie"]
    assert header.startswith(f"{COOKIE}=")
    for flag in ("HttpOnly", "Secure", "SameSite=Strict", "Path=/"):
        assert flag in header
    assert "domain=" not in header.lower()  # a __Host- cookie has none (RFC 6265bis §4.1.3.2)
    assert f"Max-Age={int(ABSOLUTE.total_seconds())}" in header
    queue = await client.get("/api/console/queue", cookies={COOKIE: resp.cookies[COOKIE].value})
    assert queue.status == 200
    body = await queue.json()
    assert set(body) >= {"intake", "open", "waiting_for_citizen", "failed_deliveries", "failed_jobs"}


async def test_state_changes_need_csrf_and_same_origin(
    aiohttp_client: Client, sqlite_runtime: Runtime
) -> None:
    client: TestClient = await aiohttp_client(create_app(sqlite_runtime))
    resp = await login(client, sqlite_runtime)
    csrf = (await resp.json())["csrf"]
    cookies = {COOKIE: resp.cookies[COOKIE].value}
    form = {
        "phone": "13912345678",
        "category": "求助",
        "content": "家门口井盖丢了",
        "address": "和平路8号",
        "demand": "尽快补上",
    }
    no_token = await client.post("/api/console/tickets", json=form, cookies=cookies)
    assert no_token.status == 403
    cross_site = await client.post(
        "/api/console/tickets",
        json=form,
        cookies=cookies,
        headers={"X-CSRF-Token": csrf, "Origin": "https://evil.example"},
    )
    assert cross_site.status == 403
    ok = await client.post("/api/console/tickets", json=form, cookies=cookies, headers={"X-CSRF-Token": csrf})
    assert ok.status == 201, await ok.text()
    ticket = await ok.json()
    assert ticket["channel"] == "phone" and ticket["number"]
    assert ticket["contact"] == {"phone": "139****5678"}
    # the caller hears back by SMS
    drain(sqlite_runtime)
    outbox = await (await client.get("/api/sms/outbox", params={"to": "13912345678"}, headers=AUTH)).json()
    assert any(ticket["number"] in m["text"] for m in outbox["messages"])


async def test_logout_and_idle_timeout_end_the_session(
    aiohttp_client: Client, sqlite_runtime: Runtime, clock: ManualClock
) -> None:
    client: TestClient = await aiohttp_client(create_app(sqlite_runtime))
    resp = await login(client, sqlite_runtime)
    csrf = (await resp.json())["csrf"]
    cookies = {COOKIE: resp.cookies[COOKIE].value}
    out = await client.post("/api/console/logout", cookies=cookies, headers={"X-CSRF-Token": csrf})
    assert out.status == 200
    assert (await client.get("/api/console/queue", cookies=cookies)).status == 401  # cookie after logout
    resp = await login(client, sqlite_runtime)
    cookies = {COOKIE: resp.cookies[COOKIE].value}
    clock.advance(31 * 60)  # idle for longer than 30 minutes
    assert (await client.get("/api/console/queue", cookies=cookies)).status == 401


async def test_the_queue_shows_drafts_waiting_and_tickets_masked(
    aiohttp_client: Client, sqlite_runtime: Runtime
) -> None:
    client: TestClient = await aiohttp_client(create_app(sqlite_runtime))
    chat = await Chat(client).open()
    await chat.say("我要投诉，小区楼下烧烤店每晚油烟很大")  # waits for the citizen's supplement
    other = await Chat(client).open()
    await other.say(
        "我要投诉，幸福小区3栋楼下的烧烤店每晚油烟很大，希望城管处理，我叫王小明，电话13800138000"
    )
    resp = await login(client, sqlite_runtime)
    body = await (await client.get("/api/console/queue", cookies={COOKIE: resp.cookies[COOKIE].value})).json()
    assert len(body["waiting_for_citizen"]) >= 1
    text = str(body)
    assert "13800138000" not in text and "王小明" not in text


async def test_the_console_cannot_be_framed_and_the_chat_can(
    aiohttp_client: Client, sqlite_runtime: Runtime
) -> None:
    """Issue 18: a framing page could make an agent press buttons they do not see; the chat
    page is meant to be embedded (widget.js)."""
    client: TestClient = await aiohttp_client(create_app(sqlite_runtime))
    console = await client.get("/console/")
    assert console.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in console.headers["Content-Security-Policy"]
    chat = await client.get("/chat/")
    assert "frame-ancestors *" in chat.headers["Content-Security-Policy"]
    assert "X-Frame-Options" not in chat.headers


# -- RELIABILITY.md S2: every console POST, fixation, stale cookies, expiry ---------------------
FORM = {
    "phone": "13912345678",
    "category": "求助",
    "content": "家门口井盖丢了",
    "address": "和平路8号",
    "demand": "尽快补上",
}


def sql_state(rt: Runtime) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table (the audit log included), to show that a refusal changed nothing."""
    with rt.store.engine.connect() as conn:
        return {
            t.name: sorted((tuple(r) for r in conn.execute(select(t))), key=repr)
            for t in metadata.sorted_tables
        }


def rq_state(rt: Runtime) -> dict[str, tuple[list[str], list[str]]]:
    """The jobs waiting on each queue and those on its failed list."""
    state = {}
    for name in QUEUE_NAMES:
        queue = Queue(name, connection=rt.redis)
        state[name] = (queue.job_ids, FailedJobRegistry(queue=queue).get_job_ids())
    return state


def refused_count(metrics_text: str, reason: str) -> float:
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in metrics_text.splitlines()
        if line.startswith("hotline_refused_requests_total{") and f'reason="{reason}"' in line
    )


def origin_of(client: TestClient) -> str:
    url = client.make_url("/")
    return f"{url.scheme}://{url.host}:{url.port}"


async def test_every_console_post_refuses_a_missing_or_foreign_csrf_token_and_a_cross_site_origin(
    aiohttp_client: Client, sqlite_runtime: Runtime, clock: ManualClock
) -> None:
    """Every state-changing console route, listed from the router (a new one fails here until it
    is added): with the session cookie but no CSRF token, another session's token, or a
    cross-site Origin, it is 403 and changes nothing (SQL, audit log, queues, the session); the
    same request done right does change something, so the refusals were not empty."""
    rt = sqlite_runtime
    app = create_app(rt)
    client: TestClient = await aiohttp_client(app)
    # what each route would change, were it allowed
    phone = build_services(rt).phone
    unmatched = {**FORM, "content": "门前大树的树枝快断了", "address": "和平街8号"}  # no routing rule
    called = phone.create({**unmatched, "phone": "13812340000"}, "a017")  # to route, reveal, merge
    earlier = phone.create({**FORM, "phone": "13812340001"}, "a017")  # to merge into
    drain(rt)  # the first waits for an agent to route it
    restriction = rt.store.restrict(
        Address(Channel.WEBCHAT, "abusive-session"), clock.now() + timedelta(days=30), "test"
    )
    with rt.store.tx():
        rt.store.add_outbox("deliver", "deliver:999999", {"outbound_id": 999999})
    with rt.store.engine.begin() as conn:
        conn.execute(
            update(outbox).where(outbox.c.key == "deliver:999999").values(attempts=OUTBOX_MAX_ATTEMPTS)
        )
    waiting = rt.store.hand_off(Address(Channel.WEBCHAT, "waiting-session"), "转人工", clock.now())
    failed, _ = rt.store.record_outbound(
        Address(Channel.SMS, "+8613812340000"), "您好", key="k1", kind="notice"
    )
    rt.store.mark_delivery(failed, DeliveryState.FAILED, error="provider refused")
    # a failed job, as a worker leaves it (without running one: its teardown can wait 60 s)
    queue = Queue("default", connection=rt.redis)
    job = queue.enqueue("builtins.int", "not a number", job_id="fails-once")
    queue.remove(job)
    job.set_status(JobStatus.FAILED)
    FailedJobRegistry(queue=queue).add(job, exc_string="ValueError: invalid literal for int()")
    routes: dict[str, tuple[str, dict[str, Any] | None]] = {
        "/api/console/tickets": ("/api/console/tickets", FORM),
        "/api/console/restrictions/{rid}/lift": (f"/api/console/restrictions/{restriction}/lift", None),
        "/api/console/jobs/requeue": (
            "/api/console/jobs/requeue",
            {"queue": "default", "job_id": "fails-once"},
        ),
        "/api/console/outbox/requeue": ("/api/console/outbox/requeue", {"key": "deliver:999999"}),
        "/api/console/handoffs/{hid}/reply": (f"/api/console/handoffs/{waiting}/reply", {"text": "您好"}),
        "/api/console/handoffs/{hid}/release": (f"/api/console/handoffs/{waiting}/release", None),
        "/api/console/tickets/{number}/route": (
            f"/api/console/tickets/{called.number}/route",
            {"unit": "市城市管理和综合执法局"},
        ),
        "/api/console/tickets/{number}/reveal": (
            f"/api/console/tickets/{called.number}/reveal",
            {"field": "phone", "reason": "核实来电号码"},
        ),
        "/api/console/outbox/{oid}/retry": (f"/api/console/outbox/{failed}/retry", None),
        "/api/console/tickets/{number}/complex": (f"/api/console/tickets/{called.number}/complex", None),
        "/api/console/tickets/{number}/merge": (
            f"/api/console/tickets/{called.number}/merge",
            {"into": earlier.number},
        ),
        "/api/console/tickets/{number}/supervise": (
            f"/api/console/tickets/{called.number}/supervise",
            {"reason": "群众反复投诉"},
        ),
        "/api/console/tickets/{number}/supervision/extend": (
            f"/api/console/tickets/{called.number}/supervision/extend",
            {"reason": "情况复杂"},
        ),
        "/api/console/tickets/{number}/review": (
            f"/api/console/tickets/{called.number}/review",
            {"decision": "rehandle", "callback": "已回访"},
        ),
        "/api/console/calls/{tid}/attempt": ("/api/console/calls/999999/attempt", {"outcome": "no_answer"}),
        "/api/console/logout": ("/api/console/logout", None),  # last: it ends the session
    }
    posts = {
        r.resource.canonical
        for r in app.router.routes()
        if r.method == "POST" and r.resource is not None and r.resource.canonical.startswith("/api/console/")
    }
    assert posts - {"/api/console/login"} == set(routes)

    first = await console_login(client, rt, "s01", role="supervisor")
    stale_csrf = (await first.json())["csrf"]  # of a session since ended
    await client.post(
        "/api/console/logout",
        cookies={COOKIE: first.cookies[COOKIE].value},
        headers={"X-CSRF-Token": stale_csrf, "Origin": origin_of(client)},
    )
    mine = await console_login(client, rt, "s01", role="supervisor")
    other = await console_login(client, rt, "s02", role="supervisor")
    cookies = {COOKIE: mine.cookies[COOKIE].value}
    csrf = (await mine.json())["csrf"]
    foreign = (await other.json())["csrf"]
    same = origin_of(client)
    url = client.make_url("/")
    attempts: list[dict[str, str]] = (
        [
            {},  # no token
            {"X-CSRF-Token": ""},
            {"X-CSRF-Token": foreign},  # another session's token
            {"X-CSRF-Token": stale_csrf},  # the token of this account's previous session
            {"X-CSRF-Token": csrf[:-1] + ("A" if csrf[-1] != "A" else "B")},
            {"X-CSRF-Token": foreign, "Origin": same},
        ]
        + [
            {"X-CSRF-Token": csrf, "Origin": origin}  # the right token from another site
            for origin in (
                "https://evil.example",
                "null",
                f"https://{url.host}:{url.port}",
                f"{url.scheme}://{url.host}:{url.port + 1}",
                f"{same}.evil.example",
            )
        ]
    )
    before_sql, before_rq = sql_state(rt), rq_state(rt)
    refused = 0
    for canonical, (path, body) in routes.items():
        for headers in attempts:
            resp = await client.post(path, json=body, cookies=cookies, headers=headers)
            assert resp.status == 403, (canonical, headers, await resp.text())
            assert (await resp.json())["error"]["code"] == "forbidden"
            refused += 1
        no_session = await client.post(path, json=body, headers={"X-CSRF-Token": csrf, "Origin": same})
        assert no_session.status == 401, canonical
    assert sql_state(rt) == before_sql
    assert rq_state(rt) == before_rq
    assert (await client.get("/api/console/me", cookies=cookies)).status == 200  # not logged out
    metrics_text = await (await client.get("/metrics")).text()
    assert refused_count(metrics_text, "forbidden") == refused

    # the same requests done right: each changes what it should
    for canonical, (path, body) in routes.items():
        ok = await client.post(
            path, json=body, cookies=cookies, headers={"X-CSRF-Token": csrf, "Origin": same}
        )
        # guangzhou gives complex matters no longer limit and a supervision no extension, and this
        # ticket waits for no review and is with no unit yet (routed, not yet dispatched): refused
        # for that, past the CSRF check
        refused_here = ("/complex", "/supervision/extend", "/review", "/supervise")
        expected = (409,) if canonical.endswith(refused_here) else (200, 201)
        if canonical.endswith("/attempt"):
            expected = (404,)  # no such waiting call: past the CSRF check all the same
        assert ok.status in expected, (canonical, await ok.text())
    with rt.store.engine.connect() as conn:
        actions = list(conn.execute(select(audit_log.c.action)).scalars())
    for action in (
        "lift_restriction",
        "job_requeued",
        "outbox_requeued",
        "handoff_reply",
        "handoff_released",
        "ticket_routed",
        "personal_data_revealed",
        "delivery_retried",
        "ticket_merged",
    ):
        assert actions.count(action) == 1, action
    assert actions.count("console_logout") == 2  # the first session's, and this one
    assert len(sql_state(rt)["tickets"]) == len(before_sql["tickets"]) + 1
    assert "fails-once" in Queue("default", connection=rt.redis).job_ids
    assert (await client.get("/api/console/me", cookies=cookies)).status == 401


async def console_login_with(client: TestClient, rt: Runtime, login_: str, cookies: dict[str, str]) -> Any:
    if rt.store.account(login_) is None:
        Principals(rt.store).create_account(login_, AGENT_PASSWORD, "agent", "test")
    resp = await client.post(
        "/api/console/login", json={"login": login_, "password": AGENT_PASSWORD}, cookies=cookies
    )
    assert resp.status == 200, await resp.text()
    return resp


async def test_login_never_adopts_a_session_the_client_brings(
    aiohttp_client: Client, sqlite_runtime: Runtime, clock: ManualClock
) -> None:
    """Session fixation: nothing sets a cookie before login; a cookie the attacker made up, or a
    genuine one with a field changed, opens nothing; a login always issues a new session id, and
    the session the browser held before (an attacker's, planted) ends there."""
    rt = sqlite_runtime
    client: TestClient = await aiohttp_client(create_app(rt))
    for path in ("/console/", "/api/console/me", "/api/console/queue"):
        assert COOKIE not in (await client.get(path)).cookies, path  # no pre-login session to fix

    expires = int(clock.now().timestamp()) + 3600
    chosen = f"attackerchosensid0000000.a017.agent.{expires}.{'A' * 43}"
    assert (await client.get("/api/console/me", cookies={COOKIE: chosen})).status == 401
    resp = await console_login_with(client, rt, "a017", {COOKIE: chosen})
    issued = resp.cookies[COOKIE].value
    assert issued.split(".")[0] != "attackerchosensid0000000"
    assert (await client.get("/api/console/me", cookies={COOKIE: issued})).status == 200
    assert (await client.get("/api/console/me", cookies={COOKIE: chosen})).status == 401

    # a genuine cookie with one field changed: another role, a later expiry, another login
    sid, login_, role, exp, sig = issued.split(".")
    for forged in (
        f"{sid}.{login_}.admin.{exp}.{sig}",
        f"{sid}.{login_}.{role}.{int(exp) + 86400}.{sig}",
        f"{sid}.s01.{role}.{exp}.{sig}",
        f"{sid}x.{login_}.{role}.{exp}.{sig}",
    ):
        assert (await client.get("/api/console/me", cookies={COOKIE: forged})).status == 401, forged

    # an attacker's own live session planted in the victim's browser
    planted = (await console_login(client, rt, "a018")).cookies[COOKIE].value
    assert (await client.get("/api/console/me", cookies={COOKIE: planted})).status == 200
    victim = await console_login_with(client, rt, "a017", {COOKIE: planted})
    assert victim.status == 200
    theirs = victim.cookies[COOKIE].value
    assert theirs.split(".")[0] != planted.split(".")[0]
    assert (await (await client.get("/api/console/me", cookies={COOKIE: theirs})).json())["login"] == "a017"
    assert (await client.get("/api/console/me", cookies={COOKIE: planted})).status == 401


async def test_logout_clears_the_cookie_in_the_browser_and_the_old_cookie_is_dead(
    aiohttp_client: Client, sqlite_runtime: Runtime
) -> None:
    """A browser ignores a ``__Host-`` Set-Cookie without ``Secure`` (RFC 6265bis §4.1.3.2), so a
    logout that clears the cookie must say Secure, Path=/ and no Domain; the cookie kept from
    before logout (a copy, or a browser that kept it) opens nothing, reads or writes."""
    rt = sqlite_runtime
    client: TestClient = await aiohttp_client(create_app(rt))
    resp = await login(client, rt)
    csrf = (await resp.json())["csrf"]
    cookies = {COOKIE: resp.cookies[COOKIE].value}
    headers = {"X-CSRF-Token": csrf, "Origin": origin_of(client)}
    out = await client.post("/api/console/logout", cookies=cookies, headers=headers)
    assert out.status == 200
    [cleared] = [h for h in out.headers.getall("Set-Cookie") if h.startswith(f"{COOKIE}=")]
    attributes = {a.strip().split("=")[0].lower() for a in cleared.split(";")[1:]}
    assert {"secure", "httponly", "path", "max-age"} <= attributes and "domain" not in attributes, cleared
    assert "Path=/" in cleared and "Max-Age=0" in cleared and "SameSite=Strict" in cleared, cleared
    before = sql_state(rt)
    for method, path, body in (
        ("GET", "/api/console/me", None),
        ("GET", "/api/console/queue", None),
        ("POST", "/api/console/tickets", FORM),
        ("POST", "/api/console/logout", None),
    ):
        stale = await client.request(method, path, json=body, cookies=cookies, headers=headers)
        assert stale.status == 401, (path, await stale.text())
    assert sql_state(rt) == before


async def test_idle_and_absolute_expiry_by_the_dev_clock(
    aiohttp_client: Client, tmp_path: Path, sqlite_db: str, redis_url: str, redis_client: redis.Redis
) -> None:
    """The clock moved as an outside test suite moves it (POST /api/dev/clock): 30 idle minutes
    end a session; activity keeps it, but never past 12 hours from login."""
    rt = build_runtime(replace(make_settings(tmp_path, sqlite_db, redis_url), dev_clock=True))
    try:
        client: TestClient = await aiohttp_client(create_app(rt))

        async def advance(seconds: float) -> None:
            assert (await client.post("/api/dev/clock", json={"advance_seconds": seconds})).status == 200

        async def me(cookie: str) -> int:
            status: int = (await client.get("/api/console/me", cookies={COOKIE: cookie})).status
            return status

        cookie = (await login(client, rt)).cookies[COOKIE].value
        for _ in range(3):  # each request starts the idle time again
            await advance(IDLE.total_seconds() - 60)
            assert await me(cookie) == 200
        await advance(IDLE.total_seconds() + 1)
        assert await me(cookie) == 401  # idle
        await advance(3600)
        assert await me(cookie) == 401  # and it stays dead

        resp = await login(client, rt)
        cookie, csrf = resp.cookies[COOKIE].value, (await resp.json())["csrf"]
        step = IDLE.total_seconds() - 5 * 60
        steps = int((ABSOLUTE.total_seconds() - 120) // step)
        for _ in range(steps):  # busy all day, never idle
            await advance(step)
            assert await me(cookie) == 200
        await advance(ABSOLUTE.total_seconds() - steps * step - 60)
        assert await me(cookie) == 200  # a minute before 12 hours
        await advance(120)
        assert await me(cookie) == 401  # absolute: 12 hours after login, busy or not
        before = sql_state(rt)
        late = await client.post(
            "/api/console/tickets",
            json=FORM,
            cookies={COOKIE: cookie},
            headers={"X-CSRF-Token": csrf, "Origin": origin_of(client)},
        )
        assert late.status == 401 and sql_state(rt) == before
    finally:
        rt.close()
