"""The one per-process cache of dependencies: RQ imports jobs by name, so jobs fetch them here."""

from __future__ import annotations

import threading
from collections.abc import Callable

from intake.assembly import Services, build_services
from intake.model import InboundMessage
from intake.runtime import Runtime, build_runtime
from intake.settings import from_env

_lock = threading.Lock()
_runtime: Runtime | None = None
_services: Services | None = None
# The email channel's reader of a stored mail (channels.email.mail_turn): the worker never imports
# a channel; the composition root (hotline/worker.py, and the tests) hands it in.
MailReader = Callable[[InboundMessage, str | None], tuple[InboundMessage | None, str]]
_mail_reader: MailReader | None = None


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


def set_mail_reader(reader: MailReader | None) -> None:
    global _mail_reader
    _mail_reader = reader


def get_mail_reader() -> MailReader:
    if _mail_reader is None:
        raise RuntimeError("no mail reader: start the worker with python -m hotline.worker")
    return _mail_reader
