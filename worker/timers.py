"""Timers as periodic sweeps over SQL (not one scheduled job per ticket), so none is lost with
Redis. Each fires once even with several workers: the state change is a conditional UPDATE and
only the worker whose UPDATE matched goes on to tell the citizen."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from intake.assembly import HotlinePolicy
from intake.clusters import Clusters
from intake.duties import Duties
from intake.guard import SenderGuard
from intake.model import TicketStatus
from intake.policy.loader import strictest_keep_years
from intake.runtime import Runtime
from intake.states import dialog_key
from notifier.compose import compose
from notifier.deliver import settle_lapsed
from notifier.notices import choose_address

log = logging.getLogger(__name__)


def expire_drafts(runtime: Runtime, now: datetime, window_days: int) -> int:
    """A draft whose one-time supplement window passed is closed with that reason, and the
    citizen is told (guangzhou §12)."""
    fired = 0
    for ticket_id in runtime.store.ticket_ids(TicketStatus.COLLECTING, due="supplement_due_at", now=now):
        closed = runtime.store.claim_status(
            ticket_id, TicketStatus.COLLECTING, TicketStatus.CLOSED, reason="supplement window expired"
        )
        if not closed:
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


def release_held_notices(runtime: Runtime, now: datetime) -> int:
    """Registration notices whose dispatch did not come within REGISTRATION_HOLD (a ticket
    waiting for manual routing) are sent as they are, with the deadline they estimate."""
    released = 0
    for outbound_id in runtime.store.held_due(now):
        with runtime.store.tx():
            released += runtime.store.release_held(outbound_id)
    return released


def end_evaluation_windows(runtime: Runtime, now: datetime, silence_means: str) -> int:
    """Silence past the reply window: satisfied under guangxi §27.2, not evaluated under
    guangzhou §28. Either way the ticket closes."""
    fired = 0
    for ticket_id in runtime.store.ticket_ids(TicketStatus.COMPLETED, due="evaluation_due_at", now=now):
        round_ = runtime.store.get_ticket(ticket_id).rehandling_round
        if not runtime.store.claim_status(ticket_id, TicketStatus.COMPLETED, TicketStatus.CLOSED):
            continue
        fired += 1
        with runtime.store.tx():
            if silence_means == "satisfied":
                runtime.store.record_evaluation(ticket_id, round_ + 1, "满意", "silence")
                runtime.store.add_event(
                    ticket_id, "evaluated", "system", {"level": "满意", "round": round_ + 1, "silence": True}
                )
            runtime.store.add_event(
                ticket_id,
                "closed",
                "system",
                {"silence": silence_means},
                key=f"silence:{ticket_id}:{round_}",
            )
    return fired


OPEN_STATUSES = [s for s in TicketStatus if s.is_open]


def refresh_deadlines(
    runtime: Runtime, policy: HotlinePolicy, now: datetime, duties: Duties | None = None
) -> int:
    """Warning colours (huizhou §26) and provisional deadlines, recomputed by the one pure
    deadline function; a provisional deadline (a year whose holiday notice is not yet published)
    becomes final once an operator adds that year's holiday file (issue 3). A colour that turns
    yellow or red is given to the unit (``Duties.warn``) in the transaction that stores it."""
    changed = 0
    for ticket_id in runtime.store.ticket_ids(OPEN_STATUSES):
        t = runtime.store.get_ticket(ticket_id)
        view = policy.view(t, runtime.store.events(ticket_id), now)
        if view is None:
            continue
        warning = str(view.warning) if view.warning is not None else None
        deadline = view.handling_deadline or t.deadline
        if (warning, deadline, view.provisional) != (t.warning, t.deadline, t.deadline_provisional):
            with runtime.store.tx():
                runtime.store.update_ticket(
                    ticket_id, warning=warning, deadline=deadline, deadline_provisional=view.provisional
                )
                if duties is not None and warning is not None and warning != t.warning:
                    duties.warn(t, warning, deadline)
            changed += 1
    return changed


PURGE_EVERY = timedelta(hours=1)  # the retention sweep reads messages_in by age: not every 5 s
PURGE_BATCH = 500


def purge_expired_texts(runtime: Runtime, now: datetime) -> int:
    """Message texts and raw mail past the retention period are removed, in batches until none
    is left (HOTLINE_RETENTION_DAYS; by default the longest [records] period of the profiles,
    guangxi §28: at least three years). Returns how many."""
    days = runtime.settings.retention_days or 366 * strictest_keep_years()
    before, total = now - timedelta(days=days), 0
    while purged := runtime.store.purge_messages(before, PURGE_BATCH):
        total += purged
        if purged < PURGE_BATCH:
            break
    return total


def run_timers(
    runtime: Runtime,
    policy: HotlinePolicy,
    *,
    with_deadlines: bool = True,
    guard: SenderGuard | None = None,
    clusters: Clusters | None = None,
    duties: Duties | None = None,
) -> None:
    """Every timer sweep, once: what the worker's sweeper calls every few seconds."""
    now = runtime.clock.now()
    settle_lapsed(runtime)  # a worker stopped mid-send (notifier.deliver)
    if runtime.redis.set("hotline:timers:purge", "1", nx=True, ex=int(PURGE_EVERY.total_seconds())):
        purge_expired_texts(runtime, now)  # once an hour, by whichever worker comes first
    expire_drafts(runtime, now, max(1, policy.profile.supplement.window.days))
    release_held_notices(runtime, now)
    end_evaluation_windows(runtime, now, policy.silence_means)
    if with_deadlines:
        refresh_deadlines(runtime, policy, now, duties)
    if duties is not None:  # supervision opened and due, then the back-office feed (issue 21)
        duties.sweep(now, feed=runtime.settings.backoffice_webhook is not None)
    if guard is not None:
        guard.refresh(now)  # restrictions survive a Redis flush (huizhou §8)
    if clusters is not None:
        clusters.backfill()  # open tickets from before places were keyed
