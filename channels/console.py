"""The agent console (CONTRACT.md ``GET /console/``): login and sessions, the board (the desk's
queue, channels/desk.py, with the newest tickets, drafts waiting for the citizen, failed
deliveries and jobs), hand-offs, restrictions, and the phone form.

Agents log in with their own account (intake.principals: Argon2id hashes, no default password,
never the API token). Failed logins are audited and throttled per account and per address.
Sessions: a random id in a ``__Host-`` cookie (HttpOnly, Secure, SameSite=Strict), signed and
bound to the account, its role and an absolute expiry; the idle timeout lives in Redis, so logout
and idleness end the session everywhere; a login ends the session the browser held before. Every
state change needs the CSRF token and a same-origin ``Origin`` (RELIABILITY.md S2). Personal data
appears masked only, and never for an anonymous citizen.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import redis
import redis.asyncio as aioredis
from aiohttp import web
from rq import Queue
from rq.job import Job
from rq.registry import FailedJobRegistry

from channels.desk import Desk
from channels.http_common import REQUEST_ID, async_redis, in_thread, read_json, row_id
from channels.static import CONSOLE_HEADERS, STATIC, add_files
from channels.throttle import FailureThrottle
from intake.assembly import HotlinePolicy
from intake.errors import Forbidden, InvalidInput, NotFound, Unauthorized
from intake.masking import redact
from intake.model import AGENT_KIND, DeliveryState, Handoff, TicketStatus
from intake.phone import PhoneIntake
from intake.principals import Principals, Role
from intake.routing import Router
from intake.store.console import QueueQuery
from intake.store.sql import SqlStore
from intake.views import ticket_json

COOKIE = "__Host-hotline_console"
AGENT_TEXT_MAX = 2000  # an agent's answer (an SMS of it goes out in parts)
ABSOLUTE = timedelta(hours=12)
IDLE = timedelta(minutes=30)
QUEUE_NAMES = ("intake", "dispatch", "notify", "default")
# Failed logins before 429: per account (a guessed password) and per address (logins sprayed;
# HOTLINE_LOGIN_FAILURES_PER_ADDRESS, since a building's agents may share one address).
FAILURES_PER_LOGIN = 5
FAILURE_WINDOW = timedelta(minutes=15)
LOGIN_THROTTLE = FailureThrottle(
    "登录失败次数过多，请 {minutes} 分钟后再试。Too many failed logins.", FAILURE_WINDOW
)


@dataclass(frozen=True, slots=True)
class Session:
    sid: str
    login: str
    role: Role

    @property
    def supervises(self) -> bool:
        return self.role in (Role.SUPERVISOR, Role.ADMIN)


class Console:
    def __init__(
        self,
        store: SqlStore,
        policy: HotlinePolicy,
        phone: PhoneIntake,
        principals: Principals,
        redis_url: str,
        redis_client: redis.Redis,
        router: Router,
        *,
        failures_per_address: int = 20,
    ) -> None:
        self.failures_per_address = failures_per_address
        self.store = store
        self.policy = policy
        self.phone = phone
        self.principals = principals
        self.redis_url = redis_url
        self.redis = redis_client  # the process's own client, for RQ's registries (read in a thread)
        self.aredis: aioredis.Redis | None = None
        self.desk = Desk(self, router)

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
        app.router.add_post("/api/console/jobs/requeue", self.requeue_job)
        app.router.add_post("/api/console/outbox/requeue", self.requeue_outbox)
        app.router.add_get("/api/console/handoffs", self.handoffs)
        app.router.add_post("/api/console/handoffs/{hid}/reply", self.handoff_reply)
        app.router.add_post("/api/console/handoffs/{hid}/release", self.handoff_release)
        self.desk.routes(app)
        app.cleanup_ctx.append(self._redis_ctx)

    async def _redis_ctx(self, app: web.Application) -> Any:
        self.aredis = async_redis(self.redis_url)
        yield
        await self.aredis.aclose()

    # -- sessions -------------------------------------------------------------------------------
    def _cookie_value(self, sid: str, login: str, role: str, expires: int) -> str:
        payload = f"{sid}.{login}.{role}.{expires}"
        return f"{payload}.{self.store.cipher.sign('console:' + payload)}"

    def _csrf(self, sid: str) -> str:
        return self.store.cipher.sign(f"console-csrf:{sid}")

    def _signed(self, request: web.Request) -> tuple[str, str, str, int] | None:
        """(sid, login, role, expires) of the request's cookie if this server signed it, else None."""
        parts = request.cookies.get(COOKIE, "").split(".")
        if len(parts) != 5 or not (parts[3].isascii() and parts[3].isdigit()) or parts[2] not in set(Role):
            return None
        sid, login, role, expires, sig = parts
        if not self.store.cipher.verify(f"console:{sid}.{login}.{role}.{expires}", sig):
            return None
        return sid, login, role, int(expires)

    async def _session(self, request: web.Request, *, changing: bool = False) -> Session:
        """The live session of the request; 401 otherwise. ``changing``: also CSRF + Origin."""
        assert self.aredis is not None
        signed = self._signed(request)
        if signed is None:
            raise Unauthorized("请先登录。Please log in.")
        sid, login, role, expires = signed
        if expires <= self.store.clock.now().timestamp():
            raise Unauthorized("登录已过期，请重新登录。Session expired.")
        key = f"hotline:console:{sid}"
        last = await self.aredis.get(key)
        if last is None or self.store.clock.now().timestamp() - float(last) > IDLE.total_seconds():
            raise Unauthorized("登录已过期，请重新登录。Session expired.")
        if changing:
            self._same_origin(request)
            if not hmac.compare_digest(
                request.headers.get("X-CSRF-Token", "").encode(), self._csrf(sid).encode()
            ):
                raise Forbidden("缺少或错误的 CSRF 令牌。Missing or wrong CSRF token.")
        await self.aredis.set(key, str(self.store.clock.now().timestamp()), ex=int(ABSOLUTE.total_seconds()))
        return Session(sid, login, Role(role))

    @staticmethod
    def _same_origin(request: web.Request) -> None:
        origin = request.headers.get("Origin")
        if origin is not None and origin != f"{request.scheme}://{request.host}":
            raise Forbidden("跨站请求被拒绝。Cross-site request refused.")

    async def _throttled(self, login: str, address: str) -> None:
        """429 while this account or this address has failed too often lately."""
        assert self.aredis is not None
        await LOGIN_THROTTLE.check(
            self.aredis,
            (
                (f"hotline:login:acct:{login}", FAILURES_PER_LOGIN),
                (f"hotline:login:addr:{address}", self.failures_per_address),
            ),
        )

    async def _failed(self, request: web.Request, typed: str, actor: str, address: str) -> None:
        assert self.aredis is not None
        await LOGIN_THROTTLE.failed(
            self.aredis, (f"hotline:login:acct:{typed}", f"hotline:login:addr:{address}")
        )
        await in_thread(request, self.store.audit, actor, "console_login_failed", None, f"from {address}")

    async def login(self, request: web.Request) -> web.Response:
        assert self.aredis is not None
        self._same_origin(request)
        data = await read_json(request, max_bytes=4096)
        login, password = data.get("login"), data.get("password")
        if not isinstance(login, str) or not login.strip() or not isinstance(password, str) or not password:
            raise InvalidInput("请填写登录名和密码。'login' and 'password' are required.")
        login = login.strip()
        # Throttled under a hash of what was typed (never kept as typed: it may be a password).
        typed = hashlib.sha256(login.encode()).hexdigest()[:24]
        address = request.remote or "unknown"
        await self._throttled(typed, address)
        account, named = await in_thread(request, self.principals.verify, login, password[:1024])
        if account is None:
            await self._failed(request, typed, named, address)
            raise Unauthorized("登录名或密码错误。Wrong login or password.")
        await self.aredis.delete(f"hotline:login:acct:{typed}")
        previous = self._signed(request)
        if previous is not None:  # the browser's session before this login (maybe planted) ends
            await self.aredis.delete(f"hotline:console:{previous[0]}")
        sid = secrets.token_urlsafe(18)  # a new id at every login: no session fixation
        expires = int((self.store.clock.now() + ABSOLUTE).timestamp())
        await self.aredis.set(
            f"hotline:console:{sid}",
            str(self.store.clock.now().timestamp()),
            ex=int(ABSOLUTE.total_seconds()),
        )
        await in_thread(request, self.store.audit, account.login, "console_login", None, f"from {address}")
        resp = web.json_response(
            {
                "login": account.login,
                "role": account.role.value,
                "csrf": self._csrf(sid),
            }
        )
        resp.set_cookie(
            COOKIE,
            self._cookie_value(sid, account.login, account.role.value, expires),
            path="/",
            secure=True,
            httponly=True,
            samesite="Strict",
            max_age=int(ABSOLUTE.total_seconds()),
        )
        return resp

    async def logout(self, request: web.Request) -> web.Response:
        assert self.aredis is not None
        session = await self._session(request, changing=True)
        await self.aredis.delete(f"hotline:console:{session.sid}")
        await in_thread(request, self.store.audit, session.login, "console_logout")
        resp = web.json_response({"ok": True})
        # with the attributes it was set with: a browser ignores a __Host- cookie without Secure,
        # and would keep the old one
        resp.del_cookie(COOKIE, path="/", secure=True, httponly=True, samesite="Strict")
        return resp

    async def me(self, request: web.Request) -> web.Response:
        session = await self._session(request)
        return web.json_response(
            {
                "login": session.login,
                "role": session.role.value,
                "csrf": self._csrf(session.sid),
            }
        )

    # -- pages and data -------------------------------------------------------------------------
    async def redirect(self, request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound("/console/")

    async def page(self, request: web.Request) -> web.StreamResponse:
        return web.FileResponse(
            STATIC / "console" / "index.html",
            headers={**CONSOLE_HEADERS, "Content-Type": "text/html; charset=utf-8"},
        )

    def _queue(self, q: QueueQuery) -> dict[str, Any]:
        """The whole board: the desk's page of open tickets with its counts, hand-offs and
        filters; the newest tickets; drafts waiting for the citizen; what failed."""
        now = self.store.clock.now()
        store = self.store
        waiting = [
            {
                "id": t.id,
                "category": t.category,
                "channel": t.channel.value,
                "since": t.updated_at.isoformat(),
                "due": t.supplement_due_at.isoformat() if t.supplement_due_at else None,
                "waits_for": self.desk.waits_for(t),
            }
            for t in store.list_tickets(status=TicketStatus.COLLECTING.value, numbered_only=False, limit=100)
        ]
        failed = [
            m
            for state in (DeliveryState.FAILED, DeliveryState.UNCERTAIN)
            for m in store.outbound_by_state(state, limit=100)
        ]
        numbers = store.numbers_of([m.ticket_id for m in failed if m.ticket_id is not None])
        deliveries = [
            {
                "id": m.id,
                "channel": m.address.channel.value,
                "kind": m.kind,
                "state": m.state.value,
                "attempts": m.attempts,
                "error": m.last_error,
                "ticket_id": m.ticket_id,
                "number": numbers.get(m.ticket_id) if m.ticket_id is not None else None,
            }
            for m in failed
        ]
        jobs: list[dict[str, Any]] = []
        for name in QUEUE_NAMES:
            registry = FailedJobRegistry(queue=Queue(name, connection=self.redis))
            for job_id in registry.get_job_ids(0, 99):
                jobs.append({"queue": name, "job_id": job_id, "error": self._job_error(job_id)})
        return {
            "now": now.isoformat(),
            "intake": self.desk.newest(),
            **self.desk.queue_part(q),
            "waiting_for_citizen": waiting,
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
        body = await in_thread(request, self._queue, self.desk.query_of(request))
        return web.Response(
            text=json.dumps(body, ensure_ascii=False),
            content_type="application/json",
            headers={"Cache-Control": "no-store"},
        )

    async def lift(self, request: web.Request) -> web.Response:
        """A supervisor lifts a harassment restriction (issue 7); audited."""
        agent = (await self._supervisor(request)).login
        rid = request.match_info["rid"]
        restriction = row_id(rid)
        if restriction is None:
            raise InvalidInput("restriction id must be a number")
        lifted = await in_thread(request, self.store.lift_restriction, restriction, agent)
        await in_thread(request, self.store.audit, agent, "lift_restriction", rid)
        return web.json_response({"lifted": lifted})

    async def _supervisor(self, request: web.Request) -> Session:
        session = await self._session(request, changing=True)
        if not session.supervises:
            raise Forbidden("仅限班长或管理员。Only a supervisor or an admin may do this.")
        return session

    async def requeue_job(self, request: web.Request) -> web.Response:
        """A failed queue job put back on its queue (issue 18), once its cause is fixed; audited."""
        session = await self._supervisor(request)
        data = await read_json(request, max_bytes=4096)
        queue, job_id = data.get("queue"), data.get("job_id")
        if queue not in QUEUE_NAMES or not isinstance(job_id, str) or not 0 < len(job_id) <= 200:
            raise InvalidInput("需要 queue 和 job_id。'queue' (a queue name) and 'job_id' are required.")

        def requeue() -> None:
            registry = FailedJobRegistry(queue=Queue(queue, connection=self.redis))
            if job_id not in registry.get_job_ids():
                raise NotFound("该任务不在失败列表中。No such failed job.")
            registry.requeue(job_id)

        await in_thread(request, requeue)
        await in_thread(request, self.store.audit, session.login, "job_requeued", job_id[:80], queue)
        return web.json_response({"requeued": job_id})

    async def requeue_outbox(self, request: web.Request) -> web.Response:
        """An abandoned outbox job (tried too often) given its attempts back; audited."""
        session = await self._supervisor(request)
        data = await read_json(request, max_bytes=4096)
        key = data.get("key")
        if not isinstance(key, str) or not 0 < len(key) <= 200:
            raise InvalidInput("需要 key。'key' (an abandoned job's key) is required.")
        if not await in_thread(request, self.store.requeue_stuck, key):
            raise NotFound("没有这个被放弃的任务。No such abandoned job.")
        await in_thread(request, self.store.audit, session.login, "outbox_requeued", key[:80])
        return web.json_response({"requeued": key})

    # -- conversations waiting for a person (issue 19) -------------------------------------------
    async def handoffs(self, request: web.Request) -> web.Response:
        """Conversations waiting for a person, oldest first, the citizen's latest message with
        phones, IDs and emails masked (CONTRACT.md)."""
        await self._session(request)
        rows = await in_thread(request, self.store.open_handoffs)
        out = [
            {
                "id": h.id,
                "channel": h.address.channel.value,
                "since": h.since.isoformat(),
                "text": redact(h.text),
            }
            for h in rows
        ]
        return web.json_response({"handoffs": out}, headers={"Cache-Control": "no-store"})

    async def _open_handoff(self, request: web.Request) -> Handoff:
        hid = row_id(request.match_info["hid"])
        if hid is None:
            raise InvalidInput("会话编号无效。The hand-off id must be a number.")
        found = await in_thread(request, self.store.get_handoff, hid)
        if found is None:
            raise NotFound("没有这个等待人工的会话。No such open hand-off.")
        return found

    async def handoff_reply(self, request: web.Request) -> web.Response:
        """An agent's answer, sent to the citizen on their channel as a person's (``from``
        ``agent`` in web chat); the conversation stays with the agents until released. A
        ``client_id`` sent again is the same answer, sent once."""
        session = await self._session(request, changing=True)
        data = await read_json(request, max_bytes=16 * 1024)
        text, client_id = data.get("text"), data.get("client_id")
        if not isinstance(text, str) or not 0 < len(text.strip()) <= AGENT_TEXT_MAX:
            raise InvalidInput(
                f"请填写回复内容（不超过{AGENT_TEXT_MAX}字）。'text' must be 1-{AGENT_TEXT_MAX} characters."
            )
        if client_id is not None and (not isinstance(client_id, str) or not REQUEST_ID.fullmatch(client_id)):
            raise InvalidInput("client_id 无效。'client_id' must be 1-100 letters, digits or ._:-")
        handoff = await self._open_handoff(request)
        key = f"agent:{handoff.id}:{client_id or secrets.token_hex(8)}"
        oid, _ = await in_thread(
            request, self.store.record_outbound, handoff.address, text.strip(), key=key, kind=AGENT_KIND
        )
        await in_thread(request, self.store.audit, session.login, "handoff_reply", str(handoff.id))
        return web.json_response({"id": oid})

    async def handoff_release(self, request: web.Request) -> web.Response:
        """The bot takes the conversation back; audited."""
        session = await self._session(request, changing=True)
        handoff = await self._open_handoff(request)
        now = self.store.clock.now()
        await in_thread(request, self.store.release_handoff, handoff.id, session.login, now)
        await in_thread(request, self.store.audit, session.login, "handoff_released", str(handoff.id))
        return web.json_response({"released": handoff.id})

    async def create_ticket(self, request: web.Request) -> web.Response:
        """The phone form: the same checks as ``POST /api/tickets``; the caller hears back by SMS."""
        session = await self._session(request, changing=True)
        data = await read_json(request)
        t = await in_thread(request, self.phone.create, {**data, "channel": "phone"}, session.login)
        events = await in_thread(request, self.store.events, t.id)
        return web.json_response(
            ticket_json(t, events, None, self.policy.view(t, events, self.store.clock.now())), status=201
        )
