"""The back office (handling units' system): bearer-token API of CONTRACT.md.

Two kinds of caller (intake.principals): the hotline centre with ``HOTLINE_API_TOKEN``, which sees
every ticket, creates units' tokens and agents' accounts, and registers phone calls; and a handling
unit with one of its own tokens, which sees and acts on its own tickets only (any other is 404,
as if it did not exist) and may reveal a citizen's contact once per ticket. The actor recorded
with an event is the caller, never a name the body gives.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from aiohttp import web

from channels.auth import bearer, is_token
from channels.http_common import REQUEST_ID, in_thread, read_json
from intake.assembly import HotlinePolicy
from intake.errors import Forbidden, InvalidInput, NotFound, Unauthorized
from intake.events import EventService
from intake.model import TICKET_NUMBER, Channel, StoredTicket, TicketStatus
from intake.phone import PhoneIntake
from intake.principals import Principals
from intake.store.sql import SqlStore
from intake.views import ticket_json

_TICKET_NUMBER = re.compile(TICKET_NUMBER)
CENTRE = "api-token"  # the actor the centre's token is recorded as


class BackOffice:
    def __init__(
        self,
        store: SqlStore,
        events: EventService,
        phone: PhoneIntake,
        policy: HotlinePolicy,
        api_token: str,
        principals: Principals,
    ) -> None:
        self.store = store
        self.policy = policy
        self.events = events
        self.phone = phone
        self.api_token = api_token
        self.principals = principals

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/api/tickets", self.list_tickets)
        app.router.add_post("/api/tickets", self.create_ticket)
        app.router.add_get("/api/tickets/{number}", self.get_ticket)
        app.router.add_post("/api/tickets/{number}/events", self.post_event)
        app.router.add_post("/api/tickets/{number}/contact", self.contact)
        app.router.add_post("/api/units/{unit}/tokens", self.create_unit_token)
        app.router.add_post("/api/agents", self.create_agent)

    async def _caller(self, request: web.Request) -> str | None:
        """None for the hotline centre, else the unit whose token the request carries; 401."""
        if is_token(request, self.api_token):
            return None
        token = bearer(request)
        unit = await in_thread(request, self.principals.unit_of, token) if token else None
        if unit is None:
            raise Unauthorized("需要有效的接口令牌。A valid bearer token is required.")
        return unit

    async def _centre(self, request: web.Request) -> None:
        if await self._caller(request) is not None:
            raise Forbidden("仅限热线中心。Only the hotline centre's token may do this.")

    def _ticket(self, number: str, unit: str | None) -> StoredTicket:
        """The ticket if the caller may see it; another unit's is 404, as if it did not exist."""
        t = self.store.find_ticket(number)
        if not self.principals.sees(unit, t):
            raise NotFound("未找到该工单。No such ticket.")
        return t

    def _full(self, number: str, unit: str | None) -> dict[str, Any]:
        t = self._ticket(number, unit)
        events = self.store.events(t.id)
        view = self.policy.view(t, events, self.store.clock.now())
        return ticket_json(t, events, self.store.evaluation(t.id), view)

    def _page(self, **filters: Any) -> list[dict[str, Any]]:
        now = self.store.clock.now()
        out = []
        for t in self.store.list_tickets(**filters):
            events = self.store.events(t.id)
            out.append(ticket_json(t, (), None, self.policy.view(t, events, now)))
        return out

    async def get_ticket(self, request: web.Request) -> web.Response:
        unit = await self._caller(request)
        return web.json_response(await in_thread(request, self._full, request.match_info["number"], unit))

    async def list_tickets(self, request: web.Request) -> web.Response:
        unit = await self._caller(request)
        q = request.query
        status, channel = q.get("status"), q.get("channel")
        if status is not None and status not in {s.value for s in TicketStatus}:
            raise InvalidInput(f"unknown status {status!r}")
        if channel is not None and channel not in {c.value for c in Channel}:
            raise InvalidInput(f"unknown channel {channel!r}")
        since = _time(q.get("since"), "since")
        before_id = None
        if "before" in q:
            if not _TICKET_NUMBER.fullmatch(q["before"]):
                raise InvalidInput(f"'before' must be a ticket number, not {q['before'][:40]!r}")
            before = await in_thread(request, self._ticket, q["before"], unit)
            before_id = before.id
        rows = await in_thread(
            request, self._page, status=status, channel=channel, since=since, before_id=before_id, unit=unit
        )
        return web.json_response({"tickets": rows})

    async def create_ticket(self, request: web.Request) -> web.Response:
        """An agent registers a phone call; the caller's acknowledgement goes by SMS."""
        await self._centre(request)
        key = request.headers.get("Idempotency-Key")
        if key is not None and not REQUEST_ID.fullmatch(key):
            raise InvalidInput(
                "Idempotency-Key 应为 1–100 个字母、数字或 ._:-。"
                "Idempotency-Key: 1–100 letters, digits or ._:-"
            )
        data = await read_json(request)
        t = await in_thread(request, self.phone.create, data, CENTRE, key)
        if t.number is None:  # waiting for the hotline's call-backs (guangzhou §12.1): no number yet
            body = {
                "id": t.id,
                "number": None,
                "status": t.status.value,
                "category": t.category,
                "channel": "phone",
            }
            return web.json_response(body, status=201)
        return web.json_response(await in_thread(request, self._full, t.number, None), status=201)

    async def post_event(self, request: web.Request) -> web.Response:
        unit = await self._caller(request)
        data = await read_json(request)
        number = request.match_info["number"]
        await in_thread(request, self._ticket, number, unit)
        actor = CENTRE if unit is None else f"unit:{unit}"[:80]
        await in_thread(request, self.events.apply, number, data, actor)
        return web.json_response(await in_thread(request, self._full, number, unit))

    async def contact(self, request: web.Request) -> web.Response:
        """A unit calls its citizen back (CONTRACT.md): the name and phone, once, audited."""
        unit = await self._caller(request)
        if unit is None:
            raise Forbidden("联系方式只提供给承办单位。Only the handling unit's token may reveal a contact.")
        number = request.match_info["number"]
        return web.json_response(await in_thread(request, self.principals.reveal_contact, unit, number))

    async def create_unit_token(self, request: web.Request) -> web.Response:
        await self._centre(request)
        made = await in_thread(request, self.principals.new_unit_token, request.match_info["unit"], CENTRE)
        return web.json_response({"unit": made.unit, "token": made.token}, status=201)

    async def create_agent(self, request: web.Request) -> web.Response:
        await self._centre(request)
        data = await read_json(request, max_bytes=4096)
        account = await in_thread(
            request,
            self.principals.create_account,
            data.get("login"),
            data.get("password"),
            data.get("role", "agent"),
            CENTRE,
        )
        return web.json_response({"login": account.login, "role": account.role.value}, status=201)


def _time(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"'{name}' must be an ISO 8601 time") from None
    if parsed.tzinfo is None:
        raise InvalidInput(f"'{name}' needs a UTC offset")
    return parsed
