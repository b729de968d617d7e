"""The back office (handling units' system): bearer-token API of CONTRACT.md."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from aiohttp import web

from channels.auth import require_token
from channels.http_common import in_thread, read_json
from intake.assembly import HotlinePolicy
from intake.errors import InvalidInput
from intake.events import EventService
from intake.model import TICKET_NUMBER, Channel, TicketStatus
from intake.phone import PhoneIntake
from intake.store.sql import SqlStore
from intake.views import ticket_json

_TICKET_NUMBER = re.compile(TICKET_NUMBER)


class BackOffice:
    def __init__(
        self, store: SqlStore, events: EventService, phone: PhoneIntake, policy: HotlinePolicy, api_token: str
    ) -> None:
        self.store = store
        self.policy = policy
        self.events = events
        self.phone = phone
        self.api_token = api_token

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/api/tickets", self.list_tickets)
        app.router.add_post("/api/tickets", self.create_ticket)
        app.router.add_get("/api/tickets/{number}", self.get_ticket)
        app.router.add_post("/api/tickets/{number}/events", self.post_event)

    def _auth(self, request: web.Request) -> None:
        require_token(request, self.api_token)

    def _full(self, number: str) -> dict[str, Any]:
        t = self.store.find_ticket(number)
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
        self._auth(request)
        return web.json_response(await in_thread(request, self._full, request.match_info["number"]))

    async def list_tickets(self, request: web.Request) -> web.Response:
        self._auth(request)
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
            before = await in_thread(request, self.store.find_ticket, q["before"])
            before_id = before.id
        rows = await in_thread(
            request, self._page, status=status, channel=channel, since=since, before_id=before_id
        )
        return web.json_response({"tickets": rows})

    async def create_ticket(self, request: web.Request) -> web.Response:
        """An agent registers a phone call; the caller's acknowledgement goes by SMS."""
        self._auth(request)
        data = await read_json(request)
        agent = data.get("agent") if isinstance(data.get("agent"), str) else "agent"
        t = await in_thread(request, self.phone.create, data, str(agent)[:80])
        assert t.number is not None
        return web.json_response(await in_thread(request, self._full, t.number), status=201)

    async def post_event(self, request: web.Request) -> web.Response:
        self._auth(request)
        data = await read_json(request)
        actor = data.get("actor") if isinstance(data.get("actor"), str) else "back-office"
        number = request.match_info["number"]
        await in_thread(request, self.events.apply, number, data, str(actor)[:80])
        return web.json_response(await in_thread(request, self._full, number))


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
