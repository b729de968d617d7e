"""compose(kind, **context) -> text: templates are files an operator can edit (notifier/templates)."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template

from intake.texts import format_deadline

TEMPLATES = Path(__file__).resolve().parent / "templates"


def _env(folder: Path) -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(folder)),
        undefined=StrictUndefined,
        autoescape=False,  # plain text for SMS/chat; every channel escapes where it renders  # noqa: S701
        keep_trailing_newline=False,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["date"] = lambda d: format_deadline(d) if isinstance(d, datetime) else str(d)
    return env


_ENV = _env(TEMPLATES)
RECHECK_SECONDS = 1.0  # an operator's edit is live within a second, without a stat per message
_loaded: dict[str, tuple[Template, float]] = {}


def _template(kind: str) -> Template:
    now = time.monotonic()
    found = _loaded.get(kind)
    if found is not None and now - found[1] < RECHECK_SECONDS:
        return found[0]
    template = _ENV.get_template(f"{kind}.txt.j2")  # Jinja loads it again if the file changed
    _loaded[kind] = (template, now)
    return template


def compose(kind: str, **context: Any) -> str:
    """The citizen's message for an event; whitespace trimmed so it fits one or two SMS parts."""
    return _template(kind).render(**context).strip()
