"""The one per-process cache of dependencies: RQ imports jobs by name, so jobs fetch them here."""

from __future__ import annotations

import threading

from intake.runtime import Runtime, build_runtime
from intake.settings import from_env

_lock = threading.Lock()
_runtime: Runtime | None = None


def get_runtime() -> Runtime:
    global _runtime
    with _lock:
        if _runtime is None:
            _runtime = build_runtime(from_env())
        return _runtime


def set_runtime(runtime: Runtime | None) -> None:
    """Tests and the worker's main hand in the runtime they built."""
    global _runtime
    with _lock:
        _runtime = runtime
