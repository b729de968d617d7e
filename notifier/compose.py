"""compose(kind, **context) -> text: templates are files an operator can edit (notifier/templates)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

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


def compose(kind: str, **context: Any) -> str:
    """The citizen's message for an event; whitespace trimmed so it fits one or two SMS parts."""
    return _ENV.get_template(f"{kind}.txt.j2").render(**context).strip()
