"""RQ job functions: thin, taking ids, fetching dependencies from worker.context."""

from __future__ import annotations

import logging

from worker.context import get_runtime
from worker.steps import GROUP_STEPS, STEPS

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


def run_outbox_group(keys: list[str]) -> str:
    """Run outbox rows of one grouped kind together (worker.relay.GROUPED); each key is
    idempotent as in ``run_outbox``. Rows that failed keep their error and make the job fail,
    so RQ retries it (the rows done already are skipped then)."""
    runtime = get_runtime()
    kinds = {k.partition(":")[0] for k in keys}
    step = GROUP_STEPS.get(kinds.pop()) if len(kinds) == 1 else None
    if step is None:
        for key in keys:
            run_outbox(key)
        return "one by one"
    failed = step(runtime, keys)
    for key, exc in failed.items():
        runtime.store.outbox_error(key, f"{type(exc).__name__}: {exc}"[:500])
    if failed:
        first = next(iter(failed.values()))
        raise RuntimeError(f"{len(failed)} of {len(keys)} rows failed") from first
    return f"{len(keys)} handled"
