"""The agents' workspace behind the console (issue 20, CONTRACT.md "Agents and the console API"):
the queue in the order agents work it, one ticket's page, the actions on a ticket, and the live
stream that tells an open console to reload.

Sessions, CSRF and roles are the console's (channels/console.py). Every action is written to the
audit log under the agent's account; personal data leaves masked, and a supervisor's reveal
names a reason and is audited (never for an anonymous citizen).
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from aiohttp import web

from channels.http_common import in_thread, read_json, row_id
from intake.clusters import THRESHOLD as CLUSTER_THRESHOLD
from intake.clusters import matter_chars
from intake.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized
from intake.events import DIFFICULT_QUEUE, RETURN_REVIEW_QUEUE
from intake.history import COMPLEX_EVENT
from intake.live import CHANNEL
from intake.masking import redact
from intake.model import Category, Channel, Field, StoredEvent, StoredTicket, TicketStatus
from intake.routing import Router
from intake.store.console import PAGE_MAX, QueueQuery, returned_by
from intake.views import scrub, scrub_said, ticket_json

if TYPE_CHECKING:
    from channels.console import Console

CHANNEL_LABELS = {
    Channel.WEBCHAT: "网页",
    Channel.TELEGRAM: "Telegram",
    Channel.EMAIL: "邮件",
    Channel.SMS: "短信",
    Channel.PHONE: "电话",
}
STATUS_LABELS = {
    TicketStatus.REGISTERED: "已登记",
    TicketStatus.DISPATCHED: "已派发",
    TicketStatus.SIGNED: "已签收",
    TicketStatus.EXTENDED: "已延期",
    TicketStatus.REHANDLING: "重新办理",
}
# What each event means on the deadline's history (a restart, an extension, a new round).
DEADLINE_STEPS = {
    "registered": "登记",
    "dispatched": "派单",
    "routed": "坐席派单",
    "signed": "签收",
    "returned": "退回",
    "extension_approved": "延期",
    "supplemented": "市民补充",
    "completed": "办结",
    "rehandling": "重新办理",
    "clock_restarted": "新情况，时限重算",
    COMPLEX_EVENT: "认定为复杂事项",
    "merged": "并入同一事项",
}
REVEAL_REASON_MIN = 4
STREAM_HEARTBEAT = 15.0
QUEUE_FILTERS = ("category", "channel", "status", "unit", "warning", "urgent", "q")


class Desk:
    def __init__(self, console: Console, router: Router) -> None:
        self.console = console
        self.store = console.store
        self.policy = console.policy
        self.router = router
        self.waiting_units = (router.manual_queue, RETURN_REVIEW_QUEUE, DIFFICULT_QUEUE)

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/api/console/stream", self.stream)
        app.router.add_get("/api/console/tickets/{number}", self.ticket_page)
        app.router.add_post("/api/console/tickets/{number}/route", self.route)
        app.router.add_post("/api/console/tickets/{number}/reveal", self.reveal)
        app.router.add_post("/api/console/tickets/{number}/complex", self.mark_complex)
        app.router.add_post("/api/console/tickets/{number}/merge", self.merge)
        app.router.add_post("/api/console/outbox/{oid}/retry", self.retry)

    # -- the queue (GET /api/console/queue, mounted by the console) ------------------------------
    def query_of(self, request: web.Request) -> QueueQuery:
        params = {k: request.query.get(k, "").strip()[:100] for k in QUEUE_FILTERS}
        if params["warning"] not in ("", "red", "yellow", "none"):
            raise InvalidInput("warning 只能是 red、yellow 或 none。'warning' must be red, yellow or none.")
        if params["status"] and params["status"] not in {s.value for s in STATUS_LABELS}:
            raise InvalidInput("status 不是办理中的状态。'status' must be an open status.")
        if params["channel"] and params["channel"] not in {c.value for c in Channel}:
            raise InvalidInput("channel 不是渠道名称。'channel' must be a channel word.")
        if params["category"] and params["category"] not in {c.value for c in Category}:
            raise InvalidInput("category 不是诉求类别。'category' must be a category word.")
        return QueueQuery(
            category=params["category"] or None,
            channel=params["channel"] or None,
            status=params["status"] or None,
            unit=params["unit"] or None,
            warning=params["warning"] or None,
            urgent=params["urgent"] or None,
            text=params["q"] or None,
            page=_positive(request.query.get("page"), 1, 10**6),
            size=_positive(request.query.get("size"), 50, PAGE_MAX),
        )

    def view(self, t: StoredTicket, events: Sequence[StoredEvent]) -> dict[str, Any]:
        return ticket_json(t, events, None, self.policy.view(t, events, self.store.clock.now()))

    def queue_part(self, q: QueueQuery) -> dict[str, Any]:
        """The page of open tickets, its counts, the hand-offs and the filters' choices."""
        store = self.store
        now = store.clock.now()
        page = store.queue_page(q)
        waiting = [
            store.queue_page(QueueQuery(status=TicketStatus.REGISTERED.value, unit=unit, size=PAGE_MAX))
            for unit in self.waiting_units
        ]
        handoffs = store.open_handoffs()
        reviews, supervised = store.duty_lists()
        duty_events = store.events_of([t.id for t in (*reviews, *supervised)])
        return {
            "open": [self.view(t, page.events[t.id]) for t in page.tickets],
            "open_total": page.total,
            "page": page.page,
            "pages": page.pages,
            "size": page.size,
            "stats": store.queue_stats(),
            "manual_routing": [self.view(t, w.events[t.id]) for w in waiting for t in w.tickets],
            # the hotline's duties (issue 21): reviews to decide, supervision not yet answered
            "reviews": [self.view(t, duty_events[t.id]) for t in reviews],
            "supervised": [self.view(t, duty_events[t.id]) for t in supervised],
            "handoffs": [
                {
                    "id": h.id,
                    "channel": h.address.channel.value,
                    "since": h.since.isoformat(),
                    "waiting_seconds": max(0, int((now - h.since).total_seconds())),
                    "text": redact(h.text),
                }
                for h in handoffs
            ],
            "filters": {
                "categories": list(self.policy.profile.categories),
                "channels": [{"value": c.value, "label": label} for c, label in CHANNEL_LABELS.items()],
                "statuses": [{"value": s.value, "label": label} for s, label in STATUS_LABELS.items()],
                "units": list(self.router.units),
                "urgent_classes": [
                    {"key": u.key, "name": u.title} for u in self.policy.profile.urgent_classes
                ],
            },
        }

    def waits_for(self, t: StoredTicket) -> list[str]:
        """What a draft waits for from the citizen: the category, or the required items not
        given and not hidden (the profile's template, as the dialog asks for them)."""
        if t.category not in self.policy.profile.categories:
            return ["诉求类别"]
        required = self.policy.required_fields(Category(t.category), t.fields.get(Field.CONTENT, ""))
        given = {**t.fields, **t.contact}
        return [f.label.removeprefix("您的") for f in required if not given.get(f) and f not in t.hidden]

    def newest(self, limit: int = 50) -> list[dict[str, Any]]:
        tickets = self.store.list_tickets(limit=limit)
        events = self.store.events_of([t.id for t in tickets])
        return [self.view(t, events[t.id]) for t in tickets]

    # -- one ticket -------------------------------------------------------------------------------
    async def ticket_of(self, request: web.Request) -> StoredTicket:
        """The ticket the URL names (404 for a malformed or unknown number)."""
        number = request.match_info["number"]
        if not 0 < len(number) <= 20:
            raise NotFound("没有这个工单。No such ticket.")
        return await in_thread(request, self.store.find_ticket, number)

    async def ticket_page(self, request: web.Request) -> web.Response:
        session = await self.console._session(request)
        t = await self.ticket_of(request)
        body = await in_thread(request, self._page, t, session.supervises)
        return json_answer(body)

    def _page(self, t: StoredTicket, supervises: bool) -> dict[str, Any]:
        store = self.store
        events = store.events(t.id)
        view = self.policy.view(t, events, store.clock.now())
        out = ticket_json(t, events, store.evaluation(t.id), view)  # with the evaluation round
        out["conversation"] = [
            {
                "from": line.by,
                "channel": line.channel,
                "text": scrub_said(line.text, t) if line.by == "citizen" else scrub(line.text, t),
                "at": line.at.isoformat(),
            }
            for line in store.conversation(t)
        ]
        out["conversation"] += [  # what the unit told the citizen, in the order it came
            {
                "from": "unit",
                "channel": "",
                "text": scrub(str(e.data.get("result", "")), t),
                "at": e.at.isoformat(),
            }
            for e in self._results(events)
        ]
        out["conversation"].sort(key=lambda line: line["at"])
        out["reason"] = t.reason
        out["urgent_class"] = t.urgent_class
        out["deadline_history"] = [
            {
                "at": e.at.isoformat(),
                "what": DEADLINE_STEPS[e.type]
                + (f" · {e.data['unit']}" if e.data.get("unit") else "")
                + ("（退回审核不通过，时限不重新计算）" if e.data.get("return_rejected") else "")
                + ("（待热线审核）" if e.data.get("review") else ""),
                "by": e.actor,
                "deadline": e.data.get("new_deadline"),
                "previous": e.data.get("previous_deadline"),
                "why": e.data.get("matched")
                or (scrub(str(e.data["reason"]), t) if e.data.get("reason") else None),
            }
            for e in events
            if e.type in DEADLINE_STEPS
        ]
        members = store.cluster_members(t)
        merged = store.events_of([m.id for m in members])
        out["cluster_members"] = [
            {
                "number": m.number,
                "status": m.status.value,
                "category": m.category,
                "created_at": m.created_at.isoformat(),
                "subject": scrub(m.fields.get(Field.SUBJECT, ""), m) or None,
                "why": _why_together(t, m, merged[m.id]),
            }
            for m in members
        ]
        out["can_route"] = self._waits_for_routing(t)
        returned_by, why = _return_under_review(t, events)
        out["return_review"] = (
            {
                "returned_by": returned_by,
                "reason": scrub(why, t),
                # the rules' choice among the units that have not returned it, as a suggestion
                "suggested_unit": self.router.route(t.fields, exclude=_units_returned(events)).lead,
            }
            if returned_by
            else None
        )
        out["complex"] = any(e.type == COMPLEX_EVENT for e in events)
        out["can_mark_complex"] = (
            t.status.is_open
            and not out["complex"]
            and self.policy.has_complex_limit(t.category, t.urgent_class)
        )
        out["units"] = list(self.router.units)
        out["revealable"] = [f.value for f in _revealable(t)] if supervises else []
        # what the unit answered to a supervision (guangzhou §25: the hotline reviews it)
        answers = [e for e in events if e.type == "supervision_answered" and e.data.get("result_enc")]
        if answers and out.get("supervision"):
            answer = self.store.cipher.decrypt(str(answers[-1].data["result_enc"]))
            out["supervision"]["answer"] = scrub(answer, t)
        # a dissatisfied answer closed without re-handling names the profile's case (guangzhou §29)
        skips = self.policy.profile.evaluation.skip_cases if t.review == "dissatisfied" else ()
        out["skip_cases"] = [{"code": c.code, "label": c.label} for c in skips]
        out["deliveries"] = [
            {
                "id": m.id,
                "channel": m.address.channel.value,
                "kind": m.kind,
                "state": m.state.value,
                "attempts": m.attempts,
                "error": redact(m.last_error or "") or None,
                "at": m.created_at.isoformat(),
            }
            for m in store.failed_deliveries_of(t.id)
        ]
        return out

    def _results(self, events: Sequence[StoredEvent]) -> list[StoredEvent]:
        """Completed events with their result decrypted (the unit's answer to the citizen)."""
        out = []
        for e in events:
            if e.type == "completed" and e.data.get("result_enc"):
                result = self.store.cipher.decrypt(str(e.data["result_enc"]))
                out.append(StoredEvent(e.id, e.type, e.actor, e.at, {"result": result}))
        return out

    # -- actions ----------------------------------------------------------------------------------
    async def route(self, request: web.Request) -> web.Response:
        """An agent routes a ticket waiting for it (manual routing, difficult coordination,
        returned) to a unit; the worker dispatches it and tells the citizen."""
        session = await self.console._session(request, changing=True)
        data = await read_json(request, max_bytes=4096)
        unit = data.get("unit")
        if not isinstance(unit, str) or unit not in self.router.units:
            raise InvalidInput("请选择承办单位。'unit' must be one of the units.")
        t = await self.ticket_of(request)

        def act() -> tuple[bool, bool]:  # the routing and its audit row commit together
            with self.store.tx():
                routed, refuses = self.store.route_by_agent(
                    t.id, unit, session.login, waiting=self.waiting_units, review=RETURN_REVIEW_QUEUE
                )
                if routed:
                    action = "return_refused" if refuses else "ticket_routed"
                    self.store.audit(session.login, action, t.number, unit)
            return routed, refuses

        routed, refuses = await in_thread(request, act)
        if not routed:
            raise Conflict("该工单已派出，不能再分派。The ticket is no longer waiting to be routed.")
        return json_answer({"number": t.number, "unit": unit, "return_refused": refuses})

    def _waits_for_routing(self, t: StoredTicket) -> bool:
        """Registered and left to a person: no rule named a unit (the manual queue), difficult
        coordination (guangzhou §18), or returned and not yet sent on (§17). A fresh ticket
        is the worker's to route, and routing it by hand would race it."""
        return t.status is TicketStatus.REGISTERED and t.number is not None and t.unit in self.waiting_units

    async def mark_complex(self, request: web.Request) -> web.Response:
        """An open ticket declared complex where the profile gives complex matters longer
        (shaoyang §14.3, quxian §11.3): the deadline is worked out again at once; audited."""
        session = await self.console._session(request, changing=True)
        t = await self.ticket_of(request)
        if not t.status.is_open or not self.policy.has_complex_limit(t.category, t.urgent_class):
            raise Conflict("本市规定未设复杂事项时限，或工单已办结。No complex limit applies to this ticket.")
        deadline = await in_thread(request, self._mark_complex, t, session.login)
        return json_answer({"number": t.number, "deadline": deadline.isoformat() if deadline else None})

    def _mark_complex(self, t: StoredTicket, agent: str) -> dt.datetime | None:
        store = self.store
        now = store.clock.now()
        with store.tx():
            store.add_event(t.id, COMPLEX_EVENT, agent, {}, key=f"complex:{t.id}")  # once
            view = self.policy.view(t, store.events(t.id), now)
            deadline = (view.handling_deadline if view else None) or t.deadline
            store.update_ticket(t.id, deadline=deadline)
            store.audit(agent, "ticket_marked_complex", t.number)
        return deadline

    async def merge(self, request: web.Request) -> web.Response:
        """A near-duplicate the rules did not join, put in the cluster of the ticket it repeats
        (``{"into": number}``); audited."""
        session = await self.console._session(request, changing=True)
        data = await read_json(request, max_bytes=4096)
        into = data.get("into")
        if not isinstance(into, str) or not 0 < len(into) <= 20:
            raise InvalidInput("请填写要合并到的工单号。'into' must be a ticket number.")
        t = await self.ticket_of(request)
        target = await in_thread(request, self.store.find_ticket, into)
        cluster = target.cluster or target.number
        if target.id == t.id or cluster is None or t.cluster == cluster:
            raise Conflict("不能合并到该工单。The ticket cannot be merged into that one.")
        now = self.store.clock.now()

        def act() -> None:  # the merge and its audit row commit together
            with self.store.tx():
                self.store.merge_into_cluster(t.id, cluster, session.login, now)
                self.store.audit(session.login, "ticket_merged", t.number, cluster)

        await in_thread(request, act)
        return json_answer({"number": t.number, "cluster": cluster})

    async def reveal(self, request: web.Request) -> web.Response:
        """A supervisor sees one personal item in full, with a reason; audited."""
        session = await self.console._session(request, changing=True)
        if not session.supervises:
            raise Forbidden("仅限班长或管理员。Only a supervisor or an admin may reveal personal data.")
        data = await read_json(request, max_bytes=4096)
        field, reason = data.get("field"), data.get("reason")
        if not isinstance(field, str) or field not in {f.value for f in _MASKED}:
            raise InvalidInput("field 只能是 name、phone、id_number 或 home_address。")
        if not isinstance(reason, str) or len(reason.strip()) < REVEAL_REASON_MIN:
            raise InvalidInput(f"请写明查看原因（至少{REVEAL_REASON_MIN}个字）。A reason is required.")
        t = await self.ticket_of(request)
        item = Field(field)
        if item not in _revealable(t):
            raise Forbidden("市民要求匿名或未提供该项，不能查看。This item cannot be revealed.")
        detail = f"{item.value}: {reason.strip()[:200]}"
        await in_thread(request, self.store.audit, session.login, "personal_data_revealed", t.number, detail)
        return json_answer({"field": item.value, "value": t.contact[item]})

    async def retry(self, request: web.Request) -> web.Response:
        """A failed (or uncertain) message sent again; audited."""
        session = await self.console._session(request, changing=True)
        oid = row_id(request.match_info["oid"])
        if oid is None:
            raise InvalidInput("消息编号无效。The message id must be a number.")

        def act() -> bool:  # the retry and its audit row commit together
            with self.store.tx():
                retried = self.store.retry_delivery(oid)
                if retried:
                    self.store.audit(session.login, "delivery_retried", str(oid))
            return retried

        if not await in_thread(request, act):
            raise NotFound("没有这条投递失败的消息。No such failed message.")
        return json_answer({"retried": oid})

    # -- live -------------------------------------------------------------------------------------
    async def stream(self, request: web.Request) -> web.StreamResponse:
        """SSE: ``changed`` whenever a process committed something (intake/live.py), and a
        heartbeat; the console reloads what it shows. Ends when the session does."""
        await self.console._session(request)
        assert self.console.aredis is not None
        resp = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-store",
                "X-Accel-Buffering": "no",
            }
        )
        await resp.prepare(request)
        pubsub = self.console.aredis.pubsub()
        await pubsub.subscribe(CHANNEL)
        try:
            await resp.write(b"retry: 3000\n\nevent: changed\ndata: {}\n\n")
            quiet_since = time.monotonic()
            while True:
                item = await pubsub.get_message(ignore_subscribe_messages=True, timeout=STREAM_HEARTBEAT)
                if item is not None:
                    await resp.write(b"event: changed\ndata: {}\n\n")
                    quiet_since = time.monotonic()
                elif time.monotonic() - quiet_since >= STREAM_HEARTBEAT:  # (None also for the
                    await self.console._session(request)  # subscription's own reply) a logged-out
                    await resp.write(b": alive\n\n")  # session's stream ends here
                    quiet_since = time.monotonic()
        except (ConnectionResetError, Unauthorized):
            pass  # the console went away, or its session ended
        finally:
            await pubsub.unsubscribe()
            await pubsub.aclose()
        return resp


