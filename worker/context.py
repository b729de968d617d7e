"""The one per-process cache of dependencies: RQ imports jobs by name, so jobs fetch them here."""

from __future__ import annotations

import threading

from intake.assembly import Services, build_services
from intake.runtime import Runtime, build_runtime
from intake.settings import from_env

_lock = threading.Lock()
_runtime: Runtime | None = None
_services: Services | None = None


def get_runtime() -> Runtime:
    global _runtime
    with _lock:
        if _runtime is None:
            _runtime = build_runtime(from_env())
        return _runtime


def get_services() -> Services:
    global _services
    runtime = get_runtime()
    with _lock:
        if _services is None:
            _services = build_services(runtime)
        return _services


def set_runtime(runtime: Runtime | None, services: Services | None = None) -> None:
    """Tests and the worker's main hand in what they built."""
    global _runtime, _services
    with _lock:
        if runtime is not _runtime or services is not None:
            _services = services
        _runtime = runtime
