"""Timers as periodic sweeps over SQL (not one scheduled job per ticket), so none is lost with
Redis. Each fires once even with several workers: the state change is a conditional UPDATE and
only the worker whose UPDATE matched goes on to tell the citizen."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select, update

from intake.assembly import HotlinePolicy
from intake.clusters import Clusters
from intake.guard import SenderGuard
from intake.model import TicketStatus
from intake.runtime import Runtime
from intake.service import dialog_key
from intake.store.schema import tickets
from notifier.compose import compose
from notifier.notices import choose_address

log = logging.getLogger(__name__)


def _claim(
    runtime: Runtime, ticket_id: int, from_status: TicketStatus, to_status: TicketStatus, **values: object
) -> bool:
    with runtime.store.tx() as conn:
        res = conn.execute(
            update(tickets)
            .where(tickets.c.id == ticket_id, tickets.c.status == from_status.value)
            .values(
                status=to_status.value,
                updated_at=runtime.clock.now(),
                version=tickets.c.version + 1,
                **values,
            )
        )
        return bool(res.rowcount)


def expire_drafts(runtime: Runtime, now: datetime, window_days: int) -> int:
    """A draft whose one-time supplement window passed is closed with that reason, and the
    citizen is told (guangzhou §12)."""
    with runtime.engine.connect() as conn:
        ids = (
            conn.execute(
                select(tickets.c.id).where(
                    tickets.c.status == TicketStatus.COLLECTING.value,
                    tickets.c.supplement_due_at.is_not(None),
                    tickets.c.supplement_due_at <= now,
                )
            )
            .scalars()
            .all()
        )
    fired = 0
    for ticket_id in ids:
        if not _claim(
            runtime,
            ticket_id,
            TicketStatus.COLLECTING,
            TicketStatus.CLOSED,
            reason="supplement window expired",
        ):
            continue
        fired += 1
        t = runtime.store.get_ticket(ticket_id)
        runtime.redis.delete(dialog_key(t.address_key))  # the next message starts afresh
        address = choose_address(t)
        if address is None:
            continue
        text = compose("draft_expired", days=window_days)
        runtime.store.record_outbound(
            address, text, key=f"expired:{ticket_id}", kind="draft_expired", ticket_id=ticket_id
        )
    return fired


def end_evaluation_windows(runtime: Runtime, now: datetime, silence_means: str) -> int:
    """Silence past the reply window: satisfied under guangxi §27.2, not evaluated under
    guangzhou §28. Either way the ticket closes."""
    with runtime.engine.connect() as conn:
        rows = conn.execute(
            select(tickets.c.id, tickets.c.rehandling_round).where(
                tickets.c.status == TicketStatus.COMPLETED.value,
                tickets.c.evaluation_due_at.is_not(None),
                tickets.c.evaluation_due_at <= now,
            )
        ).all()
    fired = 0
    for ticket_id, round_ in rows:
        if not _claim(runtime, ticket_id, TicketStatus.COMPLETED, TicketStatus.CLOSED):
            continue
        fired += 1
        with runtime.store.tx() as conn:
            if silence_means == "satisfied":
                runtime.store.record_evaluation(conn, ticket_id, round_ + 1, "满意", "silence")
            runtime.store.add_event(
                conn,
                ticket_id,
                "closed",
                "system",
                {"silence": silence_means},
                key=f"silence:{ticket_id}:{round_}",
            )
    return fired


OPEN_STATUSES = [s.value for s in TicketStatus if s.is_open]


def refresh_deadlines(runtime: Runtime, policy: HotlinePolicy, now: datetime) -> int:
    """Warning colours (huizhou §26) and provisional deadlines, recomputed by the one pure
    deadline function; a deadline counted on weekends only for a year the calendar did not know
    becomes final once an operator adds that year's holiday file (issue 3)."""
    policy.calendar.reload()
    with runtime.engine.connect() as conn:
        ids = conn.execute(select(tickets.c.id).where(tickets.c.status.in_(OPEN_STATUSES))).scalars().all()
    changed = 0
    for ticket_id in ids:
        t = runtime.store.get_ticket(ticket_id)
        view = policy.view(t, runtime.store.events(ticket_id), now)
        if view is None:
            continue
        warning = str(view.warning) if view.warning is not None else None
        deadline = view.handling_deadline or t.deadline
        if (warning, deadline, view.provisional) != (t.warning, t.deadline, t.deadline_provisional):
            runtime.store.update_ticket(
                ticket_id, warning=warning, deadline=deadline, deadline_provisional=view.provisional
            )
            changed += 1
    return changed


def run_timers(
    runtime: Runtime,
    policy: HotlinePolicy,
    *,
    with_deadlines: bool = True,
    guard: SenderGuard | None = None,
    clusters: Clusters | None = None,
) -> None:
    """Every timer sweep, once: what the worker's sweeper calls every few seconds."""
    now = runtime.clock.now()
    expire_drafts(runtime, now, max(1, policy.profile.supplement.window.days))
    end_evaluation_windows(runtime, now, policy.silence_means)
    if with_deadlines:
        refresh_deadlines(runtime, policy, now)
    if guard is not None:
        guard.refresh(now)  # restrictions survive a Redis flush (huizhou §8)
    if clusters is not None:
        clusters.backfill()  # open tickets from before places were keyed