_MASKED = (Field.NAME, Field.PHONE, Field.ID_NUMBER, Field.HOME_ADDRESS)


def _why_together(t: StoredTicket, other: StoredTicket, events: Sequence[StoredEvent]) -> str:
    """Why two tickets are one matter: an agent merged one, or the near-duplicate rule
    (intake/clusters.py: the same place, and this share of the matter's characters in common)."""
    agent = next((e.actor for e in events if e.type == "merged"), None)
    if agent is not None:
        return f"坐席 {agent} 并入"
    a, b = matter_chars(t.fields), matter_chars(other.fields)
    share = len(a & b) / len(a | b) if a | b else 0.0
    return f"同一地点，事项用字重合 {share:.0%}（规则：至少 {CLUSTER_THRESHOLD:.0%}）"


def _units_returned(events: Sequence[StoredEvent]) -> set[str]:
    """Units a ticket was dispatched to before a later return: those that returned it."""
    out: set[str] = set()
    last: str | None = None
    for e in events:
        if e.type == "dispatched":
            last = str(e.data.get("unit") or "") or None
        elif e.type == "returned" and last:
            out.add(last)
    return out


def _return_under_review(t: StoredTicket, events: Sequence[StoredEvent]) -> tuple[str | None, str]:
    """(the unit whose return waits for the hotline's review, its reason), or (None, "")."""
    if t.status is not TicketStatus.REGISTERED or t.unit != RETURN_REVIEW_QUEUE:
        return None, ""
    reasons = [str(e.data.get("reason", "")) for e in events if e.type == "returned"]
    return returned_by(events), reasons[-1] if reasons else ""


def _revealable(t: StoredTicket) -> list[Field]:
    """Items a supervisor may see in full: never any of an anonymous citizen, nor a hidden one."""
    if t.anonymous:
        return []
    return [f for f in _MASKED if t.contact.get(f) and f not in t.hidden]


def _positive(raw: str | None, default: int, most: int) -> int:
    if raw is None or raw == "":
        return default
    if not (raw.isascii() and raw.isdigit()) or int(raw) < 1:
        raise InvalidInput("page 和 size 须为正整数。'page' and 'size' must be positive integers.")
    return min(int(raw), most)


def json_answer(body: Any) -> web.Response:
    """A console answer: JSON in UTF-8 without escapes, never cached."""
    return web.Response(
        text=json.dumps(body, ensure_ascii=False),
        content_type="application/json",
        headers={"Cache-Control": "no-store"},
    )
