"""``python -m tests.support.dying_web telegram|sms``: the web process (``python -m channels.web``)
that dies with ``os._exit`` right after its first webhook commit, before it answers or does
anything more (RELIABILITY.md T3).

``telegram``: after the update and its processing job are committed (the dialog runs later, in
the worker). ``sms``: after the turn that stores and answers the SMS is committed, before the 200.
The fault is injected here, from outside; the product has no fault hooks.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

import channels.telegram_webhook as telegram_webhook
from channels import web
from intake.service import IntakeService

DIED = 70


def die_after(fn: Callable[..., Any]) -> Callable[..., Any]:
    def dying(*args: Any, **kwargs: Any) -> Any:
        fn(*args, **kwargs)
        sys.stderr.write("dying_web: committed; os._exit now\n")
        sys.stderr.flush()
        os._exit(DIED)

    return dying


if __name__ == "__main__":
    if sys.argv[1] == "telegram":
        telegram_webhook.store_update = die_after(telegram_webhook.store_update)  # type: ignore[assignment]
    else:
        IntakeService.handle_many = die_after(IntakeService.handle_many)  # type: ignore[method-assign]
    web.main()
