"""The hotline's duties on the web (issue 21): what agents do about supervision and review on
the console, and the indicators for the centre (CONTRACT.md "Back-office feed and reports").

Console (session cookie; every POST with its CSRF token, audited in the action's transaction):

- ``POST /api/console/tickets/{number}/supervise`` ``{"reason"}``: an agent opens supervision
  (the profile's ``[supervision] agent`` limit);
- ``POST /api/console/tickets/{number}/supervision/extend`` ``{"reason"}``: its one extension
  where the profile allows it (shaoyang §24);
- ``POST /api/console/tickets/{number}/review`` ``{"decision", "callback"?, "reason"?}``: the
  call-back recorded and re-handling or closing decided (回访), or a unit's 甄别 upheld or rejected;
- ``GET /api/console/reports`` and ``GET /api/console/reports/daily.svg``: the indicators and
  their chart for the console's report view.

Centre (``HOTLINE_API_TOKEN``): ``GET /api/reports/indicators`` and ``GET /api/reports/tickets.csv``.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from channels.auth import bearer, is_token
from channels.console import Console
from channels.desk import json_answer as _json
from channels.http_common import in_thread, read_json, row_id
from intake.duties import Duties
from intake.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized
from intake.model import SHANGHAI, Field
from intake.reports import bounds, csv_text, daily_svg, facts_of, period, report
from intake.store.sql import SqlStore
from intake.turn import WITH_A_UNIT
from intake.views import scrub

MAX_REASON = 500
SUPERVISOR_DECISIONS = ("close", "upheld", "rejected")


class DutyDesk:
    def __init__(self, console: Console, duties: Duties, api_token: str) -> None:
        self.console = console
        self.duties = duties
        self.store: SqlStore = console.store
        self.policy = console.policy
        self.api_token = api_token

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/api/console/tickets/{number}/supervise", self.supervise)
        app.router.add_post("/api/console/tickets/{number}/supervision/extend", self.extend)
        app.router.add_post("/api/console/tickets/{number}/review", self.review)
        app.router.add_get("/api/console/calls", self.calls)
        app.router.add_post("/api/console/calls/{tid}/attempt", self.call_attempt)
        app.router.add_get("/api/console/reports", self.console_report)
        app.router.add_get("/api/console/reports/daily.svg", self.console_chart)
        app.router.add_get("/api/reports/indicators", self.indicators)
        app.router.add_get("/api/reports/tickets.csv", self.tickets_csv)

    # -- console actions ----------------------------------------------------------------------
    async def supervise(self, request: web.Request) -> web.Response:
        session = await self.console._session(request, changing=True)
        body = await read_json(request)
        t = await self.console.desk.ticket_of(request)
        reason = _reason(body)
        if t.status not in WITH_A_UNIT:
            raise Conflict(
                "工单不在承办单位办理中，不能督办。Only a ticket a unit is handling can be supervised."
            )

        def act() -> str:
            with self.store.tx():
                self.store.lock_status(t.id)
                due = self.duties.open_supervision(
                    self.store.get_ticket(t.id), reason, self.store.clock.now(), agent=session.login
                )
                self.store.audit(session.login, "supervision_opened", t.number)
            return due.isoformat()

        return _json({"number": t.number, "due": await in_thread(request, act)})

    async def extend(self, request: web.Request) -> web.Response:
        session = await self.console._supervisor(request)  # a longer limit for the unit
        body = await read_json(request)
        t = await self.console.desk.ticket_of(request)
        reason = _reason(body)

        def act() -> str:
            with self.store.tx():
                self.store.lock_status(t.id)
                due = self.duties.extend_supervision(self.store.get_ticket(t.id), session.login, reason)
                self.store.audit(session.login, "supervision_extended", t.number)
            return due.isoformat()

        return _json({"number": t.number, "due": await in_thread(request, act)})

    async def review(self, request: web.Request) -> web.Response:
        session = await self.console._session(request, changing=True)
        body = await read_json(request)
        t = await self.console.desk.ticket_of(request)
        decision = body.get("decision")
        if not isinstance(decision, str):
            raise InvalidInput("请选择处理决定。'decision' is required.")
        if decision in SUPERVISOR_DECISIONS and not session.supervises:
            # closing without re-handling, or a 甄别 that changes the unit's satisfaction rate
            raise Forbidden("仅限班长或管理员。Only a supervisor or an admin may decide this.")

        def act() -> dict[str, Any]:
            with self.store.tx():
                self.store.lock_status(t.id)
                fresh = self.store.get_ticket(t.id)
                self.duties.decide(fresh, decision, session.login, body, self.store.clock.now())
                self.store.audit(session.login, f"review_{decision}", t.number)
            after = self.store.get_ticket(t.id)
            return {"number": t.number, "status": after.status.value, "review": after.review}

        return _json(await in_thread(request, act))

    # -- call-backs for what a phone request left out (guangzhou §12.1) ---------------------------
    def phone_tasks(self) -> list[dict[str, Any]]:
        rules = self.console.phone.supplement
        out = []
        for t, events in self.store.phone_tasks():
            task = next((e for e in events if e.type == "supplement_task"), None)
            calls = [e for e in events if e.type == "supplement_call"]
            out.append(
                {
                    "id": t.id,
                    "category": t.category,
                    "since": t.created_at.isoformat(),
                    "missing": list(task.data.get("missing", [])) if task else [],
                    "calls": len(calls),
                    "attempts": rules.phone_attempts,
                    "next_call_at": (calls[-1].at + rules.phone_spacing).isoformat() if calls else None,
                    "summary": scrub(t.fields.get(Field.CONTENT, ""), t)[:80],
                }
            )
        return out

    async def calls(self, request: web.Request) -> web.Response:
        await self.console._session(request)
        return _json({"calls": await in_thread(request, self.phone_tasks)})

    async def call_attempt(self, request: web.Request) -> web.Response:
        session = await self.console._session(request, changing=True)
        body = await read_json(request)
        tid = row_id(request.match_info["tid"])
        if tid is None:
            raise NotFound("没有这个来电。No such call.")

        def act() -> dict[str, Any]:
            with self.store.tx():
                t = self.console.phone.call_back(tid, body, session.login)
                self.store.audit(session.login, "phone_call_back", str(tid), str(body.get("outcome")))
            return {"id": t.id, "status": t.status.value, "number": t.number, "reason": t.reason}

        return _json(await in_thread(request, act))

    # -- reports --------------------------------------------------------------------------------
    def _report(self, request: web.Request) -> tuple[dict[str, Any], list[Any], Any, Any]:
        today = self.store.clock.now().astimezone(SHANGHAI).date()
        first, last = period(request.query.get("from"), request.query.get("to"), today)
        start, end = bounds(first, last)
        rows = [facts_of(rt, self.policy) for rt in self.store.report_tickets(start, end)]
        return report(rows, first, last, self.policy.profile.name), rows, first, last

    async def console_report(self, request: web.Request) -> web.Response:
        await self.console._session(request)
        body, _, _, _ = await in_thread(request, self._report, request)
        return _json(body)

    async def console_chart(self, request: web.Request) -> web.Response:
        await self.console._session(request)
        body, _, first, last = await in_thread(request, self._report, request)
        svg = daily_svg(body["by_day"], first, last)
        return web.Response(text=svg, content_type="image/svg+xml", headers={"Cache-Control": "no-store"})

    async def _centre(self, request: web.Request) -> None:
        if is_token(request, self.api_token):
            return
        if bearer(request):
            raise Forbidden("仅限热线中心。Only the hotline centre's token may read reports.")
        raise Unauthorized("需要有效的接口令牌。A valid bearer token is required.")

    async def indicators(self, request: web.Request) -> web.Response:
        await self._centre(request)
        body, _, _, _ = await in_thread(request, self._report, request)
        return _json(body)

    async def tickets_csv(self, request: web.Request) -> web.Response:
        await self._centre(request)
        _, rows, first, last = await in_thread(request, self._report, request)
        return web.Response(
            body=("\ufeff" + csv_text(rows)).encode(),  # the BOM lets spreadsheet programs read UTF-8
            content_type="text/csv",
            charset="utf-8",
            headers={
                "Content-Disposition": f'attachment; filename="tickets-{first}-{last}.csv"',
                "Cache-Control": "no-store",
            },
        )


def _reason(body: dict[str, Any]) -> str:
    reason = body.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        raise InvalidInput("请填写原因。'reason' is required.")
    if len(reason) > MAX_REASON:
        raise InvalidInput(f"原因不能超过 {MAX_REASON} 字。'reason' is longer than {MAX_REASON} characters.")
    return reason.strip()
