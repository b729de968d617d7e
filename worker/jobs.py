"""RQ job functions: thin, taking ids, fetching dependencies from worker.context."""

from __future__ import annotations

import logging

from worker.context import get_runtime
from worker.steps import STEPS

log = logging.getLogger(__name__)


def run_outbox(key: str) -> str:
    """Run the step an outbox row names; idempotent by its key."""
    job, _, _ = key.partition(":")
    step = STEPS.get(job)
    runtime = get_runtime()
    if step is None:
        runtime.store.mark_done(key, error=f"unknown job {job!r}")
        return "unknown"
    try:
        return step(runtime, key)
    except Exception as exc:
        # The last error stays on the outbox row: after its last attempt agents see why.
        runtime.store.outbox_error(key, f"{type(exc).__name__}: {exc}"[:500])
        raise
