"""The steps behind outbox jobs. Each is idempotent in SQL by its key."""

from __future__ import annotations

import logging
from collections.abc import Callable

from intake.runtime import Runtime

log = logging.getLogger(__name__)


def dispatch(runtime: Runtime, key: str) -> str:
    from worker.dispatch import dispatch_ticket

    ticket_id = int(key.split(":", 1)[1])
    result: str = dispatch_ticket(runtime, ticket_id)
    runtime.store.mark_done(key)
    return result


def deliver(runtime: Runtime, key: str) -> str:
    from notifier.deliver import deliver_outbound

    outbound_id = int(key.split(":", 1)[1])
    result: str = deliver_outbound(runtime, outbound_id)
    if result != "retry":
        runtime.store.mark_done(key)
    return result


STEPS: dict[str, Callable[[Runtime, str], str]] = {"dispatch": dispatch, "deliver": deliver}
