"""The agent console (CONTRACT.md ``GET /console/``): login, the live intake queue, tickets by
deadline colour, conversations waiting for the citizen, failed deliveries, and the phone form.

Sessions: a random id in a ``__Host-`` cookie (HttpOnly, Secure, SameSite=Strict), signed and
bound to an absolute expiry; the idle timeout lives in Redis, so logout and idleness end the
session everywhere. Every state change needs the CSRF token and a same-origin ``Origin``
(RELIABILITY.md S2). Personal data appears masked only, and never for an anonymous citizen.
"""

from __future__ import annotations

import hmac
import json
import secrets
from datetime import timedelta
from typing import Any

import redis
import redis.asyncio as aioredis
from aiohttp import web
from rq import Queue
from rq.job import Job
from rq.registry import FailedJobRegistry

from channels.http_common import in_thread, read_json, row_id
from channels.static import SECURITY_HEADERS, STATIC, add_files
from intake.assembly import HotlinePolicy
from intake.errors import HotlineError, InvalidInput, Unauthorized
from intake.masking import redact
from intake.model import DeliveryState, TicketStatus
from intake.phone import PhoneIntake
from intake.store.sql import SqlStore
from intake.views import ticket_json

COOKIE = "__Host-hotline_console"
ABSOLUTE = timedelta(hours=12)
IDLE = timedelta(minutes=30)
QUEUE_NAMES = ("intake", "dispatch", "notify", "default")


class Forbidden(HotlineError):
    code = "forbidden"
    status = 403


