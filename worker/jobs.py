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
    return step(runtime, key)