class Console:
    def __init__(
        self,
        store: SqlStore,
        policy: HotlinePolicy,
        phone: PhoneIntake,
        password: str,
        redis_url: str,
        redis_client: redis.Redis,
    ) -> None:
        self.store = store
        self.policy = policy
        self.phone = phone
        self.password = password
        self.redis_url = redis_url
        self.redis = redis_client  # the process's own client, for RQ's registries (read in a thread)
        self.aredis: aioredis.Redis | None = None

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/console", self.redirect)
        app.router.add_get("/console/", self.page)
        add_files(app, "/console/static/", STATIC / "console")
        app.router.add_post("/api/console/login", self.login)
        app.router.add_post("/api/console/logout", self.logout)
        app.router.add_get("/api/console/me", self.me)
        app.router.add_get("/api/console/queue", self.queue)
        app.router.add_post("/api/console/tickets", self.create_ticket)
        app.router.add_post("/api/console/restrictions/{rid}/lift", self.lift)
        app.cleanup_ctx.append(self._redis_ctx)

    async def _redis_ctx(self, app: web.Application) -> Any:
        self.aredis = aioredis.Redis.from_url(self.redis_url)
        yield
        await self.aredis.aclose()

    # -- sessions -------------------------------------------------------------------------------
    def _cookie_value(self, sid: str, agent: str, expires: int) -> str:
        payload = f"{sid}.{agent}.{expires}"
        return f"{payload}.{self.store.cipher.sign('console:' + payload)}"

    def _csrf(self, sid: str) -> str:
        return self.store.cipher.sign(f"console-csrf:{sid}")

    async def _session(self, request: web.Request, *, changing: bool = False) -> tuple[str, str]:
        """(session id, agent) of a live session; 401 otherwise. ``changing``: also CSRF + Origin."""
        assert self.aredis is not None
        raw = request.cookies.get(COOKIE, "")
        parts = raw.split(".")
        if len(parts) != 4 or not (parts[2].isascii() and parts[2].isdigit()):
            raise Unauthorized("请先登录。Please log in.")
        sid, agent, expires, sig = parts
        if not self.store.cipher.verify(f"console:{sid}.{agent}.{expires}", sig):
            raise Unauthorized("请先登录。Please log in.")
        if int(expires) <= self.store.clock.now().timestamp():
            raise Unauthorized("登录已过期，请重新登录。Session expired.")
        key = f"hotline:console:{sid}"
        last = await self.aredis.get(key)
        if last is None or self.store.clock.now().timestamp() - float(last) > IDLE.total_seconds():
            raise Unauthorized("登录已过期，请重新登录。Session expired.")
        if changing:
            self._same_origin(request)
            if not hmac.compare_digest(request.headers.get("X-CSRF-Token", ""), self._csrf(sid)):
                raise Forbidden("缺少或错误的 CSRF 令牌。Missing or wrong CSRF token.")
        await self.aredis.set(key, str(self.store.clock.now().timestamp()), ex=int(ABSOLUTE.total_seconds()))
        return sid, agent

    @staticmethod
    def _same_origin(request: web.Request) -> None:
        origin = request.headers.get("Origin")
        if origin is not None and origin != f"{request.scheme}://{request.host}":
            raise Forbidden("跨站请求被拒绝。Cross-site request refused.")

    async def login(self, request: web.Request) -> web.Response:
        assert self.aredis is not None
        self._same_origin(request)
        data = await read_json(request, max_bytes=4096)
        agent, password = data.get("agent"), data.get("password")
        if not isinstance(agent, str) or not agent.strip() or not isinstance(password, str):
            raise InvalidInput("请填写坐席工号和密码。'agent' and 'password' are required.")
        agent = "".join(ch for ch in agent.strip() if ch.isalnum() or ch in "-_")[:40] or "agent"
        if not hmac.compare_digest(password.encode(), self.password.encode()):
            raise Unauthorized("工号或密码错误。Wrong agent or password.")
        sid = secrets.token_urlsafe(18)  # a new id at every login: no session fixation
        expires = int((self.store.clock.now() + ABSOLUTE).timestamp())
        await self.aredis.set(
            f"hotline:console:{sid}",
            str(self.store.clock.now().timestamp()),
            ex=int(ABSOLUTE.total_seconds()),
        )
        await in_thread(request, self.store.audit, agent, "console_login")
        resp = web.json_response({"agent": agent, "csrf": self._csrf(sid)})
        resp.set_cookie(
            COOKIE,
            self._cookie_value(sid, agent, expires),
            path="/",
            secure=True,
            httponly=True,
            samesite="Strict",
            max_age=int(ABSOLUTE.total_seconds()),
        )
        return resp

    async def logout(self, request: web.Request) -> web.Response:
        assert self.aredis is not None
        sid, agent = await self._session(request, changing=True)
        await self.aredis.delete(f"hotline:console:{sid}")
        await in_thread(request, self.store.audit, agent, "console_logout")
        resp = web.json_response({"ok": True})
        resp.del_cookie(COOKIE, path="/")
        return resp

    async def me(self, request: web.Request) -> web.Response:
        sid, agent = await self._session(request)
        return web.json_response({"agent": agent, "csrf": self._csrf(sid)})

    # -- pages and data -------------------------------------------------------------------------
    async def redirect(self, request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound("/console/")

    async def page(self, request: web.Request) -> web.StreamResponse:
        return web.FileResponse(
            STATIC / "console" / "index.html",
            headers={**SECURITY_HEADERS, "Content-Type": "text/html; charset=utf-8"},
        )

    def _queue(self) -> dict[str, Any]:
        now = self.store.clock.now()
        store = self.store

        def view(t: Any) -> dict[str, Any]:
            return ticket_json(t, (), None, self.policy.view(t, store.events(t.id), now))

        open_statuses = [s.value for s in TicketStatus if s.is_open]
        open_tickets = [view(t) for s in open_statuses for t in store.list_tickets(status=s, limit=200)]
        colour_rank = {"red": 0, "yellow": 1, None: 2}
        open_tickets.sort(key=lambda t: (colour_rank.get(t["warning"], 2), t["deadline"] or "9999"))
        waiting = [
            {
                "id": t.id,
                "category": t.category,
                "channel": t.channel.value,
                "since": t.updated_at.isoformat(),
                "due": t.supplement_due_at.isoformat() if t.supplement_due_at else None,
            }
            for t in store.list_tickets(status=TicketStatus.COLLECTING.value, numbered_only=False, limit=100)
        ]
        manual = [t for t in open_tickets if t["status"] == "registered" and t["unit"]]
        deliveries = [
            {
                "id": m.id,
                "channel": m.address.channel.value,
                "kind": m.kind,
                "state": m.state.value,
                "attempts": m.attempts,
                "error": m.last_error,
                "ticket_id": m.ticket_id,
            }
            for state in (DeliveryState.FAILED, DeliveryState.UNCERTAIN)
            for m in store.outbound_by_state(state, limit=100)
        ]
        jobs: list[dict[str, Any]] = []
        for name in QUEUE_NAMES:
            registry = FailedJobRegistry(queue=Queue(name, connection=self.redis))
            for job_id in registry.get_job_ids(0, 99):
                jobs.append({"queue": name, "job_id": job_id, "error": self._job_error(job_id)})
        return {
            "now": now.isoformat(),
            "intake": [view(t) for t in store.list_tickets(limit=50)],
            "open": open_tickets,
            "waiting_for_citizen": waiting,
            "manual_routing": manual,
            "failed_deliveries": deliveries,
            "failed_jobs": jobs,
            "restrictions": store.active_restrictions(now),
            "stuck_jobs": [
                {"job": j.job, "key": j.key, "attempts": j.attempts, "error": j.last_error}
                for j in store.stuck_outbox()
            ],
        }

    def _job_error(self, job_id: str) -> str | None:
        """The last line of a failed job's traceback: what an agent needs to see, no more."""
        try:
            job = Job.fetch(job_id, connection=self.redis)
            text = job.exc_info or ""
        except Exception:  # an expired or unreadable job: listed without its error
            return None
        lines = [line for line in str(text).strip().splitlines() if line.strip()]
        return redact(lines[-1])[:300] if lines else None

    async def queue(self, request: web.Request) -> web.Response:
        await self._session(request)
        body = await in_thread(request, self._queue)
        return web.Response(
            text=json.dumps(body, ensure_ascii=False),
            content_type="application/json",
            headers={"Cache-Control": "no-store"},
        )

    async def lift(self, request: web.Request) -> web.Response:
        """An agent lifts a harassment restriction (issue 7); audited."""
        _, agent = await self._session(request, changing=True)
        rid = request.match_info["rid"]
        restriction = row_id(rid)
        if restriction is None:
            raise InvalidInput("restriction id must be a number")
        lifted = await in_thread(request, self.store.lift_restriction, restriction, agent)
        await in_thread(request, self.store.audit, agent, "lift_restriction", rid)
        return web.json_response({"lifted": lifted})

    async def create_ticket(self, request: web.Request) -> web.Response:
        """The phone form: the same checks as ``POST /api/tickets``; the caller hears back by SMS."""
        _, agent = await self._session(request, changing=True)
        data = await read_json(request)
        t = await in_thread(request, self.phone.create, {**data, "channel": "phone"}, agent)
        events = await in_thread(request, self.store.events, t.id)
        return web.json_response(
            ticket_json(t, events, None, self.policy.view(t, events, self.store.clock.now())), status=201
        )
